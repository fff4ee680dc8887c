"""The core transformations, pinned on OpenSIPS 3.6 transformations.c (and lib/csv.c, re.c, strcommon.c)."""
from __future__ import annotations

import hashlib
import hmac
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensips_py.config.parser import parse_text
from opensips_py.modules.core import TRANSFORMATIONS
from opensips_py.script.compiler import Bindings, compile_script
from opensips_py.script.transforms import TRANSFORMS, parse_csv
from tests.script.sip_samples import SDP, make_ctx

CTX = make_ctx()


def tr(name: str, value, *args):
    """Run one transformation the way the compiler does (name looked up lower-case)."""
    return TRANSFORMS.get(name.lower())(CTX, value, list(args))


def test_every_transformation_of_the_exports_table_is_implemented():
    assert [t.name for t in TRANSFORMATIONS if t.name not in TRANSFORMS] == []


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_null_in_gives_null_out(name):
    assert TRANSFORMS[name](CTX, None, ["1", "2"]) is None


# ------------------------------------------------------------------------------------------------ s.

@pytest.mark.parametrize("name, value, args, expected", [
    ("s.len", "abc", (), 3), ("s.len", "é", (), 2), ("s.len", 12345, (), 5), ("s.len", "", (), 0),
    ("s.int", "12ab", (), 12), ("s.int", "-7", (), -7), ("s.int", "x", (), 0), ("s.int", 5, (), 5),
    ("s.md5", "", (), "d41d8cd98f00b204e9800998ecf8427e"),
    ("s.sha256", "abc", (), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("s.sha1_hmac", "The quick brown fox jumps over the lazy dog", ("key",),
     "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"),
    ("s.crc32", "123456789", (), "873187033"),  # CRC-32 register 0x340BC6D9: no final inversion
    ("s.encode.hexa", "ab", (), "6162"), ("s.encode.hexa", 10, (), "3130"),
    ("s.decode.hexa", "6162", (), "ab"), ("s.decode.hexa", "616", (), "a"), ("s.decode.hexa", "zz", (), None),
    ("s.hex2dec", "ff", (), 255), ("s.hex2dec", "FFFFFFFF", (), -1), ("s.hex2dec", "0x10", (), None),
    ("s.hex2dec", 17, (), 17),
    ("s.dec2hex", 255, (), "ff"), ("s.dec2hex", "-1", (), "ffffffff"), ("s.dec2hex", "12a", (), None),
    ("s.date2unix", "Tue, 14 Nov 2023 22:13:20 GMT", (), "1700000000"), ("s.date2unix", "yesterday", (), None),
    ("s.escape.common", "a'b\"c\\\0", (), "a\\'b\\\"c\\\\\\0"),
    ("s.unescape.common", "a\\'b\\\"c\\\\\\0\\x", (), "a'b\"c\\\0\\x"),
    ("s.escape.user", "alice smith@x", (), "alice%20smith%40x"), ("s.escape.user", "caf\u00e9", (), None),
    ("s.escape.param", "a b;c=d", (), "a%20b%3bc%3dd"),
    ("s.unescape.user", "%41b%2c", (), "Ab,"), ("s.unescape.user", "%0a", (), None),
    ("s.unescape.param", "x%4", (), None),
    ("s.substr", "abcdef", ("1", "3"), "bcd"), ("s.substr", "abcdef", ("2", "0"), "cdef"),
    ("s.substr", "abcdef", ("-2", "1"), "e"), ("s.substr", "abcdef", ("1", "-1"), "bcde"),
    ("s.substr", "abcdef", ("6", "1"), None), ("s.substr", "abcdef", ("-7", "1"), None),
    ("s.substr", "abcdef", ("x", "1"), None),
    ("s.select", "a,b,c", ("1", ","), "b"), ("s.select", "a,b,c", ("-1", ","), "c"),
    ("s.select", "a,b,c", ("3", ","), None), ("s.select", "a;b", ("0", ","), "a;b"),
    ("s.tolower", "AbC-É", (), "abc-É"), ("s.toupper", "abc", (), "ABC"), ("s.toupper", 5, (), 5),
    ("s.index", "abcabc", ("bc",), 1), ("s.index", "abcabc", ("bc", "2"), 4), ("s.index", "abcabc", ("bc", -2), 4),
    ("s.index", "abcabc", ("zz",), None), ("s.index", "abc", ("abcd",), None),
    ("s.rindex", "abcabc", ("bc",), 4), ("s.rindex", "abcabc", ("bc", "3"), 1), ("s.rindex", "abc", ("x",), None),
    ("s.fill.left", "7", ("0", "3"), "007"), ("s.fill.left", "ab", ("xy", "5"), "yxyab"),
    ("s.fill.right", "ab", ("xy", "5"), "abxyx"), ("s.fill.left", 12345, ("0", "3"), 12345),
    ("s.width", "abcdef", ("3",), "abc"), ("s.width", "ab", ("4",), "ab  "), ("s.width", "ab", ("0",), None),
    ("s.b64encode", "hello", (), "aGVsbG8="), ("s.b64decode", "aGVsbG8=", (), "hello"),
    ("s.b64decode", "aGVsbG8", (), "hello"), ("s.b64encode", 42, (), 42),
    ("s.xor", "abc", ("k",), "\n\t\x08"),
    ("s.trim", "  a b \r\n", (), "a b"), ("s.trimr", " a ", (), " a"), ("s.triml", " a ", (), "a "),
    ("s.trim", 3, (), 3), ("s.reverse", "abc", (), "cba"), ("s.reverse", 123, (), "321"),
])
def test_string_transformations(name, value, args, expected):
    assert tr(name, value, *args) == expected


def test_sha_family_and_hmac_match_hashlib():
    for algo in ("sha1", "sha224", "sha256", "sha384", "sha512"):
        assert tr(f"s.{algo}", "msg") == hashlib.new(algo, b"msg").hexdigest()
        assert tr(f"s.{algo}_hmac", "msg", "k") == hmac.new(b"k", b"msg", algo).hexdigest()


def test_eval_expands_the_value_as_a_format():
    ctx = make_ctx()
    ctx.process.vars["x"] = 5
    assert TRANSFORMS["s.eval"](ctx, "$var(x)-$rU-$(fU{s.toupper})", []) == "5-bob-ALICE"
    assert TRANSFORMS["s.eval"](ctx, "$nosuchvar", []) is None


@given(st.text())
@settings(max_examples=150, deadline=None)
def test_hexa_encoding_round_trips(text):
    assert tr("s.decode.hexa", tr("s.encode.hexa", text)) == text


@given(st.text())
@settings(max_examples=150, deadline=None)
def test_base64_round_trips_and_length_counts_utf8_bytes(text):
    assert tr("s.b64decode", tr("s.b64encode", text)) == text
    assert tr("s.len", text) == len(text.encode("utf-8", "surrogateescape"))


@given(st.text(), st.text(alphabet=string.ascii_letters + string.digits + string.punctuation, min_size=1))
@settings(max_examples=150, deadline=None)
def test_xor_twice_with_the_same_secret_gives_the_value_back(text, secret):
    assert tr("s.xor", tr("s.xor", text, secret), secret) == text


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126)))
@settings(max_examples=150, deadline=None)
def test_user_and_param_escaping_round_trip_on_printable_ascii(text):
    assert tr("s.unescape.user", tr("s.escape.user", text)) == text
    assert tr("s.unescape.param", tr("s.escape.param", text)) == text


