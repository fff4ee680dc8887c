"""b2b_init_request("top hiding") on the virtual network: two dialogs joined by the B2BUA, each peer seeing
only the B2BUA (its key as To-tag/Call-ID, its Contact, one Via), requests and replies passed across."""
from __future__ import annotations

from opensips_py.sip import parse_message
from tests.b2b.support import ALICE, BOB, UA, b2b_proxy

TOP_HIDING = """route {
    if (has_totag()) { send_reply(481, "Call/Transaction Does Not Exist"); exit; }
    if (!is_method("INVITE")) { send_reply(503, "Service Unavailable"); exit; }
    b2b_init_request("top hiding");
    exit;
}
"""


def call(answer: int = 200):
    proxy = b2b_proxy(TOP_HIDING)
    alice = UA("alice", ALICE).attach(proxy)
    bob = UA("bob", BOB, answer=answer).attach(proxy)
    alice.invite("sip:bob@192.0.2.20:5060")
    return proxy, alice, bob


def test_the_callee_gets_a_new_dialog_keyed_by_the_b2b_call_id():
    proxy, alice, bob = call()
    invite = bob.requests("INVITE")[0]
    assert invite.call_id.startswith("B2B.") and invite.call_id != alice.call_id
    assert len(invite.via) == 1 and invite.via[0].host == "192.0.2.1"
    assert invite.contacts[0].uri_text == "sip:192.0.2.1:5060"
    assert invite.from_.tag != alice.local_tag
    assert invite.ruri_text == "sip:bob@192.0.2.20:5060"
    assert invite.cseq.number == 1 and invite.body == alice.body.replace("\n", "\r\n").encode()
    assert invite.header("supported") == "timer"  # passed on like OpenSIPS's b2b_extra_headers()
    assert invite.max_forwards == 69  # the received value minus one


def test_the_caller_gets_the_callee_replies_with_the_key_as_to_tag_and_our_contact():
    proxy, alice, bob = call()
    ringing, ok = alice.replies(180)[0], alice.replies(200)[0]
    assert ringing.to.tag == ok.to.tag and ok.to.tag.startswith("B2B.")
    assert ok.contacts[0].uri_text == "sip:192.0.2.1:5060"
    assert ok.body == bob.body.replace("\n", "\r\n").encode()
    assert len(ok.via) == 1 and ok.via[0].host == "192.0.2.10"


def test_the_ack_of_the_caller_reaches_the_callee_in_its_dialog():
    proxy, alice, bob = call()
    acks = bob.requests("ACK")
    assert len(acks) == 1
    ack = acks[0]
    invite = bob.requests("INVITE")[0]
    assert ack.call_id == invite.call_id and ack.cseq.number == 1
    assert ack.to.tag == "bob-tag" and ack.from_.tag == invite.from_.tag
    assert ack.ruri_text == bob.contact
    proxy.net.advance(10)  # no 2xx retransmission once ACKed
    assert len(alice.replies(200)) == 1


def test_a_bye_is_passed_across_and_answered_with_the_peer_reply():
    proxy, alice, bob = call()
    bob.request("BYE")
    bye = alice.requests("BYE")[0]
    assert bye.from_.tag.startswith("B2B.") and bye.call_id == alice.call_id
    assert bye.max_forwards == 69
    assert bye.ruri_text == alice.contact and bye.contacts[0].uri_text == "sip:192.0.2.1:5060"
    ok = bob.replies(200, "BYE")[0]
    assert ok.contacts[0].uri_text == "sip:192.0.2.1:5060"
    assert proxy.core.modules["b2b_logic"].tuples == {}
    assert proxy.core.modules["b2b_entities"].servers == {} and proxy.core.modules["b2b_entities"].clients == {}


