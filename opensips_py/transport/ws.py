"""SIP over WebSocket (RFC 7118) for the live host, with trio-websocket: ws over TCP, wss over TLS.

Accepting: the HTTP upgrade request must offer the `sip` subprotocol (§4) and, with proto_ws/proto_wss's
require_origin (the default), carry an Origin header; otherwise it is answered `400 Bad Request` with
`Sec-WebSocket-Version: 13`, as OpenSIPS does, and closed. Any request path is accepted (OpenSIPS's
ws_resource is the path of the connections it opens). Plain HTTP that is no upgrade at all gets the 400 of
the WebSocket library and the connection is closed; the server goes on.

Messages: each WebSocket message (text or binary) is one SIP message (§5); no Content-Length is needed.
We send text messages (binary when the bytes are not UTF-8, since a text message must be). A message that is
only CRLFs is the keep-alive of SIP.js and friends (the RFC 5626 double CRLF inside a message): it is
answered with one CRLF. WebSocket pings are answered by the library; any frame, pings included, counts as
activity for tcp_connection_lifetime.

Opening: a request towards a ws:/wss: destination we have no connection to opens one (proto_ws is a client
too): TCP (+ TLS with tls_mgm's client domain), then the upgrade to `<ws_resource>` offering `sip`.
A browser cannot be reached that way: its Contact has an .invalid host, and only the connection it opened
leads to it, which the connection table finds by its address (the registrar's received address).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import trio
from trio_websocket import (
    ConnectionClosed, ConnectionRejected, HandshakeError, WebSocketConnection, wrap_client_stream,
    wrap_server_stream,
)

from opensips_py.sip import MAX_MESSAGE_SIZE
from opensips_py.transport.tcp import TCPConnection, close_stream
from opensips_py.transport.tls import HandshakeFailed

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.runtime.log import Logger

SUBPROTOCOL = "sip"
KEEPALIVE_PONG = "\r\n"
_BAD_REQUEST_HEADERS = [(b"Sec-WebSocket-Version", b"13")]

OnMessage = Callable[[bytes, TCPConnection], None]


@dataclass(frozen=True)
class WebSocketOptions:
    """What proto_ws / proto_wss's parameters say (docs/runtime.md, "TLS, WebSocket")."""

    require_origin: bool = True
    resource: str = "/"
    handshake_timeout: float = 5.0  # seconds, for the upgrade (after TLS for wss)


class ActivityStream(trio.abc.Stream):
    """A stream that tells when bytes arrive (pings keep a connection alive too) and when it ends.

    trio-websocket reads the stream in its own task and, when the upgrade request is not one, answers it
    and closes the stream without ever producing the request we wait for: `ended` lets us stop waiting."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.ended = trio.Event()
        self.on_receive: Callable[[], None] | None = None

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        try:
            data = await self.stream.receive_some(max_bytes)
        except BaseException:
            self.ended.set()
            raise
        if not data:
            self.ended.set()
        elif self.on_receive is not None:
            self.on_receive()
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        self.ended.set()
        await self.stream.aclose()


async def accept_websocket(nursery: trio.Nursery, stream: ActivityStream, options: WebSocketOptions
                           ) -> WebSocketConnection:
    """Run the server side of the upgrade within options.handshake_timeout; HandshakeFailed when refused
    (the refusal is answered and the stream closed). The library's reader task lives in `nursery`."""
    reason = None
    with trio.move_on_after(options.handshake_timeout) as deadline:
        request = await _upgrade_request(nursery, stream)
        if request is None:
            reason = "not a WebSocket upgrade request (answered 400)"
        elif SUBPROTOCOL not in [p.strip().lower() for p in request.proposed_subprotocols]:
            reason = f"the upgrade does not offer the sip subprotocol (offered: " \
                     f"{', '.join(request.proposed_subprotocols) or 'none'}): answered 400"
        elif options.require_origin and not any(name.lower() == b"origin" for name, _ in request.headers):
            reason = "the upgrade has no Origin header (require_origin): answered 400"
        else:
            try:
                return await request.accept(subprotocol=SUBPROTOCOL)
            except ConnectionClosed:
                reason = "the peer went away during the upgrade"
        if request is not None:
            try:
                await request.reject(400, extra_headers=list(_BAD_REQUEST_HEADERS))
            except ConnectionClosed:
                pass
    if deadline.cancelled_caught:
        reason = f"no WebSocket upgrade within {options.handshake_timeout:g} s"
    await close_stream(stream)
    raise HandshakeFailed(reason or "refused")


