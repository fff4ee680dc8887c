"""RFC 4475 torture messages: one test per file, named after it, pinning what INDEX.tsv says a proxy must do.

Valid messages parse, pass `validate()`, serialize back unchanged and show the fields the RFC points at.
Invalid ones raise SIPParseError with the reply code (from parse_message for framing/start-line faults, from
the typed view or validate() otherwise), or are accepted where the RFC lets a proxy forward them.
"""
from __future__ import annotations

from tests import shared
import csv
from pathlib import Path

import pytest

from opensips_py.sip import (
    URI, Request, Response, SIPParseError, StreamFramer, build_reply, parse_message, unescape,
)
from opensips_py.sip.sdp import SessionDescription

CORPUS = shared.CORPUS / "rfc4475"


def load(name: str) -> bytes:
    return (CORPUS / f"{name}.dat").read_bytes()


def valid(name: str) -> Request | Response:
    """Parse, validate and check the unedited round trip."""
    msg = parse_message(load(name))
    msg.validate()
    assert msg.serialize() == msg.raw
    return msg


def request(name: str) -> Request:
    msg = valid(name)
    assert isinstance(msg, Request)
    return msg


def rejected_at_parse(name: str) -> SIPParseError:
    with pytest.raises(SIPParseError) as caught:
        parse_message(load(name))
    return caught.value


def rejected_at_validate(name: str) -> SIPParseError:
    msg = parse_message(load(name))
    with pytest.raises(SIPParseError) as caught:
        msg.validate()
    return caught.value


def test_index_lists_every_file_and_each_has_a_test() -> None:
    with open(CORPUS / "INDEX.tsv", newline="") as index:
        names = {row["file"].removesuffix(".dat") for row in csv.DictReader(index, delimiter="\t")}
    assert names == {p.stem for p in CORPUS.glob("*.dat")}
    tested = {name.removeprefix("test_").split("_")[0] for name in globals() if name.startswith("test_")}
    assert names <= tested


# -- 3.1.1 valid messages ---------------------------------------------------------------------------------------

