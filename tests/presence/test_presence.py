"""presence + presence_xml + xcap on the virtual network: PUBLISH (ETags, 412, 489, 415, refresh, removal),
SUBSCRIBE (200/202, To-tag, Expires, Contact, initial NOTIFY, NOTIFY on PUBLISH, un-subscribe, expiry,
481, 400 on an old CSeq), the tables in SQLite, pres-rules from the xcap table, winfo, MI."""
from __future__ import annotations

import sqlite3

import pytest

from opensips_py.runtime.core import StartupFailure
from tests.presence.support import (
    PUBLISHER, WATCHER, answer, mi, pidf, proxy, publish, split, subscribe,
)


def rows(db, table, columns="*"):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    found = [dict(r) for r in con.execute(f"SELECT {columns} FROM {table}")]
    con.close()
    return found


def rcs(p):
    """The script's "publish rc=…" / "subscribe rc=…" lines."""
    return [line for line in p.script_logs() if " rc=" in line]


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "opensips.db")


def publish_ok(p, **kwargs):
    replies, requests = split(p.send(publish(**kwargs), src=PUBLISHER))
    return replies[0], requests


def subscribed(p, **kwargs):
    replies, requests = split(p.send(subscribe(**kwargs), src=WATCHER))
    return replies[0], requests


# ------------------------------------------------------------------------------------------------ PUBLISH

def test_initial_publish_gets_200_with_etag_and_expires_and_is_stored(db):
    p = proxy(db)
    reply, _ = publish_ok(p)
    assert reply.status == 200 and reply.reason == "OK"
    assert reply.header("Expires") == "60"
    etag = reply.header("SIP-ETag")
    assert etag.startswith("a.") and etag.endswith(".0")
    [row] = rows(db, "presentity")
    assert (row["username"], row["domain"], row["event"], row["etag"]) == ("alice", "example.com", "presence", etag)
    assert row["expires"] - row["received_time"] == 60
    assert b"<basic>open</basic>" in row["body"]
    assert rcs(p) == ["publish rc=1"]


def test_publish_expires_is_capped_by_max_expires_publish(db):
    p = proxy(db, params='modparam("presence", "max_expires_publish", 30)\n')
    reply, _ = publish_ok(p, expires=600)
    assert reply.header("Expires") == "30"


def test_publish_with_unknown_etag_is_412_and_returns_true(db):
    p = proxy(db)
    reply, _ = publish_ok(p, etag="a.1.2.3.4")
    assert (reply.status, reply.reason) == (412, "Conditional request failed")
    assert rows(db, "presentity") == []
    assert rcs(p) == ["publish rc=1"]


def test_publish_without_event_is_489_listing_allow_events(db):
    p = proxy(db)
    reply, _ = publish_ok(p, event=None)
    assert (reply.status, reply.reason) == (489, "Bad Event")
    assert reply.header("Allow-Events") == "presence, presence.winfo"
    assert rcs(p) == ["publish rc=-1"]


def test_publish_for_unregistered_known_event_is_489(db):
    p = proxy(db)
    reply, _ = publish_ok(p, event="message-summary")
    assert reply.status == 489


def test_publish_with_malformed_pidf_is_415(db):
    p = proxy(db)
    reply, _ = publish_ok(p, body="<presence><tuple>")
    assert (reply.status, reply.reason) == (415, "Unsupported media type")
    assert rows(db, "presentity") == []


def test_initial_publish_without_body_is_400(db):
    p = proxy(db)
    reply, _ = publish_ok(p, body="")
    assert (reply.status, reply.reason) == (400, "Bad request")


def test_refresh_without_body_gets_a_new_etag_and_keeps_the_body(db):
    p = proxy(db)
    first, _ = publish_ok(p)
    etag = first.header("SIP-ETag")
    second, _ = publish_ok(p, body="", etag=etag, cseq=2, expires=120)
    assert second.status == 200 and second.header("Expires") == "120"
    new_etag = second.header("SIP-ETag")
    assert new_etag != etag and new_etag.endswith(".1")
    [row] = rows(db, "presentity")
    assert row["etag"] == new_etag and b"open" in row["body"]
    old, _ = publish_ok(p, body="", etag=etag, cseq=3)
    assert old.status == 412  # the old ETag is gone


def test_publish_with_expires_0_removes_the_publication(db):
    p = proxy(db)
    etag = publish_ok(p)[0].header("SIP-ETag")
    reply, _ = publish_ok(p, body="", etag=etag, expires=0, cseq=2)
    assert reply.status == 200 and reply.header("Expires") == "0" and reply.header("SIP-ETag") == etag
    assert rows(db, "presentity") == []
    assert mi(p, "pres_phtable_list") == []


