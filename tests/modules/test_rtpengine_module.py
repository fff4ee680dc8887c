"""The rtpengine module in a running script (virtual network, our relay as a real process): the SDP of the
message replaced through its lumps, output variables, rtpengine_manage's choice of command, $rtpstat and
$rtpquery, error_pv."""
from __future__ import annotations

import json

import pytest

from opensips_py.media.ngclient import NgClient
from opensips_py.sip import parse_message
from tests.modules.rtpengine_support import (  # noqa: F401 - fixtures
    OUR_MEDIA, OUR_NG, m_line, our_relay, phone_sdp, rtpengine_proxy, sdp_lines, sip_reply, sip_request,
    webrtc_sdp,
)

PLAIN = "trust-address replace-origin replace-session-connection ICE=remove RTP/AVP rtcp-mux-demux"
WEBRTC = ("trust-address replace-origin replace-session-connection ICE=force DTLS=passive SDES-off "
          "UDP/TLS/RTP/SAVPF rtcp-mux-offer generate-mid")

CALL_SCRIPT = f"""route {{
    if (is_method("INVITE")) {{
        if (!rtpengine_offer("{PLAIN}")) xlog("offer failed\\n");
    }} else if (is_method("BYE")) {{
        rtpengine_delete();
        xlog("after delete: $rtpstat\\n");
    }} else if (is_method("ACK") && has_body("application/sdp")) {{
        rtpengine_answer("{PLAIN}");
    }}
    forward("udp:192.0.2.20:5060");
}}

onreply_route {{
    if (has_body("application/sdp")) {{
        if (!rtpengine_answer("{PLAIN}")) xlog("answer failed\\n");
    }}
}}
"""


def query(call_id: str) -> dict:
    with NgClient("127.0.0.1", OUR_NG, timeout=2.0) as client:
        return client.command("query", call_id=call_id)


def relay_port(sdp: str) -> int:
    port = int(m_line(sdp)[1])
    assert OUR_MEDIA[0] <= port <= OUR_MEDIA[1]
    return port


def test_an_offer_replaces_only_the_sdp_and_content_length_follows(our_relay):
    proxy = rtpengine_proxy(CALL_SCRIPT)
    sent = proxy.send(sip_request("INVITE", call_id="mod-1", body=phone_sdp(23990, "192.0.2.10")))
    forwarded = parse_message(sent[-1].data)
    new_sdp = forwarded.body.decode()
    assert "c=IN IP4 127.0.0.1" in sdp_lines(new_sdp) and "o=- 1 1 IN IP4 127.0.0.1" in sdp_lines(new_sdp)
    relay_port(new_sdp)
    assert forwarded.content_length == len(forwarded.body)
    assert forwarded.header("Content-Type") == "application/sdp"
    assert forwarded.header("X-Anything") is None and forwarded.header("Call-ID") == "mod-1"
    proxy.send(sip_request("BYE", call_id="mod-1", to_tag="b7c3", cseq=2))


def test_a_whole_call_offer_answer_delete_through_the_relay(our_relay):
    proxy = rtpengine_proxy(CALL_SCRIPT)
    invite = proxy.send(sip_request("INVITE", call_id="mod-2", body=phone_sdp(23990)))
    towards_callee = relay_port(parse_message(invite[-1].data).body.decode())
    reply = proxy.send(sip_reply(200, call_id="mod-2", body=phone_sdp(23991)))
    towards_caller = relay_port(parse_message(reply[-1].data).body.decode())
    assert towards_caller != towards_callee
    state = query("mod-2")
    assert state["result"] == "ok" and set(state["tags"]) == {"1928301774", "b7c3"}
    proxy.send(sip_request("BYE", call_id="mod-2", to_tag="b7c3", cseq=2))
    # 3.6+ deletes without tags: rtpengine's reply then has no statistics, so $rtpstat is null
    assert proxy.script_logs()[-1] == "after delete: <null>"
    assert query("mod-2")["result"] == "error"  # the call is gone (delete-delay 0)


