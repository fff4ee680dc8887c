"""rtpengine_sock sets and weights, the node a Call-ID goes to, fail-over to the next node, disabling a node
that does not answer and re-probing it from the timer; MI rtpengine_show/enable/reload."""
from __future__ import annotations

import math

import pytest

from opensips_py.mi import MIError
from opensips_py.mi.host import MIHost, build_registry
from opensips_py.modules._rtpengine.nodes import (
    Node, NodeSet, NodeSets, SockParamError, call_id_hash, select_node,
)
from opensips_py.runtime import StartupFailure
from tests.modules.rtpengine_support import (  # noqa: F401 - fixtures
    OUR_NG, SPARE_NG, dead_port, our_relay, phone_sdp, rtpengine_proxy, silent_udp_node, sip_request,
    small_relay,
)

LIVE = f"udp:127.0.0.1:{OUR_NG}"
OFFER_SCRIPT = """route {
    if (is_method("BYE")) {
        rtpengine_delete();
        exit;
    }
    if (!rtpengine_offer("trust-address replace-origin", $var(node)))
        xlog("offer failed $var(err)\\n");
    else
        xlog("offer via $var(node)\\n");
    forward("udp:192.0.2.20:5060");
}
"""


def invite(call_id: str, port: int = 23990) -> bytes:
    return sip_request("INVITE", call_id=call_id, body=phone_sdp(port))


def delete_call(proxy, call_id: str) -> None:
    proxy.send(sip_request("BYE", call_id=call_id, to_tag="t1"))


# ------------------------------------------------------------------------------------------------ parsing

def test_sets_weights_and_the_default_set():
    sets = NodeSets()
    sets.add_param("udp:127.0.0.1:22222 udp:127.0.0.1:22223=3")
    sets.add_param(" 2 == udp:10.0.0.1:22222=2 unix:/run/rtpe.sock")
    sets.add_param("udp6:[::1]:22224")
    assert [(n.url, n.weight, n.index) for n in sets.get(0).nodes] == [
        ("udp:127.0.0.1:22222", 1, 0), ("udp:127.0.0.1:22223", 3, 1), ("udp6:[::1]:22224", 1, 4)]
    assert [(n.url, n.weight, n.set_id) for n in sets.get(2).nodes] == [("udp:10.0.0.1:22222", 2, 2),
                                                                      ("unix:/run/rtpe.sock", 1, 2)]
    assert sets.default is sets.get(0)


def test_a_duplicate_url_ends_that_value_as_in_opensips():
    sets = NodeSets()
    sets.add_param("udp:127.0.0.1:1 udp:127.0.0.1:1 udp:127.0.0.1:2")
    assert [n.url for n in sets.get(0).nodes] == ["udp:127.0.0.1:1"]


@pytest.mark.parametrize("url,expected", [
    ("udp:127.0.0.1:2000", ("udp", ("127.0.0.1", 2000))), ("udp:localhost", ("udp", ("localhost", 22222))),
    ("udp6:[::1]:2001", ("udp6", ("::1", 2001))), ("udp:[::1]:2002", ("udp6", ("::1", 2002))),
    ("udp6:::1", ("udp6", ("::1", 22222))),
])
def test_urls_and_their_default_port(url, expected):
    node = Node(url, 0, 0)
    assert (node.kind, node.host_port()) == expected


@pytest.mark.parametrize("value", ["x == udp:127.0.0.1:1", "1 ==", "3 ==   ", "udp:127.0.0.1:notaport"])
def test_bad_sock_values_are_refused(value):
    with pytest.raises(SockParamError):
        NodeSets().add_param(value)


def test_a_bad_sock_value_refuses_start_up():
    with pytest.raises(StartupFailure, match="invalid set_id"):
        rtpengine_proxy("route { exit; }\n", socks="x == udp:127.0.0.1:1")


# ------------------------------------------------------------------------------------------------ selection

def _set(*weights: int) -> NodeSet:
    return NodeSet(0, [Node(f"udp:127.0.0.1:{i + 1}", 0, i, w) for i, w in enumerate(weights)])


