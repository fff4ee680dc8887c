"""tm's script functions, pseudo-variables, statistics and the API other modules use (docs/tm.md).

The transaction layer itself is engine.py; this file turns script calls into it with OpenSIPS's return codes
(tm.c: w_t_relay, t_check_trans, t_check_status, t_local_replied, w_t_reply…).
"""
from __future__ import annotations

import re
import secrets
from typing import Any, Callable

from opensips_py.modules.base import ModuleBase, ModuleInitError
from opensips_py.modules.exports import RouteType
from opensips_py.modules.sl import _ERROR_REPLIES as ERROR_REPLIES
from opensips_py.modules.tm import EXPORTS
from opensips_py.modules.tm.callbacks import TMCB
from opensips_py.modules.tm.engine import (
    E_BAD_ADDRESS, next_hop, E_BAD_REQ, E_BAD_TO, E_BAD_URI, E_INVALID_PARAMS, E_IP_BLOCKED, E_NO_DESTINATION, E_NO_SOCKET,
    E_SEND, TMSettings, TMState, TransactionLayer, tm_state,
)
from opensips_py.modules.tm.messages import LocalRequest
from opensips_py.modules.tm.transaction import FAKED, KillReason, Transaction
from opensips_py.runtime.forward import BadDestination
from opensips_py.script.pvars import ALL, Handler, _avp_get, _avp_set

# 3.2's bit values of the t_relay()/t_replicate() flags (tm.h TM_T_RELAY_*_FLAG)
RELAY_FLAG_BITS = {0x02: "no-auto-477", 0x04: "no-dns-failover", 0x08: "pass-reason-hdr", 0x10: "allow-no-cancel"}
RELAY_FLAG_NAMES = frozenset(RELAY_FLAG_BITS.values())
REPLICATE = "replicate"  # TM_T_RELAY_repl_FLAG: internal, set by t_replicate()


def relay_flags(value: Any) -> set[str]:
    """t_relay()'s flags: a comma list of names (3.4+) or a bit mask (3.2, also as "0x0a" text)."""
    if value is None or value == "":
        return set()
    if isinstance(value, int):
        mask = value
    else:
        text = str(value).strip()
        try:
            mask = int(text, 0)
        except ValueError:
            return {name.strip() for name in text.split(",") if name.strip() in RELAY_FLAG_NAMES}
    return {name for bit, name in RELAY_FLAG_BITS.items() if mask & bit}


def script_error(error: int) -> int:
    """t_relay_inerr2scripterr()."""
    if error in (E_BAD_URI, E_BAD_REQ, E_BAD_TO, E_INVALID_PARAMS):
        return -2
    if error == E_NO_DESTINATION:
        return -3
    if error == E_BAD_ADDRESS:
        return -4
    if error == E_IP_BLOCKED:
        return -5
    if error in (E_NO_SOCKET, E_SEND):
        return -6
    return -1


class _AvpHolder:
    """Lets the $avp stack helpers work on a branch's AVPs ($bavp)."""

    __slots__ = ("avps",)

    def __init__(self, avps: dict) -> None:
        self.avps = avps