# ------------------------------------------------------------------------------------------------ SUBSCRIBE

def test_subscribe_gets_200_with_to_tag_expires_contact_and_a_notify_with_the_state(db):
    p = proxy(db)
    publish_ok(p)
    reply, [notify] = subscribed(p)
    assert (reply.status, reply.reason) == (200, "OK")
    assert reply.to.tag and reply.header("Expires") == "3600"
    assert reply.header("Contact") == "<sip:presence@192.0.2.1>"
    assert notify.method == "NOTIFY" and notify.ruri_text == "sip:bob@192.0.2.30:5070"
    assert notify.from_.tag == reply.to.tag and notify.to.tag == "w1" and notify.call_id == "sub-1"
    assert notify.from_.uri_text == "sip:alice@example.com" and notify.to.uri_text == "sip:bob@example.com"
    assert notify.cseq.number == 1
    assert notify.header("Event") == "presence"
    assert notify.header("Subscription-State") == "active;expires=3600"
    assert notify.header("Contact") == "<sip:presence@192.0.2.1>"
    assert notify.header("Content-Type") == "application/pidf+xml"
    assert b'entity="sip:alice@example.com"' in notify.body and b"<basic>open</basic>" in notify.body
    assert rcs(p)[-1] == "subscribe rc=1"


def test_subscribe_to_nobody_gets_a_notify_without_body(db):
    p = proxy(db)
    reply, [notify] = subscribed(p)
    assert reply.status == 200
    assert notify.body == b"" and notify.header("Content-Type") is None


def test_publish_notifies_the_watchers_with_the_aggregated_state(db):
    p = proxy(db)
    etag = publish_ok(p)[0].header("SIP-ETag")
    _, [first] = subscribed(p)
    answer(p, first)
    _, [notify] = publish_ok(p, body=pidf(basic="closed", person="p1", note="Busy"), etag=etag, cseq=2)
    assert notify.cseq.number == 2 and notify.call_id == "sub-1"
    assert b"<basic>closed</basic>" in notify.body and b"<dm:note>Busy</dm:note>" in notify.body
    assert b'xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"' in notify.body


def test_two_publications_are_aggregated_newest_first_with_duplicate_ids_dropped(db):
    p = proxy(db)
    publish_ok(p, body=pidf(tuple_id="t1", basic="open"), call_id="pub-a")
    p.net.advance(1)
    _, [] = publish_ok(p, body=pidf(tuple_id="t2", basic="closed", person="p9"), call_id="pub-b")
    p.net.advance(1)
    publish_ok(p, body=pidf(tuple_id="t2", basic="open"), call_id="pub-c")
    _, [notify] = subscribed(p)
    body = notify.body.decode()
    assert body.count("<tuple") == 2
    assert body.index('id="t2"') < body.index('id="t1"')  # the newest publication first
    assert '<tuple id="t2"><status><basic>open</basic>' in body  # t2 kept from the newest
    assert 'dm:person id="p9"' in body


def test_removing_a_publication_notifies_it_offline_then_the_rest(db):
    p = proxy(db)
    etag = publish_ok(p, body=pidf(tuple_id="t1"))[0].header("SIP-ETag")
    _, [n1] = subscribed(p)
    answer(p, n1)
    reply, notifies = publish_ok(p, body="", etag=etag, expires=0, cseq=2)
    assert reply.status == 200
    assert [n.cseq.number for n in notifies] == [2, 3]
    assert b"<basic>closed</basic>" in notifies[0].body  # the offline rendering of the removed one
    assert notifies[1].body == b""  # nothing published any more


def test_unsubscribe_with_expires_0_sends_terminated_notify_and_forgets(db):
    p = proxy(db)
    reply, [n1] = subscribed(p)
    answer(p, n1)
    tag = reply.to.tag
    reply2, [n2] = subscribed(p, to_tag=tag, cseq=2, expires=0)
    assert reply2.status == 200 and reply2.header("Expires") == "0"
    assert n2.header("Subscription-State") == "terminated;reason=timeout"
    assert n2.cseq.number == 2 and n2.body == b""
    assert mi(p, "subs_phtable_list") == []


def test_refresh_in_dialog_updates_expires(db):
    p = proxy(db)
    reply, [n1] = subscribed(p)
    answer(p, n1)
    reply2, [n2] = subscribed(p, to_tag=reply.to.tag, cseq=2, expires=600)
    assert reply2.status == 200 and reply2.header("Expires") == "600"
    assert n2.header("Subscription-State") == "active;expires=600" and n2.cseq.number == 2


