"""TCP for the live host: listeners, connections and the connection table.

Each connection has a reader (bytes -> StreamFramer -> whole messages, RFC 5626 pings answered with a CRLF
pong) and a writer (a bounded queue of bytes to send), both in the connection's own nursery, which lives in
the server's nursery: closing a connection is cancelling its scope. The table finds a connection by id (a
reply goes back on the connection its request came on) and by peer address (a request towards a peer that
reached us over TCP reuses that connection; otherwise a new one is opened, within tcp_connect_timeout).
tcp_max_connections bounds the table; tcp_connection_lifetime closes connections idle for that long.

TLS connections are the same thing over a trio.SSLStream (transport/tls.py makes it); WebSocket connections
(transport/ws.py) share the record, the table and the writer queue, with messages instead of a byte stream.
"""
from __future__ import annotations

import itertools
import math
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import trio

from opensips_py.script.context import ListenSocket
from opensips_py.sip import CRLF_PONG, KeepAlive, SIPParseError, StreamFramer

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.runtime.log import Logger

SEND_QUEUE = 4096  # messages waiting on one connection before new ones are dropped
READ_SIZE = 65536
CLOSE_TIMEOUT = 1.0  # seconds a graceful close (TLS close_notify, WebSocket close frame) may take

OnMessage = Callable[[bytes, "TCPConnection"], None]


@dataclass(eq=False)
class TCPConnection:
    """One stream connection (TCP, TLS, WS or WSS: the protocol is its socket's), accepted or opened by us."""

    id: int
    listen: ListenSocket
    peer: tuple[str, int]
    stream: Any = None  # a trio Stream (TCP, TLS) or a trio_websocket WebSocketConnection (WS, WSS)
    last_activity: float = 0.0
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    closed: bool = False

    def __post_init__(self) -> None:
        self._send, self._queue = trio.open_memory_channel(SEND_QUEUE)

    def queue(self, data: bytes) -> bool:
        """Queue bytes for the writer; False when the queue is full or the connection is gone."""
        if self.closed:
            return False
        try:
            self._send.send_nowait(data)
            return True
        except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
            return False

    def close(self) -> None:
        self.closed = True
        self.scope.cancel()


class ConnectionTable:
    """Every live TCP connection, by id and by peer address (proto, host, port)."""

    def __init__(self, max_connections: int) -> None:
        self.max_connections = max_connections
        self.by_id: dict[int, TCPConnection] = {}
        self.by_peer: dict[tuple[str, str, int], TCPConnection] = {}
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self.by_id)

    @property
    def full(self) -> bool:
        return len(self.by_id) >= self.max_connections

    def add(self, listen: ListenSocket, peer: tuple[str, int], stream: Any, now: float) -> TCPConnection:
        conn = TCPConnection(next(self._ids), listen, peer, stream, now)
        self.by_id[conn.id] = conn
        self.by_peer[(listen.proto, peer[0], peer[1])] = conn
        return conn

    def remove(self, conn: TCPConnection) -> None:
        self.by_id.pop(conn.id, None)
        key = (conn.listen.proto, conn.peer[0], conn.peer[1])
        if self.by_peer.get(key) is conn:
            del self.by_peer[key]

    def find(self, connection_id: int | None, proto: str, host: str, port: int) -> TCPConnection | None:
        if connection_id is not None:
            conn = self.by_id.get(connection_id)
            if conn is not None and not conn.closed:
                return conn
        conn = self.by_peer.get((proto, host, port))
        return conn if conn is not None and not conn.closed else None


async def open_listener(listen: ListenSocket, backlog: int) -> trio.SocketListener:
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    sock = trio.socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass
    try:
        await sock.bind((listen.host, listen.port))
    except OSError:
        sock.close()
        raise
    sock.listen(backlog)
    return trio.SocketListener(sock)


async def run_connection(conn: TCPConnection, on_message: OnMessage, on_closed: Callable[[TCPConnection], None],
                         clock: Callable[[], float], logger: "Logger", max_size: int,
                         crlf_pingpong: bool = True) -> None:
    """Read and write one connection until either side ends it; then close and report it."""
    stream = conn.stream
    assert stream is not None
    framer = StreamFramer(max_size)
    try:
        with conn.scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_writer, conn, stream, logger)
                while True:
                    try:
                        data = await stream.receive_some(READ_SIZE)
                    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                        break
                    if not data:
                        break
                    conn.last_activity = clock()
                    try:
                        frames = framer.feed(data)
                    except SIPParseError as error:
                        logger.error(f"{conn.listen.proto} connection {conn.id} from {conn.peer[0]}:{conn.peer[1]}: "
                                     f"framing lost ({error}), closing it")
                        break
                    for frame in frames:
                        if frame is KeepAlive.PING:
                            if crlf_pingpong:
                                conn.queue(CRLF_PONG)
                        elif isinstance(frame, bytes):
                            on_message(frame, conn)
                nursery.cancel_scope.cancel()
    finally:
        conn.closed = True
        await close_stream(stream)
        on_closed(conn)


async def close_stream(stream: trio.abc.AsyncResource) -> None:
    """Close gracefully within CLOSE_TIMEOUT (a TLS close_notify to a peer that reads nothing would wait
    forever), then forcefully; never raises, and runs even inside a cancelled scope."""
    with trio.CancelScope(shield=True):
        with trio.move_on_after(CLOSE_TIMEOUT) as scope:
            try:
                await stream.aclose()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
        if scope.cancelled_caught:
            try:
                await trio.aclose_forcefully(stream)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass


async def _writer(conn: TCPConnection, stream: trio.abc.SendStream, logger: "Logger") -> None:
    async for data in conn._queue:  # noqa: SLF001 - the connection's own queue
        try:
            await stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            logger.info(f"{conn.listen.proto} connection {conn.id}: send failed ({exc!r}), closing it")
            conn.close()
            return


def idle_deadline(lifetime: int) -> float:
    """How often the idle sweeper looks (at most every second)."""
    return min(1.0, max(lifetime / 4, 0.05)) if lifetime > 0 else math.inf
