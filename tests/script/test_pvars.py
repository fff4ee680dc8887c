"""The core pseudo-variables on real SIP messages, read and written as OpenSIPS 3.6 does (pvar.c)."""
from __future__ import annotations

import time

import pytest

from opensips_py.config.parser import parse_text
from opensips_py.modules.core import PSEUDO_VARIABLES
from opensips_py.modules.exports import RouteType
from opensips_py.script.compiler import Bindings, StartupError, compile_script
from opensips_py.script.context import Branch, ListenSocket, MsgContext, Process
from opensips_py.script.pvars import ALL, APPEND, CORE_HANDLERS
from opensips_py.sip import SIPParseError, parse_message
from tests import shared
from tests.script.sip_samples import INVITE, LISTEN, MULTIPART_INVITE, MULTIPART_PARTS, REPLY_407, SDP, make_ctx


def pv(ctx: MsgContext, name: str, arg: str | None = None, index=None):
    return CORE_HANDLERS[name].get(ctx, arg, index)


def assign(ctx: MsgContext, name: str, value, arg: str | None = None, index=None, op: str = "=") -> None:
    CORE_HANDLERS[name].set(ctx, arg, index, value, op)


@pytest.fixture
def ctx() -> MsgContext:
    return make_ctx()


# ------------------------------------------------------------------------------------------------ the table

def test_every_core_pv_of_the_exports_table_has_a_handler_except_the_documented_gaps():
    missing = {p.name for p in PSEUDO_VARIABLES if p.name not in CORE_HANDLERS}
    assert missing == {"cfg_line", "cfg_file", "proxy_protocol", "sdp", "sdp.line", "sdp.stream",
                       "sdp.stream.idx", "sdp.session"}


def test_writable_handlers_match_the_exports_table():
    for spec in PSEUDO_VARIABLES:
        found = CORE_HANDLERS.get(spec.name)
        if found is not None:
            assert found.writable == spec.writable, spec.name


# ------------------------------------------------------------------------------------------------ reads

READS = [
    ("ru", "sip:bob@biloxi.example.com:5070;transport=tcp"), ("ruri", "sip:bob@biloxi.example.com:5070;transport=tcp"),
    ("rU", "bob"), ("ruri.user", "bob"), ("rd", "biloxi.example.com"), ("ruri.domain", "biloxi.example.com"),
    ("rp", 5070), ("rP", "tcp"), ("ru_q", -1),
    ("ou", "sip:bob@biloxi.example.com:5070;transport=tcp"), ("oU", "bob"), ("od", "biloxi.example.com"),
    ("op", 5070), ("oP", "tcp"),
    ("fu", "sip:alice:secret@atlanta.example.com"), ("from", "sip:alice:secret@atlanta.example.com"),
    ("fU", "alice"), ("fd", "atlanta.example.com"), ("fn", '"Alice A."'), ("ft", "1928301774"),
    ("tu", "sip:bob@biloxi.example.com"), ("tU", "bob"), ("td", "biloxi.example.com"), ("tn", "Bob"),
    ("tt", None),
    ("ci", "a84b4c76e66710@pc33.atlanta.example.com"), ("cs", 314159), ("cl", len(SDP)), ("rm", "INVITE"),
    ("rs", None), ("rr", None), ("ml", len(INVITE)), ("mb", INVITE), ("ua", "SIPp/3.7"),
    ("cT", "application/sdp"), ("rb", SDP),
    ("ai", "sip:+15551234@atlanta.example.com"), ("pu", "sip:alice.p@pref.example.com"), ("pU", "alice.p"),
    ("pd", "pref.example.com"), ("pn", "Al"), ("re", "sip:+15550000@atlanta.example.com"),
    ("rt", "sip:dave@denver.example.com"), ("di", "sip:carol@chicago.example.com"), ("dir", "unconditional"),
    ("dip", "off"),
    ("au", "alice"), ("ad", "atlanta.example.com"), ("aU", "alice@atlanta.example.com"),
    ("ar", "atlanta.example.com"), ("adu", "sip:bob@biloxi.example.com"),
    ("an", "84a4cc6f3082121f32b42a2187831a9e"), ("auth.nonce", "84a4cc6f3082121f32b42a2187831a9e"),
    ("auth.resp", "7587245234b3434cc3412213e5f113a5"), ("auth.cnonce", "0a4f113b"),
    ("auth.opaque", "5ccc069c403ebaf9f0171e9517f40e41"), ("auth.alg", "MD5"), ("auth.qop", "auth"),
    ("auth.nc", "00000001"), ("Au", "alice@atlanta.example.com"),
    ("si", "192.0.2.1"), ("src_ip", "192.0.2.1"), ("sp", 5066), ("socket_in", "udp:127.0.0.1:5060"),
    ("socket_out", "udp:127.0.0.1:5060"), ("fs", None), ("Ri", "127.0.0.1"), ("Rp", 5060), ("proto", "udp"),
    ("pr", "udp"), ("af", "INET"),
    ("du", None), ("dd", None), ("dp", None), ("dP", None), ("ds", None), ("path", None),
    ("bf", ""), ("mf", ""), ("msg.is_request", 1), ("msg.type", "request"), ("msg.branch.last_idx", 0),
    ("branch", None), ("err.class", None), ("err.info", None), ("challenge.realm", None),
]


