"""Stream framing by Content-Length (RFC 3261 §18.3) and RFC 5626 CRLF keep-alives."""
from __future__ import annotations

import pytest

from opensips_py.sip import (
    CRLF_PONG, KeepAlive, SIPParseError, StreamFramer, is_keepalive_datagram, parse_message,
)

MSG1 = (b"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: 5\r\n\r\nhello")
MSG2 = (b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK2\r\nContent-Length:  0\r\n\r\n")


def test_back_to_back_messages_are_cut_by_content_length() -> None:
    framer = StreamFramer()
    assert framer.feed(MSG1 + MSG2) == [MSG1, MSG2]
    assert parse_message(MSG1).body == b"hello" and framer.buffered == 0


def test_every_split_point_gives_the_same_frames() -> None:
    stream = MSG1 + b"\r\n\r\n" + MSG2 + MSG1
    for cut in range(len(stream) + 1):
        framer = StreamFramer()
        events = framer.feed(stream[:cut]) + framer.feed(stream[cut:])
        frames = [e for e in events if isinstance(e, bytes)]
        assert frames == [MSG1, MSG2, MSG1], cut
        assert framer.buffered == 0


def test_double_crlf_is_a_ping_and_single_crlf_a_pong() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n") == [KeepAlive.PING]
    assert framer.feed(b"\r\n") == []  # could be the first half of a ping: held
    assert framer.feed(MSG1) == [KeepAlive.PONG, MSG1]
    assert framer.feed(b"\r\n\r\n" + MSG2) == [KeepAlive.PING, MSG2]
    assert CRLF_PONG == b"\r\n"


def test_a_ping_split_across_two_segments_is_still_a_ping() -> None:
    framer = StreamFramer()
    assert framer.feed(MSG1 + b"\r\n") == [MSG1]
    assert framer.feed(b"\r\n" + MSG2) == [KeepAlive.PING, MSG2]
    assert framer.buffered == 0


def test_partial_message_waits_for_the_rest() -> None:
    framer = StreamFramer()
    assert framer.feed(MSG1[:-2]) == []
    assert framer.buffered == len(MSG1) - 2
    assert framer.feed(MSG1[-2:]) == [MSG1]


def test_missing_content_length_on_a_stream_breaks_the_framing() -> None:
    framer = StreamFramer()
    with pytest.raises(SIPParseError) as caught:
        framer.feed(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n")
    assert caught.value.code == 400 and framer.broken
    with pytest.raises(SIPParseError):
        framer.feed(MSG2)


def test_too_large_header_or_body_gets_513() -> None:
    framer = StreamFramer(max_size=200)
    with pytest.raises(SIPParseError) as caught:
        framer.feed(b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * 40)
    assert caught.value.code == 513
    with pytest.raises(SIPParseError) as caught:
        StreamFramer(max_size=200).feed(MSG2.replace(b"Content-Length:  0", b"Content-Length: 5000"))
    assert caught.value.code == 513


def test_folded_content_length_is_still_found() -> None:
    msg = MSG1.replace(b"l: 5", b"Content-Length:\r\n 5")
    assert StreamFramer().feed(msg) == [msg]


def test_crlf_and_nul_datagrams_are_keepalives_not_messages() -> None:
    assert all(is_keepalive_datagram(d) for d in (b"\r\n\r\n", b"\r\n", b"\x00\x00\x00\x00", b""))
    assert not is_keepalive_datagram(MSG2)
