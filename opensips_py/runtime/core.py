"""The proxy core: a config turned into something that takes bytes and time and gives back bytes to send.

Theory of operation (sans-IO, after aioquic's connection): the core owns no socket and no clock.

    core = ProxyCore.from_file("opensips.cfg")      # check, sockets, modules, compiled script
    sends = core.start(now)                         # startup_route, timer_routes scheduled
    sends = core.receive(data, rcv, now)            # one datagram / one framed stream message
    core.next_timer() -> float | None               # when on_timer() wants to run next
    sends = core.on_timer(now)                      # timer_routes and module timers that are due

A host (transport/ for the network, runtime/virtual.py for tests and replay) feeds it and sends what it
returns: `Send` values saying which bytes go where, over which socket, on which TCP connection.

One message, as OpenSIPS's receive_msg() does it:
1. UDP keep-alive padding (CRLF/NUL) is dropped; bytes that do not parse are counted (bad_msg_hdr) and
   dropped; a request that parsed but fails the up-front checks (runtime/sanity.py) is answered statelessly
   with the status its error carries (400, 501, 505, 513) and counted as err_requests; a broken reply is
   dropped (err_replies).
2. A request runs the modules' before-route filters (sl absorbs ACKs to its own replies there) and then
   the main route with a fresh MsgContext; whatever the script decides (forward(), sl_send_reply(), drop)
   is in the outbox when it returns. Then each module's `after_request_route(ctx)` runs (OpenSIPS's
   post-script callbacks: tm releases a transaction the script created and left unanswered).
3. A reply runs the global onreply_route (a `drop` there discards a provisional reply), then each module's
   `reply_received(msg, rcv)` (OpenSIPS's response_f: tm takes the replies of its transactions and returns
   True), then is forwarded statelessly by its Vias (runtime/forward.py), unless its top Via is not ours.
Nothing a peer sends can stop the core: every message is handled inside one try, and an exception is our
bug, logged with its traceback once per place and counted.

Statistics use OpenSIPS's core names (core_stats.c) in a plain dict (`core.stats`).
"""
from __future__ import annotations

import gc
import heapq
import itertools
import traceback
from dataclasses import dataclass, field
from typing import Callable, Iterable

from opensips_py.config import ast
from opensips_py.config.diagnostics import Severity
from opensips_py.modules.base import ModuleInitError
from opensips_py.modules.exports import RouteType
from opensips_py.runtime.forward import (
    STREAM_PROTOCOLS, BadDestination, Target, build_forwarded_request, host_differs, mark_received_via,
    parse_destination, request_as_is, response_target, stateless_branch, target_of_uri,
)
from opensips_py.runtime.functions import ProxyCoreFunctions
from opensips_py.runtime.log import L_ERR, L_INFO, Logger, RateLimit
from opensips_py.runtime.mhomed import outgoing_socket
from opensips_py.runtime.modules import UnimplementedCall, instantiate, unimplemented_calls
from opensips_py.runtime.resolver import Resolver, ip_literal
from opensips_py.runtime.sanity import check_request, check_response, header_index
from opensips_py.runtime.settings import CoreSettings, SettingsError, read_settings
from opensips_py.script.compiler import Bindings, StartupError, compile_script
from opensips_py.script.context import ListenSocket, MsgContext, Process, ReceiveInfo, Send
from opensips_py.sip import (
    MAX_MESSAGE_SIZE, URI, Request, Response, SIPParseError, build_reply, is_keepalive_datagram, parse_message,
)

import opensips_py.script.pv_core  # noqa: F401  - the core pseudo-variables register themselves on import

# OpenSIPS core statistics (core_stats.c), in its order.
CORE_STATS = ("rcv_requests", "rcv_replies", "fwd_requests", "fwd_replies", "drop_requests", "drop_replies",
              "err_requests", "err_replies", "bad_URIs_rcvd", "unsupported_methods", "bad_msg_hdr")

# OpenSIPS internal error codes (error.h) kept as the "last error" sl_reply_error() reports.
E_UNSPEC, E_NO_SOCKET, E_BAD_ADDRESS, E_SEND, E_BAD_URI = -1, -7, -476, -477, -475

SERVER_NAME = "opensips-py"


class StartupFailure(Exception):
    """The config cannot run: `report` says why, in check's format (file:line:column, hints)."""

    def __init__(self, report: str, unimplemented: Iterable[UnimplementedCall] = ()):
        self.report = report
        self.unimplemented = list(unimplemented)
        super().__init__(report)