def test_in_dialog_subscribe_for_unknown_subscription_is_481(db):
    p = proxy(db)
    reply, requests = subscribed(p, to_tag="nope", cseq=2)
    assert (reply.status, reply.reason) == (481, "Subscription does not exist") and requests == []


def test_in_dialog_subscribe_with_old_cseq_is_400(db):
    p = proxy(db)
    reply, [n1] = subscribed(p, cseq=5)
    answer(p, n1)
    again, requests = subscribed(p, to_tag=reply.to.tag, cseq=5)
    assert again.status == 400 and requests == []


def test_subscription_for_unknown_event_is_489(db):
    p = proxy(db)
    reply, requests = subscribed(p, event="foo")
    assert reply.status == 489 and reply.header("Allow-Events") == "presence, presence.winfo"


def test_expired_subscription_gets_a_timeout_notify_at_the_db_update_timer(db):
    p = proxy(db, params='modparam("presence", "db_update_period", 5)\n')
    reply, [n1] = subscribed(p, expires=3)
    answer(p, n1)
    assert n1.header("Subscription-State") == "active;expires=3"
    _, requests = split(p.net.advance(6))
    ended = requests[0]  # then its retransmissions: nobody answers it here
    assert {r.cseq.number for r in requests} == {2}
    assert ended.header("Subscription-State") == "terminated;reason=timeout" and ended.cseq.number == 2
    assert mi(p, "subs_phtable_list") == []


def test_subscriptions_reach_active_watchers_and_come_back_after_a_restart(db):
    p = proxy(db, params='modparam("presence", "db_update_period", 5)\n')
    reply, [n1] = subscribed(p)
    answer(p, n1)
    p.net.advance(6)
    [row] = rows(db, "active_watchers")
    assert (row["presentity_uri"], row["watcher_username"], row["to_tag"], row["status"], row["socket_info"]) == \
        ("sip:alice@example.com", "bob", reply.to.tag, 1, "udp:192.0.2.1:5060")
    again = proxy(db)
    [restored] = mi(again, "subs_phtable_list")
    assert restored["to_tag"] == reply.to.tag and restored["local_cseq"] == 1
    assert rows(db, "active_watchers") == []  # emptied at start-up, written back by the timer
    [ref], [n2] = split(again.send(subscribe(to_tag=reply.to.tag, cseq=2, expires=100), src=WATCHER))
    assert ref.status == 200 and n2.cseq.number == 2


def test_notify_answered_481_ends_the_subscription(db):
    p = proxy(db)
    _, [n1] = subscribed(p)
    answer(p, n1, 481, "Call/Transaction Does Not Exist")
    assert mi(p, "subs_phtable_list") == []


# ------------------------------------------------------------------------------------------------ authorization

def test_without_force_active_and_without_rules_the_watcher_is_pending_with_202(db):
    p = proxy(db, force_active=0)
    publish_ok(p)
    reply, [notify] = subscribed(p)
    assert (reply.status, reply.reason) == (202, "OK")
    assert notify.header("Subscription-State") == "pending;expires=3600" and notify.body == b""
    [row] = rows(db, "watchers")
    assert (row["presentity_uri"], row["watcher_username"], row["status"]) == ("sip:alice@example.com", "bob", 2)


def _pres_rules(db, action: str, identity: str = '<one id="sip:bob@example.com"/>') -> None:
    doc = ('<?xml version="1.0"?><ruleset xmlns="urn:ietf:params:xml:ns:common-policy">'
           f'<rule id="r1"><conditions><identity>{identity}</identity></conditions>'
           f'<actions><sub-handling xmlns="urn:ietf:params:xml:ns:pres-rules">{action}</sub-handling></actions>'
           '</rule></ruleset>')
    con = sqlite3.connect(db)
    con.execute("INSERT INTO xcap (username, domain, doc, doc_type, etag, source, doc_uri, port) "
                "VALUES ('alice', 'example.com', ?, 2, 'e1', 0, 'pres-rules', 0)", (doc.encode(),))
    con.commit()
    con.close()


@pytest.mark.parametrize("action, code, state", [
    ("allow", 200, "active;expires=3600"),
    ("block", 200, "terminated;reason=rejected"),
    ("confirm", 202, "pending;expires=3600"),
    ("polite-block", 200, "active;expires=3600"),
])
def test_pres_rules_from_the_xcap_table_decide_the_subscription(db, action, code, state):
    proxy(db, force_active=0)  # creates the tables
    _pres_rules(db, action)
    p = proxy(db, force_active=0)
    publish_ok(p)
    reply, [notify] = subscribed(p)
    assert reply.status == code
    assert notify.header("Subscription-State") == state
    assert (notify.body != b"") == (action == "allow")  # polite-block: active with no body


