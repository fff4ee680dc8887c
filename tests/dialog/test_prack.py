"""PRACK by the proxy (OpenSIPS 4.0): dlg_send_sequential("PRACK", …) from an onreply_route and the
auto-prack dialog flag acknowledge reliable provisional replies (RFC 3262) inside the early dialog each one
opened, before the callee leg is complete; a failed PRACK may end the call with 502 (SIPssert dialog/07-14)."""
from __future__ import annotations

from opensips_py.modules.dialog.model import CONFIRMED_NA, EARLY
from opensips_py.sip import parse_message
from tests.dialog.support import CALLEE, CALLER, Call, _reply, proxy, statuses

MANUAL = '\tcreate_dialog();\n\tt_on_reply("prack");'
PRACK_ROUTE = '''onreply_route[prack] {
\tif ($rs >= 101 && $rs < 200 && list_hdr_has_option("Require", "100rel")) {
\t\tdlg_send_sequential("PRACK", "callee");
\t\txlog("prack=$rc\\n");
\t}
}
'''


def manual_call(**kwargs) -> Call:
    return Call(proxy(MANUAL, extra_routes=PRACK_ROUTE, **kwargs), ring=False, answer=0)


def auto_call(params: str = "") -> Call:
    return Call(proxy('\tcreate_dialog("auto-prack");', params=params), ring=False, answer=0)


def provisional(call: Call, code: int = 180, rseq: int | None = 1, tag: str = "b-tag", extra: list[str] = ()):
    """The callee's provisional reply to the INVITE it holds, reliable when it has an RSeq."""
    lines = ["Require: 100rel", f"RSeq: {rseq}"] if rseq is not None else []
    reason = "Ringing" if code == 180 else "Session Progress"
    contact = f"sip:{tag}@{CALLEE[0]}:{CALLEE[1]}"
    return call.proxy.send(_reply(call.pending_invite, code, reason, tag, contact, [*lines, *extra]), CALLEE)


def pracks(call: Call):
    return call.callee.requests("PRACK")


def test_a_prack_from_onreply_route_acknowledges_each_reliable_provisional_in_the_early_dialog():
    call = manual_call()
    call.invite()
    sent = provisional(call, 180, rseq=1)
    assert statuses(sent, CALLER) == [180] and call.dialog.state == EARLY
    provisional(call, 183, rseq=2)
    first, second = pracks(call)
    assert first.ruri_text == "sip:b-tag@192.0.2.20:5060"           # the reply's Contact
    assert (first.header("rack"), first.header("cseq")) == ("1 1 INVITE", "2 PRACK")
    assert (second.header("rack"), second.header("cseq")) == ("2 1 INVITE", "3 PRACK")
    assert (first.from_.tag, first.to.tag, first.call_id) == ("a-tag", "b-tag", call.call_id)
    assert first.header("contact") == f"<{call.caller.contact}>" and first.header("route") is None
    assert call.proxy.script_logs().count("prack=1") == 2
    assert [m.status for m in call.caller.received] == [100, 180, 183]  # the 200s of our PRACKs stay here


def test_a_provisional_without_rseq_is_not_pracked_and_the_function_says_minus2():
    call = Call(proxy(MANUAL, extra_routes=PRACK_ROUTE.replace(
        '$rs >= 101 && $rs < 200 && list_hdr_has_option("Require", "100rel")', '$rs == 180')),
        ring=False, answer=0)
    call.invite()
    provisional(call, 180, rseq=None)
    assert pracks(call) == [] and "prack=-2" in call.proxy.script_logs()


def test_each_to_tag_of_a_forking_callee_gets_its_own_prack_and_leg():
    call = manual_call()
    call.invite()
    provisional(call, 180, rseq=1, tag="desk")
    provisional(call, 180, rseq=1, tag="mobile")
    assert [(m.to.tag, m.header("cseq"), m.ruri_text) for m in pracks(call)] == [
        ("desk", "2 PRACK", "sip:desk@192.0.2.20:5060"), ("mobile", "2 PRACK", "sip:mobile@192.0.2.20:5060")]
    assert [leg.tag for leg in call.dialog.legs] == ["a-tag", "desk", "mobile"]


