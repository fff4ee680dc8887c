"""registrar on the virtual network: save()'s replies and return codes, lookup()'s codes and targets."""
from __future__ import annotations

from tests.modules.registrar_support import invite, lookup_log, mi, proxy, register, reply


def contact_header(msg) -> str:
    return msg.header("contact") or ""


def test_save_replies_200_listing_every_binding_with_its_remaining_seconds():
    p = proxy()
    first = reply(p, register(contacts=["<sip:alice@192.0.2.10:5060>"], expires=600))
    assert first.status == 200 and first.reason == "OK"
    assert contact_header(first) == "<sip:alice@192.0.2.10:5060>;expires=600"
    p.net.advance(100)
    second = reply(p, register(contacts=["<sip:alice@192.0.2.11:5060>;q=0.5"], call_id="other", expires=300))
    # one Contact header, every valid binding (q order: 0.5 before unset), seconds left for each
    assert contact_header(second) == "<sip:alice@192.0.2.11:5060>;q=0.5;expires=300, " \
                                     "<sip:alice@192.0.2.10:5060>;expires=500"
    assert second.to.tag  # a To-tag, as sl adds to local replies


def test_expires_clamped_silently_to_min_and_max_and_defaulted():
    p = proxy('modparam("registrar", "min_expires", 60)\nmodparam("registrar", "max_expires", 1000)\n'
              'modparam("registrar", "default_expires", 500)\n')
    low = reply(p, register(contacts=["<sip:alice@192.0.2.10>;expires=5"]))
    assert low.status == 200 and "expires=60" in contact_header(low)
    high = reply(p, register(contacts=["<sip:alice@192.0.2.10>"], expires=99999, cseq=2))
    assert "expires=1000" in contact_header(high)
    bob = reply(p, register(user="bob", contacts=["<sip:bob@192.0.2.12>"]))
    assert "expires=500" in contact_header(bob)


def test_star_with_expires_0_removes_every_binding():
    p = proxy()
    reply(p, register(contacts=["<sip:alice@192.0.2.10>", "<sip:alice@192.0.2.11>"], expires=600))
    gone = reply(p, register(contacts=["*"], expires=0, cseq=2))
    assert gone.status == 200 and gone.header("contact") is None
    assert mi(p, "ul_dump")["Domains"][0]["AORs"] == []


def test_star_with_nonzero_expires_is_400_with_the_registrar_error():
    p = proxy()
    bad = reply(p, register(contacts=["*"], expires=60))
    assert bad.status == 400 and bad.reason == "Bad Request"
    assert bad.header("p-registrar-error") == "* used in contact and expires is not zero"
    assert p.core.modules["registrar"].stats()["rejected_regs"] == 1
    assert "save failed -2" in p.script_logs()
    # '*' beside another contact does not even parse: the core's up-front checks answer 400
    both = reply(p, register(contacts=["*", "<sip:alice@192.0.2.10>"], expires=0))
    assert both.status == 400


def test_register_without_contact_lists_the_bindings():
    p = proxy()
    reply(p, register(expires=600))
    p.net.advance(10)
    query = reply(p, register(contacts=[], cseq=2))
    assert query.status == 200 and contact_header(query) == "<sip:alice@192.0.2.10:5060>;expires=590"


def test_same_call_id_with_lower_cseq_is_400_invalid_cseq():
    p = proxy()
    reply(p, register(expires=600, cseq=5))
    old = reply(p, register(expires=600, cseq=4))
    assert old.status == 400 and old.header("p-registrar-error") == "Invalid CSeq number"


def test_same_cseq_within_cseq_delay_is_a_retransmission_answered_200_without_update():
    p = proxy()
    reply(p, register(expires=600, cseq=5))
    p.net.advance(5)
    again = reply(p, register(expires=100, cseq=5))
    assert again.status == 200 and "expires=595" in contact_header(again)
    p.net.advance(30)  # past cseq_delay (20 s): the same CSeq is now out of order
    late = reply(p, register(expires=100, cseq=5))
    assert late.status == 400


def test_max_contacts_rejects_with_503_and_retry_after():
    p = proxy('modparam("registrar", "max_contacts", 1)\nmodparam("registrar", "retry_after", 30)\n')
    reply(p, register(contacts=["<sip:alice@192.0.2.10>"], expires=600))
    full = reply(p, register(contacts=["<sip:alice@192.0.2.11>"], call_id="two", expires=600))
    assert (full.status, full.reason) == (503, "Service Unavailable")
    assert full.header("p-registrar-error") == "Too many registered contacts"
    assert full.header("retry-after") == "30"
    # the refused REGISTER's reply still lists what is registered
    assert contact_header(full) == "<sip:alice@192.0.2.10>;expires=600"