@given(st.text(alphabet="abcdefghij", min_size=1), st.integers(-12, 12), st.integers(-12, 12))
@settings(max_examples=200, deadline=None)
def test_substr_stays_inside_the_value(text, start, length):
    result = tr("s.substr", text, start, length)
    assert result is None or result in text


# ------------------------------------------------------------------------------------------------ uri.

URI = "sip:alice:pw@host.example.com:5071;transport=tcp;lr;user=phone;ttl=5;maddr=1.2.3.4;method=INVITE" \
      "?Subject=hi&Priority=urgent"


@pytest.mark.parametrize("name, args, expected", [
    ("uri.user", (), "alice"), ("uri.passwd", (), "pw"), ("uri.host", (), "host.example.com"),
    ("uri.domain", (), "host.example.com"), ("uri.port", (), 5071),
    ("uri.params", (), "transport=tcp;lr;user=phone;ttl=5;maddr=1.2.3.4;method=INVITE"),
    ("uri.param", ("transport",), "tcp"), ("uri.param", ("LR",), ""), ("uri.param", ("nope",), None),
    ("uri.headers", (), "Subject=hi&Priority=urgent"), ("uri.transport", (), "tcp"), ("uri.ttl", (), "5"),
    ("uri.uparam", (), "phone"), ("uri.maddr", (), "1.2.3.4"), ("uri.method", (), "INVITE"),
    ("uri.lr", (), None), ("uri.r2", (), None), ("uri.schema", (), "sip"),
])
def test_uri_transformations(name, args, expected):
    assert tr(name, URI, *args) == expected


