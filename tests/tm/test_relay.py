"""t_relay() and the transaction around it, on the virtual network: a UAC at 192.0.2.10, the proxy at
192.0.2.1, callees at 192.0.2.20 and 192.0.2.30."""
from __future__ import annotations

from opensips_py.sip import build_reply
from tests.tm.support import UAC, UAS, UAS2, Callee, request, statuses, tm_proxy, to

RELAY = '''
route {
    if (has_totag()) {
        if (is_method("ACK")) {
            if (t_check_trans()) { t_relay(); exit; }
        }
        $du = "sip:192.0.2.20:5060";
        t_relay();
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans()) t_relay();
        exit;
    }
    $du = "sip:192.0.2.20:5060";
    if (!t_relay()) { sl_reply_error(); }
}
'''


def test_invite_gets_100_trying_at_once_then_the_callee_replies_relayed():
    proxy = tm_proxy(RELAY)
    callee = Callee(proxy)
    sent = proxy.send(request("INVITE"))
    upstream = to(sent, UAC)
    assert [(m.status, m.reason) for m in upstream] == [(100, "Giving it a try"), (180, "Ringing"), (200, "OK")]
    assert callee.methods() == ["INVITE"]
    assert all(len(m.via) == 1 and m.via1.branch == "z9hG4bK776asdhds" for m in upstream)


def test_the_forwarded_request_carries_our_via_with_a_transaction_branch():
    proxy = tm_proxy(RELAY)
    callee = Callee(proxy)
    proxy.send(request("INVITE"))
    forwarded = callee.received[0]
    assert forwarded.via1.host == "192.0.2.1" and forwarded.via1.branch.startswith("z9hG4bK")
    assert forwarded.via1.branch.endswith(".0")
    assert forwarded.via[1].branch == "z9hG4bK776asdhds"


def test_auto_100trying_off_sends_no_100():
    proxy = tm_proxy('modparam("tm", "auto_100trying", 0)\n' + RELAY)
    Callee(proxy, answers={"INVITE": [(180, "c")]})
    assert statuses(proxy.send(request("INVITE"))) == [180]


def test_the_callees_100_is_not_relayed():
    proxy = tm_proxy('modparam("tm", "auto_100trying", 0)\n' + RELAY)
    Callee(proxy, answers={"INVITE": [(100, None)]})
    assert statuses(proxy.send(request("INVITE"))) == []


def test_a_retransmitted_invite_gets_the_last_reply_again_and_is_not_forwarded():
    proxy = tm_proxy(RELAY)
    callee = Callee(proxy, answers={"INVITE": [(180, "c")]})
    proxy.send(request("INVITE"))
    again = proxy.send(request("INVITE"))
    assert statuses(again) == [180]
    assert callee.methods() == ["INVITE"]


def test_a_retransmission_before_any_reply_of_the_callee_gets_the_100_again():
    proxy = tm_proxy(RELAY)
    Callee(proxy, answers={})
    proxy.send(request("INVITE"))
    assert statuses(proxy.send(request("INVITE"))) == [100]


def test_a_negative_reply_is_acked_hop_by_hop_to_the_callee_and_relayed():
    proxy = tm_proxy(RELAY)
    callee = Callee(proxy, answers={"INVITE": [(486, "busy")]})
    sent = proxy.send(request("INVITE"))
    assert statuses(sent) == [100, 486]
    ack = callee.received[1]
    assert ack.method == "ACK" and ack.cseq.number == 314159 and ack.cseq.method == "ACK"
    assert ack.via1.branch == callee.received[0].via1.branch and len(ack.via) == 1
    assert ack.to.tag == "busy" and ack.ruri_text == "sip:bob@192.0.2.20"


def test_the_callers_ack_of_a_negative_reply_is_absorbed():
    proxy = tm_proxy(RELAY)
    callee = Callee(proxy, answers={"INVITE": [(486, "busy")]})
    proxy.send(request("INVITE"))
    sent = proxy.send(request("ACK", to_tag="busy"))
    assert sent == [] and callee.methods() == ["INVITE", "ACK"]


def test_a_negative_reply_is_retransmitted_until_the_callers_ack():
    proxy = tm_proxy(RELAY)
    Callee(proxy, answers={"INVITE": [(486, "busy")]})
    proxy.send(request("INVITE"))
    assert statuses(proxy.net.advance(0.6)) == [486]
    assert statuses(proxy.net.advance(1.0)) == [486]
    proxy.send(request("ACK", to_tag="busy"))
    assert statuses(proxy.net.advance(10)) == []


def test_the_2xx_ack_goes_end_to_end_to_the_callee():
    proxy = tm_proxy(RELAY)
    callee = Callee(proxy)
    proxy.send(request("INVITE"))
    sent = proxy.send(request("ACK", branch="z9hG4bKack2xx", to_tag="callee"))
    assert [m.method for m in to(sent, UAS)] == ["ACK"]
    assert to(sent, UAS)[0].via[1].branch == "z9hG4bKack2xx"
    assert callee.methods() == ["INVITE", "ACK"]


def test_a_bye_is_relayed_statefully_and_its_200_comes_back():
    proxy = tm_proxy(RELAY)
    callee = Callee(proxy)
    proxy.send(request("INVITE"))
    proxy.send(request("ACK", branch="z9hG4bKack", to_tag="callee"))
    sent = proxy.send(request("BYE", branch="z9hG4bKbye", to_tag="callee", cseq=314160))
    assert statuses(sent) == [200]
    assert callee.methods() == ["INVITE", "ACK", "BYE"]
    stats = proxy.core.modules["tm"].stats()
    assert stats["UAS_transactions"] == 2 and stats["relayed_replies"] == 3 and stats["local_replies"] == 1


