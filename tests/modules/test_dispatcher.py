"""dispatcher on the virtual network, over a SQLite dispatcher table: set loading (priority order, states,
weights), ds_select_dst() algorithms (hashes, weighted round-robin, first, random), the failover AVPs with
ds_next_dst(), ds_mark_dst(), ds_select_domain(), ds_is_in_list(), ds_count(), OPTIONS probing bringing a
destination back, and the MI commands ds_list/ds_set_state/ds_reload."""
from __future__ import annotations

import sqlite3

import pytest

from opensips_py.mi import MIError
from opensips_py.modules.dispatcher import ds_hash
from opensips_py.runtime.core import StartupFailure
from opensips_py.runtime.virtual import sip
from opensips_py.sip import parse_message
from tests.modules.auth_support import script_lines
from tests.runtime.support import Proxy, request

DISPATCHER_SQL = """
CREATE TABLE version (table_name CHAR(32) NOT NULL, table_version INTEGER DEFAULT 0 NOT NULL);
INSERT INTO version VALUES ('dispatcher', 9);
CREATE TABLE dispatcher (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, setid INTEGER DEFAULT 0 NOT NULL,
    destination CHAR(192) DEFAULT '' NOT NULL, socket CHAR(128) DEFAULT NULL, state INTEGER DEFAULT 0 NOT NULL,
    probe_mode INTEGER DEFAULT 0 NOT NULL, weight CHAR(64) DEFAULT 1 NOT NULL, priority INTEGER DEFAULT 0 NOT NULL,
    attrs CHAR(128) DEFAULT NULL, description CHAR(64) DEFAULT NULL);
"""


def table(path, *rows):
    con = sqlite3.connect(path)
    con.executescript(DISPATCHER_SQL)
    for setid, destination, weight, priority, state, attrs in rows:
        con.execute("INSERT INTO dispatcher (setid, destination, weight, priority, state, attrs) VALUES "
                    "(?,?,?,?,?,?)", (setid, destination, weight, priority, state, attrs))
    con.commit()
    con.close()
    return path


def proxy(db, script: str, params: str = "") -> Proxy:
    head = ('loadmodule "tm.so"\nloadmodule "db_sqlite.so"\nloadmodule "dispatcher.so"\n'
            f'modparam("dispatcher", "db_url", "sqlite://{db}")\n' + params)
    return Proxy(head + script)


GW = [(1, "sip:192.0.2.21:5060", "1", 0, 0, "a=1"), (1, "sip:192.0.2.22:5060", "2", 0, 0, None),
      (1, "sip:192.0.2.23:5060", "1", 5, 0, None), (2, "sip:192.0.2.31", "1", 0, 1, None)]

SELECT = """
route {
    if (!ds_select_dst($var(set), $var(alg), "$var(flags)")) { xlog("none\\n"); drop; }
    xlog("du=$du\\n");
    drop;
}
startup_route { $var(set) = 1; $var(alg) = %d; $var(flags) = "%s"; }
"""


def selections(p: Proxy, count: int, **kwargs) -> list[str]:
    for n in range(count):
        p.send(request(branch=f"z9hG4bK{n}", call_id=kwargs.get("call_id", f"call-{n}@x")))
    return [line[3:] for line in script_lines(p) if line.startswith("du=")]


def test_sets_are_ordered_by_priority_and_round_robin_follows_the_weights(tmp_path):
    p = proxy(table(tmp_path / "d.db", *GW), SELECT % (4, ""))
    # priority 5 first, then the table order; each taken `weight` times before the next
    assert selections(p, 8) == ["sip:192.0.2.23:5060", "sip:192.0.2.21:5060", "sip:192.0.2.22:5060",
                                "sip:192.0.2.22:5060", "sip:192.0.2.23:5060", "sip:192.0.2.21:5060",
                                "sip:192.0.2.22:5060", "sip:192.0.2.22:5060"]


def test_callid_hash_is_stable_and_spread_by_running_weights(tmp_path):
    p = proxy(table(tmp_path / "d.db", *GW), SELECT % (0, ""))
    same = selections(p, 3, call_id="fixed@x")
    assert len(set(same)) == 1
    weights = [1, 1, 2]  # .23 (p5), .21, .22 as ordered
    point = ds_hash("fixed@x") % sum(weights)
    expected = ["sip:192.0.2.23:5060", "sip:192.0.2.21:5060", "sip:192.0.2.22:5060"][
        0 if point < 1 else 1 if point < 2 else 2]
    assert same[0] == expected


def test_ds_hash_matches_the_c_fold():
    v = (ord("a") << 24) + (ord("b") << 16) + (ord("c") << 8) + ord("d")
    h = v ^ (v >> 3)
    h = (h + (h >> 11)) + ((h >> 13) + (h >> 23))
    assert ds_hash("abcd") == h & 0xFFFFFFFF
    assert ds_hash() == 0 and ds_hash("") == 1


