"""usrloc on the virtual network: MI result shapes, statistics, expiry, and the storage modes on SQLite."""
from __future__ import annotations

import sqlite3

import pytest

from opensips_py.mi import MIError
from opensips_py.runtime.core import StartupFailure
from tests.modules.registrar_support import MODULES, ROUTE, invite, lookup_log, mi, proxy, register, reply


def rows(path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT username, contact, expires, callid, cseq, socket, user_agent FROM location "
                          "ORDER BY contact").fetchall()


def db_proxy(path, mode: str, extra: str = ""):
    return proxy(f'loadmodule "db_sqlite.so"\nmodparam("usrloc", "db_url", "sqlite://{path}")\n'
                 f'modparam("usrloc", "working_mode_preset", "{mode}")\n' + extra)


def test_ul_dump_has_opensips_shape():
    p = proxy()
    reply(p, register(expires=600, extra="User-Agent: phone/1.0"))
    dump = mi(p, "ul_dump")
    domain = dump["Domains"][0]
    assert (domain["name"], domain["hash_size"]) == ("location", 512)
    contact = domain["AORs"][0]["Contacts"][0]
    assert domain["AORs"][0]["AOR"] == "alice"
    assert contact["Contact"] == "sip:alice@192.0.2.10:5060"
    assert contact["Expires"] == 600 and contact["Q"] == "" and contact["Cseq"] == 1
    assert contact["Callid"] == "reg-1@192.0.2.10" and contact["User-agent"] == "phone/1.0"
    assert contact["State"] == "CS_NEW" and contact["Flags"] == 0 and contact["Cflags"] == ""
    assert contact["Socket"] == "udp:192.0.2.1:5060" and contact["Methods"] == 0xFFFFFFFF
    assert mi(p, "ul_dump", {"brief": 1})["Domains"][0]["AORs"] == [{"AOR": "alice"}]


def test_ul_show_contact_errors_and_result():
    p = proxy()
    with pytest.raises(MIError) as table:
        mi(p, "ul_show_contact", {"table_name": "nope", "aor": "alice"})
    assert (table.value.code, table.value.message) == (404, "Table not found")
    with pytest.raises(MIError) as aor:
        mi(p, "ul_show_contact", {"table_name": "location", "aor": "alice"})
    assert (aor.value.code, aor.value.message) == (404, "AOR not found")
    reply(p, register(expires=600))
    assert mi(p, "ul_show_contact", ["location", "alice@any.domain"])["AOR"] == "alice"


def test_ul_show_contact_needs_a_domain_with_use_domain():
    p = proxy('modparam("usrloc", "use_domain", 1)\n')
    with pytest.raises(MIError) as missing:
        mi(p, "ul_show_contact", {"table_name": "location", "aor": "alice"})
    assert (missing.value.code, missing.value.message) == (400, "Domain missing in AOR")


def test_ul_add_ul_rm_contact_and_ul_rm():
    p = proxy()
    assert mi(p, "ul_add", {"table_name": "location", "aor": "bob", "contact": "sip:bob@192.0.2.50",
                            "expires": 0, "q": "0.5", "flags": 0, "cflags": 0, "methods": 32767}) == "OK"
    contact = mi(p, "ul_show_contact", {"table_name": "location", "aor": "bob"})["Contacts"][0]
    assert contact["Expires"] == "permanent" and contact["Q"] == "0.5"
    assert contact["Callid"] == "dfjrewr12386fd6-343@opensips.mi" and contact["User-agent"] == "OpenSIPS MI Server"
    mi(p, "ul_add", ["location", "bob", "sip:bob@192.0.2.51", 60, "1", 0, 0, 32767])
    with pytest.raises(MIError) as unknown:
        mi(p, "ul_rm_contact", {"table_name": "location", "aor": "bob", "contact": "sip:bob@192.0.2.99"})
    assert unknown.value.message == "Contact not found"
    assert mi(p, "ul_rm_contact", {"table_name": "location", "aor": "bob", "contact": "sip:bob@192.0.2.50"}) == "OK"
    assert len(mi(p, "ul_show_contact", {"table_name": "location", "aor": "bob"})["Contacts"]) == 1
    assert mi(p, "ul_rm", {"table_name": "location", "aor": "bob"}) == "OK"
    assert mi(p, "ul_dump")["Domains"][0]["AORs"] == []


def test_statistics_use_opensips_names_and_expiry_counts():
    p = proxy('modparam("usrloc", "timer_interval", 5)\n')
    reply(p, register(expires=60))
    reply(p, register(user="bob", contacts=["<sip:bob@192.0.2.11>", "<sip:bob@192.0.2.12>"], expires=600))
    ul = p.core.modules["usrloc"]
    assert ul.stats() == {"registered_users": 2, "location-users": 2, "location-contacts": 3,
                          "location-expires": 0}
    p.net.advance(65)
    assert ul.stats() == {"registered_users": 1, "location-users": 1, "location-contacts": 2,
                          "location-expires": 1}
    values = mi(p, "get_statistics", {"statistics": ["usrloc:"]})
    assert values["usrloc:registered_users"] == 1 and values["usrloc:location-contacts"] == 2


def test_expired_contacts_are_removed_by_the_timer():
    p = proxy('modparam("usrloc", "timer_interval", 10)\nmodparam("registrar", "min_expires", 5)\n')
    reply(p, register(expires=20))
    p.net.advance(10)
    assert mi(p, "ul_dump")["Domains"][0]["AORs"][0]["Contacts"][0]["Expires"] == 10
    p.net.advance(20)
    assert mi(p, "ul_dump")["Domains"][0]["AORs"] == []


