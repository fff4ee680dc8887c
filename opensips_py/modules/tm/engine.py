"""The transaction layer: creating transactions, forwarding branches, processing replies, timers, CANCEL.

This is OpenSIPS's tm without the script glue (that is module.py): t_lookup.c (t_newtran, lookups),
t_fwd.c (t_forward_nonack, add_uac, cancel_invite), t_reply.c (reply_received, relay_reply, _reply,
run_failure_handlers), t_cancel.c and timer.c, following their order of operations. The decisions that do not
need I/O are pure functions in machine.py; the matching is transaction.py.

Sans-IO: every send goes to the core's outbox (`core.process.outbox`), every timer through TimerLists on
`core.add_timer()`. Script routes (branch_route, onreply_route, failure_route) run through the core's
compiled script with a context built here.
"""
from __future__ import annotations

import binascii
import hashlib
import itertools
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from opensips_py.modules.exports import RouteType
from opensips_py.modules.tm.callbacks import TMCB, CallbackList, TMCBParams
from opensips_py.modules.tm.machine import (
    RETRANSMISSION_STAT, RETRANSMISSION_STEPS, RPS, BranchView, RetrList, pick_branch, retr_interval, should_relay,
)
from opensips_py.modules.tm.messages import (
    CANCEL_REASON_200, CANCEL_REASON_480, CANCEL_REASON_487, LocalRequest, build_local, build_local_request,
    new_call_id, our_via, relayed_reply,
)
from opensips_py.modules.tm.timers import TimerEntry, TimerLists
from opensips_py.modules.tm.transaction import (
    FAKED, ClientBranch, KillReason, Transaction, TransactionTable, via_key_of,
)
from opensips_py.runtime.forward import (
    STREAM_PROTOCOLS, BadDestination, Target, build_forwarded_request, mark_received_via, parse_destination,
    target_of_uri,
)
from opensips_py.script.context import MsgContext, Send
from opensips_py.sip import REASON_PHRASES, URI, SIPParseError, parse_message

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.script.context import Branch, ListenSocket, ReceiveInfo
    from opensips_py.sip import Request, Response

# OpenSIPS internal errors (error.h) tm returns or replies with
E_UNSPEC, E_CFG, E_NO_SOCKET, E_BAD_VIA, E_BAD_TUPEL, E_SCRIPT = -1, -6, -7, -8, -9, -10
E_NO_DESTINATION, E_BAD_REQ, E_BAD_URI, E_BAD_ADDRESS, E_SEND, E_IP_BLOCKED = -18, -400, -475, -476, -477, -473
E_BAD_TO, E_INVALID_PARAMS = -13, -14

TM_BRANCH_MAX = 256
# the TMCB bits as plain ints for the hot path's checks (enum flag operations cost microseconds)
CB_REQUEST_IN, CB_REQUEST_FWDED, CB_ON_FAILURE = int(TMCB.REQUEST_IN), int(TMCB.REQUEST_FWDED), int(TMCB.ON_FAILURE)
TM_TAG_SIGNATURE = "OpenSIPS-TM/tags"
CANCELING = "canceling"


@dataclass
class TMSettings:
    """tm's modparams, in seconds."""

    fr_timeout: float = 30.0
    fr_inv_timeout: float = 120.0
    wt_timer: float = 5.0
    t1: float = 0.5
    t2: float = 4.0
    restart_fr_on_each_reply: bool = True
    auto_100trying: bool = True
    onreply_avp_mode: int = 0
    disable_6xx_block: bool = False
    minor_branch_flag: str | None = None
    enable_stats: bool = True
    ruri_matching: bool = True
    via1_matching: bool = True


class TMState:
    """What tm keeps per script run in ctx.module_state["tm"] (OpenSIPS's process-wide T, the t_on_*
    holders used before a transaction exists, the kill reason, the current branch)."""

    __slots__ = ("t", "looked_up", "on_failure", "on_reply", "on_branch", "fr_timeout", "fr_inv_timeout", "kr",
                 "branch", "branch_obj", "cancelled_t", "e2eack_t", "picked", "cancel_reason")

    def __init__(self, t: Transaction | None = None, looked_up: bool = False, branch: int = -1) -> None:
        self.t = t
        self.looked_up = looked_up or t is not None
        self.on_failure: str | None = None
        self.on_reply: str | None = None
        self.on_branch: str | None = None
        self.fr_timeout: float | None = None
        self.fr_inv_timeout: float | None = None
        self.kr = KillReason.NONE
        self.branch = branch               # _tm_branch_index of branch/onreply/failure routes
        self.branch_obj: ClientBranch | None = None
        self.cancelled_t: Any = False      # False: not looked up yet
        self.e2eack_t: Transaction | None = None
        self.picked = -1
        self.cancel_reason: str | None = None


def tm_state(ctx: MsgContext) -> TMState:
    state = ctx.module_state.get("tm")
    if state is None:
        state = ctx.module_state["tm"] = TMState()
    return state


