"""CANCEL: matched to its INVITE, answered 200 canceling, CANCELs down every branch that rang, 487 up."""
from __future__ import annotations

from opensips_py.sip import build_reply
from tests.tm.support import UAC, UAS, UAS2, Callee, request, statuses, tm_proxy, to
from tests.tm.test_relay import RELAY

FORK = '''
route {
    if (is_method("CANCEL")) {
        if (t_check_trans()) t_relay();
        exit;
    }
    if (is_method("ACK")) { if (t_check_trans()) t_relay(); exit; }
    t_on_failure("missed");
    append_branch("sip:bob@192.0.2.30:5060");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
failure_route[missed] {
    xlog("failure_route: $T_reply_code cancelled=$rc\\n");
    if (t_was_cancelled()) { xlog("was cancelled\\n"); exit; }
}
'''


def ringing_then_487(callee: Callee) -> None:
    """The callee rings; a CANCEL gets 200 and the INVITE 487."""
    callee.answers["INVITE"] = [(180, "ring")]
    callee.answers["CANCEL"] = lambda cancel: [build_reply(cancel, 200),
                                               build_reply(callee.received[0], 487, to_tag="ring")]


def test_cancel_gets_200_canceling_and_the_invite_487_after_the_callee_stops():
    proxy = tm_proxy(RELAY)
    callee = Callee(proxy)
    ringing_then_487(callee)
    proxy.send(request("INVITE"))
    sent = proxy.send(request("CANCEL"))
    upstream = [(m.status, m.reason, m.cseq.method) for m in to(sent, UAC)]
    assert upstream == [(200, "canceling", "CANCEL"), (487, "Request Terminated", "INVITE")]
    cancel = callee.received[1]
    assert cancel.method == "CANCEL" and cancel.via1.branch == callee.received[0].via1.branch
    assert cancel.header("reason") == 'SIP;cause=487;text="ORIGINATOR_CANCEL"'
    assert callee.methods() == ["INVITE", "CANCEL", "ACK"]


def test_the_callers_ack_of_the_487_is_absorbed():
    proxy = tm_proxy(RELAY)
    callee = Callee(proxy)
    ringing_then_487(callee)
    proxy.send(request("INVITE"))
    proxy.send(request("CANCEL"))
    assert proxy.send(request("ACK", to_tag="ring")) == []
    assert callee.methods() == ["INVITE", "CANCEL", "ACK"]


def test_a_branch_that_has_not_answered_is_cancelled_only_when_it_rings():
    proxy = tm_proxy(RELAY)
    callee = Callee(proxy, answers={"CANCEL": [(200, None)]})
    proxy.send(request("INVITE"))
    sent = proxy.send(request("CANCEL"))
    assert statuses(sent) == [200] and callee.methods() == ["INVITE"]
    late = proxy.send(build_reply(callee.received[0], 180, to_tag="late"), src=UAS)
    assert callee.methods() == ["INVITE", "CANCEL"]
    assert statuses(late) == [180]


def test_cancel_for_an_unknown_invite_is_relayed_statefully():
    proxy = tm_proxy('''
route {
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
''')
    callee = Callee(proxy, answers={"CANCEL": [(481, None)]})
    sent = proxy.send(request("CANCEL"))
    assert callee.methods() == ["CANCEL"] and statuses(sent) == [481]


def test_cancel_reaches_every_ringing_branch_and_failure_route_sees_it_cancelled():
    proxy = tm_proxy(FORK)
    first, second = Callee(proxy, UAS), Callee(proxy, UAS2)
    ringing_then_487(first)
    ringing_then_487(second)
    proxy.send(request("INVITE"))
    sent = proxy.send(request("CANCEL"))
    assert [m.status for m in to(sent, UAC)] == [200, 487]
    assert first.methods() == ["INVITE", "CANCEL", "ACK"] and second.methods() == ["INVITE", "CANCEL", "ACK"]
    assert proxy.script_logs() == ["failure_route: 487 cancelled=1", "was cancelled"]


def test_a_2xx_on_one_branch_cancels_the_others_with_reason_200():
    proxy = tm_proxy(FORK)
    first = Callee(proxy, UAS, answers={"INVITE": [(180, "a")], "CANCEL": [(200, None)]})
    second = Callee(proxy, UAS2, answers={"INVITE": [(180, "b")]})
    proxy.send(request("INVITE"))
    sent = proxy.send(build_reply(second.received[0], 200, to_tag="b"), src=UAS2)
    assert [m.status for m in to(sent, UAC)] == [200]
    cancel = first.received[1]
    assert cancel.method == "CANCEL"
    assert cancel.header("reason") == 'SIP ;cause=200 ;text="Call completed elsewhere"'


def test_t_add_cancel_reason_overrides_the_reason_of_the_cancels():
    proxy = tm_proxy(RELAY.replace('if (t_check_trans()) t_relay();',
                                   'if (t_check_trans()) { t_add_cancel_reason("Reason: SIP;cause=600;text=\\"Busy\\""); '
                                   't_relay(); }'))
    callee = Callee(proxy)
    ringing_then_487(callee)
    proxy.send(request("INVITE"))
    proxy.send(request("CANCEL"))
    assert callee.received[1].header("reason") == 'SIP;cause=600;text="Busy"'


def test_pass_reason_hdr_copies_the_reason_of_the_received_cancel():
    proxy = tm_proxy(RELAY.replace('if (t_check_trans()) t_relay();',
                                   'if (t_check_trans()) t_relay("pass-reason-hdr");'))
    callee = Callee(proxy)
    ringing_then_487(callee)
    proxy.send(request("INVITE"))
    proxy.send(request("CANCEL", extra='Reason: Q.850;cause=16'))
    assert callee.received[1].header("reason") == "Q.850;cause=16"


def test_t_relay_in_failure_route_of_a_cancelled_transaction_returns_minus_3():
    proxy = tm_proxy(RELAY.replace('if (!t_relay())', 't_on_failure("again"); if (!t_relay())') + '''
failure_route[again] {
    $du = "sip:192.0.2.30:5060";
    t_relay();
    xlog("rc=$rc\\n");
}
''')
    callee = Callee(proxy)
    second = Callee(proxy, UAS2)
    ringing_then_487(callee)
    proxy.send(request("INVITE"))
    sent = proxy.send(request("CANCEL"))
    assert proxy.script_logs() == ["rc=-3"]
    assert [m.status for m in to(sent, UAC)] == [200, 487] and second.received == []
