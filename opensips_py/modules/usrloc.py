"""usrloc: the location table (AoR → contacts) that registrar writes and lookup() reads."""
from __future__ import annotations

from opensips_py.modules.exports import (
    ALL, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType, VersionSpan,
)

# working_mode_preset values (ul_mod.c mod_init); the ones naming "sql-" need an SQL module, the ones
# naming "cachedb" a cachedb module (get_deps_wmode_preset).
WORKING_MODE_PRESETS = (
    "single-instance-no-db", "single-instance-sql-write-through", "single-instance-sql-write-back",
    "federation-cluster", "federation-cachedb-cluster", "full-sharing-cluster", "full-sharing-cachedb-cluster",
    "sql-only",
)
CLUSTER_MODES = ("none", "federation", "federation-cachedb", "full-sharing", "full-sharing-cachedb", "sql-only")


def _column(name: str, default: str) -> ModParam:
    return ModParam(f"{name}_column", ParamType.STR, default, doc="Column name in the location table.")


EXPORTS = ModuleExports(
    name="usrloc",
    doc="User location storage; registrar and nathelper use its API. Storage mode comes from "
        "working_mode_preset (or 3.x db_mode).",
    functions=(
        Function(
            "ul_add_key", (Arg("domain", static=True), Arg("aor"), Arg("key"), Arg("value", optional=True)),
            routes=ALL, versions=VersionSpan(since="3.6"),
            doc="AoR-level key/value (kv_store). An empty or absent value deletes the key. C: since 3.6 "
                "(the reference says 4.0).",
        ),
        Function(
            "ul_get_key", (Arg("domain", static=True), Arg("aor"), Arg("key"), Arg("dest", ArgKind.VAR)),
            routes=ALL, versions=VersionSpan(since="3.6"),
        ),
        Function(
            "ul_del_key", (Arg("domain", static=True), Arg("aor"), Arg("key")),
            routes=ALL, versions=VersionSpan(since="3.6"),
        ),
    ),
    params=(
        ModParam("db_url", ParamType.STR, None),
        ModParam("cachedb_url", ParamType.STR, None),
        ModParam("timer_interval", ParamType.INT, 60),
        ModParam(
            "db_mode", ParamType.INT, None, versions=VersionSpan(until="4.0"), renamed_to="working_mode_preset",
            doc="Deprecated alias of working_mode_preset: 0 single-instance-no-db, 1 "
                "single-instance-sql-write-through, 2 single-instance-sql-write-back, 3 sql-only; an error "
                "together with working_mode_preset. Removed in 4.0.",
        ),
        ModParam(
            "working_mode_preset", ParamType.STR, "single-instance-no-db",
            doc="One of: " + ", ".join(WORKING_MODE_PRESETS) + ". Overrides the three below.",
        ),
        ModParam("cluster_mode", ParamType.STR, "none", doc="One of: " + ", ".join(CLUSTER_MODES) + "."),
        ModParam(
            "restart_persistency", ParamType.STR, "none", doc="none, load-from-sql or sync-from-cluster.",
        ),
        ModParam("sql_write_mode", ParamType.STR, "none", doc="none, write-through or write-back."),
        ModParam(
            "shared_pinging", ParamType.INT, None, versions=VersionSpan(until="4.0"), renamed_to="pinging_mode",
            doc="Deprecated (3.x), removed in 4.0: pinging_mode.",
        ),
        ModParam(
            "pinging_mode", ParamType.STR, None,
            doc="ownership or cooperation; default depends on cluster_mode (cooperation, ownership for "
                "none/federation).",
        ),
        ModParam(
            "use_domain", ParamType.INT, 0, versions=VersionSpan(until="4.0"), doc="AoR = user (0) or user@domain.",
        ),
        ModParam(
            "use_domain", ParamType.INT, 1, versions=VersionSpan(since="4.0"), doc="Default became 1 in 4.0.",
        ),
        ModParam("desc_time_order", ParamType.INT, 0),
        ModParam("matching_mode", ParamType.INT, 0, doc="0 contact URI only; 1 contact and Call-ID."),
        ModParam("cseq_delay", ParamType.INT, 20),
        ModParam("hash_size", ParamType.INT, 9, doc="2^n buckets."),
        ModParam(
            "nat_bflag", ParamType.STR, None, flag_name=True,
            doc="Branch flag name marking NATed contacts (a number is not accepted).",
        ),
        ModParam("contact_refresh_timer", ParamType.INT, 0),
        ModParam("location_cluster", ParamType.INT, 0),
        ModParam("skip_replicated_db_ops", ParamType.INT, 0),
        ModParam("max_contact_delete", ParamType.INT, 10),
        ModParam("regen_broken_contactid", ParamType.INT, 0),
        ModParam("mi_dump_kv_store", ParamType.INT, 0),
        ModParam("latency_event_min_us", ParamType.INT, 0),
        ModParam("latency_event_min_us_delta", ParamType.INT, 0),
        ModParam(
            "ha_cluster", ParamType.INT, 0, versions=VersionSpan(since="3.6"),
            doc="C: since 3.6 (the reference says 4.0).",
        ),
        ModParam("ha_shtag", ParamType.STR, None, versions=VersionSpan(since="3.6")),
        _column("contact_id", "contact_id"),
        _column("user", "username"),
        _column("domain", "domain"),
        _column("contact", "contact"),
        _column("expires", "expires"),
        _column("q", "q"),
        _column("callid", "callid"),
        _column("cseq", "cseq"),
        _column("flags", "flags"),
        _column("cflags", "cflags"),
        _column("user_agent", "user_agent"),
        _column("received", "received"),
        _column("path", "path"),
        _column("socket", "socket"),
        _column("methods", "methods"),
        _column("sip_instance", "sip_instance"),
        _column("kv_store", "kv_store"),
        _column("attr", "attr"),
    ),
    mi=(
        MICommand("ul_rm", ("table_name", "aor"), alias_4_0="usrloc:rm"),
        MICommand("ul_rm_contact", ("table_name", "aor", "contact"), alias_4_0="usrloc:rm_contact"),
        MICommand("ul_dump", ("brief",), alias_4_0="usrloc:dump", doc="brief is optional."),
        MICommand("ul_flush", (), alias_4_0="usrloc:flush"),
        MICommand(
            "ul_add", ("table_name", "aor", "contact", "expires", "q", "flags", "cflags", "methods"),
            alias_4_0="usrloc:add",
            doc="3.2 also accepted an extra unused parameter after q.",
        ),
        MICommand("ul_show_contact", ("table_name", "aor"), alias_4_0="usrloc:show_contact"),
        MICommand("ul_sync", ("table_name", "aor"), alias_4_0="usrloc:sync", doc="aor is optional."),
        MICommand("ul_cluster_sync", (), alias_4_0="usrloc:cluster_sync"),
    ),
    stats=("registered_users",),
    deps=(
        Dependency(
            ("db_*",), when_param="db_mode", unless_values=(0,),
            doc="3.x: db_mode 1..3 needs an SQL module; db_mode 0 needs none.",
        ),
        Dependency(
            ("db_*",), when_param="working_mode_preset",
            unless_values=("single-instance-no-db", "federation-cluster", "federation-cachedb-cluster",
                           "full-sharing-cluster", "full-sharing-cachedb-cluster"),
            doc="Presets naming sql- need an SQL module.",
        ),
        Dependency(
            ("cachedb_*",), when_param="working_mode_preset",
            unless_values=("single-instance-no-db", "single-instance-sql-write-through",
                           "single-instance-sql-write-back", "federation-cluster", "full-sharing-cluster",
                           "sql-only"),
            doc="Presets naming cachedb need a cachedb module.",
        ),
        Dependency(
            ("db_*",), when_param="cluster_mode",
            unless_values=("none", "federation", "federation-cachedb", "full-sharing", "full-sharing-cachedb"),
        ),
        Dependency(
            ("cachedb_*",), when_param="cluster_mode",
            unless_values=("none", "federation", "full-sharing", "sql-only"),
        ),
        Dependency(("db_*",), when_param="restart_persistency", unless_values=("none", "sync-from-cluster")),
        Dependency(("cachedb_*",), when_param="cachedb_url"),
        Dependency(("clusterer",), when_param="location_cluster", unless_values=(0,)),
    ),
)