def test_wsinv_short_tortuous_invite_parses_every_field() -> None:
    msg = request("wsinv")
    assert msg.method == "INVITE" and "unknownparam" in msg.ruri.params
    assert msg.to.uri == URI("sip:vivekg@chair-dnrc.example.com") and msg.to.tag == "1918181833n"
    assert msg.from_.display_name == 'J Rosenberg \\"' and msg.from_.tag == "98asjd8"
    assert msg.max_forwards == 68
    assert (msg.cseq.number, msg.cseq.method) == (9, "INVITE")
    assert [(v.transport, v.host, v.branch) for v in msg.via] == [
        ("UDP", "192.0.2.2", "390skdjuw"), ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239")]
    assert msg.header("Subject") == "" and msg.header("s") == ""
    assert msg.header("NewFangledHeader") == "newfangled value continued newfangled value"
    assert msg.header("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    (contact,) = msg.contacts
    assert contact.display_name == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"} and contact.q == 0.33
    (route,) = msg.route
    assert route.uri.params == {"lr": None, "unknownwith": "value", "unknown-no-value": None}
    assert msg.content_length == 150 == len(msg.body)
    assert msg.sdp is not None and msg.sdp.media[1].port == 3227


def test_intmeth_wide_range_of_valid_characters() -> None:
    msg = request("intmeth")
    assert msg.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert msg.ruri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert msg.ruri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)" and msg.ruri.host == "example.com"
    assert msg.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert msg.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert msg.from_.params["fromparam''~+*_!.-%"] == '"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439"'
    assert msg.from_.tag == "_token~1'+`*%!-."
    assert msg.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert msg.header("extensionHeader-!.%*+_`'~") == "\ufeff\u5927\u505c\u96fb"
    assert msg.cseq.method == msg.method


def test_esc01_escapes_compare_as_the_decoded_characters_once() -> None:
    msg = request("esc01")
    assert msg.ruri.user == "sips%3Auser%40example.com" and unescape(msg.ruri.user) == "sips:user@example.com"
    assert msg.to.uri == URI("sip:user@example.com")
    assert msg.from_.uri.user == "I%20have%20spaces" and unescape(msg.from_.uri.user) == "I have spaces"
    contact = msg.contacts[0].uri
    assert contact == URI("sip:caller@host5.example.net;lr;name=value%2541")
    assert contact != URI("sip:caller@host5.example.net;lr;name=valueA")
    assert msg.header("c") == "application/sdp" and msg.content_type.mime == "application/sdp"


def test_escnull_escaped_nulls_do_not_truncate() -> None:
    msg = request("escnull")
    assert unescape(msg.to.uri.user) == "null-\x00-null"
    first, second = msg.contacts
    assert (unescape(first.uri.user), unescape(second.uri.user)) == ("\x00", "\x00\x00")
    assert first.uri != second.uri


def test_esc02_percent_that_is_not_an_escape() -> None:
    msg = request("esc02")
    assert msg.method == "RE%47IST%45R" and msg.method != "REGISTER"
    assert [c.uri.host for c in msg.contacts] == ["host1.example.com", "host3.example.com"]
    assert msg.header("C%6Fntact") == "<sip:alias2@host2.example.com>"
    assert msg.to.display_name == "%Z%45"


def test_lwsdisp_display_name_touching_the_bracket() -> None:
    msg = request("lwsdisp")
    assert msg.from_.display_name == "caller" and msg.from_.uri == URI("sip:caller@example.com")


def test_longreq_long_values_have_no_fixed_limits() -> None:
    msg = request("longreq")
    assert len(msg.raw) == 3515 and len(msg.via) == 34
    assert msg.via[-1].received == "192.0.2.5" and len(msg.via[-1].branch) > 100
    assert msg.to.display_name.startswith("I have a user name of extremeextreme")
    assert msg.to.uri.port == 6000 and len(msg.from_.tag) > 50
    assert msg.call_id.startswith("longreq.onereallyreally")


def test_dblreq_trailing_datagram_bytes_are_dropped() -> None:
    data = load("dblreq")
    msg = request("dblreq")
    assert msg.method == "REGISTER" and msg.body == b""
    assert b"INVITE" not in msg.raw and data.startswith(msg.raw) and len(data) - len(msg.raw) == 450
    assert msg.call_id == "dblreq.0ha0isndaksdj99sdfafnl3lk233412"


def test_semiuri_semicolon_belongs_to_the_user_part() -> None:
    msg = request("semiuri")
    assert msg.ruri.user == "user;par=u%40example.net" and msg.ruri.host == "example.com"
    assert msg.ruri.params == {}
    assert msg.header("Accept").startswith("application/sdp, application/pkcs7-mime, multipart/mixed")


def test_transports_unknown_transport_tokens_are_fine() -> None:
    msg = request("transports")
    assert [v.transport for v in msg.via] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def test_mpart01_binary_multipart_body_is_framed_by_content_length() -> None:
    msg = request("mpart01")
    assert len(msg.body) == msg.content_length == 553
    assert b"\x00" in msg.body and msg.content_type.mime == "multipart/mixed"
    assert msg.content_type.params["boundary"] == "7a9cbec02ceef655"
    assert msg.via1.has_rport and msg.via1.rport is None


def test_unreason_utf8_reason_phrase() -> None:
    msg = valid("unreason")
    assert isinstance(msg, Response) and msg.status == 200
    assert msg.reason.startswith("= 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e")
    assert msg.reason.endswith(" - \u043f\u0440\u043e\u0441\u0442\u043e\u0435")


def test_noreason_empty_reason_phrase() -> None:
    msg = valid("noreason")
    assert isinstance(msg, Response) and (msg.status, msg.reason) == (100, "")


# -- 3.1.2 invalid messages ---------------------------------------------------------------------------------------

def test_badinv01_empty_header_field_separators_get_400() -> None:
    msg = parse_message(load("badinv01"))
    for view in ("via", "contacts"):
        with pytest.raises(SIPParseError) as caught:
            getattr(msg, view)
        assert caught.value.code == 400
    assert rejected_at_validate("badinv01").code == 400


def test_clerr_content_length_larger_than_datagram_gets_400_and_stream_waits() -> None:
    assert rejected_at_parse("clerr").code == 400
    framer = StreamFramer()
    assert framer.feed(load("clerr")) == [] and framer.buffered == len(load("clerr"))


def test_ncl_negative_content_length_gets_400_and_breaks_stream_framing() -> None:
    assert rejected_at_parse("ncl").code == 400
    framer = StreamFramer()
    with pytest.raises(SIPParseError):
        framer.feed(load("ncl"))
    assert framer.broken


def test_scalar02_cseq_over_2_32_gets_400_while_big_expires_clamp() -> None:
    assert rejected_at_validate("scalar02").code == 400
    msg = parse_message(load("scalar02"))
    assert msg.max_forwards == 300
    assert msg.expires == 2**32 - 1 and msg.contacts[0].expires == 2**32 - 1


def test_scalarlg_response_with_overlarge_cseq_is_rejected_for_dropping() -> None:
    msg = parse_message(load("scalarlg"))
    assert isinstance(msg, Response) and msg.status == 503
    with pytest.raises(SIPParseError):
        msg.validate()


def test_quotbal_unterminated_quoted_display_name_gets_400() -> None:
    msg = parse_message(load("quotbal"))
    with pytest.raises(SIPParseError, match="unterminated") as caught:
        _ = msg.to
    assert caught.value.code == 400


def test_ltgtruri_bracketed_request_uri_gets_400() -> None:
    assert rejected_at_parse("ltgtruri").code == 400


def test_lwsruri_space_inside_request_uri_gets_400() -> None:
    assert rejected_at_parse("lwsruri").code == 400


def test_lwsstart_multiple_spaces_in_request_line_get_400() -> None:
    assert rejected_at_parse("lwsstart").code == 400


def test_trws_trailing_spaces_on_request_line_get_400() -> None:
    assert rejected_at_parse("trws").code == 400


def test_escruri_headers_in_request_uri_get_400() -> None:
    error = rejected_at_validate("escruri")
    assert error.code == 400 and "Request-URI" in error.detail
    assert parse_message(load("escruri")).ruri.headers == {"Route": "%3Csip:example.com%3E"}


def test_baddate_non_gmt_date_is_forwarded_unchanged() -> None:
    msg = request("baddate")
    assert msg.header("Date") == "Fri, 01 Jan 2010 16:00:00 EST"
    msg.add_via("SIP/2.0/UDP proxy.example.com;branch=z9hG4bKx")
    assert b"Date: Fri, 01 Jan 2010 16:00:00 EST\r\n" in msg.serialize()


def test_regbadct_contact_with_headers_outside_brackets_gets_400() -> None:
    msg = parse_message(load("regbadct"))
    with pytest.raises(SIPParseError, match="must be in <>") as caught:
        _ = msg.contacts
    assert caught.value.code == 400


def test_badaspec_spaces_inside_addr_spec_get_400() -> None:
    msg = parse_message(load("badaspec"))
    assert msg.from_.display_name == "Bell, Alexander"
    with pytest.raises(SIPParseError) as caught:
        _ = msg.to
    assert caught.value.code == 400


def test_baddn_unquoted_display_name_with_comma_gets_400() -> None:
    msg = parse_message(load("baddn"))      # no blank line after the headers: still framed
    assert msg.body == b"" and msg.serialize() == load("baddn")
    with pytest.raises(SIPParseError) as caught:
        _ = msg.from_
    assert caught.value.code == 400


def test_badvers_unknown_sip_version_gets_505() -> None:
    error = rejected_at_parse("badvers")
    assert (error.code, error.reason) == (505, "Version Not Supported")


def test_mismatch01_cseq_method_mismatch_gets_400() -> None:
    assert rejected_at_validate("mismatch01").code == 400


def test_mismatch02_unknown_method_with_cseq_mismatch_gets_501() -> None:
    error = rejected_at_validate("mismatch02")
    assert (error.code, error.reason) == (501, "Not Implemented")


def test_bigcode_overlarge_response_code_is_rejected_for_dropping() -> None:
    assert rejected_at_parse("bigcode").code == 400


# -- 3.2 transaction layer, 3.3 application layer, 3.4 RFC 2543 ------------------------------------------------------

def test_badbranch_bare_magic_cookie_is_not_an_rfc3261_branch() -> None:
    msg = request("badbranch")
    assert msg.via1.branch == "z9hG4bK" and not msg.via1.is_rfc3261_branch


def test_insuf_missing_headers_get_400_and_a_reply_can_still_be_built() -> None:
    error = rejected_at_validate("insuf")
    assert error.code == 400 and "from" in error.detail
    reply = parse_message(build_reply(parse_message(load("insuf")), error.code, error.reason))
    assert isinstance(reply, Response) and reply.status == 400
    assert reply.via1.branch == "z9hG4bKkdj.insuf" and reply.cseq.number == 193942


def test_unkscm_unknown_request_uri_scheme_is_reported() -> None:
    msg = request("unkscm")
    assert msg.ruri.scheme == "nobodyknowsthisscheme" and not msg.ruri.is_sip
    assert msg.ruri.opaque == "totallyopaquecontent"


def test_novelsc_atypical_request_uri_scheme_is_reported() -> None:
    msg = request("novelsc")
    assert msg.ruri.scheme == "soap.beep" and not msg.ruri.is_sip


def test_unksm2_unknown_schemes_in_to_from_contact_parse() -> None:
    msg = request("unksm2")
    assert (msg.to.uri.scheme, msg.from_.uri.scheme, msg.contacts[0].uri.scheme) == ("isbn", "http", "name")
    assert msg.contacts[0].uri.opaque == "John_Smith"


def test_bext01_require_and_proxy_require_tokens() -> None:
    msg = request("bext01")
    assert msg.require == ["nothingSupportsThis", "nothingSupportsThisEither"]
    assert msg.proxy_require == ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]


