"""Stateless forwarding: destinations, Via and branch (RFC 3261 §16.6, §16.11), received/rport (§18.2.1,
RFC 3581), response routing (§18.2.2), TCP connection reuse."""
from __future__ import annotations

import pytest

from opensips_py.runtime.forward import parse_destination, stateless_branch
from opensips_py.sip import parse_message
from tests.runtime.support import PROXY, UAC, UAS, Proxy, only, parsed, request, response

TO_UAS = 'route {\n\tforward("udp:192.0.2.20:5060");\n}\n'


def forwarded(proxy: Proxy, data: bytes, src=UAC, proto="udp"):
    return parsed(only(proxy.send(data, src, proto)))


# ------------------------------------------------------------------------------------------------ Via and branch

def test_our_via_goes_on_top_with_the_socket_address_and_a_magic_cookie_branch():
    msg = forwarded(Proxy(TO_UAS), request())
    top, received = msg.via[0], msg.via[1]
    assert (top.transport, top.host, top.port) == ("UDP", PROXY, 5060)
    assert top.is_rfc3261_branch and top.branch != received.branch
    assert received.branch == "z9hG4bK776asdhds"


def test_a_retransmission_gets_the_same_branch_and_a_new_request_another():
    proxy = Proxy(TO_UAS)
    first = forwarded(proxy, request()).via1.branch
    again = forwarded(proxy, request()).via1.branch
    other = forwarded(proxy, request(branch="z9hG4bKother")).via1.branch
    assert first == again != other


def test_cancel_and_the_ack_of_a_non_2xx_get_the_branch_of_their_invite():
    proxy = Proxy(TO_UAS)
    invite = forwarded(proxy, request("INVITE")).via1.branch
    cancel = forwarded(proxy, request("CANCEL")).via1.branch
    ack = forwarded(proxy, request("ACK", to_tag="b7c3")).via1.branch
    assert invite == cancel == ack


def test_without_an_rfc3261_branch_the_from_tag_call_id_and_cseq_seed_the_branch():
    a = parse_message(request(via="SIP/2.0/UDP 192.0.2.10:5060"))
    b = parse_message(request(via="SIP/2.0/UDP 192.0.2.10:5060", cseq=2))
    assert stateless_branch(a).startswith("z9hG4bK") and stateless_branch(a) != stateless_branch(b)


def test_the_as_address_of_the_socket_is_written_in_our_via():
    head = 'socket = udp:192.0.2.1:5060 as 203.0.113.7:5080\nloadmodule "proto_udp.so"\n'
    msg = forwarded(Proxy(TO_UAS, head=head), request())
    assert msg.via1.sent_by == "203.0.113.7:5080"


def test_set_advertised_address_and_add_local_rport_change_our_via():
    proxy = Proxy('route {\n\tset_advertised_address("sip.example.net");\n\tset_advertised_port("5099");\n'
                  '\tadd_local_rport();\n\tforward("udp:192.0.2.20:5060");\n}\n')
    top = forwarded(proxy, request()).via1
    assert top.sent_by == "sip.example.net:5099" and top.has_rport and top.rport is None


# ------------------------------------------------------------------------------------------------ received / rport

def test_received_is_added_when_the_source_differs_from_the_sent_by_host():
    msg = forwarded(Proxy(TO_UAS), request(via_host="pc33.atlanta.com"), src=("198.51.100.9", 5060))
    assert msg.via[1].received == "198.51.100.9" and not msg.via[1].has_rport


def test_nothing_is_added_when_the_source_matches_the_sent_by():
    msg = forwarded(Proxy(TO_UAS), request())
    assert msg.via[1].received is None and msg.via[1].raw == "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds"


def test_rport_gets_the_source_port_and_received_the_source_ip_when_the_client_asks():
    data = request(via="SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK9")
    msg = forwarded(Proxy(TO_UAS), data, src=("198.51.100.9", 40123))
    via = msg.via[1]
    assert (via.received, via.rport, via.branch) == ("198.51.100.9", 40123, "z9hG4bK9")


