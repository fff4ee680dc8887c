"""Messages: lazy parsing, typed views, errors with reply codes, and lump editing that keeps every other byte."""
from __future__ import annotations

import pytest

from opensips_py.sip import (
    Lumps, Request, Response, SIPParseError, build_reply, parse_message,
)
from opensips_py.sip.headers import Contact

SDP = (b"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\ns=-\r\nc=IN IP4 192.0.2.101\r\n"
       b"t=0 0\r\nm=audio 49172 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")
INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    b"Route: <sip:p3.example.com;lr>\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"From: \"Alice A.\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com;transport=udp>;expires=600;q=0.7;reg-id=1;"
    b"+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"\r\n"
    b"X-Custom:   odd   spacing  \r\n"
    b"k: replaces, 100rel\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP)


def invite() -> Request:
    msg = parse_message(INVITE)
    assert isinstance(msg, Request)
    return msg


# -- parsing and typed views -----------------------------------------------------------------------------------

def test_lazy_parse_splits_start_line_and_headers() -> None:
    msg = invite()
    assert (msg.method, msg.ruri_text, msg.version) == ("INVITE", "sip:bob@biloxi.example.com", "SIP/2.0")
    assert [f.name for f in msg.headers][:3] == ["Via", "Max-Forwards", "Route"]
    assert msg.header("x-custom") == "odd   spacing" and msg.header("Supported") == "replaces, 100rel"
    assert msg.header("Nope") is None and not msg.has_header("Nope")
    assert msg.header_values("route") == ["<sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
                                          "<sip:p3.example.com;lr>"]
    assert msg.body == SDP and msg.raw == INVITE


def test_typed_views_are_parsed_once_and_cached() -> None:
    msg = invite()
    assert msg.via is msg.via and msg.from_ is msg.from_
    via = msg.via1
    assert (via.transport, via.host, via.port, via.branch) == ("UDP", "pc33.atlanta.example.com", 5060,
                                                               "z9hG4bK776asdhds")
    assert via.has_rport and via.rport is None and via.is_rfc3261_branch
    assert msg.from_.display_name == "Alice A." and msg.from_.tag == "1928301774"
    assert msg.to.display_name == "Bob" and msg.to.tag is None
    assert msg.call_id == "a84b4c76e66710@pc33.atlanta.example.com"
    assert (msg.cseq.number, msg.cseq.method) == (314159, "INVITE")
    assert msg.max_forwards == 70
    assert [r.uri.host for r in msg.route] == ["p1.example.com", "p2.example.com", "p3.example.com"]
    assert all(r.uri.lr for r in msg.route)
    assert msg.supported == ["replaces", "100rel"]
    assert msg.content_type.mime == "application/sdp" and msg.content_length == len(SDP)
    assert msg.sdp.media[0].formats == ["0", "8"]


def test_contact_parameters_of_rfc5626() -> None:
    (contact,) = invite().contacts
    assert isinstance(contact, Contact) and not contact.is_star
    assert contact.expires == 600 and contact.q == 0.7 and contact.reg_id == 1
    assert contact.instance == "<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"
    assert contact.uri.transport == "udp"


def test_contact_star_and_multiple_contacts() -> None:
    register = (b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                b"To: <sip:a@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: x\r\nCSeq: 2 REGISTER\r\n"
                b"Contact: *\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n")
    msg = parse_message(register)
    assert msg.contact_star and msg.expires == 0
    many = parse_message(register.replace(b"Contact: *", b"m: <sip:a@h1>;q=0.1, \"B, b\" <sip:b@h2>,sip:c@h3"))
    assert [c.uri.host for c in many.contacts] == ["h1", "h2", "h3"] and not many.contact_star
    assert many.contacts[1].display_name == "B, b"
    mixed = parse_message(register.replace(b"Contact: *", b"Contact: *, <sip:a@h1>"))
    with pytest.raises(SIPParseError):
        _ = mixed.contacts


def test_compact_forms_and_name_case_map_to_the_same_header() -> None:
    msg = parse_message(b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/TCP h\r\nVIA: SIP/2.0/UDP g\r\n"
                        b"f: <sip:x@y>;tag=9\r\nT: sip:a@b\r\ni: cid\r\nCSEQ: 1 OPTIONS\r\nl: 0\r\n\r\n")
    assert [v.host for v in msg.via] == ["h", "g"]
    assert msg.from_.tag == "9" and msg.call_id == "cid" and msg.header_count("via") == 2
    assert msg.header_fields("v")[1].name == "VIA"
    msg.validate()