def test_sdp_var_gets_the_new_sdp_and_leaves_the_message_alone(our_relay):
    script = """route {
    rtpengine_offer("trust-address replace-origin", $var(node), $var(sdp));
    xlog("node=$var(node)\\n");
    xlog("$var(sdp)");
    forward("udp:192.0.2.20:5060");
}
"""
    proxy = rtpengine_proxy(script)
    original = phone_sdp(23990)
    sent = proxy.send(sip_request("INVITE", call_id="mod-3", body=original))
    assert parse_message(sent[-1].data).body.decode() == original.replace("\n", "\r\n")
    logs = proxy.script_logs()
    assert logs[0] == f"node=udp:127.0.0.1:{OUR_NG}"
    relay_port("\n".join(logs[1:]))
    with NgClient("127.0.0.1", OUR_NG) as client:
        client.command("delete", call_id="mod-3")


def test_the_body_argument_is_the_sdp_sent_and_the_message_sdp_is_replaced(our_relay):
    given = phone_sdp(23995).replace("\n", "\\r\\n")
    script = f"""route {{
    $var(body) = "{given}";
    rtpengine_offer("trust-address", , , "$var(body)");
    forward("udp:192.0.2.20:5060");
}}
"""
    proxy = rtpengine_proxy(script)
    sent = proxy.send(sip_request("INVITE", call_id="mod-4", body=phone_sdp(23990)))
    state = query("mod-4")
    stream = state["tags"]["1928301774"]["medias"][0]["streams"][0]
    assert stream["endpoint"]["port"] == 23995  # the relay was given the body argument, not the message's
    relay_port(parse_message(sent[-1].data).body.decode())
    with NgClient("127.0.0.1", OUR_NG) as client:
        client.command("delete", call_id="mod-4")


def test_a_multipart_body_has_only_its_sdp_part_replaced(our_relay):
    proxy = rtpengine_proxy(CALL_SCRIPT)
    sdp = phone_sdp(23990).replace("\n", "\r\n")
    body = ("--xyz\r\nContent-Type: application/isup;version=nxv3\r\n\r\n\x01\x02isup\r\n"
            f"--xyz\r\nContent-Type: application/sdp\r\n\r\n{sdp}\r\n--xyz--\r\n")
    sent = proxy.send(sip_request("INVITE", call_id="mod-5", body=body,
                                  content_type="multipart/mixed;boundary=xyz"))
    out = parse_message(sent[-1].data).body.decode()
    assert out.startswith("--xyz\r\nContent-Type: application/isup;version=nxv3\r\n\r\n\x01\x02isup\r\n--xyz\r\n"
                          "Content-Type: application/sdp\r\n\r\nv=0\r\n")
    assert out.endswith("\r\n--xyz--\r\n")
    relay_port(out.split("application/sdp\r\n\r\n", 1)[1].split("\r\n--xyz--")[0])
    proxy.send(sip_request("BYE", call_id="mod-5", to_tag="b7c3", cseq=2))


def test_offer_without_sdp_fails_without_a_command():
    proxy = rtpengine_proxy('route {\n\tif (!rtpengine_offer()) xlog("no sdp\\n");\n\texit;\n}\n',
                            socks="udp:127.0.0.1:1")
    proxy.send(sip_request("INVITE", call_id="mod-6"))
    assert proxy.script_logs()[-1] == "no sdp"
    assert proxy.core.modules["rtpengine"].counters["offers"] == 0


def test_answer_is_refused_in_requests_other_than_ack_and_prack():
    proxy = rtpengine_proxy('route {\n\tif (!rtpengine_answer()) xlog("refused\\n");\n\texit;\n}\n',
                            socks="udp:127.0.0.1:1")
    proxy.send(sip_request("INVITE", call_id="mod-7", body=phone_sdp(23990)))
    assert proxy.script_logs()[-1] == "refused"
    assert proxy.core.modules["rtpengine"].counters["answers"] == 0