@pytest.mark.parametrize("name, expected", READS, ids=[r[0] for r in READS])
def test_reading_the_invite(ctx, name, expected):
    assert pv(ctx, name) == expected


def test_ints_are_ints_where_opensips_gives_ints(ctx):
    for name in ("cs", "cl", "ml", "sp", "rp", "op", "Rp", "ru_q", "msg.is_request", "Ts", "Tsm", "TS", "pp",
                 "mi", "log_level"):
        assert isinstance(pv(ctx, name), int), name
    assert isinstance(pv(ctx, "hdrcnt", "Via"), int)


def test_a_uri_without_port_reads_the_default_port_of_its_transport():
    for ruri, port, proto in (("sip:a@b.example", 5060, "udp"), ("sips:a@b.example", 5061, "tls"),
                              ("sip:a@b.example;transport=ws", 80, "ws"), ("sip:a@b.example;transport=TLS", 5061,
                                                                          "TLS")):
        ctx = make_ctx(INVITE.replace("sip:bob@biloxi.example.com:5070;transport=tcp", ruri, 1))
        assert (pv(ctx, "rp"), pv(ctx, "rP")) == (port, proto)


def test_a_reply_has_no_request_uri_and_takes_its_method_from_cseq():
    ctx = make_ctx(REPLY_407)
    assert [pv(ctx, n) for n in ("ru", "rU", "rd", "rp", "ou", "ru_q")] == [None] * 6
    assert (pv(ctx, "rm"), pv(ctx, "rs"), pv(ctx, "rr")) == ("INVITE", 407, "Proxy Authentication Required")
    assert (pv(ctx, "msg.is_request"), pv(ctx, "msg.type"), pv(ctx, "tt")) == (0, "reply", "a6c85cf")


def test_challenge_fields_come_from_a_401_or_407_reply():
    ctx = make_ctx(REPLY_407)
    assert pv(ctx, "challenge.realm") == "atlanta.example.com"
    assert pv(ctx, "challenge.nonce") == "f84f1cec41e6cbe5aea9c8e88d359"
    assert pv(ctx, "challenge.algorithm") == "SHA-256"
    assert pv(ctx, "challenge.qop") == "auth"
    assert pv(ctx, "challenge.ik") is None
    assert pv(ctx, "au") is None  # credentials are read from requests only


def test_no_message_reads_null_without_failing():
    ctx = make_ctx(None, route_type=RouteType.STARTUP)
    for name in ("ru", "rU", "fu", "ft", "ci", "cs", "rm", "rs", "ml", "ct", "rb", "cT", "ai", "au", "mi"):
        assert pv(ctx, name) is None, name
    assert pv(ctx, "hdr", "Via") is None
    assert pv(ctx, "msg.type") == "reply" and pv(ctx, "msg.is_request") == 0


def test_a_malformed_header_reads_as_null():
    ctx = make_ctx(INVITE.replace("CSeq: 314159 INVITE", "CSeq: many INVITE"))
    assert pv(ctx, "cs") is None
    assert pv(ctx, "ci") == "a84b4c76e66710@pc33.atlanta.example.com"


