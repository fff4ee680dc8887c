"""topology_hiding on the virtual network: each side sees only the proxy (one Via, no Record-Route/Route,
our Contact), in the no-dialog mode (the hidden data in a thinfo Contact parameter) and the dialog mode (the
did in the Contact), with the U, D and C flags (modules/topology_hiding/topo_hiding_logic.c)."""
from __future__ import annotations

import pytest

from opensips_py.modules.topology_hiding import (
    decode_callid, encode_callid, pack_contact_info, unpack_contact_info, word32decode, word32encode,
    word64decode, word64encode,
)
from opensips_py.runtime.virtual import sip
from opensips_py.sip import parse_message
from tests.dialog.support import CALLEE, CALLER, DIALOG_HEAD, Call, statuses
from tests.runtime.support import Proxy

TH_HEAD = DIALOG_HEAD + 'loadmodule "topology_hiding.so"\n'
NO_DIALOG_HEAD = DIALOG_HEAD.replace('loadmodule "dialog.so"\n', "") + 'loadmodule "topology_hiding.so"\n'


def th_proxy(initial: str, head: str = TH_HEAD, params: str = "") -> Proxy:
    return Proxy(params + """route {
    if (has_totag()) {
        if (is_method("ACK") && t_check_trans()) { t_relay(); exit; }
        if (!loose_route() && !topology_hiding_match()) { send_reply(404, "Not here"); exit; }
        t_relay();
        exit;
    }
""" + initial + """
    $du = "sip:192.0.2.20:5060";
    if (!t_relay()) send_reply(500, "Internal Error");
}
""", head=head)


def received(agent, method: str | None = None, status: int | None = None):
    out = []
    for msg in agent.received:
        if method is not None and (not msg.is_request or msg.method != method):
            continue
        if status is not None and (msg.is_request or msg.status != status):
            continue
        out.append(msg)
    return out


def contact_uri(msg) -> str:
    return msg.contacts[0].uri_text


# ------------------------------------------------------------------------------------------------ encodings

def test_word64_is_base64_with_plus_dot_and_dash_padding():
    assert word64encode(b"\xfb\xff") == "+.8-"
    assert word64decode("+.8-") == b"\xfb\xff"
    assert word32decode(word32encode(b"abc")) == b"abc"
    assert "=" not in word32encode(b"abc")


def test_encoded_contact_info_round_trips():
    text = pack_contact_info("<sip:p1;lr>, <sip:p2;lr>", "sip:bob@192.0.2.20", 4, "udp:192.0.2.1:5060",
                             "ToPoCtPaSS", "base64")
    assert unpack_contact_info(text, "ToPoCtPaSS", "base64") == (
        "<sip:p1;lr>, <sip:p2;lr>", "sip:bob@192.0.2.20", 4, "udp:192.0.2.1:5060")
    assert unpack_contact_info(text, "other", "base64") is None or \
        unpack_contact_info(text, "other", "base64")[1] != "sip:bob@192.0.2.20"
    assert unpack_contact_info("!!", "ToPoCtPaSS", "base64") is None


def test_callid_encoding_uses_the_prefix_and_round_trips():
    encoded = encode_callid("abc@host", "DLGCH_", "OpenSIPS")
    assert encoded.startswith("DLGCH_") and "abc" not in encoded
    assert decode_callid(encoded, "DLGCH_", "OpenSIPS") == "abc@host"
    assert decode_callid("abc@host", "DLGCH_", "OpenSIPS") is None


# ------------------------------------------------------------------------------------------------ no dialog

def test_no_dialog_each_side_sees_only_the_proxy():
    proxy = th_proxy('    if (!record_route() || !topology_hiding()) { send_reply(500, "ISE"); exit; }',
                     head=NO_DIALOG_HEAD)
    call = Call(proxy)
    call.invite(extra="Record-Route: <sip:192.0.2.50;lr>\nVia: SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKold")
    (invite,) = received(call.callee, "INVITE")
    assert len(invite.via) == 1 and invite.via1.host == "192.0.2.1"
    assert invite.record_route == [] and invite.route == []
    assert contact_uri(invite).startswith("sip:192.0.2.1;thinfo=")
    (ok,) = received(call.caller, status=200)
    assert [v.host for v in ok.via] == ["192.0.2.10", "10.1.1.1"]  # the caller's own Vias, restored
    assert [r.uri_text for r in ok.record_route] == ["sip:192.0.2.50;lr"]  # the caller side's route set
    assert contact_uri(ok).startswith("sip:192.0.2.1;thinfo=")
    # the caller's sequential requests go to our Contact; we restore the callee's target
    call.caller.route_set = []
    call.in_dialog("ACK", cseq=1)
    sent = call.in_dialog("BYE")
    (ack,) = received(call.callee, "ACK")
    (bye,) = received(call.callee, "BYE")
    assert ack.ruri_text == bye.ruri_text == "sip:bob@192.0.2.20:5060"
    assert len(bye.via) == 1 and contact_uri(bye).startswith("sip:192.0.2.1;thinfo=")
    assert statuses(sent, CALLER) == [200]
    (bye_ok,) = [m for m in received(call.caller, status=200) if m.cseq.method == "BYE"]
    assert [v.host for v in bye_ok.via] == ["192.0.2.10"]
    assert contact_uri(bye_ok).startswith("sip:192.0.2.1;thinfo=")


