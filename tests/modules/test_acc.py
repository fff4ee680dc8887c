"""acc on the virtual network, with tm and dialog: do_accounting() to a SQLite database (the acc and
missed_calls tables of SIPssert's accounting/ scenarios) and to the log, answered and failed transactions,
missed calls (once), CDRs written at the BYE with duration and setup time, drop_accounting, bad arguments,
extra_fields with $acc_extra (SIPssert stir-shaken/27-29)."""
from __future__ import annotations

import sqlite3

import pytest

from tests.dialog.support import CALLER, DIALOG_HEAD, Call, proxy, statuses

ACC_SQL = """
CREATE TABLE version (table_name CHAR(32) NOT NULL, table_version INTEGER DEFAULT 0 NOT NULL);
INSERT INTO version VALUES ('acc', 7);
INSERT INTO version VALUES ('missed_calls', 5);
CREATE TABLE acc (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, method CHAR(16) DEFAULT '' NOT NULL,
    from_tag CHAR(64) DEFAULT '' NOT NULL, to_tag CHAR(64) DEFAULT '' NOT NULL, callid CHAR(64) DEFAULT '' NOT NULL,
    sip_code CHAR(3) DEFAULT '' NOT NULL, sip_reason CHAR(32) DEFAULT '' NOT NULL, time DATETIME NOT NULL,
    duration INTEGER DEFAULT 0 NOT NULL, ms_duration INTEGER DEFAULT 0 NOT NULL,
    setuptime INTEGER DEFAULT 0 NOT NULL, created DATETIME DEFAULT NULL);
CREATE TABLE missed_calls (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, method CHAR(16) DEFAULT '' NOT NULL,
    from_tag CHAR(64) DEFAULT '' NOT NULL, to_tag CHAR(64) DEFAULT '' NOT NULL, callid CHAR(64) DEFAULT '' NOT NULL,
    sip_code CHAR(3) DEFAULT '' NOT NULL, sip_reason CHAR(32) DEFAULT '' NOT NULL, time DATETIME NOT NULL,
    setuptime INTEGER DEFAULT 0 NOT NULL, created DATETIME DEFAULT NULL);
"""


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "acc.db"
    con = sqlite3.connect(path)
    con.executescript(ACC_SQL)
    con.close()
    return path


def acc_proxy(db, initial: str):
    head = DIALOG_HEAD + 'loadmodule "db_sqlite.so"\nloadmodule "acc.so"\n' + \
        f'modparam("acc", "db_url", "sqlite://{db}")\n'
    return proxy(initial=initial, head=head)


