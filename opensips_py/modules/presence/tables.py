"""The presence tables (presentity 5, active_watchers 12, watchers 4) and xcap (4), as OpenSIPS's
scripts/sqlite/presence-create.sql (3.4–3.6) writes them; SIPssert's presence/01 opensips.db has exactly these.

They are added to the shared schema registry (opensips_py.db.schema.TABLES) under their names so that
`Database.ensure_tables()` can create them in a database that lacks them.
"""
from __future__ import annotations

from opensips_py.db.schema import TABLES, Column, Table


def _c(name: str, kind: str, size: int | None = None, *, null: bool = False, default: object = ...,
       auto: bool = False) -> Column:
    has_default = default is not ...
    return Column(name, kind, size, null, None if default is ... else default, has_default or null, auto, auto)


PRESENTITY = Table("presentity", 5, (
    _c("id", "int", auto=True),
    _c("username", "char", 64),
    _c("domain", "char", 64),
    _c("event", "char", 64),
    _c("etag", "char", 64),
    _c("expires", "int"),
    _c("received_time", "int"),
    _c("body", "blob", null=True),
    _c("extra_hdrs", "blob", null=True),
    _c("sender", "char", 255, null=True),
), unique=(("presentity_idx", ("username", "domain", "event", "etag")),))

ACTIVE_WATCHERS = Table("active_watchers", 12, (
    _c("id", "int", auto=True),
    _c("presentity_uri", "char", 255),
    _c("watcher_username", "char", 64),
    _c("watcher_domain", "char", 64),
    _c("to_user", "char", 64),
    _c("to_domain", "char", 64),
    _c("event", "char", 64, default="presence"),
    _c("event_id", "char", 64, null=True),
    _c("to_tag", "char", 64),
    _c("from_tag", "char", 64),
    _c("callid", "char", 64),
    _c("local_cseq", "int"),
    _c("remote_cseq", "int"),
    _c("contact", "char", 255),
    _c("record_route", "text", null=True),
    _c("expires", "int"),
    _c("status", "int", default=2),
    _c("reason", "char", 64, null=True),
    _c("version", "int", default=0),
    _c("socket_info", "char", 64),
    _c("local_contact", "char", 255),
    _c("sharing_tag", "char", 32, null=True),
), unique=(("active_watchers_idx", ("presentity_uri", "callid", "to_tag", "from_tag")),))

WATCHERS = Table("watchers", 4, (
    _c("id", "int", auto=True),
    _c("presentity_uri", "char", 255),
    _c("watcher_username", "char", 64),
    _c("watcher_domain", "char", 64),
    _c("event", "char", 64, default="presence"),
    _c("status", "int"),
    _c("reason", "char", 64, null=True),
    _c("inserted_time", "int"),
), unique=(("watcher_idx", ("presentity_uri", "watcher_username", "watcher_domain", "event")),))

XCAP = Table("xcap", 4, (
    _c("id", "int", auto=True),
    _c("username", "char", 64),
    _c("domain", "char", 64),
    _c("doc", "blob"),
    _c("doc_type", "int"),
    _c("etag", "char", 64),
    _c("source", "int"),
    _c("doc_uri", "char", 255),
    _c("port", "int"),
), unique=(("account_doc_type_idx", ("username", "domain", "doc_type", "doc_uri")),),
    indexes=(("source_idx", ("source",)),))

for _table in (PRESENTITY, ACTIVE_WATCHERS, WATCHERS, XCAP):
    TABLES.setdefault(_table.name, _table)