def test_invut_unknown_content_type_is_forwarded() -> None:
    msg = request("invut")
    assert msg.content_type.mime == "application/unknownformat" and msg.sdp is None
    assert msg.body.startswith(b"<audio>")


def test_regaut01_unknown_authorization_scheme_is_kept() -> None:
    msg = request("regaut01")
    (credentials,) = msg.authorization
    assert credentials.scheme == "NoOneKnowsThisScheme" and not credentials.is_digest
    assert credentials.params == {"opaque-data": "here"}


def test_multi01_repeated_single_value_headers_get_400() -> None:
    assert rejected_at_validate("multi01").code == 400
    msg = parse_message(load("multi01"))
    assert msg.header_count("CSeq") == 2 and msg.header_count("To") == 2


def test_mcl01_multiple_content_length_values_get_400() -> None:
    assert rejected_at_parse("mcl01").code == 400
    with pytest.raises(SIPParseError):
        StreamFramer().feed(load("mcl01"))


def test_bcast_broadcast_via_parses_for_the_proxy_to_drop() -> None:
    msg = valid("bcast")
    assert isinstance(msg, Response) and msg.via[1].host == "255.255.255.255"


def test_zeromf_max_forwards_zero() -> None:
    assert request("zeromf").max_forwards == 0


def test_cparam01_parameter_after_bare_uri_is_a_contact_parameter() -> None:
    (contact,) = request("cparam01").contacts
    assert not contact.bracketed and contact.params == {"unknownparam": None}
    assert contact.uri.params == {} and str(contact.uri) == "sip:+19725552222@gw1.example.net"


