"""Script scenarios of b2b_logic on the virtual network: b2b_server_new/b2b_client_new/b2b_init_request, the
request route with $b2b_logic.* and b2b_pass_request/b2b_send_reply/b2b_end_dlg_leg/b2b_delete_entity, and
b2b_bridge (late SDP, no-late-sdp, hold, notify) as the SIPssert refer and prepaid scenarios use them."""
from __future__ import annotations

from opensips_py.modules.b2b_logic.helpers import hold_sdp
from tests.b2b.support import ALICE, BOB, CAROL, MEDIA, UA, b2b_proxy

REFER = """modparam("b2b_logic", "script_req_route", "b2b_logic_request")
route {
    if (has_totag()) { send_reply(481, "Call/Transaction Does Not Exist"); exit; }
    $b2b_logic.ctx(callee) = $ru;
    b2b_server_new("caller");
    b2b_client_new("callee", $ru);
    b2b_init_request("refer");
    $var(key) = $b2b_logic.key;
    exit;
}
route[b2b_logic_request] {
    xlog("req $rm from $b2b_logic.entity(id) in $b2b_logic.scenario ctx=$b2b_logic.ctx(callee)\\n");
    if ($rm != "REFER") { b2b_pass_request(); exit; }
    b2b_send_reply(202, "Accepted");
    BYE_LEG
    b2b_client_new("referee", $hdr(Refer-To));
    b2b_bridge("peer", "referee", , "FLAGS");
}
"""


def refer_call(flags: str = "", end_leg: bool = True):
    script = REFER.replace("FLAGS", flags).replace("BYE_LEG", "b2b_end_dlg_leg();" if end_leg else "")
    proxy = b2b_proxy(script)
    alice = UA("alice", ALICE).attach(proxy)
    bob = UA("bob", BOB).attach(proxy)
    carol = UA("carol", CAROL).attach(proxy)
    alice.invite("sip:bob@192.0.2.20:5060")
    return proxy, alice, bob, carol


def test_the_request_route_sees_the_entity_scenario_and_context():
    proxy, alice, bob, carol = refer_call()
    bob.request("OPTIONS")
    assert "req OPTIONS from callee in refer ctx=sip:bob@192.0.2.20:5060" in proxy.script_logs()
    assert alice.requests("OPTIONS")  # passed on


def test_refer_bridges_the_peer_with_late_sdp_and_ends_the_referrer():
    proxy, alice, bob, carol = refer_call()
    alice.request("REFER", extra=["Refer-To: <sip:carol@192.0.2.30:5060>"])
    assert alice.replies(202)[0].to.tag.startswith("B2B.")
    assert alice.requests("BYE")  # b2b_end_dlg_leg()
    invite = carol.requests("INVITE")[0]
    assert invite.body == b""  # late SDP: carol makes the offer
    assert invite.from_.uri_text == "sip:bob@192.0.2.20:5060"  # the From of the peer's dialog
    reinvite = bob.requests("INVITE")[1]
    assert b"192.0.2.30" in reinvite.body  # carol's offer to bob
    (ack,) = carol.requests("ACK")
    assert b"192.0.2.20" in ack.body  # bob's answer in carol's ACK
    # the new pair is bridged: a BYE from carol reaches bob
    carol.request("BYE")
    assert bob.requests("BYE") and carol.replies(200, "BYE")
    assert proxy.core.modules["b2b_logic"].tuples == {}


def test_no_late_sdp_offers_the_old_sdp_first_then_renegotiates():
    proxy, alice, bob, carol = refer_call("no-late-sdp")
    alice.request("REFER", extra=["Refer-To: <sip:carol@192.0.2.30:5060>"])
    invite = carol.requests("INVITE")[0]
    assert b"192.0.2.20" in invite.body  # the SDP received from bob, the old entity
    reinvite = bob.requests("INVITE")[1]
    assert reinvite.body == b""  # bob is asked for a new offer
    assert b"192.0.2.20" in carol.requests("INVITE")[1].body  # bob's offer to carol
    assert len(carol.requests("ACK")) == 2 and len(bob.requests("ACK")) == 2


