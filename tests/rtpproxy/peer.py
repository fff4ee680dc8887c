"""A small rtpproxy control-protocol peer on loopback UDP, for the rtpproxy module's tests.

Debian bookworm has no rtpproxy package, so the tests talk to this instead. It follows the protocol as
rtpproxy speaks it over UDP: ``"<cookie> <command>"`` in, ``"<cookie> <reply>\\n"`` out, and answers:

- ``V`` -> ``20040107``; ``VF <date>`` -> ``1`` for the capability dates it is given, else ``0``;
- ``U…`` (update/create) -> ``<port> <ip>`` with a port allocated per (Call-ID, tag, media number);
- ``L…`` (lookup) -> the port of the other side's session, ``E8`` when there is none;
- ``D``, ``P``, ``S``, ``R`` -> ``0``; ``Q`` -> ``<ttl> <in> <out> <relayed> <dropped>``.

Every command received is kept in `commands` (without the cookie). `silent` makes it drop everything
(a dead rtpproxy); `reply_override` answers every command with a fixed text.
"""
from __future__ import annotations

import socket
import threading

ALL_CAPS = ("20050322", "20071116", "20081102", "20090810", "20081224", "20080403", "20150617", "20150420",
            "20170313", "20071218", "20191015")


class RtpproxyPeer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, ip: str = "203.0.113.5",
                 caps: tuple[str, ...] = ALL_CAPS, first_port: int = 35000) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.05)
        self.address = self.sock.getsockname()
        self.ip = ip
        self.caps = set(caps)
        self.commands: list[str] = []
        self.sessions: dict[tuple[str, str, str], int] = {}
        self.next_port = first_port
        self.silent = False
        self.reply_override: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"udp:{self.address[0]}:{self.address[1]}"

    def __enter__(self) -> "RtpproxyPeer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            cookie, _, command = data.decode().partition(" ")
            self.commands.append(command)
            if self.silent:
                continue
            reply = self.reply_override if self.reply_override is not None else self.answer(command)
            self.sock.sendto(f"{cookie} {reply}\n".encode(), peer)

    def answer(self, command: str) -> str:
        words = command.split()
        if not words:
            return "E1"
        verb = words[0]
        if verb == "V":
            return "20040107"
        if verb == "VF":
            return "1" if len(words) > 1 and words[1] in self.caps else "0"
        kind = verb[0].upper()
        if kind == "U" and len(words) >= 5:
            call_id, tag = words[1], words[4]
            key = (call_id, *tag.split(";", 1))
            if key not in self.sessions:
                self.sessions[key] = self.next_port
                self.next_port += 2
            return f"{self.sessions[key]} {self.ip}"
        if kind == "L" and len(words) >= 5:
            call_id, tag = words[1], words[4]
            key = ("L", call_id, *tag.split(";", 1))
            if key not in self.sessions:
                self.sessions[key] = self.next_port
                self.next_port += 2
            return f"{self.sessions[key]} {self.ip}"
        if kind == "Q":
            if len(words) > 4:  # named statistics: one number each
                return " ".join(str(10 * (i + 1)) for i in range(len(words) - 4))
            return "120 10 20 30 0"
        if kind in "DPSR":
            return "0"
        return "E1"