def test_the_call_id_byte_sum_modulo_the_total_weight_picks_the_node():
    node_set = _set(1, 2, 1)
    # hash("a") = 97: 97 % 4 = 1 -> inside the second node's weight (1..2)
    assert call_id_hash("a") == 97 and select_node("a", node_set) is node_set.nodes[1]
    assert select_node("d", node_set) is node_set.nodes[0]  # 100 % 4 = 0
    assert select_node("c", node_set) is node_set.nodes[2]  # 99 % 4 = 3


def test_the_same_call_id_goes_to_the_same_node():
    node_set = _set(1, 1, 1, 1)
    assert len({id(select_node("call-42", node_set)) for _ in range(10)}) == 1


def test_a_disabled_pick_is_redistributed_over_the_nodes_still_up():
    node_set = _set(1, 1, 1)
    node_set.nodes[1].disabled = True
    # hash("a") = 97: 97 % 3 = 1 -> node 1 is down; 97 % 2 = 1 over the two left -> node 2
    assert select_node("a", node_set) is node_set.nodes[2]


def test_a_single_disabled_node_gives_no_node():
    node_set = _set(1)
    node_set.nodes[0].disabled = True
    assert select_node("a", node_set) is None
    assert select_node("a", None) is None


def test_ignored_nodes_are_skipped_for_this_attempt():
    node_set = _set(1, 1)
    assert select_node("d", node_set, {id(node_set.nodes[0])}) is node_set.nodes[1]


# ------------------------------------------------------------------------------------------------ fail-over

def test_a_node_that_refuses_is_disabled_and_the_call_goes_to_the_next(our_relay):
    dead = dead_port()
    proxy = rtpengine_proxy(OFFER_SCRIPT, socks=f"udp:127.0.0.1:{dead} {LIVE}",
                            params='modparam("rtpengine", "rtpengine_disable_tout", 30)\n')
    module = proxy.core.modules["rtpengine"]
    assert call_id_hash("call-1") % 2 == 0  # picks the first (dead) node
    proxy.send(invite("call-1"))
    assert f"offer via {LIVE}" in proxy.script_logs()
    dead_node = module.sets.get(0).nodes[0]
    assert dead_node.disabled and dead_node.recheck_at == proxy.net.clock.now + 30
    assert any(f"proxy <udp:127.0.0.1:{dead}> does not respond, disable it" in line for line in proxy.logs)
    assert module.counters["node_timeouts"] == 1
    delete_call(proxy, "call-1")


def test_a_silent_node_is_tried_rtpengine_retr_times_then_disabled(our_relay):
    with silent_udp_node() as (sock, port):
        proxy = rtpengine_proxy(OFFER_SCRIPT, socks=f"udp:127.0.0.1:{port} {LIVE}",
                                params='modparam("rtpengine", "rtpengine_retr", 3)\n')
        module = proxy.core.modules["rtpengine"]
        module.transport.timeout = 0.05
        proxy.send(invite("call-1"))
        sock.settimeout(0.5)
        datagrams = [sock.recv(65535) for _ in range(3)]
    cookies = {d.split(b" ", 1)[0] for d in datagrams}
    assert len(cookies) == 1  # the same cookie on every retransmission
    assert all(b"5:offer" in d for d in datagrams)
    assert f"offer via {LIVE}" in proxy.script_logs()
    assert module.sets.get(0).nodes[0].disabled
    delete_call(proxy, "call-1")


def test_a_fail_over_error_skips_the_node_for_this_call_only(our_relay):
    port = SPARE_NG[-1]
    with small_relay(port, 23800, 23803):  # room for one call: two legs, RTP+RTCP each
        proxy = rtpengine_proxy(OFFER_SCRIPT, socks=f"udp:127.0.0.1:{port} {LIVE}")
        assert call_id_hash("call-1") % 2 == 0 and call_id_hash("call-3") % 2 == 0
        proxy.send(invite("call-1", 23990))
        assert proxy.script_logs()[-1] == f"offer via udp:127.0.0.1:{port}"
        proxy.send(invite("call-3", 23992))  # the small relay is out of ports now
        assert proxy.script_logs()[-1] == f"offer via {LIVE}"
        assert any("Ran out of ports" in line for line in proxy.logs)
        assert not proxy.core.modules["rtpengine"].sets.get(0).nodes[0].disabled
        delete_call(proxy, "call-1")
        delete_call(proxy, "call-3")