def test_notify_tells_the_referrer_how_the_transfer_went():
    proxy, alice, bob, carol = refer_call("notify", end_leg=False)
    alice.request("REFER", extra=["Refer-To: <sip:carol@192.0.2.30:5060>"])
    notifies = alice.requests("NOTIFY")
    assert [n.body for n in notifies] == [b"SIP/2.0 100 Trying", b"SIP/2.0 200 OK"]
    assert notifies[0].header("event") == f"refer;id={alice.cseq}"
    assert notifies[0].header("subscription-state") == "active;expires=60"
    assert notifies[1].header("subscription-state") == "terminated;reason=noresource"
    assert notifies[0].header("content-type") == "message/sipfrag"
    assert alice.requests("BYE")  # the transfer succeeded: the referrer is let go


def test_a_failed_transfer_with_rollback_keeps_the_call():
    proxy, alice, bob, carol = refer_call("notify,rollback-failed", end_leg=False)
    carol.answer = 486
    alice.request("REFER", extra=["Refer-To: <sip:carol@192.0.2.30:5060>"])
    assert alice.requests("NOTIFY")[-1].body == b"SIP/2.0 486 Busy Here"
    assert not alice.requests("BYE") and not bob.requests("BYE")
    alice.request("BYE")  # the original call still works end to end
    assert bob.requests("BYE") and alice.replies(200, "BYE")


def test_hold_puts_the_old_entity_on_hold_first():
    proxy, alice, bob, carol = refer_call("hold")
    alice.request("REFER", extra=["Refer-To: <sip:carol@192.0.2.30:5060>"])
    hold = bob.requests("INVITE")[1]
    assert b"a=inactive" in hold.body
    assert carol.requests("INVITE")[0].body == b""


def test_hold_sdp_marks_each_stream_inactive_once():
    sdp = b"v=0\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\na=sendrecv\r\nm=video 2 RTP/AVP 96\r\n"
    held = hold_sdp(sdp)
    assert held == b"v=0\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\na=inactive\r\nm=video 2 RTP/AVP 96\r\na=inactive\r\n"
    assert hold_sdp(held) == b""


PREPAID = """modparam("b2b_logic", "script_req_route", "b2b_logic_request")
route {
    $b2b_logic.ctx(state) = "1";
    $b2b_logic.ctx(callee_uri) = $ru;
    b2b_server_new("caller");
    b2b_client_new("media", "sip:prepaid@192.0.2.40:5060");
    b2b_init_request("prepaid");
    exit;
}
route[b2b_logic_request] {
    if (!is_method("BYE")) { b2b_pass_request(); exit; }
    if ($b2b_logic.ctx(state) == "1" && $b2b_logic.entity(id) == "media") {
        b2b_send_reply(200, "OK");
        b2b_delete_entity();
        b2b_client_new("callee", $b2b_logic.ctx(callee_uri));
        b2b_bridge("caller", "callee");
        $b2b_logic.ctx(state) = "2";
    } else {
        b2b_pass_request();
    }
}
"""


def test_prepaid_moves_the_caller_from_the_media_server_to_the_callee():
    proxy = b2b_proxy(PREPAID)
    alice = UA("alice", ALICE).attach(proxy)
    media = UA("media", MEDIA).attach(proxy)
    bob = UA("bob", BOB).attach(proxy)
    alice.invite("sip:bob@192.0.2.20:5060")
    assert media.requests("INVITE") and not bob.requests("INVITE")
    media.request("BYE")
    assert media.replies(200, "BYE")[0].contacts[0].uri_text == "sip:192.0.2.1:5060"
    assert bob.requests("INVITE")[0].body == b""
    assert b"192.0.2.20" in alice.requests("INVITE")[0].body  # re-INVITE with bob's offer
    assert b"192.0.2.10" in bob.requests("ACK")[0].body
    tup, = proxy.core.modules["b2b_logic"].tuples.values()
    assert tup.vals["state"] == "2"


def test_b2b_functions_outside_the_b2b_routes_fail():
    proxy = b2b_proxy("""route {
    if (b2b_pass_request()) xlog("passed\\n"); else xlog("refused\\n");
    send_reply(500, "x");
}
""")
    alice = UA("alice", ALICE).attach(proxy)
    alice.invite("sip:bob@192.0.2.20:5060")
    assert "refused" in proxy.script_logs()


PARKING = """modparam("b2b_logic", "script_req_route", "b2b_logic_request")
modparam("b2b_logic", "old_entity_term_delay", DELAY)
route {
    if ($rU == "pickup") {
        if (!b2b_bridge_request($var(parked), 0, , "FLAGS")) send_reply(500, "No bridge");
        exit;
    }
    b2b_server_new("caller");
    b2b_client_new("media", "sip:parking@192.0.2.40:5060");
    b2b_init_request("parking");
    $var(parked) = $b2b_logic.key;
    exit;
}
route[b2b_logic_request] {
    b2b_pass_request();
}
"""


