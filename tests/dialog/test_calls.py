"""Whole calls through a record-routing stateful proxy on the virtual network, dialog following them with tm:
states 1-5 and the statistics, the legs filled from the replies, sequential requests matched from
loose_route(), the lifetime with and without bye-on-timeout, MI dlg_end_dlg, pings (with the CSeq shift of
relayed requests that OpenSIPS does) and the dlg_on_* routes."""
from __future__ import annotations

import pytest

from opensips_py.mi import MIError
from opensips_py.mi.host import registry_of
from opensips_py.modules.dialog.model import CONFIRMED, CONFIRMED_NA, DELETED, EARLY, UNCONFIRMED
from opensips_py.sip import parse_message
from tests.dialog.support import CALLEE, CALLER, Call, methods, proxy, statuses


def cseq_lines(sends, to) -> list[str]:
    return [parse_message(s.data).header("cseq") for s in sends if (s.host, s.port) == to]


# ------------------------------------------------------------------------------------------------ states

def test_a_call_walks_the_states_and_the_statistics_follow():
    call = Call(proxy(), answer=0)
    call.invite()
    dialog, stats = call.dialog, call.module.stats
    assert dialog.state == EARLY and stats()["early_dialogs"] == 1 and stats()["processed_dialogs"] == 1
    call.answer_now(200)
    assert dialog.state == CONFIRMED_NA and stats()["early_dialogs"] == 0 and stats()["active_dialogs"] == 1
    call.in_dialog("ACK", cseq=1)
    assert dialog.state == CONFIRMED
    sent = call.in_dialog("BYE")
    assert statuses(sent, CALLER) == [200] and methods(sent, CALLEE) == ["BYE"]
    assert dialog.state == DELETED and dialog.end_reason == "Downstream BYE"
    # the BYE's transaction keeps the ended dialog listed until it goes, wt_timer (5 s) later, as in OpenSIPS
    assert stats()["active_dialogs"] == 0 and len(call.module.table) == 1
    call.proxy.net.advance(5.1)
    assert len(call.module.table) == 0


def test_a_bye_relayed_statelessly_lets_the_dialog_go_once_it_is_processed():
    call = Call(proxy(in_dialog='    if (is_method("BYE")) { forward(); exit; }'))
    call.establish()
    call.in_dialog("BYE")
    assert call.dialog is None or call.dialog.state == DELETED
    call.proxy.net.advance(0.01)
    assert len(call.module.table) == 0


def test_an_unanswered_invite_stays_unconfirmed_until_its_reply():
    call = Call(proxy(), ring=False, answer=0)
    call.invite()
    assert call.dialog.state == UNCONFIRMED


def test_a_negative_final_reply_fails_the_dialog():
    call = Call(proxy(), answer=486)
    sent = call.invite()
    assert 486 in statuses(sent, CALLER)
    stats = call.module.stats()
    assert (stats["failed_dialogs"], stats["early_dialogs"], stats["active_dialogs"]) == (1, 0, 0)
    assert call.dialog is None


def test_the_legs_are_filled_from_the_invite_and_the_2xx():
    call = Call(proxy())
    call.establish()
    caller, callee = call.dialog.legs
    assert (caller.tag, caller.contact, caller.r_cseq, caller.inv_cseq) == ("a-tag", call.caller.contact, "0", "1")
    assert (callee.tag, callee.contact, callee.r_cseq, callee.route_set) == ("b-tag", call.callee.contact, "1", "")
    assert caller.socket == callee.socket == call.proxy.core.sockets[0]


def test_a_bye_from_the_callee_is_upstream():
    call = Call(proxy())
    call.establish()
    call.in_dialog("BYE", from_caller=False)
    call.proxy.net.advance(5.1)
    assert call.module.stats()["active_dialogs"] == 0 and call.module.table.by_callid(call.call_id) == []


