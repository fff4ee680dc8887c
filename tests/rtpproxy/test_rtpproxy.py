"""rtpproxy against a real rtpproxy-protocol peer on loopback UDP (tests/rtpproxy/peer.py), the proxy on
the virtual network: start-up probing (V/VF, capabilities), a dead node at start-up, U/L commands and the
SDP rewrite (flags r, o, c, f, k, a, l; rtcp; port 0; hold), D, Q, P/S, node failure and weights, MI."""
from __future__ import annotations

import socket

import pytest

from opensips_py.sip import parse_message
from tests.modules.registrar_support import mi
from tests.rtpproxy.peer import RtpproxyPeer
from tests.runtime.support import UAS, Proxy, request, sip

SDP = ("v=0\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
       "m=audio 49170 RTP/AVP 0 8 101\na=rtcp:49171\na=rtpmap:0 PCMU/8000\n")
CALL_ID = "a84b4c76e66710@pc33.atlanta.com"


def proxy(socks: str, route: str, params: str = "", onreply: str = "") -> Proxy:
    return Proxy(f'''loadmodule "tm.so"
loadmodule "rtpproxy.so"
modparam("rtpproxy", "rtpproxy_sock", "{socks}")
modparam("rtpproxy", "rtpproxy_timeout", "0.2")
modparam("rtpproxy", "rtpproxy_retr", 2)
{params}
route {{
{route}
}}
{onreply}
''')


def invite(body: str = SDP, to_tag: str | None = None, src_host: str = "192.0.2.10",
           branch: str = "z9hG4bK776asdhds") -> bytes:
    return request(body=body, extra="Content-Type: application/sdp", to_tag=to_tag, via_host=f"{src_host}:5060",
                   branch=branch)


def offer_logs(p: Proxy) -> list[str]:
    return [line for line in p.script_logs() if line.startswith("rc=")]


def relayed_body(sends) -> str:
    [out] = [s for s in sends if s.data.startswith(b"INVITE")]
    return parse_message(out.data).body.decode()


