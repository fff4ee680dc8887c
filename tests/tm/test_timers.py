"""tm's timers with the manual clock: retransmissions, final-response timeouts (faked 408), wt_timer."""
from __future__ import annotations

import pytest

from opensips_py.sip import build_reply
from tests.tm.support import UAC, UAS, Callee, request, statuses, tm_proxy, to

RELAY = '''
route {
    if (is_method("ACK")) { if (t_check_trans()) t_relay(); exit; }
    t_on_failure("timeout");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
failure_route[timeout] {
    xlog("failure_route $T_reply_code local=$var(x)\\n");
    if (t_check_status("408") && t_local_replied("all")) { xlog("nobody answered\\n"); }
}
'''


def send_times(proxy, callee: Callee, method: str, seconds: float) -> list[float]:
    """When (seconds from now) the callee got `method` requests while the clock moves `seconds` on."""
    start = proxy.net.clock.now
    before = len(callee.received)
    proxy.net.advance(seconds)
    return [round(when - start, 3) for msg, when in zip(callee.received[before:], callee.times[before:])
            if msg.method == method]


def test_invite_is_retransmitted_at_t1_doubling_up_to_t2():
    proxy = tm_proxy(RELAY)
    callee = Callee(proxy, answers={})
    proxy.send(request("INVITE"))
    assert send_times(proxy, callee, "INVITE", 20) == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5]
    stats = proxy.core.modules["tm"].stats()
    assert [stats[f"retransmission_req_T1_{n}"] for n in (1, 2, 3)] == [1, 1, 1]
    assert stats["retransmission_req_T2"] == 4


def test_t1_and_t2_are_milliseconds_parameters():
    proxy = tm_proxy('modparam("tm", "T1_timer", 100)\nmodparam("tm", "T2_timer", 400)\n' + RELAY)
    callee = Callee(proxy, answers={})
    proxy.send(request("INVITE"))
    assert send_times(proxy, callee, "INVITE", 1.6) == [0.1, 0.3, 0.7, 1.1, 1.5]


def test_a_provisional_reply_stops_invite_retransmissions():
    proxy = tm_proxy(RELAY)
    callee = Callee(proxy, answers={"INVITE": [(180, "c")]})
    proxy.send(request("INVITE"))
    assert send_times(proxy, callee, "INVITE", 10) == []


def test_a_non_invite_is_retransmitted_every_t2_after_a_provisional():
    proxy = tm_proxy(RELAY)
    callee = Callee(proxy, answers={"OPTIONS": [(100, None)]})
    proxy.send(request("OPTIONS"))
    assert send_times(proxy, callee, "OPTIONS", 9) == [4.0, 8.0]


def test_no_retransmission_over_tcp():
    proxy = tm_proxy(RELAY.replace('sip:192.0.2.20:5060"', 'sip:192.0.2.20:5060;transport=tcp"'))
    Callee(proxy, answers={}, proto="tcp")
    proxy.send(request("INVITE"))
    sent = proxy.net.advance(5)
    assert [s for s in sent if s.data.startswith(b"INVITE")] == []


def test_no_final_reply_within_fr_timeout_fakes_a_408_into_failure_route():
    proxy = tm_proxy('modparam("tm", "fr_timeout", 5)\n' + RELAY)
    Callee(proxy, answers={})
    proxy.send(request("OPTIONS"))
    assert statuses(proxy.net.advance(4.9)) == []
    sent = proxy.net.advance(0.2)
    assert [(m.status, m.reason) for m in to(sent, UAC)] == [(408, "Request Timeout")]
    assert proxy.script_logs() == ["failure_route 408 local=<null>", "nobody answered"]
    assert proxy.core.modules["tm"].stats()["timeout_finalresponse"] == 1


def test_after_a_1xx_an_invite_waits_fr_inv_timeout_then_cancels_and_fakes_408():
    proxy = tm_proxy('modparam("tm", "fr_timeout", 5)\nmodparam("tm", "fr_inv_timeout", 20)\n' + RELAY)
    callee = Callee(proxy, answers={"INVITE": [(180, "c")], "CANCEL": [(200, None)]})
    proxy.send(request("INVITE"))
    assert statuses(proxy.net.advance(19.9)) == []
    sent = proxy.net.advance(0.2)
    assert callee.methods() == ["INVITE", "CANCEL"]
    assert callee.received[1].header("reason") == 'SIP;cause=480;text="NO_ANSWER"'
    assert statuses(sent) == [408]
    assert proxy.script_logs() == ["failure_route 408 local=<null>"]
    assert proxy.core.modules["tm"].stats()["timeout_finalresponse_inv"] == 1


