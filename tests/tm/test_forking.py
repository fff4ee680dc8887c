"""Forking: parallel branches, the winning reply, challenges aggregated, serial forking from failure_route."""
from __future__ import annotations

from opensips_py.sip import build_reply
from tests.tm.support import UAC, UAS, UAS2, Callee, request, statuses, tm_proxy, to

UAS3 = ("192.0.2.40", 5060)

PARALLEL = '''
route {
    if (is_method("ACK")) { if (t_check_trans()) t_relay(); exit; }
    $ru = "sip:bob@192.0.2.20:5060";
    append_branch("sip:bob@192.0.2.30:5060");
    append_branch("sip:bob@192.0.2.40:5060");
    t_relay();
}
'''


def three_callees(proxy, codes: tuple[int, int, int], headers=((), (), ())):
    callees = []
    for address, code, extra in zip((UAS, UAS2, UAS3), codes, headers):
        def answer(msg, code=code, extra=extra):
            return [build_reply(msg, code, to_tag=f"t{code}", headers=list(extra))]
        callees.append(Callee(proxy, address, answers={"INVITE": answer}))
    return callees


def final(sent):
    return [m for m in to(sent, UAC) if m.status >= 200]


def test_parallel_branches_go_to_every_contact_with_their_own_branch_ids():
    proxy = tm_proxy(PARALLEL)
    callees = three_callees(proxy, (486, 486, 486))
    proxy.send(request("INVITE"))
    branches = [c.received[0].via1.branch for c in callees]
    assert [b.rsplit(".", 1)[1] for b in branches] == ["0", "1", "2"]
    assert len({b.rsplit(".", 1)[0] for b in branches}) == 1


def test_a_6xx_wins_over_every_other_final_reply():
    proxy = tm_proxy(PARALLEL)
    three_callees(proxy, (486, 603, 302))
    assert [m.status for m in final(proxy.send(request("INVITE")))] == [603]


def test_503_loses_to_any_other_failure():
    proxy = tm_proxy(PARALLEL)
    three_callees(proxy, (503, 408, 503))
    assert [m.status for m in final(proxy.send(request("INVITE")))] == [408]


def test_a_redirect_wins_over_busy_and_server_errors():
    proxy = tm_proxy(PARALLEL)
    three_callees(proxy, (486, 302, 500))
    assert [m.status for m in final(proxy.send(request("INVITE")))] == [302]


def test_the_401_relayed_carries_every_branchs_challenge():
    proxy = tm_proxy(PARALLEL)
    three_callees(proxy, (401, 407, 486), (('WWW-Authenticate: Digest realm="a", nonce="1"',),
                                           ('Proxy-Authenticate: Digest realm="b", nonce="2"',), ()))
    [reply] = final(proxy.send(request("INVITE")))
    assert reply.status == 401
    assert reply.header_values("www-authenticate") == ['Digest realm="a", nonce="1"']
    assert reply.header_values("proxy-authenticate") == ['Digest realm="b", nonce="2"']


def test_a_6xx_stops_serial_forking_from_failure_route():
    proxy = tm_proxy('''
route {
    t_on_failure("next");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
failure_route[next] {
    $du = "sip:192.0.2.30:5060";
    t_relay();
    xlog("rc=$rc\\n");
}
''')
    Callee(proxy, UAS, answers={"INVITE": [(600, "x")]})
    second = Callee(proxy, UAS2, answers={"INVITE": [(200, "y")]})
    sent = proxy.send(request("INVITE"))
    assert proxy.script_logs() == ["rc=-3"] and second.received == []
    assert [m.status for m in final(sent)] == [600]


SERIAL = '''
route {
    if (is_method("ACK")) { if (t_check_trans()) t_relay(); exit; }
    $ru = "sip:bob@192.0.2.20:5060";
    $ru_q = 1000;
    append_branch("sip:bob@192.0.2.30:5060", "0.5");
    append_branch("sip:bob@192.0.2.40:5060", "0.1");
    serialize_branches(1);
    next_branches();
    t_on_failure("serial");
    t_relay();
}
failure_route[serial] {
    xlog("failure $T_reply_code from $T_ruri\\n");
    if (next_branches()) {
        t_on_failure("serial");
        t_relay();
    }
}
'''


def test_serial_forking_by_q_tries_each_contact_in_turn_from_failure_route():
    proxy = tm_proxy(SERIAL)
    first = Callee(proxy, UAS, answers={"INVITE": [(486, "a")]})
    second = Callee(proxy, UAS2, answers={"INVITE": [(480, "b")]})
    third = Callee(proxy, UAS3, answers={"INVITE": [(180, "c"), (200, "c")]})
    sent = proxy.send(request("INVITE"))
    assert [c.methods()[0] for c in (first, second, third)] == ["INVITE"] * 3
    assert [m.status for m in to(sent, UAC)] == [100, 180, 200]
    assert proxy.script_logs() == ["failure 486 from sip:bob@192.0.2.20:5060",
                                   "failure 480 from sip:bob@192.0.2.30:5060"]