def test_an_ack_with_sdp_answers_with_swapped_tags(our_relay):
    """Late offer: the 200 carried the offer (sent by the callee's side, tags swapped), the ACK the answer."""
    script = """route {
    if (is_method("ACK")) rtpengine_answer("trust-address");
    else if (is_method("BYE")) rtpengine_delete();
    forward("udp:192.0.2.20:5060");
}
onreply_route {
    rtpengine_offer("trust-address");
}
"""
    proxy = rtpengine_proxy(script)
    proxy.send(sip_request("INVITE", call_id="mod-8"))
    reply = proxy.send(sip_reply(200, call_id="mod-8", body=phone_sdp(23991)))
    relay_port(parse_message(reply[-1].data).body.decode())
    ack = proxy.send(sip_request("ACK", call_id="mod-8", to_tag="b7c3", body=phone_sdp(23990)))
    relay_port(parse_message(ack[-1].data).body.decode())
    state = query("mod-8")
    caller = state["tags"]["1928301774"]["medias"][0]["streams"][0]
    callee = state["tags"]["b7c3"]["medias"][0]["streams"][0]
    assert (caller["endpoint"]["port"], callee["endpoint"]["port"]) == (23990, 23991)
    proxy.send(sip_request("BYE", call_id="mod-8", to_tag="b7c3", cseq=2))


# ------------------------------------------------------------------------------------------------ manage

MANAGE_SCRIPT = """route {
    rtpengine_manage("trust-address replace-origin");
    xlog("$rm rc=$rc\\n");
    forward("udp:192.0.2.20:5060");
}
onreply_route {
    rtpengine_manage("trust-address replace-origin");
    xlog("$rs rc=$rc\\n");
}
"""


def test_manage_offers_in_invites_answers_in_replies_and_deletes_on_bye(our_relay):
    proxy = rtpengine_proxy(MANAGE_SCRIPT)
    module = proxy.core.modules["rtpengine"]
    proxy.send(sip_request("INVITE", call_id="man-1", body=phone_sdp(23990)))
    assert (proxy.script_logs()[-1], module.counters["offers"]) == ("INVITE rc=1", 1)
    proxy.send(sip_reply(180, call_id="man-1", reason="Ringing"))
    assert proxy.script_logs()[-1] == "180 rc=-1"  # no SDP: nothing to do
    proxy.send(sip_reply(200, call_id="man-1", body=phone_sdp(23991)))
    assert (proxy.script_logs()[-1], module.counters["answers"]) == ("200 rc=1", 1)
    proxy.send(sip_request("UPDATE", call_id="man-1", to_tag="b7c3", cseq=2, body=phone_sdp(23990)))
    assert (proxy.script_logs()[-1], module.counters["offers"]) == ("UPDATE rc=1", 2)
    proxy.send(sip_reply(200, call_id="man-1", cseq="2 UPDATE", body=phone_sdp(23991)))
    assert module.counters["answers"] == 2
    proxy.send(sip_request("OPTIONS", call_id="man-1", to_tag="b7c3", cseq=3))
    assert proxy.script_logs()[-1] == "OPTIONS rc=-1"
    proxy.send(sip_request("BYE", call_id="man-1", to_tag="b7c3", cseq=4))
    assert (proxy.script_logs()[-1], module.counters["deletes"]) == ("BYE rc=1", 1)
    assert query("man-1")["result"] == "error"


def test_manage_deletes_on_cancel_and_on_a_failure_reply(our_relay):
    proxy = rtpengine_proxy(MANAGE_SCRIPT)
    module = proxy.core.modules["rtpengine"]
    proxy.send(sip_request("INVITE", call_id="man-2", body=phone_sdp(23990)))
    proxy.send(sip_reply(486, call_id="man-2", reason="Busy Here"))
    assert (proxy.script_logs()[-1], module.counters["deletes"]) == ("486 rc=1", 1)
    proxy.send(sip_request("INVITE", call_id="man-3", body=phone_sdp(23990)))
    proxy.send(sip_request("CANCEL", call_id="man-3"))
    assert (proxy.script_logs()[-1], module.counters["deletes"]) == ("CANCEL rc=1", 2)


def test_manage_in_an_invite_without_sdp_does_nothing():
    proxy = rtpengine_proxy(MANAGE_SCRIPT, socks="udp:127.0.0.1:1")
    proxy.send(sip_request("INVITE", call_id="man-4"))
    assert proxy.script_logs()[-1] == "INVITE rc=-1"
    assert proxy.core.modules["rtpengine"].counters == {
        "offers": 0, "answers": 0, "deletes": 0, "other_commands": 0, "errors": 0, "node_timeouts": 0}