def test_sequential_requests_update_the_cseq_towards_their_leg_and_dlg_pvs_see_the_dialog():
    p = proxy(in_dialog='\txlog("$rm st=$DLG_status dir=$DLG_dir did=$DLG_did\\n");')
    call = Call(p)
    call.establish()
    call.in_dialog("INVITE")
    call.in_dialog("ACK", cseq=2)
    call.in_dialog("INFO", from_caller=False)
    logs = [line for line in p.script_logs() if line.startswith(("INVITE", "ACK", "INFO"))]
    did = call.dialog.did
    assert logs == [f"ACK st=4 dir=downstream did={did}", f"INVITE st=4 dir=downstream did={did}",
                    f"ACK st=4 dir=downstream did={did}", f"INFO st=4 dir=upstream did={did}"]
    assert call.dialog.legs[1].r_cseq == "2" and call.dialog.legs[0].r_cseq == "1"


def test_without_the_did_parameter_the_fallback_matches_by_call_id_and_tags():
    # record_route() before create_dialog(): the did cannot ride in the Record-Route any more
    p = proxy('\tcreate_dialog();', params='modparam("dialog", "rr_param", "dlg")\n')
    call = Call(p)
    call.establish()
    call.in_dialog("BYE", routes=[r.replace(";dlg=", ";other=") for r in call.caller.route_set])
    assert call.module.stats()["active_dialogs"] == 0


def test_did_only_mode_does_not_match_without_the_did():
    p = proxy(params='modparam("dialog", "dlg_match_mode", 0)\n',
              in_dialog='\tif ($DLG_status == NULL) xlog("no dialog\\n");')
    call = Call(p)
    call.establish()
    call.in_dialog("INFO", routes=[r.replace(";did=", ";xx=") for r in call.caller.route_set])
    assert "no dialog" in p.script_logs()


def test_match_dialog_finds_a_request_that_has_no_route_for_us():
    p = proxy(in_dialog='\t$var(x) = 0;')
    call = Call(p)
    call.establish()
    sent = call.in_dialog("BYE", routes=[])
    assert methods(sent, CALLEE) == ["BYE"] and call.module.stats()["active_dialogs"] == 0


# ------------------------------------------------------------------------------------------------ lifetime

def test_without_bye_on_timeout_the_dialog_just_ends_when_its_lifetime_is_over():
    call = Call(proxy('\t$DLG_timeout = 3;\n\tcreate_dialog();'))
    call.establish()
    sent = call.proxy.net.advance(4)
    assert sent == [] and call.module.stats()["expired_dialogs"] == 1 and len(call.module.table) == 0


@pytest.mark.parametrize("flags", ['"B"', '"bye-on-timeout"'])
def test_with_bye_on_timeout_a_bye_goes_to_each_leg_and_the_dialog_ends_on_the_first_answer(flags):
    call = Call(proxy(f'\t$DLG_timeout = 3;\n\tcreate_dialog({flags});'))
    call.establish()
    assert call.proxy.net.advance(2) == []
    sent = call.proxy.net.advance(1.5)
    bye_to_caller = parse_message(next(s.data for s in sent if (s.host, s.port) == CALLER))
    bye_to_callee = parse_message(next(s.data for s in sent if (s.host, s.port) == CALLEE))
    assert (bye_to_caller.ruri_text, bye_to_caller.header("cseq")) == (call.caller.contact, "1 BYE")
    assert (bye_to_caller.from_.tag, bye_to_caller.to.tag) == ("b-tag", "a-tag")
    assert (bye_to_callee.ruri_text, bye_to_callee.header("cseq")) == (call.callee.contact, "2 BYE")
    assert (bye_to_callee.from_.tag, bye_to_callee.to.tag) == ("a-tag", "b-tag")
    stats = call.module.stats()
    assert (stats["expired_dialogs"], stats["active_dialogs"]) == (1, 0)


