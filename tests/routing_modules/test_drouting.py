"""drouting on the virtual network over a real SQLite database: rule selection (longest prefix, priority, time
recurrence, groups, strict length, check-only, whitelist), gateway lists with strip/prefix, carriers with weights
and flags, serial forking with use_next_gw() and the rule fallback, route_to_gw/route_to_carrier, gateway checks
(is_from_gw, goes_to_gw, dr_is_gw), dr_disable, dr_match, the rule's script route, partitions, probing, the
state flush, and the MI commands."""
from __future__ import annotations

import pytest

from opensips_py.mi import MIError
from opensips_py.runtime.core import StartupFailure
from opensips_py.runtime.virtual import sip
from opensips_py.sip import parse_message
from tests.modules.auth_support import script_lines
from tests.routing_modules.support import database, execute, gw, proxy, rows, rule
from tests.runtime.support import request

GATEWAYS = [gw("gw1", "192.0.2.21:5060", strip=2, pri_prefix="00", attrs="g1"),
            gw("gw2", "sip:192.0.2.22", attrs="g2", type=2),
            gw("gw3", "192.0.2.23;transport=tcp"),
            gw("gwoff", "192.0.2.29", state=2)]
CARRIERS = [{"carrierid": "cr1", "gwlist": "gwa=0, gwb=100", "sort_alg": "W", "attrs": "c1"},
            {"carrierid": "crfirst", "gwlist": "gw2,gw3", "flags": 1},
            {"carrierid": "croff", "gwlist": "gw3", "state": 1}]
CARRIER_GWS = [gw("gwa", "192.0.2.31"), gw("gwb", "192.0.2.32")]

ROUTE = """
route {
    if (!do_routing($var(grp), "$var(flags)", , $var(ra), $var(ga), $var(ca))) { xlog("none\\n"); drop; }
    xlog("ru=$ru ra=$var(ra) ga=$var(ga) ca=$var(ca)\\n");
    while (use_next_gw()) { xlog("next=$ru\\n"); }
    drop;
}
startup_route { $var(grp) = %d; $var(flags) = "%s"; }
"""


def routed(p, ruri: str = "sip:40211234@192.0.2.1") -> list[str]:
    before = len(script_lines(p))
    p.send(request(ruri=ruri, branch=f"z9hG4bK{len(p.logs)}"))
    return script_lines(p)[before:]


def test_longest_prefix_then_priority_builds_the_ruri_from_the_gateway(tmp_path):
    db = database(tmp_path / "dr.db", dr_gateways=GATEWAYS, dr_rules=[
        rule("1", "40", "gw2", priority=5, attrs="short"),
        rule("1", "4021", "gw1,gw2", priority=1, attrs="long-low"),
        rule("1", "4021", "gw3", priority=9, attrs="long-high"),
        rule("2", "4021", "gw3")])
    p = proxy(db, ROUTE % (1, ""))
    assert routed(p) == ["ru=sip:192.0.2.23;transport=tcp ra=long-high ga= ca=".replace(
        "sip:192.0.2.23", "sip:40211234@192.0.2.23")]
    assert routed(p, "sip:409@192.0.2.1;user=phone") == ["ru=sip:409@192.0.2.22;user=phone ra=short ga=g2 ca="]
    assert routed(p, "sip:5555@192.0.2.1") == ["none"]


def test_gateway_list_serial_forking_with_strip_and_prefix(tmp_path):
    db = database(tmp_path / "dr.db", dr_gateways=GATEWAYS, dr_rules=[rule("1", "40", "gw1, gwoff | gw2 , gw3")])
    p = proxy(db, ROUTE % (1, ""))
    assert routed(p) == ["ru=sip:00211234@192.0.2.21:5060 ra= ga=g1 ca=", "next=sip:40211234@192.0.2.22",
                         "next=sip:40211234@192.0.2.23;transport=tcp"]


