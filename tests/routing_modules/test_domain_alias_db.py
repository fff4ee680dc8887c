"""domain and alias_db on the virtual network over SQLite: local domains (From, R-URI, any name; attributes;
accept_subdomain; cached and uncached modes; the core's is_myself() asking the module; MI domain_reload and
domain_dump) and aliases (R-URI rewrite, alias_db_find into a variable, the d and r flags, domain_prefix,
append_branches)."""
from __future__ import annotations

import pytest

from opensips_py.mi import MIError
from opensips_py.runtime.core import StartupFailure
from tests.modules.auth_support import script_lines
from tests.routing_modules.support import database, execute, proxy
from tests.runtime.support import request

DOMAINS = [{"domain": "atlanta.com", "attrs": "tenant=1"}, {"domain": "Example.com", "accept_subdomain": 1},
           {"domain": "exact.org"}]

LOCAL = """
route {
    if (is_from_local($var(fa))) xlog("from local $var(fa)\\n"); else xlog("from foreign\\n");
    if (is_uri_host_local()) xlog("ruri local\\n"); else xlog("ruri foreign\\n");
    if (is_domain_local("$hdr(X-Name)", $avp(attrs))) xlog("name local $avp(attrs)\\n"); else xlog("name foreign\\n");
    drop;
}
"""


def lines(p, ruri: str, name: str) -> list[str]:
    before = len(script_lines(p))
    p.send(request(ruri=ruri, extra=f"X-Name: {name}", branch=f"z9hG4bK{len(p.logs)}"))
    return script_lines(p)[before:]


@pytest.mark.parametrize("mode", [0, 1])
def test_local_domains_by_from_ruri_and_name(tmp_path, mode):
    db = database(tmp_path / "d.db", domain=DOMAINS)
    p = proxy(db, LOCAL, modules=("domain",), params=f'modparam("domain", "db_mode", {mode})\n')
    assert lines(p, "sip:bob@a.b.Example.com", "exact.org") == [
        "from local tenant=1", "ruri local", "name local <null>"]
    assert lines(p, "sip:bob@example.com.evil", "x.exact.org") == ["from local tenant=1", "ruri foreign",
                                                                  "name foreign"]
    assert lines(p, "sip:bob@notexample.com", "ATLANTA.COM") == ["from local tenant=1", "ruri foreign",
                                                                "name local tenant=1" if mode else "name foreign"]


def test_uncached_mode_sees_new_rows_and_has_no_mi(tmp_path):
    db = database(tmp_path / "d.db")
    p = proxy(db, LOCAL, modules=("domain",))
    assert lines(p, "sip:bob@new.net", "x")[1] == "ruri foreign"
    execute(db, "INSERT INTO domain (domain) VALUES ('new.net')")
    assert lines(p, "sip:bob@new.net", "x")[1] == "ruri local"
    mi = p.core.modules["domain"].mi_commands()
    with pytest.raises(MIError, match=r"DB is disabled \(db_mode=0\)"):
        mi["domain_reload"]({})


def test_cache_mi_dump_reload_and_is_myself(tmp_path):
    db = database(tmp_path / "d.db", domain=DOMAINS)
    p = proxy(db, LOCAL, modules=("domain",), params='modparam("domain", "db_mode", 1)\n')
    mi = p.core.modules["domain"].mi_commands()
    dump = mi["domain_dump"]({})["Domains"]
    assert sorted(dump, key=lambda d: d["name"]) == [{"name": "Example.com"}, {"name": "atlanta.com",
                                                     "attributes": "tenant=1"}, {"name": "exact.org"}]
    assert p.core.is_myself("sub.example.com", 5060) and not p.core.is_myself("other.org", 5060)
    execute(db, "INSERT INTO domain (domain) VALUES ('other.org')")
    assert not p.core.is_myself("other.org")
    assert mi["domain_reload"]({}) == "OK"
    assert p.core.is_myself("other.org")


