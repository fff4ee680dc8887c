"""The ng packet format, request accessors and the reply cache."""
from __future__ import annotations

import pytest

from opensips_py.media import bencode
from opensips_py.media.ng import NgError, NgRequest, ReplyCache, decode_document, encode_reply, split_packet


def test_cookie_is_everything_up_to_the_first_space() -> None:
    packet = split_packet(b"5323_1 d7:command4:pinge")
    assert packet is not None
    assert packet.cookie == b"5323_1"
    assert packet.document == b"d7:command4:pinge"


@pytest.mark.parametrize("datagram", [b"nospace", b" d7:command4:pinge", b""])
def test_datagram_without_cookie_is_dropped(datagram: bytes) -> None:
    assert split_packet(datagram) is None


@pytest.mark.parametrize("document, reason", [
    (b"", "Invalid data (no payload)"),
    (b"l4:pinge", "Invalid NG data format"),
    (b"d7:command", "Could not decode bencode dictionary"),
    (b"{not json", "Failed to parse JSON document"),
    (b"[1]", "Invalid NG data format"),
])
def test_unusable_documents_get_rtpengines_reasons(document: bytes, reason: str) -> None:
    with pytest.raises(NgError) as info:
        decode_document(document)
    assert info.value.reason == reason


def test_json_documents_decode_like_bencode() -> None:
    value, as_json = decode_document(b'{"command": "ping", "n": 3, "l": ["a"]}')
    assert as_json
    assert value == {b"command": b"ping", b"n": 3, b"l": [b"a"]}


def test_reply_keeps_the_cookie_and_the_request_format() -> None:
    assert encode_reply(b"c1", {"result": "pong"}) == b"c1 d6:result4:ponge"
    assert encode_reply(b"c1", {"result": "pong"}, as_json=True) == b'c1 {"result":"pong"}'


def test_request_accepts_spaced_and_hyphenated_keys_and_comma_lists() -> None:
    request = NgRequest({b"media address": b"1.2.3.4", b"transport-protocol": b"RTP/AVP",
                         b"direction": b"priv,pub", b"delete delay": b"5", b"flags": [b"a", b"b"]})
    assert request.str("media-address") == "1.2.3.4"
    assert request.str("transport protocol") == "RTP/AVP"
    assert request.list("direction") == ["priv", "pub"]
    assert request.int("delete-delay") == 5
    assert request.list("flags") == ["a", "b"]
    assert request.str("missing") is None
    assert request.list("missing") == []


def test_retransmitted_cookie_is_answered_from_the_cache_for_30_to_60_seconds() -> None:
    cache = ReplyCache()
    cache.store(b"c1", b"c1 reply", now=100.0)
    assert cache.lookup(b"c1", now=129.0) == b"c1 reply"
    assert cache.lookup(b"c1", now=131.0) == b"c1 reply"   # rotated once: still in the old generation
    assert cache.lookup(b"c1", now=162.0) is None          # rotated twice: gone


def test_cache_is_bounded_in_entries() -> None:
    cache = ReplyCache(max_entries=100)
    for index in range(1000):
        cache.store(b"c%d" % index, b"r", now=0.0)
    assert len(cache) <= 200
    assert cache.lookup(b"c999", now=0.0) == b"r"


def test_bencode_reply_of_error_has_only_result_and_reason() -> None:
    reply = bencode.decode(encode_reply(b"x", {"result": "error", "error-reason": "Unknown call-id"})[2:])
    assert reply == {b"result": b"error", b"error-reason": b"Unknown call-id"}