def test_carriers_weights_first_only_and_off(tmp_path):
    db = database(tmp_path / "dr.db", dr_gateways=GATEWAYS + CARRIER_GWS, dr_carriers=CARRIERS, dr_rules=[
        rule("1", "1", "#cr1"), rule("1", "2", "#croff,#crfirst"), rule("1", "3", "#croff")])
    p = proxy(db, ROUTE % (1, ""))
    for _ in range(5):  # weight 0 never goes first under "W"
        assert routed(p, "sip:100@x") == ["ru=sip:100@192.0.2.32 ra= ga= ca=c1", "next=sip:100@192.0.2.31"]
    assert routed(p, "sip:200@x") == ["ru=sip:200@192.0.2.22 ra= ga=g2 ca="]  # flags=1: the first gateway only
    assert routed(p, "sip:300@x") == ["none"]


def test_dr_groups_give_the_callers_group_and_default_group(tmp_path):
    db = database(tmp_path / "dr.db", dr_gateways=GATEWAYS, dr_rules=[rule("7", "4", "gw2"), rule("8", "4", "gw3")],
                  dr_groups=[{"username": "alice", "domain": "atlanta.com", "groupid": 7}])
    script = 'route { if (do_routing()) xlog("ru=$ru\\n"); else xlog("none\\n"); drop; }\n'
    assert routed(proxy(db, script), "sip:4@x") == ["ru=sip:4@192.0.2.22"]
    execute(db, "UPDATE dr_groups SET domain = 'elsewhere'")
    assert routed(proxy(db, script), "sip:4@x") == ["none"]
    assert routed(proxy(db, script, params='modparam("drouting", "use_domain", 0)\n'), "sip:4@x") == \
        ["ru=sip:4@192.0.2.22"]
    assert routed(proxy(db, script, params='modparam("drouting", "default_group", 8)\n'), "sip:4@x") == \
        ["ru=sip:4@192.0.2.23;transport=tcp"]


def test_strict_length_check_only_and_whitelist(tmp_path):
    db = database(tmp_path / "dr.db", dr_gateways=GATEWAYS, dr_rules=[rule("1", "40", "gw1,gw2,gw3"),
                                                                     rule("1", "", "gw3", attrs="noprefix")])
    p = proxy(db, """
route {
    $var(u) = $ru;
    if (do_routing(1, "L")) xlog("L matched $ru\\n"); else xlog("L none\\n");
    $ru = $var(u);
    if (do_routing(1, "C", , $var(ra))) xlog("C $ru $var(ra)\\n");
    if (do_routing(1, , "gw3,gw2")) xlog("wl $ru $avp(___dr_gw_id__) $(avp(___dr_gw_id__)[1])\\n");
    drop;
}
""")
    assert routed(p, "sip:40@192.0.2.1") == ["L matched sip:00@192.0.2.21:5060", "C sip:40@192.0.2.1 ",
                                              "wl sip:40@192.0.2.22 gw2 gw3"]
    assert routed(p, "sip:4099@192.0.2.1") == ["L none", "C sip:4099@192.0.2.1 ",
                                                "wl sip:4099@192.0.2.22 gw2 gw3"]
    assert routed(p, "sip:77@192.0.2.1") == ["L none", "C sip:77@192.0.2.1 noprefix",
                                              "wl sip:77@192.0.2.23;transport=tcp gw3 <null>"]


def test_rule_fallback_walks_lower_priorities_then_shorter_prefixes(tmp_path):
    db = database(tmp_path / "dr.db", dr_gateways=GATEWAYS, dr_rules=[
        rule("1", "40", "gw1", priority=10), rule("1", "40", "gw2", priority=5), rule("1", "", "gw3")])
    assert routed(proxy(db, ROUTE % (1, "F"))) == [
        "ru=sip:00211234@192.0.2.21:5060 ra= ga=g1 ca=", "next=sip:40211234@192.0.2.22",
        "next=sip:40211234@192.0.2.23;transport=tcp"]
    assert routed(proxy(db, ROUTE % (1, ""))) == ["ru=sip:00211234@192.0.2.21:5060 ra= ga=g1 ca="]


def test_the_fallback_reports_each_new_rules_attributes_to_use_next_gw(tmp_path):
    db = database(tmp_path / "dr.db", dr_gateways=GATEWAYS, dr_rules=[
        rule("1", "40", "gw1", priority=10, attrs="first"), rule("1", "40", "gw2", priority=5, attrs="second")])
    p = proxy(db, """
route {
    do_routing(1, "F", , $var(ra));
    xlog("$ru $var(ra)\\n");
    while (use_next_gw($var(ra), $var(ga))) { xlog("next $ru $var(ra) $var(ga)\\n"); }
    drop;
}
""")
    assert routed(p) == ["sip:00211234@192.0.2.21:5060 first", "next sip:40211234@192.0.2.22 second g2"]


