"""The dialog model on its own: OpenSIPS's state machine (dlg_hash.c next_state_dlg), create_dialog's flag
syntaxes, dialog ids and SIP-wise matching (dlg_hash.h match_dialog)."""
from __future__ import annotations

import pytest

from opensips_py.modules.dialog import model
from opensips_py.modules.dialog.model import (
    CONFIRMED, CONFIRMED_NA, DELETED, DIR_DOWNSTREAM, DIR_UPSTREAM, EARLY, UNCONFIRMED, Dialog, DialogTable, Leg,
    next_state,
)


def dialog(state: int = UNCONFIRMED, callee_tags: tuple[str, ...] = ("b",)) -> Dialog:
    d = Dialog(1, 1, "call-1", "sip:a@x", "sip:b@y")
    d.legs = [Leg("a")] + [Leg(tag) for tag in callee_tags]
    d.legs_200ok = 1 if callee_tags else 0
    d.state = state
    return d


@pytest.mark.parametrize("state,event,expected", [
    (UNCONFIRMED, model.EV_RPL1XX, EARLY),
    (EARLY, model.EV_RPL1XX, EARLY),
    (UNCONFIRMED, model.EV_RPL2XX, CONFIRMED_NA),
    (EARLY, model.EV_RPL2XX, CONFIRMED_NA),
    (CONFIRMED_NA, model.EV_REQACK, CONFIRMED),
    (CONFIRMED, model.EV_REQACK, CONFIRMED),
    (UNCONFIRMED, model.EV_RPL3XX, DELETED),
    (EARLY, model.EV_RPL3XX, DELETED),
    (UNCONFIRMED, model.EV_TDEL, DELETED),
    (CONFIRMED, model.EV_TDEL, CONFIRMED),
    (CONFIRMED, model.EV_RPL3XX, CONFIRMED),
    (CONFIRMED_NA, model.EV_REQ, CONFIRMED_NA),
    (DELETED, model.EV_RPL2XX, CONFIRMED_NA),
])
def test_the_transition_table_is_opensips_next_state_dlg(state, event, expected):
    d = dialog(state)
    assert next_state(d, event, DIR_UPSTREAM, 0) == (state, expected) and d.state == expected


def test_a_bye_from_either_side_of_a_confirmed_dialog_deletes_it_and_marks_hasbye():
    upstream, downstream = dialog(CONFIRMED), dialog(CONFIRMED)
    assert next_state(upstream, model.EV_REQBYE, DIR_UPSTREAM, 0)[1] == DELETED
    assert next_state(downstream, model.EV_REQBYE, DIR_DOWNSTREAM, 1)[1] == DELETED
    assert downstream.flags & model.FLAG_HASBYE


def test_a_downstream_bye_to_another_leg_than_the_one_that_answered_changes_nothing():
    d = dialog(CONFIRMED, ("b", "c"))
    assert next_state(d, model.EV_REQBYE, DIR_DOWNSTREAM, 2) == (CONFIRMED, CONFIRMED)


def test_an_early_bye_from_the_callee_side_is_only_noted_and_then_a_2xx_cannot_revive_the_dialog():
    d = dialog(EARLY)
    assert next_state(d, model.EV_REQBYE, DIR_DOWNSTREAM, 1) == (EARLY, EARLY) and d.flags & model.FLAG_HASBYE
    d.state = DELETED
    assert next_state(d, model.EV_RPL2XX, DIR_UPSTREAM, 0) == (DELETED, DELETED)


@pytest.mark.parametrize("text,flags", [
    ("B", model.FLAG_BYEONTIMEOUT),
    ("Pp", model.FLAG_PING_CALLER | model.FLAG_PING_CALLEE),
    ("Rr", model.FLAG_REINVITE_PING_CALLER | model.FLAG_REINVITE_PING_CALLEE),
    ("BxZ", model.FLAG_BYEONTIMEOUT),  # 3.x: unknown letters are skipped
    ("bye-on-timeout", model.FLAG_BYEONTIMEOUT),
    ("options-ping-caller,options-ping-callee", model.FLAG_PING_CALLER | model.FLAG_PING_CALLEE),
    ("reinvite-ping-caller, reinvite-ping-callee", model.FLAG_REINVITE_PING_CALLER | model.FLAG_REINVITE_PING_CALLEE),
    ("", 0),
])
def test_create_dialog_flags_read_as_3x_letters_or_4_0_names(text, flags):
    assert model.parse_create_flags(text) == flags


def test_an_unknown_4_0_flag_name_is_an_error():
    with pytest.raises(ValueError, match="no-such-flag"):
        model.parse_create_flags("bye-on-timeout,no-such-flag")


def test_both_ping_kinds_on_one_leg_keep_only_the_reinvite_ping():
    flags = model.parse_create_flags("PRp")
    assert model.exclusive_pings(flags) == model.FLAG_REINVITE_PING_CALLER | model.FLAG_PING_CALLEE


def test_the_table_numbers_dialogs_per_call_id_hash_entry_and_finds_them_by_did_db_id_and_call_id():
    table = DialogTable(4096)
    first = table.create("call-1", "sip:a@x", "sip:b@y")
    second = table.create("call-1", "sip:a@x", "sip:b@y")
    assert first.h_entry == second.h_entry == table.entry_of("call-1") < 4096
    assert (first.h_id, second.h_id) == (1, 2)
    assert first.did == f"{first.h_entry:x}.1" and first.db_id == (first.h_entry << 32) + 1
    assert table.by_did(second.did) is second
    assert table.by_dialog_id(str(second.db_id)) is second
    assert table.by_dialog_id("call-1") is first
    table.remove(first)
    assert table.by_did(first.did) is None and table.by_callid("call-1") == [second] and len(table) == 1


def test_a_restored_dialog_keeps_its_ids_and_new_ones_continue_after_them():
    table = DialogTable(8)
    entry = table.entry_of("call-9")
    old = Dialog(entry, 41, "call-9", "sip:a@x", "sip:b@y")
    table.add(old)
    assert table.create("call-9", "sip:a@x", "sip:b@y").h_id == 42


@pytest.mark.parametrize("text", ["", "12", "zz.1", "1.", "x.y"])
def test_malformed_dids_are_refused(text):
    assert model.parse_did(text) is None


def test_matching_by_call_id_and_tags_gives_direction_and_destination_leg():
    d = dialog(CONFIRMED, ("b", "c"))
    assert d.match("call-1", "a", "c") == (DIR_DOWNSTREAM, 2)
    assert d.match("call-1", "c", "a") == (DIR_UPSTREAM, 0)
    assert d.match("call-1", "a", "zzz") is None
    assert d.match("call-2", "a", "b") is None
    assert d.match("call-1", "x", "y") is None


def test_without_callee_legs_only_an_empty_other_tag_matches():
    d = dialog(UNCONFIRMED, ())
    assert d.match("call-1", "a", "") == (DIR_DOWNSTREAM, -1)
    assert d.match("call-1", "a", "b") is None
