"""The `location` table as usrloc reads and writes it (usrloc/ucontact.c db_insert_ucontact & co).

usrloc keeps contacts as objects; this class maps them to rows and back with OpenSIPS's column names (or
the ones the `*_column` parameters name) and value conventions:
- `expires` is an absolute Unix time, 0 for a permanent contact;
- `q` is a float, -1 for "unset";
- `cflags` is the CSV of branch flag names; `methods` NULL means every method;
- `socket` is `proto:ip:port`; `last_modified` a `YYYY-MM-DD HH:MM:SS` local time;
- with use_domain the AoR is split at its last `@` into username and domain (else domain stays NULL).

Rows are written one by one (write-through), or in a batch inside one transaction (the write-back timer).
"""
from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from opensips_py.db.api import Database

# column key -> default column name (usrloc's *_column parameters)
COLUMNS = ("contact_id", "user", "domain", "contact", "expires", "q", "callid", "cseq", "flags", "cflags",
           "user_agent", "received", "path", "socket", "methods", "sip_instance", "kv_store", "attr")
DEFAULT_NAMES = {"user": "username"}
LAST_MODIFIED = "last_modified"


def datetime_text(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def datetime_value(value: Any) -> float:
    """last_modified as read back: text (SQLite), a datetime (PostgreSQL) or a number."""
    if value is None:
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    try:
        return time.mktime(time.strptime(str(value)[:19], "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        return 0.0


@dataclass
class LocationTable:
    """One usrloc table (a "domain" such as `location`) in a database."""

    db: Database
    table: str
    use_domain: bool
    names: Mapping[str, str]  # column key -> column name

    @classmethod
    def with_columns(cls, db: Database, table: str, use_domain: bool,
                     overrides: Mapping[str, str] | None = None) -> "LocationTable":
        names = {key: DEFAULT_NAMES.get(key, key) for key in COLUMNS}
        names.update(overrides or {})
        return cls(db, table, use_domain, names)

    # ------------------------------------------------------------------------------ rows
    def _aor_where(self, aor: str) -> dict[str, Any]:
        n = self.names
        if self.use_domain:
            user, at, domain = aor.rpartition("@")
            if not at:
                user, domain = "", aor
            return {n["user"]: user, n["domain"]: domain}
        return {n["user"]: aor}

    def to_row(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Contact values by column key (aor instead of user/domain) -> a row by column name."""
        n = self.names
        row = {n[key]: values[key] for key in COLUMNS if key not in ("user", "domain") and key in values}
        row.update(self._aor_where(values["aor"]))
        row[LAST_MODIFIED] = datetime_text(values.get("last_modified") or time.time())
        return row

    def from_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A row -> contact values by column key, with `aor` rebuilt from username/domain."""
        n = self.names
        values = {key: row.get(n[key]) for key in COLUMNS}
        user, domain = values.pop("user") or "", values.pop("domain")
        values["aor"] = f"{user}@{domain}" if self.use_domain and domain and user else (
            domain if self.use_domain and domain and not user else user)
        values["last_modified"] = datetime_value(row.get(LAST_MODIFIED))
        return values

    # ------------------------------------------------------------------------------ operations
    def load_all(self) -> list[dict[str, Any]]:
        return [self.from_row(r) for r in self.db.query(self.table)]

    def load_aor(self, aor: str) -> list[dict[str, Any]]:
        return [self.from_row(r) for r in self.db.query(self.table, where=self._aor_where(aor))]

    def insert(self, values: Mapping[str, Any]) -> None:
        self.db.insert(self.table, self.to_row(values))

    def update(self, values: Mapping[str, Any]) -> int:
        row = self.to_row(values)
        key = self.names["contact_id"]
        contact_id = row.pop(key)
        return self.db.update(self.table, row, {key: contact_id})

    def upsert(self, values: Mapping[str, Any]) -> None:
        """Update the row of this contact_id, or insert it (a row deleted behind our back comes back)."""
        if self.update(values) == 0:
            self.insert(values)

    def delete(self, contact_ids: Iterable[int]) -> None:
        key = self.names["contact_id"]
        with self.db.transaction():
            for contact_id in contact_ids:
                self.db.delete(self.table, {key: contact_id})

    def delete_aor(self, aor: str) -> None:
        self.db.delete(self.table, self._aor_where(aor))
