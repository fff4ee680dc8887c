"""uac: the proxy acting as a UAC: From/To rewriting with restore, and upstream digest authentication."""
from __future__ import annotations

from opensips_py.modules.auth import DIGEST_ALGORITHMS
from opensips_py.modules.exports import (
    B, F, R, Arg, ArgKind, Dependency, Function, ModParam, ModuleExports, ParamType, VersionSpan,
)

EXPORTS = ModuleExports(
    name="uac",
    doc="From/To replacement (restored in sequential requests and replies) and answering 401/407 "
        "challenges with uac_auth credentials.",
    functions=(
        Function(
            "uac_replace_from", (Arg("display", optional=True), Arg("uri")), routes=R | B | F,
            doc="\"\" display removes it; \"\" uri keeps the URI.",
        ),
        Function("uac_replace_to", (Arg("display", optional=True), Arg("uri")), routes=R | B | F),
        Function("uac_restore_from", (), routes=R | B | F, doc="For restore_mode=manual."),
        Function("uac_restore_to", (), routes=R | B | F),
        Function(
            "uac_auth", (Arg("algorithms", optional=True, choices=DIGEST_ALGORITHMS),), routes=R | B | F,
            doc="In failure_route on 401/407: adds credentials, increments CSeq. Needs uac_auth loaded "
                "(start-up error otherwise). C: the algorithms argument exists since 3.2.",
        ),
        Function(
            "uac_inc_cseq", (Arg("cseq", ArgKind.INT),), routes=R | B | F, versions=VersionSpan(since="3.6"),
            doc="C: since 3.6 (the reference says 4.0).",
        ),
    ),
    params=(
        ModParam("restore_mode", ParamType.STR, "auto", doc="none, manual or auto (the default when unset)."),
        ModParam("restore_passwd", ParamType.STR, ""),
        ModParam("rr_from_store_param", ParamType.STR, "vsf"),
        ModParam("rr_to_store_param", ParamType.STR, "vst"),
        ModParam("force_dialog", ParamType.INT, 0),
    ),
    deps=(
        Dependency(("tm",), doc="DEP_ABORT."),
        Dependency(("rr",), when_param="restore_mode", unless_values=("none",)),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation
# uac_auth() and uac_inc_cseq(), read in modules/uac/{uac,auth}.c of OpenSIPS 3.2–4.0. The From/To
# replacing functions have no implementation yet.

from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.sip import SIPParseError  # noqa: E402

RR_UAC_CSEQ_PARAM = "aci"  # uac.c rr_uac_cseq_param: marks a dialog whose CSeq towards the callee is +1
DLG_FLAG_CSEQ_ENFORCE = 1 << 10  # dlg_hash.h: the dialog module keeps the legs' generated CSeqs


def _script_calls(core, name: str) -> bool:
    from opensips_py.config import ast
    from opensips_py.config.check.context import walk_nodes
    config = getattr(core, "config", None)
    return config is not None and any(isinstance(n, ast.Call) and n.name == name for n in walk_nodes(config))


def _set_cseq(msg, number: int) -> bool:
    """The CSeq number as the message leaves (a lump over the whole header line, as force_master_cseq_change:
    it also covers an earlier change)."""
    fields = msg.header_fields("cseq")
    cseq = msg.cseq
    if not fields or cseq is None:
        return False
    msg.replace_field(fields[0].index, f"{number} {cseq.method}")
    return True


class Module(ModuleBase):
    """uac_auth(): answer the 401/407 that failed a branch with uac_auth's credentials, then t_relay()."""

    exports = EXPORTS

    def init(self) -> None:
        modules = getattr(self.core, "modules", {})
        self.tm = modules.get("tm")
        if self.tm is None:
            raise ModuleInitError("uac: can't load TM API")
        mode = str(self.param("restore_mode") or "auto").lower()
        if mode not in ("none", "manual", "auto"):
            raise ModuleInitError(f"uac: unsupported value '{self.param('restore_mode')}' for restore_mode")
        self.store = self.rr = self.dialog = None
        if not _script_calls(self.core, "uac_auth"):
            return
        self.store = modules.get("uac_auth")
        if self.store is None or not hasattr(self.store, "lookup_realm"):
            raise ModuleInitError("uac: can't load UAC_AUTH API, needed for uac_auth()")
        self.rr = modules.get("rr")
        if self.rr is None or not hasattr(self.rr, "register_callback"):
            raise ModuleInitError("uac: can't load RR API")
        if not getattr(self.rr, "append_fromtag", False):
            raise ModuleInitError("uac: 'append_fromtag' RR param is not enabled! - required by uac_auth() "
                                  "restore mode")
        dialog = modules.get("dialog")
        self.dialog = dialog if hasattr(dialog, "current_dialog") else None
        self.rr.register_callback(self._rr_auth_checker, 2)
        from opensips_py.modules.tm import TMCB
        self._tmcb = TMCB
        self.tm.register_callback(TMCB.REQUEST_IN, self._on_new_transaction)

    def _log(self, level: int, text: str) -> None:
        self.core.logger.log(level, text, "uac")

    # ---------------------------------------------------------------------------------- CSeq
    def _inc_cseq(self, ctx, delta: int) -> int | None:
        """apply_cseq_op(): the received CSeq number + delta, written as a lump; None when unreadable."""
        try:
            cseq = ctx.msg.cseq
        except SIPParseError:
            cseq = None
        if cseq is None:
            return None
        number = (cseq.number + delta) & 0xFFFFFFFF
        return number if _set_cseq(ctx.msg, number) else None

    def _restore_reply_cseq(self, t, p) -> None:
        """apply_cseq_decrement(): replies go upstream with the CSeq of the request we received."""
        reply, request = p.reply, t.request
        if reply is None or request is None or not hasattr(reply, "header_fields"):
            return
        try:
            original, answered = request.cseq.number, reply.cseq.number
        except (SIPParseError, AttributeError):
            return
        if original != answered:
            _set_cseq(reply, original)

    def _decrement_replies(self, ctx, t) -> None:
        """Register the reply fix once per transaction (FL_USE_UAC_CSEQ)."""
        if t is None:
            ctx.module_state.setdefault("uac", {})["restore_cseq"] = True  # attached at REQUEST_IN
            return
        if not t.data.get("uac_cseq"):
            self.tm.register_callback(self._tmcb.RESPONSE_FWDED, self._restore_reply_cseq, t)
            t.data["uac_cseq"] = True

    def _on_new_transaction(self, t, p) -> None:
        state = p.ctx.module_state.get("uac") if p.ctx is not None else None
        if state and state.pop("restore_cseq", False):
            self._decrement_replies(p.ctx, t)

    def _rr_auth_checker(self, ctx, params: str) -> None:
        """rr_uac_auth_checker(): a sequential request of a dialog marked `aci` going downstream gets the
        same +1 its initial request got, and its replies the original CSeq back."""
        if self.rr.get_route_param(ctx, RR_UAC_CSEQ_PARAM) is None:
            return
        if self.rr.is_direction(ctx, "upstream") > 0:
            return
        if self._inc_cseq(ctx, 1) is None:
            self._log(1, "failure to increment the CSEQ header - continue")
            return
        self._decrement_replies(ctx, self.tm.transaction(ctx))

    def uac_inc_cseq(self, ctx, cseq: int) -> int:
        """Add `cseq` to the request's CSeq (replies get theirs back). 1, -1 without a transaction."""
        t = self.tm.transaction(ctx)
        if t is None:
            self._log(-2, "no current transaction found")
            return -1
        if self._inc_cseq(ctx, cseq) is None:
            self._log(1, "failed to increment the CSEQ header!")
            return -1
        self._decrement_replies(ctx, t)
        return 1

    # ---------------------------------------------------------------------------------- uac_auth()
    def uac_auth(self, ctx, algorithms: str | None = None) -> int:
        """auth.c uac_auth(): the picked branch's 401/407 challenge, the credentials for its realm, an
        Authorization/Proxy-Authorization for the branch's URI added to the request, CSeq + 1. 1 done (then
        t_relay()), -1 otherwise."""
        t = self.tm.transaction(ctx)
        if t is None:
            self._log(-2, "no current transaction found")
            return -1
        tm_state = ctx.module_state.get("tm")
        picked = getattr(tm_state, "picked", -1) if tm_state is not None else -1
        if picked is None or picked < 0:
            picked = t.picked_branch
        if picked < 0 or picked >= len(t.branches):
            self._log(-2, f"no picked branch ({picked})")
            return -1
        branch = t.branches[picked]
        reply = branch.reply
        if reply is None:
            self._log(-2, "empty reply on picked branch")
            return -1
        if not hasattr(reply, "status"):
            self._log(-1, "cannot process a FAKED reply")
            return -1
        wanted = None
        if algorithms:
            from opensips_py.modules.uac_auth import _canonical
            wanted = {name for name in (_canonical(a.strip()) for a in algorithms.split(",")) if name}
        challenge = self.store.pick_challenge(reply, wanted) if branch.last_received in (401, 407) else None
        if challenge is None:
            self._log(-1, "unable to extract a compatible authentication challenge")
            return -1
        credential = self.store.lookup_realm(ctx, challenge.realm or "")
        if credential is None:
            self._log(4, f"no credential for realm \"{challenge.realm}\"")
            return -1
        msg = ctx.msg
        header = self.store.authorization(branch.last_received, challenge, credential, msg.method, branch.uri,
                                          msg.body)
        name, _, value = header.partition(": ")
        ctx.new_uri = branch.uri  # apply_urihdr_changes()
        msg.add_header(name, value)
        return 1 if self._auth_cseq(ctx, t) else -1

    def _auth_cseq(self, ctx, t) -> bool:
        msg = ctx.msg
        try:
            to_tag = msg.to.tag if msg.to is not None else None
        except SIPParseError:
            to_tag = None
        dialog = self.dialog.current_dialog(ctx) if self.dialog is not None else None
        leg = self._dialog_leg(dialog, to_tag) if dialog is not None else None
        if to_tag is None or dialog is None or not dialog.flags & DLG_FLAG_CSEQ_ENFORCE or leg is None or \
                not leg.last_gen_cseq:
            # an initial request, or no dialog support: the change is made here
            new_cseq = self._inc_cseq(ctx, 1)
            if new_cseq is None:
                self._log(1, "failure to increment the CSEQ header - continue")
                return False
            self._decrement_replies(ctx, t)
            if to_tag is None:
                if dialog is not None:
                    dialog.flags |= DLG_FLAG_CSEQ_ENFORCE
                else:
                    self.rr.add_rr_param(ctx, f";{RR_UAC_CSEQ_PARAM}=1")
            elif dialog is not None:
                dialog.flags |= DLG_FLAG_CSEQ_ENFORCE
                if leg is not None:
                    leg.last_gen_cseq = new_cseq
        else:
            # a sequential request the dialog module already renumbers: one more on its counter
            leg.last_gen_cseq += 1
            _set_cseq(msg, leg.last_gen_cseq)
        return True

    @staticmethod
    def _dialog_leg(dialog, to_tag: str | None):
        """uac_auth_dlg_leg(): the caller leg when the To-tag is the caller's, else the callee's; for an
        initial request the last leg."""
        legs = dialog.legs
        if not legs:
            return None
        if not to_tag:
            return legs[-1]
        if legs[0].tag == to_tag:
            return legs[0]
        return legs[getattr(dialog, "callee_index", len(legs) - 1)]