def test_force_rport_fills_rport_even_when_the_client_did_not_ask():
    proxy = Proxy('route {\n\tforce_rport();\n\tforward("udp:192.0.2.20:5060");\n}\n')
    via = forwarded(proxy, request(), src=("192.0.2.10", 40000)).via[1]
    assert via.rport == 40000 and via.received == "192.0.2.10"


# ------------------------------------------------------------------------------------------------ destinations

def test_forward_without_argument_uses_the_request_uri():
    sent = only(Proxy('route {\n\tforward();\n}\n').send(request(ruri="sip:bob@192.0.2.30:5070")))
    assert (sent.host, sent.port, sent.proto) == ("192.0.2.30", 5070, "udp")


def test_dst_uri_wins_over_the_request_uri_and_leaves_it_unchanged():
    proxy = Proxy('route {\n\t$du = "sip:192.0.2.40:5080";\n\tforward();\n}\n')
    sent = only(proxy.send(request(ruri="sip:bob@192.0.2.30")))
    assert (sent.host, sent.port) == ("192.0.2.40", 5080)
    assert parsed(sent).ruri_text == "sip:bob@192.0.2.30"


def test_a_rewritten_request_uri_is_the_destination_and_the_new_request_line():
    proxy = Proxy('route {\n\t$rU = "carol";\n\t$rd = "192.0.2.50";\n\tforward();\n}\n')
    sent = only(proxy.send(request(ruri="sip:bob@192.0.2.30")))
    assert (sent.host, sent.port) == ("192.0.2.50", 5060)
    assert parsed(sent).start_line == "INVITE sip:carol@192.0.2.50 SIP/2.0"


def test_uri_maddr_transport_and_sips_defaults():
    assert parse_destination("sip:a@example.com;maddr=192.0.2.9;transport=tcp").host == "192.0.2.9"
    assert parse_destination("sip:a@example.com;transport=TCP").proto == "tcp"
    target = parse_destination("sips:a@example.com")
    assert (target.proto, target.effective_port) == ("tls", 5061)
    assert parse_destination("tcp:[2001:db8::1]:5070").host == "2001:db8::1"
    assert parse_destination("192.0.2.5").effective_port == 5060


def test_a_host_name_is_resolved_once_through_the_resolver():
    proxy = Proxy('route {\n\tforward("udp:uas.example.test:5060");\n}\n', hosts={"uas.example.test": "192.0.2.77"})
    assert only(proxy.send(request())).host == "192.0.2.77"


def test_an_unresolvable_destination_makes_forward_false_and_counts_a_drop():
    proxy = Proxy('route {\n\tif (!forward("udp:nowhere.invalid:5060")) xlog("failed $rc\\n");\n}\n')
    assert proxy.send(request()) == []
    assert proxy.stats["drop_requests"] == 1 and proxy.script_logs() == ["failed -476"]


def test_forward_to_tcp_uses_the_tcp_socket_and_adds_content_length():
    proxy = Proxy('route {\n\tforward("tcp:192.0.2.20:5060");\n}\n')
    data = request().replace(b"Content-Length: 0\r\n", b"")
    sent = only(proxy.send(data))
    msg = parsed(sent)
    assert sent.proto == "tcp" and sent.socket.proto == "tcp"
    assert msg.via1.transport == "TCP" and msg.content_length == 0


def test_send_passes_the_request_as_is_with_extra_headers():
    proxy = Proxy('route {\n\tsend("udp:192.0.2.20:5060", "X-Sent: yes\\r\\n");\n}\n')
    msg = parsed(only(proxy.send(request())))
    assert len(msg.via) == 1 and msg.header("X-Sent") == "yes"