def test_no_core_variable_raises_on_the_rfc4475_torture_messages():
    messages = []
    for path in sorted((shared.CORPUS / "rfc4475").glob("*.dat")):
        try:
            messages.append(parse_message(path.read_bytes()))
        except SIPParseError:
            continue
    assert len(messages) > 30
    for msg in messages:
        ctx = MsgContext(msg, RouteType.REQUEST, Process())
        for name, found in CORE_HANDLERS.items():
            for arg in (None, "Via", "uri", "ip", "application/sdp"):
                for index in (None, 0, -1, ALL, 5):
                    value = found.get(ctx, arg, index)
                    assert value is None or isinstance(value, (int, str, list)), name


def test_ack_and_cancel_carry_no_credentials():
    ctx = make_ctx(INVITE.replace("INVITE sip:", "ACK sip:", 1).replace("314159 INVITE", "314159 ACK"))
    assert pv(ctx, "au") is None and pv(ctx, "an") is None


# ------------------------------------------------------------------------------------------------ headers

def test_hdr_reads_one_line_per_value_with_indexes(ctx):
    assert pv(ctx, "hdr", "Via") == "SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776asdhds;rport"
    assert pv(ctx, "hdr", "Via", 1) == "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKnashds8;received=192.0.2.1"
    assert pv(ctx, "hdr", "via", -1) == pv(ctx, "hdr", "Via", 1)
    assert pv(ctx, "hdr", "X-Custom", ALL) == ["one", "two"]
    assert pv(ctx, "hdr", "X-Custom", 2) is None
    assert pv(ctx, "hdr", "X-Missing") is None
    assert pv(ctx, "hdr", "X-Missing", ALL) is None
    assert pv(ctx, "hdr", "v") == pv(ctx, "hdr", "Via")  # compact form
    assert pv(ctx, "hdr", "Route") == "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>"


def test_hdrcnt_and_hdr_name(ctx):
    assert (pv(ctx, "hdrcnt", "Via"), pv(ctx, "hdrcnt", "X-Custom"), pv(ctx, "hdrcnt", "X-None")) == (2, 2, 0)
    assert pv(ctx, "hdr_name") == "Via"
    assert pv(ctx, "hdr_name", None, 3) == "Route"
    assert pv(ctx, "hdr_name", None, -1) == "Content-Length"
    assert pv(ctx, "hdr_name", None, ALL)[:4] == ["Via", "Via", "Max-Forwards", "Route"]
    assert pv(ctx, "hdr_name", None, 99) is None


def test_contacts_across_lines_and_commas(ctx):
    assert pv(ctx, "ct") == '"Al" <sip:alice@pc33.atlanta.example.com;ob>;expires=60;q=0.5'
    assert pv(ctx, "ct", None, 1) == "<sip:alice@10.0.0.1>"
    assert pv(ctx, "ct", None, -1) == 'sip:alice@192.0.2.99;methods="INVITE,BYE"'
    assert len(pv(ctx, "ct", None, ALL)) == 3
    assert pv(ctx, "ct", None, 5) is None


@pytest.mark.parametrize("field, first, last", [
    ("name", '"Al"', None), ("uri", "sip:alice@pc33.atlanta.example.com;ob", "sip:alice@192.0.2.99"),
    ("q", "0.5", None), ("expires", "60", None), ("methods", None, "INVITE,BYE"), ("received", None, None),
    ("params", "expires=60;q=0.5", 'methods="INVITE,BYE"')])
def test_contact_fields(ctx, field, first, last):
    assert pv(ctx, "ct.fields", field) == first
    assert pv(ctx, "ct.fields", field, -1) == last


def test_star_contact():
    ctx = make_ctx(INVITE.replace('Contact: "Al" <sip:alice@pc33.atlanta.example.com;ob>;expires=60;q=0.5, '
                                  '<sip:alice@10.0.0.1>\r\nContact: sip:alice@192.0.2.99;methods="INVITE,BYE"',
                                  "Contact: *"))
    assert pv(ctx, "ct") == "*" and pv(ctx, "ct.fields", "uri") is None


