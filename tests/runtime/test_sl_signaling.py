"""sl and signaling: stateless replies, the To-tag rule, ACK absorption, error replies, statistics."""
from __future__ import annotations

from tests.runtime.support import UAC, Proxy, only, parsed, request

REPLY = 'route {\n\tif (!sl_send_reply(404, "Not Here")) xlog("failed\\n");\n\txlog("rc=$rc\\n");\n}\n'


def test_sl_send_reply_answers_to_the_source_with_the_request_headers():
    proxy = Proxy(REPLY)
    sent = only(proxy.send(request()))
    reply = parsed(sent)
    assert (sent.host, sent.port, sent.proto) == ("192.0.2.10", 5060, "udp")
    assert (reply.status, reply.reason) == (404, "Not Here")
    assert reply.call_id == "a84b4c76e66710@pc33.atlanta.com" and str(reply.cseq) == "314159 INVITE"
    assert reply.via1.branch == "z9hG4bK776asdhds"
    assert proxy.script_logs() == ["rc=1"]


def test_the_to_tag_is_stable_for_a_request_and_its_retransmissions():
    proxy = Proxy(REPLY)
    first = parsed(only(proxy.send(request()))).to.tag
    again = parsed(only(proxy.send(request()))).to.tag
    other = parsed(only(proxy.send(request(branch="z9hG4bKnew")))).to.tag
    assert first == again != other
    assert len(first) == 37 and first[4] == "."  # CRC16 of our signature, ".", MD5 of the Via


def test_a_to_tag_already_present_is_kept_and_100_gets_none():
    proxy = Proxy('route {\n\tsl_send_reply($var(code), "X");\n}\nstartup_route {\n\t$var(code) = 100;\n}\n')
    assert parsed(only(proxy.send(request()))).to.tag is None
    proxy.core.process.vars["code"] = 486
    assert parsed(only(proxy.send(request(to_tag="abc")))).to.tag == "abc"


def test_an_ack_is_never_answered_and_sl_send_reply_still_returns_1():
    proxy = Proxy(REPLY)
    assert proxy.send(request("ACK", to_tag="x")) == []
    assert proxy.script_logs() == ["rc=1"]


def test_the_ack_to_our_own_reply_is_absorbed_before_the_script():
    proxy = Proxy('route {\n\txlog("script $rm\\n");\n\tif ($rm == "INVITE") sl_send_reply(486, "Busy");\n'
                  '\telse forward("udp:192.0.2.20:5060");\n}\n')
    tag = parsed(only(proxy.send(request()))).to.tag
    assert proxy.send(request("ACK", to_tag=tag)) == []
    assert proxy.script_logs() == ["script INVITE"]
    assert proxy.core.modules["sl"].stats()["received_ACKs"] == 1
    assert proxy.stats["drop_requests"] == 1


def test_an_ack_with_another_tag_or_after_the_window_goes_to_the_script():
    proxy = Proxy('route {\n\tif ($rm == "INVITE") sl_send_reply(486, "Busy");\n'
                  '\telse forward("udp:192.0.2.20:5060");\n}\n')
    tag = parsed(only(proxy.send(request()))).to.tag
    assert len(proxy.send(request("ACK", to_tag="someone-else"))) == 1
    proxy.net.advance(3)  # SL_RPL_WAIT_TIME is 2 s
    assert len(proxy.send(request("ACK", to_tag=tag))) == 1


def test_reply_statistics_count_by_class():
    proxy = Proxy('route {\n\tif ($rm == "OPTIONS") sl_send_reply(200, "OK");\n'
                  '\telse sl_send_reply(503, "Busy");\n}\n')
    proxy.send(request("OPTIONS"))
    proxy.send(request("INVITE"))
    stats = proxy.core.modules["sl"].stats()
    assert (stats["2xx_replies"], stats["5xx_replies"], stats["sent_replies"]) == (1, 1, 2)
    assert proxy.core.all_stats()["sl"] == stats


def test_enable_stats_0_keeps_no_statistics():
    proxy = Proxy('modparam("sl", "enable_stats", 0)\nroute {\n\tsl_send_reply(200, "OK");\n}\n')
    proxy.send(request("OPTIONS"))
    assert proxy.core.modules["sl"].stats() == {}


