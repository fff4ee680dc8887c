"""The live host: trio sockets and the wall clock around one ProxyCore.

`LiveServer(core).run()` opens every socket of the config, runs the core's start-up, and serves until
`shutdown()` (the CLI calls it on SIGTERM/SIGINT). Everything lives in one nursery owned by the server: the
UDP receive loops, the accept loops and connections of the stream sockets (tcp, tls, ws, wss), the timer task
that drives `next_timer()`/`on_timer()`, the idle-connection sweeper and each module's `serve()`; shutdown
cancels that one scope.

Stream connections of every protocol share one table (transport/tcp.py): a TLS connection is a TCP one over
trio.SSLStream (transport/tls.py, certificates from tls_mgm), a WS/WSS one carries one SIP message per
WebSocket message (transport/ws.py). A connection being handshaken counts against tcp_max_connections
already; a failed handshake closes that connection only.

The core's time is the wall clock (`time.time()`), so script timestamps are real; trio's own clock is used
only to sleep until the next timer.
"""
from __future__ import annotations

import math
import time
import traceback
from typing import Any, Callable

import trio

from opensips_py.modules import exports_of
from opensips_py.runtime.core import ProxyCore
from opensips_py.runtime.log import L_INFO, RateLimit
from opensips_py.script.context import ListenSocket, ReceiveInfo, Send
from opensips_py.sip import MAX_MESSAGE_SIZE
from opensips_py.transport.tcp import (
    ConnectionTable, TCPConnection, idle_deadline, open_listener, run_connection,
)
from opensips_py.transport.tls import HandshakeFailed, handshake_deadline, tls_handshake
from opensips_py.transport.udp import UDPEndpoint
from opensips_py.transport.ws import (
    ActivityStream, WebSocketOptions, accept_websocket, connect_websocket, run_websocket,
)

STREAM_PROTOCOLS = ("tcp", "tls", "ws", "wss")
TLS_PROTOCOLS = ("tls", "wss")
WEBSOCKET_PROTOCOLS = ("ws", "wss")


def module_param(core: ProxyCore, module: str, name: str) -> Any:
    """A module parameter as the live host reads it: the loaded module's setting, else the table's default."""
    instance = core.modules.get(module)
    if instance is not None:
        return instance.param(name)
    table = exports_of(module)
    for spec in table.params if table is not None else ():
        if spec.name == name:
            return spec.default
    raise KeyError(f"{module} has no parameter {name}")


def _flag(value: Any) -> bool:
    try:
        return int(value) != 0
    except (TypeError, ValueError):
        return str(value).lower() in ("yes", "on", "true")


def websocket_options(core: ProxyCore, module: str, prefix: str) -> WebSocketOptions:
    """proto_ws's (prefix "ws") or proto_wss's (prefix "wss") parameters for the WebSocket layer."""
    return WebSocketOptions(
        require_origin=_flag(module_param(core, module, "require_origin")),
        resource=str(module_param(core, module, f"{prefix}_resource")),
        handshake_timeout=handshake_deadline(int(module_param(core, module, f"{prefix}_handshake_timeout"))))


