"""The message pipeline of the core: what runs for a request, a reply, keep-alives, start-up and timers."""
from __future__ import annotations

from opensips_py.runtime import CORE_STATS
from opensips_py.script.context import ReceiveInfo
from tests.runtime.support import PROXY, UAC, UAS, Proxy, only, parsed, request, response

FORWARD = 'route {\n\tforward("udp:192.0.2.20:5060");\n}\n'


def test_core_statistics_use_the_opensips_names():
    proxy = Proxy(FORWARD)
    assert tuple(proxy.stats) == CORE_STATS
    assert set(CORE_STATS) >= {"rcv_requests", "rcv_replies", "fwd_requests", "fwd_replies", "drop_requests",
                               "drop_replies", "err_requests", "err_replies", "bad_URIs_rcvd", "bad_msg_hdr"}


def test_a_request_runs_the_main_route_and_is_forwarded():
    proxy = Proxy(FORWARD)
    sent = only(proxy.send(request()))
    assert (sent.proto, sent.host, sent.port) == ("udp", *UAS)
    assert parsed(sent).method == "INVITE"
    assert proxy.stats["rcv_requests"] == 1 and proxy.stats["fwd_requests"] == 1


def test_a_request_the_script_does_not_forward_is_silently_dropped():
    proxy = Proxy('route {\n\texit;\n}\n')
    assert proxy.send(request()) == []
    assert proxy.stats["rcv_requests"] == 1 and proxy.stats["fwd_requests"] == 0


def test_each_request_gets_a_fresh_context_but_vars_live_on():
    proxy = Proxy('startup_route {\n\t$var(n) = 0;\n}\nroute {\n\t$var(n) = $var(n) + 1;\n'
                  '\tif (isflagset("SEEN")) xlog("flag leaked\\n");\n'
                  '\tsetflag("SEEN");\n\txlog("n=$var(n)\\n");\n}\n')
    proxy.send(request(branch="z9hG4bK1"))
    proxy.send(request(branch="z9hG4bK2"))
    assert proxy.script_logs() == ["n=1", "n=2"]


def test_a_reply_runs_onreply_route_then_goes_to_the_second_via():
    proxy = Proxy(FORWARD + 'onreply_route {\n\txlog("reply $rs\\n");\n}\n')
    reply = response(180, "Ringing", [f"SIP/2.0/UDP {PROXY}:5060;branch=z9hG4bKx",
                                      "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK776asdhds"])
    sent = only(proxy.send(reply, src=UAS))
    assert (sent.host, sent.port) == ("192.0.2.10", 5070)
    assert [v.sent_by for v in parsed(sent).via] == ["192.0.2.10:5070"]
    assert proxy.script_logs() == ["reply 180"]
    assert proxy.stats["rcv_replies"] == 1 and proxy.stats["fwd_replies"] == 1


def test_drop_in_onreply_route_discards_a_provisional_reply_only():
    proxy = Proxy(FORWARD + 'onreply_route {\n\tdrop;\n}\n')
    vias = [f"SIP/2.0/UDP {PROXY}:5060;branch=z9hG4bKx", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1"]
    assert proxy.send(response(183, "Session Progress", vias), src=UAS) == []
    assert proxy.stats["drop_replies"] == 1
    assert len(proxy.send(response(200, "OK", vias), src=UAS)) == 1  # a final reply is still forwarded


def test_crlf_keepalive_datagrams_are_dropped_without_a_trace():
    proxy = Proxy(FORWARD)
    assert proxy.send(b"\r\n\r\n") == [] and proxy.send(b"\r\n") == []
    assert sum(proxy.stats.values()) == 0


def test_startup_route_runs_once_at_start():
    proxy = Proxy('startup_route {\n\txlog("up\\n");\n}\n' + FORWARD)
    proxy.net.start()
    proxy.send(request())
    assert proxy.script_logs() == ["up"]


def test_timer_route_runs_every_interval_on_the_manual_clock():
    proxy = Proxy('startup_route {\n\t$var(t) = 0;\n}\ntimer_route[tick, 5] {\n\t$var(t) = $var(t) + 1;\n'
                  '\txlog("tick $var(t)\\n");\n}\n' + FORWARD)
    assert proxy.core.next_timer() == proxy.net.clock.now + 5
    proxy.net.advance(4.9)
    assert proxy.script_logs() == []
    proxy.net.advance(10.2)
    assert proxy.script_logs() == ["tick 1", "tick 2", "tick 3"]


def test_a_timer_route_can_send_statelessly():
    proxy = Proxy(FORWARD + 'timer_route[noop, 1] {\n\txlog("t\\n");\n}\n')
    assert proxy.net.advance(1) == []
    assert proxy.script_logs() == ["t"]


def test_an_exception_in_our_code_is_logged_counted_and_the_next_message_still_works():
    proxy = Proxy(FORWARD)

    def broken(ctx):
        raise RuntimeError("boom")

    proxy.core._request_filters.insert(0, broken)
    assert proxy.send(request()) == []
    assert proxy.stats["err_requests"] == 1
    assert any("internal error" in line and "RuntimeError: boom" in line for line in proxy.logs)
    proxy.core._request_filters.pop(0)
    assert len(proxy.send(request())) == 1


def test_receive_returns_only_what_this_message_caused():
    proxy = Proxy(FORWARD)
    sock = proxy.core.sockets[0]
    now = proxy.net.clock.now
    first = proxy.core.receive(request(branch="z9hG4bKa"), ReceiveInfo(sock, *UAC, "udp"), now)
    second = proxy.core.receive(request(branch="z9hG4bKb"), ReceiveInfo(sock, *UAC, "udp"), now)
    assert len(first) == 1 and len(second) == 1 and first[0].data != second[0].data
