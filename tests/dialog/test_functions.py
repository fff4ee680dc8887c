"""dialog's script functions and pseudo-variables inside the route that creates the dialog (no transaction
needed): return codes of dialog.c, the did Record-Route parameter, flags, values, profiles, and the clean-up
of a dialog no transaction took (dialog_cleanup: it counts as failed)."""
from __future__ import annotations

import pytest

from opensips_py.runtime import StartupFailure
from tests.dialog.support import DIALOG_HEAD
from tests.runtime.support import Proxy, only, parsed, request

PROFILES = ('modparam("dialog", "profiles_with_value", "caller; callee/b")\n'
            'modparam("dialog", "profiles_no_value", "inbound")\n')


def run(body: str, params: str = "", **req) -> tuple[Proxy, list[str], list]:
    p = Proxy(params + f'route {{\n{body}\n\tforward("udp:192.0.2.20:5060");\n}}\n', head=DIALOG_HEAD)
    sent = p.send(request(**req))
    return p, [line for line in p.script_logs() if ":dialog:" not in line and ":rr:" not in line], sent


def test_create_dialog_returns_1_for_an_initial_invite_and_the_dialog_is_unconfirmed():
    _, logs, _ = run('\tif (create_dialog()) xlog("rc=$rc st=$DLG_status did=$DLG_did dir=$DLG_dir\\n");')
    assert logs[0].startswith("rc=1 st=1 did=") and logs[0].endswith(" dir=downstream")


@pytest.mark.parametrize("req", [{"method": "OPTIONS"}, {"to_tag": "already"}])
def test_create_dialog_refuses_other_requests_and_in_dialog_invites(req):
    _, logs, _ = run('\tcreate_dialog();\n\txlog("rc=$rc st=$DLG_status\\n");', **req)
    assert logs == ["rc=-1 st=<null>"]


def test_a_second_create_dialog_returns_1_and_keeps_the_same_dialog():
    p, logs, _ = run('\tcreate_dialog();\n\t$var(d) = $DLG_did;\n\tcreate_dialog("B");\n'
                     '\tif ($var(d) == $DLG_did) xlog("same\\n");')
    assert logs == ["same"] and p.core.modules["dialog"].stats()["processed_dialogs"] == 1


def test_the_dialog_id_rides_in_our_record_route_as_the_did_parameter():
    p, logs, sent = run('\tcreate_dialog();\n\trecord_route();\n\txlog("$DLG_did\\n");')
    assert parsed(only(sent)).header("record-route") == f"<sip:192.0.2.1;lr;ftag=1928301774;did={logs[0]}>"


def test_rr_param_renames_it_and_match_mode_did_none_leaves_it_out():
    _, logs, sent = run('\tcreate_dialog();\n\trecord_route();\n\txlog("$DLG_did\\n");',
                        'modparam("dialog", "rr_param", "dlgid")\n')
    assert parsed(only(sent)).header("record-route").endswith(f";dlgid={logs[0]}>")
    _, _, sent = run('\tcreate_dialog();\n\trecord_route();', 'modparam("dialog", "dlg_match_mode", 2)\n')
    assert parsed(only(sent)).header("record-route") == "<sip:192.0.2.1;lr;ftag=1928301774>"


def test_a_dialog_no_transaction_took_is_removed_after_the_route_and_counted_failed():
    p, _, _ = run('\tcreate_dialog();')
    module = p.core.modules["dialog"]
    assert len(module.table) == 0
    assert (module.stats()["processed_dialogs"], module.stats()["failed_dialogs"]) == (1, 1)


def test_dlg_timeout_set_before_the_dialog_is_its_lifetime_and_reads_back_before_and_after():
    _, logs, _ = run('\txlog("before=$DLG_timeout\\n");\n\t$DLG_timeout = 90;\n\txlog("set=$DLG_timeout\\n");\n'
                     '\tcreate_dialog();\n\txlog("dlg=$DLG_timeout\\n");')
    assert logs == ["before=<null>", "set=90", "dlg=90"]


def test_without_dlg_timeout_the_lifetime_is_default_timeout():
    _, logs, _ = run('\tcreate_dialog();\n\txlog("$DLG_timeout\\n");', 'modparam("dialog", "default_timeout", 77)\n')
    assert logs == ["77"]


def test_dialog_flags_by_name_set_test_reset_and_read_as_a_list():
    _, logs, _ = run('\tcreate_dialog();\n\tset_dlg_flag("vip");\n\tset_dlg_flag("nat");\n'
                     '\tif (is_dlg_flag_set("vip")) xlog("vip [$DLG_flags]\\n");\n\treset_dlg_flag("vip");\n'
                     '\tif (!is_dlg_flag_set("vip")) xlog("reset [$DLG_flags]\\n");\n'
                     '\tif (test_and_set_dlg_flag("vip", 0)) xlog("flipped [$DLG_flags]\\n");\n'
                     '\tif (!test_and_set_dlg_flag("vip", 0)) xlog("already set\\n");')
    assert logs == ["vip [vip nat]", "reset [nat]", "flipped [vip nat]", "already set"]