def test_a_reinvite_is_passed_with_its_sdp_and_the_answer_comes_back():
    proxy, alice, bob = call()
    alice.request("INVITE", body=alice.body.replace("6000", "7000"))
    reinvite = bob.requests("INVITE")[1]
    assert b"m=audio 7000" in reinvite.body and reinvite.to.tag == "bob-tag"
    assert alice.replies(200, "INVITE")[-1].body == bob.body.replace("\n", "\r\n").encode()
    assert len(bob.requests("ACK")) == 2  # alice's ACK of the re-INVITE went across


def test_a_rejected_call_is_relayed_and_the_ack_of_it_stays_here():
    proxy, alice, bob = call(answer=486)
    busy = alice.replies(486)[0]
    assert busy.to.tag.startswith("B2B.")
    assert len(bob.requests("ACK")) == 1  # tm's ACK of bob's 486, nothing else
    # the ACK of the 486: the INVITE's Via branch, the 486's To-tag (RFC 3261 §17.1.1.3)
    alice.remote_tag, alice.remote_target = busy.to.tag, "sip:bob@192.0.2.20:5060"
    invite_via = parse_message(alice.sent_invite).header("via")
    ack = alice._ack(1)
    ack = ack.replace(ack.split(b"\r\n")[1], f"Via: {invite_via}".encode())
    proxy.send(ack, ALICE)
    assert len(bob.requests("ACK")) == 1
    proxy.net.advance(31)
    assert len(alice.replies(486)) == 1  # the ACK stopped the retransmissions
    assert proxy.core.modules["b2b_logic"].tuples == {}


def test_a_request_while_our_invite_is_open_gets_491_and_an_overlapping_one_500():
    proxy, alice, bob = call()
    alice.answers["INVITE"] = 0  # alice holds the re-INVITE the B2BUA sends her
    bob.request("INVITE", body=bob.body)
    assert len(alice.requests("INVITE")) == 1
    glare = alice.request("INVITE", body=alice.body)
    assert [parse_message(s.data).status for s in glare if s.host == ALICE[0]][-1] == 491
    bob.answers["INVITE"] = 0
    second = bob.request("INVITE", body=bob.body)
    replies = [parse_message(s.data) for s in second if s.host == BOB[0]]
    assert replies[-1].status == 500 and replies[-1].reason == "Overlapping Requests"
    assert replies[-1].has_header("Retry-After")


def test_a_request_for_an_unknown_entity_gets_481_and_a_bye_200():
    proxy, alice, bob = call()
    alice.remote_tag = "B2B.1.999.1.1"
    out = alice.request("OPTIONS")
    assert parse_message(out[-1].data).status == 481
    out = alice.request("BYE")
    assert parse_message(out[-1].data).status == 200


def test_mi_b2b_list_shows_the_session_and_its_entities():
    proxy, alice, bob = call()
    listing = proxy.core.modules["b2b_logic"].mi_commands()["b2b_list"]({})
    (tup,) = listing["Tuples"]
    assert tup["scenario"] == "top hiding" and tup["key"].count(".") == 1
    server, client = tup["SERVERS"][0], tup["CLIENTS"][0]
    assert server["key"].startswith("B2B.") and server["peer"] == client["key"] and server["type"] == 0
    assert client["to_uri"] == "sip:bob@192.0.2.20:5060" and client["type"] == 1 and client["no"] == 1
    assert [e["index"] for e in tup["BRIDGE_ENTITIES"]] == [0, 1]


def test_a_cancel_of_the_caller_cancels_the_callee_and_the_487_comes_back():
    proxy, alice, bob = call(answer=0)
    cancel = (alice.sent_invite.replace(b"INVITE sip:", b"CANCEL sip:", 1).replace(b"CSeq: 1 INVITE", b"CSeq: 1 CANCEL")
              .split(b"Content-Type")[0] + b"Content-Length: 0\r\n\r\n")
    proxy.send(cancel, ALICE)
    assert alice.replies(200, "CANCEL")
    assert bob.requests("CANCEL")[0].call_id.startswith("B2B.")
    bob_invite = bob.requests("INVITE")[0]
    proxy.send(bob._reply(bob_invite, 487, "Request Terminated"), BOB)
    (terminated,) = alice.replies(487, "INVITE")
    assert terminated.to.tag.startswith("B2B.")