def test_force_send_socket_picks_the_sending_socket():
    head = ('socket = udp:192.0.2.1:5060\nsocket = udp:192.0.2.2:5060\nloadmodule "proto_udp.so"\n')
    proxy = Proxy('route {\n\tforce_send_socket("udp:192.0.2.2:5060");\n\tforward("udp:192.0.2.20:5060");\n}\n',
                  head=head)
    sent = only(proxy.send(request()))
    assert sent.socket.host == "192.0.2.2" and parsed(sent).via1.host == "192.0.2.2"


def test_forwarding_twice_sends_two_copies_each_with_one_via_of_ours():
    proxy = Proxy('route {\n\tforward("udp:192.0.2.20:5060");\n\tforward("udp:192.0.2.21:5060");\n}\n')
    sends = proxy.send(request())
    assert [s.host for s in sends] == ["192.0.2.20", "192.0.2.21"]
    assert all(len(parsed(s).via) == 2 for s in sends)


# ------------------------------------------------------------------------------------------------ responses

def test_a_response_goes_to_received_and_rport_of_the_second_via():
    proxy = Proxy(TO_UAS)
    reply = response(200, "OK", [f"SIP/2.0/UDP {PROXY}:5060;branch=z9hG4bKx",
                                 "SIP/2.0/UDP 10.0.0.5:5060;received=198.51.100.9;rport=40123;branch=z9hG4bK9"])
    sent = only(proxy.send(reply, src=UAS))
    assert (sent.host, sent.port) == ("198.51.100.9", 40123)


def test_a_response_goes_to_the_via_maddr_and_default_port():
    proxy = Proxy(TO_UAS)
    reply = response(200, "OK", [f"SIP/2.0/UDP {PROXY};branch=z9hG4bKx",
                                 "SIP/2.0/UDP pc.example.com;maddr=192.0.2.66;branch=z9hG4bK9"])
    sent = only(proxy.send(reply, src=UAS))
    assert (sent.host, sent.port) == ("192.0.2.66", 5060)


def test_a_response_whose_top_via_is_not_ours_is_dropped():
    proxy = Proxy(TO_UAS)
    reply = response(200, "OK", ["SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKx",
                                 "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK9"])
    assert proxy.send(reply, src=UAS) == []
    assert proxy.stats["drop_replies"] == 1 and proxy.stats["fwd_replies"] == 0


def test_a_response_to_the_broadcast_address_is_never_relayed_when_the_top_via_is_foreign():
    from tests.shared import CORPUS
    data = (CORPUS / "rfc4475" / "bcast.dat").read_bytes()
    proxy = Proxy(TO_UAS)
    assert proxy.send(data, src=UAS) == []


def test_a_response_for_us_with_a_single_via_is_dropped():
    proxy = Proxy(TO_UAS)
    assert proxy.send(response(200, "OK", [f"SIP/2.0/UDP {PROXY}:5060;branch=z9hG4bKx"]), src=UAS) == []
    assert proxy.stats["drop_replies"] == 1


# ------------------------------------------------------------------------------------------------ TCP

def test_a_reply_to_a_tcp_request_goes_back_on_the_same_connection():
    proxy = Proxy('route {\n\tsl_send_reply(200, "OK");\n}\n')
    data = request("OPTIONS", via="SIP/2.0/TCP 192.0.2.10:5070;branch=z9hG4bK5")
    sent = only(proxy.send(data, src=("192.0.2.10", 40001), proto="tcp"))
    assert sent.proto == "tcp" and sent.connection_id is not None and (sent.host, sent.port) == ("192.0.2.10", 40001)