def test_failure_route_is_disarmed_before_it_runs():
    proxy = tm_proxy('''
route {
    t_on_failure("once");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
failure_route[once] {
    xlog("failure_route ran\\n");
    $du = "sip:192.0.2.30:5060";
    t_relay();
}
''')
    Callee(proxy, UAS, answers={"INVITE": [(486, "a")]})
    Callee(proxy, UAS2, answers={"INVITE": [(404, "b")]})
    sent = proxy.send(request("INVITE"))
    assert proxy.script_logs() == ["failure_route ran"]
    assert [m.status for m in final(sent)] == [404]


def test_the_request_in_failure_route_is_the_one_the_request_route_relayed():
    proxy = tm_proxy('''
route {
    append_hf("X-Added: in request route\\r\\n");
    t_on_failure("f");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
failure_route[f] {
    xlog("ru=$ru du=$du\\n");
    $du = "sip:192.0.2.30:5060";
    t_relay();
}
''')
    Callee(proxy, UAS, answers={"INVITE": [(486, "a")]})
    second = Callee(proxy, UAS2, answers={"INVITE": [(200, "b")]})
    proxy.send(request("INVITE"))
    assert proxy.script_logs() == ["ru=sip:bob@192.0.2.20 du=sip:192.0.2.20:5060"]
    assert second.received[0].header("x-added") == "in request route"


def test_t_reply_in_failure_route_answers_the_caller_instead_of_the_branch_reply():
    proxy = tm_proxy('''
route {
    t_on_failure("f");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
failure_route[f] {
    if (t_check_status("486")) { t_reply(302, "Moved Temporarily"); }
}
''')
    Callee(proxy, UAS, answers={"INVITE": [(486, "a")]})
    assert [(m.status, m.reason) for m in final(proxy.send(request("INVITE")))] == [(302, "Moved Temporarily")]


def test_a_minor_branch_is_not_waited_for():
    proxy = tm_proxy('modparam("tm", "minor_branch_flag", "MINOR")\n' + '''
route {
    append_branch("sip:bob@192.0.2.30:5060");
    setbflag("MINOR", 1);
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
''')
    Callee(proxy, UAS, answers={"INVITE": [(486, "a")]})
    minor = Callee(proxy, UAS2, answers={"INVITE": [(180, "b")], "CANCEL": [(200, None)]})
    sent = proxy.send(request("INVITE"))
    assert [m.status for m in final(sent)] == [486]
    assert minor.methods() == ["INVITE", "CANCEL"]


def test_statuses_helper_sees_provisionals_of_every_branch():
    proxy = tm_proxy(PARALLEL)
    for address in (UAS, UAS2, UAS3):
        Callee(proxy, address, answers={"INVITE": [(180, "r")]})
    assert statuses(proxy.send(request("INVITE"))) == [100, 180, 180, 180]


def test_lookup_with_two_registered_contacts_forks_in_parallel():
    proxy = tm_proxy('''
route {
    if (is_method("REGISTER")) { save("location"); exit; }
    if (!lookup("location")) { t_reply(404, "Not Found"); exit; }
    t_relay();
}
''', head_extra='loadmodule "usrloc.so"\nloadmodule "registrar.so"\n')
    first = Callee(proxy, UAS, answers={"INVITE": [(180, "a")], "CANCEL": [(200, None)]})
    second = Callee(proxy, UAS2, answers={"INVITE": [(200, "b")]})
    register = request("REGISTER", ruri="sip:192.0.2.1", extra="Expires: 600")
    register = register.replace(b"To: Bob <sip:bob@biloxi.com>", b"To: <sip:bob@192.0.2.1>").replace(
        b"Contact: <sip:alice@192.0.2.10>", b"Contact: <sip:bob@192.0.2.20:5060>;q=0.8, <sip:bob@192.0.2.30:5060>;q=0.5")
    assert statuses(proxy.send(register)) == [200]
    sent = proxy.send(request("INVITE", ruri="sip:bob@192.0.2.1", call_id="fork@x", branch="z9hG4bKfork"))
    assert first.methods() == ["INVITE", "CANCEL"] and second.methods() == ["INVITE"]
    assert [m.status for m in final(sent)] == [200]


def test_in_failure_route_the_branch_index_is_the_last_replying_branch_and_the_code_the_winners():
    proxy = tm_proxy('''
route {
    append_branch("sip:carol@192.0.2.30:5060");
    $du = "sip:192.0.2.20:5060";
    t_on_failure("f");
    t_relay();
}
failure_route[f] {
    xlog("idx=$T_branch_idx code=$T_reply_code\\n");
}
''')
    Callee(proxy, UAS, answers={"INVITE": [(404, "a")]})
    Callee(proxy, UAS2, answers={"INVITE": [(486, "b")]})
    proxy.send(request("INVITE"))
    assert proxy.script_logs() == ["idx=1 code=404"]


def test_the_callers_via_gets_received_and_rport_on_every_branch_also_from_failure_route():
    proxy = tm_proxy('''
route {
    t_on_failure("again");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
failure_route[again] {
    $du = "sip:192.0.2.30:5060";
    t_relay();
}
''')
    first = Callee(proxy, UAS, answers={"INVITE": [(486, "a")]})
    second = Callee(proxy, UAS2, answers={"INVITE": [(200, "b")]})
    proxy.send(request("INVITE", via="SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bKnat;rport"), src=("192.0.2.10", 7070))
    for callee in (first, second):
        caller_via = callee.received[0].via[1]
        assert (caller_via.received, caller_via.rport) == ("192.0.2.10", 7070)