def test_a_call_not_answered_within_the_setup_timeout_is_ended():
    proxy = b2b_proxy(TOP_HIDING.replace('b2b_init_request("top hiding")',
                                         'b2b_init_request("top hiding", "setup-timeout=5")'))
    alice = UA("alice", ALICE).attach(proxy)
    bob = UA("bob", BOB, answer=0).attach(proxy)
    alice.invite("sip:bob@192.0.2.20:5060")
    proxy.net.advance(4)
    assert not bob.requests("CANCEL") and not alice.replies(408)
    proxy.net.advance(1.5)
    assert bob.requests("CANCEL")
    assert alice.replies(408, "INVITE")[0].reason == "Request Timeout"
    assert proxy.core.modules["b2b_logic"].tuples == {}


def test_an_answered_call_lives_max_duration():
    proxy = b2b_proxy(TOP_HIDING, params='modparam("b2b_logic", "max_duration", 100)\n')
    alice = UA("alice", ALICE).attach(proxy)
    bob = UA("bob", BOB).attach(proxy)
    alice.invite("sip:bob@192.0.2.20:5060")
    proxy.net.advance(90)
    assert not alice.requests("BYE")
    proxy.net.advance(11)
    assert alice.requests("BYE") and bob.requests("BYE")


def test_a_request_with_a_key_but_not_for_us_runs_the_script():
    proxy = b2b_proxy(TOP_HIDING.replace('send_reply(481, "Call/Transaction Does Not Exist")',
                                         'send_reply(404, "Not Here")'))
    alice = UA("alice", ALICE).attach(proxy)
    bob = UA("bob", BOB).attach(proxy)
    alice.invite("sip:bob@192.0.2.20:5060")
    alice.remote_target = "sip:elsewhere@192.0.2.99:5060"
    out = alice.request("OPTIONS")
    assert parse_message(out[-1].data).status == 404  # b2b_prescript_f() left it to the script
    alice.remote_target = "sip:192.0.2.1:5060"
    alice.request("OPTIONS")
    assert bob.requests("OPTIONS")


def test_mi_b2be_list_shows_both_dialogs_from_the_caller_side():
    proxy, alice, bob = call()
    server, client = proxy.core.modules["b2b_entities"].mi_commands()["b2be_list"]({})
    assert server["callid"] == alice.call_id and server["from_tag"] == "alice-tag"
    assert server["to_tag"].startswith("B2B.") and server["state"] == 5  # established
    assert client["callid"].startswith("B2B.") and client["to_tag"] == "bob-tag"
    assert client["ruri"] == bob.contact and client["logic_key"] == server["logic_key"]
    assert client["contact"] == {"caller": "sip:192.0.2.1:5060", "callee": bob.contact}


def test_the_b2b_entities_routes_run_and_their_edits_are_passed_on():
    proxy = b2b_proxy(TOP_HIDING + """route[ent_req] {
    xlog("entity request $rm\\n");
    append_hf("Require: timer\\r\\n");
}
route[ent_rpl] {
    xlog("entity reply $rs\\n");
}
""", params='modparam("b2b_entities", "script_req_route", "ent_req")\n'
            'modparam("b2b_entities", "script_reply_route", "ent_rpl")\n')
    alice = UA("alice", ALICE).attach(proxy)
    bob = UA("bob", BOB).attach(proxy)
    alice.invite("sip:bob@192.0.2.20:5060")
    alice.request("OPTIONS")
    logs = proxy.script_logs()
    assert "entity reply 180" in logs and "entity reply 200" in logs
    assert "entity request ACK" in logs and "entity request OPTIONS" in logs
    assert bob.requests("OPTIONS")[0].header("require") == "timer"


