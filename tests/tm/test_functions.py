"""Each tm script function and its OpenSIPS return codes; the $T_* pseudo-variables."""
from __future__ import annotations

from opensips_py.sip import build_reply
from tests.tm.support import UAC, UAS, UAS2, Callee, request, statuses, tm_proxy, to


def test_t_newtran_is_1_then_minus_10_then_0_for_a_retransmission():
    proxy = tm_proxy('''
route {
    t_newtran();
    xlog("first=$rc\\n");
    t_newtran();
    xlog("second=$rc\\n");
    t_reply(404, "Not Here");
}
''')
    sent = proxy.send(request("OPTIONS"))
    assert proxy.script_logs() == ["first=1", "second=-10"] and statuses(sent) == [404]
    again = proxy.send(request("OPTIONS"))
    assert proxy.script_logs() == ["first=1", "second=-10"]   # t_newtran returned 0: the script stopped
    assert statuses(again) == [404]


def test_t_newtran_on_an_unmatched_ack_is_1_without_a_transaction():
    proxy = tm_proxy('''
route {
    t_newtran();
    xlog("rc=$rc id=$T_id\\n");
}
''')
    proxy.send(request("ACK", to_tag="x"))
    assert proxy.script_logs() == ["rc=1 id=<null>"]


def test_t_reply_creates_the_transaction_answers_and_replays_on_retransmission():
    proxy = tm_proxy('''
route {
    t_reply(486, "Busy Here");
    xlog("rc=$rc\\n");
}
''')
    first = to(proxy.send(request("INVITE")), UAC)
    assert [m.status for m in first] == [100, 486]
    tag = first[1].to.tag
    assert tag and proxy.script_logs() == ["rc=1"]
    assert [m.to.tag for m in to(proxy.send(request("INVITE")), UAC)] == [tag]
    assert proxy.script_logs() == ["rc=1"]


def test_t_reply_to_an_ack_returns_0_and_sends_nothing():
    proxy = tm_proxy('''
route {
    t_reply(200, "OK");
    xlog("not reached\\n");
}
''')
    assert proxy.send(request("ACK", to_tag="x")) == [] and proxy.script_logs() == []


def test_the_ack_of_our_own_negative_reply_is_absorbed_by_t_newtran():
    proxy = tm_proxy('''
route {
    t_newtran();
    xlog("rc=$rc $rm\\n");
    if (is_method("INVITE")) t_reply(480, "Temporarily Unavailable");
}
''')
    tag = to(proxy.send(request("INVITE")), UAC)[-1].to.tag
    proxy.send(request("ACK", to_tag=tag))
    assert proxy.script_logs() == ["rc=1 INVITE"]
    assert statuses(proxy.net.advance(5)) == []


def test_our_own_2xx_is_retransmitted_until_the_ack():
    proxy = tm_proxy('''
route {
    if (is_method("ACK")) { t_newtran(); exit; }
    t_reply(200, "OK");
}
''')
    tag = to(proxy.send(request("INVITE")), UAC)[-1].to.tag
    assert statuses(proxy.net.advance(0.6)) == [200]
    proxy.send(request("ACK", branch="z9hG4bKack", to_tag=tag))
    assert statuses(proxy.net.advance(5)) == []


def test_t_check_trans_return_codes():
    proxy = tm_proxy('''
route {
    t_check_trans();
    xlog("$rm rc=$rc\\n");
    if (is_method("INVITE|OPTIONS")) {
        $du = "sip:192.0.2.20:5060";
        t_relay();
    }
}
''')
    callee = Callee(proxy, answers={"INVITE": [(200, "c")], "OPTIONS": [(486, "c")]})
    proxy.send(request("INVITE"))                                  # unknown: -1
    proxy.send(request("INVITE"))                                  # retransmission: 200 again, 0 (stops)
    proxy.send(request("ACK", branch="z9hG4bKe2e", to_tag="c"))    # end-to-end ACK: -2
    proxy.send(request("CANCEL"))                                  # its INVITE exists: 1
    proxy.send(request("CANCEL", call_id="other@x"))               # none: -1
    proxy.send(request("OPTIONS", call_id="opt@x", branch="z9hG4bKo"))
    proxy.send(request("ACK", call_id="opt@x", branch="z9hG4bKo", to_tag="c", cseq_method="ACK"))
    assert proxy.script_logs() == ["INVITE rc=-1", "ACK rc=-2", "CANCEL rc=1", "CANCEL rc=-1", "OPTIONS rc=-1",
                                   "ACK rc=-1"]
    assert callee.methods() == ["INVITE", "OPTIONS"]