def test_the_lifetime_counts_whole_timer_ticks_from_the_2xx():
    """dlg_timer.c: a 1 s tick; the timeout is the current tick + lifetime, so a 2xx late in a tick expires
    up to a second early (SIPssert's dialog/04.expire checks at 6 s for a 5 s lifetime relying on it)."""
    call = Call(proxy('\t$DLG_timeout = 5;\n\tcreate_dialog("B");'))
    call.proxy.net.advance(0.7)  # the 2xx arrives 0.7 s into tick 0
    call.establish()
    call.proxy.net.advance(4.2)
    assert call.module.stats()["expired_dialogs"] == 0
    call.proxy.net.advance(0.2)  # tick 5: 4.3 s after the 2xx
    assert call.module.stats()["expired_dialogs"] == 1


def test_dlg_timeout_set_in_a_sequential_request_restarts_the_lifetime():
    p = proxy('\t$DLG_timeout = 3;\n\tcreate_dialog();', in_dialog='\tif (is_method("INFO")) $DLG_timeout = 10;')
    call = Call(p)
    call.establish()
    p.net.advance(2)
    call.in_dialog("INFO")
    p.net.advance(5)
    assert call.dialog is not None and call.dialog.state == CONFIRMED
    p.net.advance(6)
    assert call.dialog is None


def test_dlg_on_timeout_runs_first_and_may_extend_the_dialog():
    p = proxy('\t$DLG_timeout = 2;\n\tcreate_dialog("B");\n\tdlg_on_timeout("extend");',
              extra_routes='route[extend] {\n\txlog("timeout $DLG_did\\n");\n'
                           '\tif ($dlg_val(n) == NULL) { $dlg_val(n) = "1"; $DLG_timeout = 3; }\n}\n')
    call = Call(p)
    call.establish()
    p.net.advance(2.5)
    assert call.dialog.state == CONFIRMED and p.script_logs().count(f"timeout {call.dialog.did}") == 1
    sent = p.net.advance(3)
    assert methods(sent, CALLER) == ["BYE"] and methods(sent, CALLEE) == ["BYE"]


def test_dlg_on_answer_and_dlg_on_hangup_routes_run_with_the_dialog():
    p = proxy('\tcreate_dialog();\n\tdlg_on_answer("answered");\n\tdlg_on_hangup("hungup");',
              extra_routes='route[answered] {\n\txlog("answered st=$DLG_status\\n");\n}\n'
                           'route[hungup] {\n\txlog("hungup st=$DLG_status reason=$DLG_end_reason\\n");\n}\n')
    call = Call(p)
    call.establish()
    call.in_dialog("BYE", from_caller=False)
    assert [line for line in p.script_logs() if line.startswith(("answered", "hungup"))] == \
        ["answered st=3", "hungup st=5 reason=<null>"]  # the route runs before the end reason is set


# ------------------------------------------------------------------------------------------------ MI end

def test_mi_dlg_end_dlg_sends_bye_both_ways_and_the_dialog_ends():
    call = Call(proxy())
    call.establish()
    registry = registry_of(call.proxy.core)
    assert registry.execute("dlg_end_dlg", {"dialog_id": call.dialog.did, "extra_hdrs": "X-Reason: admin\r\n"}) \
        == "OK"
    sent = call.proxy.net.advance(0)  # sent at the core's next timer turn, as OpenSIPS hands it to a worker
    byes = [parse_message(s.data) for s in sent if s.data.startswith(b"BYE")]
    assert len(byes) == 2 and all(b.header("x-reason") == "admin" for b in byes)
    assert call.module.stats()["active_dialogs"] == 0
    assert registry.execute("dlg_list") == {"Dialogs": []}


def test_mi_dlg_end_dlg_of_an_early_dialog_cancels_the_invite():
    call = Call(proxy(), answer=0)
    call.invite()
    assert call.dialog.state == EARLY
    registry = registry_of(call.proxy.core)
    assert registry.execute("dlg_end_dlg", {"dialog_id": call.dialog.did}) == "OK"
    sent = call.proxy.net.advance(0)  # tm sends the CANCEL at the core's next timer turn
    assert methods(sent, CALLEE) == ["CANCEL"] and statuses(sent, CALLEE) == []
    sent = call.answer_now(487)
    assert statuses(sent, CALLER) == [487]
    assert call.module.stats()["failed_dialogs"] == 1 and call.dialog is None


