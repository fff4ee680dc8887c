"""Endpoint learning on the packet path, driven in-process with real sockets and a settable clock."""
from __future__ import annotations

import socket
import struct

import pytest

from opensips_py.media.session import PacketStream
from tests.media.test_control import BASE, Driver
from tests.media.flows import opensips_flags

SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio {port} RTP/AVP 0\r\na=sendrecv\r\n")
RTP = struct.pack("!BBHII", 0x80, 0, 1, 160, 1) + b"\xff" * 20
RTCP = struct.pack("!BBHI", 0x80, 201, 1, 1)


class Call:
    """Offer from A, answer from B, and the streams that receive A's and B's packets."""

    def __init__(self, flags: str = BASE) -> None:
        self.driver = Driver()
        self.b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.b.bind(("127.0.0.1", 0))
        self.b.settimeout(0.5)
        self.a_sdp_port = 41000
        offer = {"command": "offer", "call-id": "L", "from-tag": "a", "sdp": SDP.format(port=self.a_sdp_port),
                 **opensips_flags(flags)}
        assert self.driver.send(offer)["result"] == "ok"
        answer = {"command": "answer", "call-id": "L", "from-tag": "a", "to-tag": "b",
                  "sdp": SDP.format(port=self.b.getsockname()[1]), **opensips_flags(flags)}
        assert self.driver.send(answer)["result"] == "ok"
        call = self.driver.relay.calls["L"]
        self.from_a: PacketStream = call.tags["a"].medias[0].streams[0]
        self.from_b: PacketStream = call.tags["b"].medias[0].streams[0]

    def a_sends(self, source_port: int, after: float, data: bytes = RTP) -> None:
        self.from_a.receive(data, ("127.0.0.1", source_port), self.driver.clock.now + after)

    def b_got(self) -> bool:
        try:
            self.b.recv(2048)
            return True
        except socket.timeout:
            return False

    def close(self) -> None:
        self.b.close()
        self.driver.close()


@pytest.fixture()
def call_factory():
    calls = []

    def make(flags: str = BASE) -> Call:
        call = Call(flags)
        calls.append(call)
        return call

    yield make
    for call in calls:
        call.close()


def test_delayed_learning_follows_the_source_for_3_s_then_locks(call_factory) -> None:
    call = call_factory()
    assert call.from_a.endpoint == ("127.0.0.1", 41000)
    call.a_sends(42000, after=0.5)
    assert call.from_a.endpoint == ("127.0.0.1", 42000) and not call.from_a.confirmed
    call.a_sends(42002, after=1.0)
    assert call.from_a.endpoint == ("127.0.0.1", 42002)
    call.a_sends(42002, after=3.5)
    assert call.from_a.confirmed
    call.a_sends(42004, after=4.0)
    assert call.from_a.endpoint == ("127.0.0.1", 42002)
    assert call.b_got()


def test_immediate_learning_locks_on_the_first_packet(call_factory) -> None:
    call = call_factory(BASE + " endpoint-learning-immediate")
    call.a_sends(42010, after=0.1)
    assert call.from_a.confirmed and call.from_a.endpoint == ("127.0.0.1", 42010)
    call.a_sends(42012, after=0.2)
    assert call.from_a.endpoint == ("127.0.0.1", 42010)


def test_learning_off_keeps_the_sdp_endpoint(call_factory) -> None:
    call = call_factory(BASE + " endpoint-learning-off")
    call.a_sends(42020, after=5)
    assert call.from_a.endpoint == ("127.0.0.1", 41000)


def test_strict_source_drops_packets_from_elsewhere_after_locking(call_factory) -> None:
    call = call_factory(BASE + " strict-source endpoint-learning-immediate")
    call.a_sends(42030, after=0.1)
    assert call.b_got()
    call.a_sends(42032, after=0.2)
    assert not call.b_got()
    assert call.from_a.errors == 1


def test_media_handover_follows_every_source_change(call_factory) -> None:
    call = call_factory(BASE + " media-handover endpoint-learning-immediate")
    call.a_sends(42040, after=0.1)
    call.a_sends(42042, after=0.2)
    assert call.from_a.endpoint == ("127.0.0.1", 42042)


def test_heuristic_prefers_the_advertised_endpoint(call_factory) -> None:
    call = call_factory(BASE + " endpoint-learning-heuristic")
    call.a_sends(42050, after=0.1)
    assert call.from_a.endpoint == ("127.0.0.1", 42050)
    call.a_sends(41000, after=0.2)
    call.a_sends(42052, after=0.3)
    assert call.from_a.endpoint == ("127.0.0.1", 41000)


def test_stray_rtcp_on_the_rtp_port_is_not_used_to_learn(call_factory) -> None:
    call = call_factory()
    call.a_sends(42060, after=0.1, data=RTCP)
    assert call.from_a.endpoint == ("127.0.0.1", 41000)
    call.a_sends(42060, after=0.2)
    assert call.from_a.endpoint == ("127.0.0.1", 42060)


def test_packets_from_an_asymmetric_peer_do_not_move_its_endpoint(call_factory) -> None:
    call = call_factory(BASE + " asymmetric")
    call.a_sends(42070, after=0.1)
    assert call.from_a.endpoint == ("127.0.0.1", 41000) and call.from_a.confirmed


def test_stun_and_dtls_from_a_browser_leg_are_not_relayed_to_the_phone(call_factory) -> None:
    call = call_factory(BASE + " ICE=force")
    stun = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + b"\x00" * 12
    dtls = b"\x16\xfe\xfd" + b"\x00" * 40
    assert call.from_a.demux
    call.a_sends(42080, after=0.1, data=stun)
    call.a_sends(42080, after=0.2, data=dtls)
    assert not call.b_got()
    call.a_sends(42080, after=0.3)
    assert call.b_got()


def test_plain_rtp_legs_relay_whatever_arrives(call_factory) -> None:
    call = call_factory(BASE + " ICE=remove")
    assert not call.from_a.demux
    call.a_sends(42090, after=0.1, data=b"\x00\x01\x00\x00" + b"\x00" * 16)
    assert call.b_got()
