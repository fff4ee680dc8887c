"""nathelper on the virtual network: NAT tests, Contact/SDP rewriting, received for registrar, pings."""
from __future__ import annotations

import pytest

from opensips_py.sip import parse_message
from tests.modules.registrar_support import MODULES, invite, lookup_log, mi, register, reply
from tests.runtime.support import Proxy, sip

NAT_MODULES = MODULES + 'loadmodule "nathelper.so"\n'
NATED = ("203.0.113.9", 40000)  # the public address a NAT puts in front of 192.168.1.20:5060


def nat_proxy(params: str, route: str) -> Proxy:
    return Proxy(NAT_MODULES + params + route)


def private_invite(sdp: str = "", extra: str = "") -> bytes:
    body = sdp.replace("\n", "\r\n")
    lines = ["INVITE sip:bob@192.0.2.20 SIP/2.0", "Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-n1",
             "Max-Forwards: 70", "To: <sip:bob@example.com>", "From: <sip:alice@example.com>;tag=a1",
             "Call-ID: nat-1", "CSeq: 1 INVITE", "Contact: <sip:alice@192.168.1.20:5060;transport=udp>"]
    if extra:
        lines += extra.strip("\n").split("\n")
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return sip("\n".join(lines) + "\n\n") + body.encode()


@pytest.mark.parametrize("flags, expected", [
    ('"private-contact"', "yes"), ('"diff-ip-src-via"', "yes"), ('"private-via"', "yes"),
    ('"diff-port-src-via"', "yes"), ('"diff-ip-src-contact"', "yes"), ('"diff-port-src-contact"', "yes"),
    ('"private-sdp"', "no"), ("19", "yes"), ("8", "no"),
])
def test_nat_uac_test_each_flag(flags, expected):
    p = nat_proxy("", f'route {{ if (nat_uac_test({flags})) xlog("yes\\n"); else xlog("no\\n"); }}')
    p.send(private_invite(), src=NATED)
    assert p.script_logs() == [expected]


def test_nat_uac_test_is_false_for_a_ua_with_its_real_address():
    p = nat_proxy("", 'route { if (nat_uac_test("private-contact,diff-ip-src-via,diff-port-src-via")) '
                      'xlog("yes\\n"); else xlog("no\\n"); }')
    p.send(invite().replace(b"192.0.2.99:5060;branch", b"192.0.2.99:5060;branch"), src=("192.0.2.99", 5060))
    assert p.script_logs() == ["no"]


def test_private_sdp_and_rfc_6333_addresses():
    p = nat_proxy("", 'route { if (nat_uac_test("private-sdp")) xlog("sdp\\n"); '
                      'if (nat_uac_test(1)) xlog("c1918\\n"); if (nat_uac_test(129)) xlog("cgn\\n"); }')
    sdp = "v=0\no=- 1 1 IN IP4 100.64.0.7\ns=-\nc=IN IP4 100.64.0.7\nt=0 0\nm=audio 4000 RTP/AVP 0\n"
    data = private_invite(sdp).replace(b"192.168.1.20:5060;transport", b"192.0.0.1:5060;transport")
    p.send(data, src=NATED)
    assert p.script_logs() == ["sdp", "cgn"]


def test_fix_nated_contact_rewrites_the_sent_contact_once_and_keeps_the_script_view():
    p = nat_proxy("", 'route { fix_nated_contact(";nat=yes"); xlog("ct=$ct\\n"); '
                      'if (!fix_nated_contact()) xlog("second refused\\n"); forward(); }')
    out = p.send(private_invite(), src=NATED)
    assert [line for line in p.script_logs() if ":nathelper:" not in line] == \
        ["ct=<sip:alice@192.168.1.20:5060;transport=udp>", "second refused"]
    assert any("second attempt" in line for line in p.logs)
    assert parse_message(out[0].data).header("contact") == "<sip:alice@203.0.113.9:40000;nat=yes;transport=udp>"


def test_add_rcv_param_as_header_and_uri_parameter():
    p = nat_proxy("", 'route { if ($rU == "hdr") add_rcv_param(); else add_rcv_param(1); forward(); }')
    out = p.send(private_invite().replace(b"INVITE sip:bob@", b"INVITE sip:hdr@"), src=NATED)
    assert parse_message(out[0].data).header("contact") == \
        '<sip:alice@192.168.1.20:5060;transport=udp>;received="sip:203.0.113.9:40000"'
    out = p.send(private_invite().replace(b"Call-ID: nat-1", b"Call-ID: nat-2"), src=NATED, proto="tcp")
    assert parse_message(out[0].data).header("contact") == \
        '<sip:alice@192.168.1.20:5060;transport=udp;received="sip:203.0.113.9:40000;transport=tcp">'


REG_ROUTE = """
modparam("usrloc", "nat_bflag", "NAT")
modparam("nathelper", "received_avp", "$avp(rcv)")
modparam("registrar", "received_avp", "$avp(rcv)")
route {
    if (nat_uac_test("private-contact")) { setbflag("NAT"); if (is_method("REGISTER")) fix_nated_register(); }
    if (is_method("REGISTER")) { save("location"); exit; }
    lookup("location");
    xlog("lookup ru=$ru du=$du\\n");
}
"""