def test_the_prack_follows_the_callee_side_record_routes_of_the_provisional():
    call = manual_call()
    call.invite()
    hop = []
    call.proxy.net.attach("192.0.2.30", 5060, lambda data, src: hop.append(parse_message(data)) or [])
    [ours] = call.pending_invite.header_values("record-route")
    data = _reply(call.pending_invite, 180, "Ringing", "b-tag", "sip:b-tag@192.0.2.20:5060",
                  ["Require: 100rel", "RSeq: 1"])
    data = data.replace(f"Record-Route: {ours}".encode(), f"Record-Route: <sip:192.0.2.30;lr>, {ours}".encode())
    call.proxy.send(data, CALLEE)
    [prack] = hop                          # the callee-side proxy first, not ourselves
    assert prack.method == "PRACK" and prack.header("route") == "<sip:192.0.2.30;lr>"
    assert prack.ruri_text == "sip:b-tag@192.0.2.20:5060"


def test_after_our_pracks_the_callers_requests_are_shifted_above_them_and_its_ack_keeps_the_invite_cseq():
    call = manual_call()
    call.invite()
    provisional(call, 180, rseq=1)
    provisional(call, 183, rseq=2)
    call.answer_now(200)
    assert call.dialog.state == CONFIRMED_NA
    call.in_dialog("ACK", cseq=1)
    sent = call.in_dialog("BYE")  # CSeq 2 from the caller
    assert [m.header("cseq") for m in call.callee.received if m.method in ("ACK", "BYE")] == ["1 ACK", "4 BYE"]
    [ok] = [parse_message(s.data) for s in sent if (s.host, s.port) == CALLER]
    assert ok.header("cseq") == "2 BYE"


def test_auto_prack_acknowledges_reliable_provisionals_without_script():
    call = auto_call()
    call.invite()
    provisional(call, 180, rseq=None)      # not reliable: nothing to acknowledge
    provisional(call, 183, rseq=7)
    [prack] = pracks(call)
    assert (prack.header("rack"), prack.header("cseq"), prack.to.tag) == ("7 1 INVITE", "2 PRACK", "b-tag")


def test_a_failed_auto_prack_is_only_observed_by_default():
    call = auto_call('modparam("dialog", "auto_prack_fr_timeout", 2)\n')
    call.callee.answers["PRACK"] = 0      # the callee never answers the PRACK
    call.invite()
    provisional(call, 180)
    sent = call.proxy.net.advance(2.5)
    assert statuses(sent, CALLER) == [] and call.dialog.state == EARLY
    assert len(pracks(call)) == 3          # sent, then retransmitted at 0.5 and 1.5 s; 408 at 2 s
    call.answer_now(200)
    assert call.dialog.state == CONFIRMED_NA


def test_a_failed_auto_prack_with_hangup_on_failure_answers_the_invite_502_and_cancels_the_callee():
    call = auto_call('modparam("dialog", "auto_prack_fr_timeout", 2)\n'
                     'modparam("dialog", "auto_prack_hangup_on_failure", 1)\n')
    call.callee.answers["PRACK"] = 0
    call.invite()
    provisional(call, 180)
    sent = call.proxy.net.advance(1.9)
    assert statuses(sent, CALLER) == []
    sent = call.proxy.net.advance(0.2)
    [bad] = [parse_message(s.data) for s in sent if (s.host, s.port) == CALLER]
    assert (bad.status, bad.reason, bad.to.tag) == (502, "Bad Gateway", "b-tag")
    assert call.callee.requests("CANCEL")
    assert call.module.stats()["failed_dialogs"] == 1 and call.dialog is None


def test_a_manual_prack_failure_also_follows_hangup_on_failure():
    """OpenSIPS attaches the failure handling to every PRACK it sends, not only the automatic ones."""
    call = manual_call(params='modparam("dialog", "auto_prack_fr_timeout", 1)\n'
                              'modparam("dialog", "auto_prack_hangup_on_failure", 1)\n')
    call.callee.answers["PRACK"] = 488
    call.invite()
    sent = provisional(call, 180)
    assert statuses(sent, CALLER) == [180, 502]