def test_time_recurrence_selects_the_valid_rule(tmp_path):
    # the virtual clock starts on Thursday 2026-01-01 00:00 UTC
    db = database(tmp_path / "dr.db", dr_gateways=GATEWAYS, dr_rules=[
        rule("1", "40", "gw1", priority=9, timerec="UTC|20260101T090000||PT8H|daily"),
        rule("1", "40", "gw2", priority=5, timerec="UTC|20260101T000000||PT9H|daily"),
        rule("1", "40", "gw3", priority=1, timerec="UTC|20260101T000000|20260101T000001 & !UTC|20250101T000000"),
        rule("1", "40", "gw3", priority=1, timerec="garbage|||")])
    p = proxy(db, 'route { do_routing(1); xlog("$ru\\n"); drop; }\n')
    assert routed(p) == ["sip:40211234@192.0.2.22"]
    p.net.advance(10 * 3600)
    assert routed(p) == ["sip:00211234@192.0.2.21:5060"]
    p.net.advance(8 * 3600)
    assert routed(p) == ["sip:40211234@192.0.2.1"]  # no rule valid at 18:00: R-URI untouched


def test_the_rules_route_runs_and_may_drop_the_routing(tmp_path):
    db = database(tmp_path / "dr.db", dr_gateways=GATEWAYS, dr_rules=[
        rule("1", "1", "gw2", routeid="hook"), rule("1", "2", "gw2", routeid="veto")])
    p = proxy(db, """
route { if (do_routing(1)) xlog("routed $ru\\n"); else xlog("refused\\n"); drop; }
route[hook] { xlog("hook for $rU\\n"); exit; }
route[veto] { xlog("veto\\n"); drop; }
""")
    assert routed(p, "sip:100@x") == ["hook for 100", "routed sip:100@192.0.2.22"]
    assert routed(p, "sip:200@x") == ["veto", "refused"]


def test_gateway_checks_by_source_destination_and_uri(tmp_path):
    db = database(tmp_path / "dr.db", dr_gateways=[
        gw("uac", "192.0.2.10", type=3, attrs="the-uac", strip=1, pri_prefix="+"),
        gw("uac5080", "192.0.2.10:5080", type=4), gw("gw2", "192.0.2.22")],
        dr_carriers=[{"carrierid": "crx", "gwlist": "uac", "attrs": "cx"}])
    p = proxy(db, """
route {
    if (is_from_gw(3, "spic", $var(ga), $var(ca)))
        xlog("from uac: $rU $var(ga) $var(ca) $avp(___dr_gw_id__) $avp(cid)\\n");
    if (!is_from_gw(4)) xlog("not 5080\\n");
    if (is_from_gw(4, "n")) xlog("4 ignoring the port\\n");
    if (!is_from_gw(3, "r", , , )) xlog("udp is not tcp\\n");
    $du = "sip:192.0.2.22";
    if (goes_to_gw()) xlog("goes to gw\\n");
    if (!goes_to_gw(9)) xlog("not type 9\\n");
    if (dr_is_gw("sip:someone@192.0.2.10:5080", 4)) xlog("is gw\\n");
    drop;
}
""", params='modparam("drouting", "carrier_id_avp", "$avp(cid)")\n')
    assert routed(p, "sip:1234@192.0.2.1") == ["from uac: +234 the-uac cx uac crx", "not 5080",
                                               "4 ignoring the port", "goes to gw", "not type 9", "is gw"]
    p.send(request(ruri="sip:1@192.0.2.1", branch="z9hG4bKtcp"), src=("192.0.2.10", 5060), proto="tcp")
    assert "udp is not tcp" in script_lines(p)[-5:]


