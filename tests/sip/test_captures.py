"""Real traffic from the public captures in the corpus: every SIP message parses, validates, round-trips."""
from __future__ import annotations

from tests import shared
from pathlib import Path

import pytest

from opensips_py.sip import Request, StreamFramer, build_reply, parse_message

from .capture import sip_datagrams, tcp_streams

CAPTURES = sorted((shared.CORPUS / "traces" / "pcap").iterdir())
UDP_CAPTURES = [p for p in CAPTURES if "Over-TCP" not in p.name]


@pytest.mark.parametrize("capture", UDP_CAPTURES, ids=lambda p: p.name)
def test_captured_udp_messages_parse_validate_and_round_trip(capture: Path) -> None:
    datagrams = sip_datagrams(capture)
    assert datagrams, "the capture holds SIP over UDP"
    for datagram in datagrams:
        msg = parse_message(datagram)
        msg.validate()
        assert datagram.startswith(msg.serialize())
        if msg.sdp is not None:
            assert msg.sdp.serialize() == msg.body
        if isinstance(msg, Request) and msg.method != "ACK":
            reply = parse_message(build_reply(msg, 500))
            assert reply.call_id == msg.call_id and [v.branch for v in reply.via] == [v.branch for v in msg.via]


def test_captured_tcp_call_is_framed_into_whole_messages() -> None:
    (capture,) = [p for p in CAPTURES if "Over-TCP" in p.name]
    methods = []
    for stream in tcp_streams(capture).values():
        framer = StreamFramer()
        frames = framer.feed(stream)
        assert framer.buffered == 0
        for frame in frames:
            assert isinstance(frame, bytes)
            msg = parse_message(frame)
            msg.validate()
            methods.append(msg.method if isinstance(msg, Request) else msg.status)
    assert sorted(map(str, methods)) == sorted(["INVITE", "ACK", "200", "100", "180", "200", "BYE"])
