"""The storage layer: URLs, OpenSIPS's schemas, the table API on SQLite and on a real PostgreSQL."""
from __future__ import annotations

import shutil
import sqlite3

import pytest

from opensips_py.db import (
    BadDatabaseURL, DatabaseError, DatabaseUnavailable, TableVersionMismatch, connect,
    parse_db_url,
)
from tests.shared import CORPUS

REGISTRATION = CORPUS / "official" / "sipssert-opensips-tests" / "registration"


def test_db_urls_parse_as_opensips_takes_them():
    lite = parse_db_url("sqlite:///var/lib/opensips/opensips.db")
    assert (lite.scheme, lite.database, lite.driver_module) == ("sqlite", "/var/lib/opensips/opensips.db", "db_sqlite")
    pg = parse_db_url("postgres://opensips:p%40ss@db.example.net:5433/opensips")
    assert (pg.user, pg.password, pg.host, pg.port, pg.database) == ("opensips", "p@ss", "db.example.net", 5433,
                                                                     "opensips")
    assert pg.redacted() == "postgres://opensips:***@db.example.net:5433/opensips"
    my = parse_db_url("mysql://u:p@[::1]/osips?tls_domain=dom")
    assert (my.host, my.port, my.params, my.driver_module) == ("::1", None, "tls_domain=dom", "db_mysql")
    for bad in ("oracle://x/y", "postgres://host", "sqlite://", "postgres://h:99999/db"):
        with pytest.raises(BadDatabaseURL):
            parse_db_url(bad)


def test_mysql_unreachable_is_unavailable_with_the_url_redacted():
    with pytest.raises(DatabaseUnavailable, match=r"mysql://u:\*\*\*@127.0.0.1:47499/opensips"):
        connect("mysql://u:secret@127.0.0.1:47499/opensips", timeout=2)


def test_sqlite_creates_the_file_and_its_directory(tmp_path):
    path = tmp_path / "a" / "b" / "opensips.db"
    db = connect(f"sqlite://{path}")
    assert db.ensure_tables(["location", "subscriber", "dialog"]) == ["version", "location", "subscriber", "dialog"]
    assert path.is_file()
    assert {t: db.table_version(t) for t in ("location", "subscriber", "dialog")} == \
        {"location": 1013, "subscriber": 8, "dialog": 12}
    assert db.ensure_tables(["location"]) == []  # idempotent


def test_location_columns_match_the_opensips_database_of_the_sipssert_suite(tmp_path):
    theirs = sqlite3.connect(REGISTRATION / "02.db" / "opensips.db")
    ours_path = tmp_path / "ours.db"
    connect(f"sqlite://{ours_path}").ensure_tables(["location"])
    ours = sqlite3.connect(ours_path)

    def columns(db):
        return [(r[1], r[2].upper(), r[3], r[4]) for r in db.execute("PRAGMA table_info(location)")]

    assert columns(ours) == columns(theirs)


def test_a_database_made_by_opensips_is_used_as_it_is(tmp_path):
    path = tmp_path / "opensips.db"
    shutil.copy(REGISTRATION / "02.db" / "opensips.db", path)
    db = connect(f"sqlite://{path}")
    assert db.ensure_tables(["location"]) == []
    db.check_version("location", 1013)
    with pytest.raises(TableVersionMismatch, match="version 1013 in the version table, 1012 is needed"):
        db.check_version("location", 1012)


def test_an_unopenable_sqlite_path_is_unavailable(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatabaseUnavailable):
        connect(f"sqlite://{tmp_path}/file/sub/opensips.db")  # a directory cannot be made under a file
    (tmp_path / "garbage.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(DatabaseUnavailable):
        connect(f"sqlite://{tmp_path}/garbage.db")


def exercise_table_api(db) -> None:
    """The same checks on every backend."""
    db.ensure_tables(["location"])
    db.insert("location", {"username": "alice", "contact": "sip:a@192.0.2.1", "expires": 100, "q": 0.5,
                           "last_modified": "2026-01-01 00:00:00"})
    db.insert("location", {"username": "bob", "contact": "sip:b@192.0.2.2", "expires": 0})
    rows = db.query("location", ["username", "q", "callid", "domain"], order_by="username")
    assert [(r["username"], round(r["q"], 2), r["callid"], r["domain"]) for r in rows] == \
        [("alice", 0.5, "Default-Call-ID", None), ("bob", 1.0, "Default-Call-ID", None)]
    assert [r["username"] for r in db.query("location", ["username"], where=[("expires", ">", 0)])] == ["alice"]
    assert [r["username"] for r in db.query("location", ["username"], where={"domain": None}, limit=1,
                                            order_by="username DESC")] == ["bob"]
    assert db.update("location", {"expires": 200}, {"username": "alice"}) == 1
    db.replace("location", {"username": "carol", "contact": "sip:c@192.0.2.3", "expires": 5}, ["username"])
    db.replace("location", {"username": "carol", "contact": "sip:c2@192.0.2.3", "expires": 6}, ["username"])
    assert [r["contact"] for r in db.query("location", ["contact"], {"username": "carol"})] == ["sip:c2@192.0.2.3"]
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.delete("location", {"username": "alice"})
            raise RuntimeError("rolled back")
    assert len(db.query("location", where={"username": "alice"})) == 1
    with db.transaction():
        db.delete("location", [("expires", "<", 10), ("expires", "!=", 0)])
    assert sorted(r["username"] for r in db.query("location", ["username"])) == ["alice", "bob"]
    with pytest.raises(DatabaseError):
        db.query("no_such_table")
    with pytest.raises(DatabaseError):
        db.query("location", where=[("expires", "LIKE", 1)])


def test_table_api_on_sqlite(tmp_path):
    exercise_table_api(connect(f"sqlite://{tmp_path}/t.db"))


def test_table_api_on_postgresql(fresh_postgres):
    db = connect(fresh_postgres)
    exercise_table_api(db)
    assert db.table_version("location") == 1013
    db.close()


def test_postgresql_connection_lost_is_reported_then_reopened(fresh_postgres):
    import psycopg
    db = connect(fresh_postgres)
    db.ensure_tables(["location"])
    pid = db.query("location", ["contact_id"]) or None  # a round trip on our connection
    assert pid is None
    with psycopg.connect(fresh_postgres.replace("secret@", "@").replace("postgres://", "postgresql://"),
                         autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                      "AND datname = 'opensips'")
    with pytest.raises(DatabaseUnavailable):
        db.query("location")
    assert db.query("location") == []  # the next call reconnects


def test_postgresql_unreachable_is_unavailable_with_the_url_redacted():
    with pytest.raises(DatabaseUnavailable, match=r"postgres://u:\*\*\*@127.0.0.1:41999/x"):
        connect("postgres://u:secret@127.0.0.1:41999/x", timeout=2)


def test_usrloc_write_through_on_postgresql_survives_a_restart(fresh_postgres):
    from tests.modules.registrar_support import invite, lookup_log, proxy, register, reply
    params = (f'loadmodule "db_postgres.so"\nmodparam("usrloc", "db_url", "{fresh_postgres}")\n'
              'modparam("usrloc", "working_mode_preset", "single-instance-sql-write-through")\n')
    first = proxy(params)
    assert reply(first, register(expires=600)).status == 200
    rows = connect(fresh_postgres).query("location", ["username", "contact", "socket"])
    assert rows == [{"username": "alice", "contact": "sip:alice@192.0.2.10:5060", "socket": "udp:192.0.2.1:5060"}]
    second = proxy(params)
    second.send(invite())
    assert lookup_log(second).startswith("lookup 1 ru=sip:alice@192.0.2.10:5060")