def test_failover_avps_feed_ds_next_dst_and_mark_skips_a_failed_one(tmp_path):
    p = proxy(table(tmp_path / "d.db", *GW), """
route {
    ds_select_dst(1, 8, "f");
    xlog("first=$du cnt=$avp(ds_cnt_failover) grp=$avp(ds_grp_failover)\\n");
    while (ds_next_dst()) { xlog("next=$du\\n"); }
    drop;
}
""")
    p.send(request())
    assert script_lines(p) == ["first=sip:192.0.2.23:5060 cnt=3 grp=1", "next=sip:192.0.2.21:5060",
                               "next=sip:192.0.2.22:5060"]
    module = p.core.modules["dispatcher"]
    assert module.mi_commands()["ds_set_state"]({"state": "i", "group": "1", "address": "sip:192.0.2.23:5060"}) == "OK"
    p.send(request(branch="z9hG4bKb", call_id="other@x"))
    assert script_lines(p)[3] == "first=sip:192.0.2.21:5060 cnt=2 grp=1"


def test_ds_mark_dst_from_the_script_and_no_active_destination(tmp_path):
    db = table(tmp_path / "d.db", (1, "sip:192.0.2.21:5060", "1", 0, 0, None))
    p = proxy(db, """
route {
    if (ds_select_dst(1, 8, "f")) { ds_mark_dst("i"); xlog("marked\\n"); }
    if (!ds_select_dst(1, 8)) xlog("none active\\n");
    if (!ds_select_dst(9, 8)) xlog("no set\\n");
    drop;
}
""")
    p.send(request())
    assert script_lines(p) == ["marked", "none active", "no set"]


def test_select_domain_rewrites_the_ruri_host_port(tmp_path):
    p = proxy(table(tmp_path / "d.db", (1, "sip:192.0.2.21:5070", "1", 0, 0, None)), """
route { ds_select_domain(1, 8); xlog("ru=$ru du=$du\\n"); drop; }
""")
    p.send(request(ruri="sip:bob@example.com"))
    assert script_lines(p) == ["ru=sip:bob@192.0.2.21:5070 du=<null>"]


def test_is_in_list_and_count(tmp_path):
    p = proxy(table(tmp_path / "d.db", *GW), """
route {
    $var(a) = ds_is_in_list("192.0.2.21", 5060);
    $var(b) = ds_is_in_list("192.0.2.21", 5061);
    $var(c) = ds_is_in_list("192.0.2.31", 0, 2, , 1);
    $var(d) = ds_is_in_list("192.0.2.21", 0, -1, , 0, "a=*");
    ds_count(1, "a", $var(active));
    ds_count(2, "ip", $var(down));
    xlog("$var(a) $var(b) $var(c) $var(d) $var(active) $var(down)\\n");
    drop;
}
""")
    p.send(request())
    assert script_lines(p) == ["1 -1 -1 1 3 1"]


def test_probing_brings_a_destination_back_on_200(tmp_path):
    db = table(tmp_path / "d.db", (1, "sip:192.0.2.41:5060", "1", 0, 2, None))
    p = proxy(db, 'route { drop; }\n', params='modparam("dispatcher", "ds_ping_interval", 10)\n')
    pinged = []

    def gateway(data, src):
        msg = parse_message(data)
        pinged.append(msg.method)
        lines = [f"Via: {v}" for v in msg.header_values("via")]
        return [sip("\n".join(["SIP/2.0 200 OK", *lines, f"From: {msg.header('from')}",
                               f"To: {msg.header('to')};tag=gw", f"Call-ID: {msg.call_id}",
                               f"CSeq: {msg.header('cseq')}", "Content-Length: 0"]) + "\n\n")]

    p.net.attach("192.0.2.41", 5060, gateway)
    module = p.core.modules["dispatcher"]
    assert module.sets[0].dests[0].state == "Probing"
    p.net.advance(10.5)
    assert pinged == ["OPTIONS"] and module.sets[0].dests[0].state == "Active"


def test_mi_list_shape_and_reload(tmp_path):
    db = table(tmp_path / "d.db", (1, "sip:192.0.2.21:5060", "3", 2, 0, "x"))
    p = proxy(db, "route { drop; }\n")
    commands = p.core.modules["dispatcher"].mi_commands()
    assert commands["ds_list"]({"full": 1}) == {"PARTITIONS": [{"name": "default", "SETS": [{"id": 1, "Destinations": [
        {"URI": "sip:192.0.2.21:5060", "state": "Active", "first_hit_counter": 0, "attr": "x", "weight": 3,
         "priority": 2, "resolved_addresses": ["192.0.2.21:5060"]}]}]}]}
    con = sqlite3.connect(db)
    con.execute("INSERT INTO dispatcher (setid, destination) VALUES (4, 'sip:192.0.2.50')")
    con.commit()
    con.close()
    assert commands["ds_reload"]({}) == "OK"
    assert [s["id"] for s in commands["ds_list"]({})["PARTITIONS"][0]["SETS"]] == [4, 1]
    with pytest.raises(MIError, match="destination not found"):
        commands["ds_set_state"]({"state": "a", "group": "1", "address": "sip:nowhere"})
    with pytest.raises(MIError, match="Bad state value"):
        commands["ds_set_state"]({"state": "x", "group": "1", "address": "sip:192.0.2.21:5060"})


def test_other_partitions_refuse_to_start(tmp_path):
    db = table(tmp_path / "d.db")
    with pytest.raises(StartupFailure, match="partitions"):
        proxy(db, "route { drop; }\n", params=f'modparam("dispatcher", "partition", "p2: db_url=sqlite://{db}")\n')
