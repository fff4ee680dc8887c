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


def test_an_update_counts_the_rows_it_matched_so_replace_with_the_same_values_keeps_one_row(fresh_mysql):
    db = connect(fresh_mysql)
    db.ensure_tables(["location"])
    row = {"username": "alice", "contact": "sip:a@192.0.2.1", "expires": 5}
    db.replace("location", row, ["username"])
    assert db.update("location", {"expires": 5}, {"username": "alice"}) == 1  # unchanged, but matched
    db.replace("location", row, ["username"])
    assert len(db.query("location")) == 1
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


def kill_connection(db) -> None:
    (connection_id,) = db._execute("SELECT CONNECTION_ID()").fetchone()
    with admin_connection() as conn, conn.cursor() as cursor:
        cursor.execute(f"KILL {int(connection_id)}")


def test_a_killed_connection_is_reopened_and_the_statement_run_again(fresh_mysql):
    db = connect(fresh_mysql)  # max_db_queries 2: one more attempt after reconnecting, as db_mysql
    db.ensure_tables(["location"])
    kill_connection(db)
    assert db.query("location") == []
    db.close()


def test_with_one_attempt_a_killed_connection_fails_the_call_and_the_next_reconnects(fresh_mysql):
    db = connect(fresh_mysql, max_queries=1)
    db.ensure_tables(["location"])
    kill_connection(db)
    with pytest.raises(DatabaseUnavailable, match=r"mysql://root@127.0.0.1:47400/opensips: connection lost"):
        db.query("location")
    assert db.query("location") == []
    db.close()


def test_a_lost_connection_inside_a_transaction_is_not_replayed(fresh_mysql):
    db = connect(fresh_mysql)
    db.ensure_tables(["location"])
    with pytest.raises(DatabaseUnavailable):
        with db.transaction():
            db.insert("location", {"username": "alice", "contact": "sip:a@192.0.2.1", "expires": 0})
            kill_connection(db)
    assert db.query("location") == []  # the insert went with its transaction


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


def test_a_database_that_dies_is_reported_and_the_registrar_keeps_serving(tmp_path):
    from tests.modules.registrar_support import proxy, register, reply
    from tests.sipssert.test_mysql_task import start, stop
    server, output = start(tmp_path, "--database", "opensips", "--root-host", "127.0.0.1")  # a private one
    try:
        url = "mysql://root@127.0.0.1:47401/opensips"
        p = proxy(f'loadmodule "db_mysql.so"\nmodparam("db_mysql", "timeout_interval", 1)\n'
                  f'modparam("usrloc", "db_url", "{url}")\n'
                  'modparam("usrloc", "working_mode_preset", "single-instance-sql-write-through")\n')
        assert reply(p, register(expires=600)).status == 200
    finally:
        assert stop(server) == 0
    assert reply(p, register(expires=600, cseq=2)).status == 200  # served from memory
    assert any("ERROR:usrloc:" in line and url in line for line in p.logs)
    assert reply(p, register(expires=0, cseq=3)).status == 200
    assert reply(p, register(cseq=4, user="bob")).status == 200


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


def test_dialogs_written_to_mysql_come_back_after_a_restart(fresh_mysql):
    from tests.dialog.support import DIALOG_HEAD, confirmed
    from tests.runtime.support import Proxy
    head = DIALOG_HEAD.replace('loadmodule "dialog.so"\n', 'loadmodule "db_mysql.so"\nloadmodule "dialog.so"\n')
    params = (f'modparam("dialog", "db_url", "{fresh_mysql}")\nmodparam("dialog", "db_mode", 1)\n'
              'modparam("dialog", "profiles_with_value", "caller")\nmodparam("dialog", "db_flush_vals_profiles", 1)\n'
              'route {\n\tdrop;\n}\n')
    first = Proxy(params, head=head)
    module = first.core.modules["dialog"]
    dialog = confirmed(first, "call-1")
    module.store_value(dialog, "a|b", "x#y")
    module.profiles.link(dialog, module.profiles.get("caller"), "alice")
    module._db_write(dialog)
    [row] = connect(fresh_mysql).query("dialog", ["callid", "state", "caller_sock"])
    assert row == {"callid": "call-1", "state": 3, "caller_sock": "udp:192.0.2.1:5060"}
    second = Proxy(params, head=head)
    restored = second.core.modules["dialog"]
    [back] = list(restored.table)
    assert (back.did, back.state, back.callid) == (dialog.did, 3, "call-1")
    assert back.vals == {"a|b": "x#y"}
    assert restored.profiles.get("caller").size("alice") == 1


