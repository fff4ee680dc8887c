"""UDP sockets for the live host: one non-blocking socket per `socket=udp:…` line.

The receive loop waits for readability with trio and then drains the socket with plain non-blocking
recvfrom() calls (up to a batch), so a burst of datagrams costs one trip through the scheduler, not one per
datagram. Sending is a non-blocking sendto(): a full send buffer drops the datagram (counted), as a UDP
stack would.
"""
from __future__ import annotations

import socket
from typing import Callable

import trio

from opensips_py.script.context import ListenSocket

RECV_BATCH = 64
MAX_DATAGRAM = 65535
RECEIVE_BUFFER = 4 * 1024 * 1024  # OpenSIPS probes up to `maxbuffer`; a big buffer absorbs bursts


class UDPEndpoint:
    """A bound UDP socket and its ListenSocket."""

    def __init__(self, listen: ListenSocket) -> None:
        self.listen = listen
        family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, RECEIVE_BUFFER)
        except OSError:
            pass
        sock.setblocking(False)
        try:
            sock.bind((listen.host, listen.port))
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self.send_failures = 0

    async def serve(self, on_datagram: Callable[[bytes, tuple, ListenSocket], None],
                    after_batch: Callable[[], None]) -> None:
        """Receive forever: `on_datagram(data, address, listen)` per datagram, `after_batch()` per wake-up."""
        sock = self.sock
        listen = self.listen
        recvfrom = sock.recvfrom
        while True:
            await trio.lowlevel.wait_readable(sock)
            for _ in range(RECV_BATCH):
                try:
                    data, address = recvfrom(MAX_DATAGRAM)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # an ICMP error reported on the socket (port unreachable…): nothing to read
                    continue
                on_datagram(data, address, listen)
            after_batch()

    def sendto(self, data: bytes, host: str, port: int) -> bool:
        try:
            self.sock.sendto(data, (host, port))
            return True
        except (BlockingIOError, InterruptedError):
            self.send_failures += 1
            return False
        except OSError:
            self.send_failures += 1
            return False

    def close(self) -> None:
        self.sock.close()