def test_t_check_trans_finds_the_hop_by_hop_ack_of_a_negative_reply():
    proxy = tm_proxy('''
route {
    if (is_method("ACK")) { t_check_trans(); xlog("ack rc=$rc\\n"); exit; }
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
''')
    Callee(proxy, answers={"INVITE": [(404, "nf")]})
    proxy.send(request("INVITE"))
    proxy.send(request("ACK", to_tag="nf"))
    assert proxy.script_logs() == ["ack rc=1"]


def test_t_check_status_in_request_onreply_and_failure_routes():
    proxy = tm_proxy('''
route {
    t_on_reply("r");
    t_on_failure("f");
    $du = "sip:192.0.2.20:5060";
    t_relay();
    if (t_check_status("100")) xlog("request route: 100 sent\\n");
}
onreply_route[r] {
    if (t_check_status("18[0-9]")) xlog("onreply: ringing\\n");
}
failure_route[f] {
    if (t_check_status("486|600")) xlog("failure: busy\\n");
    if (t_check_status("8")) xlog("failure: the regex is searched in the code text\\n");
}
''')
    Callee(proxy, answers={"INVITE": [(180, "b"), (486, "b")]})
    proxy.send(request("INVITE"))
    assert proxy.script_logs() == ["request route: 100 sent", "onreply: ringing", "failure: busy",
                                   "failure: the regex is searched in the code text"]


def test_t_check_status_without_a_transaction_is_false():
    proxy = tm_proxy('route { if (!t_check_status(".*")) xlog("no transaction\\n"); }')
    proxy.send(request("OPTIONS"))
    assert proxy.script_logs() == ["no transaction"]


def test_t_was_cancelled_without_a_transaction_is_false():
    proxy = tm_proxy('route { t_was_cancelled(); xlog("rc=$rc\\n"); }')
    proxy.send(request("OPTIONS"))
    assert proxy.script_logs() == ["rc=-1"]


LOCAL_REPLIED = '''
route {
    t_on_failure("f");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
failure_route[f] {
    if (t_local_replied("all")) xlog("all local\\n");
    if (t_local_replied("branch")) xlog("branch local\\n");
    if (t_local_replied("last")) xlog("last local\\n");
}
'''


def test_t_local_replied_is_false_when_the_callee_answered():
    proxy = tm_proxy(LOCAL_REPLIED)
    Callee(proxy, answers={"INVITE": [(480, "x")]})
    proxy.send(request("INVITE"))
    assert proxy.script_logs() == []


def test_t_local_replied_is_true_for_a_timeout_nobody_answered():
    proxy = tm_proxy('modparam("tm", "fr_timeout", 1)\n' + LOCAL_REPLIED)
    Callee(proxy, answers={})
    proxy.send(request("OPTIONS"))
    proxy.net.advance(1.1)
    assert proxy.script_logs() == ["all local", "branch local", "last local"]


def test_t_local_replied_last_in_the_request_route_after_t_reply():
    proxy = tm_proxy('''
route {
    t_reply(403, "Forbidden");
    if (t_local_replied("last")) xlog("last reply was ours\\n");
}
''')
    proxy.send(request("OPTIONS"))
    assert proxy.script_logs() == ["last reply was ours"]


def test_t_flush_flags_copies_the_message_flags_into_the_transaction():
    proxy = tm_proxy('''
route {
    t_newtran();
    setflag("LATE");
    t_flush_flags();
    xlog("flush=$rc\\n");
    t_on_failure("f");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
failure_route[f] { if (isflagset("LATE")) xlog("failure sees LATE\\n"); }
''')
    Callee(proxy, answers={"OPTIONS": [(500, "x")]})
    proxy.send(request("OPTIONS"))
    assert proxy.script_logs() == ["flush=1", "failure sees LATE"]


def test_t_flush_flags_without_a_transaction_is_false():
    proxy = tm_proxy('route { t_flush_flags(); xlog("rc=$rc\\n"); }')
    proxy.send(request("OPTIONS"))
    assert proxy.script_logs() == ["rc=-1"]