def test_no_node_left_fails_with_no_available_proxies_in_error_pv():
    proxy = rtpengine_proxy(OFFER_SCRIPT, socks=f"udp:127.0.0.1:{dead_port()}",
                            params='modparam("rtpengine", "error_pv", "$var(err)")\n')
    proxy.send(invite("call-1"))
    assert proxy.script_logs()[-1] == "offer failed no available proxies"
    proxy.send(invite("call-2"))  # the only node is disabled now: no try at all
    assert proxy.core.modules["rtpengine"].counters["node_timeouts"] == 1


def test_a_disabled_node_is_probed_again_by_the_timer_after_disable_tout():
    port = SPARE_NG[-2]
    proxy = rtpengine_proxy(OFFER_SCRIPT, socks=f"udp:127.0.0.1:{port}",
                            params='modparam("rtpengine", "rtpengine_disable_tout", 20)\n'
                                   'modparam("rtpengine", "rtpengine_timer_interval", 5)\n')
    node = proxy.core.modules["rtpengine"].sets.get(0).nodes[0]
    proxy.net.advance(1)  # the first tick probes every node: nothing there
    assert node.disabled
    with small_relay(port, 23810, 23819):
        proxy.net.advance(10)
        assert node.disabled  # not yet: disable_tout is 20 s
        proxy.net.advance(15)
        assert not node.disabled
        proxy.send(invite("call-1"))
        assert proxy.script_logs()[-1] == f"offer via udp:127.0.0.1:{port}"
        delete_call(proxy, "call-1")


def test_a_preset_sock_var_forces_the_node_and_falls_back_for_offers(our_relay):
    script = """route {
    $var(node) = $hdr(X-Node);
    if (is_method("INVITE")) rtpengine_offer("", $var(node));
    else rtpengine_delete("", $var(node));
    xlog("rc=$rc node=$var(node)\\n");
    forward("udp:192.0.2.20:5060");
}
"""
    dead = dead_port()
    proxy = rtpengine_proxy(script, socks=f"{LIVE} udp:127.0.0.1:{dead}")
    assert call_id_hash("call-1") % 2 == 0  # would pick the live node by hash
    proxy.send(sip_request("INVITE", call_id="call-1", body=phone_sdp(23990), extra=f"X-Node: udp:127.0.0.1:{dead}"))
    assert proxy.script_logs()[-1] == f"rc=1 node={LIVE}"  # the forced node failed: offer hashed again
    proxy.send(sip_request("BYE", call_id="call-1", to_tag="t", extra=f"X-Node: udp:127.0.0.1:{dead}"))
    assert proxy.script_logs()[-1] == f"rc=-1 node=udp:127.0.0.1:{dead}"  # a delete never falls back
    proxy.send(sip_request("BYE", call_id="call-1", to_tag="t", extra=f"X-Node: {LIVE}"))
    assert proxy.script_logs()[-1] == f"rc=1 node={LIVE}"


# ------------------------------------------------------------------------------------------------ sets

def test_rtpengine_use_set_and_setid_avp_choose_the_set(our_relay):
    script = """route {
    if ($hdr(X-Set) == "avp") $avp(rtpe_set) = 1;
    else if ($hdr(X-Set) != NULL) rtpengine_use_set($(hdr(X-Set){s.int}));
    if (is_method("BYE")) {
        rtpengine_delete();
        exit;
    }
    if (!rtpengine_offer("", $var(node))) xlog("failed\\n");
    else xlog("set node $var(node)\\n");
    forward("udp:192.0.2.20:5060");
}
"""
    proxy = rtpengine_proxy(script, socks=[f"udp:127.0.0.1:{dead_port()}", f"1 == {LIVE}"],
                            params='modparam("rtpengine", "setid_avp", "$avp(rtpe_set)")\n')
    proxy.send(sip_request("INVITE", call_id="call-1", body=phone_sdp(23990), extra="X-Set: 1"))
    assert proxy.script_logs()[-1] == f"set node {LIVE}"
    proxy.send(sip_request("INVITE", call_id="call-2", body=phone_sdp(23991), extra="X-Set: avp"))
    assert proxy.script_logs()[-1] == f"set node {LIVE}"
    proxy.send(sip_request("INVITE", call_id="call-3", body=phone_sdp(23992)))
    assert proxy.script_logs()[-1] == "failed"  # set 0 has only the dead node
    for call_id in ("call-1", "call-2"):
        proxy.send(sip_request("BYE", call_id=call_id, to_tag="t", extra="X-Set: 1"))


