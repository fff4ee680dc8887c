"""Subscriptions (OpenSIPS's subs_t and its shared hash table, hash.c) and their active_watchers rows.

A subscription is the SUBSCRIBE dialog seen from our side: we are the notifier, so our tag is the To-tag
we answered with and our CSeq numbers the NOTIFYs. `expires` is absolute (unix time) in the table and
relative in a copy handed to NOTIFY building, as in OpenSIPS.

With fallback2db=0 (the default) the table lives in memory and goes to active_watchers every
db_update_period (update_db_subs): new rows are inserted, changed rows updated, expired ones deleted.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

ACTIVE, PENDING, TERMINATED, WAITING = 1, 2, 3, 4
STATUS_NAMES = {ACTIVE: "active", PENDING: "pending", TERMINATED: "terminated", WAITING: "waiting"}

NO_UPDATEDB, UPDATEDB, INSERTDB = 1, 2, 4


@dataclass
class Subscription:
    pres_uri: str
    event: str                  # the package name ("presence")
    to_user: str = ""
    to_domain: str = ""
    from_user: str = ""
    from_domain: str = ""
    event_id: str | None = None
    to_tag: str = ""
    from_tag: str = ""
    callid: str = ""
    local_cseq: int = 0
    remote_cseq: int = 0
    contact: str = ""
    record_route: str = ""      # the route set as "<uri>, <uri>" (print_rr_body)
    expires: int = 0
    status: int = PENDING
    reason: str = ""
    version: int = 0
    socket_info: str = ""       # "udp:127.0.0.1:5060"
    local_contact: str = ""
    sharing_tag: str = ""
    db_flag: int = INSERTDB
    rules_doc: bytes | None = None  # the authorization document while the request is handled
    body: bytes = b""           # the SUBSCRIBE body

    def copy(self, **changes: Any) -> "Subscription":
        return dataclasses.replace(self, **changes)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.callid, self.to_tag, self.from_tag)


class SubscriptionTable:
    """The in-memory subscriptions by (Call-ID, To-tag, From-tag) (search_shtable)."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str, str], Subscription] = {}
        self.deleted: list[Subscription] = []  # rows to delete at the next database sync

    def __len__(self) -> int:
        return len(self.by_key)

    def __iter__(self):
        return iter(list(self.by_key.values()))

    def get(self, callid: str, to_tag: str, from_tag: str) -> Subscription | None:
        return self.by_key.get((callid, to_tag, from_tag))

    def insert(self, subs: Subscription) -> None:
        self.by_key[subs.key] = subs

    def delete(self, callid: str, to_tag: str, from_tag: str) -> Subscription | None:
        subs = self.by_key.pop((callid, to_tag, from_tag), None)
        if subs is not None and not subs.db_flag & INSERTDB:
            self.deleted.append(subs)
        return subs

    def delete_by_to_tag(self, pres_uri: str, event: str, to_tag: str) -> Subscription | None:
        """delete_shtable(): the NOTIFY callback only knows these."""
        for subs in list(self.by_key.values()):
            if subs.to_tag == to_tag and subs.pres_uri == pres_uri and subs.event == event:
                return self.delete(*subs.key)
        return None

    def watching(self, pres_uri: str, event: str) -> list[Subscription]:
        return [s for s in self.by_key.values() if s.pres_uri == pres_uri and s.event == event]


COLUMNS = ("presentity_uri", "watcher_username", "watcher_domain", "to_user", "to_domain", "event", "event_id",
           "to_tag", "from_tag", "callid", "local_cseq", "remote_cseq", "contact", "record_route", "expires",
           "status", "reason", "version", "socket_info", "local_contact", "sharing_tag")


def to_row(s: Subscription) -> dict[str, Any]:
    return {
        "presentity_uri": s.pres_uri, "watcher_username": s.from_user, "watcher_domain": s.from_domain,
        "to_user": s.to_user, "to_domain": s.to_domain, "event": s.event, "event_id": s.event_id or None,
        "to_tag": s.to_tag, "from_tag": s.from_tag, "callid": s.callid, "local_cseq": s.local_cseq,
        "remote_cseq": s.remote_cseq, "contact": s.contact, "record_route": s.record_route or None,
        "expires": s.expires, "status": s.status, "reason": s.reason or None, "version": s.version,
        "socket_info": s.socket_info, "local_contact": s.local_contact, "sharing_tag": s.sharing_tag or None,
    }


def from_row(row: dict[str, Any]) -> Subscription:
    def text(name: str) -> str:
        value = row.get(name)
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return "" if value is None else str(value)

    return Subscription(
        pres_uri=text("presentity_uri"), event=text("event") or "presence", to_user=text("to_user"),
        to_domain=text("to_domain"), from_user=text("watcher_username"), from_domain=text("watcher_domain"),
        event_id=text("event_id") or None, to_tag=text("to_tag"), from_tag=text("from_tag"),
        callid=text("callid"), local_cseq=int(row.get("local_cseq") or 0),
        remote_cseq=int(row.get("remote_cseq") or 0), contact=text("contact"), record_route=text("record_route"),
        expires=int(row.get("expires") or 0), status=int(row.get("status") or PENDING), reason=text("reason"),
        version=int(row.get("version") or 0), socket_info=text("socket_info"), local_contact=text("local_contact"),
        sharing_tag=text("sharing_tag"), db_flag=NO_UPDATEDB)
