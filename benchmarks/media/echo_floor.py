"""The floor for the relay benchmark: a bare uvloop forwarder with the same socket layout.

For each call it binds two ports; what arrives on the port for phone A goes out of the port for phone
B to phone B's address, and back. Same event loop, same add_reader + recvfrom/sendto drain as the relay
(opensips_py/media/relay.py), none of the relay's work (no counters, no latching, no RTCP routing).
The difference between this and the relay is what the relay's own logic costs per packet.

Protocol (for run_media.py): reads a JSON list of [phone_a_port, phone_b_port] on stdin, prints a JSON
list of [port_for_a, port_for_b] on stdout, then forwards until SIGTERM.
"""
from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys

import uvloop

BATCH = 64


def _bind() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


def _forwarder(inbound: socket.socket, outbound: socket.socket, destination: tuple[str, int]):
    def on_readable() -> None:
        for _ in range(BATCH):
            try:
                data = inbound.recv(65535)
            except BlockingIOError:
                return
            except OSError:
                continue
            try:
                outbound.sendto(data, destination)
            except OSError:
                pass
    return on_readable


async def main() -> None:
    phones = json.loads(sys.stdin.readline())
    loop = asyncio.get_running_loop()
    sockets = []
    ports = []
    for phone_a, phone_b in phones:
        for_a, for_b = _bind(), _bind()
        loop.add_reader(for_a.fileno(), _forwarder(for_a, for_b, ("127.0.0.1", phone_b)))
        loop.add_reader(for_b.fileno(), _forwarder(for_b, for_a, ("127.0.0.1", phone_a)))
        sockets += [for_a, for_b]
        ports.append([for_a.getsockname()[1], for_b.getsockname()[1]])
    print(json.dumps(ports), flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for sock in sockets:
        loop.remove_reader(sock.fileno())
        sock.close()


if __name__ == "__main__":
    uvloop.run(main())
