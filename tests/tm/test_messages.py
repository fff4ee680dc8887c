"""What tm writes itself (messages.py) and its timer lists (timers.py)."""
from __future__ import annotations

from opensips_py.modules.tm.messages import relayed_reply
from opensips_py.sip import parse_message
from tests.tm.support import UAS, Callee, request, tm_proxy

REPLY = (b"SIP/2.0 200 OK\r\n"
         b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKab.0 , SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKcaller\r\n"
         b"Via: SIP/2.0/UDP 192.0.2.99\r\n"
         b"To: <sip:bob@biloxi.com>;tag=b\r\nFrom: <sip:alice@atlanta.com>;tag=a\r\nCall-ID: c\r\n"
         b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")


def test_a_relayed_reply_loses_only_our_via_from_a_comma_list():
    relayed = parse_message(relayed_reply(parse_message(REPLY), "udp"))
    assert [v.host for v in relayed.via] == ["192.0.2.10", "192.0.2.99"]


def test_a_relayed_reply_over_tcp_gets_a_content_length_and_keeps_its_own_lumps_untouched():
    reply = parse_message(REPLY.replace(b"Content-Length: 0\r\n", b""))
    data = relayed_reply(reply, "tcp", ["WWW-Authenticate: Digest realm=\"x\""])
    assert b"Content-Length: 0" in data and b'WWW-Authenticate: Digest realm="x"' in data
    assert not reply.lumps


def test_the_cancel_we_build_copies_the_route_of_the_branch_request():
    proxy = tm_proxy('''
route {
    if (is_method("CANCEL")) { t_relay(); exit; }
    append_hf("Route: <sip:192.0.2.20;lr>\\r\\n");
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
''')
    callee = Callee(proxy, answers={"INVITE": [(180, "c")]})
    proxy.send(request("INVITE"))
    proxy.send(request("CANCEL"))
    invite, cancel = callee.received
    assert cancel.method == "CANCEL" and cancel.ruri_text == invite.ruri_text
    assert cancel.header("route") == "<sip:192.0.2.20;lr>" and cancel.cseq.number == invite.cseq.number
    assert cancel.header("user-agent") == "opensips-py" and cancel.max_forwards == 70


def test_disarmed_timers_leave_their_list_at_once():
    proxy = tm_proxy('route { $du = "sip:192.0.2.20:5060"; t_relay(); }')
    Callee(proxy, UAS, answers={"INVITE": [(180, "c")]})
    timers = proxy.core.modules["tm"].layer.timers
    proxy.send(request("INVITE"))
    assert timers.pending() == 1   # the branch's fr_inv timer; its retransmission and first fr timers are gone
    proxy.send(request("INVITE", call_id="other@x", branch="z9hG4bKother"))
    assert timers.pending() == 2


def test_timers_of_different_lists_fire_in_time_order():
    proxy = tm_proxy('route { exit; }')
    layer = proxy.core.modules["tm"].layer
    fired: list[str] = []
    proxy.net.start()
    layer.timers.arm(3.0, lambda arg, now: fired.append(arg), "c")
    layer.timers.arm(1.0, lambda arg, now: fired.append(arg), "a")
    entry = layer.timers.arm(2.0, lambda arg, now: fired.append(arg), "x")
    layer.timers.arm(2.0, lambda arg, now: fired.append(arg), "b")
    layer.timers.disarm(entry)
    proxy.net.advance(5)
    assert fired == ["a", "b", "c"]