def test_sl_reply_error_reports_the_last_internal_error():
    proxy = Proxy('route {\n\tif (!forward("udp:nowhere.invalid")) sl_reply_error();\n}\n')
    reply = parsed(only(proxy.send(request())))
    assert (reply.status, reply.reason) == (476, "Unresolvable destination (476/SL)")
    assert proxy.core.modules["sl"].stats()["sent_err_replies"] == 1


def test_sl_reply_error_without_an_error_is_a_500():
    reply = parsed(only(Proxy('route {\n\tsl_reply_error();\n}\n').send(request())))
    assert (reply.status, reply.reason) == (500, "Server error occurred (1/SL)")


def test_append_to_reply_headers_and_body_go_into_the_local_reply():
    proxy = Proxy('loadmodule "sipmsgops.so"\nroute {\n\tappend_to_reply("X-Why: because\\r\\nX-Two: 2\\r\\n");\n'
                  '\tsl_send_reply(403, "Forbidden");\n}\n')
    reply = parsed(only(proxy.send(request())))
    assert reply.header("X-Why") == "because" and reply.header("X-Two") == "2"


def test_a_redirect_lists_the_destination_set_in_contact():
    proxy = Proxy('route {\n\t$ru = "sip:bob@192.0.2.80";\n\tsl_send_reply(302, "Moved");\n}\n')
    reply = parsed(only(proxy.send(request())))
    assert reply.header("Contact") == "<sip:bob@192.0.2.80>"


def test_the_reply_goes_to_the_via_port_unless_rport_or_force_rport():
    plain = only(Proxy(REPLY).send(request(via_host="192.0.2.10:5070"), src=("192.0.2.10", 40000)))
    assert plain.port == 5070
    rport = only(Proxy(REPLY).send(request(via="SIP/2.0/UDP 192.0.2.10:5070;rport;branch=z9hG4bK1"),
                                   src=("192.0.2.10", 40000)))
    assert rport.port == 40000 and parsed(rport).via1.rport == 40000
    forced = only(Proxy('route {\n\tforce_rport();\n\tsl_send_reply(200, "OK");\n}\n').send(
        request(via_host="192.0.2.10:5070"), src=("192.0.2.10", 40000)))
    assert forced.port == 40000 and parsed(forced).via1.rport == 40000


def test_received_is_added_to_the_reply_via_when_the_source_differs():
    sent = only(Proxy(REPLY).send(request(via_host="pc33.atlanta.com"), src=("198.51.100.9", 5060)))
    assert parsed(sent).via1.received == "198.51.100.9" and sent.host == "198.51.100.9"


def test_a_server_header_is_added_unless_server_signature_is_off():
    assert parsed(only(Proxy(REPLY).send(request()))).header("Server").startswith("opensips-py")
    quiet = Proxy('server_signature = 0\n' + REPLY)
    assert parsed(only(quiet.send(request()))).header("Server") is None


# ------------------------------------------------------------------------------------------------ signaling

def test_send_reply_without_a_transaction_replies_statelessly():
    proxy = Proxy('route {\n\tsend_reply(403, "Nope");\n\txlog("$rc $sig_local_totag\\n");\n}\n')
    reply = parsed(only(proxy.send(request())))
    assert (reply.status, reply.reason) == (403, "Nope")
    assert proxy.script_logs() == [f"1 {reply.to.tag}"]


def test_send_reply_to_an_ack_sends_nothing_and_returns_1():
    proxy = Proxy('route {\n\tsend_reply(403, "Nope");\n\txlog("$rc\\n");\n}\n')
    assert proxy.send(request("ACK", to_tag="t")) == [] and proxy.script_logs() == ["1"]


def test_a_request_from_elsewhere_is_answered_back_to_its_own_source():
    proxy = Proxy(REPLY)
    sent = only(proxy.send(request(via_host="192.0.2.99:5060"), src=("192.0.2.99", 5060)))
    assert sent.host == "192.0.2.99" and sent.host != UAC[0]