def dead_port() -> int:
    """A loopback UDP port where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


OFFER = '''    $var(rc) = rtpproxy_offer("$var(flags)");
    xlog("rc=$var(rc)\\n");
    $du = "sip:192.0.2.20:5060"; t_relay();
'''


def offer_route(flags: str) -> str:
    return f'    $var(flags) = "{flags}";\n' + OFFER


# ------------------------------------------------------------------------------------------------ start-up

def test_startup_probes_version_and_capabilities():
    with RtpproxyPeer(caps=("20050322", "20081102")) as peer:
        p = proxy(peer.url, "    drop;")
        assert peer.commands[:2] == ["V", "VF 20050322"]
        assert len([c for c in peer.commands if c.startswith("VF ")]) == 11
        assert p.core.modules["rtpproxy"].sets.nodes()[0].caps == {"CODECS"}
        assert mi(p, "rtpproxy_show") == [{"Set": 0, "Nodes": [
            {"url": peer.url, "index": 0, "disabled": 0, "weight": 1, "recheck_ticks": 0}]}]


def test_nothing_listening_does_not_block_startup_and_disables_the_node():
    p = proxy(f"udp:localhost:{dead_port()}", "    drop;")
    [node] = mi(p, "rtpproxy_show")[0]["Nodes"]
    assert node["disabled"] == 1 and node["recheck_ticks"] == 60
    assert any("has been disabled temporarily" in line for line in p.logs)


def test_wrong_protocol_version_disables_the_node():
    with RtpproxyPeer() as peer:
        peer.reply_override = "20030101"
        p = proxy(peer.url, "    drop;")
        assert mi(p, "rtpproxy_show")[0]["Nodes"][0]["disabled"] == 1
        assert any("unsupported version of RTP proxy" in line for line in p.logs)


def test_sets_and_weights_from_the_parameter():
    with RtpproxyPeer() as a, RtpproxyPeer() as b:
        p = proxy(f"{a.url}=2 {b.url}", "    drop;", params=f'modparam("rtpproxy", "rtpproxy_sock", "3 == {b.url}")')
        shown = mi(p, "rtpproxy_show")
        assert [(s["Set"], [(n["url"], n["weight"]) for n in s["Nodes"]]) for s in shown] == [
            (0, [(a.url, 2), (b.url, 1)]), (3, [(b.url, 1)])]


# ------------------------------------------------------------------------------------------------ offer / answer

def test_offer_with_ro_sends_U_with_the_sdp_address_and_rewrites_c_m_o_rtcp():
    with RtpproxyPeer() as peer:
        p = proxy(peer.url, offer_route("ro"))
        body = relayed_body(p.send(invite()))
        assert peer.commands[-1] == f"Uc0,8,101 {CALL_ID} 192.0.2.10 49170 1928301774;1"
        assert "o=alice 2890844526 2890844526 IN IP4 203.0.113.5\r\n" in body
        assert "c=IN IP4 203.0.113.5\r\n" in body and "m=audio 35000 RTP/AVP 0 8 101\r\n" in body
        assert "a=rtcp:35001 IN IP4 203.0.113.5\r\n" in body
        assert body.endswith("a=rtpmap:0 PCMU/8000\r\na=nortpproxy:yes\r\n")
        assert offer_logs(p) == ["rc=1"]


def test_offer_without_r_uses_the_source_address_and_keeps_o():
    with RtpproxyPeer() as peer:
        p = proxy(peer.url, offer_route(""))
        body = relayed_body(p.send(invite(), src=("198.51.100.7", 5060)))
        assert peer.commands[-1].split()[2] == "198.51.100.7"
        assert "o=alice 2890844526 2890844526 IN IP4 192.0.2.10" in body


def test_offer_on_a_body_marked_proxied_is_refused_unless_forced():
    with RtpproxyPeer() as peer:
        twice = """    $var(a) = rtpproxy_offer("r");
    $var(b) = rtpproxy_offer("rf");
    xlog("rc=$var(a) $var(b)\\n");
    drop;"""
        p = proxy(peer.url, twice)
        before = len(peer.commands)
        p.send(invite(SDP + "a=nortpproxy:yes\n"))
        assert offer_logs(p) == ["rc=-1 1"]
        assert len(peer.commands) - before == 1  # only the forced one reached the rtpproxy


def test_answer_in_onreply_route_sends_L_with_both_tags():
    with RtpproxyPeer() as peer:
        route = '''    rtpproxy_offer("r");
    t_on_reply("nat");
    $du = "sip:192.0.2.20:5060"; t_relay();'''
        onreply = '''onreply_route[nat] {
    if (has_body("application/sdp")) { $var(rc) = rtpproxy_answer("r"); xlog("rc=$var(rc)\\n"); }
}'''
        p = Proxy(f'''loadmodule "tm.so"
loadmodule "sipmsgops.so"
loadmodule "rtpproxy.so"
modparam("rtpproxy", "rtpproxy_sock", "{peer.url}")
route {{
{route}
}}
{onreply}
''')
        sent = p.send(invite())
        via = [s for s in sent if s.data.startswith(b"INVITE")][0]
        branch_via = parse_message(via.data).header_values("Via")
        answer_sdp = SDP.replace("alice", "bob").replace("192.0.2.10", "192.0.2.20").replace("49170", "30000")
        answer_sdp = answer_sdp.replace("a=rtcp:49171\n", "")
        wire = answer_sdp.replace("\n", "\r\n")
        lines = ["SIP/2.0 200 OK"] + [f"Via: {v}" for v in branch_via]
        lines += ["To: Bob <sip:bob@biloxi.com>;tag=b7c3", "From: Alice <sip:alice@atlanta.com>;tag=1928301774",
                  f"Call-ID: {CALL_ID}", "CSeq: 314159 INVITE", "Contact: <sip:bob@192.0.2.20>",
                  "Content-Type: application/sdp", f"Content-Length: {len(wire)}"]
        out = p.send(sip("\n".join(lines) + "\n\n" + answer_sdp), src=UAS)
        assert peer.commands[-1] == f"Lc0,8,101 {CALL_ID} 192.0.2.20 30000 1928301774;1 b7c3;1"
        [up] = [s for s in out if s.data.startswith(b"SIP/2.0 200")]
        body = parse_message(up.data).body.decode()
        assert "c=IN IP4 203.0.113.5" in body and "m=audio 35002 RTP/AVP" in body
        assert "rc=1" in p.script_logs()


def test_port_zero_media_is_skipped_and_hold_address_kept():
    sdp = ("v=0\no=a 1 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\nm=audio 49170 RTP/AVP 0\n"
           "m=video 0 RTP/AVP 31\nm=image 49180 udptl t38\nm=text 5000 TCP/MSRP *\n")
    with RtpproxyPeer() as peer:
        p = proxy(peer.url, offer_route("r"))
        body = relayed_body(p.send(invite(sdp)))
        offers = [c for c in peer.commands if c.startswith("U")]
        assert [c.split()[3:5] for c in offers] == [["49170", "1928301774;1"], ["49180", "1928301774;3"]]
        assert "c=IN IP4 0.0.0.0\r\n" in body  # on hold stays on hold
        assert "m=video 0 RTP/AVP 31" in body and "m=text 5000 TCP/MSRP *" in body
        assert "m=audio 35000 " in body and "m=image 35002 udptl t38" in body


def test_keep_body_flag_only_reports_the_address_in_ret_var():
    with RtpproxyPeer() as peer:
        route = '''    $var(rc) = rtpproxy_offer("rk", , , $var(sock), $var(ret));
    xlog("rc=$var(rc) sock=$var(sock) ret=$var(ret)\\n");
    $du = "sip:192.0.2.20:5060"; t_relay();'''
        p = proxy(peer.url, route)
        body = relayed_body(p.send(invite()))
        assert body == SDP.replace("\n", "\r\n")
        assert offer_logs(p) == [f"rc=1 sock={peer.url} ret=203.0.113.5:35000"]


def test_ip_address_argument_replaces_the_media_address():
    with RtpproxyPeer() as peer:
        route = '''    rtpproxy_offer("r", "198.18.0.1");
    $du = "sip:192.0.2.20:5060"; t_relay();'''
        p = proxy(peer.url, route)
        assert "c=IN IP4 198.18.0.1" in relayed_body(p.send(invite()))


def test_offer_into_a_body_variable_leaves_the_message_alone():
    with RtpproxyPeer() as peer:
        route = '''    $var(body) = $rb;
    $var(rc) = rtpproxy_offer("r", , , , , $var(body));
    xlog("rc=$var(rc)\\n");
    xlog("$var(body)");
    $du = "sip:192.0.2.20:5060"; t_relay();'''
        p = proxy(peer.url, route)
        relayed = relayed_body(p.send(invite()))
        assert relayed == SDP.replace("\n", "\r\n")
        assert any("m=audio 35000 RTP/AVP" in line for line in p.logs)


def test_offer_with_no_sdp_is_minus_1():
    with RtpproxyPeer() as peer:
        p = proxy(peer.url, offer_route("r"))
        p.send(request())
        assert offer_logs(p) == ["rc=-1"]


# ------------------------------------------------------------------------------------------------ other commands

def test_unforce_sends_D_with_the_tags():
    with RtpproxyPeer() as peer:
        p = proxy(peer.url, '    $var(rc) = rtpproxy_unforce();\n    xlog("rc=$var(rc)\\n");\n    drop;')
        p.send(request("BYE", to_tag="b7c3"))
        assert peer.commands[-1] == f"D {CALL_ID} 1928301774 b7c3"
        assert offer_logs(p) == ["rc=1"]


def test_stats_fill_the_four_counters():
    with RtpproxyPeer() as peer:
        route = '''    $var(rc) = rtpproxy_stats($var(up), $var(down), $var(sent), $var(fail));
    xlog("rc=$var(rc) $var(up) $var(down) $var(sent) $var(fail)\\n");
    drop;'''
        p = proxy(peer.url, route)
        p.send(request("BYE", to_tag="b7c3"))
        assert peer.commands[-1] == f"Q {CALL_ID} 1928301774;1 b7c3;1"
        assert offer_logs(p) == ["rc=1 10 20 30 0"]


def test_stream_and_stop_to_the_caller_and_callee():
    with RtpproxyPeer() as peer:
        route = '''    rtpproxy_stream2uac("ringback", -1);
    rtpproxy_stream2uas("hold", 3);
    rtpproxy_stop_stream2uac();
    drop;'''
        p = proxy(peer.url, route)
        p.send(request("INFO", to_tag="b7c3"))
        assert peer.commands[-3:] == [f"P-1 {CALL_ID} ringback session 1928301774;1 b7c3;1",
                                      f"P3 {CALL_ID} hold session b7c3;1 1928301774;1",
                                      f"S {CALL_ID} 1928301774;1 b7c3;1"]


# ------------------------------------------------------------------------------------------------ failures

def test_a_node_that_stops_answering_is_disabled_and_the_offer_fails():
    with RtpproxyPeer() as peer:
        p = proxy(peer.url, offer_route("r"))
        peer.silent = True
        p.send(invite())
        assert offer_logs(p) == ["rc=-1"]
        [node] = mi(p, "rtpproxy_show")[0]["Nodes"]
        assert node["disabled"] == 1 and node["recheck_ticks"] == 60
        assert any("does not respond, disable it" in line for line in p.logs)


def test_offer_moves_to_the_node_that_answers():
    with RtpproxyPeer() as good:
        dead = f"udp:127.0.0.1:{dead_port()}"
        p = proxy(f"{dead} {good.url}", offer_route("r"))
        body = relayed_body(p.send(invite()))
        assert "m=audio 35000" in body and any(c.startswith("U") for c in good.commands)


def test_error_reply_to_an_offer_is_minus_1():
    with RtpproxyPeer() as peer:
        p = proxy(peer.url, offer_route("r"))
        peer.reply_override = "E3"
        p.send(invite())
        assert offer_logs(p) == ["rc=-1"]


def test_mi_enable_disables_for_ever_and_back():
    with RtpproxyPeer() as peer:
        p = proxy(peer.url, offer_route("r"))
        assert mi(p, "rtpproxy_enable", {"url": peer.url, "enable": 0}) == "OK"
        assert mi(p, "rtpproxy_show")[0]["Nodes"][0]["recheck_ticks"] == 0xFFFFFFFF
        p.send(invite())
        assert offer_logs(p) == ["rc=-1"]
        assert mi(p, "rtpproxy_enable", {"url": peer.url, "enable": 1}) == "OK"
        assert "m=audio 35000" in relayed_body(p.send(invite(branch="z9hG4bK2")))
        with pytest.raises(Exception, match="RTP proxy not found"):
            mi(p, "rtpproxy_enable", {"url": "udp:1.2.3.4:5", "enable": 1})


def test_recording_to_the_default_place_and_to_a_destination_per_stream():
    with RtpproxyPeer() as peer:
        route = '''    rtpproxy_start_recording();
    rtpproxy_start_recording(, , , "/rec/call", 2);
    rtpproxy_start_recording(, , , "/rec/all");
    drop;'''
        p = proxy(peer.url, route)
        p.send(invite(to_tag="b7c3"))
        assert peer.commands[-3:] == [f"R {CALL_ID} 1928301774 b7c3", f"C {CALL_ID} /rec/call 1928301774;2 b7c3;2",
                                      f"C {CALL_ID} /rec/all 1928301774;1 b7c3;1"]  # one stream in the SDP


def test_reload_reads_the_sockets_table(tmp_path):
    import sqlite3
    with RtpproxyPeer() as a, RtpproxyPeer() as b:
        db = tmp_path / "r.db"
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE rtpproxy_sockets (id INTEGER PRIMARY KEY, rtpproxy_sock TEXT, set_id INTEGER)")
        con.execute("INSERT INTO rtpproxy_sockets (rtpproxy_sock, set_id) VALUES (?, 1)", (a.url,))
        con.commit()
        p = proxy(a.url, "    drop;", params=f'loadmodule "db_sqlite.so"\nmodparam("rtpproxy", "db_url", '
                                            f'"sqlite://{db}")')
        assert [s["Set"] for s in mi(p, "rtpproxy_show")] == [0, 1]
        con.execute("INSERT INTO rtpproxy_sockets (rtpproxy_sock, set_id) VALUES (?, 2)", (b.url,))
        con.commit()
        con.close()
        assert mi(p, "rtpproxy:reload") == "OK"
        assert [(s["Set"], s["Nodes"][0]["url"]) for s in mi(p, "rtpproxy_show")] == [
            (0, a.url), (1, a.url), (2, b.url)]
        assert "V" in b.commands


def test_all_stats_fill_an_avp_with_the_ten_counters_in_order():
    with RtpproxyPeer() as peer:
        route = '''    $avp(st) = "stale";
    $var(rc) = rtpproxy_all_stats($avp(st));
    xlog("rc=$var(rc) $(avp(st)[0]) $(avp(st)[4]) $(avp(st)[9])\\n");
    drop;'''
        p = proxy(peer.url, route)
        p.send(request("BYE", to_tag="b7c3"))
        assert peer.commands[-2:] == [
            f"Q {CALL_ID} 1928301774;1 b7c3;1 ttl npkts_ina npkts_ino nrelayed ndropped",
            f"Q {CALL_ID} 1928301774;1 b7c3;1 rtpa_nsent rtpa_nrcvd rtpa_ndups rtpa_nlost rtpa_perrs"]
        assert offer_logs(p) == ["rc=1 10 50 50"]