def test_force_registration_evicts_the_oldest_contact():
    p = proxy('modparam("registrar", "max_contacts", 1)\n',
              route='route { save("location", "force-registration"); }')
    reply(p, register(contacts=["<sip:alice@192.0.2.10>"], expires=600))
    second = reply(p, register(contacts=["<sip:alice@192.0.2.11>"], call_id="two", expires=600))
    assert second.status == 200 and contact_header(second) == "<sip:alice@192.0.2.11>;expires=600"


def test_save_flags_in_3_2_letters_set_max_contacts():
    p = proxy(route='route { save("location", "c1"); }')
    reply(p, register(contacts=["<sip:alice@192.0.2.10>"], expires=600))
    assert reply(p, register(contacts=["<sip:alice@192.0.2.11>"], call_id="x", expires=60)).status == 503


def test_no_reply_flag_sends_nothing_and_memory_only_still_saves():
    p = proxy(route='route { save("location", "no-reply,memory-only"); xlog("rc=$rc\\n"); }')
    assert p.send(register(expires=600)) == []
    assert "rc=1" in p.script_logs()
    assert len(mi(p, "ul_dump")["Domains"][0]["AORs"]) == 1


def test_path_is_echoed_when_supported_and_lookup_routes_through_it():
    p = proxy(route='route { if (is_method("REGISTER")) { save("location", "path-lazy"); exit; } '
                    'lookup("location"); xlog("lookup ru=$ru du=$du\\n"); }')
    ok = reply(p, register(expires=600, extra="Path: <sip:edge.example.net;lr>\nSupported: path"))
    assert ok.header("path") == "<sip:edge.example.net;lr>"
    p.send(invite())
    assert lookup_log(p) == "lookup ru=sip:alice@192.0.2.10:5060 du=sip:edge.example.net;lr"


def test_path_strict_without_supported_path_is_420():
    p = proxy(route='route { save("location", "path-strict"); }')
    bad = reply(p, register(expires=600, extra="Path: <sip:edge.example.net;lr>"))
    assert (bad.status, bad.reason) == (420, "Bad Extension")


def test_lookup_returns_1_with_highest_q_as_ruri_and_others_as_branches():
    p = proxy()
    reply(p, register(contacts=["<sip:alice@192.0.2.10>;q=0.1", "<sip:alice@192.0.2.11>;q=0.9",
                                "<sip:alice@192.0.2.12>;q=0.5"], expires=600))
    redirect = reply(p, invite(), src=("192.0.2.99", 5060))
    assert lookup_log(p).startswith("lookup 1 ru=sip:alice@192.0.2.11 du=<null>")
    # the 302 lists the destination set: R-URI then branches, q-ordered
    assert contact_header(redirect) == "<sip:alice@192.0.2.11>;q=0.9, <sip:alice@192.0.2.12>;q=0.5, " \
                                       "<sip:alice@192.0.2.10>;q=0.1"


def test_lookup_returns_minus1_when_user_unknown_or_expired():
    p = proxy()
    assert reply(p, invite(), src=("192.0.2.99", 5060)).status == 404
    assert lookup_log(p).startswith("lookup -1")
    reply(p, register(expires=60))
    p.net.advance(61)
    assert reply(p, invite(), src=("192.0.2.99", 5060)).status == 404


def test_lookup_method_filtering_returns_minus2_when_no_contact_allows_the_method():
    p = proxy(route='route { if (is_method("REGISTER")) { save("location"); exit; } '
                    '$var(rc) = lookup("location", "method-filtering"); xlog("lookup $var(rc)\\n"); }')
    reply(p, register(expires=600, extra="Allow: INVITE, ACK, BYE"))
    p.send(invite(method="MESSAGE"))
    assert lookup_log(p) == "lookup -2"
    p.send(invite())
    assert lookup_log(p) == "lookup 1"


def test_lookup_no_branches_keeps_only_the_best_contact():
    p = proxy(route='route { if (is_method("REGISTER")) { save("location"); exit; } '
                    'lookup("location", "no-branches"); sl_send_reply(302, "Moved"); }')
    reply(p, register(contacts=["<sip:alice@192.0.2.10>;q=0.2", "<sip:alice@192.0.2.11>;q=0.8"], expires=600))
    assert contact_header(reply(p, invite(), src=("192.0.2.99", 5060))) == "<sip:alice@192.0.2.11>;q=0.8"


def test_branch_flags_at_save_are_restored_by_lookup():
    p = proxy('modparam("usrloc", "nat_bflag", "NAT")\n',
              route='route { if (is_method("REGISTER")) { setbflag("NAT"); save("location"); exit; } '
                    'lookup("location"); if (isbflagset("NAT")) xlog("lookup nat\\n"); }')
    reply(p, register(expires=600))
    assert mi(p, "ul_dump")["Domains"][0]["AORs"][0]["Contacts"][0]["Cflags"] == "NAT"
    p.send(invite())
    assert lookup_log(p) == "lookup nat"