def rows(db, table: str, columns: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(f"SELECT {columns} FROM {table} ORDER BY id").fetchall()
    finally:
        con.close()


def acc_log(call) -> list[str]:
    return [line.split(":acc:", 1)[1] for line in call.proxy.logs if ":acc:" in line]


def test_an_answered_invite_is_one_acc_row(db):
    call = Call(acc_proxy(db, '\tdo_accounting("db");'))
    call.establish()
    assert rows(db, "acc", "method, from_tag, to_tag, callid, sip_code, sip_reason, duration") == [
        ("INVITE", "a-tag", "b-tag", "call-1@192.0.2.10", "200", "OK", 0)]
    assert rows(db, "missed_calls", "id") == []
    call.in_dialog("BYE")
    assert len(rows(db, "acc", "id")) == 1  # the BYE was not accounted: do_accounting ran for the INVITE only


def test_a_failed_call_needs_failed_for_acc_and_missed_for_missed_calls(db):
    call = Call(acc_proxy(db, '\tdo_accounting("db");'), answer=486)
    assert 486 in statuses(call.invite(), CALLER)
    assert rows(db, "acc", "id") == [] and rows(db, "missed_calls", "id") == []

    call = Call(acc_proxy(db, '\tdo_accounting("db", "failed|missed");'), call_id="call-2@192.0.2.10", answer=486)
    call.invite()
    assert rows(db, "acc", "sip_code, sip_reason, to_tag") == [("486", "Busy Here", "b-tag")]
    assert rows(db, "missed_calls", "method, sip_code, callid") == [("INVITE", "486", "call-2@192.0.2.10")]


def test_cdr_is_written_when_the_bye_is_answered_with_the_call_duration(db):
    call = Call(acc_proxy(db, '\tdo_accounting("db", "cdr");'))
    call.invite()
    call.proxy.net.advance(2.0)
    call.answer_now(200)
    call.in_dialog("ACK", cseq=1)
    assert rows(db, "acc", "id") == []  # not at the 200: at the end of the call
    call.proxy.net.advance(3.5)
    call.in_dialog("BYE")
    [(method, code, duration, ms, created)] = rows(db, "acc", "method, sip_code, duration, ms_duration, created")
    assert (method, code, duration, ms) == ("INVITE", "200", 4, 3500) and created


def test_log_accounting_writes_opensips_lines(db):
    call = Call(acc_proxy(db, '\tdo_accounting("log", "missed");'), answer=404)
    call.invite()
    lines = acc_log(call)
    assert len(lines) == 1 and lines[0].startswith("ACC: call missed: timestamp=")
    assert ";created=0;setuptime=" in lines[0]  # OpenSIPS's line, created 0 without cdr
    assert ";method=INVITE;from_tag=a-tag;to_tag=b-tag;call_id=call-1@192.0.2.10;code=404;reason=" in lines[0]


def test_drop_accounting_disarms_and_bad_types_are_errors(db):
    call = Call(acc_proxy(db, '\tdo_accounting("db");\n\tdrop_accounting();'))
    call.establish()
    assert rows(db, "acc", "id") == []
    call = Call(acc_proxy(db, '\t$var(t) = "aaa";\n\tif (!do_accounting("$var(t)")) xlog("refused\\n");'),
                call_id="call-3@192.0.2.10")
    call.establish()
    assert any("aaa accounting is not supported" in line for line in acc_log(call))
    assert any(line.endswith("refused") for line in call.proxy.logs)


# ------------------------------------------------------------------------------------------------ extra_fields

EXTRA_SQL = "ALTER TABLE acc ADD COLUMN src_user TEXT DEFAULT NULL; ALTER TABLE acc ADD COLUMN attr TEXT DEFAULT NULL;"


def extra_proxy(db, initial: str, in_dialog: str = ""):
    con = sqlite3.connect(db)
    con.executescript(EXTRA_SQL)
    con.close()
    head = DIALOG_HEAD + 'loadmodule "db_sqlite.so"\nloadmodule "acc.so"\n' + \
        f'modparam("acc", "db_url", "sqlite://{db}")\n' + \
        'modparam("acc", "extra_fields", "db: fU -> src_user; attr")\n' + \
        'modparam("acc", "extra_fields", "log: fU -> user; attr -> attribute")\n'
    return proxy(initial=initial, head=head, in_dialog=in_dialog)


def test_acc_extra_values_go_to_their_db_columns_and_log_names(db):
    call = Call(extra_proxy(db, '\t$acc_extra(fU) = $fU;\n\tdo_accounting("db|log");\n'
                                '\t$acc_extra(attr) = "x" + $acc_extra(fU);'))
    call.establish()
    assert rows(db, "acc", "sip_code, src_user, attr") == [("200", "alice", "xalice")]
    assert acc_log(call)[0].endswith(";code=200;reason=OK;user=alice;attribute=xalice")


def test_acc_extra_set_after_do_accounting_reach_the_cdr_and_unset_ones_are_null(db):
    call = Call(extra_proxy(db, '\tdo_accounting("db", "cdr");\n\t$acc_extra(attr) = "set later";'))
    call.establish()
    call.in_dialog("BYE")
    assert rows(db, "acc", "method, src_user, attr") == [("INVITE", None, "set later")]


def test_acc_db_request_writes_the_context_extras(db):
    p = extra_proxy(db, '\t$acc_extra(fU) = $fU;\n\tacc_db_request("403 Stale Date", "acc");\n'
                        '\tacc_log_request("403 Stale Date");\n\tsend_reply(403, "Stale Date");\n\texit;')
    call = Call(p)
    assert 403 in statuses(call.invite(), CALLER)
    assert rows(db, "acc", "method, sip_code, sip_reason, src_user, attr") == [
        ("INVITE", "403", "Stale Date", "alice", None)]
    assert acc_log(call)[0].endswith(";code=403;reason=Stale Date;user=alice;attribute=")


def test_a_malformed_extra_fields_setting_refuses_to_start(db):
    from opensips_py.runtime.core import StartupFailure
    head = DIALOG_HEAD + 'loadmodule "acc.so"\nmodparam("acc", "extra_fields", "fU -> src_user")\n'
    with pytest.raises(StartupFailure):
        proxy(head=head)