def test_dr_disable_dr_match_and_mi_status(tmp_path):
    db = database(tmp_path / "dr.db", dr_gateways=GATEWAYS, dr_rules=[rule("1", "40", "gw1,gw2", attrs="a40")])
    p = proxy(db, """
route {
    if ($rU == "disable") { do_routing(1); dr_disable(); drop; }
    do_routing(1); xlog("$ru\\n");
    if (dr_match(1, "L", "40", $var(ra))) xlog("match $var(ra)\\n");
    if (!dr_match(1, "L", "401")) xlog("no strict match\\n");
    drop;
}
""", params='modparam("drouting", "persistent_state", 1)\n')
    mi = p.core.modules["drouting"].mi_commands()
    p.send(request(ruri="sip:disable@192.0.2.1"))  # "disable" has no rule: nothing routed, nothing disabled
    assert mi["dr_gw_status"]({"gw_id": "gw1"}) == {"ATTRS": "g1", "State": "Active"}
    assert routed(p, "sip:4000@x") == ["sip:0000@192.0.2.21:5060", "match a40", "no strict match"]
    with pytest.raises(MIError, match="GW ID not found"):
        mi["dr_gw_status"]({"gw_id": "nope"})
    assert mi["dr_gw_status"]({"gw_id": "gw2", "status": 0}) == "OK"
    assert mi["dr_gw_status"]({})["Gateways"][1] == {"ID": "gw2", "IP": "192.0.2.22", "ATTRS": "g2",
                                                     "State": "Disabled MI"}
    assert routed(p, "sip:4000@x")[0] == "sip:0000@192.0.2.21:5060"
    p.net.advance(31)  # the state flusher writes the changed state
    assert rows(db, "SELECT state FROM dr_gateways WHERE gwid = 'gw2'") == [(1,)]
    assert mi["dr_gw_status"]({"gw_id": "gw2", "status": 1}) == "OK"
    assert mi["dr_gw_status"]({"gw_id": "gwoff"}) == {"State": "Inactive"}


def test_dr_disable_marks_the_gateway_in_use(tmp_path):
    db = database(tmp_path / "dr.db", dr_gateways=GATEWAYS, dr_rules=[rule("1", "40", "gw1,gw2")])
    p = proxy(db, 'route { do_routing(1); xlog("$ru\\n"); dr_disable(); drop; }\n')
    assert routed(p) == ["sip:00211234@192.0.2.21:5060"]
    assert routed(p) == ["sip:40211234@192.0.2.22"]
    mi = p.core.modules["drouting"].mi_commands()
    assert [g["State"] for g in mi["dr_gw_status"]({})["Gateways"]] == ["Inactive", "Inactive", "Active", "Inactive"]


def test_route_to_gw_and_route_to_carrier(tmp_path):
    db = database(tmp_path / "dr.db", dr_gateways=GATEWAYS + CARRIER_GWS, dr_carriers=CARRIERS)
    p = proxy(db, """
route {
    if (route_to_gw("gw2, gwoff, gw1", $var(ga))) xlog("gw $ru $var(ga)\\n");
    while (use_next_gw()) xlog("next $ru\\n");
    if (route_to_carrier("nope, cr1", , $var(ca))) xlog("cr $ru $var(ca)\\n");
    while (use_next_gw()) xlog("next $ru\\n");
    if (!route_to_carrier("croff")) xlog("off\\n");
    if (!route_to_gw("gwoff")) xlog("no gw\\n");
    drop;
}
""")
    # the attrs are the last gateway's pushed (as route2_gw); gw1 strips 2 digits and adds "00"
    assert routed(p, "sip:77@x") == ["gw sip:77@192.0.2.22 g1", "next sip:00@192.0.2.21:5060",
                                     "cr sip:00@192.0.2.32 c1", "next sip:00@192.0.2.31", "off", "no gw"]


