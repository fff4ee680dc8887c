"""The virtual host: an in-memory network and a manual clock around one ProxyCore.

A test (and, later, `opensips-py replay`) sends bytes "from" an address and gets back, at once and always the
same way, what the proxy sent:

    net = VirtualNetwork(ProxyCore.from_text(cfg, resolver=Resolver(system=False)))
    net.start()
    sent = net.send(invite_bytes, src=("192.0.2.10", 5060))     # -> [Send(...)], in order
    net.advance(5)                                               # timers due in the next 5 s run

Peers can be attached to addresses (`net.attach("192.0.2.20", 5060, uas)`): what the proxy sends them is
handed to the peer's function, and the bytes it returns are delivered back to the proxy from that address,
so a UAC, the proxy and a UAS can run a whole call in memory (aioquic's tests run client and server so).

TCP is modelled as connections with ids: bytes sent "from" a peer over TCP go through a StreamFramer per
connection, exactly as the live host does, and the proxy's replies come back on the same connection.
Everything is bounded: a ping-pong between peers stops after `max_steps` deliveries.
"""
from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable

from opensips_py.runtime.core import ProxyCore
from opensips_py.script.context import ListenSocket, ReceiveInfo, Send
from opensips_py.sip import CRLF_PONG, KeepAlive, SIPParseError, StreamFramer

EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z: the virtual clock starts here, so logs and $Ts are stable

PeerHandler = Callable[[bytes, tuple[str, int]], Iterable[bytes] | None]


def sip(text: str) -> bytes:
    """A SIP message written with plain newlines in a test, as wire bytes (CRLF line ends)."""
    head, sep, body = text.partition("\n\n")
    head = head.strip("\n").replace("\n", "\r\n")
    return (head + "\r\n\r\n" + body.replace("\n", "\r\n")).encode("utf-8") if sep else \
        (head + "\r\n\r\n").encode("utf-8")


class ManualClock:
    """Time that moves only when told to."""

    def __init__(self, start: float = EPOCH) -> None:
        self.now = start

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now

    def __call__(self) -> float:
        return self.now


@dataclass
class _Peer:
    proto: str
    host: str
    port: int
    handler: PeerHandler