class Module(ModuleBase):
    """tm: stateful processing. Other modules: see docs/tm.md (transaction(), register_callback(), t_uac())."""

    exports = EXPORTS

    def init(self) -> None:
        t1 = self.int_param("T1_timer")
        t2 = self.int_param("T2_timer")
        if t1 <= 0 or t2 <= 0:
            raise ModuleInitError("tm: T1_timer and T2_timer must be positive (milliseconds)")
        minor = self.param("minor_branch_flag")
        settings = TMSettings(
            fr_timeout=float(self.int_param("fr_timeout")), fr_inv_timeout=float(self.int_param("fr_inv_timeout")),
            wt_timer=float(self.int_param("wt_timer")), t1=t1 / 1000, t2=t2 / 1000,
            restart_fr_on_each_reply=bool(self.int_param("restart_fr_on_each_reply")),
            auto_100trying=bool(self.int_param("auto_100trying")),
            onreply_avp_mode=self.int_param("onreply_avp_mode"),
            disable_6xx_block=bool(self.int_param("disable_6xx_block")),
            minor_branch_flag=str(minor) if minor else None, enable_stats=bool(self.int_param("enable_stats")),
            ruri_matching=bool(self.int_param("ruri_matching")), via1_matching=bool(self.int_param("via1_matching")))
        self._stats = dict.fromkeys(EXPORTS.stats, 0)
        self.layer = TransactionLayer(self.core, settings, self._stats)

    # ================================================================================== API (docs/tm.md)
    def transaction(self, ctx) -> Transaction | None:
        """The transaction of the current message (looked up once), or None."""
        return self.layer.transaction(ctx)

    def has_transaction(self, ctx) -> bool:
        """Is there a transaction for this script run already (OpenSIPS's get_t(), no lookup)?"""
        return self.layer.current(ctx) is not None

    def register_callback(self, types: TMCB, fn: Callable, t: Transaction | None = None) -> None:
        if t is None and types & ~TMCB.REQUEST_IN:
            raise ValueError("only TMCB.REQUEST_IN can be registered without a transaction")
        self.layer.register_callback(types, fn, t)

    def t_uac(self, request: LocalRequest, callback: Callable | None = None) -> Transaction | None:
        return self.layer.t_uac(request, callback)

    def t_cancel_trans(self, t: Transaction | None, extra_headers: list[str] | None = None) -> int:
        """OpenSIPS's t_cancel_trans(): CANCEL every pending branch of an INVITE transaction from outside its
        messages (dialog's MI end of an early dialog). Branches that rang get their CANCEL now, silent ones
        when they first answer; `extra_headers` go into these CANCELs. 0 done, -1 no such live transaction."""
        if t is None or t.deleted:
            self.core.logger.error("t_cancel_trans(): cannot cancel with no transaction", "tm")
            return -1
        if not t.is_invite or t.status >= 200:
            return 0  # nothing pending to cancel (OpenSIPS's which_cancel() finds no branch)
        layer = self.layer

        def cancel(now: float | None = None) -> None:
            if t.deleted:
                return
            layer.cancel_uacs(t, layer.which_cancel(t), "\r\n".join(extra_headers) if extra_headers else None)

        self._now_or_soon(cancel)
        return 0

    def t_reply_trans(self, t: Transaction | None, code: int, reason: str, *, body: bytes = b"",
                      headers: list[str] | None = None, to_tag: str | None = None) -> int:
        """OpenSIPS's t_reply_with_body() API: a reply of ours to transaction `t` from outside its request
        (dialog's auto-PRACK failure answers the INVITE with 502). `to_tag` answers inside the early dialog
        of a branch instead of with our own tag. 1 sent (or queued), -1 no such transaction or a final
        reply went already."""
        if t is None or t.deleted or t.is_local or t.request is None or t.status >= 200 and code >= 200:
            return -1
        layer = self.layer
        result = [1]

        def send(now: float | None = None) -> None:
            if not t.deleted:
                result[0] = layer.reply(t, None, code, reason, headers=headers, body=body, to_tag=to_tag)

        self._now_or_soon(send)
        return result[0]

    def _now_or_soon(self, fn: Callable) -> None:
        """Run `fn` now when the core is handling a message or a timer (its sends go out with them), else at
        the core's next timer turn (an MI command, a module's task)."""
        if getattr(self.core, "processing", True):
            fn()
        else:
            self.core.call_soon(fn)

    def local_to_tag(self, ctx) -> str | None:
        t = self.layer.current(ctx)
        if t is None or t.request is None:
            return None
        return t.local_to_tag or self.layer.to_tag(t.request)

    # ================================================================================== runtime hooks
    def after_request_route(self, ctx) -> None:
        """do_t_cleanup()/t_unref(): the script's edits reach a transaction created without t_relay(), and
        a transaction the script neither replied nor relayed is released (an ACK's: always)."""
        state = ctx.module_state.get("tm")
        if state is None or state.t is None:
            return
        t = state.t
        msg = ctx.msg
        if t.request is msg and t.lumps is None:
            self.layer.update_cloned(t, ctx)
        if msg.method == "ACK":
            if not state.kr & KillReason.REQ_RLSD:
                self.layer.release(t, state)
        elif state.kr == KillReason.NONE:
            self.layer.release(t, state)

    def reply_received(self, msg, rcv) -> bool:
        return self.layer.reply_received(msg, rcv)

    def stats(self) -> dict[str, int]:
        return dict(self._stats) if self.layer.settings.enable_stats else {}

    def mi_commands(self) -> dict[str, Callable]:
        from opensips_py.modules.tm.mi import mi_commands
        return mi_commands(self.layer)

    # ================================================================================== script functions
    def t_newtran(self, ctx) -> int:
        msg = ctx.msg
        if msg is None or not msg.is_request:
            return -1
        return self.layer.newtran(ctx)

    def t_relay(self, ctx, flags=None, outbound_proxy: str | None = None) -> int:
        msg = ctx.msg
        if msg is None or not msg.is_request:
            self.core.logger.error("t_relay(): not a request", "tm")
            return -1
        names = relay_flags(flags)
        proxy = outbound_proxy if outbound_proxy and not ctx.dst_uri else None
        state = tm_state(ctx)
        t = state.t
        layer = self.layer
        if t is None:
            if ctx.route_type == RouteType.FAILURE:
                self.core.logger.error("t_relay(): no transaction in failure_route", "tm")
                return -1
            ret = self._relay_to(ctx, state, proxy, names)
            if ret < 0:
                ret = script_error(ret)
        else:
            if ctx.route_type not in (RouteType.REQUEST, RouteType.FAILURE):
                return 0
            if msg.method == "ACK":
                layer.release(t, state)
                return 1
            t.t_flags |= names
            if ctx.route_type == RouteType.REQUEST:
                layer.update_cloned(t, ctx)
            ret = layer.forward(t, ctx, proxy, True, state)
            if ret <= 0:
                ret = script_error(ret)
        return ret or 1

    def _relay_to(self, ctx, state: TMState, proxy: str | None, names: set[str]) -> int:
        """t_relay_to(): new transaction (or a retransmission: 0), an ACK statelessly, else the branches; on
        a global failure an automatic "<code> <reason> (<n>/TM)" reply unless no-auto-477."""
        layer = self.layer
        new = layer.newtran(ctx)
        if new <= 0:
            return new
        msg = ctx.msg
        if msg.method == "ACK":  # statelessly, to $du / outbound proxy / R-URI (a forced socket's protocol wins)
            rc = self.core.forward_request(ctx, self._ack_destination(ctx, proxy))
            return 1 if rc > 0 else rc
        t = state.t
        t.t_flags |= names
        if REPLICATE in names:
            t.is_local = True
        layer.update_cloned(t, ctx)
        ret = layer.forward(t, ctx, proxy, False, state)
        if ret <= 0:
            if names & {REPLICATE, "no-auto-477"}:
                return ret
            status, text = ERROR_REPLIES.get(ret, (500, "Server error occurred"))
            if layer.reply(t, ctx, status, f"{text} ({-ret}/TM)", state=state) > 0:
                return 0
        return ret

    @staticmethod
    def _ack_destination(ctx, proxy: str | None) -> str | None:
        forced = ctx.force_socket
        if forced is None:
            return proxy
        try:
            target = next_hop(proxy or ctx.dst_uri or ctx.ruri(), forced)
        except BadDestination:
            return proxy
        host = f"[{target.host}]" if ":" in target.host else target.host
        return f"{target.proto}:{host}:{target.effective_port}"

    def t_replicate(self, ctx, uri: str, flags=None) -> int:
        """A stateful copy of the request to `uri`: its replies stop here (the transaction is local)."""
        msg = ctx.msg
        if msg is None or not msg.is_request or not uri:
            return -1
        ctx.dst_uri = uri
        names = relay_flags(flags) | {REPLICATE}
        state = tm_state(ctx)
        t = state.t
        if t is None:
            if ctx.route_type == RouteType.FAILURE:
                return -1
            ret = self._relay_to(ctx, state, None, names)
            return script_error(ret) if ret < 0 else (ret or 1)
        if msg.method == "ACK":
            return -1
        t.is_local = True
        ret = self.layer.forward(t, ctx, None, True, state)
        return script_error(ret) if ret < 0 else ret

    def t_reply(self, ctx, code: int, reason: str | None) -> int:
        return self._t_reply(ctx, code, reason, b"")

    def t_reply_with_body(self, ctx, code: int, reason: str | None, body: str | None) -> int:
        return self._t_reply(ctx, code, reason, (body or "").encode("utf-8", "surrogateescape"))

    def _t_reply(self, ctx, code: int, reason: str | None, body: bytes) -> int:
        msg = ctx.msg
        if msg is None or not msg.is_request:
            return -1
        if msg.method == "ACK":
            return 0
        if not 100 <= code <= 699:
            self.core.logger.error(f"t_reply(): invalid code {code}", "tm")
            return -1
        state = tm_state(ctx)
        t = state.t
        if ctx.route_type == RouteType.FAILURE:
            if t is None:
                return -1
        elif t is None:
            rc = self.layer.newtran(ctx)
            if rc == 0:
                return 0
            if rc < 0 or state.t is None:
                self.core.logger.error("t_reply(): could not create a new transaction", "tm")
                return -1
            t = state.t
        return self.layer.reply(t, ctx, code, reason, body=body, state=state)

    def t_check_trans(self, ctx) -> int:
        msg = ctx.msg
        if msg is None or not msg.is_request:
            return -1
        state = tm_state(ctx)
        layer = self.layer
        if msg.method == "CANCEL":
            return 1 if layer.lookup_original(ctx, state) is not None else -1
        if state.t is not None:
            return 1
        if state.looked_up:
            return -1
        state.looked_up = True
        lret, t = layer.table.lookup_request(msg)
        if lret == 1:
            state.kr |= KillReason.REQ_EXIST
            if msg.method == "ACK":
                state.t = t
                return 1
            layer.retransmit_reply(t)
            return 0
        if lret == -2:
            state.e2eack_t = t
            return -2
        return -1

    def t_check_status(self, ctx, regex: re.Pattern) -> int:
        t = self.layer.current(ctx)
        if t is None:
            self.core.logger.error("t_check_status(): no transaction", "tm")
            return -1
        route_type = ctx.route_type
        if route_type == RouteType.REQUEST:
            status = t.status
        elif route_type == RouteType.ONREPLY:
            status = ctx.msg.status
        elif route_type == RouteType.FAILURE:
            picked = ctx.module_state["tm"].picked
            if picked < 0:
                return -1
            status = t.branches[picked].last_received
        else:
            self.core.logger.error(f"t_check_status(): unsupported route type {route_type.name}", "tm")
            return -1
        return 1 if regex is not None and regex.search(str(status)) else -1

    def t_was_cancelled(self, ctx) -> int:
        t = self.layer.current(ctx)
        if t is None:
            self.core.logger.error("t_was_cancelled(): no transaction", "tm")
            return -1
        return 1 if t.was_cancelled else -1

    def t_local_replied(self, ctx, kind: str) -> int:
        t = self.layer.current(ctx)
        if t is None:
            self.core.logger.error("t_local_replied(): no transaction", "tm")
            return -1
        kind = (kind or "").lower()
        in_failure = ctx.route_type == RouteType.FAILURE
        picked = ctx.module_state["tm"].picked if in_failure else -1
        if kind == "all":
            return -1 if any(b.has_reply for b in t.branches[t.first_branch:]) else 1
        if kind == "branch":
            if in_failure and picked >= 0:
                return -1 if t.branches[picked].has_reply else 1
            return -1
        if kind == "last":
            if in_failure:
                return 1 if picked >= 0 and t.branches[picked].reply is FAKED else -1
            return 1 if t.relayed_branch == -2 else -1
        return -1

    def _arm(self, ctx, which: str, route: str | None) -> int:
        state = tm_state(ctx)
        t = state.t
        name = route or None
        if t is None:
            setattr(state, which, name)
        elif which == "on_reply" and ctx.route_type == RouteType.BRANCH:
            branch = state.branch_obj or (t.branches[state.branch] if 0 <= state.branch < len(t.branches) else None)
            if branch is not None:
                branch.on_reply = name
        else:
            setattr(t, which, name)
        return 1

    def t_on_failure(self, ctx, route: str | None) -> int:
        return self._arm(ctx, "on_failure", route)

    def t_on_reply(self, ctx, route: str | None) -> int:
        return self._arm(ctx, "on_reply", route)

    def t_on_branch(self, ctx, route: str | None) -> int:
        return self._arm(ctx, "on_branch", route)

    def t_flush_flags(self, ctx) -> int:
        t = self.layer.current(ctx)
        if t is None:
            self.core.logger.error("t_flush_flags(): no transaction", "tm")
            return -1
        t.flags = set(ctx.flags)
        return 1

    def t_cancel_branch(self, ctx, flags: str | None = None) -> int:
        t = self.layer.current(ctx)
        if t is None:
            return -1
        state = ctx.module_state["tm"]
        letters = (flags or "").lower()
        layer = self.layer
        if "a" in letters:
            indexes = layer.which_cancel(t)
        elif "o" in letters:
            indexes = [b.index for b in t.branches[t.first_branch:]
                       if b.index != state.branch and layer.should_cancel_branch(t, b)]
        else:
            current = t.branches[state.branch] if 0 <= state.branch < len(t.branches) else None
            indexes = [current.index] if current is not None and layer.should_cancel_branch(t, current) else []
        layer.cancel_uacs(t, indexes)
        return 1

    def t_add_hdrs(self, ctx, hdrs: str | None) -> int:
        t = self.layer.current(ctx)
        if t is None:
            self.core.logger.error("t_add_hdrs(): no transaction", "tm")
            return -1
        t.extra_hdrs = [line.rstrip("\r") for line in (hdrs or "").replace("\r\n", "\n").split("\n") if line.strip()]
        return 1

    def t_add_cancel_reason(self, ctx, reason_hdr: str | None) -> int:
        if not reason_hdr:
            return -1
        tm_state(ctx).cancel_reason = reason_hdr.replace("\r\n", "\n").strip("\n")
        return 1

    def t_new_request(self, ctx, method: str, ruri: str, from_uri: str, to_uri: str, body: str | None = None,
                      context: str | None = None) -> int:
        """A new stateful request of ours; body is "<content-type> <body>"."""
        content_type, payload = None, b""
        if body:
            content_type, _, text = body.partition(" ")
            payload = text.encode("utf-8", "surrogateescape")
        request = LocalRequest(method=method, ruri=ruri, from_=f"<{from_uri}>;tag={secrets.token_hex(6)}",
                               to=f"<{to_uri}>", body=payload, content_type=content_type or None)
        return 1 if self.layer.t_uac(request) is not None else -1

    def t_reply_by_callid(self, ctx, code: int, reason: str | None, callid: str | None = None,
                          cseq: str | None = None) -> int:
        msg = ctx.msg
        if callid is None and msg is not None:
            callid = msg.call_id
        if cseq is None and msg is not None and msg.cseq is not None:
            cseq = str(msg.cseq.number)
        for t in self.layer.table.by_hash.get((callid or "", str(cseq or "").strip()), ()):
            if t.is_invite and not t.is_local and t.request is not None:
                return self.layer.reply(t, None, code, reason)
        return -1

    # ================================================================================== pseudo-variables
    def pvars(self) -> dict[str, Handler]:
        layer = self.layer

        def state_of(ctx) -> TMState | None:
            return ctx.module_state.get("tm")

        def branch_idx(ctx, arg, index):
            if ctx.route_type not in (RouteType.BRANCH, RouteType.ONREPLY, RouteType.FAILURE):
                return None
            state = state_of(ctx)
            return max(state.branch, 0) if state is not None else 0

        def reply_code(ctx, arg, index):
            t = layer.current(ctx)
            if t is None:
                return 0
            if ctx.route_type == RouteType.REQUEST:
                return t.status
            if ctx.route_type == RouteType.ONREPLY:
                return ctx.msg.status
            if ctx.route_type == RouteType.FAILURE:
                picked = state_of(ctx).picked
                return t.branches[picked].last_received if picked >= 0 else 0
            return 0

        def branch_of(ctx, index=None):
            t = layer.current(ctx)
            if t is None:
                return None
            state = state_of(ctx)
            which = state.branch if index is None else index
            if index is None and state.branch_obj is not None:
                return state.branch_obj
            which = max(which, 0) if index is None else which
            try:
                return t.branches[which]
            except (IndexError, TypeError):
                return None

        def t_ruri(ctx, arg, index):
            t = layer.current(ctx)
            if t is None:
                return ctx.ruri() if ctx.is_request else None
            branch = branch_of(ctx)
            return branch.uri if branch is not None else None

        def t_id(ctx, arg, index):
            t = layer.current(ctx)
            return t.id if t is not None else None

        def timeout_get(attr):
            def get(ctx, arg, index):
                t = layer.current(ctx)
                if t is not None:
                    return int(getattr(t, attr))
                state = state_of(ctx)
                pending = getattr(state, attr) if state is not None else None
                return int(pending if pending is not None else getattr(layer.settings, attr))

            def set_(ctx, arg, index, value, op):
                default = getattr(layer.settings, attr)
                if value is None:
                    seconds = default
                else:
                    try:
                        seconds = float(int(value))
                    except (TypeError, ValueError):
                        self.core.logger.error(f"$T_{attr}: assigning a non-int value as a timeout", "tm")
                        return
                t = layer.current(ctx)
                if t is not None:
                    setattr(t, attr, seconds)
                else:
                    setattr(tm_state(ctx), attr, seconds)

            return get, set_

        def last_reply_code(ctx, arg, index):
            branch = branch_of(ctx, index if isinstance(index, int) else None)
            return branch.last_received if branch is not None else None

        def bavp_get(ctx, arg, index):
            branch = branch_of(ctx)
            if branch is None or ctx.route_type not in (RouteType.BRANCH, RouteType.ONREPLY, RouteType.FAILURE):
                return None
            return _avp_get(_AvpHolder(branch.avps), arg, index)

        def bavp_set(ctx, arg, index, value, op):
            branch = branch_of(ctx)
            if branch is None:
                self.core.logger.error("$bavp: no branch here", "tm")
                return
            _avp_set(_AvpHolder(branch.avps), arg, index, value, op)

        def branch_field(read):
            def get(ctx, arg, index):
                t = layer.current(ctx)
                if t is None:
                    return None
                if index == ALL:
                    return [read(b, arg) for b in t.branches]
                branch = branch_of(ctx, index if isinstance(index, int) else None)
                return read(branch, arg) if branch is not None else None

            return get

        def q_text(branch, arg):
            return f"{branch.q / 1000:g}" if branch.q is not None else None

        def flag_set(ctx, arg, index, value, op):
            branch = branch_of(ctx, index if isinstance(index, int) else None)
            if branch is None or arg is None:
                return
            if value:
                branch.flags.add(arg)
            else:
                branch.flags.discard(arg)

        def attr_set(ctx, arg, index, value, op):
            branch = branch_of(ctx, index if isinstance(index, int) else None)
            if branch is not None and arg is not None:
                branch.attrs[arg] = value

        fr_get, fr_set = timeout_get("fr_timeout")
        inv_get, inv_set = timeout_get("fr_inv_timeout")
        handlers = {
            "T_branch_idx": Handler("T_branch_idx", branch_idx),
            "T_reply_code": Handler("T_reply_code", reply_code),
            "T_ruri": Handler("T_ruri", t_ruri),
            "T_id": Handler("T_id", t_id),
            "T_fr_timeout": Handler("T_fr_timeout", fr_get, fr_set),
            "T_fr_inv_timeout": Handler("T_fr_inv_timeout", inv_get, inv_set),
            "T_branch_last_reply_code": Handler("T_branch_last_reply_code", last_reply_code),
            "bavp": Handler("bavp", bavp_get, bavp_set),
            "tm.branch.uri": Handler("tm.branch.uri", branch_field(lambda b, a: b.uri)),
            "tm.branch.duri": Handler("tm.branch.duri", branch_field(lambda b, a: b.dst_uri)),
            "tm.branch.path": Handler("tm.branch.path", branch_field(lambda b, a: b.path)),
            "tm.branch.q": Handler("tm.branch.q", branch_field(q_text)),
            "tm.branch.flags": Handler("tm.branch.flags", branch_field(lambda b, a: ",".join(sorted(b.flags)))),
            "tm.branch.socket": Handler("tm.branch.socket",
                                        branch_field(lambda b, a: str(b.socket) if b.socket else None)),
            "tm.branch.flag": Handler("tm.branch.flag", branch_field(lambda b, a: 1 if a in b.flags else 0),
                                      flag_set),
            "tm.branch.attr": Handler("tm.branch.attr", branch_field(lambda b, a: b.attrs.get(a)), attr_set),
            "tm.branch.last_received": Handler("tm.branch.last_received",
                                               branch_field(lambda b, a: b.last_received)),
            "tm.branch.type": Handler("tm.branch.type",
                                      branch_field(lambda b, a: "phony" if b.phony else "normal")),
        }
        return handlers


__all__ = ["Module", "relay_flags", "script_error"]