def test_a_tcp_response_is_relayed_on_the_connection_its_request_came_on():
    proxy = Proxy('route {\n\tforward("tcp:192.0.2.20:5060");\n}\n')
    invite = request(via="SIP/2.0/TCP 192.0.2.10:5070;branch=z9hG4bK5")
    out = only(proxy.send(invite, src=("192.0.2.10", 40001), proto="tcp"))
    our_branch = parsed(out).via1.branch
    reply = response(180, "Ringing", [f"SIP/2.0/TCP {PROXY}:5060;branch={our_branch}",
                                      "SIP/2.0/TCP 192.0.2.10:5070;branch=z9hG4bK5"])
    back = only(proxy.send(reply, src=("192.0.2.20", 5060), proto="tcp"))
    uac_connection = proxy.core.connection_for("tcp", "192.0.2.10", 40001)
    assert back.proto == "tcp" and back.connection_id == uac_connection
    assert out.connection_id != uac_connection  # the UAS leg is a connection of its own


def test_a_reply_finds_a_browser_by_the_connection_id_in_our_via():
    """A WebSocket client's Via names an unreachable .invalid host and no rport: OpenSIPS puts the connection id
    in its own Via (;i=) so the stateless reply goes back over that connection; so do we."""
    proxy = Proxy('route {\n\tforward("udp:192.0.2.20:5060");\n}\n')
    invite = request(via="SIP/2.0/TCP df7jal23ls0d.invalid;branch=z9hG4bK5")
    out = only(proxy.send(invite, src=("192.0.2.10", 40001), proto="tcp"))
    our_via = parsed(out).via1
    uac_connection = proxy.core.connection_for("tcp", "192.0.2.10", 40001)
    assert our_via.params["i"] == f"{uac_connection:x}"
    reply = response(200, "OK", [our_via.raw, "SIP/2.0/TCP df7jal23ls0d.invalid;branch=z9hG4bK5"])
    back = only(proxy.send(reply, src=UAS))
    assert back.proto == "tcp" and back.connection_id == uac_connection
    assert (back.host, back.port) == ("192.0.2.10", 40001)
    assert parsed(back).via1.host == "df7jal23ls0d.invalid"


def test_requests_to_a_peer_that_reached_us_over_tcp_reuse_its_connection():
    proxy = Proxy('route {\n\tif ($rm == "REGISTER") { sl_send_reply(200, "OK"); exit; }\n'
                  '\tforward("tcp:192.0.2.10:5070");\n}\n')
    register = request("REGISTER", ruri="sip:192.0.2.1", via="SIP/2.0/TCP 192.0.2.10:5070;branch=z9hG4bKr")
    ok = only(proxy.send(register, src=("192.0.2.10", 40001), proto="tcp"))
    invite = only(proxy.send(request(branch="z9hG4bKi"), src=UAS))
    assert invite.proto == "tcp" and invite.connection_id == ok.connection_id


def test_a_closed_connection_is_forgotten():
    proxy = Proxy('route {\n\tsl_send_reply(200, "OK");\n}\n')
    data = request("OPTIONS", via="SIP/2.0/TCP 192.0.2.10:5070;branch=z9hG4bK5")
    sent = only(proxy.send(data, src=("192.0.2.10", 40001), proto="tcp"))
    proxy.net.close_connection(sent.connection_id)
    assert proxy.core.connection_for("tcp", "192.0.2.10", 40001) is None


@pytest.mark.parametrize("cut", [1, 17, 100])
def test_a_stream_message_split_anywhere_is_handled_once_complete(cut):
    proxy = Proxy('route {\n\tsl_send_reply(200, "OK");\n}\n')
    data = request("OPTIONS", via="SIP/2.0/TCP 192.0.2.10:5070;branch=z9hG4bK5")
    assert proxy.send(data[:cut], src=("192.0.2.10", 40001), proto="tcp") == []
    assert len(proxy.send(data[cut:], src=("192.0.2.10", 40001), proto="tcp")) == 1


def test_a_crlf_ping_on_a_stream_is_answered_with_a_pong():
    proxy = Proxy('route {\n\texit;\n}\n')
    sent = only(proxy.send(b"\r\n\r\n", src=("192.0.2.10", 40001), proto="tcp"))
    assert sent.data == b"\r\n"
