"""The network-free core functions (core_cmds.c, dset.c, serialize.c), pinned on OpenSIPS's return codes."""
from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from opensips_py.config.parser import parse_text
from opensips_py.modules.exports import RouteType
from opensips_py.script.compiler import Bindings, compile_script
from opensips_py.script.context import ListenSocket, MsgContext, Process, ReceiveInfo, ScriptError
from opensips_py.script.core_functions import SERIAL_AVP, CoreFunctions
from opensips_py.script.pvars import CORE_HANDLERS, PVRef
from opensips_py.sip import parse_message

INVITE = (
    "INVITE sip:alice:secret@example.com:5070;transport=udp;maddr=10.9.9.9?subject=x SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 192.0.2.10:5061;branch=z9hG4bK-1\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:bob@biloxi.example.com>;tag=f1\r\n"
    "To: <sip:alice@example.com>\r\n"
    "Call-ID: cf-1@192.0.2.10\r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Length: 0\r\n\r\n"
).encode()

CORE = CoreFunctions(None, {})


def make_ctx(data: bytes = INVITE, route_type: RouteType = RouteType.REQUEST, **process) -> MsgContext:
    return MsgContext(parse_message(data), route_type, Process(**process))


def var(name: str) -> PVRef:
    return PVRef("var", CORE_HANDLERS["var"], name)


def avp(name: str) -> PVRef:
    return PVRef("avp", CORE_HANDLERS["avp"], name)


# ------------------------------------------------------------------------------------------------ flags

def test_message_flags_set_test_and_reset_by_name():
    ctx = make_ctx()
    assert CORE.isflagset(ctx, "NAT") == -1
    assert CORE.setflag(ctx, "NAT") == 1
    assert CORE.isflagset(ctx, "NAT") == 1
    assert CORE.resetflag(ctx, "NAT") == 1
    assert CORE.isflagset(ctx, "NAT") == -1


def test_branch_flags_default_to_the_ruri_branch_and_reach_added_branches_by_index():
    ctx = make_ctx()
    assert CORE.setbflag(ctx, "B1") == 1 and ctx.branch_flags == {"B1"}
    CORE.append_msg_branch(ctx, "sip:x@example.net")
    assert CORE.setbflag(ctx, "B2", 1) == 1
    assert ctx.branches[0].flags == {"B2"}
    assert CORE.isbflagset(ctx, "B2", 1) == 1 and CORE.isbflagset(ctx, "B2") == -1
    assert CORE.resetbflag(ctx, "B2", 1) == 1 and CORE.isbflagset(ctx, "B2", 1) == -1


def test_branch_flag_on_a_branch_that_does_not_exist_is_minus_1():
    ctx = make_ctx()
    assert CORE.setbflag(ctx, "B1", 3) == -1
    assert CORE.isbflagset(ctx, "B1", 3) == -1
    assert CORE.resetbflag(ctx, "B1", 3) == -1


# ------------------------------------------------------------------------------------------------ R-URI

def test_sethost_keeps_user_port_params_headers_but_drops_maddr():
    ctx = make_ctx()
    assert CORE.sethost(ctx, "atlanta.example.com") == 1
    assert ctx.new_uri == "sip:alice:secret@atlanta.example.com:5070;transport=udp?subject=x"


def test_sethostport_replaces_host_and_port_together():
    ctx = make_ctx()
    assert CORE.sethostport(ctx, "10.0.0.1:5080") == 1
    assert ctx.new_uri == "sip:alice:secret@10.0.0.1:5080;transport=udp?subject=x"
    CORE.sethostport(ctx, "proxy.example.org")
    assert ctx.new_uri == "sip:alice:secret@proxy.example.org;transport=udp?subject=x"


def test_setport_and_an_empty_port_removes_it():
    ctx = make_ctx()
    assert CORE.setport(ctx, "5090") == 1
    assert ctx.new_uri.startswith("sip:alice:secret@example.com:5090;")
    assert CORE.setport(ctx, "") == 1
    assert ctx.new_uri == "sip:alice:secret@example.com;transport=udp;maddr=10.9.9.9?subject=x"