def test_cparam02_parameter_inside_brackets_is_a_uri_parameter() -> None:
    (contact,) = request("cparam02").contacts
    assert contact.params == {} and contact.uri.params == {"unknownparam": None}


def test_regescrt_escaped_route_header_in_contact_uri_is_kept() -> None:
    (contact,) = request("regescrt").contacts
    assert contact.uri.headers == {"Route": "%3Csip:sip.example.com%3E"}
    assert unescape(contact.uri.headers["Route"]) == "<sip:sip.example.com>"
    assert contact.uri_text == "sip:user@example.com?Route=%3Csip:sip.example.com%3E"


def test_sdp01_unacceptable_accept_is_forwarded() -> None:
    msg = request("sdp01")
    assert msg.header("Accept") == "text/nobodyKnowsThis"
    assert isinstance(msg.sdp, SessionDescription)


def test_inv2543_rfc2543_syntax_is_accepted() -> None:
    msg = request("inv2543")
    assert msg.via1.branch is None and msg.from_.tag is None and msg.max_forwards is None
    assert msg.content_length is None and msg.body.startswith(b"v=0") and msg.body.endswith(b"RTP/AVP 0\r\n")
    assert msg.record_route[0].uri.maddr == "ss1.example.com"
    relayed = msg.serialize(ensure_content_length=True)
    assert relayed.count(b"Content-Length: 105\r\n") == 1 and parse_message(relayed).body == msg.body