def test_body_parts_of_a_multipart_message():
    ctx = make_ctx(MULTIPART_INVITE)
    sdp, isup = MULTIPART_PARTS
    assert pv(ctx, "rb").startswith("--unique-boundary-1\r\n")
    assert pv(ctx, "rb", None, 0) == sdp
    assert pv(ctx, "rb", None, 1) == isup
    assert pv(ctx, "rb", None, -1) == isup
    assert pv(ctx, "rb", "application/sdp") == sdp
    assert pv(ctx, "rb", "application/isup") == isup
    assert pv(ctx, "rb", "application/isup", 1) is None
    assert pv(ctx, "rb", "text/html") is None
    assert pv(ctx, "cT") == "multipart/mixed;boundary=unique-boundary-1"
    assert pv(ctx, "cT", None, 1) == "application/isup"
    assert pv(ctx, "cT", None, ALL) == ["multipart/mixed;boundary=unique-boundary-1", "application/sdp",
                                        "application/isup"]


def test_no_body_reads_null():
    ctx = make_ctx(REPLY_407)
    assert pv(ctx, "rb") is None and pv(ctx, "rb", "application/sdp") is None and pv(ctx, "cT") is None
    assert pv(ctx, "cl") == 0


# ------------------------------------------------------------------------------------------------ R-URI writes

def test_assigning_ru_rewrites_the_request_uri_and_parts_read_it(ctx):
    assign(ctx, "ru", "sip:carol@chicago.example.com;user=phone")
    assert ctx.new_uri == "sip:carol@chicago.example.com;user=phone"
    assert (pv(ctx, "ru"), pv(ctx, "rU"), pv(ctx, "rd"), pv(ctx, "rp")) == (
        "sip:carol@chicago.example.com;user=phone", "carol", "chicago.example.com", 5060)
    assert pv(ctx, "ou") == "sip:bob@biloxi.example.com:5070;transport=tcp"  # the received one stays


def test_assigning_parts_rewrites_only_that_part(ctx):
    assign(ctx, "rU", "+15551234")
    assert ctx.new_uri == "sip:+15551234@biloxi.example.com:5070;transport=tcp"
    assign(ctx, "rd", "10.1.2.3")
    assign(ctx, "rp", 5080)
    assert ctx.new_uri == "sip:+15551234@10.1.2.3:5080;transport=tcp"
    assign(ctx, "rp", "5099")
    assert pv(ctx, "rp") == 5099


def test_null_removes_the_user_and_the_port_but_not_the_host(ctx):
    logs: list[str] = []
    ctx.process.log = lambda level, text: logs.append(text)
    assign(ctx, "rU", None)
    assign(ctx, "rp", None)
    assert ctx.new_uri == "sip:biloxi.example.com;transport=tcp"
    assign(ctx, "rd", None)
    assert ctx.new_uri == "sip:biloxi.example.com;transport=tcp" and logs


def test_ru_q_is_clamped_to_1000_and_needs_an_int(ctx):
    assign(ctx, "ru_q", 500)
    assert pv(ctx, "ru_q") == 500
    assign(ctx, "ru_q", 4000)
    assert ctx.ruri_q == 1000
    assign(ctx, "ru_q", "high")
    assert ctx.ruri_q == 1000


def test_a_bad_rewrite_logs_and_changes_nothing(ctx):
    logs: list[str] = []
    ctx.process.log = lambda level, text: logs.append(text)
    assign(ctx, "rp", "notaport")
    assert ctx.new_uri is None and logs


# ------------------------------------------------------------------------------------------------ $du

def test_du_and_its_parts(ctx):
    assign(ctx, "du", "sip:10.0.0.9:5080;transport=tcp")
    assert (pv(ctx, "du"), pv(ctx, "dd"), pv(ctx, "dp"), pv(ctx, "dP")) == (
        "sip:10.0.0.9:5080;transport=tcp", "10.0.0.9", 5080, "tcp")
    assign(ctx, "dd", "proxy.example.com")
    assign(ctx, "dp", 5090)
    assert ctx.dst_uri == "sip:proxy.example.com:5090;transport=tcp"
    assign(ctx, "dp", None)
    assert ctx.dst_uri == "sip:proxy.example.com;transport=tcp"
    assign(ctx, "duri", None)
    assert ctx.dst_uri is None and pv(ctx, "du") is None