def test_functions_that_need_a_dialog_fail_without_one():
    _, logs, _ = run('\tif (!set_dlg_flag("x")) xlog("flag -1\\n");\n'
                     '\t$var(b) = "b";\n\tif (!store_dlg_value("a", $var(b))) xlog("store -1\\n");\n'
                     '\tif (!fetch_dlg_value("a", $var(v))) xlog("fetch -1\\n");\n'
                     '\ttest_and_set_dlg_flag("x", 0);\n\txlog("tsl $rc\\n");')
    assert logs == ["flag -1", "store -1", "fetch -1", "tsl -2"]


def test_dialog_values_through_dlg_val_and_store_fetch():
    _, logs, _ = run('\tcreate_dialog();\n\t$dlg_val(caller) = "alice";\n\t$var(n) = 42;\n'
                     '\tstore_dlg_value("count", $var(n));\n\tfetch_dlg_value("caller", $var(c));\n'
                     '\txlog("$var(c) $dlg_val(count) [$dlg_val(none)]\\n");\n\t$dlg_val(caller) = NULL;\n'
                     '\tif (!fetch_dlg_value("caller", $var(c))) xlog("gone\\n");')
    assert logs == ["alice 42 [<null>]", "gone"]


def test_profiles_with_and_without_value_join_count_and_leave():
    p, logs, _ = run('\tcreate_dialog();\n\tset_dlg_profile("caller", "alice");\n\tset_dlg_profile("inbound");\n'
                     '\tif (is_in_profile("caller", "alice")) xlog("in alice\\n");\n'
                     '\tif (!is_in_profile("caller", "bob")) xlog("not bob\\n");\n'
                     '\tget_profile_size("caller", "alice", $var(a));\n\tget_profile_size("inbound", , $var(i));\n'
                     '\txlog("sizes $var(a) $var(i)\\n");\n\tunset_dlg_profile("caller", "alice");\n'
                     '\tget_profile_size("caller", , $var(all));\n\txlog("after $var(all)\\n");\n'
                     '\tif (!unset_dlg_profile("caller", "alice")) xlog("not there\\n");', PROFILES)
    assert logs == ["in alice", "not bob", "sizes 1 1", "after 0", "not there"]
    # the dialog ended with the route (no transaction): it left its profiles
    assert p.core.modules["dialog"].profiles.get("inbound").size() == 0


def test_set_dlg_profile_with_clear_values_replaces_the_value():
    _, logs, _ = run('\tcreate_dialog();\n\tset_dlg_profile("caller", "a");\n\tset_dlg_profile("caller", "b");\n'
                     '\tget_profile_size("caller", , $var(n));\n\tset_dlg_profile("caller", "c", 1);\n'
                     '\tget_profile_size("caller", , $var(m));\n\tget_profile_size("caller", "c", $var(c));\n'
                     '\txlog("$var(n) $var(m) $var(c)\\n");', PROFILES)
    assert logs == ["2 1 1"]


def test_an_undeclared_profile_returns_minus_1():
    _, logs, _ = run('\tcreate_dialog();\n\tif (!set_dlg_profile("nope", "x")) xlog("-1\\n");', PROFILES)
    assert logs == ["-1"]


def test_dlg_json_prints_the_mi_object_of_the_current_dialog():
    import json
    _, logs, _ = run('\tcreate_dialog();\n\t$dlg_val(k) = "v";\n\txlog("$DLG_ctx_json\\n");')
    obj = json.loads(logs[0])
    assert obj["state"] == 1 and obj["callid"] == "a84b4c76e66710@pc33.atlanta.com"
    assert obj["caller_tag"] == "1928301774" and obj["caller_bind_addr"] == "udp:192.0.2.1:5060"
    assert obj["context"] == {"values": [{"k": "v"}]} and obj["CALLEES"] == []


def test_a_profile_declared_twice_refuses_to_start():
    with pytest.raises(StartupFailure, match="declared twice"):
        run('\tcreate_dialog();', 'modparam("dialog", "profiles_no_value", "a; a")\n')


def test_dialog_loaded_before_rr_and_tm_still_hooks_into_them():
    """SIPssert's dialog configs load dialog.so before rr.so: the modules' init() order must not matter."""
    head = DIALOG_HEAD.replace('loadmodule "rr.so"\nloadmodule "dialog.so"\n',
                               'loadmodule "dialog.so"\nloadmodule "rr.so"\n')
    head = head.replace('loadmodule "tm.so"\n', '').replace('loadmodule "dialog.so"\n',
                                                             'loadmodule "dialog.so"\nloadmodule "tm.so"\n')
    assert head.index("dialog.so") < head.index("rr.so") and head.index("dialog.so") < head.index("tm.so")
    p = Proxy('route {\n\tcreate_dialog();\n\trecord_route();\n\tforward("udp:192.0.2.20:5060");\n}\n', head=head)
    sent = p.send(request())
    assert ";did=" in parsed(only(sent)).header("record-route")
    assert p.core.modules["rr"]._callbacks  # dialog's matching callback is registered