def test_folded_header_values_read_as_one_line_and_stay_folded_on_the_wire() -> None:
    data = (b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKa\r\nSubject: first\r\n\tsecond\r\n"
            b"To: sip:a@b\r\nFrom: sip:c@d;tag=1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    msg = parse_message(data)
    assert msg.header("Subject") == "first second"
    assert msg.header_fields("subject")[0].raw == "Subject: first\r\n\tsecond"
    msg.add_header("X-A", "1")
    assert b"Subject: first\r\n\tsecond\r\n" in msg.serialize()


def test_lf_only_messages_and_leading_crlf_are_accepted() -> None:
    lf = INVITE.replace(b"\r\n", b"\n")
    lf = lf.replace(b"Content-Length: " + str(len(SDP)).encode(), b"Content-Length: " + str(len(SDP) - 8).encode())
    msg = parse_message(lf)
    assert msg.method == "INVITE" and msg.body == SDP.replace(b"\r\n", b"\n")
    msg.add_header("X-New", "yes")
    expected = b"Content-Length: " + str(len(SDP) - 8).encode() + b"\nX-New: yes\n\nv=0\n"
    assert expected in msg.serialize()
    assert parse_message(b"\r\n\r\n" + INVITE).raw == INVITE


def test_response_start_line() -> None:
    msg = parse_message(b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKa\r\nTo: <sip:a@b>;tag=x\r\n"
                        b"From: <sip:c@d>;tag=y\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
    assert isinstance(msg, Response) and (msg.status, msg.reason, msg.version) == (486, "Busy Here", "SIP/2.0")
    assert not msg.is_request and msg.to.tag == "x"
    msg.validate()


@pytest.mark.parametrize(("data", "code"), [
    (b"INVITE sip:a@b SIP/2.0\r\nVia: x", 400),                        # no end of header section
    (b"INVITE sip:a@b SIP/3.0\r\n\r\n", 505),
    (b"INVITE sip:a@b HTTP/1.1\r\n\r\n", 400),
    (b"INVITE sip:a@b SIP/2.0\r\nno colon here\r\n\r\n", 400),
    (b"INVITE sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n", 400),
    (b"INVITE sip:a@b SIP/2.0\r\n: x\r\n\r\n", 400),
    (b"INVITE sip:a@b SIP/2.0\r\nX: a\nY: b\r\n\r\n", 400),              # bare LF inside CRLF header block
    (b"INVITE sip:a@b SIP/2.0\r\n folded-start: x\r\n\r\n", 400),
    (b"SIP/2.0 99 Low\r\n\r\n", 400),
    (b"SIP/2.0 2000 OK\r\n\r\n", 400),
    (b"INV@ITE sip:a@b SIP/2.0\r\n\r\n", 400),
    (b"INVITE nocolon SIP/2.0\r\n\r\n", 400),
    (b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 1x\r\n\r\n", 400),
    (b"", 400),
])
def test_malformed_messages_raise_parse_error_with_reply_code(data: bytes, code: int) -> None:
    with pytest.raises(SIPParseError) as caught:
        parse_message(data)
    assert caught.value.code == code


def test_oversized_message_gets_513() -> None:
    with pytest.raises(SIPParseError) as caught:
        parse_message(INVITE, max_size=100)
    assert (caught.value.code, caught.value.reason) == (513, "Message Too Large")


def test_parse_error_is_not_a_builtin_error_kind() -> None:
    assert not issubclass(SIPParseError, (ValueError, LookupError, TypeError))
    error = SIPParseError(400, detail="why")
    assert (error.code, error.reason, error.detail) == (400, "Bad Request", "why")
    assert str(error) == "400 Bad Request: why"


# -- editing with lumps: everything not edited stays byte-exact --------------------------------------------------

def test_add_via_inserts_above_the_top_via_and_keeps_every_other_byte() -> None:
    msg = invite()
    msg.add_via("SIP/2.0/UDP proxy.example.com;branch=z9hG4bKnew")
    out = msg.serialize()
    assert out == INVITE.replace(b"Via: ", b"Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKnew\r\nVia: ", 1)
    assert [v.branch for v in parse_message(out).via] == ["z9hG4bKnew", "z9hG4bK776asdhds"]
    assert msg.via1.branch == "z9hG4bK776asdhds"           # reads see the message as received


def test_remove_route_keeps_every_other_byte() -> None:
    msg = invite()
    assert msg.remove_header("Route") == 2
    out = msg.serialize()
    assert out == (INVITE.replace(b"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n", b"")
                   .replace(b"Route: <sip:p3.example.com;lr>\r\n", b""))
    assert msg.route and not parse_message(out).route


def test_remove_one_route_field_by_index() -> None:
    msg = invite()
    second = msg.header_fields("route")[1]
    msg.remove_field(second.index)
    assert msg.serialize() == INVITE.replace(b"Route: <sip:p3.example.com;lr>\r\n", b"")


def test_rewrite_request_uri_keeps_every_other_byte() -> None:
    msg = invite()
    msg.set_ruri("sip:bob@192.0.2.4:5062;transport=tcp")
    assert msg.serialize() == INVITE.replace(b"INVITE sip:bob@biloxi.example.com SIP/2.0",
                                             b"INVITE sip:bob@192.0.2.4:5062;transport=tcp SIP/2.0")
    assert msg.ruri.host == "biloxi.example.com" and msg.effective_ruri.port == 5062
    assert msg.apply_lumps().ruri.port == 5062


def test_replace_sdp_body_updates_content_length_only() -> None:
    msg = invite()
    sdp = msg.sdp
    sdp.media[0].port = 30000
    sdp.connection = sdp.connection.__class__("IN", "IP4", "203.0.113.50")
    new_body = sdp.serialize()
    msg.set_body(new_body)
    out = msg.serialize()
    head, body = out.split(b"\r\n\r\n", 1)
    assert body == new_body
    old_head = INVITE.split(b"\r\n\r\n", 1)[0]
    assert head == old_head.replace(b"Content-Length: " + str(len(SDP)).encode(),
                                    b"Content-Length: " + str(len(new_body)).encode())
    assert parse_message(out).sdp.media[0].port == 30000


def test_set_body_with_content_type_and_empty_body() -> None:
    msg = invite()
    msg.set_body(b"", "text/plain")
    again = parse_message(msg.serialize())
    assert again.body == b"" and again.content_length == 0 and again.content_type.mime == "text/plain"


def test_compact_content_length_keeps_its_spelling_when_rewritten() -> None:
    data = b"MESSAGE sip:a@b SIP/2.0\r\nl  :  5\r\nc: text/plain\r\n\r\nhello"
    msg = parse_message(data)
    msg.set_body(b"hi")
    assert msg.serialize() == b"MESSAGE sip:a@b SIP/2.0\r\nl  :  2\r\nc: text/plain\r\n\r\nhi"


def test_add_header_positions() -> None:
    msg = invite()
    msg.add_header("X-Last", "1")
    msg.add_header("X-First", "2", first=True)
    msg.add_header("Record-Route", "<sip:me.example.com;lr>", before="Route")
    msg.add_header("X-After-CSeq", "3", after="CSeq")
    names = [f.name for f in parse_message(msg.serialize()).headers]
    assert names[0] == "X-First" and names[-1] == "X-Last"
    assert names.index("Record-Route") == names.index("Route") - 1
    assert names[names.index("CSeq") + 1] == "X-After-CSeq"
    assert msg.header("X-Last") is None                    # not visible to reads, as in OpenSIPS


def test_replace_field_keeps_name_spelling() -> None:
    msg = invite()
    field = msg.header_fields("max-forwards")[0]
    msg.replace_field(field.index, "69")
    assert msg.serialize() == INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards: 69")


def test_remove_top_via_of_a_multi_value_header() -> None:
    data = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP proxy;branch=z9hG4bKp , SIP/2.0/UDP ua;branch=z9hG4bKu\r\n"
            b"Via: SIP/2.0/TCP far;branch=z9hG4bKf\r\nTo: <sip:a@b>;tag=1\r\nFrom: <sip:c@d>;tag=2\r\n"
            b"Call-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
    msg = parse_message(data)
    msg.remove_top_via()
    out = msg.serialize()
    assert out == data.replace(b"Via: SIP/2.0/UDP proxy;branch=z9hG4bKp , ", b"Via: ")
    again = parse_message(out)
    again.remove_top_via()
    assert [v.host for v in parse_message(again.serialize()).via] == ["far"]


def test_branch_lumps_are_independent_copies() -> None:
    msg = invite()
    msg.add_via("SIP/2.0/UDP proxy;branch=z9hG4bKcommon")
    branch1, branch2 = msg.lumps.copy(), msg.lumps.copy()
    branch1.new_uri = "sip:bob@10.0.0.1"
    branch2.new_uri = "sip:bob@10.0.0.2"
    first, second = parse_message(msg.serialize(branch1)), parse_message(msg.serialize(branch2))
    assert (first.ruri.host, second.ruri.host) == ("10.0.0.1", "10.0.0.2")
    assert first.via1.branch == second.via1.branch == "z9hG4bKcommon"
    assert msg.lumps.new_uri is None and isinstance(branch1, Lumps)


def test_unedited_serialize_returns_the_received_bytes() -> None:
    msg = invite()
    assert msg.serialize() is msg.raw and bytes(msg) == INVITE
    assert not msg.lumps


def test_validate_accepts_a_good_request_and_build_reply_round_trips() -> None:
    msg = invite()
    msg.validate()
    reply = parse_message(build_reply(msg, 180))
    assert isinstance(reply, Response) and reply.status == 180 and reply.to.tag