def test_no_dialog_callee_requests_follow_the_caller_route_set():
    proxy = th_proxy('    topology_hiding();', head=NO_DIALOG_HEAD)
    call = Call(proxy)
    call.invite(extra="Record-Route: <sip:192.0.2.50;lr>")
    (invite,) = received(call.callee, "INVITE")
    call.callee.remote_target = contact_uri(invite)
    call.callee.route_set = []
    sent = call.in_dialog("BYE", from_caller=False)
    # the BYE goes to the first Route (the caller side's proxy), with the caller's Contact as R-URI
    out = [parse_message(s.data) for s in sent if s.data.startswith(b"BYE")]
    assert len(out) == 1
    bye = out[0]
    assert bye.ruri_text == "sip:alice@192.0.2.10:5060"
    assert [r.uri_text for r in bye.route] == ["sip:192.0.2.50;lr"]
    assert [s.host for s in sent if s.data.startswith(b"BYE")] == ["192.0.2.50"]


def test_username_flag_keeps_the_contact_users():
    proxy = th_proxy('    topology_hiding("U");', head=NO_DIALOG_HEAD)
    call = Call(proxy)
    call.invite()
    (invite,) = received(call.callee, "INVITE")
    assert contact_uri(invite).startswith("sip:alice@192.0.2.1;thinfo=")
    (ok,) = received(call.caller, status=200)
    assert contact_uri(ok).startswith("sip:bob@192.0.2.1;thinfo=")


def test_topology_hiding_refuses_a_sequential_request():
    proxy = Proxy('route { $var(rc) = topology_hiding(); xlog("rc=$var(rc)\\n"); send_reply(200, "OK"); }',
                  head=NO_DIALOG_HEAD)
    proxy.send(sip("OPTIONS sip:x@192.0.2.1 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKo\n"
                   "To: <sip:x@y>;tag=t\nFrom: <sip:a@b>;tag=f\nCall-ID: c\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n"))
    assert "rc=-1" in proxy.script_logs()


def test_a_foreign_thinfo_does_not_match():
    proxy = th_proxy('    topology_hiding();', head=NO_DIALOG_HEAD)
    sent = proxy.send(sip("BYE sip:192.0.2.1;thinfo=AAAA SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKb\n"
                          "To: <sip:x@y>;tag=t\nFrom: <sip:a@b>;tag=f\nCall-ID: c\nCSeq: 2 BYE\n"
                          "Content-Length: 0\n\n"), CALLER)
    assert statuses(sent, CALLER) == [404]


# ------------------------------------------------------------------------------------------------ dialog

def test_dialog_mode_puts_the_did_in_our_contact_and_matches_by_it():
    proxy = th_proxy('    if (!create_dialog() || !topology_hiding()) { send_reply(500, "ISE"); exit; }')
    call = Call(proxy)
    call.invite(extra="Record-Route: <sip:192.0.2.50;lr>")
    dialog = call.dialog
    (invite,) = received(call.callee, "INVITE")
    assert len(invite.via) == 1 and invite.record_route == []
    assert contact_uri(invite) == f"sip:192.0.2.1;did={dialog.did}"
    (ok,) = received(call.caller, status=200)
    assert contact_uri(ok) == f"sip:192.0.2.1;did={dialog.did}"
    assert [r.uri_text for r in ok.record_route] == ["sip:192.0.2.50;lr"]
    assert [v.host for v in ok.via] == ["192.0.2.10"]
    call.caller.route_set = []
    call.in_dialog("ACK", cseq=1)
    assert dialog.state == 4
    sent = call.in_dialog("BYE")
    (bye,) = received(call.callee, "BYE")
    assert bye.ruri_text == "sip:bob@192.0.2.20:5060" and len(bye.via) == 1 and bye.route == []
    assert statuses(sent, CALLER) == [200]
    assert dialog.state == 5