def test_a_failed_gateway_fails_over_to_the_next_one_through_tm(tmp_path):
    db = database(tmp_path / "dr.db", dr_gateways=[gw("a", "192.0.2.51"), gw("b", "192.0.2.52")],
                  dr_rules=[rule("1", "", "a,b")])
    p = proxy(db, """
route {
    if (!do_routing(1)) { send_reply(404, "No Route found"); exit; }
    t_on_failure("GW_FAILOVER");
    t_relay();
}
failure_route[GW_FAILOVER] {
    if (t_check_status("(408)|([56][0-9][0-9])")) {
        if (use_next_gw()) { t_on_failure("GW_FAILOVER"); t_relay(); exit; }
        send_reply(500, "All GW are down");
    }
}
""")
    seen = []

    def gateway(code):
        def answer(data, src):
            msg = parse_message(data)
            seen.append((msg.method, msg.ruri_text))
            if msg.method == "ACK":
                return []
            vias = "\n".join(f"Via: {v}" for v in msg.header_values("via"))
            return [sip(f"SIP/2.0 {code} X\n{vias}\nFrom: {msg.header('from')}\nTo: {msg.header('to')};tag=g\n"
                        f"Call-ID: {msg.call_id}\nCSeq: {msg.header('cseq')}\nContent-Length: 0\n\n")]
        return answer

    p.net.attach("192.0.2.51", 5060, gateway(503))
    p.net.attach("192.0.2.52", 5060, gateway(200))
    out = p.send(request(ruri="sip:123@192.0.2.1"))
    assert ("INVITE", "sip:123@192.0.2.51") in seen and ("INVITE", "sip:123@192.0.2.52") in seen
    assert any(parse_message(s.data).status == 200 for s in out if s.host == "192.0.2.10")


def test_probing_brings_a_disabled_gateway_back(tmp_path):
    db = database(tmp_path / "dr.db", dr_gateways=[gw("p", "192.0.2.41", probe_mode=1, state=2),
                                                   gw("never", "192.0.2.42", probe_mode=0, state=2)])
    p = proxy(db, "route { drop; }\n", params='modparam("drouting", "probing_interval", 10)\n')
    pinged = []

    def gateway(data, src):
        msg = parse_message(data)
        pinged.append((msg.method, msg.ruri_text))
        vias = "\n".join(f"Via: {v}" for v in msg.header_values("via"))
        return [sip(f"SIP/2.0 200 OK\n{vias}\nFrom: {msg.header('from')}\nTo: {msg.header('to')};tag=g\n"
                    f"Call-ID: {msg.call_id}\nCSeq: {msg.header('cseq')}\nContent-Length: 0\n\n")]

    p.net.attach("192.0.2.41", 5060, gateway)
    mi = p.core.modules["drouting"].mi_commands()
    assert mi["dr_gw_status"]({"gw_id": "p"}) == {"State": "Probing"}
    assert mi["dr_enable_probing"]({"status": 0}) == "OK"
    p.net.advance(11)
    assert pinged == [] and mi["dr_enable_probing"]({}) == {"Status": 0}
    assert mi["dr_enable_probing"]({"status": 1}) == "OK"
    p.net.advance(10)
    assert pinged == [("OPTIONS", "sip:192.0.2.41")]
    assert mi["dr_gw_status"]({"gw_id": "p"}) == {"State": "Active"}
    assert mi["dr_gw_status"]({"gw_id": "never"}) == {"State": "Inactive"}


def test_mi_carrier_status_number_routing_reload(tmp_path):
    db = database(tmp_path / "dr.db", dr_gateways=GATEWAYS + CARRIER_GWS, dr_carriers=CARRIERS,
                  dr_rules=[rule("1", "40", "gw1,#cr1", attrs="r")])
    p = proxy(db, "route { drop; }\n")
    mi = p.core.modules["drouting"].mi_commands()
    assert mi["dr_carrier_status"]({}) == {"Carriers": [{"ID": "cr1", "ATTRS": "c1", "Enabled": "yes"},
                                                       {"ID": "crfirst", "Enabled": "yes"},
                                                       {"ID": "croff", "Enabled": "no "}]}
    assert mi["dr_carrier_status"]({"carrier_id": "cr1", "status": 0}) == "OK"
    assert mi["dr_carrier_status"]({"carrier_id": "cr1"}) == {"ATTRS": "c1", "Enabled": "no "}
    assert mi["dr_number_routing"]({"group_id": 1, "number": "4055"}) == {
        "Matched Prefix": "40", "GW List": [{"GATEWAY": "gw1"}, {"CARRIER": "cr1"}], "ATTRS": "r"}
    assert mi["dr_number_routing"]({"number": "999"}) == "No match"
    execute(db, "INSERT INTO dr_rules (groupid, prefix, gwlist) VALUES ('1', '999', 'gw2')")
    assert mi["dr_reload"]({}) == "OK"
    assert mi["dr_number_routing"]({"group_id": 1, "number": "999"})["Matched Prefix"] == "999"
    assert mi["dr_carrier_status"]({"carrier_id": "cr1"})["Enabled"] == "no "  # inherited over the reload
    assert mi["dr_reload"]({"inherit_state": "n"}) == "OK"
    assert mi["dr_carrier_status"]({"carrier_id": "cr1"})["Enabled"] == "yes"
    assert set(mi["dr_reload_status"]({})) == {"Date"}
    with pytest.raises(MIError, match="partition_name"):
        mi["dr_gw_status"]({"partition_name": "x"})


