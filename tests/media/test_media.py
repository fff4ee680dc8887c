"""Media through the relay: real RTP/RTCP datagrams between two loopback "phones".

Each test runs against our relay process and against the real rtpengine, so what the test expects is
what rtpengine does: packets arrive on the other leg from the relay's port for that leg, the relay
learns a phone's real source port when it differs from its SDP (latching), counters match what was sent,
rtcp-mux is split for a non-muxed peer, and nothing is forwarded after delete.
"""
from __future__ import annotations

import socket
import struct
import time
import uuid

import pytest

from tests.media.flows import opensips_flags

BASE = "trust-address replace-origin replace-session-connection"

PHONE_SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n{extra}"
)


def rtp_packet(seq: int, ssrc: int = 0x1234, payload: bytes = b"\xff" * 160) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * 160, ssrc) + payload


def rtcp_packet(ssrc: int = 0x1234) -> bytes:
    # a minimal receiver report (PT 201) with no report blocks
    return struct.pack("!BBHI", 0x80, 201, 1, ssrc)


class Phone:
    """A UDP socket pair (RTP, RTCP) on loopback."""

    def __init__(self) -> None:
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.rtp.settimeout(1.0)
        self.port = self.rtp.getsockname()[1]
        self.rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.rtcp.bind(("127.0.0.1", self.port + 1))
        except OSError:
            self.rtcp.bind(("127.0.0.1", 0))
        self.rtcp.settimeout(1.0)

    def receive(self, sock: socket.socket, count: int) -> list[tuple[bytes, tuple[str, int]]]:
        got = []
        deadline = time.monotonic() + 3
        while len(got) < count and time.monotonic() < deadline:
            try:
                got.append(sock.recvfrom(2048))
            except socket.timeout:
                break
        return got

    def drain(self, sock: socket.socket, wait: float = 0.3) -> int:
        sock.settimeout(wait)
        count = 0
        try:
            while True:
                sock.recvfrom(2048)
                count += 1
        except socket.timeout:
            pass
        finally:
            sock.settimeout(1.0)
        return count

    def close(self) -> None:
        self.rtp.close()
        self.rtcp.close()


def m_port(sdp: str) -> int:
    return next(int(line.split()[1]) for line in sdp.splitlines() if line.startswith("m=audio"))


@pytest.fixture(params=["ours", "rtpengine"])
def ng(request):
    """Each media test runs against our relay and against the real rtpengine."""
    return request.getfixturevalue("relay" if request.param == "ours" else "real")


def setup_call(ng, a_port: int, b_port: int, a_extra: str = "", b_extra: str = "", offer_flags: str = BASE,
               answer_flags: str = BASE) -> tuple[str, int, int]:
    """Offer from A, answer from B; returns (call-id, relay port for A, relay port for B)."""
    call_id = f"media-{uuid.uuid4()}"
    offer = ng.send({"command": "offer", "call-id": call_id, "from-tag": "a",
                     "sdp": PHONE_SDP.format(port=a_port, extra=a_extra), **opensips_flags(offer_flags)})
    assert offer["result"] == "ok", offer
    answer = ng.send({"command": "answer", "call-id": call_id, "from-tag": "a", "to-tag": "b",
                      "sdp": PHONE_SDP.format(port=b_port, extra=b_extra), **opensips_flags(answer_flags)})
    assert answer["result"] == "ok", answer
    return call_id, m_port(answer["sdp"]), m_port(offer["sdp"])


def test_rtp_is_relayed_both_ways_from_the_relay_ports(ng) -> None:
    a, b = Phone(), Phone()
    try:
        call_id, relay_for_a, relay_for_b = setup_call(ng, a.port, b.port)
        for seq in range(20):
            a.rtp.sendto(rtp_packet(seq), ("127.0.0.1", relay_for_a))
        got = b.receive(b.rtp, 20)
        assert len(got) == 20
        assert {source for _, source in got} == {("127.0.0.1", relay_for_b)}
        # every packet arrives once (rtpengine's worker threads may reorder a burst; UDP promises no order)
        assert sorted(struct.unpack("!H", data[2:4])[0] for data, _ in got) == list(range(20))
        for seq in range(10):
            b.rtp.sendto(rtp_packet(seq, ssrc=0x99), ("127.0.0.1", relay_for_b))
        back = a.receive(a.rtp, 10)
        assert len(back) == 10
        assert {source for _, source in back} == {("127.0.0.1", relay_for_a)}
        ng.send({"command": "delete", "call-id": call_id})
    finally:
        a.close()
        b.close()


