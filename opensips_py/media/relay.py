"""Media sockets: one non-blocking UDP socket per local port, read from the event loop.

The relay process runs uvloop. Each media socket is registered with ``loop.add_reader``; when it becomes
readable the callback drains up to `BATCH` datagrams with plain ``recvfrom`` and hands each one to its
`PacketStream` (session.py), which forwards it with a plain non-blocking ``sendto``. No futures, no
transports, no per-packet allocation beyond the datagram itself: this is the relay's hot path.

Opening a socket is synchronous (bind, then add_reader), so an offer can allocate its ports and write
them into the SDP in one step. Without a loop (unit tests of the session model) sockets are bound but
not read.
"""
from __future__ import annotations

import asyncio
import socket
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.media.session import PacketStream

BATCH = 64
MAX_DATAGRAM = 65_535


class LocalSocket:
    """A bound UDP socket on one of our media ports, owned by at most one stream at a time."""

    __slots__ = ("sock", "port", "address", "stream", "layer", "registered", "ipv6", "__weakref__")

    def __init__(self, sock: socket.socket, address: str, port: int, layer: "SocketLayer") -> None:
        self.sock = sock
        self.address = address
        self.port = port
        self.ipv6 = ":" in address
        self.stream: PacketStream | None = None
        self.layer = layer
        self.registered = False

    def on_readable(self) -> None:
        """Drain what the kernel has queued (bounded), one `receive` per datagram."""
        recvfrom = self.sock.recvfrom
        stream = self.stream
        if stream is None:
            # a port whose stream is gone: read and drop, or the loop would spin on it
            for _ in range(BATCH):
                try:
                    recvfrom(MAX_DATAGRAM)
                except OSError:
                    return
            return
        receive = stream.receive
        ipv6 = self.ipv6
        now = time.time()
        for _ in range(BATCH):
            try:
                data, source = recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                return
            except OSError:
                # ICMP errors from an earlier send surface here (ECONNREFUSED); count and go on.
                stream.errors += 1
                continue
            receive(data, source[:2] if ipv6 else source, now)

    def close(self) -> None:
        self.layer.release(self)


class SocketLayer:
    """Binds media sockets and registers them with the event loop (when there is one)."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop
        self.open: dict[int, LocalSocket] = {}

    def bind(self, address: str, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind((address, port))
        except OSError:
            sock.close()
            raise
        return sock

    def adopt(self, sock: socket.socket, address: str) -> LocalSocket:
        port = sock.getsockname()[1]
        local = LocalSocket(sock, address, port, self)
        if self.loop is not None:
            self.loop.add_reader(sock.fileno(), local.on_readable)
            local.registered = True
        self.open[id(local)] = local
        return local

    def release(self, local: LocalSocket) -> None:
        if self.open.pop(id(local), None) is None:
            return
        if local.registered and self.loop is not None:
            self.loop.remove_reader(local.sock.fileno())
            local.registered = False
        local.stream = None
        local.sock.close()

    def close_all(self) -> None:
        for local in list(self.open.values()):
            self.release(local)