async def _upgrade_request(nursery: trio.Nursery, stream: ActivityStream):
    """The upgrade request, or None when the stream ended first (the library refused it, or the peer left)."""
    found = None
    async with trio.open_nursery() as race:
        async def request() -> None:
            nonlocal found
            found = await wrap_server_stream(nursery, stream, max_message_size=MAX_MESSAGE_SIZE)
            race.cancel_scope.cancel()

        async def ended() -> None:
            await stream.ended.wait()
            await trio.sleep(0)  # a request parsed from the last bytes still wins
            race.cancel_scope.cancel()

        race.start_soon(request)
        race.start_soon(ended)
    return found


async def connect_websocket(nursery: trio.Nursery, stream: ActivityStream, host: str, port: int,
                            options: WebSocketOptions) -> WebSocketConnection:
    """Run the client side of the upgrade (proto_ws's client role); HandshakeFailed if refused or late."""
    host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    reason = None
    with trio.move_on_after(options.handshake_timeout) as deadline:
        try:
            ws = await wrap_client_stream(nursery, stream, host_header, options.resource,
                                          subprotocols=[SUBPROTOCOL], max_message_size=MAX_MESSAGE_SIZE)
        except ConnectionRejected as exc:
            reason = f"the upgrade was refused with HTTP {exc.status_code}"
        except (HandshakeError, ConnectionClosed) as exc:
            reason = f"the upgrade failed ({exc!r})"
        else:
            if ws.subprotocol != SUBPROTOCOL:
                reason = f"the server did not select the sip subprotocol ({ws.subprotocol!r})"
            else:
                return ws
    if deadline.cancelled_caught:
        reason = f"no WebSocket upgrade within {options.handshake_timeout:g} s"
    await close_stream(stream)
    raise HandshakeFailed(reason or "refused")


def is_keepalive(message: str | bytes) -> bool:
    """A message of CRLFs only (the double-CRLF keep-alive some WebSocket SIP clients send)."""
    return 0 < len(message) <= 4 and not (message.strip("\r\n") if isinstance(message, str)
                                          else message.strip(b"\r\n"))


async def run_websocket(conn: TCPConnection, ws: WebSocketConnection, on_message: OnMessage,
                        on_closed: Callable[[TCPConnection], None], clock: Callable[[], float],
                        logger: "Logger") -> None:
    """Read SIP messages from one WebSocket and write the queued ones, until either side ends it."""
    try:
        with conn.scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_writer, conn, ws, logger)
                while True:
                    try:
                        message = await ws.get_message()
                    except ConnectionClosed:
                        break
                    conn.last_activity = clock()
                    if is_keepalive(message):
                        conn.queue(KEEPALIVE_PONG.encode())
                        continue
                    on_message(message.encode("utf-8") if isinstance(message, str) else bytes(message), conn)
                nursery.cancel_scope.cancel()
    finally:
        conn.closed = True
        await close_stream(ws)
        on_closed(conn)


async def _writer(conn: TCPConnection, ws: WebSocketConnection, logger: "Logger") -> None:
    async for data in conn._queue:  # noqa: SLF001 - the connection's own queue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            message: str | bytes = data
        else:
            message = text
        try:
            await ws.send_message(message)
        except ConnectionClosed as exc:
            logger.info(f"{conn.listen.proto} connection {conn.id}: send failed ({exc!r}), closing it")
            conn.close()
            return