def test_dd_and_dp_need_a_destination_uri(ctx):
    assign(ctx, "dd", "x.example.com")
    assign(ctx, "dp", 5060)
    assert ctx.dst_uri is None


# ------------------------------------------------------------------------------------------------ sockets

def test_socket_in_fields(ctx):
    expected = {"ip": "127.0.0.1", "port": 5060, "proto": "udp", "advertised_ip": "203.0.113.5",
                "advertised_port": 5062, "tag": "edge", "anycast": 0, "af": "INET"}
    for field, value in expected.items():
        assert pv(ctx, "socket_in", field) == value, field
    assert pv(ctx, "socket_out", "forced") is None


def test_socket_out_forced_from_text_without_a_runtime(ctx):
    assign(ctx, "socket_out", "tcp:10.0.0.5:5070")
    assert ctx.force_socket == ListenSocket("tcp", "10.0.0.5", 5070)
    assert pv(ctx, "socket_out") == "tcp:10.0.0.5:5070" and pv(ctx, "socket_out", "forced") == "tcp:10.0.0.5:5070"
    assert pv(ctx, "fs") == "tcp:10.0.0.5:5070"
    assign(ctx, "socket_out", None)
    assert ctx.force_socket is None and pv(ctx, "socket_out") == "udp:127.0.0.1:5060"


class _Core:
    def __init__(self, sockets):
        self.sockets = sockets
        self.start_time = 1_699_999_000.9


def test_socket_out_must_match_a_listening_socket_of_the_runtime():
    tcp = ListenSocket("tcp", "127.0.0.1", 5060)
    process = Process(core=_Core([LISTEN, tcp]))
    ctx = make_ctx(process=process)
    assign(ctx, "socket_out", "tcp:127.0.0.1:5060")
    assert ctx.force_socket is tcp
    assign(ctx, "fs", "udp:203.0.113.5")  # the advertised address names the socket too
    assert ctx.force_socket is LISTEN
    assign(ctx, "socket_out", "tcp:192.0.2.200:5060")
    assert ctx.force_socket is LISTEN  # no such socket: ignored with a warning
    assert pv(ctx, "TS") == 1_699_999_000


# ------------------------------------------------------------------------------------------------ flags

def test_msg_flags_by_name(ctx):
    assign(ctx, "msg.flag", 1, "NAT")
    assign(ctx, "msg.flag", 1, "ACC")
    assert pv(ctx, "msg.flag", "NAT") == 1 and pv(ctx, "msg.flag", "OTHER") == 0
    assert pv(ctx, "mf") == "ACC NAT"
    assign(ctx, "msg.flag", 0, "NAT")
    assert ctx.flags == {"ACC"}
    assign(ctx, "msg.flag", "yes", "ACC")  # not an integer: refused
    assert ctx.flags == {"ACC"}


def test_flags_by_number_are_listed_first_in_numeric_order(ctx):
    ctx.flags.update({"12", "3", "NAT"})
    ctx.branch_flags.add("RTP")
    assert pv(ctx, "mf") == "3 12 NAT" and pv(ctx, "bf") == "RTP"


# ------------------------------------------------------------------------------------------------ branches

def test_msg_branch_api_indexes_the_ruri_branch_then_the_added_ones(ctx):
    assign(ctx, "msg.branch", "sip:alt1@example.com")
    assign(ctx, "msg.branch", "sip:alt2@example.com")
    assert pv(ctx, "msg.branch.last_idx") == 2
    assert pv(ctx, "msg.branch.uri") == "sip:alt2@example.com"  # no index: the last branch
    assert pv(ctx, "msg.branch.uri", None, 0) == pv(ctx, "ru")
    assert pv(ctx, "msg.branch.uri", None, ALL) == [pv(ctx, "ru"), "sip:alt1@example.com", "sip:alt2@example.com"]
    assign(ctx, "msg.branch.duri", "sip:10.0.0.7", None, 1)
    assign(ctx, "msg.branch.q", 300, None, 1)
    assign(ctx, "msg.branch.flags", "NAT RTP", None, 1)
    assert ctx.branches[0].dst_uri == "sip:10.0.0.7" and ctx.branches[0].q == 300
    assert pv(ctx, "msg.branch.q", None, 1) == "0.3"
    assert pv(ctx, "msg.branch.flags", None, 1) == "NAT RTP"
    assign(ctx, "msg.branch.duri", "sip:10.9.9.9", None, 0)  # branch 0 is the R-URI branch: $du
    assert ctx.dst_uri == "sip:10.9.9.9"
    assign(ctx, "msg.branch.uri", "sip:x@y", None, 7)  # no such branch
    assert len(ctx.branches) == 2