def test_t_add_hdrs_reach_the_cancel_we_generate():
    proxy = tm_proxy('''
route {
    if (is_method("CANCEL")) { t_relay(); exit; }
    t_newtran();
    t_add_hdrs("X-Account: 42\\r\\n");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
''')
    callee = Callee(proxy, answers={"INVITE": [(180, "c")]})
    proxy.send(request("INVITE"))
    proxy.send(request("CANCEL"))
    assert callee.received[1].method == "CANCEL" and callee.received[1].header("x-account") == "42"


def test_t_reply_with_body_sends_the_body_with_the_appended_content_type():
    proxy = tm_proxy('''
route {
    append_to_reply("Content-Type: text/plain\\r\\n");
    t_reply_with_body(200, "OK", "hello");
}
''')
    [reply] = to(proxy.send(request("OPTIONS")), UAC)
    assert reply.body == b"hello" and reply.header("content-type") == "text/plain"


def test_append_to_reply_headers_go_into_stateful_replies():
    proxy = tm_proxy('''
route {
    append_to_reply("Contact: <sip:bob@192.0.2.20>;expires=60\\r\\n");
    t_reply(200, "OK");
}
''')
    [reply] = to(proxy.send(request("REGISTER")), UAC)
    assert reply.header("contact") == "<sip:bob@192.0.2.20>;expires=60"


def test_signaling_send_reply_is_stateful_when_a_transaction_exists():
    proxy = tm_proxy('''
route {
    if (is_method("OPTIONS")) { send_reply(200, "Stateless OK"); exit; }
    t_newtran();
    xlog("local tag $sig_local_totag\\n");
    send_reply(404, "Stateful Not Found");
}
''')
    [stateless] = to(proxy.send(request("OPTIONS")), UAC)
    assert stateless.reason == "Stateless OK"
    assert proxy.core.modules["tm"].stats()["UAS_transactions"] == 0
    [stateful] = to(proxy.send(request("MESSAGE", call_id="m@x", branch="z9hG4bKm")), UAC)
    assert stateful.reason == "Stateful Not Found"
    assert proxy.script_logs() == [f"local tag {stateful.to.tag}"]
    [again] = to(proxy.send(request("MESSAGE", call_id="m@x", branch="z9hG4bKm")), UAC)
    assert again.reason == "Stateful Not Found"


def test_t_replicate_copies_the_request_and_keeps_the_replies():
    proxy = tm_proxy('''
route {
    t_replicate("sip:192.0.2.30:5060");
    xlog("rc=$rc\\n");
}
''')
    copy = Callee(proxy, UAS2, answers={"REGISTER": [(200, "c")]})
    sent = proxy.send(request("REGISTER"))
    assert copy.methods() == ["REGISTER"] and to(sent, UAC) == []
    assert proxy.script_logs() == ["rc=1"]


def test_t_cancel_branch_in_onreply_route_cancels_that_branch():
    proxy = tm_proxy('''
route {
    t_on_reply("r");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
onreply_route[r] {
    if ($rs == 183) t_cancel_branch();
}
''')
    callee = Callee(proxy, answers={"INVITE": [(183, "c")]})
    proxy.send(request("INVITE"))
    assert callee.methods() == ["INVITE", "CANCEL"]


def test_t_reply_by_callid_answers_an_invite_transaction_from_another_request():
    proxy = tm_proxy('''
route {
    if (is_method("INVITE")) { $du = "sip:192.0.2.20:5060"; t_relay(); exit; }
    t_reply_by_callid(480, "Gone", "a84b4c76e66710@pc33.atlanta.com", "314159");
    xlog("rc=$rc\\n");
}
''')
    Callee(proxy, answers={"INVITE": [(180, "c")], "CANCEL": [(200, None)]})
    proxy.send(request("INVITE"))
    sent = proxy.send(request("NOTIFY", call_id="n@x", branch="z9hG4bKn"))
    assert proxy.script_logs() == ["rc=1"] and statuses(sent) == [480]


def test_t_new_request_sends_a_stateful_request_of_its_own():
    proxy = tm_proxy('''
route {
    t_new_request("MESSAGE", "sip:bob@192.0.2.20:5060", "sip:proxy@192.0.2.1", "sip:bob@192.0.2.20",
                  "text/plain hello there");
    xlog("rc=$rc\\n");
    sl_send_reply(202, "Accepted");
}
''')
    callee = Callee(proxy, answers={"MESSAGE": [(200, "c")]})
    proxy.send(request("OPTIONS"))
    [message] = callee.received
    assert message.method == "MESSAGE" and message.body == b"hello there"
    assert message.header("content-type") == "text/plain" and message.from_.tag
    assert proxy.script_logs() == ["rc=1"]
    assert proxy.core.modules["tm"].stats()["UAC_transactions"] == 1


