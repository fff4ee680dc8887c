"""sipmsgops on real SIP text: return codes of sipmsgops.c / codecs.c / uri.c / list_hdr.c, header edits as
lumps (reads see the received message), what the serialized message looks like, and the SDP helpers."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from opensips_py.config.parser import parse_text
from opensips_py.modules.exports import RouteType
from opensips_py.modules.sipmsgops import Module
from opensips_py.script.compiler import Bindings, compile_script
from opensips_py.script.context import ListenSocket, MsgContext, Process, ReceiveInfo, ScriptError
from opensips_py.script.core_functions import CoreFunctions
from opensips_py.script.pvars import CORE_HANDLERS, PVRef
from opensips_py.sip import parse_message

SDP = (
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 198.51.100.1\r\n"
    "s=-\r\n"
    "c=IN IP4 198.51.100.1\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8 96 97 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:96 opus/48000/2\r\n"
    "a=fmtp:96 useinbandfec=1\r\n"
    "a=rtcp-fb:96 nack\r\n"
    "a=rtpmap:97 rtx/48000\r\n"
    "a=fmtp:97 apt=96\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=sendrecv\r\n"
    "m=video 51372 RTP/AVP 31\r\n"
    "a=rtpmap:31 H261/90000\r\n"
)


def invite(sdp: str = SDP, extra: str = "") -> bytes:
    return (
        "INVITE sip:bob@biloxi.example.com;user=phone;lr SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKnashds8\r\n"
        "Max-Forwards: 70\r\n"
        "To: Bob <sip:bob@biloxi.example.com>\r\n"
        "f: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
        "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
        "CSeq: 314159 INVITE\r\n"
        "Contact: <sip:alice@198.51.100.1>\r\n"
        "Supported: timer, 100rel\r\n"
        "X-Trace: one\r\n"
        "X-Trace: two\r\n"
        "Privacy: id;header\r\n"
        f"{extra}"
        "Content-Type: application/sdp\r\n"
        f"Content-Length: {len(sdp)}\r\n"
        "\r\n" + sdp
    ).encode()


INVITE = invite()
REPLY_200 = (
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKnashds8\r\n"
    "To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:bob@192.0.2.4>\r\n"
    "Content-Length: 0\r\n\r\n"
).encode()
MULTIPART_BODY = (
    "--unique-boundary-1\r\n"
    "Content-Type: application/sdp\r\n"
    "\r\n"
    "v=0\r\n"
    "--unique-boundary-1\r\n"
    "Content-Type: application/isup\r\n"
    "\r\n"
    "isup-bytes\r\n"
    "--unique-boundary-1--\r\n"
)
MULTIPART = (
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK1\r\n"
    "Max-Forwards: 70\r\n"
    "To: <sip:bob@biloxi.example.com>\r\n"
    "From: <sip:alice@atlanta.example.com>;tag=1\r\n"
    "Call-ID: mp-1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Type: multipart/mixed;boundary=unique-boundary-1\r\n"
    f"Content-Length: {len(MULTIPART_BODY)}\r\n"
    "\r\n" + MULTIPART_BODY
).encode()

OPS = Module(None, {})


def make_ctx(data: bytes = INVITE, route_type: RouteType = RouteType.REQUEST) -> MsgContext:
    return MsgContext(parse_message(data), route_type, Process())


def headers_of(ctx: MsgContext) -> list[str]:
    return ctx.msg.serialize().decode().split("\r\n\r\n", 1)[0].split("\r\n")


def sent_sdp(ctx: MsgContext) -> str:
    return parse_message(ctx.msg.serialize()).body.decode()


def var(name: str) -> PVRef:
    return PVRef("var", CORE_HANDLERS["var"], name)


def avp(name: str) -> PVRef:
    return PVRef("avp", CORE_HANDLERS["avp"], name)


# ------------------------------------------------------------------------------------------------ headers

def test_append_hf_goes_after_the_last_header_and_is_not_visible_to_reads():
    ctx = make_ctx()
    assert OPS.append_hf(ctx, "X-Added: 1\r\n") == 1
    assert headers_of(ctx)[-1] == "X-Added: 1"
    assert OPS.is_present_hf(ctx, "X-Added") == -1


def test_append_hf_after_the_first_header_of_a_name_and_insert_hf_before_it():
    ctx = make_ctx()
    assert OPS.append_hf(ctx, "X-After: 1\r\n", "X-Trace") == 1
    assert OPS.insert_hf(ctx, "X-Before: 1\r\n", "X-Trace") == 1
    assert OPS.insert_hf(ctx, "X-Top: 1\r\nX-Top2: 2\r\n") == 1
    headers = headers_of(ctx)
    assert headers[1:3] == ["X-Top: 1", "X-Top2: 2"]
    at = headers.index("X-Trace: one")
    assert headers[at - 1:at + 3] == ["X-Before: 1", "X-Trace: one", "X-After: 1", "X-Trace: two"]


def test_the_anchor_of_append_hf_is_case_sensitive_for_unknown_headers_but_not_for_known_ones():
    ctx = make_ctx()
    OPS.append_hf(ctx, "X-A: 1\r\n", "x-trace")  # no such spelling: at the end
    OPS.append_hf(ctx, "X-B: 1\r\n", "from")  # a known header: by type, the compact 'f' line
    headers = headers_of(ctx)
    assert headers[-1] == "X-A: 1"
    assert headers[headers.index("f: Alice <sip:alice@atlanta.example.com>;tag=1928301774") + 1] == "X-B: 1"


def test_append_urihf_writes_the_received_ruri_even_after_a_rewrite():
    ctx = make_ctx()
    ctx.new_uri = "sip:other@example.org"
    assert OPS.append_urihf(ctx, "X-Orig-URI: <", ">\r\n") == 1
    assert headers_of(ctx)[-1] == "X-Orig-URI: <sip:bob@biloxi.example.com;user=phone;lr>"
    assert OPS.append_urihf(make_ctx(REPLY_200, RouteType.ONREPLY), "X: ", "\r\n") == -1


def test_remove_hf_removes_every_line_once_and_knows_compact_forms():
    ctx = make_ctx()
    assert OPS.remove_hf(ctx, "x-trace") == 1
    assert OPS.remove_hf(ctx, "X-Trace") == -1  # already removed
    assert OPS.remove_hf(ctx, "From") == 1  # the message writes it 'f:'
    headers = headers_of(ctx)
    assert not any(h.startswith(("X-Trace", "f:")) for h in headers)
    assert ctx.msg.header("X-Trace") == "one"  # reads see the received message


def test_remove_hf_re_and_glob_match_header_names():
    ctx = make_ctx()
    assert OPS.remove_hf_re(ctx, re.compile("^x-")) == 1
    assert OPS.remove_hf_glob(ctx, "SUPP*") == 1
    assert OPS.remove_hf_glob(ctx, "Nothing*") == -1
    assert not any(h.startswith(("X-", "Supported")) for h in headers_of(ctx))


def test_is_present_hf_with_compact_forms_opensips_knows():
    ctx = make_ctx(invite(extra="r: <sip:carol@example.com>\r\n"))
    assert OPS.is_present_hf(ctx, "From") == 1
    assert OPS.is_present_hf(ctx, "f") == 1
    assert OPS.is_present_hf(ctx, "x-TRACE") == 1
    assert OPS.is_present_hf(ctx, "Refer-To") == -1  # 'r' is not a compact form OpenSIPS knows
    assert OPS.is_present_hf(ctx, "r") == 1


def test_list_header_options():
    ctx = make_ctx()
    assert OPS.list_hdr_has_option(ctx, "Supported", "100REL") == 1
    assert OPS.list_hdr_has_option(ctx, "Supported", "path") == -1
    assert OPS.list_hdr_add_option(ctx, "Supported", "path") == 1
    assert "Supported: timer, 100rel,path" in headers_of(ctx)
    assert OPS.list_hdr_remove_option(ctx, "Supported", "timer") == 1
    assert "Supported: 100rel,path" in headers_of(ctx)
    assert OPS.list_hdr_remove_option(ctx, "Supported", "100rel") == 1
    assert OPS.list_hdr_remove_option(ctx, "Supported", "path") == 1
    assert not any(h.startswith("Supported") for h in headers_of(ctx))
    assert OPS.list_hdr_add_option(ctx, "Require", "x") == -1


def test_get_glob_headers_values_into_avps():
    ctx = make_ctx()
    assert OPS.get_glob_headers_values(ctx, "x-*", avp("n"), avp("v")) == 1
    assert ctx.avps["n"] == ["X-Trace", "X-Trace"] and ctx.avps["v"] == ["two", "one"]
    assert OPS.get_glob_headers_values(ctx, "x-*", var("n"), avp("v")) == -1


# ------------------------------------------------------------------------------------------------ local replies

def test_append_to_reply_append_time_and_body_for_the_reply_builders():
    ctx = make_ctx()
    ctx.process.clock = lambda: 0.0
    assert OPS.append_to_reply(ctx, "Contact: <sip:1.2.3.4>\r\nX-Reason: busy\r\n") == 1
    assert OPS.append_time(ctx) == 1
    assert OPS.append_body_to_reply(ctx, "first") == 1 and OPS.append_body_to_reply(ctx, "second") == 1
    assert ctx.module_state["sl"] == {
        "reply_headers": ["Contact: <sip:1.2.3.4>", "X-Reason: busy", "Date: Thu, 01 Jan 1970 00:00:00 GMT"],
        "reply_body": "second"}


# ------------------------------------------------------------------------------------------------ tests

def test_is_method_by_name_list_unknown_and_on_replies():
    ctx = make_ctx()
    assert OPS.is_method(ctx, "INVITE") == 1
    assert OPS.is_method(ctx, "invite") == 1
    assert OPS.is_method(ctx, "BYE|CANCEL") == -1
    assert OPS.is_method(ctx, "REGISTER|INVITE") == 1
    assert OPS.is_method(ctx, "FOO") == -1
    foo = make_ctx(OPTIONS_FOO)
    assert OPS.is_method(foo, "foo") == 1
    assert OPS.is_method(make_ctx(REPLY_200, RouteType.ONREPLY), "INVITE") == 1


OPTIONS_FOO = (
    "FOO sip:carol@chicago.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKhjhs8ass877\r\n"
    "To: <sip:carol@chicago.example.com>\r\n"
    "From: <sip:alice@atlanta.example.com>;tag=1\r\n"
    "Call-ID: foo-1\r\n"
    "CSeq: 1 FOO\r\n"
    "Content-Length: 0\r\n\r\n"
).encode()


def test_is_method_with_an_unknown_method_in_a_list_is_an_error():
    with pytest.raises(ScriptError):
        OPS.is_method(make_ctx(), "INVITE|FOO")


def test_has_totag():
    assert OPS.has_totag(make_ctx()) == -1
    assert OPS.has_totag(make_ctx(REPLY_200, RouteType.ONREPLY)) == 1


def test_has_body_with_and_without_a_mime():
    ctx = make_ctx()
    assert OPS.has_body(ctx) == 1
    assert OPS.has_body(ctx, "application/sdp") == 1
    assert OPS.has_body(ctx, "text/plain") == -1
    assert OPS.has_body(make_ctx(REPLY_200, RouteType.ONREPLY)) == -1


def test_has_body_part_looks_inside_multipart_and_multipart_types_match_content_type():
    ctx = make_ctx(MULTIPART)
    assert OPS.has_body_part(ctx, "application/isup") == 1
    assert OPS.has_body_part(ctx, "application/sdp") == 1
    assert OPS.has_body_part(ctx, "text/html") == -1
    assert OPS.has_body(ctx, "multipart/mixed") == 1


def test_is_privacy():
    ctx = make_ctx()
    assert OPS.is_privacy(ctx, "id") == 1 and OPS.is_privacy(ctx, "header") == 1
    assert OPS.is_privacy(ctx, "session") == -1
    assert OPS.is_privacy(make_ctx(REPLY_200), "id") == -1


def test_is_uri_user_e164():
    ctx = make_ctx()
    assert OPS.is_uri_user_e164(ctx, "sip:+4930123456@example.com") == 1
    assert OPS.is_uri_user_e164(ctx, "tel:+4930123456") == 1
    assert OPS.is_uri_user_e164(ctx, "sip:4930123456@example.com") == -1
    assert OPS.is_uri_user_e164(ctx, "sip:+12@example.com") == 1
    assert OPS.is_uri_user_e164(ctx, "sip:+1@example.com") == -1
    assert OPS.is_uri_user_e164(ctx, "sip:+1234567890123456@example.com") == -1
    assert OPS.is_uri_user_e164(ctx, "garbage") == -1


# ------------------------------------------------------------------------------------------------ R-URI parameters

def test_ruri_has_param_with_and_without_value():
    ctx = make_ctx()
    assert OPS.ruri_has_param(ctx, "user", "phone") == 1
    assert OPS.ruri_has_param(ctx, "user", "ip") == -1
    assert OPS.ruri_has_param(ctx, "user") == -1  # it has a value
    assert OPS.ruri_has_param(ctx, "lr") == 1
    assert OPS.ruri_has_param(ctx, "LR") == -1  # names compare case-sensitively


def test_ruri_add_and_del_param_rewrite_the_current_ruri():
    ctx = make_ctx()
    assert OPS.ruri_add_param(ctx, "transport=tcp") == 1
    assert ctx.new_uri == "sip:bob@biloxi.example.com;user=phone;lr;transport=tcp"
    assert OPS.ruri_del_param(ctx, "user") == 1
    assert ctx.new_uri == "sip:bob@biloxi.example.com;lr;transport=tcp"
    assert OPS.ruri_del_param(ctx, "maddr") == -1
    ctx.new_uri = "sip:bob@biloxi.example.com?subject=hi"
    assert OPS.ruri_add_param(ctx, "lr") == 1
    assert ctx.new_uri == "sip:bob@biloxi.example.com;lr?subject=hi"


def test_ruri_tel2sip_uses_the_from_host():
    ctx = make_ctx()
    assert OPS.ruri_tel2sip(ctx) == 1 and ctx.new_uri is None  # not a tel URI: nothing to do
    ctx.new_uri = "tel:+4930123456"
    assert OPS.ruri_tel2sip(ctx) == 1
    assert ctx.new_uri == "sip:+4930123456@atlanta.example.com;user=phone"


# ------------------------------------------------------------------------------------------------ SDP codecs

def m_lines(sdp: str) -> list[str]:
    return [line for line in sdp.split("\r\n") if line.startswith("m=")]


def test_codec_exists_by_name_and_clock_and_by_regex():
    ctx = make_ctx()
    assert OPS.codec_exists(ctx, "opus") == 1
    assert OPS.codec_exists(ctx, "OPUS", "48000") == 1
    assert OPS.codec_exists(ctx, "G729") == -1
    assert OPS.codec_exists_re(ctx, re.compile("^h26")) == 1
    assert ctx.msg.lumps.body is None  # finding changes nothing


def test_codec_delete_removes_the_payload_its_attribute_lines_and_its_rtx():
    ctx = make_ctx()
    assert OPS.codec_delete(ctx, "opus") == 1
    sdp = sent_sdp(ctx)
    assert m_lines(sdp)[0] == "m=audio 49170 RTP/AVP 0 8 101"
    assert not any(t in sdp for t in ("a=rtpmap:96", "a=fmtp:96", "a=rtcp-fb:96", "a=rtpmap:97", "a=fmtp:97"))
    assert "a=sendrecv" in sdp
    assert f"Content-Length: {len(sdp)}" in headers_of(ctx)
    assert OPS.codec_delete(ctx, "opus") == -1  # gone already


def test_codec_delete_with_a_clock_that_does_not_match_keeps_the_codec():
    ctx = make_ctx()
    assert OPS.codec_delete(ctx, "PCMU", "16000") == -1
    assert ctx.msg.lumps.body is None


def test_codec_move_up_and_down_reorder_the_m_line():
    ctx = make_ctx()
    assert OPS.codec_move_up(ctx, "PCMA") == 1
    assert m_lines(sent_sdp(ctx))[0] == "m=audio 49170 RTP/AVP 8 0 96 97 101"
    assert OPS.codec_move_down(ctx, "PCMA") == 1  # sees the first move
    assert m_lines(sent_sdp(ctx))[0] == "m=audio 49170 RTP/AVP 0 96 97 101 8"


def test_codec_move_up_re_moves_the_matches_in_rtpmap_list_order():
    ctx = make_ctx()
    assert OPS.codec_move_up_re(ctx, re.compile("^PCM")) == 1
    assert m_lines(sent_sdp(ctx))[0] == "m=audio 49170 RTP/AVP 8 0 96 97 101"


def test_codec_delete_except_re_keeps_only_the_matching_codecs_and_disables_emptied_streams():
    ctx = make_ctx()
    assert OPS.codec_delete_except_re(ctx, re.compile("PCMU|telephone-event")) == 1
    audio, video = m_lines(sent_sdp(ctx))
    assert audio == "m=audio 49170 RTP/AVP 0 101"
    assert video == "m=video 0 RTP/AVP"


def test_codec_delete_re_matches_static_payloads_without_rtpmap():
    sdp = SDP.replace("a=rtpmap:0 PCMU/8000\r\n", "")
    ctx = make_ctx(invite(sdp))
    assert OPS.codec_delete_re(ctx, re.compile("^pcmu$")) == 1
    assert m_lines(sent_sdp(ctx))[0] == "m=audio 49170 RTP/AVP 8 96 97 101"


def test_codec_functions_without_sdp_are_minus_1():
    assert OPS.codec_exists(make_ctx(REPLY_200, RouteType.ONREPLY), "PCMU") == -1
    assert OPS.codec_delete(make_ctx(MULTIPART), "PCMU") == -1


def test_stream_exists_and_stream_delete_once():
    ctx = make_ctx()
    assert OPS.stream_exists(ctx, re.compile("video")) == 1
    assert OPS.stream_exists(ctx, re.compile("audio"), re.compile("SAVP")) == -1
    assert OPS.stream_delete(ctx, re.compile("^video$")) == 1
    assert m_lines(sent_sdp(ctx)) == ["m=audio 49170 RTP/AVP 0 8 96 97 101"]
    assert "H261" not in sent_sdp(ctx)
    assert OPS.stream_delete(ctx, re.compile("^video$")) == -1
    assert OPS.stream_exists(ctx, re.compile("video")) == 1  # reads see the received SDP


def test_is_audio_on_hold_reports_the_hold_type():
    assert OPS.is_audio_on_hold(make_ctx()) == -1
    assert OPS.is_audio_on_hold(make_ctx(invite(SDP.replace("a=sendrecv", "a=sendonly")))) == 2
    held = SDP.replace("c=IN IP4 198.51.100.1", "c=IN IP4 0.0.0.0")
    assert OPS.is_audio_on_hold(make_ctx(invite(held))) == 1


def test_get_updated_body_part_sees_the_edits():
    ctx = make_ctx()
    OPS.codec_delete(ctx, "PCMA")
    assert OPS.get_updated_body_part(ctx, "application/sdp", var("b")) == 1
    assert "a=rtpmap:8" not in ctx.vars["b"] and ctx.msg.body.decode() == SDP
    assert OPS.get_updated_body_part(ctx, "text/plain", var("b")) == -2
    assert OPS.get_updated_body_part(make_ctx(MULTIPART), "application/isup", var("p")) == 1


# ------------------------------------------------------------------------------------------------ validation

def test_sipmsg_validate_accepts_a_good_request():
    assert OPS.sipmsg_validate(make_ctx(), "sthfrc") == 1


def test_sipmsg_validate_codes_and_reason():
    no_mf = INVITE.replace(b"Max-Forwards: 70\r\n", b"")
    ctx = make_ctx(no_mf)
    assert OPS.sipmsg_validate(ctx) == -13
    assert OPS.sipmsg_validate(ctx, "m") == 1
    path = make_ctx(invite(extra="Path: <sip:edge.example.com;lr>\r\n"))
    assert OPS.sipmsg_validate(path, None, var("why")) == -15
    assert path.vars["why"] == "PATH header supported only for REGISTERs"
    bad_user = make_ctx(INVITE.replace(b"INVITE sip:bob@", b"INVITE sip:b%zzob@"))
    assert OPS.sipmsg_validate(bad_user, "r") == -27


def test_sipmsg_validate_replies_and_contacts():
    unauthorized = REPLY_200.replace(b"200 OK", b"401 Unauthorized")
    assert OPS.sipmsg_validate(make_ctx(unauthorized, RouteType.ONREPLY)) == -20
    star = make_ctx(INVITE.replace(b"Contact: <sip:alice@198.51.100.1>", b"Contact: *"))
    assert OPS.sipmsg_validate(star, "c") == -30
    no_contact = make_ctx(INVITE.replace(b"Contact: <sip:alice@198.51.100.1>\r\n", b""))
    assert OPS.sipmsg_validate(no_contact, "c") == -14


def test_sipmsg_validate_needs_content_length_on_tcp():
    data = OPTIONS_FOO.replace(b"Content-Length: 0\r\n", b"")
    ctx = make_ctx(data)
    assert OPS.sipmsg_validate(ctx) == -13  # no Max-Forwards either, but over UDP CL is optional
    ctx.received = ReceiveInfo(ListenSocket("tcp", "192.0.2.1", 5060), "192.0.2.9", 40000, "tcp")
    assert OPS.sipmsg_validate(ctx) == -4


def test_sip_to_json():
    ctx = make_ctx(REPLY_200, RouteType.ONREPLY)
    assert OPS.sip_to_json(ctx, var("j")) == 1
    document = json.loads(ctx.vars["j"])
    assert document["first_line"] == "SIP/2.0 200 OK\r\n"
    assert document["headers"]["CSeq"] == ["314159 INVITE"] and "body" not in document


# ------------------------------------------------------------------------------------------------ end to end

def test_script_sipmsgops_calls_through_the_compiler():
    ctx = make_ctx()
    logs: list[str] = []
    ctx.process.log = lambda level, text: logs.append(text)
    ctx.process.log_level = 4
    result = parse_text(
        'route {\n'
        '\tif (is_method("INVITE|UPDATE") && !has_totag()) xlog("initial ");\n'
        '\tif (has_body("application/sdp")) {\n'
        '\t\tcodec_delete_re("opus|rtx");\n'
        '\t\tcodec_move_up("PCMA", "8000");\n'
        '\t}\n'
        '\tremove_hf("X-Trace");\n'
        '\tappend_hf("X-Proxy: $ci\\r\\n", "CSeq");\n'
        '\tif (!is_present_hf("X-Proxy")) xlog("lumps are not read back ");\n'
        '\tif (ruri_has_param("user", "phone")) ruri_del_param("user");\n'
        '\txlog("$ru");\n'
        '}\n')
    assert not result.diagnostics, result.diagnostics
    bindings = Bindings(modules={"sipmsgops": Module(None, {})}, core_functions=CoreFunctions(None, {}))
    assert compile_script(result.config, bindings).run("route", None, ctx) == 1
    assert "".join(logs) == "initial lumps are not read back sip:bob@biloxi.example.com;lr"
    headers = headers_of(ctx)
    assert headers[headers.index("CSeq: 314159 INVITE") + 1] == "X-Proxy: a84b4c76e66710@pc33.atlanta.example.com"
    assert not any(h.startswith("X-Trace") for h in headers)
    assert m_lines(sent_sdp(ctx))[0] == "m=audio 49170 RTP/AVP 8 0 101"


def documented_functions(module: str) -> tuple[set[str], set[str]]:
    """The (implemented, not yet) function names docs/functions.md lists for a module."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "functions.md").read_text(encoding="utf-8")
    section = page.split(f"\n## {module} ", 1)[1].split("\n## ", 1)[0].split("How they behave", 1)[0]
    implemented, _, missing = section.partition("Not yet")
    return set(re.findall(r"`([a-z_0-9]+)`", implemented)), set(re.findall(r"`([a-z_0-9]+)`", missing))


def test_docs_functions_md_lists_exactly_what_sipmsgops_implements():
    names = {f.name for f in OPS.exports.functions}
    implemented, missing = documented_functions("sipmsgops")
    assert implemented == {n for n in names if OPS.function(n)}
    assert missing == {n for n in names if not OPS.function(n)}