def test_partitions_from_dr_partitions_and_the_wildcard(tmp_path):
    data = database(tmp_path / "data.db", dr_gateways=GATEWAYS, dr_rules=[rule("1", "1", "gw1")])
    execute(data, "CREATE TABLE rules_b AS SELECT * FROM dr_rules WHERE 0")
    execute(data, "INSERT INTO version VALUES ('rules_b', 4)")
    execute(data, "INSERT INTO rules_b (ruleid, groupid, prefix, gwlist, priority, sort_alg) "
                  "VALUES (1, '1', '2', 'gw2', 0, 'N')")
    execute(data, "INSERT INTO dr_partitions (partition_name, db_url) VALUES ('pa', ?)", f"sqlite://{data}")
    execute(data, "INSERT INTO dr_partitions (partition_name, db_url, drr_table) VALUES ('pb', ?, 'rules_b')",
            f"sqlite://{data}")
    p = proxy(data, """
route {
    if (do_routing(1, , , , , , "pb")) xlog("pb $ru\\n"); else xlog("pb none\\n");
    if (do_routing(1, , , , , , "*")) xlog("any $ru $var(part)\\n");
    drop;
}
""", params=(f'modparam("drouting", "use_partitions", 1)\nmodparam("drouting", "db_partitions_url", '
             f'"sqlite://{data}")\nmodparam("drouting", "partition_id_pvar", "$var(part)")\n'))
    assert routed(p, "sip:2@x") == ["pb sip:2@192.0.2.22", "any sip:2@192.0.2.22 pb"]
    assert routed(p, "sip:1@x") == ["pb none", "any sip:00@192.0.2.21:5060 pa"]


def test_loading_problems(tmp_path):
    db = database(tmp_path / "dr.db", dr_gateways=GATEWAYS, dr_rules=[rule("1", "1", None)])
    p = proxy(db, 'route { if (!do_routing(1)) xlog("no data\\n"); drop; }\n')
    assert routed(p, "sip:1@x") == ["no data"]  # a NULL gwlist fails the whole load, as OpenSIPS's check
    execute(db, "UPDATE version SET table_version = 5 WHERE table_name = 'dr_gateways'")
    with pytest.raises(StartupFailure, match="version"):
        proxy(db, "route { drop; }\n")


def test_the_prefix_walk_stops_at_an_unknown_character_on_the_way_down():
    from opensips_py.modules.drouting.data import RoutingData, Rule
    data = RoutingData("0123456789#")
    short, long_ = Rule(1, 0, None, None, []), Rule(2, 0, None, None, [])
    data.add_prefix_rule("12", 1, short)
    data.add_prefix_rule("1234", 1, long_)
    data.add_noprefix_rule(1, Rule(3, 0, None, None, []))
    assert data.get_prefix("123456", 1, 0, 0)[:2] == (long_, 4)
    assert data.get_prefix("1239", 1, 0, 0)[:2] == (short, 2)
    assert data.get_prefix("12a45", 1, 0, 0)[:2] == (None, 0)  # 'a' is met while the tree still goes on
    assert data.get_prefix("9a", 1, 0, 0)[:2] == (None, 0)
    assert data.find_rule("12a45", 1, 0)[0].id == 3  # then the prefixless rules
    assert data.get_prefix("12#", 1, 0, 0)[:2] == (short, 2)  # an extra prefix character
    assert data.get_prefix("1234", 2, 0, 0)[0] is None  # another group
