"""Core MI commands: OpenSIPS's names (3.x and 4.0), recipes and JSON result shapes; JSON-RPC framing."""
from __future__ import annotations

import trio
import pytest

from opensips_py.mi import MIError, MIHost, build_registry, recipes
from opensips_py.mi.jsonrpc import handle, parse_request
from opensips_py.mi.params import match_recipe
from opensips_py.mi.statistics import Statistics


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def call(registry, method, params=None, req_id=1):
    request = {"jsonrpc": "2.0", "method": method, "id": req_id}
    if params is not None:
        request["params"] = params
    import json
    return trio.run(handle, registry, json.dumps(request))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def host(clock):
    return MIHost(argv=["opensips-py", "-f", "x.cfg"], started_at=clock.now, clock=clock)


@pytest.fixture
def registry(host):
    return build_registry(host)


def test_reply_keys_are_in_opensips_order(registry):
    assert list(call(registry, "version")) == ["jsonrpc", "result", "id"]
    assert list(call(registry, "nope")) == ["jsonrpc", "error", "id"]


def test_version_has_server_and_with_revision_param_a_revision(registry):
    assert list(call(registry, "version")["result"]) == ["Server"]
    assert call(registry, "version")["result"]["Server"].startswith("opensips-py (")
    assert set(call(registry, "version", {"revision": "1"})["result"]) == {"Server", "Revision"}


def test_uptime_counts_seconds_since_start(registry, clock):
    clock.now += 42
    result = call(registry, "uptime")["result"]
    assert result["Up time"] == "42 [sec]"
    assert list(result) == ["Now", "Up since", "Up time"]


def test_ps_lists_processes_with_id_pid_type(registry, host):
    host.add_process("SIP receiver udp:127.0.0.1:5060")
    processes = call(registry, "ps")["result"]["Processes"]
    assert [p["Type"] for p in processes] == ["attendant", "SIP receiver udp:127.0.0.1:5060"]
    assert [list(p) for p in processes][0] == ["ID", "PID", "Type"]


def test_which_lists_names_and_recipes_of_one(registry):
    names = call(registry, "which")["result"]
    assert {"ps", "uptime", "get_statistics", "log_level", "reload_routes"} <= set(names)
    assert call(registry, "which", {"command": "log_level"})["result"] == [[], ["level"], ["level", "pid"]]
    assert call(registry, "which", ["get_statistics"])["result"] == [["statistics"]]
    assert call(registry, "which", {"command": "nope"})["error"] == {"code": 404, "message": "unknown MI command"}


def test_log_level_reads_and_sets_the_global_level(registry, host):
    seen = []
    host.on_log_level = seen.append
    listing = call(registry, "log_level")["result"]["Processes"]
    assert listing[0]["Log level"] == 3
    assert call(registry, "log_level", {"level": "-1"})["result"] == {"New global log level": -1}
    assert host.log_level == -1 and seen == [-1]
    assert call(registry, "log_level", [4])["result"] == {"New global log level": 4}
    bad = call(registry, "log_level", {"level": 2, "pid": 1})
    assert bad["error"] == {"code": -32602, "message": "Invalid params", "data": "Bad PID"}
    assert call(registry, "log_level", {"level": "high"})["error"]["data"] == "Bad type for parameter 'level'"


def test_get_statistics_all_group_and_name_forms(registry, host):
    host.statistics.counter("core", "rcv_requests").inc(3)
    host.statistics.counter("dialog", "active_dialogs", no_reset=True).set(2)
    everything = call(registry, "get_statistics", {"statistics": ["all"]})["result"]
    assert everything["core:rcv_requests"] == 3 and everything["dialog:active_dialogs"] == 2
    assert call(registry, "get_statistics", {"statistics": ["dialog:"]})["result"] == {"dialog:active_dialogs": 2}
    assert call(registry, "get_statistics", {"statistics": ["ACTIVE_DIALOGS"]})["result"] == \
        {"dialog:active_dialogs": 2}
    assert call(registry, "get_statistics", {"statistics": ["core:rcv_requests"]})["result"] == \
        {"core:rcv_requests": 3}
    assert call(registry, "get_statistics", {"statistics": ["nope"]})["error"] == \
        {"code": 404, "message": "Statistics Not Found"}
    assert call(registry, "get_statistics", {"statistics": []})["error"]["data"] == \
        "Empty array in parameter 'statistics'"
    assert call(registry, "statistics:get", [["rcv_requests"]])["result"] == {"core:rcv_requests": 3}


def test_list_and_reset_statistics(registry, host):
    host.statistics.counter("core", "rcv_requests").inc(5)
    host.statistics.counter("dialog", "active_dialogs", no_reset=True).set(2)
    listing = call(registry, "list_statistics")["result"]
    assert listing["core:rcv_requests"] == "incremental"
    assert listing["dialog:active_dialogs"] == "non-incremental"
    assert call(registry, "list_statistics", {"statistics": ["rcv_requests"]})["result"] == \
        {"rcv_requests": "incremental"}
    assert call(registry, "reset_statistics", {"statistics": ["rcv_requests", "active_dialogs"]})["result"] == "OK"
    assert host.statistics.value("rcv_requests") == 0
    assert host.statistics.value("active_dialogs") == 2  # no_reset
    host.statistics.counter("core", "fwd_requests").inc()
    assert call(registry, "reset_all_statistics")["result"] == "OK"
    assert host.statistics.value("fwd_requests") == 0


