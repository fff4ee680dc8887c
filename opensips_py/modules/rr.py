"""rr: Record-Route insertion and loose routing of in-dialog requests (RFC 3261 §16.6, §16.12)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, R, Arg, ArgKind, Function, ModParam, ModuleExports, ParamType, PseudoVar,
)

EXPORTS = ModuleExports(
    name="rr",
    doc="Record-Route and loose routing; dialog matching runs from loose_route()'s callbacks. "
        "(modparam ignore_user exists only in builds with ENABLE_USER_CHECK, off in stock builds.)",
    functions=(
        Function(
            "loose_route", (), routes=R,
            doc="1 when routed by Route headers (in-dialog); -1 when there is nothing to follow (also for "
                "a preloaded initial request whose only Route is us).",
        ),
        Function(
            "record_route", (Arg("params", optional=True),), routes=R | F | B,
            doc="params: \";name=value…\" added to our Record-Route URI. Two RRs (r2=on) when the in and "
                "out sockets differ.",
        ),
        Function("record_route_preset", (Arg("preset"), Arg("preset2", optional=True)), routes=R | F | B),
        Function("add_rr_param", (Arg("param"),), routes=R | F | B),
        Function("check_route_param", (Arg("re", ArgKind.REGEX),), routes=R),
        Function(
            "is_direction", (Arg("dir", choices=("upstream", "downstream")),), routes=R,
            doc="Needs append_fromtag=1 (start-up error otherwise).",
        ),
    ),
    params=(
        ModParam("append_fromtag", ParamType.INT, 1),
        ModParam("enable_double_rr", ParamType.INT, 1),
        ModParam("add_username", ParamType.INT, 0),
        ModParam("enable_socket_mismatch_warning", ParamType.INT, 1),
    ),
    pvars=(
        PseudoVar("rr_params", doc="Parameters of our Route header, after loose_route()."),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation
# Behaviour read in modules/rr/record.c, loose.c, rr_mod.c and rr_cb.c of OpenSIPS 3.6 (unchanged in 4.0), and
# msg_translator.c for how the Record-Route address is completed when the request is sent.

from dataclasses import dataclass, field  # noqa: E402
from typing import Callable  # noqa: E402

from opensips_py.config import ast  # noqa: E402
from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.runtime.send_lumps import Outgoing, SendTimeLine  # noqa: E402
from opensips_py.script.pvars import Handler  # noqa: E402
from opensips_py.sip import URI, SIPParseError  # noqa: E402
from opensips_py.sip.headers import NameAddr, parse_name_addr_list  # noqa: E402

RR_DRIVEN, NOT_RR_DRIVEN, RR_ERROR = 1, -1, -1
# how loose_route() found the next hop (loose.c ROUTING_*): previous hop loose/strict, next hop loose/strict
ROUTING_LL, ROUTING_LS, ROUTING_SL, ROUTING_SS = 1, 2, 3, 4
_DEFAULT_PORTS = {"tls": 5061, "wss": 443, "ws": 80}

RRCallback = Callable[["object", str], None]  # (ctx, params of our Route without the leading ';')


def _host_text(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _address(host: str, port: int, proto: str, port_is_advertised: bool) -> str:
    """SUBST_*_ALL of msg_translator.c: host, `:port` unless it is the socket's own 5060, and
    `;transport=` for anything but UDP."""
    text = _host_text(host)
    if port != 5060 or port_is_advertised:
        text += f":{port}"
    if proto != "udp":
        text += f";transport={proto}"
    return text


def _sending_address(out: Outgoing) -> str:
    sock = out.socket
    port = out.advertised_port or sock.advertised_port or sock.port
    return _address(out.advertised_host or sock.via_host, port, sock.proto,
                    bool(out.advertised_port or sock.advertised_port))


def _receiving_address(sock) -> str:
    return _address(sock.via_host, sock.advertised_port or sock.port, sock.proto, bool(sock.advertised_port))


def _same_realm(rcv, snd) -> bool:
    """COND_IF_DIFF_REALMS is false: same address, port and protocol (the sockets, not what they advertise)."""
    return rcv is not None and (rcv.host, rcv.port, rcv.proto) == (snd.host, snd.port, snd.proto)


class _RRLine(SendTimeLine):
    """Record-Route text we insert; `late` holds add_rr_param() values given after it (each new one goes
    first, right after the fixed part, as record.c inserts them) and `buffered` those given before it."""

    late: tuple[str, ...]

    def with_param(self, param: str) -> "_RRLine":  # pragma: no cover - abstract
        raise NotImplementedError


class RecordRoute(_RRLine):
    """record_route(): `Record-Route: <sip:[user@]ADDRESS[;r2=on];lr[;ftag=T][params]>`, ADDRESS being the
    outgoing interface; with enable_double_rr and an outgoing interface other than the incoming one, a second
    header with the incoming interface follows and both carry `;r2=on` (record.c build_rr)."""

    def __new__(cls, rcv_socket, user: str, ftag: str | None, params: str, double: bool,
                late: tuple[str, ...] = (), buffered: tuple[str, ...] = ()) -> "RecordRoute":
        self = super().__new__(cls, cls._text(user, _receiving_address(rcv_socket) if rcv_socket else "",
                                              False, ftag, params, late, buffered))
        self.rcv_socket = rcv_socket
        self.user, self.ftag, self.params, self.double = user, ftag, params, double
        self.late, self.buffered = late, buffered
        return self

    @staticmethod
    def _text(user: str, address: str, r2: bool, ftag: str | None, params: str, late: tuple[str, ...],
              buffered: tuple[str, ...]) -> str:
        head = f"Record-Route: <sip:{user + '@' if user else ''}{address}{';r2=on' if r2 else ''};lr"
        return f"{head}{';ftag=' + ftag if ftag else ''}{params}{''.join(late)}{''.join(buffered)}>"

    def with_param(self, param: str) -> "RecordRoute":
        return RecordRoute(self.rcv_socket, self.user, self.ftag, self.params, self.double,
                           (param, *self.late), self.buffered)

    def finish(self, out: Outgoing) -> list[str]:
        r2 = self.double and self.rcv_socket is not None and not _same_realm(self.rcv_socket, out.socket)
        lines = [self._text(self.user, _sending_address(out), r2, self.ftag, self.params, self.late,
                            self.buffered)]
        if r2:
            lines.append(self._text(self.user, _receiving_address(self.rcv_socket), True, self.ftag, self.params,
                                    self.late, self.buffered))
        return lines


class PresetRecordRoute(_RRLine):
    """record_route_preset(): `Record-Route: <sip:[user@]PRESET[;ftag=T];lr[params]>`, the same whatever
    the socket (record.c record_route_preset: the From tag comes before ;lr here)."""

    def __new__(cls, user: str, preset: str, ftag: str | None, late: tuple[str, ...] = (),
                buffered: tuple[str, ...] = ()) -> "PresetRecordRoute":
        text = (f"Record-Route: <sip:{user + '@' if user else ''}{preset}{';ftag=' + ftag if ftag else ''};lr"
                f"{''.join(late)}{''.join(buffered)}>")
        self = super().__new__(cls, text)
        self.user, self.preset, self.ftag, self.late, self.buffered = user, preset, ftag, late, buffered
        return self

    def with_param(self, param: str) -> "PresetRecordRoute":
        return PresetRecordRoute(self.user, self.preset, self.ftag, (param, *self.late), self.buffered)

    def finish(self, out: Outgoing) -> list[str]:
        return [str(self)]


@dataclass
class RRState:
    """What rr keeps per message (OpenSIPS's processing-context slots ctx_rrdone/ctx_rrparam/ctx_routing)."""

    done: bool = False  # record_route()/record_route_preset() already ran
    buffered: list[str] = field(default_factory=list)  # add_rr_param() before record_route()
    params: str | None = None  # params of our Route, after loose_route() ($rr_params)
    routing: int = 0  # ROUTING_* of the last loose_route()


@dataclass
class _RouteEntry:
    field_index: int  # HeaderField.index of the Route line holding it
    value: NameAddr


class _RouteSet:
    """The Route values of a request with their lines, and the removals loose_route() decides."""

    def __init__(self, msg) -> None:
        self.msg = msg
        self.entries: list[_RouteEntry] = []
        self.fields = msg.header_fields("route")
        for hf in self.fields:
            for value in parse_name_addr_list(hf.value, "Route"):
                self.entries.append(_RouteEntry(hf.index, value))
        self.deleted: set[int] = set()

    def delete(self, position: int) -> None:
        self.deleted.add(position)

    def apply(self) -> None:
        """Leave out each removed value: the whole line when none of its values remains."""
        if not self.deleted:
            return
        for hf in self.fields:
            kept = [e.value.raw for i, e in enumerate(self.entries) if e.field_index == hf.index
                    and i not in self.deleted]
            total = sum(1 for e in self.entries if e.field_index == hf.index)
            if not kept:
                self.msg.remove_field(hf.index)
            elif len(kept) != total:
                self.msg.replace_field(hf.index, ", ".join(kept))


def _maddr_uri(uri: URI) -> str:
    """get_maddr_uri(): a URI with maddr becomes sip:MADDR[:port]; others stay as written."""
    maddr = uri.maddr
    if not maddr:
        return uri.raw
    return f"sip:{maddr}{':' + str(uri.port) if uri.port is not None else ''}"


def _proto_of(uri: URI) -> str:
    transport = uri.transport
    if transport:
        return transport
    return "tls" if uri.scheme == "sips" else "udp"


def _uri_port(uri: URI, proto: str) -> int:
    return uri.port if uri.port is not None else _DEFAULT_PORTS.get(proto, 5060)


def is_2rr(uri: URI) -> bool:
    """The `r2` parameter (any value) marks the first of our two Record-Routes (loose.c is_2rr)."""
    return "r2" in uri.params


def get_param(params: str | None, name: str) -> str | None:
    """The value of `name` in a URI parameter string ("lr;ftag=x;did=y"): "" when it has no value, None when
    absent (loose.c get_route_param; quotes are removed)."""
    if not params:
        return None
    for item in params.split(";"):
        key, eq, value = item.partition("=")
        if key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            return value if eq else ""
    return None


class Module(ModuleBase):
    """Record-Route insertion and loose routing, with the callbacks other modules (dialog) hang on it."""

    exports = EXPORTS

    def __init__(self, core, params) -> None:
        super().__init__(core, params)
        # callbacks may be registered before our init() runs (dialog loaded before rr)
        self._callbacks: list[tuple[int, RRCallback]] = []

    def init(self) -> None:
        self.append_fromtag = bool(self.int_param("append_fromtag"))
        self.enable_double_rr = bool(self.int_param("enable_double_rr"))
        self.add_username = bool(self.int_param("add_username"))
        self.socket_mismatch_warning = bool(self.int_param("enable_socket_mismatch_warning"))
        if not self.append_fromtag and self._script_calls("is_direction"):
            # rr_mod.c direction_fixup: E_CFG
            raise ModuleInitError('rr: usage of "is_direction" requires parameter "append_fromtag" enabled')

    def _log(self, level: int, text: str) -> None:
        logger = getattr(self.core, "logger", None)
        if logger is not None:
            logger.log(level, text, "rr")

    def _script_calls(self, name: str) -> bool:
        from opensips_py.config.check.context import walk_nodes
        config = getattr(self.core, "config", None)
        if config is None:
            return False
        return any(isinstance(node, ast.Call) and node.name == name for node in walk_nodes(config))

    # ---------------------------------------------------------------------------------- API for other modules
    def register_callback(self, callback: RRCallback, priority: int = 0) -> None:
        """Run `callback(ctx, params)` whenever loose_route() routes a request by its Route set (rr_cb.c
        register_rrcb: priority 0 goes first, others in increasing order). dialog matches requests here."""
        if priority < 0:
            raise ValueError("negative priority not allowed")
        callbacks = self._callbacks
        if not callbacks or priority == 0 or priority < callbacks[0][0]:
            callbacks.insert(0, (priority, callback))
            return
        position = 1
        while position < len(callbacks) and callbacks[position][0] < priority:
            position += 1
        callbacks.insert(position, (priority, callback))

    def state(self, ctx) -> RRState:
        state = ctx.module_state.get("rr")
        if state is None:
            state = ctx.module_state["rr"] = RRState()
        return state

    def route_params(self, ctx) -> str | None:
        """The parameters of our Route header seen by loose_route() (no leading ';'), or None."""
        state = ctx.module_state.get("rr")
        return state.params if state is not None else None

    def get_route_param(self, ctx, name: str) -> str | None:
        return get_param(self.route_params(ctx), name)

    # ---------------------------------------------------------------------------------- record-routing
    def _username(self, ctx) -> str:
        """record.c get_username(): the user of the received R-URI, else of the rewritten one."""
        if not self.add_username:
            return ""
        user = ctx.msg.ruri.user
        if not user and ctx.new_uri is not None:
            user = URI(ctx.new_uri).user
        return user or ""

    def _ftag(self, ctx) -> str | None:
        if not self.append_fromtag:
            return None
        from_ = ctx.msg.from_
        if from_ is None:
            raise SIPParseError(400, "Bad Request", "no From header")
        return from_.tag

    def _insert(self, ctx, line: _RRLine) -> None:
        # anchored before the first header, after whatever was anchored there before (data_lump.c)
        ctx.msg.lumps.insert.setdefault(0, []).append(line)

    def _take_buffered(self, ctx) -> tuple[str, ...]:
        state = self.state(ctx)
        buffered, state.buffered = tuple(state.buffered), []
        return buffered

    def record_route(self, ctx, params: str | None = None) -> int:
        """1, or -1 on a second attempt for the same message or a malformed From/R-URI."""
        msg = ctx.msg
        state = self.state(ctx)
        if msg is None or not msg.is_request:
            return -1
        if state.done:
            self._log(-1, "w_record_route: Double attempt to record-route")
            return -1
        try:
            user, ftag = self._username(ctx), self._ftag(ctx)
        except SIPParseError as exc:
            self._log(-1, f"record_route: {exc}")
            return -1
        rcv = ctx.received.socket if ctx.received is not None else None
        self._insert(ctx, RecordRoute(rcv, user, ftag, params or "", self.enable_double_rr,
                                      buffered=self._take_buffered(ctx)))
        state.done = True
        return 1

    def record_route_preset(self, ctx, preset: str, preset2: str | None = None) -> int:
        """1; -1 on a second attempt, or a second preset without enable_double_rr."""
        msg = ctx.msg
        state = self.state(ctx)
        if msg is None or not msg.is_request:
            return -1
        if state.done:
            self._log(-1, "w_record_route_preset: Double attempt to record-route")
            return -1
        if preset2 and not self.enable_double_rr:
            self._log(-1, "w_record_route_preset: Attempt to double record-route while "
                        "'enable_double_rr' param is disabled")
            return -1
        try:
            user, ftag = self._username(ctx), self._ftag(ctx)
        except SIPParseError as exc:
            self._log(-1, f"record_route_preset: {exc}")
            return -1
        self._insert(ctx, PresetRecordRoute(user, preset, ftag, buffered=self._take_buffered(ctx)))
        if preset2:
            self._insert(ctx, PresetRecordRoute(user, preset2, ftag))
        state.done = True
        return 1

    def add_rr_param(self, ctx, param: str) -> int:
        """Add `;name=value` to our Record-Route(s): to those already inserted (all of them with
        enable_double_rr, else the first), or kept for the record_route() still to come. Always 1."""
        msg = ctx.msg
        if msg is None or not msg.is_request:
            return -1
        found = False
        for anchor, lines in msg.lumps.insert.items():
            for position, line in enumerate(lines):
                if isinstance(line, _RRLine):
                    lines[position] = line.with_param(param)
                    found = True
                    if not self.enable_double_rr:
                        return 1
        if not found:
            self.state(ctx).buffered.append(param)
        return 1

    # ---------------------------------------------------------------------------------- loose routing
    def _is_myself(self, uri: URI) -> bool:
        """loose.c is_myself(): maddr or host, the port or the protocol's default, against our addresses."""
        host = uri.maddr or uri.host
        if not host:
            return False
        proto = _proto_of(uri)
        return bool(self.core.is_myself(host, _uri_port(uri, proto), proto))

    def _socket_matching(self, host: str | None, port: int, proto: str):
        """grep_sock_info(): the listening socket with this host (name or advertised) and port."""
        bare = (host or "").strip("[]").lower()
        for sock in getattr(self.core, "sockets", ()):
            if sock.proto != proto or port not in (sock.port, sock.advertised_port):
                continue
            if bare in (sock.host.strip("[]").lower(), (sock.advertised_host or "").strip("[]").lower()):
                return sock
        return None

    def _force_socket_from(self, ctx, host: str | None, port: int, proto: str, what: str) -> None:
        sock = self._socket_matching(host, port, proto)
        if sock is not None:
            ctx.force_socket = sock
        elif self.socket_mismatch_warning:
            self._log(1, f" no socket found to match {what} [{proto}][{host}:{port}]")

    def _run_callbacks(self, ctx, params: str) -> None:
        for _priority, callback in self._callbacks:
            callback(ctx, params)

    def loose_route(self, ctx) -> int:
        """1 when the next hop comes from the Route set; -1 when there is no Route, on errors, and for an
        initial (preloaded) request whose Route set held only us (the Route is removed all the same)."""
        msg = ctx.msg
        state = self.state(ctx)
        state.routing = 0
        if msg is None or not msg.is_request:
            return -1
        try:
            routes = _RouteSet(msg)
            if not routes.entries:
                return -1
            ruri = URI(ctx.ruri())
            to = msg.to
            if to is None:
                return -1
            preloaded = not to.tag
            if not preloaded and self._is_myself(ruri) and "gr" not in ruri.params:
                result = self._after_strict(ctx, state, routes, ruri)
            else:
                result = self._after_loose(ctx, state, routes, preloaded)
        except SIPParseError as exc:
            self._log(-1, f"loose_route: {exc}")
            return RR_ERROR
        return result

    def _after_loose(self, ctx, state: RRState, routes: _RouteSet, preloaded: bool) -> int:
        entries = routes.entries
        puri = entries[0].value.uri
        force_ss = False
        position = 0
        status = RR_DRIVEN
        if self._is_myself(puri):
            state.params = puri.params_text[1:]
            routes.delete(0)
            if len(entries) == 1:  # no next Route: we were the last hop of the route set
                status = NOT_RR_DRIVEN if preloaded else RR_DRIVEN
                state.routing = ROUTING_LL
                return self._done_loose(ctx, routes, preloaded, True, puri, status)
            position = 1
            if self.enable_double_rr and is_2rr(puri):
                # the second Route is our other interface: send from it (loose.c after_loose)
                puri = entries[1].value.uri
                proto = _proto_of(puri)
                self._force_socket_from(ctx, puri.host, _uri_port(puri, proto), proto, "2nd RR")
                routes.delete(1)
                if len(entries) == 2:
                    status = NOT_RR_DRIVEN if preloaded else RR_DRIVEN
                    state.routing = ROUTING_LL
                    return self._done_loose(ctx, routes, preloaded, False, puri, status)
                position = 2
            else:
                force_ss = True
        next_hop = entries[position].value.uri
        if not next_hop.lr:
            # RFC 3261 §16.12.1.2: the next hop is a strict router: the R-URI goes last in the Route set,
            # the next hop's URI becomes the R-URI
            state.routing = ROUTING_LS
            ctx.msg.add_header("Route", f"<{ctx.msg.ruri_text}>")
            ctx.new_uri = _maddr_uri(next_hop)
            routes.delete(position)
        else:
            state.routing = ROUTING_LL
            ctx.dst_uri = _maddr_uri(next_hop)
        return self._done_loose(ctx, routes, preloaded, force_ss, puri, status)

    def _done_loose(self, ctx, routes: _RouteSet, preloaded: bool, force_ss: bool, puri: URI, status: int) -> int:
        routes.apply()
        if force_ss and not preloaded and ctx.received is not None:
            ctx.force_socket = ctx.received.socket
        self._run_callbacks(ctx, puri.params_text[1:])
        return status

    def _after_strict(self, ctx, state: RRState, routes: _RouteSet, ruri: URI) -> int:
        """The previous hop was a strict router: the R-URI is our Record-Route (loose.c after_strict)."""
        entries = routes.entries
        position = 0
        puri = entries[0].value.uri
        if self.enable_double_rr and is_2rr(puri) and self._is_myself(puri):
            proto = _proto_of(puri)
            self._force_socket_from(ctx, puri.host, _uri_port(puri, proto), proto, "2nd RR")
            routes.delete(0)
            if len(entries) == 1:
                routes.apply()
                return NOT_RR_DRIVEN
            position = 1
            puri = entries[1].value.uri
        else:
            proto = _proto_of(ruri)
            self._force_socket_from(ctx, ruri.host, _uri_port(ruri, proto), proto, "RR")
        if not puri.lr:
            # the next hop is a strict router too: behave as one
            state.routing = ROUTING_SS
            ctx.new_uri = _maddr_uri(puri)
            routes.delete(position)
        else:
            # recover from the strict routing: the last Route is the remote target
            state.routing = ROUTING_SL
            ctx.dst_uri = _maddr_uri(puri)
            last = len(entries) - 1
            ctx.new_uri = _maddr_uri(entries[last].value.uri)
            routes.delete(last)
        routes.apply()
        params = URI(ctx.ruri()).params_text[1:]
        state.params = params
        self._run_callbacks(ctx, params)
        return RR_DRIVEN

    # ---------------------------------------------------------------------------------- route parameters
    def check_route_param(self, ctx, regex) -> int:
        """1 when the regex matches the parameters of our Route (with their leading ';'), else -1."""
        params = self.route_params(ctx)
        if not params:
            return -1
        return 1 if regex.search(";" + params) else -1

    def is_direction(self, ctx, direction: str) -> int:
        """1 when the request flows that way: downstream (caller to callee) when the From tag equals the ftag
        of our Route, or when either is missing; upstream otherwise."""
        flow = "downstream"
        ftag = self.get_route_param(ctx, "ftag")
        if ftag:
            try:
                from_ = ctx.msg.from_
            except SIPParseError:
                from_ = None
            tag = from_.tag if from_ is not None else None
            if tag and tag != ftag:
                flow = "upstream"
        return 1 if direction.lower().startswith(flow) else -1

    def pvars(self) -> dict:
        def rr_params(ctx, arg, index):
            params = self.route_params(ctx)
            return params or None

        return {"rr_params": Handler("rr_params", rr_params)}
