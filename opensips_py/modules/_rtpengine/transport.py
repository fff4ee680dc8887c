"""The ng exchange with one node: a blocking round trip, as OpenSIPS's workers do it (send_rtpe_command).

UDP: one connected socket per node, kept between commands. Before sending, stale datagrams (late replies
to earlier commands) are drained. The datagram ``"<cookie> <bencoded dict>"`` is sent up to `retries`
times with the same cookie, each followed by a wait of up to `timeout` seconds for a reply that starts
with that cookie; other datagrams are skipped. An ICMP "port unreachable" (nothing listens) makes that
try fail at once instead of waiting. The cookie is ``"<pid>_<random>_<sequence>"``.

unix: a stream connection per command, the bare dictionary written, one read for the reply (no cookie).

`NgTransport` is the only part of the module that touches sockets; tests on the virtual network put a
different object with the same `exchange()` in `Module.transport`.
"""
from __future__ import annotations

import os
import random
import select
import socket
import time
from typing import Protocol

from opensips_py.modules._rtpengine.nodes import Node

MAX_REPLY = 0x10000


class Exchange(Protocol):
    """What the module needs from a transport."""

    def exchange(self, node: Node, payload: bytes) -> bytes | None:
        """Send the bencoded `payload` to `node`; the reply's document, or None when the node did not
        answer (the module then disables it)."""

    def close(self) -> None: ...


class NgTransport:
    """Blocking UDP / unix-stream ng client for every node of the module."""

    def __init__(self, timeout: float = 1.0, retries: int = 5) -> None:
        self.timeout = timeout
        self.retries = retries
        self._sockets: dict[str, socket.socket] = {}
        self._rand = random.randrange(10000)
        self._sequence = 0

    def new_cookie(self) -> bytes:
        cookie = f"{os.getpid()}_{self._rand}_{self._sequence}".encode()
        self._sequence += 1
        return cookie

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()

    def forget(self, node: Node) -> None:
        """Close a node's socket (after an I/O error; the next exchange reconnects)."""
        sock = self._sockets.pop(node.url, None)
        if sock is not None:
            sock.close()

    def exchange(self, node: Node, payload: bytes) -> bytes | None:
        if node.kind == "unix":
            return self._exchange_unix(node, payload)
        return self._exchange_udp(node, payload)

    # ---------------------------------------------------------------------------------- UDP
    def _socket(self, node: Node) -> socket.socket | None:
        sock = self._sockets.get(node.url)
        if sock is not None:
            return sock
        host, port = node.host_port()
        family = socket.AF_INET6 if node.kind == "udp6" else socket.AF_INET
        try:
            infos = socket.getaddrinfo(host, port, family, socket.SOCK_DGRAM)
            sock = socket.socket(family, socket.SOCK_DGRAM)
        except OSError:
            return None
        try:
            sock.setblocking(False)
            sock.connect(infos[0][4])
        except OSError:
            sock.close()
            return None
        self._sockets[node.url] = sock
        return sock

    def _drain(self, node: Node, sock: socket.socket) -> socket.socket | None:
        for _ in range(1000):  # bounded: a flood of stale datagrams cannot keep us here
            try:
                sock.recv(MAX_REPLY)
            except BlockingIOError:
                return sock
            except OSError:  # a pending ICMP error from an earlier send: start afresh
                self.forget(node)
                return self._socket(node)
        return sock

    def _exchange_udp(self, node: Node, payload: bytes) -> bytes | None:
        sock = self._socket(node)
        if sock is None:
            return None
        sock = self._drain(node, sock)
        if sock is None:
            return None
        cookie = self.new_cookie()
        datagram = cookie + b" " + payload
        for _attempt in range(max(self.retries, 0)):
            if sock is None:
                sock = self._socket(node)
                if sock is None:
                    return None
            try:
                sock.send(datagram)
            except OSError:
                self.forget(node)
                sock = None
                continue
            reply = self._wait_reply(node, sock, cookie)
            if reply is not None:
                return reply
            if node.url not in self._sockets:
                sock = None
        return None

    def _wait_reply(self, node: Node, sock: socket.socket, cookie: bytes) -> bytes | None:
        deadline = time.monotonic() + self.timeout
        prefix = cookie + b" "
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            if not poller.poll(left * 1000):
                return None
            try:
                data = sock.recv(MAX_REPLY)
            except BlockingIOError:
                continue
            except OSError:  # ECONNREFUSED: nothing listens there; this try failed
                self.forget(node)
                return None
            if data.startswith(prefix):
                return data[len(prefix):]
            if data == cookie:
                return b""

    # ---------------------------------------------------------------------------------- unix stream
    def _exchange_unix(self, node: Node, payload: bytes) -> bytes | None:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(node.address)
                sock.sendall(payload)
                data = sock.recv(MAX_REPLY)
        except OSError:
            return None
        return data or None


class InProcessRelays:
    """An `Exchange` backed by our relay's control plane (opensips_py.media.control.MediaRelay) objects in this
    process, by node URL: the virtual network and replay drive the module with no relay process and no ng
    socket. A node without a relay here does not answer (the module disables it, as it would a dead one).
    Without an event loop the relays bind their media ports but move no packets."""

    def __init__(self, relays: dict[str, object], source: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        self.relays = relays
        self.source = source
        self._sequence = 0

    def exchange(self, node: Node, payload: bytes) -> bytes | None:
        relay = self.relays.get(node.url)
        if relay is None:
            return None
        self._sequence += 1
        cookie = f"{os.getpid()}_0_{self._sequence}".encode()
        reply = relay.handle_datagram(cookie + b" " + payload, self.source)
        if reply is None or not reply.startswith(cookie + b" "):
            return None
        return reply[len(cookie) + 1:]

    def close(self) -> None:
        """The relays belong to the caller (MediaRelay.close() releases their ports)."""
