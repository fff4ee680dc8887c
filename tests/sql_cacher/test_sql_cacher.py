"""sql_cacher over SQLite and cachedb_local on the virtual network: the cache_table syntax, full caching at
start-up, on-demand caching with its expiry, $sql_cached_value with literal and variable keys, NULLs,
sql_cacher_reload, sql_cache_dump, and the start-up checks that refuse a bad entry."""
from __future__ import annotations

import sqlite3

import pytest

from opensips_py.mi import MIError
from opensips_py.modules.sql_cacher import parse_cache_table
from opensips_py.runtime.core import StartupFailure
from tests.modules.registrar_support import mi
from tests.runtime.support import Proxy, request

CERT = "-----BEGIN CERTIFICATE-----\r\nMIIC\r\n-----END CERTIFICATE-----\n"


def table(path, rows=(("https://certs.example.org/a.pem", CERT, 7),)):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE certs (id INTEGER PRIMARY KEY AUTOINCREMENT, x5u CHAR(255) NOT NULL, "
                "certificate TEXT, weight INTEGER)")
    con.executemany("INSERT INTO certs (x5u, certificate, weight) VALUES (?, ?, ?)", rows)
    con.commit()
    con.close()
    return path


def change(path, sql, *args):
    con = sqlite3.connect(path)
    con.execute(sql, args)
    con.commit()
    con.close()


def cacher(db, *, extra_spec="", params="", route=None) -> Proxy:
    spec = (f"id=certs\ndb_url=sqlite://{db}\ncachedb_url=local:group1:///collection1\ntable=certs\nkey=x5u\n"
            f"columns=certificate weight{extra_spec}")
    route = route or """
route {
    $var(k) = "https://certs.example.org/a.pem";
    xlog("cert=$sql_cached_value(certs:certificate:https://certs.example.org/a.pem)\\n");
    $var(w) = $sql_cached_value(certs:weight:$var(k)) + 1;
    xlog("weight+1=$var(w) b=$sql_cached_value(certs:weight:https://certs.example.org/b.pem)\\n");
    sl_send_reply(200, "OK");
}
"""
    return Proxy('loadmodule "db_sqlite.so"\nloadmodule "cachedb_local.so"\n'
                 'modparam("cachedb_local", "cachedb_url", "local:group1:///collection1")\n'
                 'modparam("cachedb_local", "cache_collections", "collection1")\n'
                 f'loadmodule "sql_cacher.so"\nmodparam("sql_cacher", "cache_table", "{spec}")\n' + params + route)


def logged(proxy: Proxy) -> list[str]:
    proxy.logs.clear()
    proxy.send(request("INVITE"))
    return [line for line in proxy.script_logs() if line.startswith(("cert=", "weight", "n=", "dump"))]


# ------------------------------------------------------------------------------------------------ cache_table

def test_cache_table_takes_the_fields_in_opensips_order():
    entry = parse_cache_table("id=man_certificates_cache\ndb_url=mysql://root@192.168.52.2/opensips\n"
                              "cachedb_url=local:group1:///collection1\ntable=man_certificates_cache\nkey=x5u\n"
                              "columns=certificate")
    assert (entry.id, entry.table, entry.key, entry.columns, entry.on_demand, entry.expire, entry.key_type) == \
        ("man_certificates_cache", "man_certificates_cache", "x5u", ["certificate"], False, 3600, "string")
    entry = parse_cache_table("id=a;db_url=d://x/y;cachedb_url=local://;table=t;key=k;key_type=int;"
                              "columns=c1,c2;on_demand=1;expire=5", ";", ",")
    assert (entry.key_type, entry.columns, entry.on_demand, entry.expire) == ("int", ["c1", "c2"], True, 5)


@pytest.mark.parametrize("spec, problem", [
    ("id=a\ndb_url=x\ntable=t\nkey=k", "expected: cachedb_url instead of: table"),
    ("id=a\ndb_url=x\ncachedb_url=c\ntable=t\nkey=k\non_demand=1\ncolumns=a", "columns is out of order"),
    ("id=a\ndb_url=x\ncachedb_url=c\ntable=t\nkey=k\ncolour=red", "unknown parameter: colour"),
    ("id=a\ndb_url=x\ncachedb_url=c\ntable=t\nkey=k\nkey_type=float", "Unsupported key type: float"),
    ("id=a\ndb_url=x\ncachedb_url=c\ntable=t\nkey=k\non_demand=yes", "expected integer value for: on_demand"),
    ("id=a\ndb_url\ncachedb_url=c\ntable=t\nkey=k", "expected: '=' after db_url"),
    ("id=a\ndb_url=x\ncachedb_url=c\ntable=t", "key is missing"),
])
def test_a_bad_cache_table_is_refused_with_the_reason(spec, problem):
    with pytest.raises(ValueError, match=problem):
        parse_cache_table(spec)