def test_fix_nated_register_gives_registrar_the_received_address():
    p = nat_proxy("", REG_ROUTE)
    ok = reply(p, register(contacts=["<sip:alice@192.168.1.20:5060>"], expires=600), src=NATED)
    assert ok.header("contact") == '<sip:alice@192.168.1.20:5060>;expires=600;received="sip:203.0.113.9:40000"'
    contact = mi(p, "ul_dump")["Domains"][0]["AORs"][0]["Contacts"][0]
    assert contact["Received"] == "sip:203.0.113.9:40000" and contact["Cflags"] == "NAT"
    p.send(invite(), src=("192.0.2.99", 5060))
    assert lookup_log(p) == "lookup ru=sip:alice@192.168.1.20:5060 du=sip:203.0.113.9:40000"


SDP = "v=0\no=- 1 1 IN IP4 192.168.1.20\ns=-\nc=IN IP4 192.168.1.20\nt=0 0\nm=audio 4000 RTP/AVP 0\n" \
      "m=video 0 RTP/AVP 96\nc=IN IP4 0.0.0.0\n"


def test_fix_nated_sdp_rewrites_c_and_o_keeping_the_old_addresses_and_null_ips():
    p = nat_proxy("", 'route { fix_nated_sdp("rewrite-media-ip,rewrite-origin-ip,add-dir-active"); forward(); }')
    out = p.send(private_invite(SDP), src=NATED)
    body = parse_message(out[0].data).body.decode()
    assert "c=IN IP4 203.0.113.9" in body and "o=- 1 1 IN IP4 203.0.113.9" in body
    assert "a=oldcip:192.168.1.20" in body and "a=oldoip:192.168.1.20" in body
    assert "a=direction:active" in body
    assert "c=IN IP4 0.0.0.0" in body  # on hold: kept without rewrite-null-ips


def test_fix_nated_sdp_with_an_ip_and_3_2_mask():
    p = nat_proxy('modparam("nathelper", "oldip_skip", "c")\n',
                  'route { fix_nated_sdp(18, "198.51.100.1"); forward(); }')
    body = parse_message(p.send(private_invite(SDP), src=NATED)[0].data).body.decode()
    assert body.count("c=IN IP4 198.51.100.1") == 2 and "oldcip" not in body


PING = """
modparam("usrloc", "nat_bflag", "NAT")
modparam("nathelper", "natping_interval", 30)
modparam("nathelper", "ping_nated_only", 1)
modparam("nathelper", "sipping_bflag", "SIPPING")
modparam("nathelper", "sipping_from", "sip:pinger@192.0.2.1")
modparam("nathelper", "received_avp", "$avp(rcv)")
modparam("registrar", "received_avp", "$avp(rcv)")
route {
    if ($fU == "carol") { save("location"); exit; }
    setbflag("NAT");
    if ($fU == "alice") setbflag("SIPPING");
    fix_nated_register();
    save("location");
}
"""


def test_natping_sends_options_or_keepalives_to_nated_contacts_only():
    p = nat_proxy("", PING)
    reply(p, register(user="alice", contacts=["<sip:alice@192.168.1.20>"], expires=600), src=NATED)
    reply(p, register(user="bob", contacts=["<sip:bob@192.168.1.21>"], expires=600), src=("203.0.113.10", 41000))
    reply(p, register(user="carol", contacts=["<sip:carol@192.0.2.30>"], expires=600), src=("192.0.2.30", 5060))
    sent = p.net.advance(30)
    assert len(sent) == 2  # one ping per NATed contact per interval
    by_target = {(s.host, s.port): s.data for s in sent}
    assert set(by_target) == {NATED, ("203.0.113.10", 41000)}  # carol is not behind a NAT
    options = parse_message(by_target[NATED])
    assert options.method == "OPTIONS" and options.ruri_text == "sip:alice@192.168.1.20"
    assert options.header("from").startswith("<sip:pinger@192.0.2.1>;tag=")
    assert by_target[("203.0.113.10", 41000)] == b"\x00\x00\x00\x00"
    assert mi(p, "nh_enable_ping") == {"Status": 1}
    mi(p, "nh_enable_ping", {"status": 0})
    assert p.net.advance(30) == []


def test_natping_over_tcp_sends_crlf_on_the_open_connection_only_with_natping_tcp():
    route = PING.replace('modparam("nathelper", "sipping_bflag", "SIPPING")\n', "")
    for natping_tcp, expected in ((0, []), (1, [b"\r\n\r\n"])):
        p = nat_proxy(f'modparam("nathelper", "natping_tcp", {natping_tcp})\n', route)
        p.send(register(user="bob", contacts=["<sip:bob@192.168.1.21;transport=tcp>"], expires=600),
               src=("203.0.113.10", 41000), proto="tcp")
        sent = p.net.advance(30)
        assert [s.data for s in sent] == expected
        if expected:
            assert sent[0].proto == "tcp" and sent[0].connection_id is not None