def test_rtpengine_use_set_of_an_unknown_set_is_false():
    proxy = rtpengine_proxy('route {\n\tif (!rtpengine_use_set(7)) xlog("no set\\n");\n\texit;\n}\n',
                            socks="udp:127.0.0.1:1")
    proxy.send(sip_request("OPTIONS"))
    assert proxy.script_logs()[-1] == "no set"
    assert any("could not locate rtpengine set 7" in line for line in proxy.logs)


# ------------------------------------------------------------------------------------------------ MI

def test_mi_show_and_enable_with_opensips_shapes():
    proxy = rtpengine_proxy("route { exit; }\n", socks=["udp:127.0.0.1:1 udp:127.0.0.1:2=4", "3 == udp:127.0.0.1:3"],
                            params='modparam("rtpengine", "rtpengine_disable_tout", 60)\n')
    registry = build_registry(MIHost(), proxy.core.modules.values())
    module = proxy.core.modules["rtpengine"]
    module._t0 = proxy.net.clock.now
    assert registry.execute("rtpengine_show") == [
        {"Set": 0, "Nodes": [
            {"url": "udp:127.0.0.1:1", "index": 0, "disabled": 0, "weight": 1, "recheck_ticks": 0},
            {"url": "udp:127.0.0.1:2", "index": 1, "disabled": 0, "weight": 4, "recheck_ticks": 0}]},
        {"Set": 3, "Nodes": [
            {"url": "udp:127.0.0.1:3", "index": 2, "disabled": 0, "weight": 1, "recheck_ticks": 0}]}]
    assert registry.execute("rtpengine:show") == registry.execute("rtpengine_show")  # 4.0 name
    assert registry.execute("rtpengine_enable", {"url": "udp:127.0.0.1:1", "enable": 0}) == "OK"
    assert registry.execute("rtpengine:enable", ["udp:127.0.0.1:2", 2, 0]) == "OK"
    nodes = registry.execute("show")[0]["Nodes"]
    assert (nodes[0]["disabled"], nodes[0]["recheck_ticks"]) == (1, 4294967295)
    assert (nodes[1]["disabled"], nodes[1]["recheck_ticks"]) == (1, 60)
    assert module.sets.get(0).nodes[0].recheck_at == math.inf
    with pytest.raises(MIError) as error:
        registry.execute("rtpengine_enable", {"url": "udp:127.0.0.1:3", "enable": 1, "setid": 0})
    assert (error.value.code, error.value.message) == (404, "RTP engine not found")
    assert registry.execute("rtpengine_enable", {"url": "udp:127.0.0.1:1", "enable": 1}) == "OK"
    assert registry.execute("rtpengine_show")[0]["Nodes"][0]["disabled"] == 0
    with pytest.raises(MIError) as error:
        registry.execute("rtpengine_reload")
    assert (error.value.code, error.value.message) == (400, "Dynamic loading not enabled")
    with pytest.raises(MIError) as error:
        registry.execute("teardown", {"callid": "x"})
    assert error.value.code == 500


def test_a_node_disabled_for_ever_by_mi_is_never_probed():
    proxy = rtpengine_proxy("route { exit; }\n", socks=f"udp:127.0.0.1:{dead_port()}")
    module = proxy.core.modules["rtpengine"]
    assert module.enable(f"udp:127.0.0.1:{dead_port()}", 0)
    proxy.net.advance(120)
    assert module.counters["node_timeouts"] == 0