# ------------------------------------------------------------------------------------------------ PVs

def test_t_pseudo_variables_in_each_route():
    proxy = tm_proxy('''
route {
    xlog("before: id=$T_id code=$T_reply_code idx=$T_branch_idx ruri=$T_ruri\\n");
    t_on_branch("b");
    t_on_reply("r");
    t_on_failure("f");
    append_branch("sip:carol@192.0.2.30:5060");
    $du = "sip:192.0.2.20:5060";
    t_relay();
    xlog("after: code=$T_reply_code\\n");
}
branch_route[b] {
    $bavp(mark) = "branch-" + $T_branch_idx;
}
onreply_route[r] {
    xlog("reply $rs idx=$T_branch_idx ruri=$T_ruri bavp=$bavp(mark)\\n");
}
failure_route[f] {
    xlog("failure idx=$T_branch_idx code=$T_reply_code b0=$(T_branch_last_reply_code[0]) b1=$(T_branch_last_reply_code[1]) uri1=$(tm.branch.uri[1])\\n");
}
''')
    Callee(proxy, UAS, answers={"INVITE": [(486, "a")]})
    Callee(proxy, UAS2, answers={"INVITE": [(180, "b"), (404, "b")]})
    proxy.send(request("INVITE"))
    logs = proxy.script_logs()
    assert logs == [
        "before: id=<null> code=0 idx=<null> ruri=sip:bob@192.0.2.20",
        "after: code=100",    # the callees answer once the request route is over
        "reply 486 idx=0 ruri=sip:bob@192.0.2.20 bavp=branch-0",
        "reply 180 idx=1 ruri=sip:carol@192.0.2.30:5060 bavp=branch-1",
        "reply 404 idx=1 ruri=sip:carol@192.0.2.30:5060 bavp=branch-1",
        "failure idx=1 code=404 b0=486 b1=404 uri1=sip:carol@192.0.2.30:5060",
    ]


def test_avps_of_the_request_route_are_seen_in_failure_route():
    proxy = tm_proxy('''
route {
    $avp(caller) = "alice";
    t_on_failure("f");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
failure_route[f] { xlog("caller=$avp(caller)\\n"); }
''')
    Callee(proxy, answers={"INVITE": [(486, "a")]})
    proxy.send(request("INVITE"))
    assert proxy.script_logs() == ["caller=alice"]


def test_t_fr_inv_timeout_set_before_the_transaction_and_reset_with_null():
    proxy = tm_proxy('''
route {
    $T_fr_inv_timeout = 7;
    xlog("pending=$T_fr_inv_timeout\\n");
    t_newtran();
    xlog("transaction=$T_fr_inv_timeout\\n");
    $T_fr_inv_timeout = NULL;
    xlog("reset=$T_fr_inv_timeout\\n");
    t_reply(404, "Not Found");
}
''')
    proxy.send(request("INVITE"))
    assert proxy.script_logs() == ["pending=7", "transaction=7", "reset=120"]


def test_a_transaction_left_without_reply_is_released_and_absorbs_retransmissions():
    proxy = tm_proxy('''
route {
    t_newtran();
    xlog("new $rc\\n");
}
''')
    assert statuses(proxy.send(request("INVITE"))) == [100]
    assert statuses(proxy.send(request("INVITE"))) == [100]
    assert proxy.script_logs() == ["new 1"]
    proxy.net.advance(6)
    assert proxy.core.modules["tm"].stats()["inuse_transactions"] == 0


def test_replies_in_two_sends_reach_the_upstream_with_its_own_via_only():
    proxy = tm_proxy('''
route { $du = "sip:192.0.2.20:5060"; t_relay(); }
''')
    callee = Callee(proxy, answers={"INVITE": [(180, "c")]})
    proxy.send(request("INVITE"))
    [final] = to(proxy.send(build_reply(callee.received[0], 200, to_tag="c"), src=UAS), UAC)
    assert [v.branch for v in final.via] == ["z9hG4bK776asdhds"]
    assert to(proxy.send(build_reply(callee.received[0], 200, to_tag="c"), src=UAS2), UAC)[0].status == 200