def test_uri_transformations_on_short_and_bad_uris():
    assert tr("uri.port", "sip:a@b.example") is None
    assert tr("uri.user", "sip:b.example") is None
    assert tr("uri.params", "sip:b.example") is None
    assert tr("uri.lr", "sip:b.example;lr=on") == "on"
    assert tr("uri.schema", "SIPS:x@y.example") == "SIPS"
    assert tr("uri.user", "tel:+15551234;phone-context=x") == "+15551234"
    assert tr("uri.user", "not a uri") is None
    assert tr("uri.host", "http://example.com/") is None
    assert tr("uri.user", 42) is None


# ------------------------------------------------------------------------------------------------ param.

PARAMS = 'a=1;b;c="x y";D=4'


@pytest.mark.parametrize("name, args, expected", [
    ("param.value", ("a",), "1"), ("param.value", ("b",), ""), ("param.value", ("c",), "x y"),
    ("param.value", ("d",), "4"), ("param.value", ("z",), None),
    ("param.exist", ("b",), 1), ("param.exists", ("z",), 0),
    ("param.valueat", ("0",), "1"), ("param.valueat", ("-1",), "4"), ("param.valueat", ("1",), ""),
    ("param.valueat", ("9",), None), ("param.name", ("2",), "c"), ("param.name", ("-1",), "D"),
    ("param.count", (), 4),
])
def test_param_list_transformations(name, args, expected):
    assert tr(name, PARAMS, *args) == expected


def test_blanks_around_a_text_argument_are_skipped_as_opensips_does():
    assert tr("param.value", PARAMS, " a") == "1"
    assert tr("uri.param", URI, " transport ") == "tcp"
    assert tr("s.select", "a b,c", "0", " ") == "a"  # the separator is the raw character


def test_param_list_edge_cases_follow_parse_params():
    assert tr("param.count", ";a=1") == 2  # a leading ';' is an empty first parameter
    assert tr("param.count", "a=1;") is None  # a name missing after ';'
    assert tr("param.value", "a = 1 ; b=2", "b") == "2"
    assert tr("param.count", "a=1,b=2") == 1  # a ',' ends the list


# ------------------------------------------------------------------------------------------------ nameaddr.

NAMEADDR = '"Alice" <sip:alice@a.example;transport=tcp>;tag=123;expires="60"'


def test_nameaddr_transformations():
    assert tr("nameaddr.name", NAMEADDR) == '"Alice"'
    assert tr("nameaddr.uri", NAMEADDR) == "sip:alice@a.example;transport=tcp"
    assert tr("nameaddr.param", NAMEADDR, "tag") == "123"
    assert tr("nameaddr.param", NAMEADDR, "expires") == "60"
    assert tr("nameaddr.param", NAMEADDR, "nope") is None
    assert tr("nameaddr.params", NAMEADDR) == 'tag=123;expires="60"'
    assert tr("nameaddr.len", NAMEADDR) == len(NAMEADDR)
    assert tr("nameaddr.uri", "sip:bob@b.example;tag=x") == "sip:bob@b.example"
    assert tr("nameaddr.param", "sip:bob@b.example;tag=x", "tag") == "x"
    assert tr("nameaddr.name", "sip:bob@b.example") is None
    assert tr("nameaddr.uri", "<sip:unterminated") is None


def test_indexed_nameaddr_picks_one_of_a_comma_list():
    routes = "<sip:p1@x.example>, Bob <sip:p2@y.example>;lr"
    assert tr("nameaddr.uri", routes) == "sip:p1@x.example"
    assert tr("nameaddr.1.uri", routes) == "sip:p2@y.example"
    assert tr("nameaddr.-1.name", routes) == "Bob"
    assert tr("nameaddr.1.params", routes) == "lr"
    assert tr("nameaddr.5.uri", routes) is None
    assert TRANSFORMS.get("nameaddr.1.nosuch") is None


# ------------------------------------------------------------------------------------------------ via.