def test_msg_branch_flags_and_attrs(ctx):
    ctx.branches.append(Branch("sip:b@example.com"))
    assign(ctx, "msg.branch.flag", 1, "NAT")  # no index: the last branch
    assert ctx.branches[0].flags == {"NAT"}
    assign(ctx, "msg.branch.flag", 1, "RTP", 0)
    assert ctx.branch_flags == {"RTP"} and pv(ctx, "bf") == "RTP"
    assert pv(ctx, "msg.branch.flag", "NAT", 1) == 1 and pv(ctx, "branch.flag", "NAT", 0) == 0
    assign(ctx, "msg.branch.attr", "gw1", "carrier")
    assign(ctx, "msg.branch.attr", 7, "prio", 0)
    assert pv(ctx, "msg.branch.attr", "carrier") == "gw1" and pv(ctx, "msg.branch.attr", "prio", 0) == 7
    assert pv(ctx, "msg.branch.attr", "missing") is None


def test_old_branch_api_sees_only_the_added_branches(ctx):
    assert pv(ctx, "branch") is None
    assign(ctx, "branch", "sip:first@example.com")
    assign(ctx, "branch", "sip:second@example.com")
    assert pv(ctx, "branch") == "sip:first@example.com"
    assert pv(ctx, "branch", "uri", -1) == "sip:second@example.com"
    assign(ctx, "branch", "sip:10.0.0.1", "duri", 1)
    assert pv(ctx, "branch", "duri", ALL) == [None, "sip:10.0.0.1"]
    assert pv(ctx, "branch", "q") == ""


def test_destination_set_text(ctx):
    assert pv(ctx, "ds") is None
    ctx.new_uri = "sip:a@example.com"
    ctx.ruri_q = 1000
    ctx.branches.append(Branch("sip:b@example.com", q=500))
    ctx.branches.append(Branch("sip:c@example.com"))
    assert pv(ctx, "ds") == "Contact: <sip:a@example.com>;q=1, <sip:b@example.com>;q=0.5, <sip:c@example.com>"


# ------------------------------------------------------------------------------------------------ script state, time