# ------------------------------------------------------------------------------------------------ PVs, errors

def test_rtpquery_is_the_query_reply_as_json_and_is_cached_per_message(our_relay):
    script = """route {
    if (is_method("INVITE")) rtpengine_offer("trust-address");
    else if (is_method("INFO")) {
        xlog("$rtpquery\\n");
        xlog("$rtpstat\\n");
        xlog("mos=$rtpstat(MOS-average)\\n");
    } else if (is_method("BYE")) rtpengine_delete();
    forward("udp:192.0.2.20:5060");
}
"""
    proxy = rtpengine_proxy(script)
    proxy.send(sip_request("INVITE", call_id="pv-1", body=phone_sdp(23990)))
    module = proxy.core.modules["rtpengine"]
    before = module.counters["other_commands"]
    proxy.send(sip_request("INFO", call_id="pv-1", cseq=2))
    logs = proxy.script_logs()
    document = json.loads(logs[-3])
    assert document["result"] == "ok" and "1928301774" in document["tags"]
    assert logs[-2].startswith("RTP: 0 bytes, 0 packets, 0 errors; RTCP:")
    assert logs[-1] == "mos=<null>"  # our relay keeps no MOS yet
    assert module.counters["other_commands"] == before + 1  # one query for the three reads
    proxy.send(sip_request("BYE", call_id="pv-1", to_tag="b7c3", cseq=3))


def test_an_error_reply_makes_offer_false_and_delete_true_as_in_opensips(our_relay):
    script = """route {
    if (!rtpengine_offer("ICE=force", , , "not an sdp")) xlog("offer false\\n");
    if (rtpengine_delete("call-id=never-offered")) xlog("delete true\\n");
    exit;
}
"""
    proxy = rtpengine_proxy(script, params='modparam("rtpengine", "error_pv", "$var(err)")\n')
    proxy.send(sip_request("INVITE", call_id="err-1", body=phone_sdp(23990)))
    assert proxy.script_logs()[-2:] == ["offer false", "delete true"]
    assert any("proxy replied with error" in line for line in proxy.logs)


def test_a_flag_error_is_written_to_error_pv():
    script = """route {
    if (!rtpengine_offer("via-branch=auto")) xlog("err=$var(err)\\n");
    exit;
}
"""
    proxy = rtpengine_proxy(script, socks="udp:127.0.0.1:1", params='modparam("rtpengine", "error_pv", "$var(err)")\n')
    proxy.send(sip_request("INVITE", call_id="err-2", body=phone_sdp(23990)))
    assert proxy.script_logs()[-1] == "err=can't get Via branch/extra ID"


def test_webrtc_flags_turn_a_phone_offer_into_a_browser_offer(our_relay):
    proxy = rtpengine_proxy(f"""route {{
    rtpengine_offer("{WEBRTC}");
    forward("udp:192.0.2.20:5060");
}}
""")
    sent = proxy.send(sip_request("INVITE", call_id="web-1", body=phone_sdp(23990)))
    lines = sdp_lines(parse_message(sent[-1].data).body.decode())
    assert m_line("\n".join(lines))[2] == "UDP/TLS/RTP/SAVPF"
    # an offer stays actpass (DTLS=passive shapes the answer), as rtpengine does
    assert "a=setup:actpass" in lines and "a=rtcp-mux" in lines and "a=mid:1" in lines
    assert any(line.startswith("a=ice-ufrag:") for line in lines)
    assert any(line.startswith("a=fingerprint:sha-256 ") for line in lines)
    assert not any(line.startswith("a=crypto:") for line in lines)  # SDES-off
    with NgClient("127.0.0.1", OUR_NG) as client:
        client.command("delete", call_id="web-1")
    assert webrtc_sdp(9)  # the browser side is covered by the interop tests


# ------------------------------------------------------------------------------------------------ with tm