class TransactionLayer:
    """Every transaction of one proxy process, and what happens to them."""

    def __init__(self, core: Any, settings: TMSettings, stats: dict[str, int]) -> None:
        self.core = core
        self.settings = settings
        self.stats = stats
        self.table = TransactionTable()
        self.timers = TimerLists(core, on_error=lambda exc: core._internal_error(exc, "tm timer"))
        self.global_callbacks = CallbackList()
        self._labels = itertools.count(1)
        self._salt = secrets.token_hex(2)
        sockets = getattr(core, "sockets", None) or []
        first = sockets[0] if sockets else None
        seed = TM_TAG_SIGNATURE + (first.host if first else "") + (str(first.port) if first else "")
        self._tag_prefix = hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()
        self.last_error = E_UNSPEC

    # ------------------------------------------------------------------------------------------ helpers
    def _stat(self, name: str, delta: int = 1) -> None:
        if self.settings.enable_stats:
            self.stats[name] += delta

    def _send(self, data: bytes, proto: str, host: str, port: int, sock: "ListenSocket | None",
              connection_id: int | None) -> None:
        self.core.process.outbox.append(Send(data, proto, host, port, sock, connection_id))

    def _send_upstream(self, t: Transaction, data: bytes) -> None:
        proto, host, port, sock, conn = t.uas_dest
        self.core.process.outbox.append(Send(data, proto, host, port, sock, conn))

    def _run_callbacks(self, t: Transaction, kind: TMCB, params: TMCBParams) -> None:
        callbacks = t.callbacks
        if callbacks is None or not callbacks.types_set & kind:
            return
        params.type = kind
        bit = int(kind)
        for types, fn in list(callbacks.entries):
            if types & bit:
                try:
                    fn(t, params)
                except Exception as exc:  # noqa: BLE001 - a module's callback must not break tm
                    self.core._internal_error(exc, f"tm callback {kind.name}")

    def register_callback(self, types: TMCB, fn: Callable, t: Transaction | None = None) -> None:
        if t is None:
            self.global_callbacks.add(types, fn)
            return
        if t.callbacks is None:
            t.callbacks = CallbackList()
        t.callbacks.add(types, fn)

    def to_tag(self, msg: "Request") -> str:
        """Our To-tag for a request (OpenSIPS: a fixed MD5 part, '-', a CRC of the request's Via branch and
        From tag and Call-ID), the same for its retransmissions."""
        try:
            via = msg.via1
            from_ = msg.from_
        except SIPParseError:
            via, from_ = None, None
        seed = "|".join(((via.branch or "") if via is not None else "", (from_.tag or "") if from_ else "",
                         msg.call_id or ""))
        return f"{self._tag_prefix}-{binascii.crc32(seed.encode('utf-8', 'surrogateescape')):08x}"

    # ------------------------------------------------------------------------------------------ lookups
    def current(self, ctx: MsgContext) -> Transaction | None:
        """OpenSIPS's get_t(): the transaction already known for this script run (no lookup)."""
        state = ctx.module_state.get("tm")
        return state.t if state is not None else None

    def transaction(self, ctx: MsgContext) -> Transaction | None:
        """t_check(): the transaction of the current message, looked up once and cached."""
        state = tm_state(ctx)
        if state.looked_up or state.t is not None:
            return state.t
        msg = ctx.msg
        state.looked_up = True
        if msg is None:
            return None
        if msg.is_request:
            try:
                lret, t = self.table.lookup_request(msg)
            except SIPParseError:
                return None
            if lret == 1:
                state.t = t
                state.kr |= KillReason.REQ_EXIST
            elif lret == -2:
                state.e2eack_t = t
            return state.t
        try:
            t, index = self.table.match_reply(msg)
        except SIPParseError:
            return None
        state.t, state.branch = t, index
        return t

    # ------------------------------------------------------------------------------------------ UAS side
    def newtran(self, ctx: MsgContext) -> int:
        """t_newtran(): 1 new (or an unmatched ACK), 0 a retransmission / absorbed ACK, <0 error."""
        state = tm_state(ctx)
        if state.t is not None:
            return E_SCRIPT
        msg = ctx.msg
        if msg is None or not msg.is_request:
            return E_UNSPEC
        is_ack = msg.method == "ACK"
        try:
            if is_ack and state.e2eack_t is not None:
                lret, found = -2, state.e2eack_t
            else:
                lret, found = self.table.lookup_request(msg)
        except SIPParseError:
            return E_BAD_TUPEL
        if lret == 1:
            state.kr |= KillReason.REQ_EXIST
            if is_ack:
                self.release(found, state)
            else:
                self.retransmit_reply(found)
            state.looked_up = False  # "hide the transaction from the upper layer"
            return 0
        if lret == -2:
            if found.relayed_branch == -2:
                self.release(found, state)
                return 0
            state.e2eack_t = found
            self._run_callbacks(found, TMCB.E2EACK_IN, TMCBParams(TMCB.E2EACK_IN, request=msg, ctx=ctx))
            return 1
        if is_ack:
            return 1
        try:
            t = self._create(ctx, msg, state)
        except SIPParseError:
            return E_BAD_REQ
        if self.settings.auto_100trying and t.is_invite:
            self.reply(t, ctx, 100, "Giving it a try", state=state)
        return 1

    def _new_transaction(self, method: str) -> Transaction:
        label = next(self._labels)
        t = Transaction(f"{self._salt}{label:x}", label, method)
        t.fr_timeout = self.settings.fr_timeout
        t.fr_inv_timeout = self.settings.fr_inv_timeout
        t.created = self.core.now
        return t

    def _create(self, ctx: MsgContext, msg: "Request", state: TMState) -> Transaction:
        t = self._new_transaction(msg.method)
        t.request = msg
        t.rcv = ctx.received
        t.hash_key = self.table.hash_key(msg)
        t.via_key = via_key_of(msg)
        cseq = msg.cseq
        t.cseq_number = str(cseq.number) if cseq is not None else "0"
        if state.fr_timeout is not None:
            t.fr_timeout = state.fr_timeout
        if state.fr_inv_timeout is not None:
            t.fr_inv_timeout = state.fr_inv_timeout
        t.on_failure, state.on_failure = state.on_failure, None
        t.on_reply, state.on_reply = state.on_reply, None
        t.on_branch, state.on_branch = state.on_branch, None
        t.avps = ctx.avps
        t.flags = set(ctx.flags)
        self._set_uas_dest(t, ctx)
        self.table.insert(t)
        self._stat("UAS_transactions")
        self._stat("inuse_transactions")
        state.t = t
        state.looked_up = True
        state.kr = KillReason.NONE
        if self.global_callbacks.types_set & CB_REQUEST_IN:
            params = TMCBParams(TMCB.REQUEST_IN, request=msg, ctx=ctx)
            for types, fn in list(self.global_callbacks.entries):
                if types & CB_REQUEST_IN:
                    try:
                        fn(t, params)
                    except Exception as exc:  # noqa: BLE001
                        self.core._internal_error(exc, "tm callback REQUEST_IN")
        return t

    def _set_uas_dest(self, t: Transaction, ctx: MsgContext) -> None:
        rcv = t.rcv
        if rcv is None:
            return
        core_state = ctx.module_state.get("core") or {}
        t.force_rport = bool(core_state.get("force_rport"))
        host, port = self.core.reply_destination(t.request, rcv, t.force_rport, bool(core_state.get("reply_to_via")))
        t.uas_dest = (rcv.proto, host, port, rcv.socket, rcv.connection_id)

    def update_cloned(self, t: Transaction, ctx: MsgContext) -> None:
        """update_cloned_msg_from_msg(): the request route's edits become the transaction's request."""
        msg = ctx.msg
        t.lumps = msg.lumps.copy()
        t.new_uri = ctx.new_uri
        t.dst_uri = ctx.dst_uri
        t.path = ctx.path
        t.ruri_q = ctx.ruri_q
        t.branch_flags = set(ctx.branch_flags)
        t.force_socket = ctx.force_socket
        core_state = ctx.module_state.get("core") or {}
        t.data["_core_state"] = dict(core_state)
        sl_state = ctx.module_state.get("sl")
        if sl_state:
            t.data["_sl_state"] = {k: (list(v) if isinstance(v, list) else v) for k, v in sl_state.items()}
        if core_state.get("force_rport") and not t.force_rport:
            self._set_uas_dest(t, ctx)

    def retransmit_reply(self, t: Transaction) -> None:
        if t.uas_reply is not None and t.uas_dest is not None:
            self._send_upstream(t, t.uas_reply)

    def release(self, t: Transaction, state: TMState | None = None) -> None:
        """t_release_transaction(): stop retransmitting the reply, stop the branches, wait, delete."""
        if state is not None:
            state.kr |= KillReason.REQ_RLSD
        t.uas_ack_seen = True
        self._stop_uas_timers(t)
        self._cleanup_uac_timers(t)
        self.put_on_wait(t)

    def put_on_wait(self, t: Transaction) -> None:
        """The transaction stays wt_timer seconds to absorb retransmissions, then goes (counted once)."""
        if t.wait_timer is not None or t.deleted:
            return
        t.wait_timer = self.timers.arm(self.settings.wt_timer, self._on_wait, t)
        status = t.status
        if self.settings.enable_stats and 200 <= status < 700:
            self.stats[f"{status // 100}xx_transactions"] += 1

    def _on_wait(self, t: Transaction, now: float) -> None:
        self.delete(t)

    def delete(self, t: Transaction) -> None:
        if t.deleted:
            return
        t.deleted = True
        self._stop_uas_timers(t)
        for branch in t.branches:
            self.timers.disarm(branch.retr_timer)
            self.timers.disarm(branch.fr_timer)
            for entry in branch.cancel_timers:
                self.timers.disarm(entry)
        self.table.remove(t)
        if self.settings.enable_stats:
            self.stats["inuse_transactions"] -= 1
        self._run_callbacks(t, TMCB.TRANS_DELETED, TMCBParams(TMCB.TRANS_DELETED, request=t.request))

    def _stop_uas_timers(self, t: Transaction) -> None:
        self.timers.disarm(t.uas_retr_timer)
        self.timers.disarm(t.uas_fr_timer)
        t.uas_retr_timer = t.uas_fr_timer = None

    def _cleanup_uac_timers(self, t: Transaction) -> None:
        disarm = self.timers.disarm
        for index in range(t.first_branch, len(t.branches)):
            branch = t.branches[index]
            disarm(branch.retr_timer)
            disarm(branch.fr_timer)
            branch.retr_timer = branch.fr_timer = None

    # ------------------------------------------------------------------------------------------ local replies
    def reply(self, t: Transaction, ctx: MsgContext | None, code: int, reason: str | None, *,
              headers: list[str] | None = None, body: bytes = b"", content_type: str | None = None,
              state: TMState | None = None, to_tag: str | None = None) -> int:
        """_reply()/_reply_light(): a reply of ours, stateful. 1 sent, -1 error (a final reply already went
        upstream, or the reply could not be built). `to_tag`: the To-tag to answer with instead of ours
        (t_reply_with_body()'s to_tag: a reply inside an early dialog of one of the branches)."""
        request = t.request
        if request is None or t.rcv is None:
            return -1
        if code >= 200 and state is not None:
            state.kr |= KillReason.REQ_RPLD
        if t.status >= 200:
            self.core.logger.error(f"cannot send a {code} reply, a final {t.status} was sent already", "tm")
            self._cleanup_uac_timers(t)
            if t.is_invite:
                self.cancel_uacs(t, self.which_cancel(t))
            self.put_on_wait(t)
            return -1
        extras = (ctx.module_state.get("sl") if ctx is not None else None) or t.data.get("_sl_state") or {}
        lines: list[str] = []
        for text in extras.get("reply_headers") or ():
            for line in str(text).replace("\r\n", "\n").split("\n"):
                if line.strip():
                    lines.append(line.rstrip("\r"))
        if headers:
            lines.extend(headers)
        if not body and extras.get("reply_body"):
            body = str(extras["reply_body"]).encode("utf-8", "surrogateescape")
        if 300 <= code < 400 and ctx is not None:
            contact = ctx.dset_contact()
            if contact:
                lines.insert(0, contact)
        if code >= 180 or to_tag:
            try:
                has_tag = request.to is not None and request.to.tag is not None
            except SIPParseError:
                has_tag = True
            if has_tag:
                to_tag = None
            elif not to_tag:
                to_tag = t.local_to_tag or self.to_tag(request)
                t.local_to_tag = to_tag
            else:  # update_local_tags(): the ACK of this reply is matched by the tag given
                t.local_to_tag = to_tag
        cancel = self.which_cancel(t) if t.is_invite and code >= 200 else []
        core_state = (ctx.module_state.get("core") if ctx is not None else None) or t.data.get("_core_state") or {}
        try:
            output = self.core.send_reply(request, t.rcv, code, reason, to_tag=to_tag, headers=lines, body=body,
                                          content_type=content_type, force_rport=t.force_rport,
                                          reply_to_via=bool(core_state.get("reply_to_via")))
        except (SIPParseError, ValueError) as exc:
            self.core.logger.error(f"cannot build the {code} reply: {exc}", "tm")
            self._cleanup_uac_timers(t)
            if t.is_invite:
                self.cancel_uacs(t, cancel)
            self.put_on_wait(t)
            return -1
        t.status = code
        t.uas_reply = output.data
        t.uas_dest = (output.proto, output.host, output.port, output.socket, output.connection_id)
        t.relayed_branch = -2
        if code >= 200:
            params = TMCBParams(TMCB.RESPONSE_PRE_OUT, request=request, code=code, ctx=ctx)
            self._run_callbacks(t, TMCB.RESPONSE_PRE_OUT, params)
            self._cleanup_uac_timers(t)
            if t.is_invite:
                self.cancel_uacs(t, cancel)
            if code not in (401, 407):
                self.set_final_timer(t)
            else:
                self.put_on_wait(t)
        self._stat("local_replies")
        if code >= 200:
            self._run_callbacks(t, TMCB.RESPONSE_OUT, TMCBParams(TMCB.RESPONSE_OUT, request=request, code=code,
                                                                  data=output.data, ctx=ctx))
        return 1

    def set_final_timer(self, t: Transaction) -> None:
        """After the final reply: a negative INVITE reply is retransmitted (UDP) until its ACK, a 2xx of our
        own too (any transport); anything else waits wt_timer."""
        if not t.is_local and t.is_invite:
            if t.status >= 300:
                self._start_uas_retr(t, force=False)
                return
            if t.relayed_branch == -2 and t.status >= 200:
                self._start_uas_retr(t, force=True)
                return
        self.put_on_wait(t)

    def _start_uas_retr(self, t: Transaction, force: bool) -> None:
        self._stop_uas_timers(t)
        if force or (t.uas_dest is not None and t.uas_dest[0] == "udp"):
            t.uas_retr_list = RetrList.T1_TO_1
            t.uas_retr_timer = self.timers.arm(self.settings.t1, self._on_uas_retr, t)
        t.uas_fr_timer = self.timers.arm(t.fr_timeout, self._on_uas_fr, t)

    def _on_uas_retr(self, t: Transaction, now: float) -> None:
        t.uas_retr_timer = None
        if t.deleted:
            return
        self.retransmit_reply(t)
        self._stat("retransmission_rpl_T2")
        step = RETRANSMISSION_STEPS[RetrList(t.uas_retr_list)]
        t.uas_retr_list = step
        t.uas_retr_timer = self.timers.arm(retr_interval(step, self.settings.t1, self.settings.t2),
                                           self._on_uas_retr, t)

    def _on_uas_fr(self, t: Transaction, now: float) -> None:
        t.uas_fr_timer = None
        self.timers.disarm(t.uas_retr_timer)
        t.uas_retr_timer = None
        self.put_on_wait(t)

    # ------------------------------------------------------------------------------------------ forwarding
    def forward(self, t: Transaction, ctx: MsgContext, proxy: str | None, reset: bool,
                state: TMState | None = None) -> int:
        """t_forward_nonack(): a branch for the R-URI and one per added branch; 1, or the internal error."""
        msg = ctx.msg
        state = state or tm_state(ctx)
        t.flags = set(ctx.flags)
        if msg.method == "CANCEL":
            t_invite = self.lookup_original(ctx, state)
            if t_invite is not None:
                t_invite.was_cancelled = True
                self.cancel_invite(ctx, t, t_invite, state)
                return 1
        if t.no_new_branches:
            self.core.logger.info("discarding fwd for a 6xx transaction", "tm")
            return self._fail(E_NO_DESTINATION)
        if t.was_cancelled:
            if not t.branches:
                self.reply(t, ctx, 487, "Request Terminated", state=state)
            self.core.logger.info("discarding fwd for a cancelled transaction", "tm")
            return self._fail(E_NO_DESTINATION)
        rcv = ctx.received
        core_state = ctx.module_state.get("core") or {}
        if rcv is not None:  # received/rport on the caller's Via (failure_route's copy of the request too)
            try:
                mark_received_via(msg, rcv.src_host, rcv.src_port, bool(core_state.get("force_rport")))
            except SIPParseError:
                pass
        if reset:
            t.first_branch = len(t.branches)
        added: list[ClientBranch] = []
        lowest = E_UNSPEC
        result = self._add_branch(t, ctx, state, ctx.ruri(), ctx.dst_uri, ctx.path, ctx.ruri_q, ctx.branch_flags,
                                  ctx.force_socket, None, proxy, core_state)
        if isinstance(result, ClientBranch):
            added.append(result)
        else:
            lowest = result
        for extra in list(ctx.branches):
            result = self._add_branch(t, ctx, state, extra.uri, extra.dst_uri, extra.path, extra.q, extra.flags,
                                      extra.socket, extra, proxy, core_state)
            if isinstance(result, ClientBranch):
                added.append(result)
            else:
                lowest = result
        ctx.branches.clear()
        if state.on_branch is not None:
            t.on_branch, state.on_branch = state.on_branch, None
        t.flags = set(ctx.flags)
        if not added:
            self.core.logger.error("failure to add branches", "tm")
            return self._fail(lowest)
        for branch in added:
            self._send(branch.sent, branch.proto, branch.host, branch.port, branch.socket, branch.connection_id)
            self._start_retr(t, branch)
            state.kr |= KillReason.REQ_FWDED
            if t.callbacks is not None:
                self._run_callbacks(t, TMCB.REQUEST_OUT, TMCBParams(TMCB.REQUEST_OUT, request=msg,
                                                                     branch=branch.index, data=branch.sent,
                                                                     ctx=ctx))
        return 1

    def _fail(self, error: int) -> int:
        self.last_error = error
        self.core.last_error = error
        return error

    def _add_branch(self, t: Transaction, ctx: MsgContext, state: TMState, uri: str, dst_uri: str | None,
                    path: str | None, q: int | None, bflags: set[str], socket: "ListenSocket | None",
                    source: "Branch | None", proxy: str | None, core_state: dict) -> ClientBranch | int:
        """add_uac(): run branch_route, pick the destination, build the request. A branch, or an error."""
        index = len(t.branches)
        if index >= TM_BRANCH_MAX:
            self.core.logger.error(f"maximum number of branches ({TM_BRANCH_MAX}) exceeded", "tm")
            return E_CFG
        branch = ClientBranch(index, uri)
        branch.dst_uri, branch.path, branch.q, branch.flags, branch.socket = dst_uri, path, q, set(bflags), socket
        if source is not None and source.attrs:
            branch.attrs = dict(source.attrs)
        msg = ctx.msg
        saved = msg.lumps
        msg.lumps = saved.copy()
        try:
            if t.on_branch is not None and self.core.script.route("branch_route", t.on_branch) is not None:
                if not self._run_branch_route(t, ctx, branch):
                    self.core.logger.debug(f"dropping branch <{branch.uri}>", "tm")
                    return E_UNSPEC
            if t.callbacks is not None and t.callbacks.types_set & CB_REQUEST_FWDED:
                self._run_callbacks(t, TMCB.REQUEST_FWDED, TMCBParams(TMCB.REQUEST_FWDED, request=msg,
                                                                       branch=index, ctx=ctx))
            try:
                target = next_hop(proxy if proxy and not branch.dst_uri else (branch.dst_uri or branch.uri),
                                  branch.socket)
            except (BadDestination, SIPParseError) as exc:
                self.core.logger.error(f"bad destination <{branch.dst_uri or branch.uri}>: {exc}", "tm")
                return E_BAD_URI
            ip = self.core.resolver.resolve(target.host)
            if ip is None:
                self.core.logger.error(f"cannot resolve {target.host}", "tm")
                return E_BAD_ADDRESS
            proto = target.proto
            sock = self.core.send_socket(proto, ip, branch.socket)
            if sock is None:
                self.core.logger.error(f"no {proto} socket to send from", "tm")
                return E_NO_SOCKET
            if branch.path:
                _insert_path(msg, branch.path)
            via_branch = f"z9hG4bK{t.tid}.{index}"
            advertised = (core_state.get("advertised_address"), _int_or_none(core_state.get("advertised_port")))
            t.advertised = advertised
            data = build_forwarded_request(msg, sock, proto, via_branch, advertised_host=advertised[0],
                                           advertised_port=advertised[1],
                                           local_rport=bool(core_state.get("add_local_rport")),
                                           new_uri=branch.uri)
        finally:
            msg.lumps = saved
        port = target.effective_port
        branch.sent = data
        branch.via_branch = via_branch
        branch.proto, branch.host, branch.port, branch.socket = proto, ip, port, sock
        if proto in STREAM_PROTOCOLS:
            branch.connection_id = self.core.connection_for(proto, ip, port)
        t.branches.append(branch)
        return branch

    def _run_branch_route(self, t: Transaction, ctx: MsgContext, branch: ClientBranch) -> bool:
        """branch_route for one branch, on the request with this branch's lumps; False when it drops it."""
        bctx = MsgContext(ctx.msg, RouteType.BRANCH, ctx.process, ctx.received)
        bctx.new_uri = branch.uri
        bctx.dst_uri = branch.dst_uri
        bctx.path = branch.path
        bctx.ruri_q = branch.q
        bctx.branch_flags = branch.flags
        bctx.flags = ctx.flags
        bctx.force_socket = branch.socket
        bctx.avps = t.avps
        bctx.module_state["core"] = ctx.module_state.get("core") or {}
        bstate = TMState(t, True, branch.index)
        bstate.branch_obj = branch
        bctx.module_state["tm"] = bstate
        self._run_route("branch_route", t.on_branch, bctx)
        if bctx.drop:
            return False
        branch.uri = bctx.ruri()
        branch.dst_uri = bctx.dst_uri
        branch.path = bctx.path
        branch.flags = bctx.branch_flags
        branch.socket = bctx.force_socket
        ctx.flags = bctx.flags
        return True

    def _run_route(self, kind: str, name: str | None, ctx: MsgContext) -> None:
        try:
            self.core.script.run(kind, name, ctx)
        except Exception as exc:  # noqa: BLE001 - a script run must not break the transaction
            self.core._internal_error(exc, f"{kind}[{name}]")

    def _start_retr(self, t: Transaction, branch: ClientBranch) -> None:
        if branch.proto == "udp":
            branch.retr_list = RetrList.T1_TO_1
            branch.retr_timer = self.timers.arm(self.settings.t1, self._on_retr, (t, branch))
        branch.fr_timer = self.timers.arm(t.fr_timeout, self._on_fr, (t, branch, False))

    def _on_retr(self, arg: tuple[Transaction, ClientBranch], now: float) -> None:
        t, branch = arg
        branch.retr_timer = None
        if t.deleted or branch.sent is None:
            return
        self._send(branch.sent, branch.proto, branch.host, branch.port, branch.socket, branch.connection_id)
        current = RetrList(branch.retr_list)
        self._stat(RETRANSMISSION_STAT[current])
        step = RETRANSMISSION_STEPS[current]
        branch.retr_list = step
        branch.retr_timer = self.timers.arm(retr_interval(step, self.settings.t1, self.settings.t2),
                                            self._on_retr, arg)

    def _on_fr(self, arg: tuple[Transaction, ClientBranch, bool], now: float) -> None:
        """final_response_handler(): no final reply in time: CANCEL it if it rang, fake a 408."""
        t, branch, inv = arg
        branch.fr_timer = None
        self.timers.disarm(branch.retr_timer)
        branch.retr_timer = None
        if t.deleted:
            return
        if t.is_invite and self.should_cancel_branch(t, branch):
            self.cancel_uacs(t, [branch.index], CANCEL_REASON_480)
        self._stat("timeout_finalresponse_inv" if inv else "timeout_finalresponse")
        self.fake_reply(t, branch.index, 408)

    def fake_reply(self, t: Transaction, index: int, code: int) -> None:
        if t.is_local:
            rps = self._process_local(t, None, index, code)
            if rps == RPS.COMPLETED:
                self.put_on_wait(t)
        else:
            rps, cancel = self.relay_reply(t, None, index, code)
            if rps == RPS.COMPLETED:
                self._cleanup_uac_timers(t)
                if t.is_invite:
                    self.cancel_uacs(t, cancel)

    # ------------------------------------------------------------------------------------------ CANCEL
    def lookup_original(self, ctx: MsgContext, state: TMState) -> Transaction | None:
        if state.cancelled_t is not False:
            return state.cancelled_t
        try:
            t_invite = self.table.lookup_original(ctx.msg)
        except SIPParseError:
            t_invite = None
        state.cancelled_t = t_invite
        if t_invite is not None:
            self._run_callbacks(t_invite, TMCB.TRANS_CANCELLED, TMCBParams(TMCB.TRANS_CANCELLED, request=ctx.msg,
                                                                          ctx=ctx))
        return t_invite

    def cancel_invite(self, ctx: MsgContext, t_cancel: Transaction, t_invite: Transaction, state: TMState) -> None:
        """A CANCEL matched: 200 canceling to it, CANCEL every branch that rang (the others when they ring)."""
        self.reply(t_cancel, ctx, 200, CANCELING, state=state)
        reason = state.cancel_reason
        if reason is None and "pass-reason-hdr" in t_cancel.t_flags:
            found = ctx.msg.header_fields("reason")
            reason = found[0].raw if found else None
        if reason is None:
            reason = CANCEL_REASON_487
        self.cancel_uacs(t_invite, self.which_cancel(t_invite), reason)

    @staticmethod
    def should_cancel_branch(t: Transaction, branch: ClientBranch) -> bool:
        """Only a branch still open that nobody cancelled yet (marked at once, OpenSIPS's BUSY_BUFFER)."""
        if branch.cancel is None and not branch.phony and branch.last_received < 200:
            branch.cancel = b""
            return True
        return False

    def which_cancel(self, t: Transaction) -> list[int]:
        return [b.index for b in t.branches[t.first_branch:] if self.should_cancel_branch(t, b)]

    def cancel_uacs(self, t: Transaction, indexes: list[int], reason: str | None = None) -> None:
        """A CANCEL to each branch that got a reply; the silent ones get theirs when they first answer."""
        for index in indexes:
            branch = t.branches[index]
            if branch.last_received != 0:
                self.cancel_branch(t, branch, reason)
            else:
                branch.to_cancel = True

    def cancel_branch(self, t: Transaction, branch: ClientBranch, reason: str | None = None) -> None:
        extra = [CANCEL_REASON_200] if t.is_invite and t.status == 200 else ([reason] if reason else None)
        data = build_local(t, branch, "CANCEL", extra=extra,
                           server_signature=bool(self.core.settings.server_signature))
        branch.cancel = data
        self._send(data, branch.proto, branch.host, branch.port, branch.socket, branch.connection_id)
        timers = branch.cancel_timers
        if branch.proto == "udp":
            timers.append(self.timers.arm(self.settings.t1, self._on_cancel_retr, (t, branch, RetrList.T1_TO_1)))
        timers.append(self.timers.arm(t.fr_timeout, self._on_cancel_fr, (t, branch)))

    def _on_cancel_retr(self, arg: tuple[Transaction, ClientBranch, RetrList], now: float) -> None:
        t, branch, current = arg
        if t.deleted or not branch.cancel:
            return
        self._send(branch.cancel, branch.proto, branch.host, branch.port, branch.socket, branch.connection_id)
        self._stat(RETRANSMISSION_STAT[current])
        step = RETRANSMISSION_STEPS[current]
        branch.cancel_timers.append(self.timers.arm(retr_interval(step, self.settings.t1, self.settings.t2),
                                                    self._on_cancel_retr, (t, branch, step)))

    def _on_cancel_fr(self, arg: tuple[Transaction, ClientBranch], now: float) -> None:
        t, branch = arg
        self._stop_cancel_timers(branch)

    def _stop_cancel_timers(self, branch: ClientBranch) -> None:
        for entry in branch.cancel_timers:
            self.timers.disarm(entry)
        branch.cancel_timers = []

    # ------------------------------------------------------------------------------------------ replies
    def reply_received(self, msg: "Response", rcv: "ReceiveInfo") -> bool:
        """A reply from the network: True when it belongs to one of our transactions (then it is ours to
        relay or absorb), False to let the core forward it statelessly."""
        try:
            t, index = self.table.match_reply(msg)
        except SIPParseError:
            return False
        if t is None:
            return False
        code = msg.status
        branch = t.branches[index]
        last = branch.last_received
        self._stat("received_replies")
        cseq = msg.cseq
        if cseq is not None and cseq.method == "CANCEL" and t.is_invite:
            # the reply to our CANCEL: stop retransmitting it
            if code >= 200:
                self._stop_cancel_timers(branch)
            else:
                for entry in branch.cancel_timers[:-1]:
                    self.timers.disarm(entry)
            return True
        self.timers.disarm(branch.retr_timer)
        branch.retr_timer = None
        if code >= 200:
            self.timers.disarm(branch.fr_timer)
            branch.fr_timer = None
        if t.is_invite and code >= 300:
            # the hop-by-hop ACK of a negative reply (RFC 3261 §17.1.1.3), at once
            ack = build_local(t, branch, "ACK", reply=msg,
                              server_signature=bool(self.core.settings.server_signature))
            self._send(ack, branch.proto, branch.host, branch.port, branch.socket, branch.connection_id)
        if t.callbacks is not None:  # local transactions too, as OpenSIPS (b2b_entities reads their 1xx)
            self._run_callbacks(t, TMCB.RESPONSE_IN, TMCBParams(TMCB.RESPONSE_IN, request=t.request, reply=msg,
                                                                 code=code, branch=index))
        if t.on_reply is not None or branch.on_reply is not None:
            if not self._run_onreply(t, branch, msg, rcv) and code < 200:
                self.core.logger.debug(f"dropping provisional reply {code}", "tm")
                return True
        branch.has_reply = True
        self._process_reply(t, index, code, msg, last)
        return True

    def _run_onreply(self, t: Transaction, branch: ClientBranch, msg: "Response", rcv: "ReceiveInfo") -> bool:
        """The branch's onreply_route then the transaction's; False when one of them dropped the reply."""
        ctx = MsgContext(msg, RouteType.ONREPLY, self.core.process, rcv)
        ctx.request = t.request
        ctx.flags = t.flags
        ctx.branch_flags = branch.flags
        if self.settings.onreply_avp_mode:
            ctx.avps = t.avps
        ctx.module_state["tm"] = TMState(t, True, branch.index)
        for name in (branch.on_reply, t.on_reply):
            if name is None:
                continue
            self._run_route("onreply_route", name, ctx)
            if ctx.drop:
                return False
            ctx.exit = ctx.returning = False
        branch.flags = ctx.branch_flags
        t.flags = ctx.flags
        return True

    def _process_reply(self, t: Transaction, index: int, code: int, msg: "Response | None", last: int) -> None:
        """process_reply_and_timer()."""
        branch = t.branches[index]
        if branch.to_cancel or (t.was_cancelled and branch.cancel is None):
            if code < 200:
                if branch.cancel is None:
                    branch.cancel = b""
                self.cancel_branch(t, branch)
            branch.to_cancel = False
        if t.is_local:
            rps = self._process_local(t, msg, index, code)
            if rps == RPS.COMPLETED:
                self._cleanup_uac_timers(t)
                if t.is_invite:
                    self.cancel_uacs(t, self.which_cancel(t))
                self.put_on_wait(t)
        else:
            rps, cancel = self.relay_reply(t, msg, index, code)
            if rps == RPS.COMPLETED:
                self._cleanup_uac_timers(t)
                if t.is_invite:
                    self.cancel_uacs(t, cancel)
        if rps != RPS.PROVISIONAL or code >= 200:
            return
        if self.settings.restart_fr_on_each_reply or (last < code and (code >= 180 or last == 0)):
            if t.is_invite:
                self.timers.disarm(branch.fr_timer)
                branch.fr_timer = self.timers.arm(t.fr_inv_timeout, self._on_fr, (t, branch, True))
            elif branch.proto == "udp":
                self.timers.disarm(branch.retr_timer)
                branch.retr_list = RetrList.T2
                branch.retr_timer = self.timers.arm(self.settings.t2, self._on_retr, (t, branch))

    def _decide(self, t: Transaction, index: int, code: int) -> Any:
        branch = t.branches[index]
        all_completed = all(b.last_received >= 200 for b in t.branches[t.first_branch:] if b is not branch)
        return should_relay(is_invite=t.is_invite, uas_status=t.status, branch_last=branch.last_received,
                            new_code=code, multi_2xx="allow-no-cancel" in t.t_flags, all_completed=all_completed,
                            disable_6xx_block=self.settings.disable_6xx_block)

    def _pick(self, t: Transaction) -> tuple[int, bool]:
        minor = self.settings.minor_branch_flag
        views = [BranchView(b.last_received, b.sent is not None or b.phony, bool(minor and minor in b.flags))
                 for b in t.branches]
        return pick_branch(views, t.first_branch, t.was_cancelled)

    def relay_reply(self, t: Transaction, msg: "Response | None", index: int, code: int) -> tuple[RPS, list[int]]:
        """relay_reply(): decide, maybe run failure_route, send upstream. (rps, branches to CANCEL)."""
        branch = t.branches[index]
        decision = self._decide(t, index, code)
        cancel: list[int] = []
        relay = -1
        rps = decision.rps
        if rps == RPS.DISCARDED:
            return rps, cancel
        if decision.pick:
            branch.last_received = code
            branch.reply = msg if msg is not None else FAKED
            if decision.block_new_branches:
                cancel = self.which_cancel(t)
                picked = index
                t.no_new_branches = True
            else:
                picked, cancel_minor = self._pick(t)
                if picked == -2:
                    return RPS.STORE, cancel
                if picked == -1:
                    return RPS.DISCARDED, cancel
                if cancel_minor:
                    minor_cancel = self.which_cancel(t)
                    self._cleanup_uac_timers(t)
                    self.cancel_uacs(t, minor_cancel)
            before = len(t.branches)
            fwded_before = sum(1 for b in t.branches if b.sent is not None)
            if t.on_failure is not None or (t.callbacks is not None and t.callbacks.types_set & CB_ON_FAILURE):
                self._run_failure_handlers(t, picked, index)
            if t.status >= 200:
                return RPS.COMPLETED, cancel
            if len(t.branches) > before and sum(1 for b in t.branches if b.sent is not None) > fwded_before:
                return RPS.STORE, cancel
            relay = picked
            rps = RPS.COMPLETED
        else:
            branch.last_received = code
            if decision.relay_current:
                relay = index  # (a 1xx/2xx is relayed at once, never kept: only final failures are picked)
            if decision.cancel_pending:
                cancel = self.which_cancel(t)
        if relay >= 0:
            relayed_code = self._send_relayed(t, relay, index, msg, code)
        else:
            relayed_code = code
        if rps == RPS.COMPLETED:
            if relayed_code not in (401, 407):
                self.set_final_timer(t)
            else:
                self.put_on_wait(t)
        return rps, cancel

    def _send_relayed(self, t: Transaction, relay: int, index: int, msg: "Response | None", code: int) -> int:
        """Write and send the reply of branch `relay` upstream; returns its status."""
        relayed = msg if relay == index else t.branches[relay].reply
        request = t.request
        if relayed is None or relayed is FAKED:
            relayed_code = code if relay == index else t.branches[relay].last_received
            reason = REASON_PHRASES.get(relayed_code, "Unknown")
            to_tag = None
            if relayed_code >= 180:
                try:
                    has_tag = request.to is not None and request.to.tag is not None
                except SIPParseError:
                    has_tag = True
                if not has_tag:
                    to_tag = t.local_to_tag or self.to_tag(request)
                    t.local_to_tag = to_tag
            proto, host, port, sock, conn = t.uas_dest
            try:
                output = self.core.send_reply(request, t.rcv, relayed_code, reason, to_tag=to_tag,
                                              force_rport=t.force_rport)
                data = output.data
            except (SIPParseError, ValueError) as exc:
                self.core.logger.error(f"cannot build the {relayed_code} reply: {exc}", "tm")
                return relayed_code
            self._stat("local_replies")
        else:
            relayed_code = relayed.status
            if t.callbacks is not None:
                self._run_callbacks(t, TMCB.RESPONSE_FWDED, TMCBParams(TMCB.RESPONSE_FWDED, request=request,
                                                                        reply=relayed, code=relayed_code,
                                                                        branch=relay))
            extra = self._challenges(t, relay) if relayed_code in (401, 407) else None
            try:
                data = relayed_reply(relayed, t.uas_dest[0], extra)
            except SIPParseError as exc:
                self.core.logger.error(f"cannot relay the {relayed_code} reply: {exc}", "tm")
                return relayed_code
            if relayed_code >= 200:
                self._run_callbacks(t, TMCB.RESPONSE_PRE_OUT, TMCBParams(TMCB.RESPONSE_PRE_OUT, request=request,
                                                                          reply=relayed, code=relayed_code,
                                                                          branch=relay, data=data))
            self._send_upstream(t, data)
            self._stat("relayed_replies")
        t.uas_reply = data
        t.status = relayed_code
        t.relayed_branch = relay
        if relayed_code >= 200:
            self._run_callbacks(t, TMCB.RESPONSE_OUT, TMCBParams(TMCB.RESPONSE_OUT, request=request,
                                                                  reply=relayed if relayed is not FAKED else None,
                                                                  code=relayed_code, branch=relay, data=data))
        return relayed_code

    @staticmethod
    def _challenges(t: Transaction, relay: int) -> list[str]:
        """RFC 3261 §16.7 step 7: a 401/407 going upstream carries the challenges of every 401/407 of the
        branch set (OpenSIPS relays the winner's only; Kamailio and the RFC aggregate)."""
        winner = t.branches[relay].reply
        lines: list[str] = []
        for other in t.branches[t.first_branch:]:
            reply = other.reply
            if other.index == relay or reply is None or reply is FAKED or reply.status not in (401, 407):
                continue
            for name in ("www-authenticate", "proxy-authenticate"):
                for found in reply.header_fields(name):
                    if winner is None or winner is FAKED or found.raw not in {f.raw for f in winner.header_fields(name)}:
                        lines.append(found.raw)
        return lines

    def _run_failure_handlers(self, t: Transaction, picked: int, current: int) -> None:
        """run_failure_handlers(): the ON_FAILURE callbacks, then failure_route on the request as the
        request route left it (disarmed first: re-arm with t_on_failure() for one more failover). $T_branch_idx
        there is the branch whose reply (or timeout) completed the set; the winner is `picked`."""
        request = t.request
        if request is None or t.method == "CANCEL":
            return
        t.picked_branch = picked
        winner = t.branches[picked].reply
        ctx = self._faked_context(t, RouteType.FAILURE, current)
        ctx.module_state["tm"].picked = picked
        ctx.reply = winner if winner is not FAKED else None
        if t.callbacks is not None:
            self._run_callbacks(t, TMCB.ON_FAILURE, TMCBParams(TMCB.ON_FAILURE, request=request,
                                                                reply=ctx.reply, code=t.branches[picked].last_received,
                                                                branch=picked, ctx=ctx))
        route = t.on_failure
        if route is None:
            return
        t.on_failure = None
        saved = request.lumps
        request.lumps = (t.lumps if t.lumps is not None else saved).copy()
        try:
            self._run_route("failure_route", route, ctx)
        finally:
            request.lumps = saved
        t.flags = set(ctx.flags)

    def _faked_context(self, t: Transaction, kind: RouteType, branch: int) -> MsgContext:
        """fake_req()+faked_env(): the request as the request route left it, in the transaction's context."""
        ctx = MsgContext(t.request, kind, self.core.process, t.rcv)
        ctx.new_uri = t.new_uri
        ctx.dst_uri = t.dst_uri
        ctx.path = t.path
        ctx.ruri_q = t.ruri_q
        ctx.flags = set(t.flags)
        ctx.branch_flags = set(t.branch_flags)
        ctx.force_socket = t.force_socket
        ctx.avps = t.avps
        ctx.module_state["core"] = dict(t.data.get("_core_state") or {})
        sl_state = t.data.get("_sl_state")
        if sl_state:
            ctx.module_state["sl"] = {k: (list(v) if isinstance(v, list) else v) for k, v in sl_state.items()}
        ctx.module_state["tm"] = TMState(t, True, branch)
        return ctx

    # ------------------------------------------------------------------------------------------ local (t_uac)
    def _process_local(self, t: Transaction, msg: "Response | None", index: int, code: int) -> RPS:
        """local_reply(): the same decisions, nothing relayed; the final reply goes to the callbacks."""
        branch = t.branches[index]
        decision = self._decide(t, index, code)
        rps = decision.rps
        winner_index = -1
        if rps == RPS.DISCARDED:
            return rps
        if decision.pick:
            branch.last_received = code
            branch.reply = msg if msg is not None else FAKED
            if decision.block_new_branches:
                winner_index = index
                t.no_new_branches = True
            else:
                winner_index, _minor = self._pick(t)
                if winner_index == -2:
                    return RPS.STORE
                if winner_index == -1:
                    return RPS.DISCARDED
            rps = RPS.COMPLETED
        else:
            branch.last_received = code
            if decision.relay_current:
                winner_index = index
        if decision.pick and winner_index >= 0 and t.request is not None and (
                t.on_failure is not None or (t.callbacks is not None and t.callbacks.types_set & CB_ON_FAILURE)):
            self._run_failure_handlers(t, winner_index, index)  # a request local_route kept (run_failure_handlers)
        if winner_index >= 0:
            winner = t.branches[winner_index]
            reply = winner.reply if winner.reply is not FAKED else None
            if winner_index == index and msg is not None:
                reply = msg
            winning_code = code if winner_index == index else winner.last_received
            t.status = winning_code
            if winning_code >= 200:
                self._run_callbacks(t, TMCB.LOCAL_COMPLETED, TMCBParams(TMCB.LOCAL_COMPLETED, reply=reply,
                                                                         code=winning_code, branch=winner_index))
        return rps

    def t_uac(self, req: LocalRequest, callback: Callable | None = None) -> Transaction | None:
        """A new request of ours, sent statefully (dialog's BYE and pings, t_new_request)."""
        try:
            hop = req.next_hop
            if hop:
                target = parse_destination(hop)
            else:
                target = None
                for line in req.headers:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "route":
                        first = value.split(",")[0].strip().strip("<>").split(">")[0]
                        route = URI(first.lstrip("<"))
                        target = target_of_uri(route) if route.lr else target_of_uri(URI(req.ruri))
                        break
                if target is None:
                    target = target_of_uri(URI(req.ruri))
        except (BadDestination, SIPParseError) as exc:
            self.core.logger.error(f"t_uac: bad destination: {exc}", "tm")
            return None
        ip = self.core.resolver.resolve(target.host)
        if ip is None:
            self.core.logger.error(f"t_uac: cannot resolve {target.host}", "tm")
            return None
        sock = self.core.send_socket(target.proto, ip, req.socket)
        if sock is None:
            self.core.logger.error(f"t_uac: no {target.proto} socket to send from", "tm")
            return None
        t = self._new_transaction(req.method)
        t.is_local = True
        t.data.update(req.data)
        if req.fr_timeout is not None:
            t.fr_timeout = req.fr_timeout
        call_id = req.call_id or new_call_id(sock.via_host)
        cseq = req.cseq if req.cseq is not None else 1
        via_branch = f"z9hG4bK{t.tid}.0"
        data = build_local_request(req, our_via(sock, target.proto, via_branch), call_id, cseq,
                                   server_signature=bool(self.core.settings.server_signature))
        if self.core.script is not None and self.core.script.route("local_route") is not None:
            changed = self._run_local_route(t, data, sock)
            if changed is None:
                return None
            data, target, ip, sock = changed if changed[1] is not None else (changed[0], target, ip, sock)
        t.hash_key = (call_id, str(cseq))
        t.from_line = f"From: {req.from_}"
        t.to_line = f"To: {req.to}"
        t.callid_line = f"Call-ID: {call_id}"
        t.cseq_number = str(cseq)
        branch = ClientBranch(0, req.ruri)
        branch.sent = data
        branch.via_branch = via_branch
        port = target.effective_port
        branch.proto, branch.host, branch.port, branch.socket = target.proto, ip, port, sock
        if target.proto in STREAM_PROTOCOLS:
            branch.connection_id = self.core.connection_for(target.proto, ip, port)
        t.branches.append(branch)
        if callback is not None:
            self.register_callback(TMCB.LOCAL_COMPLETED, callback, t)
        self.table.insert(t)
        self._stat("UAC_transactions")
        self._stat("inuse_transactions")
        if self.core.processing:
            self._send_first(t, self.core.now)
        else:  # called from outside a message or timer (MI, a module task): send from the next timer run
            self.core.call_soon(lambda now: self._send_first(t, now))
        return t

    def _run_local_route(self, t: Transaction, data: bytes, sock) -> tuple | None:
        """run_local_route(): the script's local_route on a request of ours before it leaves, with its
        transaction current (t_on_reply()/t_on_failure() arm it, $avp are the transaction's). Header edits are
        applied; a new $ru/$du sends it elsewhere. Returns (data, target, ip, socket) with target None when
        the destination stays, or None when the new destination cannot be reached."""
        msg = parse_message(data)
        ctx = MsgContext(msg, RouteType.LOCAL, self.core.process, None)
        ctx.avps = t.avps
        ctx.force_socket = sock
        ctx.module_state["tm"] = TMState(t, True, 0)
        self._run_route("local_route", None, ctx)
        if ctx.new_uri is not None:
            msg.lumps.new_uri = ctx.new_uri
        t.flags = set(ctx.flags)
        data = msg.serialize()
        t.request = parse_message(data)  # kept, as OpenSIPS clones it into uas.request: failure_route can run
        if ctx.dst_uri is None and ctx.new_uri is None and ctx.force_socket is sock:
            return data, None, None, None
        try:
            target = next_hop(ctx.dst_uri or ctx.new_uri or msg.ruri_text, ctx.force_socket)
        except (BadDestination, SIPParseError) as exc:
            self.core.logger.error(f"local_route: bad destination: {exc}", "tm")
            return None
        ip = self.core.resolver.resolve(target.host)
        new_sock = self.core.send_socket(target.proto, ip, ctx.force_socket) if ip is not None else None
        if new_sock is None:
            self.core.logger.error(f"local_route: cannot send to {target.host}", "tm")
            return None
        if new_sock is not sock:  # another interface: our Via names it
            via_branch = f"z9hG4bK{t.tid}.0"
            top = msg.header_fields("via")[0].index
            msg.lumps.replaced[top] = f"Via: {our_via(new_sock, target.proto, via_branch)}"
            data = msg.serialize()
        return data, target, ip, new_sock

    def _send_first(self, t: Transaction, now: float) -> None:
        branch = t.branches[0]
        if t.deleted:
            return
        self._send(branch.sent, branch.proto, branch.host, branch.port, branch.socket, branch.connection_id)
        self._start_retr(t, branch)


