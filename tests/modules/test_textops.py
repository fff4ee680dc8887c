"""textops on real SIP text: return codes of textops.c, edits as lumps (reads see the received message),
what the serialized message looks like, and the POSIX regex dialect."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from opensips_py.config.parser import parse_text
from opensips_py.modules.exports import RouteType
from opensips_py.modules.textops import Module, posix_regex
from opensips_py.script.compiler import Bindings, compile_script
from opensips_py.script.context import MsgContext, Process, ScriptError
from opensips_py.script.core_functions import CoreFunctions
from opensips_py.sip import parse_message

SDP = (
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 198.51.100.1\r\n"
    "s=-\r\n"
    "c=IN IP4 198.51.100.1\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
)
INVITE = (
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKnashds8\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "User-Agent: SoftPhone/1.0\r\n"
    "X-Note: bob was here\r\n"
    "Content-Type: application/sdp\r\n"
    f"Content-Length: {len(SDP)}\r\n"
    "\r\n" + SDP
).encode()
OPTIONS = (
    "OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKhjhs8ass877\r\n"
    "To: <sip:carol@chicago.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710\r\n"
    "CSeq: 63104 OPTIONS\r\n"
    "Content-Length: 0\r\n\r\n"
).encode()

TEXTOPS = Module(None, {})


def make_ctx(data: bytes = INVITE) -> MsgContext:
    return MsgContext(parse_message(data), RouteType.REQUEST, Process())


def serialized(ctx: MsgContext) -> str:
    return ctx.msg.serialize().decode()


def headers_of(ctx: MsgContext) -> list[str]:
    return serialized(ctx).split("\r\n\r\n", 1)[0].split("\r\n")


def body_of(ctx: MsgContext) -> str:
    return serialized(ctx).split("\r\n\r\n", 1)[1]


# ------------------------------------------------------------------------------------------------ search

def test_search_scans_the_whole_message_case_insensitively():
    ctx = make_ctx()
    assert TEXTOPS.search(ctx, re.compile("^invite sip:bob")) == 1
    assert TEXTOPS.search(ctx, re.compile("m=AUDIO 49170")) == 1
    assert TEXTOPS.search(ctx, re.compile("X-Missing")) == -1


def test_search_body_only_looks_at_the_body():
    ctx = make_ctx()
    assert TEXTOPS.search_body(ctx, re.compile("PCMA/8000")) == 1
    assert TEXTOPS.search_body(ctx, re.compile("User-Agent")) == -1
    assert TEXTOPS.search_body(make_ctx(OPTIONS), re.compile(".")) == -1


def test_search_append_inserts_after_the_first_match_and_reads_stay_as_received():
    ctx = make_ctx()
    assert TEXTOPS.search_append(ctx, re.compile("SoftPhone/1.0"), " (via proxy)") == 1
    assert "User-Agent: SoftPhone/1.0 (via proxy)" in headers_of(ctx)
    assert ctx.msg.header("User-Agent") == "SoftPhone/1.0"
    assert TEXTOPS.search(ctx, re.compile("via proxy")) == -1


def test_search_append_body_inserts_in_the_body_and_content_length_follows():
    ctx = make_ctx()
    assert TEXTOPS.search_append_body(ctx, re.compile("a=rtpmap:8 PCMA/8000\r\n"), "a=ptime:20\r\n") == 1
    assert body_of(ctx) == SDP + "a=ptime:20\r\n"
    assert f"Content-Length: {len(SDP) + 12}" in headers_of(ctx)
    assert TEXTOPS.search_append_body(make_ctx(OPTIONS), re.compile("."), "x") == -1


# ------------------------------------------------------------------------------------------------ replace

def test_replace_changes_the_first_match_after_the_first_line():
    ctx = make_ctx()
    assert TEXTOPS.replace(ctx, re.compile("sip:bob@"), "sip:robert@") == 1
    text = serialized(ctx)
    assert text.startswith("INVITE sip:bob@biloxi.example.com SIP/2.0\r\n")  # the request line is not scanned
    assert "To: Bob <sip:robert@biloxi.example.com>" in headers_of(ctx)
    assert "X-Note: bob was here" in headers_of(ctx)  # only the first match
    assert TEXTOPS.replace(ctx, re.compile("nothing-here"), "x") == -1


def test_replace_all_changes_every_match_in_headers_and_body():
    ctx = make_ctx()
    assert TEXTOPS.replace_all(ctx, re.compile("198\\.51\\.100\\.1"), "203.0.113.5") == 1
    text = serialized(ctx)
    assert "198.51.100.1" not in text.split("\r\n", 1)[1]
    assert "Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKnashds8" in headers_of(ctx)
    assert "c=IN IP4 203.0.113.5" in body_of(ctx)
    assert parse_message(text.encode()).body.decode().count("203.0.113.5") == 2


def test_replace_all_with_a_regex_matching_empty_is_an_error():
    assert TEXTOPS.replace_all(make_ctx(), re.compile("x*"), "y") == -1


def test_replace_body_touches_only_the_first_body_match():
    ctx = make_ctx()
    assert TEXTOPS.replace_body(ctx, re.compile("PCM[UA]"), "G729") == 1
    assert "a=rtpmap:0 G729/8000" in body_of(ctx) and "a=rtpmap:8 PCMA/8000" in body_of(ctx)
    assert TEXTOPS.replace_body(make_ctx(OPTIONS), re.compile("x"), "y") == -1


def test_replace_body_all_and_atonce_differ_on_a_line_start_right_after_a_match():
    all_ctx, once_ctx = make_ctx(), make_ctx()
    assert TEXTOPS.replace_body_all(all_ctx, re.compile("^a=rtpmap:[0-9]+ [A-Z]+/8000\r\n"), "") == 1
    assert TEXTOPS.replace_body_atonce(once_ctx, re.compile("^a=rtpmap:[0-9]+ [A-Z]+/8000\r\n"), "") == 1
    assert "a=rtpmap" not in body_of(all_ctx)
    assert body_of(once_ctx).endswith("m=audio 49170 RTP/AVP 0 8\r\na=rtpmap:8 PCMA/8000\r\n")


# ------------------------------------------------------------------------------------------------ subst

def test_subst_with_back_references_and_a_pseudo_variable_in_the_replacement():
    ctx = make_ctx()
    assert TEXTOPS.subst(ctx, "/^User-Agent: ([a-z]+)\\/([^\r]*)/User-Agent: \\1 v\\2 for $ci/i") == 1
    assert "User-Agent: SoftPhone v1.0 for a84b4c76e66710@pc33.atlanta.example.com" in headers_of(ctx)


def test_subst_without_g_changes_one_match_with_g_all():
    one, every = make_ctx(), make_ctx()
    assert TEXTOPS.subst(one, "/example\\.com/example.net/") == 1
    assert TEXTOPS.subst(every, "/example\\.com/example.net/g") == 1
    assert serialized(one).count("example.net") == 1
    assert "example.com" not in serialized(every).split("\r\n", 1)[1]


def test_subst_backslash_u_is_the_current_ruri():
    ctx = make_ctx()
    ctx.new_uri = "sip:bob@10.0.0.7"
    assert TEXTOPS.subst(ctx, "/^X-Note: [^\r]*/X-Target: \\u/") == 1
    assert "X-Target: sip:bob@10.0.0.7" in headers_of(ctx)


def test_dollar_matches_before_lf_only_so_it_misses_the_end_of_a_crlf_header_line():
    ctx = make_ctx()
    assert TEXTOPS.subst(ctx, "/^Max-Forwards: ([0-9]+)$/Max-Forwards: 10/") == -1
    assert TEXTOPS.subst(ctx, "/^Max-Forwards: ([0-9]+)\r$/Max-Forwards: 10\r/") == 1
    assert "Max-Forwards: 10" in headers_of(ctx)


def test_subst_deleting_a_header_line_with_its_line_end_removes_the_line():
    ctx = make_ctx()
    assert TEXTOPS.subst(ctx, "/X-Note: [^\r\n]*\r\n//") == 1
    assert not any(line.startswith("X-Note") for line in headers_of(ctx))
    assert parse_message(ctx.msg.serialize()).header("X-Note") is None


def test_subst_deleting_only_a_line_end_joins_two_header_lines():
    ctx = make_ctx()
    assert TEXTOPS.subst(ctx, "/(SoftPhone\\/1\\.0)\r\n/\\1, /") == 1
    assert "User-Agent: SoftPhone/1.0, X-Note: bob was here" in headers_of(ctx)


def test_subst_body_and_no_match_is_minus_1():
    ctx = make_ctx()
    assert TEXTOPS.subst_body(ctx, "/IN IP4 198\\.51\\.100\\.1/IN IP4 203.0.113.9/g") == 1
    assert body_of(ctx).count("203.0.113.9") == 2
    assert TEXTOPS.subst_body(ctx, "/G722/x/") == -1
    assert TEXTOPS.subst_body(make_ctx(OPTIONS), "/a/b/") == -1


def test_subst_uri_and_subst_user_rewrite_the_ruri():
    ctx = make_ctx()
    assert TEXTOPS.subst_uri(ctx, "/^sip:([a-z]+)@.*$/sip:\\1@10.0.0.1:5080/") == 1
    assert ctx.new_uri == "sip:bob@10.0.0.1:5080"
    assert TEXTOPS.subst_user(ctx, "/^bob$/+15551234/") == 1
    assert ctx.new_uri == "sip:+15551234@10.0.0.1:5080"
    assert TEXTOPS.subst_user(ctx, "/^alice$/x/") == -1
    assert TEXTOPS.subst_uri(ctx, "/^tel:/sip:/") == -1
    assert ctx.msg.serialize() == INVITE  # the R-URI lives in ctx.new_uri until the message is sent


def test_a_malformed_subst_expression_is_a_script_error():
    for bad in ("/a", "/a/b/z", "\\a\\b\\", "/[/x/"):
        with pytest.raises(ScriptError):
            TEXTOPS.subst(make_ctx(), bad)


# ------------------------------------------------------------------------------------------------ lumps

def test_textops_edits_coexist_with_header_lumps_of_other_modules():
    ctx = make_ctx()
    ctx.msg.add_header("X-Added", "1")
    ctx.msg.remove_header("Max-Forwards")
    assert TEXTOPS.replace(ctx, re.compile("SoftPhone"), "HardPhone") == 1
    assert TEXTOPS.replace(ctx, re.compile("Max-Forwards: 70"), "Max-Forwards: 1") == 1
    headers = headers_of(ctx)
    assert "User-Agent: HardPhone/1.0" in headers and headers[-1] == "X-Added: 1"
    assert not any(h.startswith("Max-Forwards") for h in headers)  # remove_hf wins


def test_whole_lines_inserted_between_headers_survive_removal_of_the_next_header():
    ctx = make_ctx()
    assert TEXTOPS.search_append(ctx, re.compile("CSeq: [^\r]*\r\n"), "X-After-CSeq: 1\r\n") == 1
    ctx.msg.remove_header("User-Agent")
    headers = headers_of(ctx)
    assert headers[headers.index("CSeq: 314159 INVITE") + 1:][:2] == ["X-After-CSeq: 1", "X-Note: bob was here"]


def test_two_edits_on_one_line_both_apply_and_an_overlapping_one_is_refused():
    ctx = make_ctx()
    assert TEXTOPS.replace(ctx, re.compile("Alice"), "Alicia") == 1
    assert TEXTOPS.replace(ctx, re.compile("tag=[0-9]+"), "tag=abc") == 1
    assert "From: Alicia <sip:alice@atlanta.example.com>;tag=abc" in headers_of(ctx)
    assert TEXTOPS.replace(ctx, re.compile("Alice <sip"), "X") == -1


def test_body_edits_after_another_module_replaced_the_body_apply_to_that_body():
    ctx = make_ctx()
    ctx.msg.set_body(SDP.replace("m=audio 49170 RTP/AVP 0 8", "m=audio 49170 RTP/AVP 8").encode())
    assert TEXTOPS.replace_body(ctx, re.compile("a=rtpmap:0 PCMU/8000\r\n"), "") == 1
    assert body_of(ctx).endswith("m=audio 49170 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n")
    assert TEXTOPS.search_body(ctx, re.compile("PCMU")) == 1  # reads still see the received body


# ------------------------------------------------------------------------------------------------ POSIX regexes

def test_posix_bracket_classes_and_literal_backslashes_inside_brackets():
    assert posix_regex("^[[:digit:]]+$").match("12345")
    assert posix_regex("[[:alpha:]]+").fullmatch("AbC")
    assert posix_regex(r"[\n]").fullmatch("\\")
    assert posix_regex(r"[\n]").fullmatch("n")
    assert posix_regex(r"[]a]").fullmatch("]")


def test_posix_unknown_escapes_are_the_character_itself_and_gnu_word_escapes_work():
    assert posix_regex(r"\d").fullmatch("d") and not posix_regex(r"\d").fullmatch("5")
    assert posix_regex(r"\w+").fullmatch("abc_1")


def test_posix_newline_sensitivity_and_case():
    regex = posix_regex("a[^x]b")
    assert regex.search("A\nB") is None and regex.search("AzB")
    assert posix_regex("a.b", newline=False).search("a\nb")
    assert posix_regex("^b$").search("a\nb\nc")


# ------------------------------------------------------------------------------------------------ end to end

def run(config: str, ctx: MsgContext) -> tuple[int, list[str]]:
    logs: list[str] = []
    ctx.process.log = lambda level, text: logs.append(text)
    ctx.process.log_level = 4
    result = parse_text(config)
    assert not result.diagnostics, result.diagnostics
    bindings = Bindings(modules={"textops": Module(None, {})}, core_functions=CoreFunctions(None, {}))
    return compile_script(result.config, bindings).run("route", None, ctx), logs


def test_script_textops_calls_through_the_compiler():
    ctx = make_ctx()
    code, logs = run(
        'route {\n'
        '\tif (search("^User-Agent: softphone")) xlog("ua ");\n'
        '\tsubst(\'/^Max-Forwards: ([0-9]+)/Max-Forwards: 10/\');\n'
        '\tsubst_user(\'/^(.*)$/00\\1/\');\n'
        '\treplace_all("198\\.51\\.100\\.1", "203.0.113.5");\n'
        '\tif (!search_body("G722")) xlog("no g722 ");\n'
        '\txlog("$rU $rc");\n'
        '}\n', ctx)
    assert code == 1
    assert "".join(logs) == "ua no g722 00bob 1"
    headers = headers_of(ctx)
    assert "Max-Forwards: 10" in headers
    assert "Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKnashds8" in headers
    assert ctx.new_uri == "sip:00bob@biloxi.example.com"


# ------------------------------------------------------------------------------------------------ docs

def documented_functions(module: str) -> tuple[set[str], set[str]]:
    """The (implemented, not yet) function names docs/functions.md lists for a module."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "functions.md").read_text(encoding="utf-8")
    section = page.split(f"\n## {module} ", 1)[1].split("\n## ", 1)[0].split("How they behave", 1)[0]
    implemented, _, missing = section.partition("Not yet")
    return set(re.findall(r"`([a-z_0-9]+)`", implemented)), set(re.findall(r"`([a-z_0-9]+)`", missing))


def test_docs_functions_md_lists_exactly_what_textops_implements():
    names = {f.name for f in TEXTOPS.exports.functions}
    implemented, missing = documented_functions("textops")
    assert implemented == {n for n in names if TEXTOPS.function(n)}
    assert missing == {n for n in names if not TEXTOPS.function(n)}
