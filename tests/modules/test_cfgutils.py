"""cfgutils on the virtual network: rand_event() and the module probability (script and MI), $shv with
shvset and MI shv_get/shv_set, varset, $RANDOM, $env, $ctime, set_count(), set_select_weight(),
ts_usec_delta(), get_accurate_time(), the script locks of a single process, the config hash MI."""
from __future__ import annotations

import hashlib
import time

import pytest

from opensips_py.mi import MIError
from opensips_py.runtime.core import StartupFailure
from tests.modules.auth_support import script_lines
from tests.runtime.support import Proxy, request

HEAD = 'loadmodule "cfgutils.so"\n'


def run(script: str, params: str = "", messages: int = 1) -> Proxy:
    proxy = Proxy(HEAD + params + "route {\n" + script + "\n    drop;\n}\n")
    for n in range(messages):
        proxy.send(request(branch=f"z9hG4bK{n}", call_id=f"c{n}@x"))
    return proxy


def mi(proxy: Proxy):
    return proxy.core.modules["cfgutils"].mi_commands()


def test_rand_event_follows_the_probability_given_or_set():
    proxy = run('''
    if (rand_event(100)) xlog("always\\n");
    if (!rand_event(0)) xlog("never\\n");
    rand_set_prob(100);
    if (rand_event()) xlog("set\\n");
    rand_reset_prob();
    if (!rand_event()) xlog("reset\\n");''', params='modparam("cfgutils", "initial_probability", 0)\n')
    assert script_lines(proxy) == ["always", "never", "set", "reset"]
    commands = mi(proxy)
    assert commands["rand_get_prob"]({}) == {"actual probability percent": 0}
    assert commands["rand_set_prob"]({"prob_proc": 40}) == "OK"
    assert commands["rand_get_prob"]([]) == {"actual probability percent": 40}
    with pytest.raises(MIError):
        commands["rand_set_prob"]({"prob_proc": 101})


def test_rand_event_is_random_in_between():
    proxy = run('if (rand_event(50)) xlog("hit\\n");', messages=200)
    assert 60 < len(script_lines(proxy)) < 140


def test_shv_is_shared_kept_between_messages_and_managed_over_mi():
    proxy = run('''
    $shv(count) = $shv(count) + 1;
    xlog("count=$shv(count) name=$shv(name)\\n");''',
                params='modparam("cfgutils", "shvset", "count=i:10")\nmodparam("cfgutils", "shvset", "name=s:x")\n',
                messages=2)
    assert script_lines(proxy) == ["count=11 name=x", "count=12 name=x"]
    commands = mi(proxy)
    assert commands["shv_get"]({"name": "count"}) == {"VAR": {"name": "count", "type": "integer", "value": 12}}
    assert commands["shv_set"]({"name": "name", "type": "str", "value": "y"}) == "OK"
    assert commands["shv_get"]({}) == {"VARs": [{"name": "count", "type": "integer", "value": 12},
                                                {"name": "name", "type": "string", "value": "y"}]}
    with pytest.raises(MIError, match="Not found"):
        commands["shv_get"]({"name": "nope"})


def test_varset_env_ctime_and_random(monkeypatch):
    monkeypatch.setenv("CFGUTILS_TEST", "hello")
    proxy = run('''
    xlog("v=$var(start) env=$env(CFGUTILS_TEST) year=$ctime(year)\\n");
    if ($RANDOM >= 0 && $RANDOM != $RANDOM) xlog("random\\n");''',
                params='modparam("cfgutils", "varset", "start=s:go")\n')
    assert script_lines(proxy)[0] == f"v=go env=hello year={time.localtime().tm_year - 1900}"


def test_set_count_and_select_weight_over_avps():
    proxy = run('''
    $avp(w) = 0; $avp(w) = 5; $avp(w) = 0;
    set_count($avp(w), $var(n));
    $var(i) = set_select_weight($avp(w));
    xlog("n=$var(n) i=$var(i)\\n");
    $avp(s) = "x";
    $var(j) = set_select_weight($avp(s));
    xlog("j=$var(j)\\n");''')
    assert script_lines(proxy)[0] == "n=3 i=1"  # only the middle weight is non-zero
    assert script_lines(proxy)[1] == "j=-1"     # not integers


def test_time_helpers_and_locks():
    proxy = run('''
    ts_usec_delta(10, 500, 8, 900, $var(d));
    get_accurate_time($var(s), $var(u), $var(su));
    if (get_static_lock("a") && release_static_lock("a") && get_dynamic_lock("$ci") && release_dynamic_lock("$ci"))
        xlog("locks\\n");
    xlog("d=$var(d) su=$var(su)\\n");''')
    lines = script_lines(proxy)
    assert lines[0] == "locks"
    delta, stamp = lines[1].split(" ")
    assert delta == "d=1999600"
    seconds, micro = stamp[3:].split(".")
    assert abs(int(seconds) - time.time()) < 5 and len(micro) == 6


def test_config_hash_mi(tmp_path):
    cfg = tmp_path / "watched.cfg"
    cfg.write_text("one")
    proxy = run('xlog("x\\n");', params=f'modparam("cfgutils", "hash_file", "{cfg}")\n')
    commands = mi(proxy)
    assert commands["get_config_hash"]({}) == hashlib.md5(b"one").hexdigest()
    assert "identical" in commands["check_config_hash"]({})
    cfg.write_text("two")
    with pytest.raises(MIError, match="not identical"):
        commands["check_config_hash"]({})
    with pytest.raises(MIError, match="disabled"):
        mi(run('xlog("x\\n");'))["get_config_hash"]({})


def test_bad_shvset_and_probability_refuse_to_start():
    with pytest.raises(StartupFailure):
        run("", params='modparam("cfgutils", "shvset", "x=q:1")\n')
    with pytest.raises(StartupFailure):
        run("", params='modparam("cfgutils", "initial_probability", 150)\n')


def test_check_time_rec_matches_recurrences_and_expressions_at_the_given_moment():
    # 2024-03-04 (a Monday) 10:30 UTC; weekday office hours, weekends, and a combination with `!`
    monday_1030 = 1709548200
    sunday_1030 = monday_1030 - 86400
    office = "UTC|20240101T090000|20240101T170000||weekly|||MO,TU,WE,TH,FR"
    proxy = run(f'''
    $var(rc) = check_time_rec("{office}", {monday_1030}); xlog("office monday $var(rc)\\n");
    $var(rc) = check_time_rec("{office}", {sunday_1030}); xlog("office sunday $var(rc)\\n");
    $var(rc) = check_time_rec("!{office}", {sunday_1030}); xlog("not office sunday $var(rc)\\n");
    $var(rc) = check_time_rec("{office} & UTC|20240304T000000|20240305T000000", {monday_1030}); xlog("and $var(rc)\\n");
    $var(rc) = check_time_rec("(nonsense", {monday_1030}); xlog("bad $var(rc)\\n");''')
    lines = script_lines(proxy)
    assert lines[:4] == ["office monday 1", "office sunday -1", "not office sunday 1", "and 1"]
    assert "bad parentheses" in lines[4] and lines[5] == "bad -2"