def test_mi_dlg_end_dlg_of_an_early_dialog_whose_transaction_is_gone_is_500():
    call = Call(proxy(), answer=0)
    call.invite()
    call.dialog.transaction = None
    with pytest.raises(MIError, match="Operation failed"):
        registry_of(call.proxy.core).execute("dlg_end_dlg", {"dialog_id": call.dialog.did})


def test_dlg_extra_hdrs_go_in_the_byes_of_the_timeout():
    call = Call(proxy('\t$DLG_timeout = 1;\n\tcreate_dialog("B");',
                      params='modparam("dialog", "dlg_extra_hdrs", "Reason: SIP;text=\\"timeout\\"\\r\\n")\n'))
    call.establish()
    sent = call.proxy.net.advance(2)
    assert [parse_message(s.data).header("reason") for s in sent if s.data.startswith(b"BYE")] == \
        ['SIP;text="timeout"'] * 2


# ------------------------------------------------------------------------------------------------ pings

def test_options_pings_go_to_both_legs_and_later_requests_are_shifted_above_them():
    call = Call(proxy('\tcreate_dialog("options-ping-caller,options-ping-callee");',
                      params='modparam("dialog", "options_ping_interval", 5)\n'))
    call.establish()
    sent = call.proxy.net.advance(5.5)
    assert cseq_lines(sent, CALLER) == ["1 OPTIONS"] and cseq_lines(sent, CALLEE) == ["2 OPTIONS"]
    sent = call.in_dialog("BYE")  # the caller's CSeq 2 goes out as 3, and its 200 comes back as 2
    assert cseq_lines(sent, CALLEE) == ["3 BYE"] and cseq_lines(sent, CALLER) == ["2 BYE"]


def test_a_481_to_a_ping_ends_the_dialog_with_byes():
    call = Call(proxy('\tcreate_dialog("Pp");', params='modparam("dialog", "options_ping_interval", 2)\n'))
    call.establish()
    call.callee.answers["OPTIONS"] = 481
    call.proxy.net.advance(2.5)
    sent = call.proxy.net.advance(1)
    assert methods(sent, CALLER) == ["BYE"] and methods(sent, CALLEE) == ["BYE"]
    assert call.module.stats()["active_dialogs"] == 0


def test_reinvite_pings_carry_the_other_side_contact_and_are_acked():
    call = Call(proxy('\tcreate_dialog("reinvite-ping-caller,reinvite-ping-callee");',
                      params='modparam("dialog", "reinvite_ping_interval", 3)\n'))
    call.establish()
    sent = call.proxy.net.advance(3.5)
    to_caller = [parse_message(s.data) for s in sent if (s.host, s.port) == CALLER]
    assert [(m.method, m.header("cseq"), m.header("contact")) for m in to_caller] == \
        [("INVITE", "1 INVITE", f"<{call.callee.contact}>"), ("ACK", "1 ACK", None)]
    assert cseq_lines(sent, CALLEE) == ["2 INVITE", "2 ACK"]


# ------------------------------------------------------------------------------------------------ profiles

def test_a_dialog_leaves_its_profiles_when_it_ends():
    p = proxy('\tcreate_dialog();\n\tset_dlg_profile("caller", "alice");',
              params='modparam("dialog", "profiles_with_value", "caller")\n')
    call = Call(p)
    call.establish()
    profile = call.module.profiles.get("caller")
    assert profile.size("alice") == 1
    call.in_dialog("BYE")
    assert profile.size("alice") == 0


