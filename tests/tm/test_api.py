"""The API other modules use (docs/tm.md): transaction(), callbacks, t_uac(), stateful replies."""
from __future__ import annotations

from opensips_py.modules.tm import FAKED, TMCB, LocalRequest
from opensips_py.sip import build_reply
from tests.tm.support import UAC, UAS, UAS2, Callee, request, statuses, tm_proxy, to

RELAY = '''
route {
    if (is_method("ACK")) { if (t_check_trans()) t_relay(); else { $du = "sip:192.0.2.20:5060"; t_relay(); } exit; }
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
'''


def test_callbacks_follow_a_transaction_from_request_in_to_deletion():
    proxy = tm_proxy(RELAY)
    tm = proxy.core.modules["tm"]
    seen: list[tuple] = []

    def per_transaction(t, p):
        seen.append((p.type.name, p.code, p.branch))

    def on_new(t, p):
        seen.append(("REQUEST_IN", t.method, p.ctx is not None))
        tm.register_callback(TMCB.REQUEST_FWDED | TMCB.REQUEST_OUT | TMCB.RESPONSE_IN | TMCB.RESPONSE_FWDED
                             | TMCB.RESPONSE_OUT | TMCB.E2EACK_IN | TMCB.TRANS_DELETED, per_transaction, t)

    tm.register_callback(TMCB.REQUEST_IN, on_new)
    Callee(proxy, answers={"INVITE": [(180, "c"), (200, "c")]})
    proxy.send(request("INVITE"))
    proxy.send(request("ACK", branch="z9hG4bKack", to_tag="c"))
    proxy.net.advance(6)
    assert seen == [("REQUEST_IN", "INVITE", True), ("REQUEST_FWDED", 0, 0), ("REQUEST_OUT", 0, 0),
                    ("RESPONSE_IN", 180, 0), ("RESPONSE_FWDED", 180, 0), ("RESPONSE_IN", 200, 0),
                    ("RESPONSE_FWDED", 200, 0), ("RESPONSE_OUT", 200, 0), ("E2EACK_IN", 0, -1),
                    ("TRANS_DELETED", 0, -1)]


def test_a_request_fwded_callback_edits_the_branch_it_is_called_for():
    proxy = tm_proxy(RELAY)
    tm = proxy.core.modules["tm"]

    def add_header(t, p):
        p.request.add_header("X-Branch-Seen", str(p.branch))

    tm.register_callback(TMCB.REQUEST_IN, lambda t, p: tm.register_callback(TMCB.REQUEST_FWDED, add_header, t))
    callee = Callee(proxy, answers={})
    proxy.send(request("INVITE"))
    assert callee.received[0].header("x-branch-seen") == "0"
    assert proxy.core.modules["tm"].layer.table.by_tid  # the transaction is alive
    retransmissions = [s for s in proxy.net.advance(0.6) if s.data.startswith(b"INVITE")]
    assert b"X-Branch-Seen: 0" in retransmissions[0].data


def test_on_failure_and_response_out_see_the_winning_reply():
    proxy = tm_proxy(RELAY)
    tm = proxy.core.modules["tm"]
    seen = []

    def watch(t, p):
        seen.append((p.type.name, p.code, p.reply.status if p.reply is not None else None))

    tm.register_callback(TMCB.REQUEST_IN,
                         lambda t, p: tm.register_callback(TMCB.ON_FAILURE | TMCB.RESPONSE_OUT, watch, t))
    Callee(proxy, answers={"INVITE": [(486, "b")]})
    proxy.send(request("INVITE"))
    assert seen == [("ON_FAILURE", 486, 486), ("RESPONSE_OUT", 486, 486)]


def test_a_callback_that_raises_does_not_break_the_transaction():
    proxy = tm_proxy(RELAY, log_level=1)
    tm = proxy.core.modules["tm"]

    def broken(t, p):
        raise RuntimeError("module bug")

    tm.register_callback(TMCB.REQUEST_IN, broken)
    Callee(proxy, answers={"INVITE": [(200, "c")]})
    assert statuses(proxy.send(request("INVITE"))) == [100, 200]
    assert any("module bug" in line for line in proxy.logs)