def test_restart_fr_on_each_reply_restarts_fr_inv_on_every_provisional():
    proxy = tm_proxy('modparam("tm", "fr_inv_timeout", 10)\n' + RELAY)
    callee = Callee(proxy, answers={"INVITE": [(180, "c")], "CANCEL": [(200, None)]})
    proxy.send(request("INVITE"))
    proxy.net.advance(8)
    proxy.send(build_reply(callee.received[0], 183, to_tag="c"), src=UAS)
    assert statuses(proxy.net.advance(9)) == []
    assert statuses(proxy.net.advance(1.1)) == [408]


def test_without_restart_fr_a_repeated_provisional_does_not_restart_fr_inv():
    proxy = tm_proxy('modparam("tm", "fr_inv_timeout", 10)\nmodparam("tm", "restart_fr_on_each_reply", 0)\n'
                     + RELAY)
    callee = Callee(proxy, answers={"INVITE": [(180, "c")], "CANCEL": [(200, None)]})
    proxy.send(request("INVITE"))
    proxy.net.advance(8)
    proxy.send(build_reply(callee.received[0], 180, to_tag="c"), src=UAS)
    assert statuses(proxy.net.advance(2.1)) == [408]


def test_t_fr_timeout_set_per_transaction_in_the_script():
    proxy = tm_proxy('''
route {
    $T_fr_timeout = 2;
    $du = "sip:192.0.2.20:5060";
    t_relay();
    xlog("fr=$T_fr_timeout inv=$T_fr_inv_timeout\\n");
}
''')
    Callee(proxy, answers={})
    proxy.send(request("OPTIONS"))
    assert proxy.script_logs() == ["fr=2 inv=120"]
    assert statuses(proxy.net.advance(2.1)) == [408]


def test_the_transaction_goes_after_wt_timer_and_a_late_retransmission_is_new():
    proxy = tm_proxy('modparam("tm", "wt_timer", 3)\n' + RELAY)
    callee = Callee(proxy, answers={"OPTIONS": [(200, "c")]})
    proxy.send(request("OPTIONS"))
    tm = proxy.core.modules["tm"]
    proxy.net.advance(2.9)
    assert statuses(proxy.send(request("OPTIONS"))) == [200] and len(callee.received) == 1
    proxy.net.advance(0.2)
    assert tm.stats()["inuse_transactions"] == 0
    proxy.send(request("OPTIONS"))
    assert len(callee.received) == 2


def test_a_negative_invite_reply_stops_being_retransmitted_after_fr_timeout():
    proxy = tm_proxy('modparam("tm", "fr_timeout", 5)\n' + RELAY)
    Callee(proxy, answers={"INVITE": [(486, "b")]})
    proxy.send(request("INVITE"))
    sent = proxy.net.advance(5.1)
    assert statuses(sent) == [486, 486, 486]  # at 0.5, 1.5 and 3.5 s
    assert statuses(proxy.net.advance(10)) == []


def test_a_cancel_is_retransmitted_until_its_reply():
    proxy = tm_proxy('''
route {
    if (is_method("CANCEL")) { t_relay(); exit; }
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
''')
    callee = Callee(proxy, answers={"INVITE": [(180, "c")]})
    proxy.send(request("INVITE"))
    proxy.send(request("CANCEL"))
    assert send_times(proxy, callee, "CANCEL", 2) == [0.5, 1.5]
    proxy.send(build_reply(callee.received[1], 200), src=UAS)
    assert send_times(proxy, callee, "CANCEL", 5) == []


@pytest.mark.parametrize("seconds", [0.49, 0.51])
def test_timers_fire_exactly_when_due(seconds: float):
    proxy = tm_proxy(RELAY)
    Callee(proxy, answers={})
    proxy.send(request("INVITE"))
    sent = proxy.net.advance(seconds)
    assert len([s for s in sent if s.data.startswith(b"INVITE")]) == (1 if seconds > 0.5 else 0)