VIA = "SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776asdhds;rport;received=192.0.2.1"


@pytest.mark.parametrize("name, args, expected", [
    ("via.name", (), "SIP"), ("via.version", (), "2.0"), ("via.transport", (), "UDP"),
    ("via.host", (), "pc33.atlanta.example.com"), ("via.domain", (), "pc33.atlanta.example.com"),
    ("via.port", (), 5066), ("via.params", (), "branch=z9hG4bK776asdhds;rport;received=192.0.2.1"),
    ("via.param", ("rport",), ""), ("via.param", ("BRANCH",), "z9hG4bK776asdhds"), ("via.param", ("x",), None),
    ("via.branch", (), "z9hG4bK776asdhds"), ("via.received", (), "192.0.2.1"), ("via.rport", (), None),
    ("via.comment", (), None),
])
def test_via_transformations(name, args, expected):
    assert tr(name, VIA, *args) == expected


def test_via_without_port_and_bad_vias():
    assert tr("via.port", "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK1;rport=5070") is None
    assert tr("via.rport", "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK1;rport=5070") == "5070"
    assert tr("via.host", "xy") is None
    assert tr("via.host", "not a via at all") is None


# ------------------------------------------------------------------------------------------------ csv.

def test_csv_transformations():
    line = 'a,"b,c",,"d""e"'
    assert tr("csv.count", line) == 4
    assert [tr("csv.value", line, i) for i in range(5)] == ["a", "b,c", "", 'd"e', None]
    assert tr("csv.value", line, "-1") == 'd"e'
    assert tr("csv.count", '"unterminated') is None
    assert tr("csv.count", '"a" ,b') is None


@pytest.mark.parametrize("text, fields", [
    ("", [""]), (" a ", [" a "]), (" \r\n", [" "]), (",", ["", ""]), ("a,,,", ["a", "", "", ""]),
    (" , a ", [" ", " a "]), ('"a"', ["a"]), ('x"y', ['x"y'])])
def test_csv_parser_matches_opensips_test_vectors(text, fields):
    assert parse_csv(text) == fields


@pytest.mark.parametrize("text", [" \t", " \n", "\ta", "a,\tb", "a,b\n", '"', '"foo', '"a" ,b', '"a"a,b'])
def test_csv_parser_rejects_what_opensips_rejects(text):
    with pytest.raises(ValueError):
        parse_csv(text)


@given(st.lists(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126)), min_size=1, max_size=8))
@settings(max_examples=150, deadline=None)
def test_csv_quoted_fields_round_trip(fields):
    line = ",".join('"' + field.replace('"', '""') + '"' for field in fields)
    assert tr("csv.count", line) == len(fields)
    assert [tr("csv.value", line, i) for i in range(len(fields))] == fields


# ------------------------------------------------------------------------------------------------ re.

@pytest.mark.parametrize("value, expr, expected", [
    ("sip:alice@a.example", "/^sip:([^@]+)@.*$/\\1/", "alice"),
    ("aaa", "/a/b/", "baa"), ("aaa", "/a/b/g", "bbb"), ("AbA", "/a/x/gi", "xbx"),
    ("abc", "/z/y/", "abc"), ("+15551234", "/^\\+1([[:digit:]]{3})/(\\1) /", "(555) 1234"),
    ("a/b", "#/#\\\\#g", "a\\b"), ("abc", "/(/x/", None), ("abc", "/a/b/q", None),
])
def test_re_subst(value, expr, expected):
    assert tr("re.subst", value, expr) == expected


def test_re_subst_replacement_expands_pvs_and_the_ruri():
    ctx = make_ctx()
    ctx.process.vars["u"] = "carol"
    assert TRANSFORMS["re.subst"](ctx, "alice@a", ["/alice/$var(u)/"]) == "carol@a"
    assert TRANSFORMS["re.subst"](ctx, "x", ["/x/\\u/"]) == "sip:bob@biloxi.example.com:5070;transport=tcp"


# ------------------------------------------------------------------------------------------------ ip.