def test_transaction_lookup_for_the_current_message_and_has_transaction():
    proxy = tm_proxy(RELAY)
    tm = proxy.core.modules["tm"]
    found = {}

    def probe(t, p):
        found["in_callback"] = (tm.transaction(p.ctx) is t, tm.has_transaction(p.ctx))

    tm.register_callback(TMCB.REQUEST_IN, probe)
    Callee(proxy, answers={"INVITE": [(180, "c")]})
    proxy.send(request("INVITE"))
    assert found["in_callback"] == (True, True)
    [t] = tm.layer.table.by_tid.values()
    assert (t.method, t.is_invite, t.is_local, t.status) == ("INVITE", True, False, 180)
    assert t.request.call_id == "a84b4c76e66710@pc33.atlanta.com"
    assert [(b.index, b.uri, b.last_received) for b in t.branches] == [(0, "sip:bob@192.0.2.20", 180)]


def test_t_uac_sends_a_request_with_our_via_and_reports_the_final_reply():
    proxy = tm_proxy(RELAY)
    tm = proxy.core.modules["tm"]
    callee = Callee(proxy, answers={"BYE": [(200, None)]})
    results = []
    t = tm.t_uac(LocalRequest(method="BYE", ruri="sip:bob@192.0.2.20:5060",
                              from_="<sip:alice@atlanta.com>;tag=1928301774", to="<sip:bob@biloxi.com>;tag=a6c85cf",
                              call_id="a84b4c76e66710@pc33.atlanta.com", cseq=2,
                              headers=["X-Reason: dialog timeout"]),
                 callback=lambda t, p: results.append((p.type.name, p.code)))
    proxy.net.advance(0.01)
    assert t is not None and t.is_local
    [bye] = callee.received
    assert bye.method == "BYE" and bye.cseq.number == 2 and bye.max_forwards == 70
    assert bye.via1.host == "192.0.2.1" and len(bye.via) == 1
    assert bye.header("x-reason") == "dialog timeout" and bye.to.tag == "a6c85cf"


def test_t_uac_callback_and_retransmission_then_408_on_timeout():
    proxy = tm_proxy('modparam("tm", "fr_timeout", 3)\n' + RELAY)
    tm = proxy.core.modules["tm"]
    results = []
    callee = Callee(proxy, answers={})
    proxy.net.start()
    t = tm.t_uac(LocalRequest(method="OPTIONS", ruri="sip:bob@192.0.2.20", from_="<sip:proxy@192.0.2.1>;tag=x",
                              to="<sip:bob@192.0.2.20>"),
                 callback=lambda t, p: results.append((p.code, p.reply)))
    proxy.net.advance(3.1)
    assert len(callee.received) == 3   # sent at once, then retransmitted at 0.5 and 1.5 s
    assert results == [(408, None)] and t.branches[0].reply is FAKED
    assert tm.stats()["UAC_transactions"] == 1


def test_t_uac_answered_calls_back_with_the_reply_and_is_not_relayed():
    proxy = tm_proxy(RELAY)
    tm = proxy.core.modules["tm"]
    results = []
    callee = Callee(proxy, answers={"OPTIONS": [(200, "c")]})
    proxy.net.start()
    t = tm.t_uac(LocalRequest(method="OPTIONS", ruri="sip:bob@192.0.2.20", from_="<sip:proxy@192.0.2.1>;tag=x",
                              to="<sip:bob@192.0.2.20>"),
                 callback=lambda t, p: results.append((p.code, p.reply.status)))
    sent = proxy.net.advance(0.6)
    assert results == [(200, 200)] and to(sent, UAC) == []
    assert len(callee.received) == 1 and t.status == 200


def test_t_uac_follows_a_loose_route_and_acks_a_negative_reply_to_an_invite():
    proxy = tm_proxy(RELAY)
    tm = proxy.core.modules["tm"]
    hop = Callee(proxy, UAS2, answers={"INVITE": [(503, "h")]})
    proxy.net.start()
    tm.t_uac(LocalRequest(method="INVITE", ruri="sip:bob@192.0.2.20", from_="<sip:proxy@192.0.2.1>;tag=x",
                          to="<sip:bob@192.0.2.20>", headers=["Route: <sip:192.0.2.30;lr>"]))
    proxy.net.advance(0.6)
    assert hop.methods() == ["INVITE", "ACK"]
    assert hop.received[1].header("route") == "<sip:192.0.2.30;lr>"


