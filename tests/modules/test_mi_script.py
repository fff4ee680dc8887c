"""mi_script: mi(command, [ret_var], [params_avp], [vals_avp]) runs MI commands from the script through the
MI registry, with mi_script.c's parameter building and return codes."""
from __future__ import annotations

import json

from tests.runtime.support import UAC, parsed, request
from tests.tm.support import Callee, tm_proxy

HEAD = 'loadmodule "mi_script.so"\nloadmodule "cfgutils.so"\n'


def _run(body: str, extra: str = ""):
    proxy = tm_proxy("route {\n" + body + "\nsend_reply(200, \"OK\");\n}\n" + extra, head_extra=HEAD)
    proxy.send(request("OPTIONS"))
    return proxy


def test_result_is_compact_json_in_ret_var():
    proxy = _run('$var(rc) = mi("shv_get", $var(out)); xlog("rc=$var(rc) out=$var(out)\\n");',)
    (line,) = proxy.script_logs()
    assert line.startswith("rc=1 out=")
    assert json.loads(line.split("out=", 1)[1]) is not None
    assert ", " not in line.split("out=", 1)[1]


def test_inline_parameters_are_positional():
    proxy = _run('''
$shv(a) = 7;
mi("shv_get a", $var(out));
xlog("$var(out)\\n");
''')
    assert json.loads(proxy.script_logs()[0]) == {"VAR": {"name": "a", "type": "integer", "value": 7}}


def test_named_parameters_from_two_avps():
    proxy = _run('''
$avp(p) = "name"; $avp(v) = "b";
$avp(p) = "type"; $avp(v) = "str";
$avp(p) = "value"; $avp(v) = "hello";
$var(rc) = mi("shv_set", $var(out), $avp(p), $avp(v));
xlog("rc=$var(rc) out=$var(out) shv=$shv(b)\\n");
''')
    assert proxy.script_logs() == ['rc=1 out="OK" shv=hello']


def test_an_mi_error_gives_the_negated_code_and_its_message():
    proxy = _run('''
$var(rc) = mi("shv_get nosuch", $var(out));
xlog("rc=$var(rc) out=$var(out)\\n");
''')
    (line,) = proxy.script_logs()
    rc, out = line.split(" out=")
    assert rc == "rc=-404"
    assert out  # the error message


def test_unknown_command_returns_minus_one_and_leaves_ret_var():
    proxy = _run('''
$var(out) = "untouched";
$var(rc) = mi("no_such_command", $var(out));
xlog("rc=$var(rc) out=$var(out)\\n");
''')
    assert proxy.script_logs() == ["rc=-1 out=untouched"]


def test_bad_parameters_give_the_json_rpc_code():
    proxy = _run('''
$var(rc) = mi("shv_set a b c d e f", $var(out));
xlog("rc=$var(rc) out=$var(out)\\n");
''')
    assert proxy.script_logs() == ["rc=-32602 out=Invalid params"]


def test_missing_values_refuse_the_call():
    proxy = _run('''
$avp(p) = "name"; $avp(p) = "type";
$avp(v) = "x";
$var(rc) = mi("shv_set", $var(out), $avp(p), $avp(v));
xlog("rc=$var(rc) out=$var(out)\\n");
''')
    assert proxy.script_logs() == ["rc=-2 out=could not parse script params!"]


def test_array_values_and_numbers():
    from opensips_py.modules.mi_script import _param_value
    assert _param_value("__array(a b c)") == ["a", "b", "c"]
    assert _param_value(5) == 5
    assert _param_value("plain") == "plain"


def test_t_reply_through_mi_answers_a_transaction_from_the_script():
    """The SIPssert dialog/16 pattern: an onreply route stores $T_id, a later route replies by MI."""
    proxy = tm_proxy('''
route {
    t_on_reply("stash");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
onreply_route[stash] {
    if ($rs == 180) {
        $shv(tid) = $T_id;
        $shv(totag) = $tt;
        launch(sleep(2), watchdog, "x");
    }
}
route[watchdog] {
    $avp(p) = "code"; $avp(v) = "504";
    $avp(p) = "reason"; $avp(v) = "PRACK Timeout";
    $avp(p) = "trans_id"; $avp(v) = $shv(tid);
    $avp(p) = "to_tag"; $avp(v) = $shv(totag);
    $var(rc) = mi("t_reply", $var(out), $avp(p), $avp(v));
    xlog("watchdog rc=$var(rc) out=$var(out)\\n");
}
''', head_extra=HEAD)
    Callee(proxy, answers={"INVITE": [(100, None), (180, "callee")], "CANCEL": [(200, None)]})
    first = proxy.send(request("INVITE"))
    assert [parsed(s).status for s in first if (s.host, s.port) == UAC] == [100, 180]
    later = proxy.net.advance(2.1)
    assert proxy.script_logs() == ['watchdog rc=1 out="OK"']
    replies = [parsed(s) for s in later if (s.host, s.port) == UAC and not parsed(s).is_request]
    assert [(r.status, r.reason) for r in replies][:1] == [(504, "PRACK Timeout")]