# ------------------------------------------------------------------------------------------------ full caching

def test_full_caching_serves_the_table_loaded_at_start_up(tmp_path):
    proxy = cacher(table(tmp_path / "c.db"))
    assert logged(proxy) == [f"cert={CERT.rstrip()}", "weight+1=8 b=<null>"]  # (the log line ends at the \n)


def test_full_caching_sees_changes_only_after_sql_cacher_reload(tmp_path):
    db = table(tmp_path / "c.db")
    proxy = cacher(db)
    change(db, "UPDATE certs SET weight = 41")
    change(db, "INSERT INTO certs (x5u, certificate, weight) VALUES ('https://certs.example.org/b.pem', 'B', 2)")
    assert logged(proxy)[1] == "weight+1=8 b=<null>"
    assert mi(proxy, "sql_cacher_reload", {"id": "certs"}) == "OK"
    assert logged(proxy)[1] == "weight+1=42 b=2"
    change(db, "DELETE FROM certs WHERE x5u = 'https://certs.example.org/b.pem'")
    change(db, "UPDATE certs SET weight = 0")
    assert mi(proxy, "sql_cacher_reload", ["certs", "https://certs.example.org/b.pem"]) == "OK"
    assert logged(proxy)[1] == "weight+1=42 b=<null>"  # only that key was reloaded
    with pytest.raises(MIError, match="ERROR Cache entry not found"):
        mi(proxy, "sql_cacher_reload", {"id": "nope"})


def test_unknown_ids_and_columns_and_null_columns_read_as_null(tmp_path):
    db = table(tmp_path / "c.db", rows=(("k1", None, 3),))
    proxy = cacher(db, route="""
route {
    xlog("cert=$sql_cached_value(certs:certificate:k1) $sql_cached_value(nope:weight:k1) "
         "$sql_cached_value(certs:colour:k1) $sql_cached_value(certs:weight:k1)\\n");
}
""")
    assert logged(proxy) == ["cert=<null> <null> <null> 3"]


def test_the_table_is_reloaded_before_full_caching_expire(tmp_path):
    db = table(tmp_path / "c.db")
    proxy = cacher(db, params='modparam("sql_cacher", "full_caching_expire", 100)\n'
                              'modparam("sql_cacher", "reload_interval", 10)\n')
    change(db, "UPDATE certs SET weight = 1")
    proxy.net.advance(85)
    assert logged(proxy)[1] == "weight+1=8 b=<null>"
    proxy.net.advance(10)  # 95 s: reloaded at 90
    assert logged(proxy)[1] == "weight+1=2 b=<null>"


# ------------------------------------------------------------------------------------------------ on demand

def test_on_demand_loads_a_key_when_first_asked_and_keeps_it_until_it_expires(tmp_path):
    db = table(tmp_path / "c.db", rows=())
    proxy = cacher(db, extra_spec="\non_demand=1\nexpire=30")
    change(db, "INSERT INTO certs (x5u, certificate, weight) VALUES ('https://certs.example.org/a.pem', 'A', 1)")
    assert logged(proxy) == ["cert=A", "weight+1=2 b=<null>"]  # rows added after the start are seen
    change(db, "UPDATE certs SET weight = 9")
    change(db, "INSERT INTO certs (x5u, certificate, weight) VALUES ('https://certs.example.org/b.pem', 'B', 5)")
    assert logged(proxy)[1] == "weight+1=2 b=<null>"  # both the row and the missing key are cached
    proxy.net.advance(31)
    assert logged(proxy)[1] == "weight+1=10 b=5"
    change(db, "UPDATE certs SET weight = 19 WHERE x5u = 'https://certs.example.org/a.pem'")
    assert mi(proxy, "sql_cacher_reload", {"id": "certs", "key": "https://certs.example.org/a.pem"}) == "OK"
    assert logged(proxy)[1] == "weight+1=20 b=5"
    change(db, "UPDATE certs SET weight = 29 WHERE x5u = 'https://certs.example.org/a.pem'")
    assert mi(proxy, "sql_cacher_reload", {"id": "certs"}) == "OK"  # every key forgotten
    assert logged(proxy)[1] == "weight+1=30 b=5"