def test_write_through_writes_at_once_and_survives_a_restart(tmp_path):
    path = tmp_path / "db" / "opensips.db"  # the directory does not exist yet: created
    p = db_proxy(path, "single-instance-sql-write-through")
    reply(p, register(expires=600, extra="User-Agent: ua"))
    assert rows(path) == [("alice", "sip:alice@192.0.2.10:5060", int(p.net.clock.now) + 600, "reg-1@192.0.2.10", 1,
                           "udp:192.0.2.1:5060", "ua")]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT table_version FROM version WHERE table_name='location'").fetchone() == (1013,)
    again = db_proxy(path, "single-instance-sql-write-through")  # a new process on the same file
    restored = mi(again, "ul_show_contact", {"table_name": "location", "aor": "alice"})["Contacts"][0]
    assert restored["State"] == "CS_SYNC" and restored["User-agent"] == "ua"
    again.send(invite())
    assert lookup_log(again).startswith("lookup 1 ru=sip:alice@192.0.2.10:5060")
    reply(again, register(expires=0, cseq=2))
    assert rows(path) == []


def test_write_back_marks_deleted_and_flushes_on_the_timer(tmp_path):
    path = tmp_path / "opensips.db"
    p = db_proxy(path, "single-instance-sql-write-back", 'modparam("usrloc", "timer_interval", 3)\n')
    reply(p, register(expires=600))
    assert rows(path) == []  # not yet: the timer writes
    p.net.advance(3)
    assert len(rows(path)) == 1
    reply(p, register(expires=0, cseq=2))
    contact = mi(p, "ul_dump")["Domains"][0]["AORs"][0]["Contacts"][0]
    assert contact["Expires"] == "deleted"
    p.net.advance(3)
    assert rows(path) == [] and mi(p, "ul_dump")["Domains"][0]["AORs"] == []


def test_db_mode_3_sql_only_reads_the_database_each_time(tmp_path):
    path = tmp_path / "opensips.db"
    p = proxy(f'loadmodule "db_sqlite.so"\nmodparam("usrloc", "db_url", "sqlite://{path}")\n'
              'modparam("usrloc", "db_mode", 3)\n')
    reply(p, register(expires=600))
    assert len(rows(path)) == 1
    with sqlite3.connect(path) as db:  # another node sharing the database adds a contact
        db.execute("INSERT INTO location (username, contact, expires, q, callid, cseq) VALUES "
                   "('carol', 'sip:carol@192.0.2.77', ?, -1, 'x', 1)", (int(p.net.clock.now) + 600,))
    p.send(invite(user="carol"))
    assert lookup_log(p).startswith("lookup 1 ru=sip:carol@192.0.2.77")


def test_a_dead_database_is_logged_and_memory_keeps_serving(tmp_path):
    path = tmp_path / "opensips.db"
    p = db_proxy(path, "single-instance-sql-write-through", 'modparam("usrloc", "timer_interval", 5)\n')
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE location")  # the database loses the table behind our back
    assert reply(p, register(expires=600)).status == 200
    p.send(invite())
    assert lookup_log(p).startswith("lookup 1")
    assert any("database insert failed" in line for line in p.logs)
    assert p.core.modules["usrloc"].db_errors >= 1
    from opensips_py.db import connect  # the table comes back: the timer writes what is pending
    restored = connect(f"sqlite://{path}")
    restored.delete("version", {"table_name": "location"})
    restored.ensure_tables(["location"])
    restored.close()
    p.net.advance(5)
    assert [r[0] for r in rows(path)] == ["alice"]


def test_an_unreachable_db_url_refuses_the_start_with_a_clear_message():
    with pytest.raises(StartupFailure) as refused:
        proxy('loadmodule "db_postgres.so"\nmodparam("usrloc", "db_url", "postgres://u:secret@127.0.0.1:41999/x")\n'
              'modparam("usrloc", "working_mode_preset", "single-instance-sql-write-through")\n')
    assert "cannot connect to postgres://u:***@127.0.0.1:41999/x" in refused.value.report
    assert "secret" not in refused.value.report


def test_an_unreachable_mysql_db_url_refuses_the_start_with_the_cause():
    with pytest.raises(StartupFailure) as refused:
        proxy('loadmodule "db_mysql.so"\nmodparam("usrloc", "db_url", "mysql://u:secret@127.0.0.1:47499/opensips")\n'
              'modparam("usrloc", "db_mode", 1)\n')
    assert "cannot connect to mysql://u:***@127.0.0.1:47499/opensips" in refused.value.report
    assert "secret" not in refused.value.report


def test_a_table_with_another_version_refuses_the_start(tmp_path):
    path = tmp_path / "opensips.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE version (table_name CHAR(32), table_version INTEGER)")
        db.execute("CREATE TABLE location (contact_id INTEGER PRIMARY KEY)")
        db.execute("INSERT INTO version VALUES ('location', 1012)")
    with pytest.raises(StartupFailure) as refused:
        db_proxy(path, "single-instance-sql-write-back")
    assert "version 1012" in refused.value.report and "1013 is needed" in refused.value.report


def test_modules_without_route_use_are_fine():
    assert proxy(route="route { exit; }").core.modules["usrloc"].domains == {}
    assert "save" in ROUTE and "usrloc" in MODULES
