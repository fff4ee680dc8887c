"""branch_route and onreply_route as tm runs them: per-branch contexts, drop, re-arming."""
from __future__ import annotations

from opensips_py.sip import build_reply
from tests.tm.support import UAC, UAS, UAS2, Callee, request, statuses, tm_proxy, to


def test_branch_route_runs_once_per_branch_with_that_branchs_uri_and_index():
    proxy = tm_proxy('''
route {
    append_branch("sip:carol@192.0.2.30:5060");
    $ru = "sip:bob@192.0.2.20:5060";
    t_on_branch("per_branch");
    t_relay();
}
branch_route[per_branch] {
    xlog("branch $T_branch_idx $ru\\n");
    append_hf("X-Branch: $T_branch_idx\\r\\n");
}
''')
    first, second = Callee(proxy, UAS, answers={}), Callee(proxy, UAS2, answers={})
    proxy.send(request("INVITE"))
    assert proxy.script_logs() == ["branch 0 sip:bob@192.0.2.20:5060", "branch 1 sip:carol@192.0.2.30:5060"]
    assert first.received[0].header_values("x-branch") == ["0"]
    assert second.received[0].header_values("x-branch") == ["1"]


def test_drop_in_branch_route_discards_only_that_branch():
    proxy = tm_proxy('''
route {
    append_branch("sip:carol@192.0.2.30:5060");
    $ru = "sip:bob@192.0.2.20:5060";
    t_on_branch("filter");
    t_relay();
}
branch_route[filter] {
    if ($rU == "bob") { drop; }
}
''')
    first, second = Callee(proxy, UAS, answers={}), Callee(proxy, UAS2, answers={})
    proxy.send(request("INVITE"))
    assert first.received == [] and [m.ruri_text for m in second.received] == ["sip:carol@192.0.2.30:5060"]


def test_branch_route_can_change_the_destination_of_its_branch():
    proxy = tm_proxy('''
route {
    $ru = "sip:bob@192.0.2.20:5060";
    t_on_branch("move");
    t_relay();
}
branch_route[move] {
    $du = "sip:192.0.2.30:5060";
}
''')
    first, second = Callee(proxy, UAS, answers={}), Callee(proxy, UAS2, answers={})
    proxy.send(request("INVITE"))
    assert first.received == [] and [m.ruri_text for m in second.received] == ["sip:bob@192.0.2.20:5060"]


def test_dropping_every_branch_makes_t_relay_reply_500_on_its_own():
    proxy = tm_proxy('''
route {
    $du = "sip:192.0.2.20:5060";
    t_on_branch("none");
    t_relay();
}
branch_route[none] { drop; }
''')
    Callee(proxy, answers={})
    sent = proxy.send(request("OPTIONS"))
    assert [(m.status, m.reason) for m in to(sent, UAC)] == [(500, "Server error occurred (1/TM)")]


def test_onreply_route_sees_each_reply_and_the_request_context():
    proxy = tm_proxy('''
route {
    t_on_reply("replies");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
onreply_route[replies] {
    xlog("reply $rs code=$T_reply_code branch=$T_branch_idx request=$(<request>rm)\\n");
}
''')
    Callee(proxy)
    proxy.send(request("INVITE"))
    assert proxy.script_logs() == ["reply 100 code=100 branch=0 request=INVITE",
                                   "reply 180 code=180 branch=0 request=INVITE",
                                   "reply 200 code=200 branch=0 request=INVITE"]


def test_drop_in_onreply_route_discards_a_provisional_reply_but_not_a_final_one():
    proxy = tm_proxy('''
route {
    t_on_reply("quiet");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
onreply_route[quiet] {
    drop;
}
''')
    Callee(proxy, answers={"INVITE": [(183, "c"), (200, "c")]})
    assert statuses(proxy.send(request("INVITE"))) == [100, 200]


def test_t_on_reply_in_a_branch_route_is_for_that_branch_only():
    proxy = tm_proxy('''
route {
    append_branch("sip:carol@192.0.2.30:5060");
    $ru = "sip:bob@192.0.2.20:5060";
    t_on_branch("arm");
    t_relay();
}
branch_route[arm] {
    if ($rU == "carol") { t_on_reply("carol_only"); }
}
onreply_route[carol_only] {
    xlog("carol replied $rs\\n");
}
''')
    Callee(proxy, UAS, answers={"INVITE": [(180, "b")]})
    Callee(proxy, UAS2, answers={"INVITE": [(183, "c")]})
    proxy.send(request("INVITE"))
    assert proxy.script_logs() == ["carol replied 183"]


def test_t_on_failure_armed_in_the_request_route_after_t_newtran_still_applies():
    proxy = tm_proxy('''
route {
    t_newtran();
    t_on_failure("late");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
failure_route[late] {
    xlog("late armed failure route: $T_reply_code\\n");
}
''')
    Callee(proxy, answers={"INVITE": [(404, "x")]})
    proxy.send(request("INVITE"))
    assert proxy.script_logs() == ["late armed failure route: 404"]


def test_branch_flags_set_in_the_request_route_reach_the_branch_and_onreply_routes():
    proxy = tm_proxy('''
route {
    setbflag("MARK");
    t_on_branch("b");
    t_on_reply("r");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
branch_route[b] { if (isbflagset("MARK")) xlog("branch sees MARK\\n"); }
onreply_route[r] { if (isbflagset("MARK")) xlog("reply sees MARK\\n"); }
''')
    Callee(proxy, answers={"INVITE": [(180, "c")]})
    proxy.send(request("INVITE"))
    assert proxy.script_logs() == ["branch sees MARK", "reply sees MARK"]


def test_the_global_onreply_route_drop_stops_a_provisional_before_tm():
    proxy = tm_proxy('''
route {
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
onreply_route {
    if ($rs == 180) drop;
}
''')
    callee = Callee(proxy, answers={"INVITE": [(180, "c")]})
    proxy.send(request("INVITE"))
    assert statuses(proxy.send(build_reply(callee.received[0], 183, to_tag="c"), src=UAS)) == [183]
    assert statuses(proxy.send(request("INVITE"))) == [183]
