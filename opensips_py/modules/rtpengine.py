"""rtpengine: media anchoring through a Sipwise rtpengine daemon over the ng control protocol."""
from __future__ import annotations

from opensips_py.modules.exports import (
    ALL, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType, PseudoVar,
    VersionSpan,
)

# The common argument shapes: a flag string (space-separated tokens, key=value) and output variables.
_FLAGS = Arg("flags", optional=True)
_SOCK = Arg("sock_var", ArgKind.VAR, optional=True)
_SDP = Arg("sdp_var", ArgKind.VAR, optional=True)
_BODY = Arg("body", optional=True)
_OFFER_ARGS = (_FLAGS, _SOCK, _SDP, _BODY)


def _media_op(name: str, doc: str = "", **kwargs) -> Function:
    """A function taking ([flags], [sock_var]) — delete, recording, block/unblock, forwarding."""
    return Function(name, (_FLAGS, _SOCK), routes=ALL, doc=doc, **kwargs)


EXPORTS = ModuleExports(
    name="rtpengine",
    doc="rtpengine control: offer/answer/delete and media operations; SDP replaced in place unless an "
        "output variable is given. Flags go to the daemon as ng dictionary entries.",
    functions=(
        Function("rtpengine_offer", _OFFER_ARGS, routes=ALL, versions=VersionSpan(until="3.6")),
        Function(
            "rtpengine_offer", _OFFER_ARGS, routes=ALL, versions=VersionSpan(since="3.6"), is_async=True,
            doc="ng \"offer\". Also usable in async() since 3.6.",
        ),
        Function("rtpengine_answer", _OFFER_ARGS, routes=ALL, versions=VersionSpan(until="3.6")),
        Function(
            "rtpengine_answer", _OFFER_ARGS, routes=ALL, versions=VersionSpan(since="3.6"), is_async=True,
            doc="ng \"answer\"; on a request only ACK or PRACK.",
        ),
        Function(
            "rtpengine_manage", _OFFER_ARGS, routes=ALL,
            doc="offer/answer/delete chosen from the method, the direction and the SDP.",
        ),
        _media_op("rtpengine_delete", versions=VersionSpan(until="3.6")),
        _media_op("rtpengine_delete", "ng \"delete\".", versions=VersionSpan(since="3.6"), is_async=True),
        Function(
            "rtpengine_use_set", (Arg("setid", ArgKind.INT),), routes=ALL,
            doc="Selects the set for the following calls in this message context.",
        ),
        _media_op("rtpengine_start_recording"),
        _media_op("rtpengine_stop_recording"),
        _media_op("rtpengine_pause_recording", "C: since 3.6.", versions=VersionSpan(since="3.6")),
        Function(
            "rtpengine_play_media",
            (Arg("flags"), Arg("duration_var", ArgKind.VAR, optional=True), _SOCK), routes=ALL,
            doc="flags must carry file=, blob= or db-id=.",
        ),
        Function("rtpengine_stop_media", (_FLAGS, _SOCK), routes=ALL, versions=VersionSpan(until="3.6")),
        Function(
            "rtpengine_stop_media", (_FLAGS, _SOCK, Arg("last_frame_pos", ArgKind.VAR, optional=True)),
            routes=ALL, versions=VersionSpan(since="3.6"),
        ),
        _media_op("rtpengine_block_media"),
        _media_op("rtpengine_unblock_media"),
        _media_op("rtpengine_block_dtmf"),
        _media_op("rtpengine_unblock_dtmf"),
        _media_op("rtpengine_start_forwarding"),
        _media_op("rtpengine_stop_forwarding"),
        Function("rtpengine_play_dtmf", (Arg("code"), _FLAGS, _SOCK), routes=ALL, doc="code: 0-9 * # A-D."),
    ),
    params=(
        ModParam(
            "rtpengine_sock", ParamType.STR, None, repeatable=True,
            doc="\"[setid ==] url[=weight] url…\"; url udp:host:port, udp6:[v6]:port or unix:/path.",
        ),
        ModParam("rtpengine_disable_tout", ParamType.INT, 60, doc="Seconds a failed node stays disabled."),
        ModParam("rtpengine_retr", ParamType.INT, 5),
        ModParam(
            "rtpengine_tout", ParamType.INT, 1,
            doc="Seconds per try (Kamailio's rtpengine_tout_ms is in milliseconds; 500 here waits 500 s).",
        ),
        ModParam("rtpengine_timer_interval", ParamType.INT, 5, versions=VersionSpan(since="3.4")),
        ModParam("ping_enabled", ParamType.INT, 0, versions=VersionSpan(since="3.6")),
        ModParam("notification_sock", ParamType.STR, None),
        ModParam("extra_id_pv", ParamType.STR, None),
        ModParam("setid_avp", ParamType.STR, None),
        ModParam("error_pv", ParamType.STR, None, versions=VersionSpan(since="3.4")),
        ModParam(
            "extra_failover_error", ParamType.STR, None, repeatable=True, versions=VersionSpan(since="3.6"),
        ),
        ModParam("db_url", ParamType.STR, None),
        ModParam("db_table", ParamType.STR, "rtpengine"),
        ModParam("socket_column", ParamType.STR, "socket"),
        ModParam("set_column", ParamType.STR, "set_id"),
    ),
    pvars=(
        PseudoVar(
            "rtpstat", takes_arg=True,
            doc="Without a name: the totals line; with MOS/jitter/roundtrip/packetloss-*: an integer.",
        ),
        PseudoVar("rtpquery", doc="The ng query reply as JSON."),
    ),
    mi=(
        # 4.0 kept no 3.x alias for these three: only rtpengine:enable/show/reload (or the bare local name).
        MICommand("rtpengine_enable", ("url", "enable"), versions=VersionSpan(until="3.4")),
        MICommand(
            "rtpengine_enable", ("url", "enable", "setid"), versions=VersionSpan(since="3.4", until="4.0"),
            doc="4.0: rtpengine:enable.",
        ),
        MICommand(
            "enable", ("url", "enable", "setid"), versions=VersionSpan(since="4.0"), alias_4_0="rtpengine:enable",
            doc="enable: 0, 1, or 2 (probe).",
        ),
        MICommand("rtpengine_show", (), versions=VersionSpan(until="4.0"), doc="4.0: rtpengine:show."),
        MICommand("show", (), versions=VersionSpan(since="4.0"), alias_4_0="rtpengine:show"),
        MICommand("rtpengine_reload", (), versions=VersionSpan(until="3.4")),
        MICommand(
            "rtpengine_reload", ("type",), versions=VersionSpan(since="3.4", until="4.0"),
            doc="DB-provisioned sets only. 4.0: rtpengine:reload.",
        ),
        MICommand("reload", ("type",), versions=VersionSpan(since="4.0"), alias_4_0="rtpengine:reload"),
        MICommand("teardown", ("callid",), alias_4_0="rtpengine:teardown"),
    ),
    deps=(
        Dependency(("db_*",), when_param="db_url", doc="DEP_WARN in the C; the module cannot load sets without it."),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation

import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import weakref  # noqa: E402
from typing import Any, Callable  # noqa: E402

from opensips_py.media import bencode  # noqa: E402
from opensips_py.media.bencode import to_native  # noqa: E402
from opensips_py.modules._rtpengine import ng_command as ng  # noqa: E402
from opensips_py.modules._rtpengine.body import extract_sdp, replace_sdp, sdp_span  # noqa: E402
from opensips_py.modules._rtpengine.nodes import (  # noqa: E402
    Node, NodeSet, NodeSets, SockParamError, disable, select_node,
)
from opensips_py.modules._rtpengine.transport import Exchange, NgTransport  # noqa: E402
from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.modules.exports import RouteType  # noqa: E402
from opensips_py.sip import SIPParseError  # noqa: E402

# Error reasons after which a node is skipped for this call and the next node tried (3.6+ list).
FAILOVER_ERRORS = ("Parallel session limit reached", "Ran out of ports", "CPU usage limit exceeded",
                   "Load limit exceeded", "Bandwidth limit exceeded")
# version of the rtpengine table (RTPENGINE_TABLE_VERSION)
DB_TABLE_VERSION = 1
# MI's "disabled for ever" as OpenSIPS prints it: (unsigned int)-1 ticks
FOREVER_TICKS = 4294967295
# $rtpstat(NAME): the quantity's key in rtpengine's SSRC reports, and the report each kind reads
_STAT_KEYS = {"mos": "MOS", "jitter": "jitter", "roundtrip": "round-trip time", "packetloss": "packet loss"}
_STAT_KINDS = {"average": "average MOS", "min": "lowest MOS", "min-at": "lowest MOS", "max": "highest MOS",
               "max-at": "highest MOS"}
# script context state kept per message
_STATE = "rtpengine"
# methods rtpengine_manage acts on (the CSeq method)
_MANAGED = frozenset(("INVITE", "ACK", "CANCEL", "BYE", "UPDATE", "PRACK"))
# a query that failed, cached for the rest of the message as OpenSIPS does
_FAILED = object()




class _CallFailed(Exception):
    """A command could not be completed; the text is OpenSIPS's error (also written to error_pv)."""


class Module(ModuleBase):
    """rtpengine: the OpenSIPS module, driving a real rtpengine or our relay over the ng protocol.

    One instance serves the whole process. Node state (disabled, recheck time) lives here; each script
    call builds its command (ng_command.py), picks a node (nodes.py) and does one blocking exchange
    (`self.transport`, swappable in tests)."""

    exports = EXPORTS

    def init(self) -> None:
        self.timeout = self.int_param("rtpengine_tout")
        self.retries = self.int_param("rtpengine_retr")
        self.disable_timeout = self.int_param("rtpengine_disable_tout")
        self.timer_interval = max(1, self.int_param("rtpengine_timer_interval"))
        self.ping_enabled = bool(self.int_param("ping_enabled"))
        self._db = None
        self.sets = NodeSets()
        if self.param("db_url"):  # the sets come from the database; rtpengine_sock is then not read
            self._open_db()
            try:
                self._read_db(self.sets)
            except (SockParamError, ValueError, TypeError) as exc:
                raise ModuleInitError(f"rtpengine: bad row in table {self.param('db_table')}: {exc}") from None
        else:
            for value in self.param_values("rtpengine_sock"):
                try:
                    self.sets.add_param(str(value))
                except SockParamError as exc:
                    raise ModuleInitError(f"rtpengine: rtpengine_sock {value!r}: {exc}") from None
        if self.sets.default is None and any(True for _ in self.sets):
            self._log("warning", "there is no rtpengine in the default set 0: calls that select no set "
                                 "will fail")
        self._extra_id = self._format_param("extra_id_pv")
        self._setid_avp = self._avp_name(self.param("setid_avp"))
        self._error_pv = self._pvar_param("error_pv")
        self._failover_res = []
        for text in self.param_values("extra_failover_error"):
            try:
                from opensips_py.script.regex import posix_regex
                self._failover_res.append(posix_regex(str(text), icase=True, newline=True))
            except re.error as exc:
                raise ModuleInitError(f"rtpengine: could not compile regex [{text}]: {exc}") from None
        if self.param("notification_sock"):
            self._log("notice", "notification_sock accepted: rtpengine notifications are not received yet "
                                "(no E_RTPENGINE_NOTIFICATION events)")
        self.transport: Exchange = NgTransport(timeout=self.timeout, retries=self.retries)
        self.counters = dict.fromkeys(("offers", "answers", "deletes", "other_commands", "errors",
                                       "node_timeouts"), 0)
        self.relays: list = []  # embedded relays started by `opensips-py -f` (see _rtpengine/embedded.py)
        self._late_offers: weakref.WeakSet = weakref.WeakSet()
        self._t0: float | None = None
        self._probed = False
        if self.sets.all_nodes() and callable(getattr(self.core, "add_timer", None)):
            self.core.add_timer(0.0, self._on_timer)  # the first tick probes every node (child_init)

    def destroy(self) -> None:
        self.transport.close()
        for relay in self.relays:
            relay.stop()
        self.relays.clear()

    # ---------------------------------------------------------------------------------- database
    def _open_db(self) -> None:
        from opensips_py.db import BadDatabaseURL, DatabaseError, open_database
        try:
            self._db = open_database(self.core, str(self.param("db_url")), "rtpengine")
            self._db.check_version(str(self.param("db_table")), DB_TABLE_VERSION)
        except (BadDatabaseURL, DatabaseError) as exc:
            raise ModuleInitError(f"rtpengine: {exc}") from None

    def _read_db(self, sets: NodeSets) -> None:
        """Every row (socket, set_id) of the table into `sets` (_add_rtpengine_from_database)."""
        socket_column, set_column = str(self.param("socket_column")), str(self.param("set_column"))
        for row in self._db.query(str(self.param("db_table")), [socket_column, set_column]):
            sets.add_param(str(row[socket_column]), int(row[set_column]))

    def reload(self, soft: bool = False) -> None:
        """MI rtpengine_reload: re-read the table. Hard: new nodes, all enabled, sockets reopened. Soft:
        nodes still listed keep their state and index; the others go. Every node is probed afterwards."""
        if soft:
            self.sets.mark_teardown()
            self._read_db(self.sets)
            self.sets.sweep_teardown()
        else:
            fresh = NodeSets()
            self._read_db(fresh)
            self.transport.close()
            self.sets = fresh
        for node in self.sets.all_nodes():
            if node.recheck_at != math.inf:
                node.disabled = self._test(node, force=True)

    # ---------------------------------------------------------------------------------- parameters
    def _log(self, level: str, text: str) -> None:
        logger = getattr(self.core, "logger", None)
        if logger is not None:
            getattr(logger, level)(text, module="rtpengine")

    def _format_param(self, name: str) -> Callable | None:
        text = self.param(name)
        if not text:
            return None
        from opensips_py.script.transforms import runtime_format
        try:
            return runtime_format(str(text))
        except ValueError as exc:
            raise ModuleInitError(f"rtpengine: malformed PV string {name} {text!r}: {exc}") from None

    @staticmethod
    def _avp_name(text) -> str | None:
        if not text:
            return None
        match = re.fullmatch(r"\$avp\(([^)]+)\)", str(text).strip())
        if match is None:
            raise ModuleInitError(f"rtpengine: malformed or non AVP definition <{text}>")
        return match.group(1)

    def _pvar_param(self, name: str):
        text = self.param(name)
        if not text:
            return None
        from opensips_py.config.pvar import PVarSyntaxError, parse_pvar_token
        from opensips_py.script.pvars import CORE_HANDLERS, compile_pvar
        try:
            ref = compile_pvar(parse_pvar_token(str(text)), CORE_HANDLERS.get, lambda node: (lambda c, v: v))
        except (PVarSyntaxError, LookupError) as exc:
            raise ModuleInitError(f"rtpengine: malformed return variable definition <{text}>: {exc}") from None
        if not ref.writable:
            raise ModuleInitError(f"rtpengine: {name} {text} is not writable")
        return ref

    # ---------------------------------------------------------------------------------- time
    def _now(self) -> float:
        return float(getattr(self.core, "now", 0.0) or 0.0)

    def _ticks(self, when: float) -> int:
        """OpenSIPS's ticks (seconds since start) for MI output."""
        if when == math.inf:
            return FOREVER_TICKS
        if when <= 0:
            return 0
        if self._t0 is None:
            self._t0 = self._now() or when
        return max(0, int(when - self._t0))

    # ---------------------------------------------------------------------------------- per message
    @staticmethod
    def _state(ctx) -> dict:
        return ctx.module_state.setdefault(_STATE, {})

    def _select_set(self, ctx) -> NodeSet | None:
        """setid_avp when set and present (it must hold an integer), else rtpengine_use_set(), else set 0.
        Raises _CallFailed for a bad AVP."""
        state = self._state(ctx)
        if self._setid_avp is not None:
            values = ctx.avps.get(self._setid_avp)
            if values:
                value = values[0]
                if not isinstance(value, int):
                    raise _CallFailed("setid_avp must hold an integer value")
                node_set = self.sets.get(value)
                if node_set is None:
                    raise _CallFailed(f"could not locate rtpengine set {value}")
                state["set"] = node_set
        return state.get("set") or self.sets.default

    @staticmethod
    def _ids(ctx) -> ng.MessageIds:
        msg = ctx.msg
        if msg is None:
            raise _CallFailed("no SIP message")
        try:
            call_id = msg.call_id
            from_ = msg.from_
            to = msg.to
            vias = msg.via
        except SIPParseError as exc:
            raise _CallFailed(f"bad message: {exc}") from None
        if to is None:
            raise _CallFailed("To header field missing")
        branches = (vias[0].branch if vias else None, vias[1].branch if len(vias) > 1 else None)
        source = ctx.received.src_host if ctx.received is not None else None
        return ng.MessageIds(call_id, from_.tag if from_ is not None else None, to.tag, msg.is_request,
                             source, branches)

    # ---------------------------------------------------------------------------------- the ng call
    def _is_failover_error(self, reason: str) -> bool:
        if any(reason.lower() == known.lower() for known in FAILOVER_ERRORS):
            return True
        return any(pattern.search(reason) for pattern in self._failover_res)

    def _test(self, node: Node, force: bool) -> bool:
        """rtpe_test(): True when the node is (still) out. Without `force`, an enabled node is not pinged
        and a disabled one only once its recheck time has come."""
        if node.recheck_at == math.inf:
            return True
        if not force:
            if not node.disabled:
                return False
            if node.recheck_at > self._now():
                return True
        reply = self._exchange(node, {"command": "ping"})
        if reply is None or reply.get("result") != "pong":
            if reply is not None:
                self._log("error", f"rtpengine {node.url} responded with an invalid response to ping")
            return True
        if node.disabled:
            self._log("info", f"rtpengine {node.url} answers again: enabled")
        return False

    def _exchange(self, node: Node, document: dict) -> dict | None:
        """One round trip; None when the node did not answer (it is then disabled) or the reply was not a
        bencoded dictionary (`{"__undecodable__": …}` is returned for that, see _call)."""
        raw = self.transport.exchange(node, bencode.encode(document))
        now = self._now()
        if raw is None:
            self.counters["node_timeouts"] += 1
            self._log("error", f"proxy <{node.url}> does not respond, disable it")
            disable(node, now, self.disable_timeout)
            return None
        node.last_used = now
        try:
            reply = bencode.decode(raw)
        except bencode.BencodeError:
            return {"__undecodable__": raw[:200].decode("utf-8", "replace")}
        if not isinstance(reply, dict):
            return {"__undecodable__": raw[:200].decode("utf-8", "replace")}
        return to_native(reply)

    def _call(self, ctx, op: str, flags: str | None, sock_var=None, *, sdp: str | None = None,
              extra: dict | None = None) -> dict | None:
        """rtpe_function_call(): build, pick a node, exchange, fail over. The reply (which may be an error
        reply, as in OpenSIPS), or None after logging the error and writing it to error_pv."""
        error = ""
        try:
            node_set = self._select_set(ctx)
            extra_id = (lambda: self._extra_id(ctx)) if self._extra_id is not None else None
            command = ng.build_command(op, flags, self._ids(ctx), sdp=sdp, extra=extra, extra_id=extra_id)
            return self._send(ctx, op, command, node_set, sock_var)
        except (_CallFailed, ng.NgCommandError) as exc:
            error = str(exc)
        self.counters["errors"] += 1
        self._log("error", f"{error}")
        if error and self._error_pv is not None:
            self._error_pv.set(ctx, error, "=")
        return None

    def _send(self, ctx, op: str, command: ng.NgCommand, node_set: NodeSet | None, sock_var) -> dict:
        key = {ng.OFFER: "offers", ng.ANSWER: "answers", ng.DELETE: "deletes"}.get(command.op, "other_commands")
        self.counters[key] += 1
        forced_url = sock_var.get(ctx) if sock_var is not None else None
        forced_url = forced_url if isinstance(forced_url, str) and forced_url else None
        forced = forced_url is not None
        ignored: set[int] = set()
        failed: Node | None = None
        reason = ""
        total_nodes = len(node_set.nodes) if node_set is not None else 0
        for _ in range(2 * total_nodes + 2):  # each node fails at most twice before it is ignored
            if forced_url is not None:
                node = node_set.find(forced_url) if node_set is not None else None
                forced_url = None
                if node is not None and (id(node) in ignored or self._probe_forced(node)):
                    node = None
                if node is None and op == ng.OFFER:
                    node = select_node(command.call_id, node_set, ignored)
            elif forced and op != ng.OFFER:
                node = None
            else:
                node = select_node(command.call_id, node_set, ignored)
            if node is None:
                raise _CallFailed(reason or "no available proxies")
            reply = self._exchange(node, command.document)
            if reply is not None and "__undecodable__" in reply:
                self._log("error", f"failed to decode bencoded reply from proxy: {reply['__undecodable__']}")
                reason = "failed to decode bencoded reply"
                reply = None
            if reply is not None and reply.get("result") == "error":
                reason = str(reply.get("error-reason", ""))
                self._log("error", f"proxy replied with error: {reason}")
                if self._is_failover_error(reason):
                    ignored.add(id(node))
                    self._log("info", f"temporary ignoring {node.url} node for this attempt")
                    continue
                self.counters["errors"] += 1
                self._store_node(ctx, sock_var, node)
                return reply
            if reply is not None:
                self._store_node(ctx, sock_var, node)
                return reply
            if node is failed:  # second failure of the same node in this call: skip it from now on
                ignored.add(id(node))
                failed = None
            else:
                failed = node
        raise _CallFailed(reason or "no available proxies")

    def _probe_forced(self, node: Node) -> bool:
        node.disabled = self._test(node, force=False)
        return node.disabled

    @staticmethod
    def _store_node(ctx, sock_var, node: Node) -> None:
        if sock_var is not None:
            sock_var.set(ctx, node.url, "=")

    def _call_ok(self, ctx, op: str, flags: str | None, sock_var=None, **kwargs) -> dict | None:
        reply = self._call(ctx, op, flags, sock_var, **kwargs)
        if reply is None:
            return None
        if reply.get("result") != "ok":
            self._log("error", "proxy didn't return \"ok\" result")
            return None
        return reply

    # ---------------------------------------------------------------------------------- offer / answer
    def _offer_answer(self, ctx, op: str, flags, sock_var, sdp_var, body) -> int:
        msg = ctx.msg
        if msg is None:
            return -1
        sdp = body if body is not None else extract_sdp(msg)
        if sdp is None:
            self._log("error", "can't extract body from the message")
            return -1
        reply = self._call_ok(ctx, op, flags, sock_var, sdp=sdp)
        if reply is None:
            return -1
        new_sdp = reply.get("sdp")
        if not isinstance(new_sdp, str):
            self._log("error", "failed to extract sdp body from proxy reply")
            return -1
        if sdp_var is not None:
            sdp_var.set(ctx, new_sdp, "=")
            return 1
        if not replace_sdp(msg, new_sdp):
            self._log("error", "cannot change old body!")
            return -1
        return 1

    def rtpengine_offer(self, ctx, flags=None, sock_var=None, sdp_var=None, body=None) -> int:
        return self._offer_answer(ctx, ng.OFFER, flags, sock_var, sdp_var, body)

    def rtpengine_answer(self, ctx, flags=None, sock_var=None, sdp_var=None, body=None) -> int:
        msg = ctx.msg
        if msg is not None and msg.is_request and msg.method not in ("ACK", "PRACK"):
            return -1
        return self._offer_answer(ctx, ng.ANSWER, flags, sock_var, sdp_var, body)

    def rtpengine_manage(self, ctx, flags=None, sock_var=None, sdp_var=None, body=None) -> int:
        """Offer, answer or delete, chosen from the CSeq method, the direction and the SDP
        (rtpengine_manage in rtpengine.c)."""
        msg = ctx.msg
        if msg is None:
            return -1
        try:
            cseq = msg.cseq
        except SIPParseError:
            cseq = None
        if cseq is None:
            self._log("error", "no CSEQ header")
            return -1
        method = cseq.method.upper()
        if method not in _MANAGED:
            return -1
        if method in ("CANCEL", "BYE"):
            return self.rtpengine_delete(ctx, flags, sock_var)
        # C: a non-empty `body` argument counts as "no SDP" (nosdp = body->len != 0), which makes manage
        # fail whenever a body is given; we take the body as the SDP it is meant to be.
        has_sdp = bool(body) if body is not None else sdp_span(msg) is not None
        if msg.is_request:
            if has_sdp:
                if method in ("ACK", "PRACK"):
                    op = ng.ANSWER
                elif method == "INVITE" and ctx.route_type & RouteType.FAILURE:
                    return self.rtpengine_delete(ctx, flags, sock_var)
                elif method in ("INVITE", "UPDATE"):
                    op = ng.OFFER
                else:
                    return -1
                return self._offer_answer(ctx, op, flags, sock_var, sdp_var, body)
            if method == "INVITE":
                self._mark_late_offer(ctx)
            return -1
        if msg.status >= 300:
            return self.rtpengine_delete(ctx, flags, sock_var)
        if not has_sdp:
            return -1
        if method == "UPDATE":
            return self._offer_answer(ctx, ng.ANSWER, flags, sock_var, sdp_var, body)
        op = ng.OFFER if self._invite_had_no_sdp(ctx) else ng.ANSWER
        return self._offer_answer(ctx, op, flags, sock_var, sdp_var, body)

    def _tm_transaction(self, ctx):
        """tm's transaction of this script run, without a lookup (OpenSIPS's t_gett(): get_t())."""
        tm = getattr(self.core, "modules", {}).get("tm")
        if not callable(getattr(tm, "has_transaction", None)):
            return None
        try:
            return tm.transaction(ctx) if tm.has_transaction(ctx) else None
        except Exception:  # noqa: BLE001 - tm trouble must not break media handling
            return None

    def _mark_late_offer(self, ctx) -> None:
        """OpenSIPS sets FL_BODY_NO_SDP on the INVITE; tm's copy of the request carries it to the replies.
        Here the request object is remembered, and so is the transaction when it already exists."""
        self._late_offers.add(ctx.msg)
        transaction = self._tm_transaction(ctx)
        if transaction is not None:
            transaction.data["rtpengine_late_offer"] = True

    def _invite_had_no_sdp(self, ctx) -> bool:
        """Late-offer detection needs tm (as in OpenSIPS): the reply's transaction's INVITE was marked."""
        transaction = self._tm_transaction(ctx)
        if transaction is None:
            return False
        if transaction.data.get("rtpengine_late_offer"):
            return True
        request = getattr(transaction, "request", None)
        return request is not None and request in self._late_offers

    # ---------------------------------------------------------------------------------- delete and others
    def _simple(self, ctx, op: str, flags, sock_var, extra: dict | None = None) -> int:
        reply = self._call(ctx, op, flags, sock_var, extra=extra)
        if reply is None:
            return -1
        if op == ng.DELETE:
            self._state(ctx)["stats"] = reply  # $rtpstat after a delete reads its statistics
        return 1

    def rtpengine_delete(self, ctx, flags=None, sock_var=None) -> int:
        return self._simple(ctx, ng.DELETE, flags, sock_var)

    def rtpengine_use_set(self, ctx, setid: int) -> int:
        node_set = self.sets.get(setid) if isinstance(setid, int) else None
        if node_set is None:
            self._log("error", f"could not locate rtpengine set {setid}")
            return -1
        self._state(ctx)["set"] = node_set
        return 1

    def rtpengine_start_recording(self, ctx, flags=None, sock_var=None) -> int:
        return self._simple(ctx, ng.START_RECORDING, flags, sock_var)

    def rtpengine_stop_recording(self, ctx, flags=None, sock_var=None) -> int:
        return self._simple(ctx, ng.STOP_RECORDING, flags, sock_var)

    def rtpengine_pause_recording(self, ctx, flags=None, sock_var=None) -> int:
        return self._simple(ctx, ng.PAUSE_RECORDING, flags, sock_var)

    def rtpengine_block_media(self, ctx, flags=None, sock_var=None) -> int:
        return self._simple(ctx, ng.BLOCK_MEDIA, flags, sock_var)

    def rtpengine_unblock_media(self, ctx, flags=None, sock_var=None) -> int:
        return self._simple(ctx, ng.UNBLOCK_MEDIA, flags, sock_var)

    def rtpengine_block_dtmf(self, ctx, flags=None, sock_var=None) -> int:
        return self._simple(ctx, ng.BLOCK_DTMF, flags, sock_var)

    def rtpengine_unblock_dtmf(self, ctx, flags=None, sock_var=None) -> int:
        return self._simple(ctx, ng.UNBLOCK_DTMF, flags, sock_var)

    def rtpengine_start_forwarding(self, ctx, flags=None, sock_var=None) -> int:
        return self._simple(ctx, ng.START_FORWARD, flags, sock_var)

    def rtpengine_stop_forwarding(self, ctx, flags=None, sock_var=None) -> int:
        return self._simple(ctx, ng.STOP_FORWARD, flags, sock_var)

    def rtpengine_play_media(self, ctx, flags, duration_var=None, sock_var=None) -> int:
        reply = self._call_ok(ctx, ng.START_MEDIA, flags, sock_var)
        if reply is None:
            self._log("error", "could not start media!")
            return -1
        if duration_var is not None:
            duration = reply.get("duration")
            duration_var.set(ctx, duration if isinstance(duration, int) else -1, "=")
        return 1

    def rtpengine_stop_media(self, ctx, flags=None, sock_var=None, last_frame_pos=None) -> int:
        reply = self._call_ok(ctx, ng.STOP_MEDIA, flags, sock_var)
        if reply is None:
            self._log("error", "could not stop media!")
            return -1
        if last_frame_pos is not None:
            position = reply.get("last-frame-pos")
            last_frame_pos.set(ctx, position if isinstance(position, int) else -1, "=")
        return 1

    def rtpengine_play_dtmf(self, ctx, code, flags=None, sock_var=None) -> int:
        reply = self._call_ok(ctx, ng.PLAY_DTMF, flags, sock_var, extra={"code": code or ""})
        return 1 if reply is not None else -2

    # ---------------------------------------------------------------------------------- $rtpstat, $rtpquery
    def _fetch_stats(self, ctx) -> dict | None:
        """The query reply for this message (cached; a delete's reply stands in for it, as in OpenSIPS)."""
        state = self._state(ctx)
        cached = state.get("stats")
        if cached is _FAILED:
            return None
        if cached is not None:
            return cached
        reply = self._call_ok(ctx, ng.QUERY, None)
        state["stats"] = reply if reply is not None else _FAILED
        return reply

    def pvars(self) -> dict:
        from opensips_py.script.pvars import Handler

        def rtpstat(ctx, arg, index):
            reply = self._fetch_stats(ctx)
            if reply is None:
                return None
            if not arg:
                return totals_line(reply)
            tag = index if isinstance(index, str) else None
            return stat_value(reply, arg, tag)

        def rtpquery(ctx, arg, index):
            reply = self._fetch_stats(ctx)
            if reply is None:
                return None
            return json.dumps(reply, separators=(",", ":"), ensure_ascii=False)

        return {"rtpstat": Handler("rtpstat", rtpstat), "rtpquery": Handler("rtpquery", rtpquery)}

    # ---------------------------------------------------------------------------------- timer
    def _on_timer(self, now: float) -> None:
        """rtpengine_timer: re-probe disabled nodes whose time has come (and, with ping_enabled, idle ones);
        the first run probes every node, as OpenSIPS's child_init does."""
        if self._t0 is None:
            self._t0 = now
        if not self._probed:
            self._probed = True
            for node in self.sets.all_nodes():
                if node.recheck_at != math.inf:
                    node.disabled = self._test(node, force=True)
        else:
            for node in self.sets.all_nodes():
                if (node.disabled and node.recheck_at <= now) or \
                        (self.ping_enabled and not node.disabled and node.last_used + self.timer_interval <= now):
                    node.disabled = self._test(node, force=True)
        self.core.add_timer(now + self.timer_interval, self._on_timer)

    # ---------------------------------------------------------------------------------- MI, statistics
    def stats(self) -> dict[str, int]:
        return dict(self.counters)

    def show(self) -> list[dict]:
        """rtpengine_show: sets and their nodes."""
        return [{"Set": node_set.set_id, "Nodes": [
            {"url": node.url, "index": node.index, "disabled": int(node.disabled), "weight": node.weight,
             "recheck_ticks": self._ticks(node.recheck_at)} for node in node_set.nodes]}
            for node_set in self.sets]

    def enable(self, url: str, enable: int, set_id: int | None = None) -> bool:
        """rtpengine_enable: 0 disables for ever, 1 enables, 2 disables until the next probe. False when no
        node has that URL."""
        found = False
        for node_set in self.sets:
            if set_id is not None and set_id != -1 and set_id != node_set.set_id:
                continue
            for node in node_set.nodes:
                if node.url != url:
                    continue
                found = True
                if enable == 0:
                    node.disabled, node.recheck_at = True, math.inf
                elif enable == 2:
                    node.disabled, node.recheck_at = True, self._now() + self.disable_timeout
                else:
                    node.disabled, node.recheck_at = False, 0.0
        return found

    def mi_commands(self) -> dict[str, Callable]:
        from opensips_py.mi import MIError, recipes
        from opensips_py.mi.params import get_int, get_str

        @recipes(("url", "enable"), ("url", "enable", "setid"))
        def rtpengine_enable(params: dict) -> str:
            url = get_str(params, "url")
            if not url:
                raise MIError(400, "Empty url")
            enable = get_int(params, "enable")
            set_id = get_int(params, "setid") if "setid" in params else None
            if not self.enable(url, enable, set_id):
                raise MIError(404, "RTP engine not found")
            return "OK"

        @recipes(())
        def rtpengine_show(params: dict) -> list:
            return self.show()

        @recipes((), ("type",))
        def rtpengine_reload(params: dict) -> str:
            if self._db is None:
                raise MIError(400, "Dynamic loading not enabled")
            soft = "type" in params and get_str(params, "type") == "soft"
            try:
                self.reload(soft)
            except Exception as exc:  # noqa: BLE001 - a database problem is the command's error, not ours
                self._log("error", f"reload failed: {exc!r}")
                raise MIError(500, "Internal error") from None
            return "OK"

        @recipes(("callid",))
        def teardown(params: dict) -> str:
            """Ends the call's dialog as dlg_end_dlg does (dialog's terminate_dlg by Call-ID)."""
            dialog_module = getattr(self.core, "modules", {}).get("dialog")
            table = getattr(dialog_module, "table", None)
            if table is None or not callable(getattr(dialog_module, "end_dialog_soon", None)):
                raise MIError(500, "Dialog module not loaded")
            callid = get_str(params, "callid")
            if not callid:
                raise MIError(400, "Empty callid")
            from opensips_py.modules.dialog.model import CONFIRMED_NA, DELETED
            found = [d for d in table.by_callid(callid) if d.state != DELETED]
            dialog = found[0] if found else None
            if dialog is None or (dialog.state < CONFIRMED_NA and getattr(dialog, "transaction", None) is None):
                raise MIError(500, "Failed to terminate dialog")
            dialog.end_reason = "MI Termination"
            dialog_module.end_dialog_soon(dialog)
            return "OK"

        rtpengine_enable.mi_alias_4_0 = "rtpengine:enable"
        rtpengine_show.mi_alias_4_0 = "rtpengine:show"
        rtpengine_reload.mi_alias_4_0 = "rtpengine:reload"
        return {"rtpengine_enable": rtpengine_enable, "rtpengine_show": rtpengine_show,
                "rtpengine_reload": rtpengine_reload, "teardown": teardown}


# ------------------------------------------------------------------------------------------------ $rtpstat values

def totals_line(reply: dict) -> str | None:
    """$rtpstat without a name: the RTP and RTCP totals of the query reply."""
    totals = reply.get("totals")
    rtp = totals.get("RTP") if isinstance(totals, dict) else None
    rtcp = totals.get("RTCP") if isinstance(totals, dict) else None
    if not isinstance(rtp, dict) or not isinstance(rtcp, dict):
        return None

    def number(part: dict, key: str) -> int:
        value = part.get(key)
        return value if isinstance(value, int) else -1

    return (f"RTP: {number(rtp, 'bytes')} bytes, {number(rtp, 'packets')} packets, {number(rtp, 'errors')} "
            f"errors; RTCP: {number(rtcp, 'bytes')} bytes, {number(rtcp, 'packets')} packets, "
            f"{number(rtcp, 'errors')} errors")


def _ssrcs_of_tag(reply: dict, tag: str) -> set[str] | None:
    tags = reply.get("tags")
    monologue = tags.get(tag) if isinstance(tags, dict) else None
    if not isinstance(monologue, dict):
        return None
    found: set[str] = set()
    for media in monologue.get("medias") or ():
        for stream in (media.get("streams") or ()) if isinstance(media, dict) else ():
            ssrc = stream.get("SSRC") if isinstance(stream, dict) else None
            if isinstance(ssrc, int):
                found.add(str(ssrc))
    return found


def stat_value(reply: dict, name: str, tag: str | None = None) -> int | None:
    """$rtpstat(NAME)[tag]: MOS/jitter/roundtrip/packetloss × average/min/max/min-at/max-at from the SSRC
    reports of the query reply (MOS as rtpengine gives it, ×10); None when not computable."""
    quantity, _, kind = name.lower().partition("-")
    key = _STAT_KEYS.get(quantity)
    report_key = _STAT_KINDS.get(kind)
    if key is None or report_key is None:
        return None
    created = reply.get("created")
    if kind.endswith("-at") and not isinstance(created, int):
        return None
    wanted = None
    if tag is not None:
        wanted = _ssrcs_of_tag(reply, tag)
        if wanted is None:
            return None
    ssrc_reports = reply.get("SSRC")
    if not isinstance(ssrc_reports, dict):
        return None
    values: list[tuple[int, int | None]] = []
    for ssrc, report in ssrc_reports.items():
        if wanted is not None and str(ssrc) not in wanted:
            continue
        if not isinstance(report, dict):
            continue
        section = report.get(report_key)
        value = section.get(key) if isinstance(section, dict) else None
        if not isinstance(value, int):
            continue
        at = section.get("reported at")
        values.append((value, at if isinstance(at, int) else None))
    if not values:
        return None
    if kind == "average":
        return sum(v for v, _ in values) // len(values)
    if kind in ("max", "max-at"):
        best = None
        for value, at in values:  # the first highest wins, as the C's strict comparison
            if best is None or value > best[0]:
                best = (value, at)
    else:
        best = None
        for value, at in values:
            if best is None or value < best[0]:
                best = (value, at)
    if not kind.endswith("-at"):
        return best[0]
    if best[1] is None:
        return None
    return best[1] - created