def test_setuser_keeps_the_password_and_setuserpass_replaces_both():
    ctx = make_ctx()
    CORE.setuser(ctx, "carol")
    assert ctx.new_uri.startswith("sip:carol:secret@example.com:5070")
    CORE.setuserpass(ctx, "dave:pw")
    assert ctx.new_uri.startswith("sip:dave:pw@example.com:5070")


def test_prefix_strip_and_strip_tail_edit_the_user_part():
    ctx = make_ctx(INVITE.replace(b"sip:alice:secret@", b"sip:0049301234@"))
    assert CORE.strip(ctx, 2) == 1
    assert CORE.prefix(ctx, "+") == 1
    assert CORE.strip_tail(ctx, 2) == 1
    assert ctx.new_uri.startswith("sip:+493012@example.com:5070;")


def test_strip_longer_than_the_user_removes_the_user_part():
    ctx = make_ctx(INVITE.replace(b"sip:alice:secret@", b"sip:123@"))
    assert CORE.strip(ctx, 10) == 1
    assert ctx.new_uri.startswith("sip:example.com:5070;")


def test_seturi_then_revert_uri_gives_back_the_received_ruri():
    ctx = make_ctx()
    assert CORE.seturi(ctx, "sip:new@example.org") == 1
    assert ctx.ruri() == "sip:new@example.org"
    assert CORE.revert_uri(ctx) == 1
    assert ctx.ruri() == parse_message(INVITE).ruri_text


def test_rewriting_a_ruri_that_does_not_parse_is_minus_1():
    ctx = make_ctx()
    CORE.seturi(ctx, "not a uri")
    assert CORE.sethost(ctx, "example.org") == -1
    assert CORE.prefix(ctx, "00") == -1


def test_rewriting_the_ruri_of_a_reply_is_minus_1():
    reply = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    assert CORE.sethost(make_ctx(reply, RouteType.ONREPLY), "example.org") == -1


def test_dst_uri_set_test_reset():
    ctx = make_ctx()
    assert CORE.isdsturiset(ctx) == -1
    assert CORE.setdsturi(ctx, "sip:10.0.0.2:5060;transport=tcp") == 1
    assert CORE.isdsturiset(ctx) == 1 and ctx.dst_uri == "sip:10.0.0.2:5060;transport=tcp"
    assert CORE.resetdsturi(ctx) == 1 and CORE.isdsturiset(ctx) == -1


# ------------------------------------------------------------------------------------------------ branches

def test_append_branch_without_uri_moves_the_ruri_branch_and_resets_it():
    ctx = make_ctx()
    ctx.dst_uri, ctx.path, ctx.ruri_q = "sip:10.0.0.2", "<sip:edge;lr>", 700
    ctx.branch_flags = {"NAT"}
    assert CORE.append_branch(ctx) == 1
    branch = ctx.branches[0]
    assert (branch.uri, branch.dst_uri, branch.path, branch.q, branch.flags) == (
        ctx.ruri(), "sip:10.0.0.2", "<sip:edge;lr>", 700, {"NAT"})
    assert (ctx.dst_uri, ctx.path, ctx.ruri_q, ctx.branch_flags) == (None, None, None, set())


def test_append_branch_with_uri_copies_the_ruri_branch_attributes_and_takes_the_given_q():
    ctx = make_ctx()
    ctx.dst_uri = "sip:10.0.0.2"
    ctx.branch_flags = {"NAT"}
    assert CORE.append_branch_old(ctx, "sip:carol@example.net", "0.5") == 1
    branch = ctx.branches[0]
    assert (branch.uri, branch.dst_uri, branch.q, branch.flags) == ("sip:carol@example.net", "sip:10.0.0.2", 500,
                                                                    {"NAT"})
    assert ctx.dst_uri == "sip:10.0.0.2"


def test_a_bad_q_value_is_a_script_error():
    with pytest.raises(ScriptError):
        CORE.append_branch(make_ctx(), "sip:a@b", "1.5")