# ================================================================================================ implementation
#
# Theory of operation (usrloc/urecord.c, ucontact.c, udomain.c, 3.6):
# - a *domain* is a table name ("location"); registrar registers the ones its save()/lookup() calls name;
# - a domain maps an AoR ("alice" or "alice@example.com" with use_domain) to a record of contacts, kept in
#   q order (highest first; equal q: older first), or newest first with desc_time_order;
# - a contact's `expires` is an absolute Unix time (0: permanent); a contact is valid while it is in the
#   future. The timer (every timer_interval s) removes the expired ones and counts them (<table>-expires);
# - storage modes (working_mode_preset, or 3.x db_mode 0-3):
#     no-db          memory only;
#     write-through  every change goes to the database at once (load-from-sql at start-up);
#     write-back     changes are marked (CS_NEW / CS_DIRTY) and the timer writes them; a deleted contact that
#                    is in the database stays in memory as "deleted" until the timer removes both;
#     sql-only       the database is the only store: each access reads it, each change writes it.
#   A failed database write is logged and retried by the timer; memory keeps serving (a dead database is
#   survived).

import time as _time  # noqa: E402
from typing import Any, Iterator  # noqa: E402

from opensips_py.db import DatabaseError, open_database  # noqa: E402
from opensips_py.db.location import COLUMNS, LocationTable  # noqa: E402
from opensips_py.mi import MIError, recipes  # noqa: E402
from opensips_py.mi.params import get_int, get_str  # noqa: E402
from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.runtime.log import L_ERR, RateLimit  # noqa: E402
from opensips_py.sip import URI, SIPParseError  # noqa: E402