def test_options_pings_carry_no_contact():
    call = Call(proxy('\tcreate_dialog("P");', params='modparam("dialog", "options_ping_interval", 2)\n'))
    call.establish()
    sent = call.proxy.net.advance(2.5)
    [ping] = [parse_message(s.data) for s in sent if s.data.startswith(b"OPTIONS")]
    assert ping.header("contact") is None and (ping.from_.tag, ping.to.tag) == ("b-tag", "a-tag")


# ------------------------------------------------------------------------------------------------ CANCEL

def test_a_cancelled_call_fails_its_dialog_with_reason_cancelled():
    from opensips_py.runtime.virtual import sip
    call = Call(proxy(), answer=0)
    call.invite()
    dialog = call.dialog
    cancel = sip(f"CANCEL sip:bob@192.0.2.20 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKinv{call.call_id}"
                 f"\nMax-Forwards: 70\nTo: <sip:bob@biloxi.example>\nFrom: <sip:alice@atlanta.example>;tag=a-tag\n"
                 f"Call-ID: {call.call_id}\nCSeq: 1 CANCEL\nContent-Length: 0\n\n")
    assert statuses(call.proxy.send(cancel, CALLER), CALLER) == [200]
    assert 487 in statuses(call.answer_now(487), CALLER)
    assert (dialog.state, dialog.end_reason, call.module.stats()["failed_dialogs"]) == (DELETED, "Cancelled", 1)


# ------------------------------------------------------------------------------------------------ searches, sequential

def test_dialog_searches_by_value_and_profile_and_call_id():
    import json
    p = proxy('\tcreate_dialog();\n\t$dlg_val(account) = "acme";\n\tset_dlg_profile("caller", "alice");',
              params='modparam("dialog", "profiles_with_value", "caller")\n',
              in_dialog='\tif (is_method("INFO")) {\n\t\t$var(k) = "acme";\n'
                        '\t\tget_dialog_info("account", $avp(acc), "account", $var(k), $var(n));\n'
                        '\t\txlog("info $rc $avp(acc) $var(n)\\n");\n'
                        '\t\tget_dialogs_by_val("account", $var(k), $avp(js), $var(m));\n'
                        '\t\txlog("byval $rc $var(m)\\n");\n'
                        '\t\tget_dialogs_by_profile("caller", "alice", $avp(pj), $var(pn));\n'
                        '\t\txlog("byprofile $var(pn) $avp(pj)\\n");\n'
                        '\t\tget_dialog_vals($avp(names), $avp(vals), $ci);\n'
                        '\t\txlog("vals $avp(names) $avp(vals)\\n");\n\t}')
    call = Call(p)
    call.establish()
    call.in_dialog("INFO")
    logs = [line for line in p.script_logs() if line.split(" ")[0] in ("info", "byval", "byprofile", "vals")]
    assert logs[:2] == ["info 1 acme 1", "byval 1 1"] and logs[3] == "vals account acme"
    assert logs[2].startswith("byprofile 1 ")
    assert json.loads(logs[2].split(" ", 2)[2])["context"]["profiles"] == [{"caller": "alice"}]


def test_dlg_send_sequential_sends_a_request_of_our_own_to_the_chosen_leg():
    p = proxy(in_dialog='\tif (is_method("INFO")) dlg_send_sequential("OPTIONS", "caller");')
    call = Call(p)
    call.establish()
    sent = call.in_dialog("INFO")
    [request] = [parse_message(s.data) for s in sent if (s.host, s.port) == CALLER and s.data.startswith(b"OPTIONS")]
    assert (request.header("cseq"), request.from_.tag, request.to.tag) == ("1 OPTIONS", "b-tag", "a-tag")
    assert request.header("contact") == f"<{call.callee.contact}>"


def test_an_ended_dialog_is_not_kept_alive_by_its_lifetime_timer():
    import gc
    import weakref
    call = Call(proxy())
    call.establish()
    ref = weakref.ref(call.dialog)
    call.in_dialog("BYE")
    call.proxy.net.advance(40)  # past tm's wait timer; the 12 h lifetime is far away
    gc.collect()
    assert ref() is None and call.module._buckets == {}
