"""dialog's MI commands through the MI registry (recipes, errors) with OpenSIPS's result shapes, which
SIPssert's check scripts read (dialog/*/scripts/check-dialog.py: dlg_list's "Dialogs" and "state",
get_statistics' "dialog:active_dialogs")."""
from __future__ import annotations

import pytest

from opensips_py.mi import MIError
from opensips_py.mi.host import registry_of
from tests.dialog.support import DIALOG_HEAD, confirmed
from tests.runtime.support import Proxy

PROFILES = ('modparam("dialog", "profiles_with_value", "caller")\n'
            'modparam("dialog", "profiles_no_value", "inbound/b")\n')


@pytest.fixture
def proxy() -> Proxy:
    return Proxy(PROFILES + 'route {\n\tdrop;\n}\n', head=DIALOG_HEAD)


def mi(p: Proxy, command: str, params=None):
    return registry_of(p.core).execute(command, params)


def test_dlg_list_prints_every_dialog_with_opensips_keys(proxy):
    dialog = confirmed(proxy, "call-1")
    result = mi(proxy, "dlg_list")
    assert list(result) == ["Dialogs"] and len(result["Dialogs"]) == 1
    item = result["Dialogs"][0]
    assert list(item) == ["ID", "db_id", "state", "user_flags", "timestart", "datestart", "timeout", "dateout",
                          "callid", "from_uri", "to_uri", "caller_tag", "caller_contact", "callee_cseq",
                          "caller_route_set", "caller_bind_addr", "CALLEES"]
    assert item["ID"] == dialog.did and item["db_id"] == str(dialog.db_id) and item["state"] == 3
    assert item["timeout"] - item["timestart"] == 60
    assert item["CALLEES"] == [{"callee_tag": "b-tag", "callee_contact": "sip:bob@192.0.2.20", "caller_cseq": "1",
                                "callee_route_set": "<sip:p2.example;lr>", "callee_bind_addr": "udp:192.0.2.1:5060"}]


def test_dlg_list_by_call_id_gives_one_dialog_or_404(proxy):
    confirmed(proxy, "call-1")
    assert mi(proxy, "dlg_list", {"callid": "call-1"})["Dialog"]["callid"] == "call-1"
    assert mi(proxy, "dlg_list", {"callid": "call-1", "from_tag": "a-tag"})["Dialog"]["caller_tag"] == "a-tag"
    with pytest.raises(MIError) as error:
        mi(proxy, "dlg_list", {"callid": "call-1", "from_tag": "other"})
    assert (error.value.code, error.value.message) == (404, "No such dialog")


def test_dlg_list_with_index_and_counter_pages_and_counts(proxy):
    for n in range(5):
        confirmed(proxy, f"call-{n}")
    result = mi(proxy, "dlg_list", {"index": 1, "counter": 2})
    assert result["count"] == 5 and len(result["Dialogs"]) == 2


def test_dlg_list_takes_named_parameters_only(proxy):
    with pytest.raises(MIError) as error:
        mi(proxy, "dlg_list", ["call-1"])
    assert error.value.code == -32602


def test_dlg_list_ctx_adds_values_and_profiles(proxy):
    dialog = confirmed(proxy, "call-1")
    module = proxy.core.modules["dialog"]
    module.store_value(dialog, "who", "al\nice")
    module.store_value(dialog, "n", 7)
    module.profiles.link(dialog, module.profiles.get("caller"), "alice")
    module.profiles.link(dialog, module.profiles.get("inbound"), None)
    item = mi(proxy, "dlg_list_ctx")["Dialogs"][0]
    assert item["context"] == {"values": [{"who": "al\\nice"}, {"n": 7}],
                               "profiles": [{"caller": "alice"}, {"inbound": ""}]}


def test_profile_commands(proxy):
    module = proxy.core.modules["dialog"]
    for n, who in enumerate(("alice", "alice", "bob")):
        module.profiles.link(confirmed(proxy, f"call-{n}"), module.profiles.get("caller"), who)
    assert mi(proxy, "profile_get_size", {"profile": "caller", "value": "alice"}) == \
        {"Profile": {"name": "caller", "value": "alice", "count": 2, "shared": "no", "replicated": "no"}}
    assert mi(proxy, "profile_get_size", {"profile": "caller"})["Profile"]["count"] == 3
    assert mi(proxy, "profile_get_values", {"profile": "caller"}) == [{"value": "alice", "count": 2},
                                                                      {"value": "bob", "count": 1}]
    assert len(mi(proxy, "profile_list_dlgs", {"profile": "caller", "value": "bob"})["Dialogs"]) == 1
    assert mi(proxy, "list_all_profiles") == {"Profiles": [{"name": "caller", "has value": True},
                                                          {"name": "inbound", "has value": False}]}
    with pytest.raises(MIError) as error:
        mi(proxy, "profile_get_size", {"profile": "nope"})
    assert (error.value.code, error.value.message) == (404, "Profile not found")


def test_dlg_set_and_unset_profile_by_dialog_id(proxy):
    dialog = confirmed(proxy, "call-1")
    assert mi(proxy, "dlg_set_profile", {"dlg_id": dialog.did, "profile": "caller", "value": "x"}) == "OK"
    assert mi(proxy, "profile_get_size", {"profile": "caller", "value": "x"})["Profile"]["count"] == 1
    assert mi(proxy, "dlg_unset_profile", {"dlg_id": "call-1", "profile": "caller", "value": "x"}) == "OK"
    with pytest.raises(MIError) as error:
        mi(proxy, "dlg_unset_profile", {"dlg_id": "call-1", "profile": "caller", "value": "x"})
    assert error.value.code == 404


def test_dlg_push_var_sets_a_value_on_the_dialogs_named(proxy):
    dialog = confirmed(proxy, "call-1")
    assert mi(proxy, "dlg_push_var", {"dlg_val_name": "k", "dlg_val_value": "v", "DID": dialog.did}) == "OK"
    assert dialog.vals == {"k": "v"}


def test_dlg_end_dlg_of_an_unknown_dialog_is_404(proxy):
    with pytest.raises(MIError) as error:
        mi(proxy, "dlg_end_dlg", {"dialog_id": "nope"})
    assert (error.value.code, error.value.message) == (404, "Requested Dialog not found")


def test_db_commands_refuse_without_a_database(proxy):
    with pytest.raises(MIError) as error:
        mi(proxy, "dlg_db_sync")
    assert (error.value.code, error.value.message) == (400, "Cannot sync in no-db mode")


def test_statistics_show_as_dialog_group(proxy):
    confirmed(proxy, "call-1")
    stats = mi(proxy, "get_statistics", {"statistics": ["dialog:"]})
    assert stats["dialog:active_dialogs"] == 1 and stats["dialog:failed_dialogs"] == 0
    assert set(stats) >= {f"dialog:{n}" for n in ("active_dialogs", "early_dialogs", "processed_dialogs",
                                                  "expired_dialogs", "failed_dialogs", "create_sent")}