CS_NEW, CS_SYNC, CS_DIRTY = 0, 1, 2
CS_NAMES = {CS_NEW: "CS_NEW", CS_SYNC: "CS_SYNC", CS_DIRTY: "CS_DIRTY"}
FL_MEM, FL_EXTRA_HOP, FL_PN_ON = 1, 2, 4
UL_EXPIRED_TIME = 10  # expires value of a contact deleted but still waiting for the write-back timer
Q_UNSPECIFIED = -1
ALL_METHODS = 0xFFFFFFFF
LOCATION_VERSION = 1013
MI_UL_CALLID = "dfjrewr12386fd6-343@opensips.mi"  # ul_mi.c: what ul_add stores
MI_UL_USER_AGENT = "OpenSIPS MI Server"
MI_UL_CSEQ = 1
# CT_MATCH_* of usrloc.h
MATCH_CONTACT_ONLY, MATCH_CONTACT_CALLID, MATCH_PARAMS = 0, 1, 2

_PRESETS = {  # preset -> (cluster_mode, restart_persistency, sql_write_mode)
    "single-instance-no-db": ("none", "none", "none"),
    "single-instance-sql-write-through": ("none", "load-from-sql", "write-through"),
    "single-instance-sql-write-back": ("none", "load-from-sql", "write-back"),
    "sql-only": ("sql-only", "none", "none"),
}
_DB_MODES = {0: "single-instance-no-db", 1: "single-instance-sql-write-through",
             2: "single-instance-sql-write-back", 3: "sql-only"}


def q_text(q: int) -> str:
    """qvalue.h q2str(): "" unset, "1", "0", "0.5", "0.25", "0.125"."""
    if q == Q_UNSPECIFIED:
        return ""
    if q >= 1000:
        return "1"
    if q <= 0:
        return "0"
    return "0." + f"{q:03d}".rstrip("0")


class Contact:
    """One binding (ucontact_t). `cflags` are branch flag names; `socket` is "proto:ip:port"."""

    __slots__ = ("aor", "uri", "contact_id", "expires", "q", "callid", "cseq", "flags", "cflags", "user_agent",
                 "received", "path", "socket", "methods", "instance", "attr", "last_modified", "state",
                 "latency", "kv", "reg_id", "pings_lost")

    def __init__(self, aor: str, uri: str, contact_id: int, info: dict[str, Any]) -> None:
        self.aor = aor
        self.uri = uri
        self.contact_id = contact_id
        self.state = CS_NEW
        self.latency = 0
        self.kv: dict | None = None
        self.pings_lost = 0
        self.reg_id = None
        self.set(info)

    def set(self, info: dict[str, Any]) -> None:
        self.expires = int(info.get("expires", 0))
        self.q = info.get("q", Q_UNSPECIFIED)
        self.callid = info.get("callid", "")
        self.cseq = int(info.get("cseq", 0))
        self.flags = int(info.get("flags", 0))
        self.cflags = tuple(info.get("cflags", ()))
        self.user_agent = info.get("user_agent", "")
        self.received = info.get("received")
        self.path = info.get("path")
        self.socket = info.get("socket")
        methods = info.get("methods")
        self.methods = ALL_METHODS if methods is None else int(methods)
        self.instance = info.get("instance")
        self.attr = info.get("attr")
        self.last_modified = info.get("last_modified", 0.0)
        if "reg_id" in info:
            self.reg_id = info["reg_id"]

    def valid(self, now: float) -> bool:
        """VALID_CONTACT(): permanent, or expiring in the future."""
        return self.expires == 0 or self.expires > now

    def values(self) -> dict[str, Any]:
        """Column values for the location table (db/location.py keys)."""
        return {"aor": self.aor, "contact_id": self.contact_id, "contact": self.uri, "expires": self.expires,
                "q": -1.0 if self.q == Q_UNSPECIFIED else self.q / 1000.0, "callid": self.callid,
                "cseq": self.cseq, "flags": self.flags, "cflags": ",".join(self.cflags) or None,
                "user_agent": self.user_agent, "received": self.received, "path": self.path,
                "socket": self.socket, "methods": None if self.methods == ALL_METHODS else self.methods,
                "sip_instance": self.instance, "kv_store": None, "attr": self.attr,
                "last_modified": self.last_modified}


def _info_from_row(row: dict[str, Any]) -> dict[str, Any]:
    q = row.get("q")
    return {"expires": int(row.get("expires") or 0),
            "q": Q_UNSPECIFIED if q is None or float(q) < 0 else int(round(float(q) * 1000)),
            "callid": row.get("callid") or "", "cseq": int(row.get("cseq") or 0), "flags": int(row.get("flags") or 0),
            "cflags": tuple(f for f in (row.get("cflags") or "").split(",") if f),
            "user_agent": row.get("user_agent") or "", "received": row.get("received") or None,
            "path": row.get("path") or None, "socket": row.get("socket") or None, "methods": row.get("methods"),
            "instance": row.get("sip_instance") or None, "attr": row.get("attr") or None,
            "last_modified": row.get("last_modified") or 0.0}