def test_pres_rules_for_another_watcher_leave_it_pending(db):
    proxy(db, force_active=0)
    _pres_rules(db, "allow", '<one id="sip:carol@example.com"/>')
    p = proxy(db, force_active=0)
    reply, [notify] = subscribed(p)
    assert reply.status == 202 and notify.header("Subscription-State").startswith("pending")


def test_handle_subscribe_force_active_argument_skips_authorization(db):
    script = """
route {
    if (!t_newtran()) { sl_reply_error(); exit; }
    if (is_method("SUBSCRIBE")) handle_subscribe(1);
}
"""
    p = proxy(db, force_active=0, script=script)
    reply, [notify] = subscribed(p)
    assert reply.status == 200 and notify.header("Subscription-State").startswith("active")
    assert rows(db, "watchers") == []


# ------------------------------------------------------------------------------------------------ winfo, MI, start-up

def test_winfo_watcher_is_told_about_a_new_presence_watcher(db):
    p = proxy(db)
    _, [winfo] = split(p.send(subscribe(event="presence.winfo", call_id="w-1", watcher="alice"), src=WATCHER))
    assert winfo.header("Content-Type") == "application/watcherinfo+xml"
    assert b'state="full"' in winfo.body and b"<watcher-list" in winfo.body
    answer(p, winfo)
    reply, notifies = subscribed(p)
    events = sorted(n.header("Event") for n in notifies)
    assert events == ["presence", "presence.winfo"]
    partial = next(n for n in notifies if n.header("Event") == "presence.winfo")
    assert b'state="partial"' in partial.body and b"sip:bob@example.com</watcher>" in partial.body


def test_mi_lists_subscriptions_and_presentities_and_refreshes_watchers(db):
    p = proxy(db)
    publish_ok(p)
    _, [n1] = subscribed(p)
    answer(p, n1)
    [subs] = mi(p, "subs_phtable_list")
    assert subs["pres_uri"] == "sip:alice@example.com" and subs["event"] == "presence"
    assert subs["from_user"] == "bob" and subs["contact"] == "sip:bob@192.0.2.30:5070"
    assert mi(p, "subs_phtable_list", {"from": "sip:carol*", "to": "*"}) == []
    [pres] = mi(p, "pres_phtable_list")
    assert pres["pres_uri"] == "sip:alice@example.com" and pres["event"] == 1
    assert mi(p, "refresh_watchers", {"presentity_uri": "sip:alice@example.com", "event": "presence",
                                      "refresh_type": 0}) == "OK"
    assert mi(p, "cleanup") == "OK"


def test_the_proxy_refuses_a_presence_table_of_another_version(db):
    proxy(db)
    con = sqlite3.connect(db)
    con.execute("UPDATE version SET table_version = 4 WHERE table_name = 'active_watchers'")
    con.commit()
    con.close()
    with pytest.raises(StartupFailure, match="active_watchers"):
        proxy(db)


def test_without_a_transaction_the_stateless_reply_and_the_notify_share_the_to_tag(db):
    p = proxy(db, script="""
route {
    if (is_method("SUBSCRIBE")) handle_subscribe();
}
""")
    reply, [notify] = subscribed(p)
    assert reply.status == 200 and reply.to.tag and notify.from_.tag == reply.to.tag


def test_notify_follows_the_record_route_set_of_the_subscribe(db):
    p = proxy(db)
    _, [notify] = subscribed(p, record_route="<sip:192.0.2.50;lr>, <sip:192.0.2.51;lr>")
    assert notify.header("Route") == "<sip:192.0.2.50;lr>, <sip:192.0.2.51;lr>"
    assert notify.ruri_text == "sip:bob@192.0.2.30:5070"
    [sub] = mi(p, "subs_phtable_list")
    assert sub["next_hop"] == "sip:192.0.2.50;lr"


def test_event_id_is_echoed_in_the_notify(db):
    p = proxy(db)
    _, [notify] = subscribed(p, event="presence;id=7")
    assert notify.header("Event") == "presence;id=7"


def test_initial_subscribe_with_expires_0_is_a_fetch(db):
    p = proxy(db)
    publish_ok(p)
    reply, [notify] = subscribed(p, expires=0)
    assert reply.status == 200 and reply.header("Expires") == "0"
    assert notify.header("Subscription-State") == "terminated;reason=timeout"
    assert b"<basic>open</basic>" in notify.body  # the state is sent once (the status turns at the end)
    assert mi(p, "subs_phtable_list") == []