def test_an_integer_key_column_takes_numeric_keys(tmp_path):
    db = table(tmp_path / "c.db")
    proxy = Proxy('loadmodule "db_sqlite.so"\nloadmodule "cachedb_local.so"\nloadmodule "sql_cacher.so"\n'
                  f'modparam("sql_cacher", "cache_table", "id=byid\ndb_url=sqlite://{db}\ncachedb_url=local://\n'
                  'table=certs\nkey=id\nkey_type=int\ncolumns=x5u\non_demand=1")\n'
                  'route { xlog("n=$sql_cached_value(byid:x5u:1) $sql_cached_value(byid:x5u:x)\\n"); }')
    assert logged(proxy) == ["n=https://certs.example.org/a.pem <null>"]


# ------------------------------------------------------------------------------------------------ dump

def test_sql_cache_dump_writes_every_row_into_the_avps(tmp_path):
    db = table(tmp_path / "c.db", rows=(("k1", "one", 1), ("k2", "two", 2)))
    proxy = cacher(db, route="""
route {
    $var(n) = sql_cache_dump("certs", "certificate,weight", "$avp(cert),$avp(w)");
    xlog("dump n=$var(n) $(avp(cert)[0])/$(avp(w)[0]) $(avp(cert)[1])/$(avp(w)[1])\\n");
    $var(none) = sql_cache_dump("certs", "colour", "$avp(c)");
    xlog("dump unknown column=$var(none)\\n");
}
""")
    assert logged(proxy) == ["dump n=2 one/1 two/2", "dump unknown column=-1"]


# ------------------------------------------------------------------------------------------------ start-up

@pytest.mark.parametrize("change_spec, reason", [
    (("table=certs", "table=nope"), "cache entry certs"),
    (("cachedb_url=local:group1:///collection1", "cachedb_url=local:group9:///collection1"),
     "cannot init connection to cachedb"),
    (("columns=certificate weight", "columns=certificate colour"), "colour"),
    (("cachedb_url=local:group1:///collection1", "cachedb_url=redis:group1://127.0.0.1:6379/"),
     "unable to bind to a cachedb database driver"),
])
def test_a_cache_entry_that_cannot_work_refuses_the_start(tmp_path, change_spec, reason):
    db = table(tmp_path / "c.db")
    spec = (f"id=certs\ndb_url=sqlite://{db}\ncachedb_url=local:group1:///collection1\ntable=certs\nkey=x5u\n"
            f"columns=certificate weight").replace(*change_spec)
    with pytest.raises(StartupFailure) as refused:
        Proxy('loadmodule "db_sqlite.so"\nloadmodule "cachedb_local.so"\n'
              'modparam("cachedb_local", "cachedb_url", "local:group1:///collection1")\n'
              'modparam("cachedb_local", "cache_collections", "collection1")\n'
              f'loadmodule "sql_cacher.so"\nmodparam("sql_cacher", "cache_table", "{spec}")\n'
              'route { exit; }')
    assert reason in refused.value.report


# ------------------------------------------------------------------------------------------------ failures

def test_a_table_that_goes_away_is_reported_and_the_cached_rows_stay(tmp_path):
    db = table(tmp_path / "c.db")
    proxy = cacher(db)
    change(db, "DROP TABLE certs")
    with pytest.raises(MIError, match="ERROR Reloading SQL database"):
        mi(proxy, "sql_cacher_reload", {"id": "certs"})
    assert any("ERROR:sql_cacher:failed to reload table certs" in line and "no such table" in line
               for line in proxy.logs)
    assert logged(proxy)[1] == "weight+1=8 b=<null>"  # the rows loaded before stay


def test_an_on_demand_lookup_on_a_broken_database_reads_null_and_is_logged(tmp_path):
    db = table(tmp_path / "c.db", rows=())
    proxy = cacher(db, extra_spec="\non_demand=1")
    change(db, "DROP TABLE certs")
    assert logged(proxy) == ["cert=<null>", "weight+1=<null> b=<null>"]
    assert any("ERROR:sql_cacher:failure to issue query to SQL DB" in line for line in proxy.logs)