def parked_call(flags: str = "", delay: int = 0):
    proxy = b2b_proxy(PARKING.replace("FLAGS", flags).replace("DELAY", str(delay)))
    alice = UA("alice", ALICE).attach(proxy)
    media = UA("media", MEDIA).attach(proxy)
    carol = UA("carol", CAROL).attach(proxy)
    alice.invite("sip:park@192.0.2.1:5060")
    return proxy, alice, media, carol


def test_bridge_request_joins_a_new_caller_with_a_parked_one():
    proxy, alice, media, carol = parked_call()
    carol.invite("sip:pickup@192.0.2.1:5060", call_id="pickup-1@192.0.2.30")
    assert media.requests("BYE")  # the parking media server is let go at once
    reinvite = alice.requests("INVITE")[0]
    assert b"192.0.2.30" in reinvite.body  # carol's offer to the parked caller
    ok = carol.replies(200, "INVITE")[0]
    assert ok.to.tag.startswith("B2B.") and b"192.0.2.10" in ok.body
    assert len(alice.requests("ACK")) == 1  # carol's ACK passed on
    carol.request("BYE")
    assert alice.requests("BYE")


def test_late_bye_ends_the_old_entity_only_after_the_ack_and_the_delay():
    proxy, alice, media, carol = parked_call("late_bye", delay=2)
    carol.invite("sip:pickup@192.0.2.1:5060", call_id="pickup-1@192.0.2.30")
    assert alice.requests("INVITE") and carol.replies(200, "INVITE")
    assert not media.requests("BYE")
    proxy.net.advance(2.5)
    assert media.requests("BYE")


REPLY_ROUTE = """modparam("b2b_logic", "script_req_route", "b2b_logic_request")
modparam("b2b_logic", "script_reply_route", "b2b_logic_reply")
route {
    b2b_server_new("caller");
    b2b_client_new("callee", $ru);
    b2b_init_request("redirect");
    exit;
}
route[b2b_logic_request] { b2b_pass_request(); }
route[b2b_logic_reply] {
    xlog("reply $rs $rm from $b2b_logic.entity(id) at $si\\n");
    b2b_handle_reply("FLAGS");
}
"""


def redirected_call(flags: str):
    proxy = b2b_proxy(REPLY_ROUTE.replace("FLAGS", flags))
    alice = UA("alice", ALICE).attach(proxy)
    bob = UA("bob", BOB, answer=302).attach(proxy)
    alice.invite("sip:bob@192.0.2.20:5060")
    return proxy, alice, bob


def test_the_reply_route_runs_and_pass_3xx_contact_keeps_the_redirect_target():
    proxy, alice, bob = redirected_call("pass-3xx-contact")
    assert "reply 180 INVITE from callee at 192.0.2.20" in proxy.script_logs()
    assert "reply 302 INVITE from callee at 192.0.2.20" in proxy.script_logs()
    assert alice.replies(302)[0].contacts[0].uri_text == bob.contact


def test_without_pass_3xx_contact_the_redirect_shows_our_contact():
    proxy, alice, bob = redirected_call("")
    assert alice.replies(302)[0].contacts[0].uri_text == "sip:192.0.2.1:5060"


RETRY = REFER.replace('modparam("b2b_logic", "script_req_route", "b2b_logic_request")',
                      'modparam("b2b_logic", "script_req_route", "b2b_logic_request")\n'
                      'modparam("b2b_logic", "script_reply_route", "b2b_logic_reply")') + """
route[b2b_logic_reply] {
    if ($b2b_logic.entity(id) == "referee" && $rm == "INVITE" && $rs >= 300) {
        b2b_client_new("media", "sip:failed@192.0.2.40:5060");
        b2b_bridge_retry("media");
    } else {
        b2b_handle_reply();
    }
}
"""


