"""The dialog table in SQLite with db_mode 1 (every change), 2 (every db_update_period, deleted dialogs kept
until their row goes, as check-dialog.py of SIPssert expects) and 3 (at shutdown), and the restore at
start-up (dlg_db_handler.c)."""
from __future__ import annotations

import sqlite3

import pytest

from opensips_py.modules.dialog.mi import read_pairs, write_pairs
from opensips_py.runtime import StartupFailure
from tests.dialog.support import DIALOG_HEAD, confirmed
from tests.runtime.support import Proxy


def db_proxy(path, mode: int, extra: str = "") -> Proxy:
    head = DIALOG_HEAD.replace('loadmodule "dialog.so"\n', 'loadmodule "db_sqlite.so"\nloadmodule "dialog.so"\n')
    params = (f'modparam("dialog", "db_url", "sqlite://{path}")\nmodparam("dialog", "db_mode", {mode})\n'
              'modparam("dialog", "db_update_period", 2)\n'
              'modparam("dialog", "profiles_with_value", "caller")\n' + extra)
    return Proxy(params + 'route {\n\tdrop;\n}\n', head=head)


def rows(path) -> list[dict]:
    with sqlite3.connect(path) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM dialog")]


def test_realtime_mode_writes_the_confirmed_dialog_at_once_and_removes_it_when_it_ends(tmp_path):
    path = tmp_path / "opensips.db"
    p = db_proxy(path, 1)
    dialog = confirmed(p, "call-1")
    [row] = rows(path)
    assert (row["dlg_id"], row["callid"], row["state"], row["from_tag"], row["to_tag"]) == \
        (dialog.db_id, "call-1", 3, "a-tag", "b-tag")
    assert (row["caller_sock"], row["callee_route_set"], row["callee_contact"]) == \
        ("udp:192.0.2.1:5060", "<sip:p2.example;lr>", "sip:bob@192.0.2.20")
    assert row["timeout"] == row["start_time"] + 60
    p.core.modules["dialog"]._bye_answered(dialog)  # what the first final reply to our BYEs does
    assert rows(path) == [] and len(p.core.modules["dialog"].table) == 0


def test_delayed_mode_writes_every_db_update_period_and_keeps_ended_dialogs_until_then(tmp_path):
    path = tmp_path / "opensips.db"
    p = db_proxy(path, 2)
    module = p.core.modules["dialog"]
    dialog = confirmed(p, "call-1")
    assert rows(path) == []
    p.net.advance(3)
    assert [r["callid"] for r in rows(path)] == ["call-1"]
    module._bye_answered(dialog)
    assert [(d.callid, d.state) for d in module.table] == [("call-1", 5)]  # still listed, state 5
    p.net.advance(3)
    assert rows(path) == [] and len(module.table) == 0


def test_shutdown_mode_writes_at_shutdown_only(tmp_path):
    path = tmp_path / "opensips.db"
    p = db_proxy(path, 3)
    confirmed(p, "call-1")
    p.net.advance(5)
    assert rows(path) == []
    p.core.shutdown()
    assert [r["callid"] for r in rows(path)] == ["call-1"]


def test_dialogs_come_back_after_a_restart_with_their_ids_values_profiles_and_remaining_lifetime(tmp_path):
    path = tmp_path / "opensips.db"
    first = db_proxy(path, 1, 'modparam("dialog", "db_flush_vals_profiles", 1)\n')
    module = first.core.modules["dialog"]
    dialog = confirmed(first, "call-1")
    module.store_value(dialog, "a|b", "x#y")
    module.store_value(dialog, "n", 5)
    module.profiles.link(dialog, module.profiles.get("caller"), "alice")
    module._db_write(dialog)
    second = db_proxy(path, 1, 'modparam("dialog", "db_flush_vals_profiles", 1)\n')
    restored = second.core.modules["dialog"]
    [back] = list(restored.table)
    assert (back.did, back.state, back.callid, back.legs[0].tag, back.legs[1].tag) == \
        (dialog.did, 3, "call-1", "a-tag", "b-tag")
    assert back.vals == {"a|b": "x#y", "n": 5}
    assert restored.profiles.get("caller").size("alice") == 1
    assert restored.stats()["active_dialogs"] == 1
    assert 59 <= restored.timeout_at(back) - int(second.core.now) <= 60
    assert back.legs[0].socket == second.core.sockets[0]


def test_a_table_of_another_version_refuses_to_start(tmp_path):
    path = tmp_path / "opensips.db"
    db_proxy(path, 1)
    with sqlite3.connect(path) as con:
        con.execute("UPDATE version SET table_version = 11 WHERE table_name = 'dialog'")
    with pytest.raises(StartupFailure, match="version 11"):
        db_proxy(path, 1)


def test_db_mode_without_db_url_refuses_to_start():
    with pytest.raises(StartupFailure, match="db_url"):
        Proxy('loadmodule "db_sqlite.so"\nmodparam("dialog", "db_mode", 1)\nroute {\n\tdrop;\n}\n',
              head=DIALOG_HEAD)


def test_values_and_profiles_use_opensips_pair_text_with_escapes():
    text = write_pairs([("a|b", "x#y\\z"), ("n", 42)])
    assert text == "a\\|b#1#x\\#y\\\\z|n#2#42|"
    assert read_pairs(text) == [("a|b", "x#y\\z"), ("n", 42)]
    assert read_pairs("bad|n#3#x|ok#1#v|") == [("ok", "v")]


def test_values_and_profiles_are_written_only_with_db_flush_vals_profiles_or_at_shutdown(tmp_path):
    path = tmp_path / "opensips.db"
    p = db_proxy(path, 1)
    module = p.core.modules["dialog"]
    dialog = confirmed(p, "call-1")
    module.store_value(dialog, "k", "v")
    module._db_write(dialog)
    assert (rows(path)[0]["vars"], rows(path)[0]["profiles"]) == (None, None)
    p.core.shutdown()
    assert rows(path)[0]["vars"] == b"k#1#v|"