ACC_MYSQL = (
    "CREATE TABLE IF NOT EXISTS version (table_name CHAR(32) NOT NULL, table_version INT UNSIGNED DEFAULT 0 NOT NULL, "
    "CONSTRAINT t_name_idx UNIQUE (table_name))",
    "INSERT INTO version VALUES ('acc', 7)",
    "CREATE TABLE acc (id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL, method CHAR(16) DEFAULT '' NOT NULL, "
    "from_tag CHAR(64) DEFAULT '' NOT NULL, to_tag CHAR(64) DEFAULT '' NOT NULL, callid CHAR(64) DEFAULT '' NOT NULL, "
    "sip_code CHAR(3) DEFAULT '' NOT NULL, sip_reason CHAR(32) DEFAULT '' NOT NULL, time DATETIME NOT NULL, "
    "duration INT(11) UNSIGNED DEFAULT 0 NOT NULL, ms_duration INT(11) UNSIGNED DEFAULT 0 NOT NULL, "
    "setuptime INT(11) UNSIGNED DEFAULT 0 NOT NULL, created DATETIME DEFAULT NULL)",
)


def test_acc_writes_its_rows_into_mysql(fresh_mysql):
    """OpenSIPS's MySQL acc table (scripts/mysql/acc-create.sql): its DATETIME column takes our time."""
    from tests.dialog.support import DIALOG_HEAD, Call, proxy
    with admin_connection() as conn, conn.cursor() as cursor:
        for statement in ACC_MYSQL:
            cursor.execute(statement)
    head = DIALOG_HEAD + 'loadmodule "db_mysql.so"\nloadmodule "acc.so"\n' + \
        f'modparam("acc", "db_url", "{fresh_mysql}")\n'
    call = Call(proxy(initial='\tdo_accounting("db");', head=head))
    call.establish()
    rows = connect(fresh_mysql).query("acc", ["method", "callid", "sip_code", "sip_reason", "time"])
    assert [(r["method"], r["callid"], r["sip_code"], r["sip_reason"]) for r in rows] == \
        [("INVITE", "call-1@192.0.2.10", "200", "OK")]
    assert rows[0]["time"].year >= 2026


def test_sql_cacher_caches_the_suite_certificate_table_from_mysql(fresh_mysql):
    """stir-shaken/02's table and modparams: the certificate comes out of $sql_cached_value byte for byte."""
    from tests.runtime.support import Proxy, request
    statements = SUITE_SQL.read_text().split("CREATE TABLE `man_certificates_cache`", 1)[1]
    with admin_connection() as conn, conn.cursor() as cursor:
        for statement in ("CREATE TABLE `man_certificates_cache`" + statements).split(";\n"):
            if statement.strip():
                cursor.execute(statement)
        cursor.execute("SELECT certificate FROM man_certificates_cache WHERE id = 1")
        (certificate,) = cursor.fetchone()
    proxy = Proxy('loadmodule "cfgutils.so"\nloadmodule "db_mysql.so"\nloadmodule "cachedb_local.so"\n'
                  'modparam("cachedb_local", "cachedb_url", "local:group1:///collection1")\n'
                  'modparam("cachedb_local", "cache_collections", "collection1")\n'
                  'modparam("db_mysql", "exec_query_threshold", 60000)\n'
                  'loadmodule "sql_cacher.so"\nmodparam("sql_cacher", "cache_table",\n'
                  f'"id=man_certificates_cache\ndb_url={fresh_mysql}\ncachedb_url=local:group1:///collection1\n'
                  'table=man_certificates_cache\nkey=x5u\ncolumns=certificate")\n'
                  'route {\n    $var(cert) = $sql_cached_value(man_certificates_cache:certificate:'
                  'https://certs.example.org/public_am.pem);\n    $shv(cert) = $var(cert);\n}\n')
    proxy.send(request("INVITE"))
    assert proxy.core.modules["cfgutils"].shvars["cert"] == certificate
    assert certificate.startswith("-----BEGIN CERTIFICATE-----\r\n") and certificate.endswith("-----\n")