def test_a_2xx_retransmitted_by_the_callee_is_relayed_again():
    proxy = tm_proxy(RELAY)
    callee = Callee(proxy, answers={"INVITE": [(200, "callee")]})
    proxy.send(request("INVITE"))
    invite = callee.received[0]
    again = proxy.send(build_reply(invite, 200, to_tag="callee"), src=UAS)
    assert statuses(again) == [200]


def test_a_reply_after_the_final_one_is_dropped():
    proxy = tm_proxy(RELAY)
    callee = Callee(proxy, answers={"INVITE": [(486, "busy")]})
    proxy.send(request("INVITE"))
    late = proxy.send(build_reply(callee.received[0], 180, to_tag="busy"), src=UAS)
    assert statuses(late) == []


def test_statistics_count_transactions_by_final_class_after_their_wait():
    proxy = tm_proxy(RELAY)
    Callee(proxy, answers={"INVITE": [(486, "busy")], "OPTIONS": [(200, "x")]})
    proxy.send(request("INVITE"))
    proxy.send(request("ACK", to_tag="busy"))
    proxy.send(request("OPTIONS", branch="z9hG4bKopt", call_id="opt@x"))
    tm = proxy.core.modules["tm"]
    assert tm.stats()["inuse_transactions"] == 2
    proxy.net.advance(6)
    stats = tm.stats()
    assert (stats["4xx_transactions"], stats["2xx_transactions"], stats["inuse_transactions"]) == (1, 1, 0)
    assert stats["received_replies"] == 2


def test_unresolvable_destination_gets_an_automatic_476_and_t_relay_returns_true():
    proxy = tm_proxy('''
route {
    $du = "sip:nowhere.invalid";
    if (t_relay()) { xlog("relay true $rc\\n"); }
}
''')
    sent = proxy.send(request("OPTIONS"))
    assert [(m.status, m.reason) for m in to(sent, UAC)] == [(476, "Unresolvable destination (476/TM)")]
    assert proxy.script_logs() == ["relay true 1"]


def test_no_auto_477_leaves_the_reply_to_the_script_and_returns_minus_4():
    proxy = tm_proxy('''
route {
    $du = "sip:nowhere.invalid";
    t_relay("no-auto-477");
    xlog("rc=$rc\\n");
    t_reply(500, "Script Says No");
}
''')
    sent = proxy.send(request("OPTIONS"))
    assert proxy.script_logs() == ["rc=-4"]
    assert [(m.status, m.reason) for m in to(sent, UAC)] == [(500, "Script Says No")]


def test_a_3_2_bit_mask_flag_works_too():
    proxy = tm_proxy('''
route {
    $du = "sip:nowhere.invalid";
    t_relay(0x02);
    xlog("rc=$rc\\n");
}
''')
    assert to(proxy.send(request("OPTIONS")), UAC) == [] and proxy.script_logs() == ["rc=-4"]


def test_outbound_proxy_parameter_is_the_destination_unless_du_is_set():
    proxy = tm_proxy('''
route {
    if ($rU == "viadu") { $du = "sip:192.0.2.20:5060"; }
    t_relay(, "udp:192.0.2.30:5060");
}
''')
    first, second = Callee(proxy, UAS, answers={}), Callee(proxy, UAS2, answers={})
    proxy.send(request("OPTIONS", ruri="sip:plain@example.com"))
    proxy.send(request("OPTIONS", ruri="sip:viadu@example.com", call_id="2@x", branch="z9hG4bK2"))
    assert [m.ruri_text for m in second.received] == ["sip:plain@example.com"]
    assert [m.ruri_text for m in first.received] == ["sip:viadu@example.com"]


def test_the_request_uri_of_the_branch_is_the_rewritten_one():
    proxy = tm_proxy('''
route {
    $ru = "sip:carol@192.0.2.20:5060";
    t_relay();
}
''')
    callee = Callee(proxy, answers={})
    proxy.send(request("INVITE"))
    assert callee.received[0].ruri_text == "sip:carol@192.0.2.20:5060"


def test_a_tcp_caller_gets_replies_on_its_connection_and_the_udp_callee_retransmissions():
    proxy = tm_proxy(RELAY)
    Callee(proxy, answers={})
    sent = proxy.send(request("INVITE", via_host="192.0.2.10:5070"), src=("192.0.2.10", 5070), proto="tcp")
    trying = [s for s in sent if s.data.startswith(b"SIP/2.0 100")]
    assert trying and trying[0].proto == "tcp" and trying[0].connection_id is not None
    retransmissions = [s for s in proxy.net.advance(0.6) if s.data.startswith(b"INVITE")]
    assert len(retransmissions) == 1 and retransmissions[0].proto == "udp"


def test_a_forced_send_socket_decides_the_protocol_of_a_uri_without_transport():
    proxy = tm_proxy('''
route {
    force_send_socket("tcp:192.0.2.1:5060");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
''')
    Callee(proxy, answers={}, proto="tcp")
    sent = proxy.send(request("INVITE"))
    [invite] = [s for s in sent if s.data.startswith(b"INVITE")]
    assert invite.proto == "tcp" and b"Via: SIP/2.0/TCP 192.0.2.1:5060" in invite.data


def test_an_end_to_end_ack_follows_a_forced_send_socket_too():
    proxy = tm_proxy('''
route {
    force_send_socket("tcp:192.0.2.1:5060");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
''')
    callee = Callee(proxy, answers={"INVITE": [(200, "c")]}, proto="tcp")
    proxy.send(request("INVITE"))
    sent = proxy.send(request("ACK", branch="z9hG4bKack", to_tag="c"))
    assert [(s.proto, s.data.split(b" ")[0]) for s in sent] == [("tcp", b"ACK")]
    assert callee.methods() == ["INVITE", "ACK"]