def test_no_more_than_eleven_added_branches():
    ctx = make_ctx()
    assert all(CORE.append_msg_branch(ctx, f"sip:{i}@example.net") == 1 for i in range(11))
    assert CORE.append_msg_branch(ctx, "sip:12@example.net") == -1
    assert len(ctx.branches) == 11


def test_append_msg_branch_inherits_the_ruri_branch_only_when_asked():
    ctx = make_ctx()
    ctx.dst_uri, ctx.ruri_q = "sip:10.0.0.2", 300
    CORE.append_msg_branch(ctx, "sip:a@example.net")
    CORE.append_msg_branch(ctx, "sip:b@example.net", None, "inherite")
    plain, inherited = ctx.branches
    assert (plain.dst_uri, plain.q) == (None, None)
    assert (inherited.dst_uri, inherited.q) == ("sip:10.0.0.2", 300)
    assert CORE.append_msg_branch(ctx, "") == -1


def test_remove_branch_by_index():
    ctx = make_ctx()
    for user in "abc":
        CORE.append_msg_branch(ctx, f"sip:{user}@example.net")
    assert CORE.remove_msg_branch(ctx, 1) == 1
    assert [b.uri for b in ctx.branches] == ["sip:a@example.net", "sip:c@example.net"]
    assert CORE.remove_branch(ctx, 5) == -1


def test_move_msg_branch_into_the_ruri_branch_and_swap_branches():
    ctx = make_ctx()
    for user in "ab":
        CORE.append_msg_branch(ctx, f"sip:{user}@example.net")
    assert CORE.swap_msg_branches(ctx, 0, 1) == 1
    assert [b.uri for b in ctx.branches] == ["sip:b@example.net", "sip:a@example.net"]
    assert CORE.move_msg_branch(ctx, 1, None) == 1  # into the R-URI branch, removing branch 1
    assert ctx.ruri() == "sip:a@example.net"
    assert [b.uri for b in ctx.branches] == ["sip:b@example.net"]
    assert CORE.move_msg_branch(ctx, 4, None) == -1


def q_branches(ctx: MsgContext, *pairs: tuple[str, str]) -> None:
    for uri, q in pairs:
        CORE.append_msg_branch(ctx, uri, q)


def test_serialize_then_next_branches_loads_one_q_class_at_a_time_highest_first():
    ctx = make_ctx()
    ctx.ruri_q = 100
    q_branches(ctx, ("sip:b@x", "0.5"), ("sip:c@x", "0.5"), ("sip:d@x", "1"))
    assert CORE.serialize_branches(ctx, 1) == 1
    assert ctx.branches == [] and len(ctx.avps[SERIAL_AVP]) == 4
    assert CORE.next_branches(ctx) == 1
    assert ctx.ruri() == "sip:d@x" and ctx.branches == []
    assert CORE.next_branches(ctx) == 1
    assert {ctx.ruri(), *(b.uri for b in ctx.branches)} == {"sip:b@x", "sip:c@x"} and len(ctx.branches) == 1
    ctx.branches.clear()
    assert CORE.next_branches(ctx) == 2
    assert ctx.ruri() == parse_message(INVITE).ruri_text and ctx.ruri_q == 100
    assert CORE.next_branches(ctx) == -1


def test_serialize_branches_with_keep_order_forks_one_by_one_in_the_order_added():
    ctx = make_ctx()
    q_branches(ctx, ("sip:b@x", "0.5"), ("sip:c@x", "1"))
    assert CORE.serialize_branches(ctx, 1, 1) == 1
    seen = []
    codes = []
    for _ in range(4):
        codes.append(CORE.next_branches(ctx))
        seen.append(ctx.ruri())
    assert codes == [1, 1, 2, -1]
    assert seen[:3] == [parse_message(INVITE).ruri_text, "sip:b@x", "sip:c@x"]


def test_serialize_branches_does_nothing_when_every_branch_has_the_ruri_q():
    ctx = make_ctx()
    q_branches(ctx, ("sip:b@x", None))
    assert CORE.serialize_branches(ctx, 1) == 1
    assert len(ctx.branches) == 1 and SERIAL_AVP not in ctx.avps