class LiveServer:
    """Serve one ProxyCore on real sockets."""

    def __init__(self, core: ProxyCore, clock: Callable[[], float] = time.time) -> None:
        self.core = core
        self.clock = clock
        self.logger = core.logger
        settings = core.settings
        self.udp: dict[ListenSocket, UDPEndpoint] = {}
        self.stream_listeners: dict[ListenSocket, trio.SocketListener] = {}
        self.connections = ConnectionTable(settings.tcp_max_connections)
        self.handshaking = 0  # accepted connections whose TLS/WebSocket handshake is under way
        self.failed_handshakes = 0
        self._handshake_log = RateLimit(self.logger)
        self.tls_mgm = core.modules.get("tls_mgm")
        self.tls_handshake_timeout = handshake_deadline(int(module_param(core, "proto_tls", "tls_handshake_timeout")))
        self.tls_crlf_pingpong = _flag(module_param(core, "proto_tls", "tls_crlf_pingpong"))
        self.wss_tls_handshake_timeout = handshake_deadline(
            int(module_param(core, "proto_wss", "wss_tls_handshake_timeout")))
        self.ws_options = {"ws": websocket_options(core, "proto_ws", "ws"),
                           "wss": websocket_options(core, "proto_wss", "wss")}
        self._nursery: trio.Nursery | None = None
        self._timer_scope: trio.CancelScope | None = None
        self._timer_due = math.inf
        self._connecting: dict[tuple[str, str, int], list[bytes]] = {}
        self.dropped_sends = 0

    # ---------------------------------------------------------------------------------- life cycle
    async def open(self) -> None:
        """Bind every socket of the config (OSError when one cannot be bound; those opened are closed)."""
        if self.udp or self.stream_listeners:
            return
        try:
            for sock in self.core.sockets:
                if sock.proto == "udp":
                    self.udp[sock] = UDPEndpoint(sock)
                elif sock.proto in STREAM_PROTOCOLS:
                    self.stream_listeners[sock] = await open_listener(sock, self.core.settings.tcp_socket_backlog)
        except OSError:
            await self._close_sockets()
            raise

    async def _close_sockets(self) -> None:
        for endpoint in self.udp.values():
            endpoint.close()
        for listener in self.stream_listeners.values():
            with trio.CancelScope(shield=True):
                await listener.aclose()
        self.udp.clear()
        self.stream_listeners.clear()

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Open the sockets (unless open() did), start the core, serve until shutdown(); the sockets are
        closed and the modules' destroy() run on the way out."""
        core = self.core
        await self.open()
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for endpoint in self.udp.values():
                    nursery.start_soon(endpoint.serve, self._on_datagram, self._kick_timer)
                for sock, listener in self.stream_listeners.items():
                    nursery.start_soon(self._accept_loop, sock, listener)
                nursery.start_soon(self._timer_loop)
                if self.stream_listeners:
                    nursery.start_soon(self._sweep_idle)
                for module in core.modules.values():
                    nursery.start_soon(module.serve)
                core.wakeup = self._kick_timer  # core.call_soon(): work started outside a message runs at once
                self.dispatch(core.start(self.clock()))
                self._kick_timer()
                self.logger.notice(f"opensips-py serving {len(core.sockets)} socket(s)")
                task_status.started(self)
        finally:
            self._nursery = None
            await self._close_sockets()
            core.shutdown()

    def shutdown(self) -> None:
        """Stop serving: cancel everything the server started."""
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    # ---------------------------------------------------------------------------------- input
    def _on_datagram(self, data: bytes, address: tuple, listen: ListenSocket) -> None:
        now = self.clock()
        sends = self.core.receive(data, ReceiveInfo(listen, address[0], address[1], "udp", None, now), now)
        if sends:
            self.dispatch(sends)

    def _on_stream_message(self, data: bytes, conn: TCPConnection) -> None:
        now = self.clock()
        rcv = ReceiveInfo(conn.listen, conn.peer[0], conn.peer[1], conn.listen.proto, conn.id, now)
        sends = self.core.receive(data, rcv, now)
        if sends:
            self.dispatch(sends)
        self._kick_timer()

    # ---------------------------------------------------------------------------------- output
    def dispatch(self, sends: list[Send]) -> None:
        """Send what the core returned: datagrams at once, stream data onto its connection's queue."""
        for output in sends:
            if output.proto == "udp":
                endpoint = self.udp.get(output.socket) if output.socket is not None else None
                if endpoint is None:
                    endpoint = next(iter(self.udp.values()), None)
                if endpoint is None or not endpoint.sendto(output.data, output.host, output.port):
                    self.dropped_sends += 1
            elif output.proto in STREAM_PROTOCOLS:
                self._send_stream(output)
            else:
                self.dropped_sends += 1
                self.logger.error(f"cannot send over {output.proto}: not served")

    @property
    def _at_capacity(self) -> bool:
        """tcp_max_connections reached, counting the accepted connections still in their handshake."""
        return len(self.connections) + self.handshaking >= self.connections.max_connections

    def _send_stream(self, output: Send) -> None:
        conn = self.connections.find(output.connection_id, output.proto, output.host, output.port)
        if conn is not None:
            conn.last_activity = self.clock()  # sending keeps a connection alive too
            if not conn.queue(output.data):
                self.dropped_sends += 1
            return
        key = (output.proto, output.host, output.port)
        pending = self._connecting.get(key)
        if pending is not None:  # a connect is already under way: send once it is up
            pending.append(output.data)
            return
        if self._at_capacity:
            self.dropped_sends += 1
            self.logger.error(f"tcp_max_connections ({self.connections.max_connections}) reached: not "
                              f"connecting to {output.host}:{output.port}")
            return
        if self._nursery is None:
            self.dropped_sends += 1
            return
        self._connecting[key] = [output.data]
        self._nursery.start_soon(self._guarded, f"the {key[0]} connection to {key[1]}:{key[2]}", self._connect,
                                 output.socket, key)

    async def _connect(self, listen: ListenSocket | None, key: tuple[str, str, int]) -> None:
        """Open a connection to a peer (TCP, then TLS and/or the WebSocket upgrade), send what waited for it,
        then serve it like an accepted one. However it ends, nothing stays queued for it."""
        waiting = self._connecting.get(key)
        try:
            await self._open_connection(listen, key)
        finally:
            if waiting is not None and self._connecting.get(key) is waiting:  # ours, not a newer connect's
                self.dropped_sends += len(self._connecting.pop(key))

    async def _open_connection(self, listen: ListenSocket | None, key: tuple[str, str, int]) -> None:
        proto, host, port = key
        context = None
        if proto in TLS_PROTOCOLS:  # no client domain, no connection (proto_tls's conn_init fails first)
            context = self.tls_mgm.client_context(host, port) if self.tls_mgm is not None else None
            if context is None:
                self._connect_failed(key, "no TLS client domain matches it (tls_mgm client_domain)")
                return
        timeout = self.core.settings.tcp_connect_timeout / 1000
        stream = None
        try:
            with trio.move_on_after(timeout):
                local = listen.host if listen is not None and listen.host not in ("0.0.0.0", "::") else None
                stream = await trio.open_tcp_stream(host, port, local_address=local)
        except OSError as exc:
            self.logger.error(f"{proto} connect to {host}:{port} failed: {exc}")
        if stream is None:
            pending = self._connecting.pop(key, [])
            self.dropped_sends += len(pending)
            if pending:
                self.logger.error(f"{proto} connect to {host}:{port}: no connection within "
                                  f"{self.core.settings.tcp_connect_timeout} ms, {len(pending)} message(s) dropped")
            return
        if listen is None:
            listen = next(s for s in self.core.sockets if s.proto == proto)
        try:
            if context is not None:
                stream = await tls_handshake(stream, context, server_side=False,
                                             timeout=self.tls_handshake_timeout if proto == "tls"
                                             else self.wss_tls_handshake_timeout)
        except HandshakeFailed as exc:
            self._connect_failed(key, str(exc))
            return
        if proto in WEBSOCKET_PROTOCOLS:
            options = self.ws_options[proto]
            await self._websocket(stream, lambda nursery, watched: connect_websocket(nursery, watched, host, port,
                                                                                       options),
                                  lambda ws: self._connected(listen, key, ws),
                                  lambda reason: self._connect_failed(key, reason))
            return
        conn = self._connected(listen, key, stream)
        await run_connection(conn, self._on_stream_message, self._closed, self.clock, self.logger,
                             MAX_MESSAGE_SIZE, crlf_pingpong=proto != "tls" or self.tls_crlf_pingpong)

    async def _websocket(self, stream: trio.abc.Stream, upgrade: Callable, established: Callable,
                         refused: Callable[[str], None]) -> None:
        """The WebSocket upgrade of a (TCP or TLS) stream, `upgrade(nursery, watched stream)`, then its messages
        until it closes. The library's reader task lives in a nursery of this connection's own."""
        watched = ActivityStream(stream)
        async with trio.open_nursery() as ws_nursery:
            try:
                ws = await upgrade(ws_nursery, watched)
            except HandshakeFailed as exc:
                refused(str(exc))
                ws_nursery.cancel_scope.cancel()
                return
            conn = established(ws)
            watched.on_receive = lambda: setattr(conn, "last_activity", self.clock())  # pings keep it alive
            await run_websocket(conn, ws, self._on_stream_message, self._closed, self.clock, self.logger)
            ws_nursery.cancel_scope.cancel()

    async def _guarded(self, what: str, task: Callable, *args: Any) -> None:
        """Run one connection's task; a bug of ours there is logged and ends that connection only."""
        try:
            await task(*args)
        except Exception as exc:  # noqa: BLE001 - never let one connection stop the server
            text = "".join(traceback.format_exception(exc)).rstrip()
            self.logger.error(f"internal error on {what} (connection dropped, server continues): {text}")

    def _connected(self, listen: ListenSocket, key: tuple[str, str, int], stream: Any) -> TCPConnection:
        conn = self.connections.add(listen, (key[1], key[2]), stream, self.clock())
        for data in self._connecting.pop(key, []):
            conn.queue(data)
        return conn

    def _connect_failed(self, key: tuple[str, str, int], reason: str) -> None:
        proto, host, port = key
        pending = self._connecting.pop(key, [])
        self.dropped_sends += len(pending)
        self.logger.error(f"{proto} connection to {host}:{port} failed: {reason}; {len(pending)} message(s) dropped")

    async def _accept_loop(self, listen: ListenSocket, listener: trio.SocketListener) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:  # EMFILE and friends: log, breathe, go on
                self.logger.error(f"{listen.proto} accept on {listen} failed: {exc}")
                await trio.sleep(0.1)
                continue
            if self._at_capacity:
                self.logger.warning(f"tcp_max_connections ({self.connections.max_connections}) reached: "
                                    "refusing a connection")
                await stream.aclose()
                continue
            try:
                peer = stream.socket.getpeername()
                local = stream.socket.getsockname()
            except OSError:  # the peer is already gone
                await stream.aclose()
                continue
            assert self._nursery is not None
            if listen.proto == "tcp":
                conn = self.connections.add(listen, (peer[0], peer[1]), stream, self.clock())
                self._nursery.start_soon(run_connection, conn, self._on_stream_message, self._closed, self.clock,
                                         self.logger, MAX_MESSAGE_SIZE)
            else:
                self.handshaking += 1
                self._nursery.start_soon(self._guarded, f"a {listen.proto} connection from {peer[0]}:{peer[1]}",
                                         self._accept_handshake, listen, stream, (peer[0], peer[1]),
                                         (local[0], local[1]))

    async def _accept_handshake(self, listen: ListenSocket, stream: trio.SocketStream, peer: tuple[str, int],
                                local: tuple[str, int]) -> None:
        """TLS and/or the WebSocket upgrade of an accepted connection, then serve it."""
        counted = True

        def done() -> None:
            nonlocal counted
            if counted:
                counted = False
                self.handshaking -= 1

        try:
            transport: Any = stream
            try:
                if listen.proto in TLS_PROTOCOLS:
                    transport = await tls_handshake(stream, self._server_context(stream, local), server_side=True,
                                                    timeout=self.tls_handshake_timeout if listen.proto == "tls"
                                                    else self.wss_tls_handshake_timeout)
            except HandshakeFailed as exc:
                await trio.aclose_forcefully(stream)
                self._refused(listen, peer, str(exc))
                return
            if listen.proto in WEBSOCKET_PROTOCOLS:
                options = self.ws_options[listen.proto]

                def accepted(ws) -> TCPConnection:
                    done()
                    return self.connections.add(listen, peer, ws, self.clock())

                await self._websocket(transport, lambda nursery, watched: accept_websocket(nursery, watched, options),
                                      accepted, lambda reason: self._refused(listen, peer, reason))
                return
            done()
            conn = self.connections.add(listen, peer, transport, self.clock())
            await run_connection(conn, self._on_stream_message, self._closed, self.clock, self.logger,
                                 MAX_MESSAGE_SIZE, crlf_pingpong=self.tls_crlf_pingpong)
        finally:
            done()

    def _server_context(self, stream: trio.SocketStream, local: tuple[str, int]):
        """tls_mgm's context for the local address the client reached (a wildcard socket's real address)."""
        context = self.tls_mgm.server_context(local[0], local[1]) if self.tls_mgm is not None else None
        if context is None:
            raise HandshakeFailed(f"no TLS server domain matches {local[0]}:{local[1]}")
        return context

    def _refused(self, listen: ListenSocket, peer: tuple[str, int], reason: str) -> None:
        self.failed_handshakes += 1
        self._handshake_log.log(self.clock(), L_INFO, f"{listen.proto} connection from {peer[0]}:{peer[1]} on "
                                                      f"{listen} refused: {reason}")

    def _closed(self, conn: TCPConnection) -> None:
        self.connections.remove(conn)
        self.core.connection_closed(conn.id)

    async def _sweep_idle(self) -> None:
        """Close connections idle for longer than tcp_connection_lifetime."""
        lifetime = self.core.settings.tcp_connection_lifetime
        period = idle_deadline(lifetime)
        if math.isinf(period):
            return
        while True:
            await trio.sleep(period)
            limit = self.clock() - lifetime
            for conn in list(self.connections.by_id.values()):
                if conn.last_activity < limit:
                    self.logger.debug(f"tcp connection {conn.id} idle for {lifetime} s: closing it")
                    conn.close()

    # ---------------------------------------------------------------------------------- timers
    def _kick_timer(self) -> None:
        """The core may want to wake earlier than the timer task sleeps: move its deadline."""
        due = self.core.next_timer()
        if due is not None and due < self._timer_due and self._timer_scope is not None:
            self._timer_due = due
            self._timer_scope.deadline = trio.current_time() + max(0.0, due - self.clock())

    async def _timer_loop(self) -> None:
        while True:
            due = self.core.next_timer()
            self._timer_due = due if due is not None else math.inf
            with trio.CancelScope() as scope:
                self._timer_scope = scope
                if due is not None:
                    scope.deadline = trio.current_time() + max(0.0, due - self.clock())
                await trio.sleep_forever()
            self._timer_scope = None
            now = self.clock()
            due = self.core.next_timer()
            if due is not None and due <= now:
                self.dispatch(self.core.on_timer(now))
