"""async()/launch() with functions that really wait (opensips_py/script/async_engine.py): cfgutils' async
sleep/usleep on the virtual network's clock, with tm suspending the transaction meanwhile."""
from __future__ import annotations

from opensips_py.script.async_engine import Pending
from tests.runtime.support import UAC, parsed, request
from tests.tm.support import Callee, tm_proxy

CFGUTILS = 'loadmodule "cfgutils.so"\n'


def _proxy(script: str):
    return tm_proxy(script, head_extra=CFGUTILS)


def test_async_sleep_suspends_and_resumes_after_the_delay():
    proxy = _proxy("""
route {
    $avp(kept) = "before";
    $du = "sip:192.0.2.20:5060";
    xlog("start $ru\\n");
    async(sleep(2), resume);
    xlog("never here\\n");
}
route[resume] {
    xlog("resumed rc=$rc avp=$avp(kept) du=$du\\n");
    t_relay();
}
""")
    callee = Callee(proxy)
    sent = proxy.send(request("INVITE"))
    # the transaction exists (100 Trying) but nothing went to the callee yet
    assert [parsed(s).status for s in sent if s.port == UAC[1] and s.host == UAC[0]] == [100]
    assert callee.received == []
    assert proxy.script_logs() == ["start sip:bob@192.0.2.20"]
    proxy.net.advance(1.5)
    assert callee.received == []
    proxy.net.advance(0.6)
    assert callee.methods() == ["INVITE"]
    assert proxy.script_logs()[-1] == "resumed rc=1 avp=before du=sip:192.0.2.20:5060"
    assert "never here" not in proxy.script_logs()


def test_other_messages_flow_while_a_request_is_suspended():
    proxy = _proxy("""
route {
    if (is_method("OPTIONS")) {
        send_reply(200, "OK");
        exit;
    }
    async(usleep(500000), resume);
}
route[resume] {
    send_reply(486, "Busy Here");
}
""")
    invite = proxy.send(request("INVITE"))
    assert [parsed(s).status for s in invite] == [100]
    options = proxy.send(request("OPTIONS", call_id="other@x", branch="z9hG4bKopt"))
    assert [parsed(s).status for s in options] == [200]
    later = proxy.net.advance(0.5)
    assert [parsed(s).status for s in later] == [486]


def test_a_retransmission_during_the_suspension_gets_the_last_reply():
    proxy = _proxy("""
route {
    xlog("route $rm\\n");
    async(sleep(1), resume);
}
route[resume] {
    xlog("resumed\n");
    t_reply(404, "Not Here");
}
""")
    proxy.send(request("INVITE"))
    again = proxy.send(request("INVITE"))
    assert [parsed(s).status for s in again] == [100]
    # the script ran again, but async()'s t_newtran() absorbed the retransmission: no second sleep
    assert proxy.script_logs() == ["route INVITE", "route INVITE"]
    later = proxy.net.advance(1.0)
    assert [parsed(s).status for s in later] == [404]
    proxy.net.advance(3.0)
    assert proxy.script_logs() == ["route INVITE", "route INVITE", "resumed"]


def test_resume_route_can_suspend_again():
    proxy = _proxy("""
route { async(usleep(100000), first); }
route[first] { xlog("first\\n"); async(usleep(100000), second); }
route[second] { xlog("second\\n"); t_reply(480, "Later"); }
""")
    proxy.send(request("INVITE"))
    assert proxy.script_logs() == []
    proxy.net.advance(0.1)
    assert proxy.script_logs() == ["first"]
    out = proxy.net.advance(0.1)
    assert proxy.script_logs() == ["first", "second"]
    assert [parsed(s).status for s in out] == [480]


def test_async_outside_request_route_runs_synchronously():
    proxy = _proxy("""
route { t_on_failure("fail"); $du = "sip:192.0.2.20:5060"; t_relay(); }
failure_route[fail] {
    async(usleep(1000), after_failure);
}
route[after_failure] { xlog("after failure rc=$rc\\n"); t_reply(503, "Gone"); }
""")
    Callee(proxy, answers={"INVITE": [(486, "callee")]})
    out = proxy.send(request("INVITE"))
    assert proxy.script_logs() == ["after failure rc=1"]
    assert 503 in [parsed(s).status for s in out if not parsed(s).is_request]


def test_launch_goes_on_and_reports_later_with_its_param():
    proxy = _proxy("""
route {
    $avp(a) = "x";
    launch(sleep(2), report, "$ci");
    xlog("after launch rc=$rc\\n");
    send_reply(200, "OK");
}
route[report] { xlog("report $param(1) rc=$rc avp=$avp(a)\\n"); }
""")
    out = proxy.send(request("OPTIONS"))
    assert [parsed(s).status for s in out] == [200]
    assert proxy.script_logs() == ["after launch rc=1"]
    proxy.net.advance(2)
    assert proxy.script_logs()[-1] == "report a84b4c76e66710@pc33.atlanta.com rc=1 avp=<null>"


def test_launch_of_a_function_without_async_form_reports_at_once():
    proxy = _proxy("""
route {
    launch(rand_event(100), report, "p");
    xlog("after\\n");
    exit;
}
route[report] { xlog("report $param(1)\\n"); }
""")
    proxy.send(request("OPTIONS"))
    assert proxy.script_logs() == ["report p", "after"]


def test_pending_resumed_outside_a_core_turn_runs_at_the_next_one():
    ran: list[int] = []

    class Core:
        processing = False
        queued: list = []

        def call_soon(self, fn):
            self.queued.append(fn)

    core = Core()
    pending = Pending(core)
    pending.then(ran.append)
    pending.resume(7)
    assert ran == []
    core.queued.pop()(0.0)
    assert ran == [7]
    pending.resume(8)  # once only
    assert ran == [7]


def test_sync_sleep_blocks_and_returns_one():
    proxy = _proxy("""
route { usleep(1000); xlog("rc=$rc\\n"); send_reply(200, "OK"); }
""")
    proxy.send(request("OPTIONS"))
    assert proxy.script_logs() == ["rc=1"]


def test_async_exec_resumes_with_the_command_output_while_the_proxy_serves():
    import time

    proxy = tm_proxy("""
route {
    if (is_method("OPTIONS")) { send_reply(200, "OK"); exit; }
    async(exec("sleep 0.2; echo hello", , $var(out)), done);
}
route[done] { xlog("out=$var(out) rc=$rc\\n"); t_reply(486, "Busy"); }
""", head_extra='loadmodule "exec.so"\n')
    proxy.send(request("INVITE"))
    options = proxy.send(request("OPTIONS", call_id="o@x", branch="z9hG4bKo2"))
    assert [parsed(s).status for s in options] == [200]  # served while the command runs
    replies = []
    for _ in range(500):  # bounded: the command ends within ~0.2 s of real time
        replies += [parsed(s).status for s in proxy.net.advance(0.02)]
        if 486 in replies:
            break
        time.sleep(0.005)
    assert 486 in replies
    assert proxy.script_logs() == ["out=hello\n rc=1"]