def test_latching_sends_to_the_source_port_not_the_sdp_port(ng) -> None:
    a, b = Phone(), Phone()
    decoy = Phone()   # the port A announces in its SDP; A really sends from a.rtp
    try:
        call_id, relay_for_a, relay_for_b = setup_call(ng, decoy.port, b.port)
        for seq in range(5):
            a.rtp.sendto(rtp_packet(seq), ("127.0.0.1", relay_for_a))
        assert len(b.receive(b.rtp, 5)) == 5
        for seq in range(5):
            b.rtp.sendto(rtp_packet(seq, ssrc=7), ("127.0.0.1", relay_for_b))
        assert len(a.receive(a.rtp, 5)) == 5
        assert decoy.drain(decoy.rtp) == 0
        ng.send({"command": "delete", "call-id": call_id})
    finally:
        for phone in (a, b, decoy):
            phone.close()


def test_counters_match_what_was_sent(ng) -> None:
    a, b = Phone(), Phone()
    try:
        call_id, relay_for_a, relay_for_b = setup_call(ng, a.port, b.port)
        for seq in range(30):
            a.rtp.sendto(rtp_packet(seq), ("127.0.0.1", relay_for_a))
        assert len(b.receive(b.rtp, 30)) == 30
        for seq in range(12):
            b.rtp.sendto(rtp_packet(seq, payload=b"\x00" * 80), ("127.0.0.1", relay_for_b))
        assert len(a.receive(a.rtp, 12)) == 12
        a.rtcp.sendto(rtcp_packet(), ("127.0.0.1", relay_for_a + 1))
        assert len(b.receive(b.rtcp, 1)) == 1
        query = ng.send({"command": "query", "call-id": call_id})
        assert query["totals"]["RTP"] == {"packets": 42, "bytes": 30 * 172 + 12 * 92, "errors": 0}
        assert query["totals"]["RTCP"] == {"packets": 1, "bytes": 8, "errors": 0}
        stats_a = query["tags"]["a"]["medias"][0]["streams"][0]["stats"]
        assert stats_a == {"packets": 30, "bytes": 30 * 172, "errors": 0}
        ng.send({"command": "delete", "call-id": call_id})
    finally:
        a.close()
        b.close()


def test_rtcp_mux_from_one_side_is_split_for_the_other(ng) -> None:
    a, b = Phone(), Phone()
    try:
        call_id, relay_for_a, relay_for_b = setup_call(
            ng, a.port, b.port, a_extra="a=rtcp-mux\r\n", offer_flags=f"{BASE} rtcp-mux-demux")
        a.rtp.sendto(rtcp_packet(), ("127.0.0.1", relay_for_a))         # RTCP on A's muxed port
        got = b.receive(b.rtcp, 1)
        assert len(got) == 1 and got[0][1] == ("127.0.0.1", relay_for_b + 1)
        a.rtp.sendto(rtp_packet(1), ("127.0.0.1", relay_for_a))
        assert len(b.receive(b.rtp, 1)) == 1
        b.rtcp.sendto(rtcp_packet(5), ("127.0.0.1", relay_for_b + 1))   # B's RTCP arrives muxed at A
        back = a.receive(a.rtp, 1)
        assert len(back) == 1 and back[0][1] == ("127.0.0.1", relay_for_a)
        ng.send({"command": "delete", "call-id": call_id})
    finally:
        a.close()
        b.close()


def test_nothing_is_relayed_after_delete(ng) -> None:
    a, b = Phone(), Phone()
    try:
        call_id, relay_for_a, _ = setup_call(ng, a.port, b.port)
        a.rtp.sendto(rtp_packet(1), ("127.0.0.1", relay_for_a))
        assert len(b.receive(b.rtp, 1)) == 1
        assert ng.send({"command": "delete", "call-id": call_id, "delete-delay": 0})["result"] == "ok"
        for seq in range(5):
            a.rtp.sendto(rtp_packet(seq), ("127.0.0.1", relay_for_a))
        assert b.drain(b.rtp) == 0
    finally:
        a.close()
        b.close()