def test_is_registered_and_is_contact_registered():
    p = proxy(route='route { if (is_method("REGISTER")) { save("location"); exit; } '
                    'if (is_registered("location", "sip:alice@example.com")) xlog("lookup reg\\n"); '
                    'else xlog("lookup unreg\\n"); '
                    'if (is_contact_registered("location", "sip:alice@example.com", "sip:alice@192.0.2.10:5060")) '
                    'xlog("lookup contact\\n"); }')
    p.send(invite())
    assert lookup_log(p) == "lookup unreg"
    reply(p, register(expires=600))
    p.send(invite())
    assert p.script_logs()[-2:] == ["lookup reg", "lookup contact"]


def test_statistics_count_accepted_and_rejected_registrations():
    p = proxy('modparam("registrar", "max_expires", 1800)\n')
    reply(p, register(expires=600))
    reply(p, register(contacts=["*"], expires=5, cseq=2))
    stats = p.core.modules["registrar"].stats()
    assert stats == {"max_expires": 1800, "max_contacts": 0, "default_expire": 1800, "accepted_regs": 1,
                     "rejected_regs": 1}


def test_use_domain_keeps_user_at_domain_aors_lowercasing_the_domain():
    p = proxy('modparam("usrloc", "use_domain", 1)\n')
    reply(p, register(expires=600, domain="Example.COM"))
    assert mi(p, "ul_dump")["Domains"][0]["AORs"][0]["AOR"] == "alice@example.com"
    assert reply(p, invite(domain="example.com"), src=("192.0.2.99", 5060)).status == 302
    assert reply(p, invite(domain="other.net"), src=("192.0.2.99", 5060)).status == 404


def test_sip_instance_and_reg_id_are_stored_with_the_contact():
    p = proxy()
    reply(p, register(contacts=['<sip:alice@192.0.2.10>;+sip.instance="<urn:uuid:0001>";reg-id=1'], expires=600))
    contact = mi(p, "ul_show_contact", {"table_name": "location", "aor": "alice"})["Contacts"][0]
    assert contact["SIP_instance"] == "<urn:uuid:0001>"


def test_remove_and_remove_ip_port_delete_matching_bindings():
    p = proxy(route='route { if (is_method("REGISTER")) { save("location"); exit; } '
                    'if ($rU == "one") $var(rc) = remove("location", "sip:alice@example.com", "sip:alice@192.0.2.10"); '
                    'else $var(rc) = remove_ip_port("192.0.2.11", 5070, "location"); xlog("lookup $var(rc)\\n"); }')
    reply(p, register(contacts=["<sip:alice@192.0.2.10>", "<sip:alice@192.0.2.11:5070>",
                                "<sip:alice@192.0.2.12>"], expires=600))
    p.send(invite(user="one"))
    assert lookup_log(p) == "lookup 1"
    p.send(invite(user="two"))
    assert lookup_log(p) == "lookup 1"
    p.send(invite(user="two"))
    assert lookup_log(p) == "lookup -1"
    left = mi(p, "ul_show_contact", {"table_name": "location", "aor": "alice"})["Contacts"]
    assert [c["Contact"] for c in left] == ["sip:alice@192.0.2.12"]


def test_save_replies_statefully_through_tm_when_a_transaction_exists():
    from tests.modules.registrar_support import MODULES
    p = proxy(modules='loadmodule "tm.so"\n' + MODULES,
              route='route { if (is_method("REGISTER")) { t_newtran(); save("location"); exit; } }')
    first = reply(p, register(expires=600))
    assert first.status == 200 and contact_header(first) == "<sip:alice@192.0.2.10:5060>;expires=600"
    again = reply(p, register(expires=600))  # a retransmission: tm replays the reply, save() does not run
    assert again.status == 200 and contact_header(again) == contact_header(first)
    assert p.core.modules["registrar"].stats()["accepted_regs"] == 1


def test_lookup_with_several_contacts_makes_tm_fork_in_q_order():
    from tests.modules.registrar_support import MODULES
    p = proxy(modules='loadmodule "tm.so"\n' + MODULES,
              route='route { if (is_method("REGISTER")) { save("location"); exit; } '
                    'if (lookup("location")) t_relay(); }')
    reply(p, register(contacts=["<sip:alice@192.0.2.10:5060>;q=0.5", "<sip:alice@192.0.2.11:5062>;q=0.9"],
                      expires=600))
    out = p.send(invite(), src=("192.0.2.99", 5060))
    invites = [(o.host, o.port, o.data.split(b"\r\n")[0].decode()) for o in out if o.data.startswith(b"INVITE")]
    assert invites == [("192.0.2.11", 5062, "INVITE sip:alice@192.0.2.11:5062 SIP/2.0"),
                       ("192.0.2.10", 5060, "INVITE sip:alice@192.0.2.10:5060 SIP/2.0")]