@dataclass(order=True)
class _Timer:
    when: float
    seq: int
    callback: Callable[[float], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


def _unimplemented_report(calls: list[UnimplementedCall]) -> str:
    if not calls:
        return ""
    lines = [f"not implemented in opensips-py yet ({len({c.name for c in calls})} function(s), "
             f"{len(calls)} call(s)):"]
    lines += [f"  {call}" for call in calls]
    return "\n".join(lines) + "\n"


class ProxyCore:
    """One proxy process: settings, modules, the compiled script, statistics, timers. Sans-IO."""

    def __init__(self, config: ast.Config, *, extra_sockets: Iterable[str] = (), logger: Logger | None = None,
                 resolver: Resolver | None = None, log_level: int | None = None,
                 warnings: Iterable[str] = ()) -> None:
        try:
            self.settings: CoreSettings = read_settings(config, extra_sockets)
        except SettingsError as exc:
            raise StartupFailure(f"error: {exc}\n") from exc
        if log_level is not None:
            self.settings.log_level = log_level
        self.logger = logger or Logger(self.settings.log_level)
        self.logger.log_level = self.settings.log_level
        for line in warnings:
            self.logger.warning(line)
        self.config = config
        self.sockets: list[ListenSocket] = self.settings.sockets
        # `alias=` entries as (proto or None, host, port or None), as CoreFunctions.is_myself() reads them
        self.aliases = [(a.proto, a.host, a.port) for a in self.settings.aliases]
        self.resolver = resolver or Resolver()
        self.now = 0.0
        self.stats: dict[str, int] = dict.fromkeys(CORE_STATS, 0)
        self.last_error = E_UNSPEC  # OpenSIPS's prev_ser_error, for sl_reply_error()
        self.process = Process(clock=self._clock, log=self.logger.script, core=self,
                               log_level=self.settings.log_level, default_log_level=self.settings.log_level)
        self._bad_input_log = RateLimit(self.logger)
        self._internal_errors_seen: set[tuple] = set()
        self._timers: list[_Timer] = []
        self._timer_seq = itertools.count()
        # True while receive()/on_timer() runs: sends then go out with its result (see call_soon())
        self.processing = False
        self.wakeup: Callable[[], None] | None = None  # set by a host that can run on_timer() on demand
        self._started = False
        # TCP: (proto, ip, port) -> connection id, learned from requests that came over a connection
        self._connections: dict[tuple[str, str, int], int] = {}
        self._connection_keys: dict[int, list[tuple[str, str, int]]] = {}
        self._sockets_by_proto: dict[str, list[ListenSocket]] = {}
        # mhomed=yes: pick the send socket per destination (runtime/mhomed.py), remembered per (proto, ip)
        self._mhomed = any(isinstance(s, ast.GlobalParam) and s.name == "mhomed"
                           and str(getattr(s.value, "value", getattr(s.value, "name", ""))).lower() in
                           ("1", "yes", "true", "on") for s in config.statements)
        self._mhomed_choice: dict[tuple[str, str], ListenSocket | None] = {}
        for sock in self.sockets:
            self._sockets_by_proto.setdefault(sock.proto, []).append(sock)
        self._myself_exact: set[tuple[str, int]] = set()
        self._myself_any_port: set[str] = set()
        self._index_myself()
        # register_alias_fct(): modules (domain) that add names of ours; asked by is_myself() last
        self.alias_functions: list[Callable[[str, int | None, str | None], bool]] = []

        try:
            self.modules, placeholders = instantiate(config, self)
        except ModuleInitError as exc:
            raise StartupFailure(f"error: module initialisation failed: {exc}\n") from exc
        self.core_functions = ProxyCoreFunctions(self, {})
        bindings = Bindings(modules={**placeholders, **self.modules}, core_functions=self.core_functions,
                            max_while_loops=self.settings.max_while_loops)
        try:
            self.script = compile_script(config, bindings)
        except StartupError as exc:
            lines = sorted(exc.diagnostics, key=lambda d: (d.location.file, d.location.line, d.location.column))
            text = "".join(f"{d.location.file}:{d.location.line}:{d.location.column}: error {d.code}: "
                           f"{d.message}\n" for d in lines)
            calls = unimplemented_calls(config, self._core_implements)
            raise StartupFailure(text, calls) from exc
        self._request_filters = [m.before_request_route for m in self.modules.values()
                                 if callable(getattr(m, "before_request_route", None))]
        # module hooks (OpenSIPS's POST_SCRIPT callbacks and response_f): tm cleans up after the main route
        # and takes the replies of its transactions before stateless forwarding
        self._request_finishers = [m.after_request_route for m in self.modules.values()
                                   if callable(getattr(m, "after_request_route", None))]
        self._reply_takers = [m.reply_received for m in self.modules.values()
                              if callable(getattr(m, "reply_received", None))]
        self._has_onreply = self.script.route("onreply_route") is not None
        self._has_error_route = self.script.route("error_route") is not None
        self._has_main_route = self.script.route("route") is not None

    # ---------------------------------------------------------------------------------- construction
    @classmethod
    def from_file(cls, path: str, **kwargs) -> "ProxyCore":
        """Check the config as `opensips-py check` does (errors refuse start-up), then build the core."""
        from opensips_py.config.check import check_file
        from opensips_py.config.check.context import CheckOptions
        return cls.from_check(check_file(path, CheckOptions()), path, **kwargs)

    @classmethod
    def from_text(cls, text: str, name: str = "<config>", **kwargs) -> "ProxyCore":
        from opensips_py.config.check import check_text
        from opensips_py.config.check.context import CheckOptions
        return cls.from_check(check_text(text, CheckOptions(), name), name, **kwargs)

    @classmethod
    def from_check(cls, result, path: str, **kwargs) -> "ProxyCore":
        """Build from a CheckResult (the CLI has one already): its errors refuse start-up, with the list of
        every call to a function not implemented yet; its warnings are logged."""
        from opensips_py.config.check.output import format_text
        if result.errors:
            calls = unimplemented_calls(result.config, cls._core_implements)
            raise StartupFailure(format_text([(path, result)]) + _unimplemented_report(calls), calls)
        warnings = [f"{d.location.file}:{d.location.line}:{d.location.column}: {d.message}"
                    for d in result.diagnostics if d.severity == Severity.WARNING]
        return cls(result.config, warnings=warnings, **kwargs)

    @staticmethod
    def _core_implements(name: str) -> bool:
        return callable(getattr(ProxyCoreFunctions, name, None))

    def _index_myself(self) -> None:
        for sock in self.sockets:
            for host in (sock.host, sock.advertised_host):
                if host:
                    self._myself_exact.add((host.strip("[]").lower(), sock.port))
                    if sock.advertised_port:
                        self._myself_exact.add((host.strip("[]").lower(), sock.advertised_port))
        for alias in self.settings.aliases:
            if alias.port is None:
                self._myself_any_port.add(alias.host)
            else:
                self._myself_exact.add((alias.host, alias.port))
        self._wildcard_ports = {s.port for s in self.sockets if s.host in ("0.0.0.0", "::")}

    # ---------------------------------------------------------------------------------- time
    def _clock(self) -> float:
        return self.now

    def add_timer(self, when: float, callback: Callable[[float], None]) -> _Timer:
        """Run `callback(now)` at `when` (absolute, the host's clock); returns a handle with .cancelled."""
        timer = _Timer(when, next(self._timer_seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def next_timer(self) -> float | None:
        timers = self._timers
        while timers and timers[0].cancelled:
            heapq.heappop(timers)
        return timers[0].when if timers else None

    def on_timer(self, now: float) -> list[Send]:
        """Run every timer due at `now`; returns what they sent."""
        out = self._begin(now)
        timers = self._timers
        for _ in range(100000):  # bounded: a callback re-arming itself at `now` cannot spin forever
            if not timers or timers[0].when > now:
                break
            timer = heapq.heappop(timers)
            if timer.cancelled:
                continue
            try:
                timer.callback(now)
            except Exception as exc:  # noqa: BLE001 - a timer bug must not stop the others
                self._internal_error(exc, "timer")
        self.processing = False
        return out

    def call_soon(self, callback: Callable[[float], None]) -> _Timer:
        """Run `callback(now)` at the next on_timer(): for work started outside receive()/on_timer() (an MI
        command, a module's serve() task), whose sends would otherwise land in an outbox nobody reads. The
        host's `wakeup` (if it set one) is told, so it calls on_timer() at once."""
        timer = self.add_timer(self.now, callback)
        if self.wakeup is not None:
            self.wakeup()
        return timer

    # ---------------------------------------------------------------------------------- start
    def start(self, now: float) -> list[Send]:
        """Log the start-up notes, run startup_route once, schedule the timer_routes."""
        out = self._begin(now)
        try:
            self._start(now)
        finally:
            self.processing = False
        return out

    def _start(self, now: float) -> None:
        if self._started:
            return
        self._started = True
        tune_gc()
        for note in self.settings.notes:
            self.logger.notice(note)
        workers = [n for n in (self.settings.udp_workers, self.settings.tcp_workers) if n]
        if workers:
            self.logger.notice("udp_workers/tcp_workers accepted: opensips-py runs one process that serves "
                               "every socket")
        for sock in self.sockets:
            advertised = f" advertised as {sock.via_host}:{sock.via_port}" if sock.advertised_host or \
                sock.advertised_port else ""
            self.logger.info(f"listening on {sock}{advertised}")
        if self.script.route("startup_route") is not None:
            ctx = MsgContext(None, RouteType.STARTUP, self.process)
            self._run_route("startup_route", None, ctx)
        for route in self.script.routes.values():
            if route.kind == "timer_route" and route.interval:
                self._schedule_timer_route(route.name, route.interval, now + route.interval)

    def _schedule_timer_route(self, name: str | None, interval: int, when: float) -> None:
        def fire(now: float) -> None:
            ctx = MsgContext(None, RouteType.TIMER, self.process)
            self._run_route("timer_route", name, ctx)
            following = when + interval
            if following <= now:  # we were late: skip the missed runs, as a fresh tick would
                following = now + interval
            self._schedule_timer_route(name, interval, following)

        self.add_timer(when, fire)

    def _run_route(self, kind: str, name: str | None, ctx: MsgContext) -> None:
        try:
            self.script.run(kind, name, ctx)
        except Exception as exc:  # noqa: BLE001
            self._internal_error(exc, f"{kind}[{name}]" if name else kind)

    def shutdown(self) -> None:
        """Module destroy() hooks, in reverse load order."""
        for module in reversed(list(self.modules.values())):
            try:
                module.destroy()
            except Exception as exc:  # noqa: BLE001
                self._internal_error(exc, "destroy")

    # ---------------------------------------------------------------------------------- receive
    def _begin(self, now: float) -> list[Send]:
        self.now = now
        out: list[Send] = []
        self.process.outbox = out
        self.processing = True
        return out

    def receive(self, data: bytes, rcv: ReceiveInfo, now: float) -> list[Send]:
        """Handle one message (a UDP datagram, or one message framed from a stream); returns the sends."""
        out = self._begin(now)
        try:
            self._receive(data, rcv)
        except Exception as exc:  # noqa: BLE001 - never let one message stop the server
            self._internal_error(exc, "receive", data)
        self.processing = False
        return out

    def _receive(self, data: bytes, rcv: ReceiveInfo) -> None:
        if rcv.proto == "udp" and len(data) <= 4 and is_keepalive_datagram(data):
            return
        try:
            msg = parse_message(data)
        except SIPParseError as error:
            self._unparsable(data, rcv, error)
            return
        if msg.is_request:
            self._request(msg, rcv)
        else:
            self._response(msg, rcv)

    def _unparsable(self, data: bytes, rcv: ReceiveInfo, error: SIPParseError) -> None:
        if error.code == 513 and len(data) <= 4 * MAX_MESSAGE_SIZE:
            # too large for us, but answerable: parse once more without the limit to reply 513
            try:
                msg = parse_message(data, max_size=len(data))
            except SIPParseError:
                msg = None
            if msg is not None and msg.is_request:
                self.stats["rcv_requests"] += 1
                self.stats["err_requests"] += 1
                self._bad_input_log.log(self.now, L_ERR, f"{msg.method} from {rcv.src_host}:{rcv.src_port} is "
                                                         f"too large ({len(data)} bytes)")
                if msg.method != "ACK":
                    self.reply_error(msg, rcv, error.code, error.reason)
                return
        self.stats["bad_msg_hdr"] += 1
        self._bad_input_log.log(self.now, L_ERR, f"dropping a message from {rcv.src_host}:{rcv.src_port} "
                                                 f"({rcv.proto}) that does not parse: {error}")

    def _request(self, msg: Request, rcv: ReceiveInfo) -> None:
        stats = self.stats
        stats["rcv_requests"] += 1
        try:
            check_request(msg)
        except SIPParseError as error:
            stats["err_requests"] += 1
            if "Request-URI" in error.detail or "URI" in error.detail:
                stats["bad_URIs_rcvd"] += 1
            self._bad_input_log.log(self.now, L_ERR, f"bad {msg.method} from {rcv.src_host}:{rcv.src_port}: "
                                                     f"{error}")
            if self._has_error_route:
                self._run_error_route(msg, rcv, error)
            elif msg.method != "ACK":
                self.reply_error(msg, rcv, error.code, error.reason)
            return
        self._track_connection(msg, rcv)
        ctx = MsgContext(msg, RouteType.REQUEST, self.process, rcv)
        for accept in self._request_filters:
            if not accept(ctx):
                stats["drop_requests"] += 1
                return
        if self._has_main_route:
            try:
                self.script.run("route", None, ctx)
            except SIPParseError as error:
                # a header the script read turned out malformed: OpenSIPS's function fails and logs
                stats["err_requests"] += 1
                self._bad_input_log.log(self.now, L_ERR, f"{msg.method} from {rcv.src_host}: {error}")
        for finish in self._request_finishers:  # e.g. tm: release a transaction the script left unanswered
            finish(ctx)
        if rcv.connection_id is not None and ctx.module_state:
            alias_port = self._core_state(ctx).get("tcp_alias_port")
            if alias_port:  # force_tcp_alias(): requests to the sender at that port reuse this connection
                self._add_connection_key(rcv.connection_id, (rcv.proto, rcv.src_host, int(alias_port)))

    def _run_error_route(self, msg: Request, rcv: ReceiveInfo, error: SIPParseError) -> None:
        """OpenSIPS runs error_route for a request that failed to parse (receive.c) and sends nothing itself:
        the script answers, usually with sl_send_reply($err.rcode, $err.rreason). The details are in
        ctx.module_state["core"]["error"] (errinfo.h: class 1 = parser, level 3 = medium)."""
        ctx = MsgContext(msg, RouteType.ERROR, self.process, rcv)
        ctx.module_state["core"] = {"error": {"class": 1, "level": 3, "info": error.detail or error.reason,
                                              "rcode": error.code, "rreason": error.reason}}
        try:
            self.script.run("error_route", None, ctx)
        except SIPParseError as again:
            self._bad_input_log.log(self.now, L_ERR, f"error_route: {again}")

    def _response(self, msg: Response, rcv: ReceiveInfo) -> None:
        stats = self.stats
        stats["rcv_replies"] += 1
        try:
            check_response(msg)
        except SIPParseError as error:
            stats["err_replies"] += 1
            self._bad_input_log.log(self.now, L_ERR, f"dropping a bad reply from {rcv.src_host}:"
                                                     f"{rcv.src_port}: {error}")
            return
        if self._has_onreply:
            ctx = MsgContext(msg, RouteType.ONREPLY, self.process, rcv)
            try:
                self.script.run("onreply_route", None, ctx)
            except SIPParseError as error:
                self._bad_input_log.log(self.now, L_ERR, f"reply from {rcv.src_host}: {error}")
            if ctx.drop and msg.status < 200:
                stats["drop_replies"] += 1
                return
        for take in self._reply_takers:  # tm: a reply of one of its transactions is relayed statefully
            if take(msg, rcv):
                return
        self.forward_reply(msg, rcv)

    # ---------------------------------------------------------------------------------- connections
    def _track_connection(self, msg: Request, rcv: ReceiveInfo) -> None:
        """Remember a stream connection by its source and by its top Via's sent-by port (OpenSIPS's
        tcpconn_add_alias), so replies and later requests to that peer reuse it."""
        conn = rcv.connection_id
        if conn is None:
            return
        self._add_connection_key(conn, (rcv.proto, rcv.src_host, rcv.src_port))
        via = msg.via1
        if via is not None and via.port is not None and via.port != rcv.src_port:
            self._add_connection_key(conn, (rcv.proto, rcv.src_host, via.port))

    def _add_connection_key(self, conn: int, key: tuple[str, str, int]) -> None:
        keys = self._connection_keys.setdefault(conn, [])
        if key not in keys:
            keys.append(key)
        self._connections[key] = conn

    def connection_closed(self, connection_id: int) -> None:
        """The host closed a connection: forget it (the next send to that peer opens a new one)."""
        for key in self._connection_keys.pop(connection_id, ()):
            if self._connections.get(key) == connection_id:
                del self._connections[key]

    def connection_for(self, proto: str, host: str, port: int) -> int | None:
        return self._connections.get((proto, host, port))

    # ---------------------------------------------------------------------------------- sockets
    def send_socket(self, proto: str, ip: str, forced: ListenSocket | None = None) -> ListenSocket | None:
        """The socket to send from: the forced one when it speaks `proto`, else (with `mhomed=yes`) the one
        the kernel would source from (runtime/mhomed.py), else the first socket of `proto` in the
        destination's address family."""
        if forced is not None and forced.proto == proto:
            return forced
        candidates = self._sockets_by_proto.get(proto)
        if not candidates:
            return None
        if self._mhomed and len(candidates) > 1:
            key = (proto, ip)
            if key not in self._mhomed_choice:
                if len(self._mhomed_choice) > 4096:
                    self._mhomed_choice.clear()
                self._mhomed_choice[key] = outgoing_socket(candidates, ip)
            if self._mhomed_choice[key] is not None:
                return self._mhomed_choice[key]
        v6 = ":" in ip
        for sock in candidates:
            if (":" in sock.host) == v6:
                return sock
        return candidates[0]

    def is_myself(self, host: str, port: int | None = None, proto: str | None = None) -> bool:
        """Is host[:port] one of our addresses (sockets, advertised addresses, aliases)?"""
        bare = host.strip("[]").lower()
        if bare in self._myself_any_port:
            return True
        if port is None:
            if any(h == bare for h, _ in self._myself_exact):
                return True
        elif (bare, port) in self._myself_exact:
            return True
        elif port in self._wildcard_ports and ip_literal(bare) is not None:
            return True
        return any(check(host.strip("[]"), port, proto) for check in self.alias_functions)

    # ---------------------------------------------------------------------------------- replies
    def reply_destination(self, msg: Request, rcv: ReceiveInfo, force_rport: bool = False,
                          reply_to_via: bool = False) -> tuple[str, int]:
        """Where a local reply goes (OpenSIPS update_sock_struct_from_ip): the source address; the source
        port when the Via has rport, force_rport() was called or the transport is a stream, else the Via
        port (5060 by default). With set_via_handling("reply-to-via") the host is the Via's (maddr, else
        sent-by), resolved (update_sock_struct_from_via)."""
        try:
            via = msg.via1
        except SIPParseError:
            via = None
        host = rcv.src_host
        if reply_to_via and via is not None:
            host = self.resolver.resolve((via.maddr or via.host).strip("[]")) or rcv.src_host
        if via is None or via.has_rport or force_rport or rcv.proto != "udp":
            return host, rcv.src_port
        return host, via.port if via.port is not None else 5060

    def send_reply(self, msg: Request, rcv: ReceiveInfo, status: int, reason: str | None = None, *,
                   to_tag: str | None = None, headers: Iterable[str] = (), body: bytes = b"",
                   content_type: str | None = None, force_rport: bool = False,
                   reply_to_via: bool = False) -> Send:
        """Build a stateless reply to `msg` and queue it back the way the request came (same socket, same
        connection). received/rport go into the top Via as OpenSIPS does for local replies."""
        try:
            via = msg.via1
        except SIPParseError:
            via = None
        received = rport = None
        if via is not None:
            if via.has_rport or force_rport:
                rport = rcv.src_port
            if rport is not None or via.received is not None or \
                    host_differs(via.maddr or via.host, rcv.src_host):
                received = rcv.src_host
        server = None
        if self.settings.server_header:
            headers = [*headers, self.settings.server_header]
        elif self.settings.server_signature:
            server = SERVER_NAME
        data = build_reply(msg, status, reason, to_tag=to_tag, headers=headers, body=body,
                           content_type=content_type, received=received, rport=rport, force_rport=force_rport,
                           server=server)
        host, port = self.reply_destination(msg, rcv, force_rport, reply_to_via)
        output = Send(data, rcv.proto, host, port, rcv.socket, rcv.connection_id)
        self.process.outbox.append(output)
        return output

    def reply_error(self, msg: Request, rcv: ReceiveInfo, status: int, reason: str) -> None:
        """Answer a malformed request (the sl module's tag if loaded, else the reply layer's own)."""
        sl = self.modules.get("sl")
        to_tag = sl.to_tag(msg) if sl is not None and hasattr(sl, "to_tag") else None
        try:
            self.send_reply(msg, rcv, status, reason, to_tag=to_tag)
        except (SIPParseError, ValueError) as exc:
            self._bad_input_log.log(self.now, L_ERR, f"cannot even reply to it: {exc}")

    # ---------------------------------------------------------------------------------- forwarding
    def _core_state(self, ctx: MsgContext) -> dict:
        return ctx.module_state.get("core") or {}

    def forward_request(self, ctx: MsgContext, destination: str | None) -> int:
        """forward(): stateless forwarding of the current request (see runtime/forward.py)."""
        msg = ctx.msg
        if msg is None or not msg.is_request:
            self.logger.error("forward() needs a request")
            return E_UNSPEC
        if self.settings.disable_stateless_fwd:
            self.logger.error("forward(): stateless forwarding is disabled (disable_stateless_fwd)")
            return E_UNSPEC
        try:
            if destination:
                target = parse_destination(destination)
            elif ctx.dst_uri:
                target = target_of_uri(URI(ctx.dst_uri))
            elif ctx.new_uri is not None:
                target = target_of_uri(URI(ctx.new_uri))
            else:
                target = target_of_uri(msg.ruri)
        except (BadDestination, SIPParseError) as exc:
            self.logger.error(f"forward(): bad destination, dropping the request: {exc}")
            self.last_error = E_BAD_URI
            return E_BAD_URI
        return self._forward_to(ctx, msg, target)

    def _forward_to(self, ctx: MsgContext, msg: Request, target: Target) -> int:
        proto = target.proto
        ip = self.resolver.resolve(target.host)
        if ip is None:
            self.logger.error(f"forward(): cannot resolve {target.host}")
            self.stats["drop_requests"] += 1
            self.last_error = E_BAD_ADDRESS
            return E_BAD_ADDRESS
        state = self._core_state(ctx)
        sock = self.send_socket(proto, ip, ctx.force_socket)
        if sock is None:
            self.logger.error(f"forward(): no {proto} socket to send from")
            self.stats["drop_requests"] += 1
            self.last_error = E_NO_SOCKET
            return E_NO_SOCKET
        rcv = ctx.received
        if rcv is not None:
            mark_received_via(msg, rcv.src_host, rcv.src_port, bool(state.get("force_rport")))
        data = build_forwarded_request(
            msg, sock, proto, stateless_branch(msg),
            advertised_host=state.get("advertised_address"), advertised_port=_int_or_none(
                state.get("advertised_port")),
            local_rport=bool(state.get("add_local_rport")), new_uri=ctx.new_uri,
            in_connection=rcv.connection_id if rcv is not None else None)
        port = target.effective_port
        conn = self._connections.get((proto, ip, port)) if proto in STREAM_PROTOCOLS else None
        ctx.send(Send(data, proto, ip, port, sock, conn))
        self.stats["fwd_requests"] += 1
        return 1

    def send_as_is(self, ctx: MsgContext, destination: str, headers: str | None) -> int:
        """send(): the message as received (no Via, no edits) to `destination`."""
        msg = ctx.msg
        if msg is None:
            return E_UNSPEC
        try:
            target = parse_destination(destination)
        except BadDestination as exc:
            self.logger.error(f"send(): {exc}")
            return E_BAD_URI
        ip = self.resolver.resolve(target.host)
        if ip is None:
            self.logger.error(f"send(): cannot resolve {target.host}")
            return E_BAD_ADDRESS
        sock = self.send_socket(target.proto, ip, ctx.force_socket)
        if sock is None:
            self.logger.error(f"send(): no {target.proto} socket to send from")
            return E_NO_SOCKET
        data = request_as_is(msg, headers) if isinstance(msg, Request) else msg.raw
        port = target.effective_port
        conn = self._connections.get((target.proto, ip, port)) if target.proto in STREAM_PROTOCOLS else None
        ctx.send(Send(data, target.proto, ip, port, sock, conn))
        return 1

    def forward_reply(self, msg: Response, rcv: ReceiveInfo) -> None:
        """Stateless reply forwarding (forward.c forward_reply): drop our Via, send to the next one."""
        stats = self.stats
        via1 = msg.via1
        via_port = via1.port if via1.port is not None else (5061 if via1.transport == "TLS" else 5060)
        if not self.is_myself(via1.host, via_port):
            stats["drop_replies"] += 1
            self._bad_input_log.log(self.now, L_INFO, f"dropping a {msg.status} reply whose top Via "
                                                      f"({via1.sent_by}) is not ours")
            return
        vias = msg.via
        back = self._connection_of_via(via1)
        if len(vias) < 2:
            stats["drop_replies"] += 1
            self.logger.debug(f"reply {msg.status} with no second Via: it was for us, dropped")
            return
        if back is not None:  # our Via's ;i=: the request came on that connection, the reply goes back on it
            proto, ip, port = back[1]
            sock = self.send_socket(proto, ip)
            self._remove_top_via(msg, vias)
            data = msg.serialize(ensure_content_length=True)
            self.process.outbox.append(Send(data, proto, ip, port, sock, back[0]))
            stats["fwd_replies"] += 1
            return
        try:
            target = response_target(vias[1])
        except BadDestination as exc:
            stats["err_replies"] += 1
            self._bad_input_log.log(self.now, L_ERR, f"cannot forward reply: {exc}")
            return
        ip = self.resolver.resolve(target.host)
        if ip is None:
            stats["err_replies"] += 1
            self._bad_input_log.log(self.now, L_ERR, f"cannot resolve the reply's next hop {target.host}")
            return
        proto = target.proto
        sock = self.send_socket(proto, ip)
        if sock is None:
            stats["err_replies"] += 1
            self._bad_input_log.log(self.now, L_ERR, f"no {proto} socket to forward a reply")
            return
        self._remove_top_via(msg, vias)
        data = msg.serialize(ensure_content_length=proto in STREAM_PROTOCOLS)
        port = target.effective_port
        conn = self._connections.get((proto, ip, port)) if proto in STREAM_PROTOCOLS else None
        self.process.outbox.append(Send(data, proto, ip, port, sock, conn))
        stats["fwd_replies"] += 1

    def _connection_of_via(self, via) -> tuple[int, tuple[str, str, int]] | None:
        """The open connection our Via's `;i=` names, with its (proto, ip, port), if it is still open."""
        value = via.params.get("i")
        if not value:
            return None
        try:
            conn = int(value, 16)
        except ValueError:
            return None
        keys = self._connection_keys.get(conn)
        return (conn, keys[0]) if keys else None

    @staticmethod
    def _remove_top_via(msg: Response, vias: list) -> None:
        via_lines = header_index(msg)["via"]
        if len(via_lines) == len(vias):  # one value per Via line: drop the first line, no re-parse
            msg.remove_field(via_lines[0])
        else:
            msg.remove_top_via()

    # ---------------------------------------------------------------------------------- statistics, errors
    def all_stats(self) -> dict[str, dict[str, int]]:
        """Every statistic by group: "core" and each module that keeps some."""
        groups = {"core": dict(self.stats)}
        for name, module in self.modules.items():
            values = module.stats()
            if values:
                groups[name] = dict(values)
        return groups

    def _internal_error(self, exc: BaseException, where: str, data: bytes | None = None) -> None:
        """A bug of ours: count it, log it (with the traceback the first time it happens at that place)."""
        if data is not None:
            is_reply = data[:4].upper() == b"SIP/"
            self.stats["err_replies" if is_reply else "err_requests"] += 1
        frames = traceback.extract_tb(exc.__traceback__)
        place = (type(exc).__name__, where, frames[-1].filename if frames else "", frames[-1].lineno if frames
                 else 0)
        if place in self._internal_errors_seen:
            self._bad_input_log.log(self.now, L_ERR, f"internal error in {where}: {exc!r}")
            return
        if len(self._internal_errors_seen) < 1000:
            self._internal_errors_seen.add(place)
        text = "".join(traceback.format_exception(exc)).rstrip()
        self.logger.error(f"internal error in {where} (message dropped, server continues): {text}")


# CPython's default (700, 10, 10) runs the cyclic collector every 700 container allocations; a proxy keeps
# tens of thousands of live objects (transactions waiting wt_timer, registrations, dialogs), and the full
# collections those frequent passes trigger cost a third of the CPU of a stateful call (benchmarks/README.md,
# "Proxy (stateful)"). Reference counting frees almost everything a message creates, so collecting cycles
# rarely is enough.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Collect cycles far less often once serving (the process-wide setting; applied by start())."""
    if gc.get_threshold()[0] < GC_THRESHOLDS[0]:
        gc.set_threshold(*GC_THRESHOLDS)


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


__all__ = ["ProxyCore", "StartupFailure", "CORE_STATS", "E_UNSPEC", "E_NO_SOCKET", "E_BAD_ADDRESS", "E_SEND",
           "E_BAD_URI"]