def test_bridge_retry_replaces_the_failed_referee():
    proxy = b2b_proxy(RETRY.replace("FLAGS", "").replace("BYE_LEG", "b2b_end_dlg_leg();"))
    alice = UA("alice", ALICE).attach(proxy)
    bob = UA("bob", BOB).attach(proxy)
    carol = UA("carol", CAROL, answer=486).attach(proxy)
    media = UA("media", MEDIA).attach(proxy)
    alice.invite("sip:bob@192.0.2.20:5060")
    alice.request("REFER", extra=["Refer-To: <sip:carol@192.0.2.30:5060>"])
    assert carol.requests("INVITE") and media.requests("INVITE")
    assert b"192.0.2.40" in bob.requests("INVITE")[1].body  # bob bridged with the media server instead
    assert not bob.requests("BYE")


def test_client_headers_come_from_the_two_avps():
    proxy = b2b_proxy("""route {
    $avp(hn) = "X-First"; $avp(hv) = "1";
    $avp(hn) = "X-Second"; $avp(hv) = "2";
    b2b_server_new("caller");
    b2b_client_new("callee", $ru, , , , $avp(hn), $avp(hv));
    b2b_init_request("headers");
    exit;
}
""")
    alice = UA("alice", ALICE).attach(proxy)
    bob = UA("bob", BOB).attach(proxy)
    alice.invite("sip:bob@192.0.2.20:5060")
    invite = bob.requests("INVITE")[0]
    assert invite.header("x-first") == "1" and invite.header("x-second") == "2"


def test_an_unknown_bridge_flag_fails_the_bridge():
    proxy, alice, bob, carol = refer_call("bogus")
    alice.request("REFER", extra=["Refer-To: <sip:carol@192.0.2.30:5060>"])
    assert not carol.requests("INVITE")
    assert any("unknown flags bogus" in line for line in proxy.logs)


TRIGGER = """modparam("b2b_logic", "script_req_route", "b2b_logic_request")
route {
    b2b_server_new("caller");
    b2b_client_new("callee", $ru);
    b2b_init_request("main");
    exit;
}
route[b2b_logic_request] {
    if ($rm == "REFER") {
        b2b_send_reply(202, "Accepted");
        b2b_trigger_scenario("click2dial", "n", "carol,sip:carol@192.0.2.30:5060", , ,
                             "media,sip:media@192.0.2.40:5060");
        exit;
    }
    b2b_pass_request();
}
"""


def test_trigger_scenario_calls_two_parties_and_notifies_the_referrer():
    proxy = b2b_proxy(TRIGGER)
    alice = UA("alice", ALICE).attach(proxy)
    bob = UA("bob", BOB).attach(proxy)
    carol = UA("carol", CAROL).attach(proxy)
    media = UA("media", MEDIA).attach(proxy)
    alice.invite("sip:bob@192.0.2.20:5060")
    alice.request("REFER", extra=["Refer-To: <sip:carol@192.0.2.30:5060>"])
    assert carol.requests("INVITE")[0].body == b""  # carol makes the offer
    assert b"192.0.2.30" in media.requests("INVITE")[0].body
    assert b"192.0.2.40" in carol.requests("ACK")[0].body
    assert [n.body for n in alice.requests("NOTIFY")] == [b"SIP/2.0 100 Trying", b"SIP/2.0 200 OK"]
    assert not alice.requests("BYE") and not bob.requests("BYE")  # the referrer's call goes on
    assert len(proxy.core.modules["b2b_logic"].tuples) == 2


def test_entity_pv_fields_of_the_current_and_bridged_entities():
    proxy = b2b_proxy("""modparam("b2b_logic", "script_req_route", "b2b_logic_request")
route {
    b2b_server_new("caller");
    b2b_client_new("callee", $ru);
    b2b_init_request("pv");
    xlog("main: $b2b_logic.entity(id) $b2b_logic.entity(fromtag)\\n");
    exit;
}
route[b2b_logic_request] {
    xlog("req: $b2b_logic.entity(id) from=$b2b_logic.entity(fromtag) to=$(b2b_logic.entity(totag)[1]) "
         "callid1=$(b2b_logic.entity(callid)[1])\\n");
    b2b_pass_request();
}
""")
    alice = UA("alice", ALICE).attach(proxy)
    bob = UA("bob", BOB).attach(proxy)
    alice.invite("sip:bob@192.0.2.20:5060")
    bob.request("OPTIONS")
    callee_callid = bob.requests("INVITE")[0].call_id
    our_tag = bob.requests("INVITE")[0].from_.tag
    logs = proxy.script_logs()
    assert "main: caller alice-tag" in logs
    assert f"req: callee from=bob-tag to={our_tag} callid1={callee_callid}" in logs