def test_the_serial_queue_is_an_avp_of_json_contacts():
    ctx = make_ctx()
    q_branches(ctx, ("sip:b@x", "0.5"))
    CORE.serialize_branches(ctx, 1)
    first = json.loads(ctx.avps[SERIAL_AVP][0])
    assert first["uri"] == "sip:b@x" and first["q"] == 500


def test_next_branches_only_in_request_and_failure_routes():
    ctx = make_ctx(route_type=RouteType.BRANCH)
    ctx.avps[SERIAL_AVP] = ["{}"]
    assert CORE.next_branches(ctx) == -1


# ------------------------------------------------------------------------------------------------ variables

def test_pv_printf_writes_the_expanded_format():
    ctx = make_ctx()
    assert CORE.pv_printf(ctx, var("x"), "sip:alice@example.com") == 1
    assert ctx.vars["x"] == "sip:alice@example.com"


def test_pv_printf_into_a_read_only_variable_is_minus_1():
    ctx = make_ctx()
    read_only = PVRef("ci", CORE_HANDLERS["ci"])
    assert CORE.pv_printf(ctx, read_only, "x") == -1


def test_get_timestamp_reads_the_process_clock():
    ctx = make_ctx(clock=lambda: 1700000000.25)
    assert CORE.get_timestamp(ctx, avp("s"), avp("us")) == 1
    assert ctx.avps["s"] == [1700000000] and ctx.avps["us"] == [250000]


def test_construct_uri_builds_from_parts_and_skips_empty_ones():
    ctx = make_ctx()
    assert CORE.construct_uri(ctx, "sip", "alice", "example.com", "5080", "transport=tcp", avp("u")) == 1
    assert CORE.construct_uri(ctx, "sips", None, "example.org", None, None, avp("u")) == 1
    assert ctx.avps["u"] == ["sips:example.org", "sip:alice@example.com:5080;transport=tcp"]


def test_construct_uri_without_domain_returns_1_and_sets_nothing():
    ctx = make_ctx()
    assert CORE.construct_uri(ctx, "sip", "alice", "", None, None, avp("u")) == 1
    assert "u" not in ctx.avps


# ------------------------------------------------------------------------------------------------ Via and sockets

def test_via_handling_functions_leave_their_keys_for_the_runtime():
    ctx = make_ctx()
    assert CORE.force_rport(ctx) == 1 and CORE.add_local_rport(ctx) == 1
    assert CORE.set_via_handling(ctx, "reply-to-via") == 1
    assert CORE.set_advertised_address(ctx, "203.0.113.7") == 1
    assert CORE.set_advertised_port(ctx, "5080") == 1
    assert ctx.module_state["core"] == {"force_rport": True, "add_local_rport": True, "reply_to_via": True,
                                        "advertised_address": "203.0.113.7", "advertised_port": "5080"}


def test_force_tcp_alias_only_on_tcp_and_defaults_to_the_via_port():
    udp_socket = ListenSocket("udp", "192.0.2.1", 5060)
    ctx = make_ctx()
    ctx.received = ReceiveInfo(udp_socket, "192.0.2.10", 5061, "udp")
    assert CORE.force_tcp_alias(ctx) == 1 and "core" not in ctx.module_state
    ctx.received = ReceiveInfo(ListenSocket("tcp", "192.0.2.1", 5060), "192.0.2.10", 40000, "tcp")
    assert CORE.force_tcp_alias(ctx) == 1
    assert ctx.module_state["core"]["tcp_alias_port"] == 5061


SOCKETS = [ListenSocket("udp", "192.0.2.1", 5060, advertised_host="203.0.113.7"),
           ListenSocket("tcp", "192.0.2.1", 5060), ListenSocket("udp", "2001:db8::1", 5062)]


def proxy_ctx() -> MsgContext:
    core = SimpleNamespace(sockets=SOCKETS, aliases=["sip.example.com", ("udp", "pbx.example.com", 5070)])
    return make_ctx(core=core)