def test_dialog_mode_callee_bye_goes_through_the_caller_route_set():
    proxy = th_proxy('    create_dialog(); topology_hiding();')
    call = Call(proxy)
    call.invite(extra="Record-Route: <sip:192.0.2.50;lr>")
    (invite,) = received(call.callee, "INVITE")
    call.callee.remote_target = contact_uri(invite)
    call.callee.route_set = []
    call.caller.route_set = []
    call.in_dialog("ACK", cseq=1)
    sent = call.in_dialog("BYE", from_caller=False)
    out = [parse_message(s.data) for s in sent if s.data.startswith(b"BYE")]
    assert [b.ruri_text for b in out] == ["sip:alice@192.0.2.10:5060"]
    assert [r.uri_text for r in out[0].route] == ["sip:192.0.2.50;lr"]
    assert out[0].contacts[0].uri_text.startswith("sip:192.0.2.1;did=")


def test_did_in_username_flag():
    proxy = th_proxy('    create_dialog(); topology_hiding("D");', params='modparam("dialog", "dlg_match_mode", 0)\n')
    call = Call(proxy)
    call.invite()
    did = call.dialog.did
    (invite,) = received(call.callee, "INVITE")
    assert contact_uri(invite) == f"sip:X.did.{did}@192.0.2.1"
    (ok,) = received(call.caller, status=200)
    assert contact_uri(ok) == f"sip:X.did.{did}@192.0.2.1"
    call.caller.route_set = []
    call.in_dialog("ACK", cseq=1)
    sent = call.in_dialog("BYE")  # did-only matching: found through the username
    assert statuses(sent, CALLER) == [200]
    assert call.dialog is None or call.dialog.state == 5


def test_username_and_contact_users_in_dialog_mode():
    proxy = th_proxy('    create_dialog(); topology_hiding("U", "/to-caller/to-callee");')
    call = Call(proxy)
    call.invite()
    (invite,) = received(call.callee, "INVITE")
    assert contact_uri(invite).startswith("sip:to-callee@192.0.2.1;did=")
    (ok,) = received(call.caller, status=200)
    assert contact_uri(ok).startswith("sip:to-caller@192.0.2.1;did=")


def test_callid_flag_hides_the_callid_towards_the_callee_both_ways():
    proxy = th_proxy('    create_dialog(); topology_hiding("C"); xlog("callee callid $TH_callee_callid\\n");',
                     params='modparam("topology_hiding", "th_callid_prefix", "HIDE_")\n')
    call = Call(proxy)
    call.invite()
    (invite,) = received(call.callee, "INVITE")
    hidden = invite.call_id
    assert hidden.startswith("HIDE_") and hidden == encode_callid(call.call_id, "HIDE_", "OpenSIPS")
    assert f"callee callid {hidden}" in proxy.script_logs()
    (ok,) = received(call.caller, status=200)
    assert ok.call_id == call.call_id  # the callee's reply carried the hidden one: decoded for the caller
    call.caller.route_set = []
    call.in_dialog("ACK", cseq=1)
    (ack,) = received(call.callee, "ACK")
    assert ack.call_id == hidden
    # a BYE from the callee carries the hidden Call-ID: matched, and the caller gets its own
    call.callee.remote_target = contact_uri(invite)
    call.callee.route_set = []
    real = call.call_id
    call.call_id = hidden
    sent = call.in_dialog("BYE", from_caller=False)
    call.call_id = real
    (bye,) = received(call.caller, "BYE")
    assert bye.call_id == real
    # and the caller's 200 goes back to the callee with the hidden Call-ID again
    (bye_ok,) = [parse_message(s.data) for s in sent if (s.host, s.port) == CALLEE]
    assert bye_ok.status == 200 and bye_ok.call_id == hidden


def test_force_dialog_creates_the_dialog():
    proxy = th_proxy('    topology_hiding();', params='modparam("topology_hiding", "force_dialog", 1)\n')
    call = Call(proxy)
    call.invite()
    assert call.dialog is not None
    (invite,) = received(call.callee, "INVITE")
    assert ";did=" in contact_uri(invite)


def test_force_dialog_without_dialog_refuses_to_start():
    from opensips_py.runtime.core import StartupFailure
    with pytest.raises(StartupFailure):
        th_proxy('    topology_hiding();', head=NO_DIALOG_HEAD,
                 params='modparam("topology_hiding", "force_dialog", 1)\n')


def test_redirect_reply_keeps_its_contacts():
    proxy = th_proxy('    topology_hiding();', head=NO_DIALOG_HEAD)
    call = Call(proxy, ring=False, answer=302)
    call.invite()
    (redirect,) = received(call.caller, status=302)
    assert contact_uri(redirect) == "sip:bob@192.0.2.20:5060"  # a 3xx keeps the targets it offers
    assert len(redirect.via) == 1 and redirect.via1.host == "192.0.2.10"
