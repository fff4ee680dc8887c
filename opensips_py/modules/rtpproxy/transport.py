"""The rtpproxy control exchange with one node: a blocking round trip, as OpenSIPS's send_rtpp_command().

- udp/udp6: one connected socket per node, kept. Stale datagrams are drained first; the command goes as
  ``"<cookie> <command>"`` (cookie ``"<pid>_<random>_<sequence>"``) up to `retries` times, each try
  waiting up to `timeout` seconds for a datagram starting with the cookie. An ICMP "port unreachable"
  (nothing listens) fails the exchange at once.
- tcp/tcp6/cunix: one connection per node, commands end with a newline, the reply is one line.
- unix: a connection per command, the command written as is, one read for the reply.

The reply comes back without the cookie and without its trailing newline; None means the node did not
answer (the module disables it).
"""
from __future__ import annotations

import os
import random
import select
import socket
import time

from opensips_py.modules.rtpproxy.nodes import Node

BUF_SIZE = 256  # RTPPROXY_BUF_SIZE: a longer reply is cut, as in OpenSIPS


class ControlTransport:
    def __init__(self, timeout: float = 1.0, retries: int = 5) -> None:
        self.timeout = timeout
        self.retries = retries
        self._sockets: dict[int, socket.socket] = {}
        self._rand = random.randrange(1 << 15)
        self._sequence = 0

    def cookie(self) -> str:
        value = f"{os.getpid()}_{self._rand}_{self._sequence}"
        self._sequence += 1
        return value

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()

    def forget(self, node: Node) -> None:
        sock = self._sockets.pop(node.index, None)
        if sock is not None:
            sock.close()

    def exchange(self, node: Node, command: str) -> str | None:
        data = command.encode("utf-8", "surrogateescape")
        if node.mode == "unix":
            reply = self._unix(node, data)
        elif node.is_stream:
            reply = self._stream(node, data)
        else:
            reply = self._datagram(node, data)
        if reply is None:
            return None
        return reply.decode("utf-8", "replace").rstrip("\r\n")

    # ---------------------------------------------------------------------------------- sockets
    def _connect(self, node: Node) -> socket.socket | None:
        sock = self._sockets.get(node.index)
        if sock is not None:
            return sock
        stream = node.is_stream
        try:
            if node.mode == "cunix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout)
                sock.connect(node.address)
            else:
                host, port = node.host_port()
                family = socket.AF_INET6 if node.mode in ("udp6", "tcp6") else socket.AF_INET
                kind = socket.SOCK_STREAM if stream else socket.SOCK_DGRAM
                info = socket.getaddrinfo(host, port, family, kind)[0]
                sock = socket.socket(info[0], kind)
                sock.settimeout(self.timeout)
                sock.connect(info[4])
            sock.setblocking(False)
        except OSError:
            if sock is not None:
                sock.close()
            return None
        self._sockets[node.index] = sock
        return sock

    def _wait(self, sock: socket.socket, left: float) -> bool:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(max(left, 0) * 1000))

    def _datagram(self, node: Node, data: bytes) -> bytes | None:
        sock = self._connect(node)
        if sock is None:
            return None
        for _ in range(1000):  # drain late replies of earlier commands (bounded)
            try:
                sock.recv(BUF_SIZE)
            except BlockingIOError:
                break
            except OSError:  # a pending ICMP error: start afresh
                self.forget(node)
                sock = self._connect(node)
                if sock is None:
                    return None
                break
        cookie = self.cookie().encode()
        datagram = cookie + b" " + data
        for _attempt in range(max(self.retries, 1)):
            try:
                sock.send(datagram)
            except OSError:
                self.forget(node)
                return None
            deadline = time.monotonic() + self.timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not self._wait(sock, left):
                    break
                try:
                    reply = sock.recv(BUF_SIZE)
                except BlockingIOError:
                    continue
                except OSError:  # ECONNREFUSED: nothing listens there
                    self.forget(node)
                    return None
                if reply.startswith(cookie):
                    rest = reply[len(cookie):]
                    return rest[1:] if rest.startswith(b" ") else rest
        return None

    def _stream(self, node: Node, data: bytes) -> bytes | None:
        sock = self._connect(node)
        if sock is None:
            return None
        try:
            sock.setblocking(True)
            sock.settimeout(self.timeout)
            sock.sendall(data + b"\n")
            buf = b""
            deadline = time.monotonic() + self.timeout
            while b"\n" not in buf:
                if time.monotonic() > deadline or len(buf) >= BUF_SIZE:
                    raise OSError("no complete reply")
                chunk = sock.recv(BUF_SIZE - len(buf))
                if not chunk:
                    raise OSError("connection closed")
                buf += chunk
            sock.setblocking(False)
        except OSError:
            self.forget(node)
            return None
        if not buf.endswith(b"\n"):  # garbage after the newline
            self.forget(node)
            return None
        return buf

    def _unix(self, node: Node, data: bytes) -> bytes | None:
        for _retry in range(2):  # one retry on a reset connection
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                    sock.settimeout(self.timeout)
                    sock.connect(node.address)
                    sock.sendall(data)
                    reply = sock.recv(BUF_SIZE - 1)
            except ConnectionResetError:
                continue
            except OSError:
                return None
            return reply or None
        return None