def test_a_table_without_accept_subdomain_and_the_version_check(tmp_path):
    db = database(tmp_path / "d.db")
    execute(db, "DROP TABLE domain")
    execute(db, "CREATE TABLE domain (id INTEGER PRIMARY KEY, domain CHAR(64), attrs CHAR(255), last_modified "
                "DATETIME)")
    execute(db, "INSERT INTO domain (domain) VALUES ('example.com')")
    p = proxy(db, LOCAL, modules=("domain",), params='modparam("domain", "db_mode", 1)\n')
    assert lines(p, "sip:bob@example.com", "a.example.com")[1:] == ["ruri local", "name foreign"]
    execute(db, "UPDATE version SET table_version = 3 WHERE table_name = 'domain'")
    with pytest.raises(StartupFailure, match="version"):
        proxy(db, LOCAL, modules=("domain",), params='modparam("domain", "db_mode", 1)\n')


ALIASES = [{"alias_username": "sales", "alias_domain": "192.0.2.1", "username": "bob", "domain": "biloxi.com"},
           {"alias_username": "sales", "alias_domain": "other.net", "username": "carol", "domain": "chicago.com"},
           {"alias_username": "help", "alias_domain": "example.com", "username": "dave", "domain": "example.com"}]

ALIAS = """
route {
    $var(u) = $ru;
    if (alias_db_lookup("dbaliases")) xlog("lookup $ru $(branch(uri)[*])\\n"); else xlog("lookup none\\n");
    $ru = $var(u);
    if (alias_db_lookup("dbaliases", "d")) xlog("nodomain $ru $(branch(uri)[0])\\n");
    if (alias_db_find("dbaliases", "sip:carol@chicago.com", $avp(a), "r")) xlog("reverse $avp(a)[*]\\n");
    if (alias_db_find("dbaliases", "sip:bob@biloxi.com", $avp(b), "Rd")) xlog("reverse nodomain $(avp(b)[*])\\n");
    if (!alias_db_lookup("dbaliases", "x")) xlog("bad flag\\n");
    drop;
}
"""


def test_alias_lookup_find_flags_and_domain_prefix(tmp_path):
    db = database(tmp_path / "a.db", dbaliases=ALIASES)
    p = proxy(db, ALIAS, modules=("alias_db",))
    p.send(request(ruri="sip:sales@192.0.2.1;user=phone"))
    got = script_lines(p)
    assert got[0] == "lookup sip:bob@biloxi.com <null>"
    assert got[1].startswith("nodomain sip:bob@biloxi.com")
    assert got[2].startswith("reverse sip:sales@other.net")
    assert got[-1] == "bad flag"
    p2 = proxy(db, 'route { if (alias_db_lookup("dbaliases")) xlog("$ru\\n"); drop; }\n', modules=("alias_db",),
               params='modparam("alias_db", "domain_prefix", "sip.")\n')
    p2.send(request(ruri="sip:help@sip.example.com"))
    p2.send(request(ruri="sip:nobody@sip.example.com", branch="z9hG4bK2"))
    assert script_lines(p2) == ["sip:dave@example.com"]


def test_append_branches_adds_every_alias(tmp_path):
    db = database(tmp_path / "a.db", dbaliases=ALIASES)
    p = proxy(db, """
route {
    if (alias_db_lookup("dbaliases", "d")) xlog("$ru + $(branch(uri)[0]) q=$(branch(q)[0])\\n");
    if (alias_db_find("dbaliases", "sip:sales@x", $avp(all), "d")) xlog("$(avp(all)[0]) $(avp(all)[1])\\n");
    drop;
}
""", modules=("alias_db",), params='modparam("alias_db", "append_branches", 1)\n')
    p.send(request(ruri="sip:sales@192.0.2.1"))
    assert script_lines(p) == ["sip:bob@biloxi.com + sip:carol@chicago.com q=0",
                               "sip:carol@chicago.com sip:bob@biloxi.com"]