class VirtualNetwork:
    """One proxy on an in-memory network. `sent` keeps every Send of the proxy, in order."""

    def __init__(self, core: ProxyCore, clock: ManualClock | None = None, max_steps: int = 1000) -> None:
        self.core = core
        self.clock = clock or ManualClock()
        self.max_steps = max_steps
        self.sent: list[Send] = []
        self._peers: dict[tuple[str, str, int], _Peer] = {}
        self._ids = itertools.count(1)
        # connection id -> (proto, peer address, proxy socket); and back from (proto, peer, socket)
        self._conn_ends: dict[int, tuple[str, tuple[str, int], ListenSocket]] = {}
        self._conn_by_peer: dict[tuple[str, str, int], int] = {}
        self._framers: dict[int, StreamFramer] = {}
        self._started = False

    # ---------------------------------------------------------------------------------- driving
    def start(self) -> list[Send]:
        """Run the proxy's start-up (startup_route, timers)."""
        self._started = True
        return self._deliver_all(self.core.start(self.clock.now))

    def send(self, data: bytes | str, src: tuple[str, int] = ("192.0.2.10", 5060), *, proto: str = "udp",
             to: ListenSocket | None = None) -> list[Send]:
        """Deliver `data` from `src` to the proxy (its first socket of `proto`, or `to`); returns what the
        proxy sent as a result, including what attached peers answered in turn."""
        if not self._started:
            self.start()
        raw = sip(data) if isinstance(data, str) else data
        sock = to or self._socket(proto)
        before = len(self.sent)
        self._inject(raw, src, proto, sock)
        return self.sent[before:]

    def advance(self, seconds: float) -> list[Send]:
        """Move the clock forward, running every timer that falls due on the way, in time order."""
        if not self._started:
            self.start()
        before = len(self.sent)
        target = self.clock.now + seconds
        for _ in range(1_000_000):
            due = self.core.next_timer()
            if due is None or due > target:
                break
            self.clock.now = max(self.clock.now, due)
            self._deliver_all(self.core.on_timer(self.clock.now))
        self.clock.now = target
        return self.sent[before:]

    def attach(self, host: str, port: int, handler: PeerHandler, proto: str = "udp") -> None:
        """Put a peer at host:port: what the proxy sends there goes to `handler(data, src)`, and each bytes
        value it returns is sent back to the proxy from host:port."""
        self._peers[(proto, host, port)] = _Peer(proto, host, port, handler)

    def close_connection(self, connection_id: int) -> None:
        """The peer closed a TCP connection."""
        end = self._conn_ends.pop(connection_id, None)
        self._framers.pop(connection_id, None)
        if end is not None:
            proto, (host, port), _sock = end
            self._conn_by_peer.pop((proto, host, port), None)
        self.core.connection_closed(connection_id)

    # ---------------------------------------------------------------------------------- internals
    def _socket(self, proto: str) -> ListenSocket:
        for sock in self.core.sockets:
            if sock.proto == proto:
                return sock
        raise ValueError(f"the proxy has no {proto} socket")

    def _connection(self, proto: str, peer: tuple[str, int], sock: ListenSocket) -> int:
        key = (proto, peer[0], peer[1])
        conn = self._conn_by_peer.get(key)
        if conn is None:
            conn = next(self._ids)
            self._conn_by_peer[key] = conn
            self._conn_ends[conn] = (proto, peer, sock)
            self._framers[conn] = StreamFramer()
        return conn

    def _inject(self, raw: bytes, src: tuple[str, int], proto: str, sock: ListenSocket) -> None:
        queue: deque[tuple[bytes, tuple[str, int], str, ListenSocket]] = deque([(raw, src, proto, sock)])
        steps = 0
        while queue and steps < self.max_steps:
            steps += 1
            data, peer, proto, sock = queue.popleft()
            sends = self._receive(data, peer, proto, sock)
            for output in self._record(sends):
                queue.extend(self._to_peer(output))

    def _receive(self, data: bytes, peer: tuple[str, int], proto: str, sock: ListenSocket) -> list[Send]:
        now = self.clock.now
        if proto == "udp":
            return self.core.receive(data, ReceiveInfo(sock, peer[0], peer[1], proto, None, now), now)
        conn = self._connection(proto, peer, sock)
        try:
            frames = self._framers[conn].feed(data)
        except SIPParseError:
            self.close_connection(conn)
            return []
        out: list[Send] = []
        for frame in frames:
            if frame is KeepAlive.PING:
                out.append(Send(CRLF_PONG, proto, peer[0], peer[1], sock, conn))
            elif isinstance(frame, bytes):
                out.extend(self.core.receive(frame, ReceiveInfo(sock, peer[0], peer[1], proto, conn, now), now))
        return out

    def _record(self, sends: list[Send]) -> list[Send]:
        recorded = []
        for output in sends:
            if output.proto != "udp" and output.connection_id is None:
                conn = self._connection(output.proto, (output.host, output.port), output.socket)
                output = Send(output.data, output.proto, output.host, output.port, output.socket, conn)
            self.sent.append(output)
            recorded.append(output)
        return recorded

    def _to_peer(self, output: Send) -> list[tuple[bytes, tuple[str, int], str, ListenSocket]]:
        host, port = output.host, output.port
        if output.connection_id is not None and output.connection_id in self._conn_ends:
            _proto, (host, port), _sock = self._conn_ends[output.connection_id]
        peer = self._peers.get((output.proto, host, port))
        if peer is None:
            return []
        answers = peer.handler(output.data, (output.socket.via_host, output.socket.via_port)) or ()
        return [(answer, (host, port), output.proto, output.socket) for answer in answers]

    def _deliver_all(self, sends: list[Send]) -> list[Send]:
        before = len(self.sent)
        queue = deque(self._record(sends))
        steps = 0
        while queue and steps < self.max_steps:
            steps += 1
            for data, peer, proto, sock in self._to_peer(queue.popleft()):
                queue.extend(self._record(self._receive(data, peer, proto, sock)))
        return self.sent[before:]
