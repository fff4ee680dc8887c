"""Replies built per RFC 3261 §8.2.6 / §16.7 the way OpenSIPS's sl/tm build them."""
from __future__ import annotations

from opensips_py.sip import Response, build_reply, default_to_tag, parse_message

REQUEST = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bKa1\r\n"
    b"Via: SIP/2.0/TCP edge.example.net;branch=z9hG4bKb2;received=198.51.100.2\r\n"
    b"Record-Route: <sip:rr1.example.com;lr>\r\n"
    b"Max-Forwards: 69\r\n"
    b"To:  Bob <sip:bob@example.com>\r\n"
    b"f: \"Al\" <sip:al@example.com>;tag=aa\r\n"
    b"Call-ID: c1@10.0.0.5\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n")


def reply(status: int, **kwargs: object) -> tuple[bytes, Response]:
    data = build_reply(parse_message(REQUEST), status, **kwargs)  # type: ignore[arg-type]
    msg = parse_message(data)
    assert isinstance(msg, Response)
    return data, msg


def test_reply_copies_vias_from_to_callid_cseq_byte_exact_and_adds_to_tag() -> None:
    data, msg = reply(486)
    lines = data.split(b"\r\n")
    assert lines[0] == b"SIP/2.0 486 Busy Here"
    assert lines[1:3] == [b"v: SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bKa1",
                          b"Via: SIP/2.0/TCP edge.example.net;branch=z9hG4bKb2;received=198.51.100.2"]
    tag = default_to_tag(parse_message(REQUEST))
    assert lines[3] == b"To:  Bob <sip:bob@example.com>;tag=" + tag.encode()
    assert lines[4:7] == [b"f: \"Al\" <sip:al@example.com>;tag=aa", b"Call-ID: c1@10.0.0.5", b"CSeq: 7 INVITE"]
    assert lines[7] == b"Content-Length: 0" and data.endswith(b"\r\n\r\n")
    assert msg.to.tag == tag and not msg.record_route


def test_to_tag_is_stable_for_retransmissions_and_caller_chosen_when_given() -> None:
    assert reply(404)[1].to.tag == reply(404)[1].to.tag
    assert reply(404, to_tag="mytag")[1].to.tag == "mytag"


def test_100_trying_gets_no_to_tag_and_existing_tag_is_kept() -> None:
    assert reply(100)[1].to.tag is None
    tagged = REQUEST.replace(b"To:  Bob <sip:bob@example.com>", b"To: <sip:bob@example.com>;tag=b1")
    msg = parse_message(build_reply(parse_message(tagged), 200, to_tag="other"))
    assert msg.to.tag == "b1"


def test_record_route_is_copied_for_180_to_299_only() -> None:
    assert [r.uri.host for r in reply(180)[1].record_route] == ["rr1.example.com"]
    assert reply(200)[1].record_route and not reply(100)[1].record_route and not reply(300)[1].record_route


def test_received_and_rport_are_filled_in_the_top_via() -> None:
    data, msg = reply(200, received="203.0.113.7", rport=40123)
    assert b"v: SIP/2.0/UDP 10.0.0.5:5060;received=203.0.113.7;rport=40123;branch=z9hG4bKa1\r\n" in data
    assert (msg.via1.received, msg.via1.rport) == ("203.0.113.7", 40123)
    assert msg.via[1].received == "198.51.100.2"


def test_rport_is_only_added_when_asked_for_or_forced() -> None:
    plain = REQUEST.replace(b";rport", b"")
    data = build_reply(parse_message(plain), 200, rport=5000)
    assert b"rport" not in data.split(b"\r\n")[1]
    forced = parse_message(build_reply(parse_message(plain), 200, rport=5000, force_rport=True))
    assert forced.via1.rport == 5000


def test_extra_headers_server_and_body() -> None:
    body = b"v=0\r\n"
    data, msg = reply(200, headers=["Contact: <sip:bob@192.0.2.9>"], body=body, content_type="application/sdp",
                      server="opensips-py", reason="Fine")
    assert (msg.status, msg.reason) == (200, "Fine")
    assert msg.contacts[0].uri.host == "192.0.2.9" and msg.header("Server") == "opensips-py"
    assert msg.content_type.mime == "application/sdp" and msg.body == body and msg.content_length == len(body)