def next_hop(destination: str, forced: "ListenSocket | None") -> Target:
    """Where a branch goes (tm's uri2proxy()): the URI or proto:host:port, with the protocol of a forced send
    socket (force_send_socket(), or the Route set's double Record-Route) taking precedence over the URI's
    transport. parse_destination() keeps a cache of what it has read (next hops and contacts repeat)."""
    target = parse_destination(destination)
    if forced is not None and forced.proto != target.proto:
        return Target(forced.proto, target.host, target.port)
    return target


def _insert_path(msg: "Request", path: str) -> None:
    """A branch's Path vector goes out as Route header(s) before the existing ones (insert_path_as_route)."""
    found = msg.header_fields("route")
    if found:
        anchor = found[0].index
    else:
        vias = msg.header_fields("via")
        anchor = vias[-1].index + 1 if vias else 0
    msg.lumps.insert.setdefault(anchor, []).append(f"Route: {path}")


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


__all__ = ["TransactionLayer", "TMSettings", "TMState", "tm_state", "E_SCRIPT", "E_NO_DESTINATION", "E_UNSPEC",
           "E_BAD_ADDRESS", "E_NO_SOCKET", "E_BAD_URI", "E_SEND", "E_IP_BLOCKED", "E_BAD_REQ", "E_BAD_TO",
           "E_INVALID_PARAMS", "E_CFG", "E_BAD_TUPEL", "TimerEntry"]
