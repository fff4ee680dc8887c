"""The storage layer on a real MariaDB: the table API every backend passes, OpenSIPS's MySQL schema as the
SIPssert suite creates it, a lost connection reported then reopened, exec_query_threshold, and the modules
that store things (usrloc, auth_db) with a mysql:// db_url."""
from __future__ import annotations

import logging

import pytest

from opensips_py.db import DatabaseUnavailable, TableVersionMismatch, connect
from opensips_py.runtime.core import StartupFailure
from tests.db.test_db import exercise_table_api
from tests.db_mysql.conftest import admin_connection
from tests.shared import CORPUS

SUITE_SQL = CORPUS / "official" / "sipssert-opensips-tests" / "stir-shaken" / "02.auth-diverted-cached" / \
    "opensips.sql"


def test_table_api_on_mysql(fresh_mysql):
    db = connect(fresh_mysql)
    exercise_table_api(db)
    assert db.table_version("location") == 1013
    db.close()


def test_opensips_tables_are_created_with_their_versions(fresh_mysql):
    db = connect(fresh_mysql)
    assert db.ensure_tables(["location", "subscriber", "dialog"]) == ["version", "location", "subscriber", "dialog"]
    assert {t: db.table_version(t) for t in ("location", "subscriber", "dialog")} == \
        {"location": 1013, "subscriber": 8, "dialog": 12}
    assert db.ensure_tables(["dialog"]) == []
    with admin_connection() as conn, conn.cursor() as cursor:
        cursor.execute("SHOW COLUMNS FROM location LIKE 'contact_id'")
        field, kind, null, key, default, extra = cursor.fetchone()
    assert (kind, null, key, extra) == ("bigint(20) unsigned", "NO", "PRI", "auto_increment")


def test_a_database_made_by_the_sipssert_suite_is_used_as_it_is(mysql_server):
    import pymysql
    script = SUITE_SQL.read_text().replace("CREATE DATABASE opensips;", "DROP DATABASE IF EXISTS suite02; "
                                           "CREATE DATABASE suite02;").replace("USE opensips;", "USE suite02;")
    conn = pymysql.connect(host="127.0.0.1", port=47400, user="root", autocommit=True,
                           client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
    with conn, conn.cursor() as cursor:
        cursor.execute(script)
        while cursor.nextset():
            pass
    db = connect(mysql_server.replace("/opensips", "/suite02"))
    db.check_version("dialog", 12)
    with pytest.raises(TableVersionMismatch):
        db.check_version("dialog", 11)
    rows = db.query("man_certificates_cache", ["x5u", "certificate"], where={"id": 1})
    assert rows[0]["x5u"] == "https://certs.example.org/public_am.pem"
    assert rows[0]["certificate"].startswith("-----BEGIN CERTIFICATE-----\r\nMIICCjCCAbGgAwIBAgIU")
    db.close()


def test_a_killed_connection_is_reported_then_reopened(fresh_mysql):
    db = connect(fresh_mysql)
    db.ensure_tables(["location"])
    (connection_id,) = db._execute("SELECT CONNECTION_ID()").fetchone()
    with admin_connection() as conn, conn.cursor() as cursor:
        cursor.execute(f"KILL {int(connection_id)}")
    with pytest.raises(DatabaseUnavailable, match=r"mysql://root@127.0.0.1:47400/opensips"):
        db.query("location")
    assert db.query("location") == []  # the next call reconnects
    db.close()


def test_slow_queries_are_logged_past_exec_query_threshold(fresh_mysql, caplog):
    db = connect(fresh_mysql, query_threshold_us=1)
    with caplog.at_level(logging.WARNING, logger="opensips_py.db.mysql"):
        db._execute("SELECT SLEEP(0.01)")
    assert any("exec_query_threshold 1 us" in r.getMessage() and "SLEEP" in r.getMessage() for r in caplog.records)
    quiet = connect(fresh_mysql)  # 0: off
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="opensips_py.db.mysql"):
        quiet._execute("SELECT SLEEP(0.01)")
    assert not caplog.records
    db.close()
    quiet.close()


# ------------------------------------------------------------------------------------------------ modules

def test_usrloc_write_through_on_mysql_survives_a_restart(fresh_mysql):
    from tests.modules.registrar_support import invite, lookup_log, proxy, register, reply
    params = (f'loadmodule "db_mysql.so"\nmodparam("usrloc", "db_url", "{fresh_mysql}")\n'
              'modparam("usrloc", "working_mode_preset", "single-instance-sql-write-through")\n')
    first = proxy(params)
    assert reply(first, register(expires=600)).status == 200
    rows = connect(fresh_mysql).query("location", ["username", "contact", "socket"])
    assert rows == [{"username": "alice", "contact": "sip:alice@192.0.2.10:5060", "socket": "udp:192.0.2.1:5060"}]
    second = proxy(params)
    second.send(invite())
    assert lookup_log(second).startswith("lookup 1 ru=sip:alice@192.0.2.10:5060")


def test_a_lost_database_is_reported_and_the_registrar_keeps_serving(fresh_mysql):
    from tests.modules.registrar_support import proxy, register, reply
    params = (f'loadmodule "db_mysql.so"\nmodparam("usrloc", "db_url", "{fresh_mysql}")\n'
              'modparam("usrloc", "working_mode_preset", "single-instance-sql-write-through")\n')
    p = proxy(params)
    with admin_connection() as conn, conn.cursor() as cursor:  # every connection of the proxy goes away
        cursor.execute("SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() "
                       "AND db = 'opensips'")
        for (connection_id,) in cursor.fetchall():
            cursor.execute(f"KILL {int(connection_id)}")
    assert reply(p, register(expires=600)).status == 200  # served from memory
    assert any("mysql://root@127.0.0.1:47400/opensips" in line for line in p.logs)
    assert reply(p, register(expires=600, cseq=2)).status == 200  # the connection is back: written again
    rows = connect(fresh_mysql).query("location", ["username", "cseq"])
    assert rows == [{"username": "alice", "cseq": 2}]


def test_an_unreachable_mysql_refuses_the_start_naming_it():
    from tests.modules.registrar_support import proxy
    with pytest.raises(StartupFailure) as refused:
        proxy('loadmodule "db_mysql.so"\nmodparam("db_mysql", "timeout_interval", 1)\n'
              'modparam("usrloc", "db_url", "mysql://opensips:pw@127.0.0.1:47499/opensips")\n'
              'modparam("usrloc", "working_mode_preset", "single-instance-sql-write-through")\n')
    assert "cannot connect to mysql://opensips:***@127.0.0.1:47499/opensips" in refused.value.report


def test_auth_db_checks_credentials_from_a_mysql_subscriber_table(fresh_mysql):
    from opensips_py.sip.digest import calc_ha1
    from tests.modules.auth_support import AUTH_HEAD, Phone
    from tests.modules.test_auth_db import REGISTRAR, codes
    from tests.runtime.support import Proxy
    db = connect(fresh_mysql)
    db.ensure_tables(["subscriber"])
    db.insert("subscriber", {"username": "alice", "domain": "biloxi.com",
                             "ha1": calc_ha1("alice", "biloxi.com", "secret")})
    proxy = Proxy(AUTH_HEAD + f'loadmodule "db_mysql.so"\nmodparam("auth_db", "db_url", "{fresh_mysql}")\n'
                  + REGISTRAR)
    assert Phone(proxy).authorized().status == 200
    assert Phone(proxy, password="wrong").authorized().status == 401
    assert codes(proxy) == ["rc=-4", "rc=1", "rc=-4", "rc=-2"]
