"""A small blocking ng client: enough to ping a relay, drive tests and benchmarks.

The OpenSIPS-side client with node sets, weights and retries is the rtpengine module's job
(opensips_py/modules/rtpengine.py); this one sends one command, waits for the reply with the same cookie,
and retransmits the same cookie a bounded number of times.
"""
from __future__ import annotations

import itertools
import os
import socket
from typing import Any

from opensips_py.media import bencode
from opensips_py.media.bencode import to_native

_sequence = itertools.count(1)




class NgClient:
    """One UDP socket talking ng to one relay address."""

    def __init__(self, host: str, port: int, timeout: float = 1.0, retries: int = 2) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.address = (host, port)
        self.timeout = timeout
        self.retries = retries
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "NgClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def new_cookie(self) -> bytes:
        return f"{os.getpid()}_{next(_sequence)}".encode()

    def request_raw(self, datagram: bytes, cookie: bytes) -> bytes:
        """Send `datagram` (retransmitting it unchanged) until a reply with `cookie` arrives."""
        for _attempt in range(self.retries + 1):
            self.sock.sendto(datagram, self.address)
            try:
                while True:
                    reply = self.sock.recv(65_535)
                    if reply.startswith(cookie + b" "):
                        return reply[len(cookie) + 1:]
            except socket.timeout:
                continue
        raise TimeoutError(f"no ng reply from {self.address[0]}:{self.address[1]}")

    def command(self, command: str, **keys: Any) -> dict[str, Any]:
        """Send ``command`` with `keys` (underscores in names become hyphens); return the reply as str."""
        document = {"command": command}
        for name, value in keys.items():
            document[name.replace("_", "-")] = value
        return self.send(document)

    def send(self, document: dict[str, Any], cookie: bytes | None = None) -> dict[str, Any]:
        cookie = cookie or self.new_cookie()
        reply = self.request_raw(cookie + b" " + bencode.encode(document), cookie)
        return to_native(bencode.decode(reply))

    def ping(self) -> bool:
        try:
            return self.command("ping").get("result") == "pong"
        except (TimeoutError, OSError, bencode.BencodeError):
            return False