def test_reload_routes_hook(registry, host):
    assert call(registry, "reload_routes")["error"] == {"code": 500, "message": "reload failed"}
    reloads = []
    host.reload_routes = lambda: reloads.append(1)
    assert call(registry, "reload_routes")["result"] == "OK" and reloads == [1]


def test_arg_pwd_help(registry):
    assert call(registry, "arg")["result"] == ["opensips-py", "-f", "x.cfg"]
    assert "WD" in call(registry, "pwd")["result"]
    assert call(registry, "help", {"mi_cmd": "ps"})["result"]["Exported by"] == "core"


def test_4_0_names_and_local_names_resolve(registry):
    assert "Processes" in call(registry, "core:ps")["result"]
    assert call(registry, "statistics:reset_all")["result"] == "OK"
    assert call(registry, "reset_all")["result"] == "OK"  # a 4.0 local name, unique here


def test_module_commands_get_raw_params_or_matched_recipes():
    class Mod:
        class exports:
            name = "usrloc"
            mi = ()
            stats = ("registered_users",)

        def mi_commands(self):
            @recipes((), ("brief",))
            def ul_dump(params):
                return {"brief": params.get("brief")}

            def raw(params):
                return params

            def fails(params):
                raise MIError(404, "AOR not found")
            return {"ul_dump": ul_dump, "ul_raw": raw, "ul_fails": fails}

        def stats(self):
            return {"registered_users": 7}

    registry = build_registry(MIHost(), [Mod()])
    assert call(registry, "ul_dump", ["1"])["result"] == {"brief": "1"}
    assert call(registry, "ul_raw", ["a", "b"])["result"] == ["a", "b"]
    assert call(registry, "ul_raw")["result"] == {}
    assert call(registry, "ul_fails")["error"] == {"code": 404, "message": "AOR not found"}
    assert call(registry, "get_statistics", {"statistics": ["usrloc:"]})["result"] == {"usrloc:registered_users": 7}


def test_handler_bug_is_a_server_error_reply():
    class Mod:
        class exports:
            name = "x"
            mi = ()

        def mi_commands(self):
            return {"boom": lambda params: 1 / 0}

    registry = build_registry(MIHost(), [Mod()])
    assert call(registry, "boom")["error"] == {"code": -32000, "message": "Server error",
                                               "data": "Command handler returned null"}


def test_async_handlers_are_awaited():
    class Mod:
        class exports:
            name = "x"
            mi = ()

        def mi_commands(self):
            async def slow(params):
                await trio.sleep(0)
                return "done"
            return {"slow": slow}

    assert call(build_registry(MIHost(), [Mod()]), "slow")["result"] == "done"


@pytest.mark.parametrize("text, code", [
    ("[1, 2]", -32600),
    ('{"jsonrpc": "2.0", "method": 5, "id": 1}', -32600),
    ('{"jsonrpc": "2.0", "method": "ps", "params": "x", "id": 1}', -32600),
    ('{"jsonrpc": "2.0", "method": "ps", "id": [1]}', -32600),
    ('{"jsonrpc": "2.0", "method": "ps", "params": null, "id": 1}', -32600),
    ("\xff\xfe", -32700),
])
def test_invalid_requests(text, code):
    assert parse_request(text.encode("latin-1")).error.code == code


def test_recipe_matching_follows_opensips():
    accepted = ((), ("level",), ("level", "pid"))
    assert match_recipe(accepted, None) == {}
    assert match_recipe(accepted, []) == {}
    assert match_recipe(accepted, [1, 2]) == {"level": 1, "pid": 2}
    with pytest.raises(MIError, match="Too few or too many"):
        match_recipe(accepted, [1, 2, 3])
    with pytest.raises(MIError, match="Ambiguous call"):
        match_recipe((("a",), ("b",)), [1])
    assert match_recipe((("a",), ("b",)), {"b": 1}) == {"b": 1}
    with pytest.raises(MIError, match="only supports named"):
        match_recipe((("a",),), [1], named_only=True)


def test_statistics_registry_counters_and_functions():
    stats = Statistics(core_groups=False)
    stats.counter("tm", "received_replies").inc(2)
    stats.register_func("usrloc", "registered_users", lambda: 4)
    assert stats.value("tm:received_replies") == 2 and stats.value("registered_users") == 4
    stats.find("registered_users").reset()
    assert stats.value("registered_users") == 4
    assert [s.full_name for s in stats.all()] == ["tm:received_replies", "usrloc:registered_users"]


def test_registry_of_a_core_without_mi_reads_its_counters_level_and_sockets():
    from types import SimpleNamespace
    from opensips_py.mi import registry_of

    core = SimpleNamespace(stats={"rcv_requests": 4, "fwd_requests": 1}, modules={},
                           settings=SimpleNamespace(log_level=2), logger=SimpleNamespace(log_level=2),
                           sockets=["udp:127.0.0.1:5060"])
    registry = registry_of(core)
    assert core.mi is registry and registry_of(core) is registry
    assert call(registry, "get_statistics", {"statistics": ["core:"]})["result"] == \
        {"core:rcv_requests": 4, "core:fwd_requests": 1}
    assert call(registry, "reset_statistics", {"statistics": ["rcv_requests"]})["result"] == "OK"
    assert core.stats["rcv_requests"] == 0
    call(registry, "log_level", {"level": 4})
    assert core.logger.log_level == 4 and core.settings.log_level == 4
    types = [p["Type"] for p in call(registry, "ps")["result"]["Processes"]]
    assert types == ["attendant", "SIP receiver udp:127.0.0.1:5060", "timer"]