@pytest.mark.parametrize("name, value, args, expected", [
    ("ip.isip", "10.0.0.1", (), 1), ("ip.isip", "::1", (), 1), ("ip.isip", "[::1]", (), 1),
    ("ip.isip", "host.example", (), 0), ("ip.isip4", "::1", (), 0), ("ip.isip6", "::1", (), 1),
    ("ip.pton", "10.0.0.1", (), "\n\x00\x00\x01"), ("ip.pton", "nothing", (), None),
    ("ip.ntop", "\n\x00\x00\x01", (), "10.0.0.1"), ("ip.ntop", "abc", (), None),
    ("ip.family", "\n\x00\x00\x01", (), "INET"),
    ("ip.matches", "10.1.2.3", ("10.0.0.0/8",), 1), ("ip.matches", "11.0.0.1", ("10.0.0.0/8",), 0),
    ("ip.matches", "10.0.0.1", ("10.0.0.0",), None), ("ip.matches", "::1", ("10.0.0.0/8",), None),
    ("ip.matches", "2001:db8::1", ("2001:db8::/32",), 1), ("ip.matches", "10.0.0.1", ("10.0.0.0/33",), None),
    ("ip.isprivate", "192.168.1.1", (), 1), ("ip.isprivate", "100.64.0.1", (), 1),
    ("ip.isprivate", "127.0.0.1", (), 1), ("ip.isprivate", "8.8.8.8", (), 0), ("ip.isprivate", "::1", (), 0),
    ("ip.resolve", "127.0.0.1", (), "127.0.0.1"),
])
def test_ip_transformations(name, value, args, expected):
    assert tr(name, value, *args) == expected


def test_ipv6_pton_ntop_family_round_trip():
    packed = tr("ip.pton", "2001:db8::1")
    assert len(packed) == 16 and tr("ip.family", packed) == "INET6" and tr("ip.ntop", packed) == "2001:db8::1"


def test_resolve_uses_the_system_resolver():
    assert tr("ip.resolve", "localhost") in ("127.0.0.1", "::1")


# ------------------------------------------------------------------------------------------------ sdp.

AUDIO = "m=audio 49170 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
VIDEO = "m=video 51372 RTP/AVP 31\r\na=rtpmap:31 H261/90000\r\n"


def test_sdp_line():
    assert tr("sdp.line", SDP, "m") == "m=audio 49170 RTP/AVP 0 8"
    assert tr("sdp.line", SDP, "a", "2") == "a=rtpmap:31 H261/90000"
    assert tr("sdp.line", SDP, "b") is None
    assert tr("sdp.line", SDP, "a", "-1") is None


def test_sdp_stream_and_stream_delete():
    assert tr("sdp.stream", SDP, "0") == AUDIO
    assert tr("sdp.stream", SDP, "video") == VIDEO
    assert tr("sdp.stream", SDP, -1) == VIDEO
    assert tr("sdp.stream", SDP, "3") is None
    assert tr("sdp.stream-delete", SDP, "video") == SDP.replace(VIDEO, "")
    assert tr("sdp.stream-delete", SDP, "0") == SDP.replace(AUDIO, "")
    assert tr("sdp.stream-delete", SDP, "image") is None


# ------------------------------------------------------------------------------------------------ through the compiler

def test_transformation_chains_and_pv_arguments_in_a_script():
    result = parse_text('route {\n'
                        '\t$var(n) = 2;\n'
                        '\t$var(host) = $(hdr(From){nameaddr.uri}{uri.host}{s.toupper});\n'
                        '\t$var(part) = $(ci{s.select,0,@}{s.substr,0,$var(n)});\n'
                        '\t$var(len) = $(rU{s.len});\n'
                        '\t$var(none) = $(hdr(X-None){s.len});\n'
                        '\t$var(lr) = $(hdr(Route){nameaddr.1.uri}{uri.param,lr});\n'
                        '\t$var(digits) = $(var(len){s.fill.left,0,4});\n'
                        '\t$var(user) = $(ru{re.subst,/^sip:([a-z]+)@.*/\\1/});\n'
                        '\txlog("$(var(host){s.tolower}) $(var(none){s.len})");\n'
                        '}\n')
    assert not result.diagnostics, result.diagnostics
    logs: list[str] = []
    ctx = make_ctx()
    ctx.process.log = lambda level, text: logs.append(text)
    compile_script(result.config, Bindings()).run("route", None, ctx)
    assert ctx.vars == {"n": 2, "host": "ATLANTA.EXAMPLE.COM", "part": "a8", "len": 3, "none": None, "lr": "",
                        "digits": "0003", "user": "bob"}
    assert logs == ["atlanta.example.com <null>"]