def test_manage_offers_in_the_200_of_an_invite_without_sdp_when_tm_knows_the_transaction(our_relay):
    """Late offer: the INVITE had no SDP, so the 200's SDP is the offer (tags swapped: the callee offers)
    and the ACK's SDP is the answer (tags swapped back)."""
    from opensips_py.sip import build_reply
    from tests.modules.rtpengine_support import HEAD

    script = """route {
    rtpengine_manage("trust-address");
    xlog("$rm rc=$rc\\n");
    if (is_method("ACK")) {
        forward("udp:192.0.2.20:5060");
        exit;
    }
    t_on_reply("MEDIA");
    t_relay();
}
onreply_route[MEDIA] {
    rtpengine_manage("trust-address");
    xlog("$rs rc=$rc\\n");
}
"""
    proxy = rtpengine_proxy(script, head=HEAD + 'loadmodule "tm.so"\n')

    def callee(data: bytes, src):
        msg = parse_message(data)
        if msg.is_request and msg.method == "INVITE":
            return [build_reply(msg, 200, to_tag="callee", body=phone_sdp(23991).replace("\n", "\r\n").encode(),
                                content_type="application/sdp")]
        return []

    proxy.net.attach("192.0.2.20", 5060, callee)
    module = proxy.core.modules["rtpengine"]
    sent = proxy.send(sip_request("INVITE", call_id="late-1"))
    assert proxy.script_logs()[:2] == ["INVITE rc=-1", "200 rc=1"]
    assert module.counters["offers"] == 1
    to_caller = [s for s in sent if s.host == "192.0.2.10" and s.data.startswith(b"SIP/2.0 200")]
    relay_port(parse_message(to_caller[-1].data).body.decode())
    proxy.send(sip_request("ACK", call_id="late-1", to_tag="callee", body=phone_sdp(23990)))
    assert proxy.script_logs()[-1] == "ACK rc=1" and module.counters["answers"] == 1
    state = query("late-1")
    callee_stream = state["tags"]["callee"]["medias"][0]["streams"][0]
    caller_stream = state["tags"]["1928301774"]["medias"][0]["streams"][0]
    assert (callee_stream["endpoint"]["port"], caller_stream["endpoint"]["port"]) == (23991, 23990)
    with NgClient("127.0.0.1", OUR_NG) as client:
        client.command("delete", call_id="late-1")


def test_without_tm_a_200_with_sdp_is_always_an_answer(our_relay):
    proxy = rtpengine_proxy(MANAGE_SCRIPT)
    proxy.send(sip_request("INVITE", call_id="late-2"))
    proxy.send(sip_reply(200, call_id="late-2", body=phone_sdp(23991)))
    module = proxy.core.modules["rtpengine"]
    assert (module.counters["offers"], module.counters["answers"]) == (0, 1)
    assert any("Unknown call-id" in line for line in proxy.logs)  # an answer to a call never offered


def test_manage_on_the_invite_in_a_failure_route_deletes(our_relay):
    from opensips_py.sip import build_reply
    from tests.modules.rtpengine_support import HEAD

    script = """route {
    rtpengine_manage("trust-address");
    t_on_failure("GONE");
    t_relay();
}
failure_route[GONE] {
    rtpengine_manage();
    xlog("failure route rc=$rc\\n");
}
"""
    proxy = rtpengine_proxy(script, head=HEAD + 'loadmodule "tm.so"\n')
    proxy.net.attach("192.0.2.20", 5060, lambda data, src: [build_reply(parse_message(data), 486, to_tag="busy")]
                     if data.startswith(b"INVITE") else [])
    proxy.send(sip_request("INVITE", call_id="fail-1", body=phone_sdp(23990)))
    module = proxy.core.modules["rtpengine"]
    assert proxy.script_logs()[-1] == "failure route rc=1"
    assert (module.counters["offers"], module.counters["deletes"]) == (1, 1)
    assert query("fail-1")["result"] == "error"