def test_an_update_is_passed_and_answered_even_with_an_invite_open():
    proxy, alice, bob = call()
    alice.answers["INVITE"] = 0
    bob.request("INVITE", body=bob.body)  # alice holds this re-INVITE
    bob.request("UPDATE", body=bob.body)
    assert alice.requests("UPDATE")
    assert bob.replies(200, "UPDATE")


def test_a_refer_is_passed_with_its_refer_to_and_init_callid_hdr_names_the_call():
    proxy = b2b_proxy(TOP_HIDING, params='modparam("b2b_logic", "init_callid_hdr", "X-Init-Callid")\n')
    alice = UA("alice", ALICE).attach(proxy)
    bob = UA("bob", BOB).attach(proxy)
    alice.invite("sip:bob@192.0.2.20:5060")
    assert bob.requests("INVITE")[0].header("x-init-callid") == alice.call_id
    alice.request("REFER", extra=["Refer-To: <sip:carol@192.0.2.30>"])
    assert bob.requests("REFER")[0].header("refer-to") == "<sip:carol@192.0.2.30>"


def test_b2bl_from_spec_param_gives_the_from_of_the_callee_leg():
    proxy = b2b_proxy(TOP_HIDING.replace('b2b_init_request("top hiding");',
                                         '$var(b2bl_from) = "\\"Call ID\\" <sip:user@opensips.org>";\n'
                                         '    b2b_init_request("top hiding");'),
                      params='modparam("b2b_logic", "b2bl_from_spec_param", "$var(b2bl_from)")\n')
    alice = UA("alice", ALICE).attach(proxy)
    bob = UA("bob", BOB).attach(proxy)
    alice.invite("sip:bob@192.0.2.20:5060")
    frm = bob.requests("INVITE")[0].from_
    assert frm.display_name == "Call ID" and frm.uri_text == "sip:user@opensips.org"


def test_a_bye_while_a_reinvite_is_open_ends_both_sides_once_the_peer_answers():
    proxy, alice, bob = call()
    alice.answers["INVITE"] = 0
    bob.request("INVITE", body=bob.body)
    reinvite = alice.requests("INVITE")[0]
    bob.request("BYE")
    assert bob.replies(200, "BYE") and bob.replies(487, "INVITE")
    assert not alice.requests("BYE")  # alice has not answered the re-INVITE yet
    proxy.send(alice._reply(reinvite, 200, "OK", with_sdp=True), ALICE)
    assert alice.requests("ACK") and alice.requests("BYE")  # ack_and_term_entity()


def test_server_address_may_be_a_format_of_the_message():
    proxy = b2b_proxy(TOP_HIDING, params='modparam("b2b_logic", "server_address", "sip:b2b-$rU@$Ri:5060")\n')
    alice = UA("alice", ALICE).attach(proxy)
    bob = UA("bob", BOB).attach(proxy)
    alice.invite("sip:bob@192.0.2.20:5060")
    assert bob.requests("INVITE")[0].contacts[0].uri_text == "sip:b2b-bob@192.0.2.1:5060"
    assert alice.replies(200)[0].contacts[0].uri_text == "sip:b2b-bob@192.0.2.1:5060"


def test_a_reliable_provisional_is_pracked_here_and_relayed():
    proxy, alice, bob = call(answer=0)
    invite = bob.requests("INVITE")[0]
    reliable = bob._reply(invite, 183, "Session Progress").replace(
        b"Content-Length: 0", b"Require: 100rel\r\nRSeq: 7\r\nContent-Length: 0")
    proxy.send(reliable, BOB)
    (prack,) = bob.requests("PRACK")
    assert prack.header("rack") == "7 1 INVITE" and prack.to.tag == "bob-tag"
    assert prack.call_id == invite.call_id and prack.cseq.number == 2
    progress = alice.replies(183)[0]
    assert progress.header("rseq") == "7" and "100rel" in progress.require  # passed on to the caller