def test_force_send_socket_picks_a_listening_socket():
    ctx = proxy_ctx()
    assert CORE.force_send_socket(ctx, "tcp:192.0.2.1:5060") == 1
    assert ctx.force_socket is SOCKETS[1]
    assert CORE.force_send_socket(ctx, "udp:[2001:db8::1]:5062") == 1 and ctx.force_socket is SOCKETS[2]


def test_force_send_socket_to_a_socket_we_do_not_listen_on_is_minus_1():
    ctx = proxy_ctx()
    assert CORE.force_send_socket(ctx, "udp:192.0.2.99:5060") == -1
    assert ctx.force_socket is None


def test_is_myself_matches_socket_addresses_advertised_names_and_aliases():
    ctx = proxy_ctx()
    assert CORE.is_myself(ctx, "192.0.2.1") == 1
    assert CORE.is_myself(ctx, "192.0.2.1", 5060) == 1
    assert CORE.is_myself(ctx, "192.0.2.1", 5999) == -1
    assert CORE.is_myself(ctx, "203.0.113.7") == 1
    assert CORE.is_myself(ctx, "[2001:DB8:0::1]") == 1
    assert CORE.is_myself(ctx, "SIP.example.com", 5999) == 1
    assert CORE.is_myself(ctx, "pbx.example.com", 5070) == 1
    assert CORE.is_myself(ctx, "pbx.example.com", 5060) == -1
    assert CORE.is_myself(ctx, "example.org") == -1


# ------------------------------------------------------------------------------------------------ end to end

def run(config: str, ctx: MsgContext) -> tuple[int, list[str]]:
    logs: list[str] = []
    ctx.process.log = lambda level, text: logs.append(text)
    ctx.process.log_level = 4
    result = parse_text(config)
    assert not result.diagnostics, result.diagnostics
    script = compile_script(result.config, Bindings(core_functions=CoreFunctions(None, {})))
    return script.run("route", None, ctx), logs


def test_script_rewrites_the_ruri_and_tests_flags_through_the_compiler():
    ctx = make_ctx(INVITE.replace(b"sip:alice:secret@", b"sip:0049301234@"))
    code, logs = run(
        'route {\n'
        '\tsetflag("NAT");\n'
        '\tif (isflagset("NAT")) xlog("nat ");\n'
        '\tstrip(2); prefix("+"); sethost("gw.example.net");\n'
        '\txlog("$ru $rU ");\n'
        '\tif (!isdsturiset()) setdsturi("sip:10.0.0.9:5060");\n'
        '\txlog("$du");\n'
        '}\n', ctx)
    assert code == 1
    assert "".join(logs) == "nat sip:+49301234@gw.example.net:5070;transport=udp?subject=x +49301234 " \
                            "sip:10.0.0.9:5060"


def test_script_branches_and_rc_through_the_compiler():
    ctx = make_ctx()
    code, logs = run(
        'route {\n'
        '\tappend_branch("sip:b@example.net", "0.5");\n'
        '\tremove_branch(7);\n'
        '\txlog("rc=$rc ");\n'
        '\tpv_printf($var(u), "$(branch(uri)[0])");\n'
        '\txlog("$var(u)");\n'
        '}\n', ctx)
    assert logs == ["rc=-1 ", "sip:b@example.net"] and len(ctx.branches) == 1 and code == 1


def documented_functions(module: str) -> tuple[set[str], set[str]]:
    """The (implemented, not yet) function names docs/functions.md lists for a module."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "functions.md").read_text(encoding="utf-8")
    section = page.split(f"\n## {module} ", 1)[1].split("\n## ", 1)[0].split("How they behave", 1)[0]
    implemented, _, missing = section.partition("Not yet")
    return set(re.findall(r"`([a-z_0-9]+)`", implemented)), set(re.findall(r"`([a-z_0-9]+)`", missing))


def test_docs_functions_md_lists_exactly_what_the_core_implements():
    from opensips_py.runtime.functions import ProxyCoreFunctions  # adds forward() and send()
    names = {f.name for f in CORE.exports.functions}
    implemented, missing = documented_functions("core")
    proxy = ProxyCoreFunctions(None, {})
    assert implemented == {n for n in names if proxy.function(n)}
    assert missing == {n for n in names if not proxy.function(n)}