def test_time_variables_read_the_process_clock(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        ctx = make_ctx(clock=1_700_000_000.25)
        assert (pv(ctx, "Ts"), pv(ctx, "Tsm")) == (1_700_000_000, 250_000)
        assert pv(ctx, "Tf") == "Tue Nov 14 22:13:20 2023"
        assert pv(ctx, "time", "%Y-%m-%d %H:%M") == "2023-11-14 22:13"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_message_id_is_stable_per_message_and_differs_between_messages():
    first, second = make_ctx(), make_ctx()
    assert pv(first, "mi") == pv(first, "mi") != pv(second, "mi")


def test_log_level_write_and_reset(ctx):
    ctx.process.log_level = 2
    assign(ctx, "log_level", 4)
    assert pv(ctx, "log_level") == 4 and pv(ctx, "xlog_level") == 4
    assign(ctx, "xlog_level", None)
    assert ctx.process.log_level == 2
    assign(ctx, "log_level", "debug")  # not an integer: refused
    assert ctx.process.log_level == 2


def test_color_is_empty_unless_forced(ctx):
    assert pv(ctx, "C", "rx") == ""
    core = _Core([])
    core.xlog_force_color = True
    ctx.process.core = core
    assert pv(ctx, "C", "rx") == "\033[0;31;49m" and pv(ctx, "C", "Bw") == "\033[1;34;47m"


def test_return_values_and_avp_append(ctx):
    ctx.return_values = ["a", 2]
    assert (pv(ctx, "return", "0"), pv(ctx, "return", "1"), pv(ctx, "return", "2")) == ("a", 2, None)
    assign(ctx, "avp", "x", "list")
    assign(ctx, "avp", "y", "list", APPEND)
    assert pv(ctx, "avp", "list", ALL) == ["x", "y"]


# ------------------------------------------------------------------------------------------------ through the compiler

def run(config: str, ctx: MsgContext | None = None) -> tuple[MsgContext, list[str]]:
    result = parse_text(config)
    assert not result.diagnostics, result.diagnostics
    logs: list[str] = []
    ctx = ctx or make_ctx()
    ctx.process.log = lambda level, text: logs.append(text)
    ctx.process.log_level = 4
    compile_script(result.config, Bindings()).run("route", None, ctx)
    return ctx, logs


def test_a_script_rewrites_the_request_uri_and_destination():
    ctx, _ = run('route {\n'
                 '\t$var(user) = $rU;\n'
                 '\t$rU = "carol";\n'
                 '\t$rp = NULL;\n'
                 '\t$du = "sip:10.0.0.9:5080;transport=tcp";\n'
                 '\t$dp = 5090;\n'
                 '\t$var(port) = $dp;\n'
                 '}\n')
    assert ctx.vars["user"] == "bob"
    assert ctx.new_uri == "sip:carol@biloxi.example.com;transport=tcp"
    assert ctx.dst_uri == "sip:10.0.0.9:5090;transport=tcp" and ctx.vars["port"] == 5090


def test_a_script_reads_headers_with_indexes_and_transformations():
    ctx, logs = run('route {\n'
                    '\t$var(n) = $hdrcnt(Via);\n'
                    '\t$var(second) = $(hdr(Via)[1]{via.host});\n'
                    '\t$var(tag) = $(hdr(From){nameaddr.param,tag});\n'
                    '\t$var(m) = $(rb{sdp.line,m,1});\n'
                    '\t$var(i) = -1;\n'
                    '\t$var(last) = $(ct[$var(i)]{nameaddr.uri}{uri.host});\n'
                    '\txlog("$rm from $(fU{s.toupper}) cs=$cs to $ru");\n'
                    '\tif ($(ru{uri.param,transport}) == "TCP") xlog("case-insensitive");\n'
                    '}\n')
    assert ctx.vars == {"n": 2, "second": "10.0.0.1", "tag": "1928301774", "m": "m=video 51372 RTP/AVP 31",
                        "i": -1, "last": "192.0.2.99"}
    assert logs == ["INVITE from ALICE cs=314159 to sip:bob@biloxi.example.com:5070;transport=tcp",
                    "case-insensitive"]


def test_a_script_sets_flags_and_branches():
    ctx, logs = run('route {\n'
                    '\t$msg.flag(NAT) = 1;\n'
                    '\t$msg.branch = "sip:alt@example.com";\n'
                    '\t$(msg.branch.flag(RTP)[1]) = 1;\n'
                    '\t$socket_out = "udp:127.0.0.1:5070";\n'
                    '\tif ($msg.flag(NAT) == 1) xlog("nat $mf $(msg.branch.flags[1]) $msg.branch.last_idx");\n'
                    '\txlog("$route $route.type $socket_out(port)");\n'
                    '}\n')
    assert ctx.flags == {"NAT"} and ctx.branches[0].flags == {"RTP"}
    assert logs == ["nat NAT RTP 1", "route route 5070"]


def test_route_stack_variables_inside_a_sub_route():
    _, logs = run('route {\n\troute(inner);\n}\n'
                  'route[inner] {\n\txlog("$route|$(route[-1])|$route.name|$(route.type[-1])|$(route[*])");\n}\n')
    assert logs == ["route[inner]|route|inner|route|route > route[inner]"]


def test_read_only_variables_cannot_be_assigned():
    result = parse_text('route {\n\t$ci = "x";\n}\n')
    with pytest.raises(StartupError) as raised:
        compile_script(result.config, Bindings())
    assert "read-only" in str(raised.value)


def test_reply_context_reads_the_request_in_a_reply_route():
    ctx = make_ctx(REPLY_407, route_type=RouteType.ONREPLY)
    ctx.request = make_ctx().msg
    _, logs = run('route {\n\txlog("$rs $(<request>ru) $(<request>rU)");\n}\n', ctx)
    assert logs == ["407 sip:bob@biloxi.example.com:5070;transport=tcp bob"]