class Record:
    """All the contacts of one AoR (urecord_t)."""

    __slots__ = ("aor", "contacts", "kv")

    def __init__(self, aor: str) -> None:
        self.aor = aor
        self.contacts: list[Contact] = []
        self.kv: dict[str, Any] | None = None


class Domain:
    """One usrloc table (udomain_t): AoR -> Record, with its statistics."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.records: dict[str, Record] = {}
        self.contacts = 0  # <table>-contacts
        self.expired = 0  # <table>-expires
        self.table: LocationTable | None = None


class Module(ModuleBase):
    """usrloc: the location tables in memory, with the database behind them as working_mode_preset says.

    registrar and nathelper use the methods below the "API" line (OpenSIPS's usrloc_api_t)."""

    exports = EXPORTS

    domains: dict[str, "Domain"]

    def init(self) -> None:
        """Also run by register_domain() when registrar is loaded before usrloc (OpenSIPS orders module
        initialisation by their dependencies)."""
        if hasattr(self, "domains"):
            return
        self.domains = {}
        self.use_domain = bool(self.int_param("use_domain"))
        self.desc_time_order = bool(self.int_param("desc_time_order"))
        self.matching_mode = self.int_param("matching_mode")
        self.cseq_delay = self.int_param("cseq_delay")
        self.timer_interval = max(self.int_param("timer_interval"), 1)
        self.hash_size = 1 << max(1, min(self.int_param("hash_size"), 16))
        self.nat_bflag = self.param("nat_bflag")
        self.max_contact_delete = max(self.int_param("max_contact_delete"), 1)
        self.cluster_mode, self.restart_persistency, self.sql_write_mode = self._working_mode()
        self.db_only = self.cluster_mode == "sql-only"
        self.uses_db = self.db_only or self.sql_write_mode != "none" or self.restart_persistency == "load-from-sql"
        self.write_through = self.sql_write_mode == "write-through"
        self._next_id = int(_time.time()) * 1000
        self._pending_deletes: dict[str, list[int]] = {}
        self._db_log = RateLimit(self.core.logger, per_second=1) if hasattr(self.core, "logger") else None
        self.db_errors = 0
        self.db = None
        self._columns = {key: str(self.param(f"{key}_column")) for key in COLUMNS}
        if self.uses_db:
            url = self.db_url()
            if not url:
                raise ModuleInitError("usrloc: this working mode needs db_url")
            try:
                self.db = open_database(self.core, str(url), "usrloc")
            except (DatabaseError, ValueError) as exc:
                raise ModuleInitError(f"usrloc: {exc}") from exc
        if hasattr(self.core, "add_timer"):
            self.core.add_timer(0.0, self._on_timer)

    def _working_mode(self) -> tuple[str, str, str]:
        params = self.params
        if "working_mode_preset" in params and "db_mode" in params:
            raise ModuleInitError("usrloc: db_mode and working_mode_preset cannot be both set")
        if "working_mode_preset" in params:
            preset = str(self.param("working_mode_preset"))
        elif "db_mode" in params:
            mode = self.int_param("db_mode")
            if mode not in _DB_MODES:
                raise ModuleInitError(f"usrloc: db_mode {mode} is not one of 0-3")
            preset = _DB_MODES[mode]
        else:
            cluster = str(self.param("cluster_mode"))
            persistency = str(self.param("restart_persistency"))
            write_mode = str(self.param("sql_write_mode"))
            if persistency == "load-from-sql" and write_mode == "none":
                write_mode = "write-back"
            if cluster not in ("none", "sql-only"):
                raise ModuleInitError(f"usrloc: cluster_mode {cluster} needs clustering, which opensips-py "
                                      f"does not have (use none or sql-only)")
            return cluster, persistency, write_mode
        if preset not in _PRESETS:
            raise ModuleInitError(f"usrloc: working_mode_preset {preset!r} is not supported by opensips-py "
                                  f"(supported: {', '.join(_PRESETS)})")
        return _PRESETS[preset]

    def destroy(self) -> None:
        """Shutdown: write-back flushes what is pending, as OpenSIPS's destroy does."""
        if self.uses_db and not self.write_through and not self.db_only:
            self.flush(_time.time() if not hasattr(self.core, "now") or not self.core.now else self.core.now)

    # ---------------------------------------------------------------------------------- logging
    def _db_failed(self, what: str, exc: Exception) -> None:
        self.db_errors += 1
        text = f"database {what} failed (memory keeps serving; the timer retries): {exc}"
        if self._db_log is not None:
            self._db_log.log(self._now(), L_ERR, text, "usrloc")

    def _now(self) -> float:
        now = getattr(self.core, "now", 0.0)
        return now if now else _time.time()

    def mi_now(self) -> float:
        """The time for MI answers: the wall clock on a live host (the core's time is that of its last event,
        which may be a timer_interval old); the core's own time when it runs on a virtual clock far from the
        wall clock (tests, replay)."""
        wall = _time.time()
        now = getattr(self.core, "now", 0.0)
        return now if now and abs(wall - now) > 86400 else wall

    # ================================================================================== API (usrloc_api_t)
    def register_domain(self, name: str) -> Domain:
        """register_udomain(): create the table (and, with a database, load it: preload_udomain)."""
        self.init()
        domain = self.domains.get(name)
        if domain is not None:
            return domain
        domain = self.domains[name] = Domain(name)
        self._publish_stats()
        if self.db is not None:
            try:
                self.db.ensure_tables([name], like={name: "location"})
                self.db.check_version(name, LOCATION_VERSION)
            except DatabaseError as exc:
                raise ModuleInitError(f"usrloc: table {name}: {exc}") from exc
            domain.table = LocationTable.with_columns(self.db, name, self.use_domain, self._columns)
            if self.restart_persistency == "load-from-sql" and not self.db_only:
                try:
                    rows = domain.table.load_all()
                except DatabaseError as exc:
                    raise ModuleInitError(f"usrloc: loading {name}: {exc}") from exc
                for row in rows:
                    self._restore(domain, row)
        return domain

    def _restore(self, domain: Domain, row: dict[str, Any]) -> Contact:
        record = domain.records.get(row["aor"])
        if record is None:
            record = domain.records[row["aor"]] = Record(row["aor"])
        contact_id = int(row.get("contact_id") or self._new_id())
        self._next_id = max(self._next_id, contact_id + 1)
        contact = Contact(row["aor"], row.get("contact") or "", contact_id, _info_from_row(row))
        contact.state = CS_SYNC
        self._place(record, contact)
        domain.contacts += 1
        return contact

    def _publish_stats(self) -> None:
        """Per-table statistics (<table>-users, -contacts, -expires) join the declared ones for MI."""
        import dataclasses
        extra = tuple(f"{d}-{kind}" for d in self.domains for kind in ("users", "contacts", "expires"))
        self.exports = dataclasses.replace(EXPORTS, stats=EXPORTS.stats + extra)

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def aor_of(self, user: str, host: str) -> str:
        return f"{user}@{host}" if self.use_domain and user else (host if self.use_domain else user)

    def get_record(self, domain: Domain, aor: str) -> Record | None:
        """get_urecord(): the AoR's record, or None. In sql-only mode it is read from the database."""
        if self.db_only:
            return self._load_record(domain, aor)
        return domain.records.get(aor)

    def _load_record(self, domain: Domain, aor: str) -> Record | None:
        domain.records.pop(aor, None)
        try:
            rows = domain.table.load_aor(aor) if domain.table is not None else []
        except DatabaseError as exc:
            self._db_failed("read", exc)
            return None
        if not rows:
            return None
        for row in rows:
            row["aor"] = aor
            self._restore(domain, row)
        return domain.records[aor]

    def insert_record(self, domain: Domain, aor: str) -> Record:
        record = domain.records.get(aor)
        if record is None:
            record = domain.records[aor] = Record(aor)
        return record

    def release_record(self, domain: Domain, record: Record) -> None:
        """release_urecord(): an AoR left without contacts goes away (sql-only: always, after writing)."""
        if self.db_only:
            if domain.records.get(record.aor) is record:
                del domain.records[record.aor]
                domain.contacts -= len(record.contacts)
            return
        if not record.contacts and domain.records.get(record.aor) is record:
            del domain.records[record.aor]

    def delete_record(self, domain: Domain, aor: str, memory_only: bool = False) -> None:
        """delete_urecord(): every contact of the AoR (Contact: * and ul_rm)."""
        record = self.get_record(domain, aor)
        if record is None:
            return
        for contact in list(record.contacts):
            if memory_only:
                contact.flags |= FL_MEM
            else:
                contact.flags &= ~FL_MEM
            self.delete_contact(domain, record, contact)
        self.release_record(domain, record)

    def _place(self, record: Record, contact: Contact) -> None:
        """mem_insert_ucontact(): q order (equal q: after the older ones), or newest first."""
        contacts = record.contacts
        if self.desc_time_order:
            contacts.insert(0, contact)
            return
        for i, other in enumerate(contacts):
            if other.q < contact.q:
                contacts.insert(i, contact)
                return
        contacts.append(contact)

    def insert_contact(self, domain: Domain, record: Record, uri: str, info: dict[str, Any]) -> Contact:
        contact = Contact(record.aor, uri, self._new_id(), info)
        self._place(record, contact)
        domain.contacts += 1
        if self.db_only or self.write_through:
            self._write(domain, contact, insert=True)
        return contact

    def update_contact(self, domain: Domain, record: Record, contact: Contact, info: dict[str, Any]) -> None:
        """update_ucontact(): new values; re-placed when q changed; the database follows the mode."""
        old_q = contact.q
        contact.set(info)
        if contact.q != old_q or self.desc_time_order:
            record.contacts.remove(contact)
            self._place(record, contact)
        if contact.state == CS_SYNC and self.uses_db:
            contact.state = CS_DIRTY
        if self.db_only or self.write_through:
            self._write(domain, contact, insert=False)

    def delete_contact(self, domain: Domain, record: Record, contact: Contact) -> None:
        """delete_ucontact(): at once when never written (or write-through / sql-only); in write-back a
        written contact is marked deleted (expires = 10) and the timer removes it from both places."""
        if contact.state != CS_NEW and not (self.write_through or self.db_only):
            contact.expires = UL_EXPIRED_TIME
            return
        if contact.state != CS_NEW and domain.table is not None and not contact.flags & FL_MEM:
            try:
                domain.table.delete([contact.contact_id])
            except DatabaseError as exc:
                self._db_failed("delete", exc)
                self._pending_deletes.setdefault(domain.name, []).append(contact.contact_id)
        record.contacts.remove(contact)
        domain.contacts -= 1

    def _write(self, domain: Domain, contact: Contact, insert: bool) -> None:
        if domain.table is None or contact.flags & FL_MEM:
            return
        try:
            if insert:
                domain.table.insert(contact.values())
            else:
                domain.table.upsert(contact.values())
        except DatabaseError as exc:
            self._db_failed("insert" if insert else "update", exc)
            return
        contact.state = CS_SYNC

    def get_contact(self, record: Record, uri: str, callid: str, cseq: int, mode: int | None = None,
                    match_params: tuple[str, ...] = ()) -> tuple[int, Contact | None]:
        """get_ucontact(): 0 found, 1 not found, -1 found with an older CSeq (invalid), -2 found with the same
        CSeq within cseq_delay (a retransmission: skip it)."""
        mode = self.matching_mode if mode is None else mode
        found = self._match(record, uri, callid if mode == MATCH_CONTACT_CALLID else None, mode, match_params)
        if found is None:
            return 1, None
        if mode == MATCH_CONTACT_CALLID or callid == found.callid:
            if cseq < found.cseq:
                return -1, found
            if cseq == found.cseq:
                return (-2 if found.last_modified + self.cseq_delay > self._now() else -1), found
        return 0, found

    @staticmethod
    def _match(record: Record, uri: str, callid: str | None, mode: int,
               match_params: tuple[str, ...]) -> Contact | None:
        try:
            wanted = URI(uri)
        except SIPParseError:
            return None
        for contact in record.contacts:
            if contact.expires == UL_EXPIRED_TIME:
                continue
            if callid is not None and contact.callid != callid:
                continue
            if contact.uri == uri:
                return contact
            try:
                theirs = URI(contact.uri)
            except SIPParseError:
                continue
            if mode == MATCH_PARAMS:
                if all(wanted.params.get(p) == theirs.params.get(p) for p in match_params
                       if p in wanted.params and p in theirs.params):
                    return contact
                continue
            if theirs == wanted:
                return contact
        return None

    def find_contact(self, record: Record, uri: str) -> Contact | None:
        """get_simple_ucontact(): by URI only (MI)."""
        return self._match(record, uri, None, MATCH_CONTACT_ONLY, ())

    def iter_contacts(self) -> Iterator[tuple[Domain, Record, Contact]]:
        """Every contact in memory (nathelper's pinger walks them)."""
        for domain in self.domains.values():
            for record in list(domain.records.values()):
                for contact in list(record.contacts):
                    yield domain, record, contact

    # ================================================================================== the timer
    def _on_timer(self, now: float) -> None:
        try:
            self.flush(now)
        finally:
            self.core.add_timer(now + self.timer_interval, self._on_timer)

    def flush(self, now: float) -> None:
        """timer_urecord() for every record: expire, and (write-back) write what changed."""
        if self.db_only:
            self._expire_in_db(now)
            return
        for domain in self.domains.values():
            self._flush_domain(domain, now)

    def _flush_domain(self, domain: Domain, now: float) -> None:
        table = domain.table if self.uses_db else None
        deletes = self._pending_deletes.pop(domain.name, [])
        writes: list[tuple[Contact, bool]] = []
        for aor, record in list(domain.records.items()):
            kept: list[Contact] = []
            for contact in record.contacts:
                if contact.valid(now):
                    kept.append(contact)
                    if table is not None and not contact.flags & FL_MEM and contact.state != CS_SYNC:
                        writes.append((contact, contact.state == CS_NEW))
                    continue
                if contact.expires != UL_EXPIRED_TIME:
                    domain.expired += 1
                if table is not None and contact.state != CS_NEW and not contact.flags & FL_MEM:
                    deletes.append(contact.contact_id)
                domain.contacts -= 1
            record.contacts = kept
            if not kept:
                del domain.records[aor]
        if table is None or not (deletes or writes):
            return
        try:
            with table.db.transaction():
                if deletes:
                    table.delete(deletes)
                for contact, insert in writes:
                    table.insert(contact.values()) if insert else table.upsert(contact.values())
        except DatabaseError as exc:
            self._db_failed("write-back", exc)
            self._pending_deletes.setdefault(domain.name, []).extend(deletes)
            return
        for contact, _ in writes:
            contact.state = CS_SYNC

    def _expire_in_db(self, now: float) -> None:
        for domain in self.domains.values():
            if domain.table is None:
                continue
            names = domain.table.names
            try:
                removed = self.db.delete(domain.name, [(names["expires"], "<", int(now)),
                                                       (names["expires"], "!=", 0)])
            except DatabaseError as exc:
                self._db_failed("expiry", exc)
                continue
            domain.expired += max(removed, 0)

    # ================================================================================== statistics
    def stats(self) -> dict[str, int]:
        users = 0
        values: dict[str, int] = {}
        for name, domain in self.domains.items():
            count = len(domain.records)
            users += count
            values[f"{name}-users"] = count
            values[f"{name}-contacts"] = domain.contacts
            values[f"{name}-expires"] = domain.expired
        values["registered_users"] = users
        return values

    # ================================================================================== MI
    def _all_records(self, domain: Domain) -> list[Record]:
        if not self.db_only:
            return list(domain.records.values())
        try:
            rows = domain.table.load_all() if domain.table is not None else []
        except DatabaseError as exc:
            raise MIError(500, f"database error: {exc}") from exc
        by_aor: dict[str, Record] = {}
        for row in rows:
            record = by_aor.setdefault(row["aor"], Record(row["aor"]))
            contact = Contact(row["aor"], row.get("contact") or "", int(row.get("contact_id") or 0),
                              _info_from_row(row))
            contact.state = CS_SYNC
            self._place(record, contact)
        return list(by_aor.values())

    def aor_node(self, record: Record, now: float, brief: bool = False) -> dict[str, Any]:
        """ul_mi.c mi_add_aor_node()."""
        node: dict[str, Any] = {"AOR": record.aor}
        if brief:
            return node
        contacts = []
        for c in record.contacts:
            if c.expires == 0:
                expires: Any = "permanent"
            elif c.expires == UL_EXPIRED_TIME:
                expires = "deleted"
            elif now > c.expires:
                expires = "expired"
            else:
                expires = int(c.expires - now)
            item: dict[str, Any] = {"Contact": c.uri, "ContactID": str(c.contact_id), "Expires": expires,
                                    "Q": q_text(c.q), "Callid": c.callid, "Cseq": c.cseq}
            if c.user_agent:
                item["User-agent"] = c.user_agent
            if c.received:
                item["Received"] = c.received
            if c.path:
                item["Path"] = c.path
            item["State"] = CS_NAMES.get(c.state, "CS_UNKNOWN")
            item["Flags"] = c.flags
            item["Cflags"] = ",".join(c.cflags)
            if c.socket:
                item["Socket"] = c.socket
            item["Methods"] = c.methods
            if c.attr:
                item["Attr"] = c.attr
            if c.instance:
                item["SIP_instance"] = c.instance
            if c.latency > 0:
                item["Ping-Latency"] = c.latency
            contacts.append(item)
        node["Contacts"] = contacts
        return node

    def _mi_domain(self, params: dict) -> Domain:
        domain = self.domains.get(get_str(params, "table_name"))
        if domain is None:
            raise MIError(404, "Table not found")
        return domain

    def _mi_aor(self, params: dict) -> str:
        aor = get_str(params, "aor")
        if self.use_domain:
            if "@" not in aor:
                raise MIError(400, "Domain missing in AOR")
        else:
            aor = aor.split("@", 1)[0]
        return aor

    def mi_commands(self) -> dict:
        @recipes((), ("brief",))
        def ul_dump(params):
            brief = bool(get_int(params, "brief")) if "brief" in params else False
            now = self.mi_now()
            domains = [{"name": d.name, "hash_size": self.hash_size,
                        "AORs": [self.aor_node(r, now, brief) for r in self._all_records(d)]}
                       for d in self.domains.values()]
            return {"Domains": domains}

        @recipes(("table_name", "aor"))
        def ul_show_contact(params):
            domain = self._mi_domain(params)
            aor = self._mi_aor(params)
            record = self.get_record(domain, aor)
            if record is None:
                raise MIError(404, "AOR not found")
            node = self.aor_node(record, self.mi_now())
            self.release_record(domain, record) if self.db_only else None
            return node

        @recipes(("table_name", "aor"))
        def ul_rm(params):
            domain = self._mi_domain(params)
            self.delete_record(domain, self._mi_aor(params))
            return "OK"

        @recipes(("table_name", "aor", "contact"))
        def ul_rm_contact(params):
            domain = self._mi_domain(params)
            aor = self._mi_aor(params)
            record = self.get_record(domain, aor)
            if record is None:
                raise MIError(404, "AOR not found")
            contact = self.find_contact(record, get_str(params, "contact"))
            if contact is None:
                raise MIError(404, "Contact not found")
            self.delete_contact(domain, record, contact)
            self.release_record(domain, record)
            return "OK"

        @recipes(("table_name", "aor", "contact", "expires", "q", "flags", "cflags", "methods"),
                 ("table_name", "aor", "contact", "expires", "q", "unused", "flags", "cflags", "methods"))
        def ul_add(params):
            domain = self._mi_domain(params)
            aor = self._mi_aor(params)
            uri = get_str(params, "contact")
            expires = get_int(params, "expires")
            try:
                q = _parse_q(get_str(params, "q"))
            except ValueError:
                raise MIError(400, "Bad parameter value") from None
            flags, cflag_bits, methods = (get_int(params, n) for n in ("flags", "cflags", "methods"))
            now = self.mi_now()
            record = self.get_record(domain, aor)
            if record is None:
                record = self.insert_record(domain, aor)
            contact = self.find_contact(record, uri)
            info = {"expires": expires + int(now) if expires else 0, "q": q, "flags": flags,
                    "cflags": _bits_to_flags(cflag_bits, self.nat_bflag), "methods": methods,
                    "user_agent": MI_UL_USER_AGENT, "callid": MI_UL_CALLID, "last_modified": now}
            if contact is not None:
                info["cseq"] = contact.cseq
                self.update_contact(domain, record, contact, info)
            else:
                info["cseq"] = MI_UL_CSEQ
                self.insert_contact(domain, record, uri, info)
            self.release_record(domain, record)
            return "OK"

        @recipes(())
        def ul_flush(params):
            self.flush(self.mi_now())
            return "OK"

        @recipes(("table_name",), ("table_name", "aor"))
        def ul_sync(params):
            domain = self._mi_domain(params)
            if domain.table is None:
                raise MIError(200, "Contacts already synced")
            records = [domain.records.get(self._mi_aor(params))] if "aor" in params else \
                list(domain.records.values())
            for record in records:
                if record is None:
                    raise MIError(404, "AOR not found")
                for contact in record.contacts:
                    contact.state = CS_NEW
            try:
                if "aor" in params:
                    domain.table.delete_aor(records[0].aor)
                else:
                    self.db.delete(domain.name)
            except DatabaseError as exc:
                raise MIError(400, f"database error: {exc}") from exc
            self.flush(self.mi_now())
            return "OK"

        return {"ul_dump": ul_dump, "ul_show_contact": ul_show_contact, "ul_rm": ul_rm,
                "ul_rm_contact": ul_rm_contact, "ul_add": ul_add, "ul_flush": ul_flush, "ul_sync": ul_sync}

    # ================================================================================== script functions (3.6+)
    def _kv_record(self, domain_name: str, aor: str) -> Record | None:
        domain = self.domains.get(domain_name)
        return self.get_record(domain, aor) if domain is not None else None

    def ul_add_key(self, ctx, domain: str, aor: str, key: str, value: str | None = None) -> int:
        record = self._kv_record(domain, aor)
        if record is None:
            return -1
        if value in (None, ""):
            if record.kv:
                record.kv.pop(key, None)
            return 1
        record.kv = record.kv or {}
        record.kv[key] = value
        return 1

    def ul_get_key(self, ctx, domain: str, aor: str, key: str, dest) -> int:
        record = self._kv_record(domain, aor)
        if record is None or not record.kv or key not in record.kv:
            return -1
        dest.set(ctx, record.kv[key])
        return 1

    def ul_del_key(self, ctx, domain: str, aor: str, key: str) -> int:
        record = self._kv_record(domain, aor)
        if record is None:
            return -1
        if record.kv:
            record.kv.pop(key, None)
        return 1


def _parse_q(text: str) -> int:
    """str2q(): "0".."1" with up to three decimals -> q x 1000; "" -> unset."""
    text = text.strip()
    if not text:
        return Q_UNSPECIFIED
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(text)
    return int(round(value * 1000))


def _bits_to_flags(bits: int, nat_bflag) -> tuple[str, ...]:
    """ul_add's cflags is OpenSIPS's bit mask of branch flags; opensips-py names flags, so bit 0 stands for
    the nat_bflag when one is set and the other bits for flags named by their index."""
    names: list[str] = []
    for bit in range(32):
        if bits & (1 << bit):
            names.append(str(nat_bflag) if bit == 0 and nat_bflag else str(bit))
    return tuple(names)
