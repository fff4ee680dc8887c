"""Properties over generated messages (hypothesis, bounded for CI; benchmarks/sip/fuzz_parser.py runs longer).

- unedited: serialize(parse(bytes)) == bytes, and the parser finds what the generator put in;
- edited: parse(serialize(edited)) shows exactly the edits and every other header line unchanged;
- hostile: for arbitrary or mutated bytes, nothing escapes but SIPParseError.
"""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from opensips_py.sip import (
    URI, KeepAlive, Message, Request, SIPParseError, StreamFramer, build_reply, header_key, parse_message,
)
from opensips_py.sip.sdp import SessionDescription

from .strategies import CI_SETTINGS, GeneratedMessage, mutated_messages, sip_messages, sip_uris, tokens


@CI_SETTINGS
@given(sip_messages())
def test_unedited_message_round_trips_and_reads_back_what_was_written(gen: GeneratedMessage) -> None:
    msg = parse_message(gen.data)
    assert msg.serialize() == gen.data
    assert msg.is_request == gen.is_request
    msg.validate()
    assert [v.branch for v in msg.via] == gen.branches
    assert msg.from_.tag == gen.from_tag and msg.from_.display_name == gen.from_display
    assert msg.call_id == gen.call_id and msg.cseq.number == gen.cseq
    for name, values in gen.unknown.items():
        assert msg.header_values(name) == values
    assert msg.body == gen.body


def expected_after_edits(msg: Message, inserts: list[tuple[int, str]], removed: set[int],
                         content_length: int | None) -> list[str]:
    """The header lines a correct lump engine writes, computed the plain way."""
    out: list[str] = []
    lines = [f.raw for f in msg.headers]
    for index in range(len(lines) + 1):
        out.extend(line for anchor, line in inserts if anchor == index)
        if index < len(lines) and index not in removed:
            line = lines[index]
            if content_length is not None and msg.headers[index].key == "content-length":
                value = line.split(":", 1)[1].lstrip(" \t")
                line = line[:len(line) - len(value)] + str(content_length)
            out.append(line)
    return out


@CI_SETTINGS
@given(sip_messages(), st.data())
def test_edits_show_up_exactly_and_nothing_else_changes(gen: GeneratedMessage, data: st.DataObject) -> None:
    msg = parse_message(gen.data)
    count = len(msg.headers)
    inserts: list[tuple[int, str]] = []
    removed: set[int] = set()
    if data.draw(st.booleans(), "add via"):
        value = "SIP/2.0/UDP proxy.example.com;branch=z9hG4bK" + data.draw(tokens, "branch")
        msg.add_via(value)
        inserts.append((msg.header_fields("via")[0].index, f"Via: {value}"))
    for name in data.draw(st.lists(st.sampled_from(sorted(gen.unknown) or ["x-none"]), max_size=2), "remove"):
        indexes = [f.index for f in msg.header_fields(name)]
        assert msg.remove_header(name) == len(indexes)
        removed.update(indexes)
    if data.draw(st.booleans(), "append header"):
        value = data.draw(tokens, "value")
        msg.add_header("X-Added", value)
        inserts.append((count, f"X-Added: {value}"))
    new_ruri = data.draw(st.one_of(st.none(), sip_uris()), "ruri") if isinstance(msg, Request) else None
    if new_ruri is not None:
        msg.set_ruri(new_ruri)
    new_body = data.draw(st.one_of(st.none(), st.binary(max_size=60)), "body")
    if new_body is not None:
        msg.set_body(new_body)

    out = parse_message(msg.serialize())
    assert [f.raw for f in out.headers] == expected_after_edits(
        msg, inserts, removed, len(new_body) if new_body is not None else None)
    assert out.body == (new_body if new_body is not None else gen.body)
    if isinstance(out, Request):
        assert out.ruri_text == (new_ruri or msg.ruri_text) and out.method == gen.method
    assert out.serialize() == msg.serialize()


@CI_SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_nothing_but_parse_error(data: bytes) -> None:
    exercise(data)


@CI_SETTINGS
@given(mutated_messages())
def test_mutated_messages_raise_nothing_but_parse_error(data: bytes) -> None:
    exercise(data)


def exercise(data: bytes) -> None:
    """Parse and touch every view, edit and reply path; only SIPParseError may come out."""
    try:
        msg = parse_message(data)
    except SIPParseError:
        return
    for view in ("via", "from_", "to", "call_id", "cseq", "max_forwards", "contacts", "route",
                 "record_route", "path", "content_type", "expires", "authorization", "proxy_authorization",
                 "www_authenticate", "proxy_authenticate", "supported", "require", "sdp", "ruri"):
        try:
            value = getattr(msg, view, None)
            if view == "sdp" and value is not None:
                value.serialize()
        except SIPParseError:
            pass
    try:
        msg.validate()
    except SIPParseError:
        pass
    msg.add_header("X-Test", "1")
    try:
        msg.remove_top_via()
    except SIPParseError:
        pass
    assert parse_message(msg.serialize()).header("X-Test") == "1"
    if isinstance(msg, Request):
        try:
            parse_message(build_reply(msg, 400, received="192.0.2.1", rport=1))
        except SIPParseError:
            pass


@CI_SETTINGS
@given(st.lists(sip_messages(), min_size=1, max_size=3), st.lists(st.integers(0, 4000), max_size=6))
def test_stream_framing_is_independent_of_segment_boundaries(messages: list[GeneratedMessage],
                                                             cuts: list[int]) -> None:
    stream = b"\r\n\r\n".join(m.data for m in messages)
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    framer = StreamFramer()
    events: list[bytes | KeepAlive] = []
    for start, end in zip(points, points[1:]):
        events.extend(framer.feed(stream[start:end]))
    assert [e for e in events if isinstance(e, bytes)] == [m.data for m in messages]
    assert events.count(KeepAlive.PING) == len(messages) - 1 and framer.buffered == 0


@CI_SETTINGS
@given(sip_uris())
def test_generated_uris_round_trip_and_equal_themselves(text: str) -> None:
    uri = URI(text)
    assert str(uri) == text and uri == URI(text) and hash(uri) == hash(URI(text))
    assert uri == URI(text.replace(uri.host or "", (uri.host or "").upper(), 1)) or "@" in text
    assert uri.replace() == uri


@CI_SETTINGS
@given(st.binary(max_size=400))
def test_any_sdp_bytes_round_trip_exactly(data: bytes) -> None:
    assert SessionDescription.parse(data).serialize() == data


@CI_SETTINGS
@given(st.text(max_size=20))
def test_header_key_accepts_tokens_only(name: str) -> None:
    try:
        key = header_key(name)
    except SIPParseError:
        return
    assert key == key.lower() and key.strip() == key and key
