"""permissions on the virtual network: the address table from SQLite (as SIPssert's permissions/ scenarios
seed it), check_address()/check_source_address()/get_source_group() return codes, ports, protocols,
patterns, context_info, groups and partitions, and the MI dumps and reload."""
from __future__ import annotations

import sqlite3

import pytest

from opensips_py.mi import MIError
from opensips_py.runtime.core import StartupFailure
from tests.modules.auth_support import script_lines
from tests.runtime.support import Proxy, request

ADDRESS_SQL = """
CREATE TABLE version (table_name CHAR(32) NOT NULL, table_version INTEGER DEFAULT 0 NOT NULL);
INSERT INTO version VALUES ('address', 5);
CREATE TABLE address (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, grp SMALLINT DEFAULT 0 NOT NULL,
    ip CHAR(50) NOT NULL, mask SMALLINT DEFAULT 32 NOT NULL, port SMALLINT DEFAULT 0 NOT NULL,
    proto CHAR(4) DEFAULT 'any' NOT NULL, pattern CHAR(64) DEFAULT NULL, context_info CHAR(32) DEFAULT NULL);
"""


def address_db(path, *rows):
    con = sqlite3.connect(path)
    con.executescript(ADDRESS_SQL)
    for row in rows:
        con.execute("INSERT INTO address (grp, ip, mask, port, proto, pattern, context_info) VALUES (?,?,?,?,?,?,?)",
                    row)
    con.commit()
    con.close()
    return path


def proxy(db, script: str, params: str = "") -> Proxy:
    head = (f'loadmodule "db_sqlite.so"\nloadmodule "permissions.so"\n'
            f'modparam("permissions", "db_url", "sqlite://{db}")\n' + params)
    return Proxy(head + script)


SOURCE = """
route {
    $var(rc) = check_source_address($var(grp), $var(info));
    xlog("rc=$var(rc) info=$var(info)\\n");
    if ($var(rc) < 0) { send_reply(403, "Forbidden"); exit; }
    send_reply(200, "OK");
}
"""


def status(sends) -> int:
    return int(sends[0].data.split(b" ", 2)[1])


def test_sipssert_subnet_row_admits_the_uac_and_refuses_others(tmp_path):
    """permissions/01: 192.168.52.0/27, port 5040, any proto; the UAC sends from .2:5040."""
    db = address_db(tmp_path / "a.db", (0, "192.0.2.0", 27, 5060, "any", None, "trusted"))
    p = proxy(db, SOURCE.replace("$var(grp)", "0"))
    assert status(p.send(request(), src=("192.0.2.10", 5060))) == 200
    assert status(p.send(request(branch="z9hG4bK2"), src=("192.0.2.10", 5070))) == 403  # other port
    assert status(p.send(request(branch="z9hG4bK3"), src=("192.0.2.40", 5060))) == 403  # outside /27
    lines = script_lines(p)
    assert lines[0] == "rc=1 info=trusted" and lines[1].startswith("rc=-1 ")


def test_group_without_rules_is_minus_2_and_protocol_must_match(tmp_path):
    db = address_db(tmp_path / "a.db", (1, "192.0.2.10", 32, 0, "tcp", None, None))
    p = proxy(db, """
route {
    xlog("g1=$(avp(x)) a=$rc\\n");
}
""".replace('xlog("g1=$(avp(x)) a=$rc\\n");', """
    $var(a) = check_address(1, "192.0.2.10", 5060, "udp");
    $var(b) = check_address(1, "192.0.2.10", 5060, "tcp");
    $var(c) = check_address(1, "192.0.2.10", 5060, "any");
    $var(d) = check_address(2, "192.0.2.10", 5060, "udp");
    $var(e) = check_address(0, "192.0.2.10", 0, "tcp");
    $var(f) = check_source_address(1);
    xlog("$var(a) $var(b) $var(c) $var(d) $var(e) $var(f)\\n");
    drop;"""))
    p.send(request())
    assert script_lines(p) == ["-1 1 1 -2 1 -1"]  # the source is udp


def test_patterns_match_with_fnmatch_when_both_sides_have_one(tmp_path):
    db = address_db(tmp_path / "a.db", (0, "192.0.2.10", 32, 0, "any", "sip:alice@*", "alice"))
    p = proxy(db, """
route {
    $var(a) = check_address(0, "192.0.2.10", 5060, "udp", $var(i), "sip:alice@atlanta.com");
    $var(b) = check_address(0, "192.0.2.10", 5060, "udp", $var(j), "sip:bob@atlanta.com");
    $var(c) = check_address(0, "192.0.2.10", 5060, "udp");
    xlog("$var(a) $var(i) $var(b) $var(c)\\n");
    drop;
}
""")
    p.send(request())
    assert script_lines(p) == ["1 alice -1 1"]


def test_get_source_group_and_partitions(tmp_path):
    default = address_db(tmp_path / "a.db", (7, "192.0.2.0", 24, 0, "any", None, None))
    other = address_db(tmp_path / "b.db", (3, "198.51.100.0", 24, 0, "udp", None, None))
    p = proxy(default, """
route {
    get_source_group($var(g));
    $var(o) = check_address(3, "198.51.100.9", 5060, "udp", , , "peers");
    $var(n) = check_address(3, "198.51.100.9", 5060, "udp");
    xlog("$var(g) $var(o) $var(n)\\n");
    drop;
}
""", params=f'modparam("permissions", "partition", "peers: db_url=sqlite://{other}; table_name=address")\n')
    p.send(request())
    assert script_lines(p) == ["7 1 -2"]


def test_rows_with_proto_none_or_bad_addresses_are_skipped_and_mi_dumps(tmp_path):
    db = address_db(tmp_path / "a.db", (0, "192.0.2.10", 32, 5060, "none", None, None),
                    (0, "not-an-ip", 32, 0, "any", None, None),
                    (1, "192.0.2.11", 32, 5060, "udp", "*", "x"),
                    (2, "10.0.0.0", 8, 0, "any", None, None))
    p = proxy(db, SOURCE.replace("$var(grp)", "0"))
    module = p.core.modules["permissions"]
    commands = module.mi_commands()
    assert commands["address_dump"]({}) == {"Partitions": [{"name": "default", "Destinations": [
        {"grp": 1, "ip": "192.0.2.11", "mask": "32", "port": 5060, "proto": "udp", "pattern": "*",
         "context_info": "x"}]}]}
    assert commands["subnet_dump"]({"partition": "default"}) == {"part": "default", "Destinations": [
        {"grp": 2, "ip": "10.0.0.0", "mask": "8", "port": 0, "proto": "any", "pattern": None,
         "context_info": None}]}
    with pytest.raises(MIError):
        commands["address_dump"]({"partition": "nope"})
    assert status(p.send(request())) == 403
    con = sqlite3.connect(db)
    con.execute("INSERT INTO address (grp, ip, mask, port, proto) VALUES (0, '192.0.2.10', 32, 0, 'any')")
    con.commit()
    con.close()
    assert commands["address_reload"]({}) == "OK"
    assert status(p.send(request(branch="z9hG4bKnew"))) == 200


def test_a_missing_table_refuses_to_start(tmp_path):
    sqlite3.connect(tmp_path / "empty.db").close()
    with pytest.raises(StartupFailure, match="address table"):
        proxy(tmp_path / "empty.db", SOURCE.replace("$var(grp)", "0"))
