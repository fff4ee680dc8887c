"""cachedb_local behind the core cache_* functions on the virtual network: engines by group, store/fetch/
remove with expiry on the proxy's clock, counters, cache_remove_chunk and the chunk MI commands, and the
return codes of core_cmds.c/cachedb.c (1, -2 missing, -3 no number, -1 no engine)."""
from __future__ import annotations

import pytest

from opensips_py.mi import MIError
from opensips_py.runtime.core import StartupFailure
from tests.modules.registrar_support import mi
from tests.runtime.support import Proxy, request

MODULE = 'loadmodule "sipmsgops.so"\nloadmodule "cachedb_local.so"\n'
GROUPS = ('modparam("cachedb_local", "cache_collections", "calls; regs")\n'
          'modparam("cachedb_local", "cachedb_url", "local://")\n'
          'modparam("cachedb_local", "cachedb_url", "local:g1:///calls")\n')


def run(route_body: str, params: str = GROUPS) -> Proxy:
    return Proxy(MODULE + params + "route {\n" + route_body + "\n}\n")


def lines(proxy: Proxy, method: str = "INVITE") -> list[str]:
    proxy.logs.clear()
    proxy.send(request(method))
    return [line for line in proxy.script_logs() if line.startswith("r ")]


def test_values_are_stored_fetched_and_removed_per_engine():
    proxy = run("""
    if (is_method("INVITE")) {
        $var(s) = cache_store("local", "alice", "sip:alice@192.0.2.10");
        $var(g) = cache_store("local:g1", "alice", "in a call", 10);
        xlog("r stored $var(s) $var(g)\\n");
    }
    $var(b) = "untouched";
    $var(f) = cache_fetch("local", "alice", $var(a));
    $var(f1) = cache_fetch("local:g1", "alice", $var(b));
    $var(m) = cache_fetch("local", "bob", $var(c));
    xlog("r $var(f)=$var(a) $var(f1)=$var(b) $var(m)\\n");
    if (is_method("BYE")) {
        $var(r) = cache_remove("local", "alice");
        $var(f) = cache_fetch("local", "alice", $var(z));
        xlog("r removed $var(r) then $var(f)\\n");
    }
""")
    assert lines(proxy) == ["r stored 1 1", "r 1=sip:alice@192.0.2.10 1=in a call -2"]
    proxy.net.advance(11)  # the g1 value expires after 10 s on the proxy's clock
    assert lines(proxy, "BYE") == ["r 1=sip:alice@192.0.2.10 -2=untouched -2", "r removed 1 then -2"]


def test_counters_add_subtract_and_refuse_text_values():
    proxy = run("""
    $var(a) = cache_add("local", "calls", 5, 0, $var(n1));
    $var(s) = cache_sub("local", "calls", 2, 0, $var(n2));
    $var(f) = cache_counter_fetch("local", "calls", $var(c));
    cache_store("local", "name", "alice");
    $var(t) = cache_counter_fetch("local", "name", $var(x));
    $var(ta) = cache_add("local", "name", 1, 0);
    $var(m) = cache_counter_fetch("local", "nobody", $var(y));
    xlog("r $var(a) $var(n1) $var(s) $var(n2) $var(f) $var(c) $var(t) $var(ta) $var(m)\\n");
""")
    assert lines(proxy) == ["r 1 5 1 3 1 3 -3 -1 -2"]
    assert lines(proxy) == ["r 1 8 1 6 1 6 -3 -1 -2"]


def test_an_engine_without_a_cachedb_url_is_an_error():
    proxy = run("""
    $var(r) = cache_store("local:nogroup", "k", "v");
    $var(q) = cache_fetch("redis:main", "k", $var(v));
    xlog("r $var(r) $var(q)\\n");
""")
    assert lines(proxy) == ["r -1 -1"]
    assert any("cachedb engine 'redis:main' not found" in line for line in proxy.logs)


def test_remove_chunk_by_glob_from_the_script_and_mi():
    proxy = run("""
    if (is_method("INVITE")) {
        cache_store("local:g1", "call-1", "a");
        cache_store("local:g1", "call-2", "b");
        cache_store("local:g1", "user-1", "c");
        cache_remove_chunk("calls", "call-1");
    }
    $var(a) = cache_fetch("local:g1", "call-1", $var(x));
    $var(b) = cache_fetch("local:g1", "call-2", $var(y));
    xlog("r $var(a) $var(b)\\n");
""")
    assert lines(proxy) == ["r -2 1"]
    assert mi(proxy, "cache_fetch_chunk", {"glob": "*-?", "collection": "calls"}) == \
        {"keys": [{"name": "call-2", "value": "b"}, {"name": "user-1", "value": "c"}]}
    assert mi(proxy, "cache_remove_chunk", ["call-*", "calls"]) == "OK"
    assert mi(proxy, "cache_fetch_chunk", ["*", "calls"]) == {"keys": [{"name": "user-1", "value": "c"}]}
    with pytest.raises(MIError, match="Internal error"):
        mi(proxy, "cache_remove_chunk", {"glob": "*", "collection": "nope"})


def test_a_url_naming_an_undeclared_collection_refuses_the_start():
    with pytest.raises(StartupFailure) as refused:
        run("exit;", 'modparam("cachedb_local", "cachedb_url", "local:g1:///nope")\n')
    assert "collection 'nope'" in refused.value.report


def test_what_one_process_cannot_do_is_said_at_start_up():
    proxy = run("exit;", GROUPS + 'modparam("cachedb_local", "enable_restart_persistency", 1)\n')
    assert any("WARNING:cachedb_local:enable_restart_persistency" in line for line in proxy.logs)