def test_register_callback_without_transaction_only_for_request_in():
    proxy = tm_proxy(RELAY)
    tm = proxy.core.modules["tm"]
    try:
        tm.register_callback(TMCB.RESPONSE_IN, lambda t, p: None)
    except ValueError:
        return
    raise AssertionError("expected ValueError")


def test_the_reply_from_a_second_branch_after_completion_is_relayed_once_more_for_2xx_only():
    proxy = tm_proxy('''
route {
    append_branch("sip:carol@192.0.2.30:5060");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
''')
    first = Callee(proxy, UAS, answers={"INVITE": [(200, "a")]})
    second = Callee(proxy, UAS2, answers={"INVITE": [(180, "b")], "CANCEL": [(200, None)]})
    proxy.send(request("INVITE"))
    late = proxy.send(build_reply(second.received[0], 200, to_tag="b"), src=UAS2)
    assert statuses(late) == [200]
    assert first.methods() == ["INVITE"]


# ------------------------------------------------------------------------------------------------ from outside
# t_cancel_trans(), t_reply_trans(): acting on a transaction from outside its messages (MI, dialog's timers)

def _ringing_invite(proxy):
    tm = proxy.core.modules["tm"]
    callee = Callee(proxy, answers={"INVITE": [(180, "c")], "CANCEL": [(200, None)]})
    proxy.send(request("INVITE"))
    [t] = tm.layer.table.by_tid.values()
    return tm, callee, t


def test_t_cancel_trans_from_outside_a_message_cancels_the_ringing_branch_at_the_next_timer_turn():
    proxy = tm_proxy(RELAY)
    tm, callee, t = _ringing_invite(proxy)
    assert tm.t_cancel_trans(t) == 0
    assert callee.methods() == ["INVITE"]        # MI context: queued for the core's next turn
    proxy.net.advance(0.01)
    assert callee.methods() == ["INVITE", "CANCEL"]
    cancel = callee.received[1]
    assert cancel.cseq.number == t.request.cseq.number and cancel.via1.branch == t.branches[0].via_branch
    late = proxy.send(build_reply(callee.received[0], 487, to_tag="c"), src=UAS)
    assert statuses(late) == [487]               # relayed to the caller; tm ACKs the 487 itself
    assert callee.methods() == ["INVITE", "CANCEL", "ACK"]


def test_t_cancel_trans_of_a_deleted_or_missing_transaction_is_minus1_and_an_answered_one_is_left_alone():
    proxy = tm_proxy(RELAY)
    tm = proxy.core.modules["tm"]
    assert tm.t_cancel_trans(None) == -1
    Callee(proxy, answers={"INVITE": [(200, "c")]})
    proxy.send(request("INVITE"))
    [t] = tm.layer.table.by_tid.values()
    assert tm.t_cancel_trans(t) == 0 and not any(b.cancel for b in t.branches)
    proxy.net.advance(40)
    assert t.deleted and tm.t_cancel_trans(t) == -1


def test_t_reply_trans_answers_the_invite_with_the_branch_to_tag_and_cancels_the_branch():
    proxy = tm_proxy(RELAY)
    tm, callee, t = _ringing_invite(proxy)
    proxy.net.start()
    assert tm.t_reply_trans(t, 502, "Bad Gateway", to_tag="c") == 1
    sent = proxy.net.advance(0.01)
    [reply] = [m for m in to(sent, UAC) if not m.is_request]
    assert (reply.status, reply.reason, reply.to.tag) == (502, "Bad Gateway", "c")
    assert callee.methods() == ["INVITE", "CANCEL"]
    assert tm.t_reply_trans(t, 500, "Again") == -1   # a final reply went already


def test_a_local_request_with_its_own_fr_timeout_times_out_then():
    proxy = tm_proxy(RELAY)  # fr_timeout 30 s by default
    tm = proxy.core.modules["tm"]
    Callee(proxy, answers={})
    proxy.net.start()
    results = []
    tm.t_uac(LocalRequest(method="PRACK", ruri="sip:bob@192.0.2.20", from_="<sip:a@192.0.2.1>;tag=x",
                          to="<sip:bob@192.0.2.20>;tag=c", fr_timeout=2),
             callback=lambda t, p: results.append((p.code, proxy.net.clock.now)))
    proxy.net.advance(1.9)
    assert results == []
    proxy.net.advance(0.2)
    assert [code for code, _ in results] == [408]
