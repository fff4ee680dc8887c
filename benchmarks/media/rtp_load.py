"""Paced RTP load through a relay: N calls, each two phones sending 50 packets/s (one every 20 ms).

Used by run_media.py. The generator is one Python process with plain non-blocking sockets and epoll:
each tick it sends one 172-byte packet (12-byte RTP header + 160 bytes of payload, the send time in the
first 8 payload bytes) from every phone, spread over the 20 ms, and reads whatever arrived. A packet is
*late* when it arrives more than 20 ms after it was sent (a one-frame jitter buffer would have played
it out too late); a packet that never arrives counts as late too.
"""
from __future__ import annotations

import os
import select
import socket
import struct
import time
import uuid
from dataclasses import dataclass

TICK = 0.020
LATE_AFTER = 0.020
PAYLOAD = 160


@dataclass
class Leg:
    """One call: phone A and phone B, and the relay ports each of them sends to."""

    a: socket.socket
    b: socket.socket
    relay_for_a: tuple[str, int] = ("127.0.0.1", 0)
    relay_for_b: tuple[str, int] = ("127.0.0.1", 0)


def phone_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


def make_legs(count: int) -> list[Leg]:
    return [Leg(phone_socket(), phone_socket()) for _ in range(count)]


def close_legs(legs: list[Leg]) -> None:
    for leg in legs:
        leg.a.close()
        leg.b.close()


SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n")
FLAGS = {"flags": ["trust-address"], "replace": ["origin", "session-connection"]}


def _m_port(sdp: str) -> int:
    return next(int(line.split()[1]) for line in sdp.splitlines() if line.startswith("m=audio"))


def signal_calls(client, legs: list[Leg]) -> list[str]:
    """Offer/answer every leg through an ng relay; returns the call-ids."""
    call_ids = []
    for leg in legs:
        call_id = f"load-{uuid.uuid4()}"
        offer = client.send({"command": "offer", "call-id": call_id, "from-tag": "a",
                             "sdp": SDP.format(port=leg.a.getsockname()[1]), **FLAGS})
        answer = client.send({"command": "answer", "call-id": call_id, "from-tag": "a", "to-tag": "b",
                              "sdp": SDP.format(port=leg.b.getsockname()[1]), **FLAGS})
        if offer.get("result") != "ok" or answer.get("result") != "ok":
            raise RuntimeError(f"signalling failed: {offer} {answer}")
        leg.relay_for_b = ("127.0.0.1", _m_port(offer["sdp"]))
        leg.relay_for_a = ("127.0.0.1", _m_port(answer["sdp"]))
        call_ids.append(call_id)
    return call_ids


def delete_calls(client, call_ids: list[str]) -> None:
    for call_id in call_ids:
        client.send({"command": "delete", "call-id": call_id, "delete-delay": 0})


@dataclass
class LoadResult:
    calls: int
    seconds: float
    sent: int
    received: int
    late: int
    p50_ms: float
    p99_ms: float

    @property
    def late_share(self) -> float:
        missing = max(0, self.sent - self.received)
        return (self.late + missing) / self.sent if self.sent else 0.0

    @property
    def packets_per_second(self) -> float:
        return self.received / self.seconds if self.seconds else 0.0


def run_load(legs: list[Leg], seconds: float) -> LoadResult:
    """Send paced RTP from every phone for `seconds`; measure arrival delay of every packet."""
    poller = select.epoll()
    by_fd = {}
    for leg in legs:
        for sock in (leg.a, leg.b):
            poller.register(sock.fileno(), select.EPOLLIN)
            by_fd[sock.fileno()] = sock
    header = struct.Struct("!BBHII")
    stamp = struct.Struct("!Q")
    filler = b"\xd5" * (PAYLOAD - stamp.size)
    groups = 10
    per_group = [legs[i::groups] for i in range(groups)]
    sent = received = late = 0
    delays: list[float] = []
    seq = 0
    start = time.monotonic()
    end = start + seconds
    next_send = start
    group = 0
    try:
        while True:
            now = time.monotonic()
            if now >= next_send and now < end:
                seq_field = seq & 0xFFFF
                for leg in per_group[group]:
                    now_ns = time.monotonic_ns()
                    packet = header.pack(0x80, 0, seq_field, seq * 160, 1) + stamp.pack(now_ns) + filler
                    for sock, destination in ((leg.a, leg.relay_for_a), (leg.b, leg.relay_for_b)):
                        try:
                            sock.sendto(packet, destination)
                            sent += 1
                        except OSError:
                            sent += 1
                group += 1
                next_send += TICK / groups
                if group == groups:
                    group = 0
                    seq += 1
            if now >= end + 0.2:
                break
            timeout = max(0.0, min(next_send, end + 0.2) - time.monotonic())
            for fd, _ in poller.poll(timeout):
                sock = by_fd[fd]
                while True:
                    try:
                        data = sock.recv(2048)
                    except BlockingIOError:
                        break
                    except OSError:
                        break
                    arrived = time.monotonic_ns()
                    delay = (arrived - stamp.unpack_from(data, 12)[0]) / 1e9
                    received += 1
                    if delay > LATE_AFTER:
                        late += 1
                    if len(delays) < 2_000_000:
                        delays.append(delay)
    finally:
        poller.close()
    delays.sort()
    p50 = delays[len(delays) // 2] * 1000 if delays else 0.0
    p99 = delays[int(len(delays) * 0.99)] * 1000 if delays else 0.0
    return LoadResult(len(legs), seconds, sent, received, late, p50, p99)


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