# ------------------------------------------------------------------------------------------------ database

def _rtpengine_db(path, rows: list[tuple[str, int]]) -> None:
    import sqlite3
    with sqlite3.connect(path) as con:
        con.executescript("CREATE TABLE IF NOT EXISTS version (table_name CHAR(32) NOT NULL, "
                          "table_version INTEGER DEFAULT 0 NOT NULL);"
                          "CREATE TABLE IF NOT EXISTS rtpengine (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                          "socket TEXT NOT NULL, set_id INTEGER NOT NULL);"
                          "DELETE FROM version; DELETE FROM rtpengine;"
                          "INSERT INTO version VALUES ('rtpengine', 1);")
        con.executemany("INSERT INTO rtpengine (socket, set_id) VALUES (?, ?)", rows)


def test_sets_come_from_the_database_and_mi_reload_reads_it_again(tmp_path, our_relay):
    from tests.modules.rtpengine_support import HEAD
    path = tmp_path / "rtpengine.db"
    dead = f"udp:127.0.0.1:{dead_port()}"
    _rtpengine_db(path, [(f"{dead}=2 {LIVE}", 0), ("udp:127.0.0.1:1", 4)])
    proxy = rtpengine_proxy(OFFER_SCRIPT, socks="udp:127.0.0.1:9",  # ignored: the table wins
                            head=HEAD.replace('loadmodule "rtpengine.so"', 'loadmodule "db_sqlite.so"\n'
                                              'loadmodule "rtpengine.so"'),
                            params=f'modparam("rtpengine", "db_url", "sqlite://{path}")\n')
    module = proxy.core.modules["rtpengine"]
    registry = build_registry(MIHost(), proxy.core.modules.values())
    shown = registry.execute("rtpengine_show")
    assert [(s["Set"], [(n["url"], n["weight"], n["index"]) for n in s["Nodes"]]) for s in shown] == [
        (0, [(dead, 2, 0), (LIVE, 1, 1)]), (4, [("udp:127.0.0.1:1", 1, 2)])]
    proxy.send(invite("call-1"))  # 250 % 3 = 1: the dead node's share, then the live one
    assert proxy.script_logs()[-1] == f"offer via {LIVE}"
    assert module.sets.get(0).nodes[0].disabled
    delete_call(proxy, "call-1")

    _rtpengine_db(path, [(f"{dead} {LIVE}", 0), (LIVE, 5)])
    assert registry.execute("rtpengine_reload", {"type": "soft"}) == "OK"
    shown = registry.execute("rtpengine_show")
    # soft: the dead node keeps its weight and index (probed again: still dead); the C stops reading a
    # value at a node it already has, so LIVE is not seen in set 0 and goes; set 4 goes, set 5 is new
    assert [(s["Set"], [(n["url"], n["weight"], n["index"], n["disabled"]) for n in s["Nodes"]])
            for s in shown] == [(0, [(dead, 2, 0, 1)]), (5, [(LIVE, 1, 3, 0)])]
    assert registry.execute("rtpengine:reload") == "OK"  # hard: everything anew
    shown = registry.execute("rtpengine_show")
    assert [(s["Set"], [(n["url"], n["index"]) for n in s["Nodes"]]) for s in shown] == [
        (0, [(dead, 0), (LIVE, 1)]), (5, [(LIVE, 2)])]


def test_a_database_without_the_table_version_refuses_start_up(tmp_path):
    import sqlite3
    from tests.modules.rtpengine_support import HEAD
    path = tmp_path / "empty.db"
    sqlite3.connect(path).executescript("CREATE TABLE version (table_name CHAR(32), table_version INTEGER);")
    with pytest.raises(StartupFailure, match="rtpengine"):
        rtpengine_proxy("route { exit; }\n", head=HEAD.replace('loadmodule "rtpengine.so"', 'loadmodule '
                                                               '"db_sqlite.so"\nloadmodule "rtpengine.so"'),
                        params=f'modparam("rtpengine", "db_url", "sqlite://{path}")\n')