def test_mi_teardown_ends_the_dialog_of_the_call_with_byes_to_both_legs():
    from opensips_py.mi import MIError
    from opensips_py.mi.host import MIHost, build_registry
    from opensips_py.sip import build_reply
    from tests.modules.rtpengine_support import HEAD

    script = """route {
    if (has_totag()) {
        if (is_method("ACK")) forward("udp:192.0.2.20:5060");
        exit;
    }
    create_dialog();
    t_relay();
}
"""
    proxy = rtpengine_proxy(script, socks="udp:127.0.0.1:1",
                            head=HEAD + 'loadmodule "tm.so"\nloadmodule "dialog.so"\n')
    received: list[str] = []

    def callee(data: bytes, src):
        msg = parse_message(data)
        if not msg.is_request:
            return []
        received.append(msg.method)
        if msg.method == "INVITE":
            return [build_reply(msg, 200, to_tag="callee", headers=["Contact: <sip:bob@192.0.2.20>"])]
        if msg.method == "BYE":
            return [build_reply(msg, 200)]
        return []

    proxy.net.attach("192.0.2.20", 5060, callee)
    proxy.net.attach("192.0.2.10", 5060, lambda data, src: [build_reply(parse_message(data), 200)]
                     if data.startswith(b"BYE") else [])
    proxy.send(sip_request("INVITE", call_id="td-1"))
    proxy.send(sip_request("ACK", call_id="td-1", to_tag="callee"))
    registry = build_registry(MIHost(), proxy.core.modules.values())
    with pytest.raises(MIError) as error:
        registry.execute("teardown", {"callid": "no-such-call"})
    assert (error.value.code, error.value.message) == (500, "Failed to terminate dialog")
    assert registry.execute("rtpengine:teardown", {"callid": "td-1"}) == "OK"
    sent = proxy.net.advance(1)
    byes = [(s.host, s.data.split(b" ", 1)[0]) for s in sent if s.data.startswith(b"BYE")]
    assert sorted(byes) == [("192.0.2.10", b"BYE"), ("192.0.2.20", b"BYE")]


def test_an_offer_in_a_branch_route_rewrites_that_branch(our_relay):
    """examples/opensips.cfg offers in branch_route[MANAGE_BRANCH]: the SDP of the branch sent changes."""
    from tests.modules.rtpengine_support import HEAD

    script = f"""route {{
    if (is_method("BYE")) {{
        rtpengine_delete();
        exit;
    }}
    t_on_branch("MEDIA");
    t_relay();
}}
branch_route[MEDIA] {{
    if (has_body("application/sdp")) rtpengine_offer("{PLAIN}");
}}
"""
    proxy = rtpengine_proxy(script, head=HEAD + 'loadmodule "tm.so"\n')
    sent = proxy.send(sip_request("INVITE", call_id="br-1", body=phone_sdp(23990)))
    to_callee = [s for s in sent if s.host == "192.0.2.20" and s.data.startswith(b"INVITE")]
    forwarded = parse_message(to_callee[0].data)
    relay_port(forwarded.body.decode())
    assert forwarded.content_length == len(forwarded.body)
    proxy.send(sip_request("BYE", call_id="br-1", to_tag="b7c3", cseq=2))


def test_the_transport_can_be_our_relay_in_process_for_virtual_network_runs():
    """No relay process, no ng socket: the module's transport is swapped for the relay's control plane."""
    from opensips_py.media.control import MediaRelay, RelayConfig
    from opensips_py.modules._rtpengine.transport import InProcessRelays

    proxy = rtpengine_proxy(CALL_SCRIPT, socks="udp:127.0.0.1:22222 udp:127.0.0.1:22223")
    relay = MediaRelay(RelayConfig(interfaces=["127.0.0.1"], port_min=23900, port_max=23949, delete_delay=0),
                       clock=proxy.net.clock)
    module = proxy.core.modules["rtpengine"]
    module.transport = InProcessRelays({"udp:127.0.0.1:22222": relay})  # the other node does not answer
    try:
        for call_id in ("vn-1", "vn-2", "vn-3"):
            sent = proxy.send(sip_request("INVITE", call_id=call_id, body=phone_sdp(23990)))
            assert 23900 <= int(m_line(parse_message(sent[-1].data).body.decode())[1]) <= 23949
        assert set(relay.calls) == {"vn-1", "vn-2", "vn-3"}
        assert module.sets.get(0).nodes[1].disabled  # vn-2 hashed to it (67 is odd): no answer, fail-over
        for call_id in ("vn-1", "vn-2", "vn-3"):
            proxy.send(sip_request("BYE", call_id=call_id, to_tag="b7c3", cseq=2))
        relay.tick()
        assert relay.ports_in_use() == 0
    finally:
        relay.close()
