"""The dialog table (OpenSIPS's `dialog`, version 12) behind db_url, through opensips_py.db's table API.

What goes in a row is what dlg_db_handler.c writes: the ids (dlg_id = h_entry << 32 | h_id), Call-ID, From/To
URIs and tags, each side's CSeq, ping CSeq, route set, contact and socket, the state, start time and expiry
(unix time), the values and profiles as `name#type#value|` text, the script flags, the module flags and the
dialog flags, and the names of the dlg_on_* routes. When the rows are written is the module's business
(db_mode: 1 at each change, 2 every db_update_period, 3 at shutdown); reading them back at start-up gives
the dialogs that were alive.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from opensips_py.modules.dialog.mi import read_pairs, socket_text, write_pairs
from opensips_py.modules.dialog.model import (
    CONFIRMED, CONFIRMED_NA, FLAG_CHANGED, FLAG_DB_DELETED, FLAG_NEW, FLAG_VP_CHANGED, Dialog, Leg,
)

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.db import Database

TABLE_VERSION = 12

# column parameter -> default column name (the dialog module's *_column modparams)
COLUMN_PARAMS = {
    "dlg_id": "dlg_id", "call_id": "callid", "from_uri": "from_uri", "from_tag": "from_tag", "to_uri": "to_uri",
    "to_tag": "to_tag", "state": "state", "start_time": "start_time", "timeout": "timeout",
    "to_cseq": "callee_cseq", "from_cseq": "caller_cseq", "to_route": "callee_route_set",
    "from_route": "caller_route_set", "to_contact": "callee_contact", "from_contact": "caller_contact",
    "to_sock": "callee_sock", "from_sock": "caller_sock", "profiles": "profiles", "vars": "vars",
    "sflags": "script_flags", "mflags": "module_flags", "flags": "flags",
}
_TRANSIENT_FLAGS = FLAG_NEW | FLAG_CHANGED | FLAG_VP_CHANGED | FLAG_DB_DELETED


class DialogStore:
    """Rows of the dialog table for our dialogs."""

    def __init__(self, db: "Database", table: str, columns: dict[str, str]) -> None:
        self.db = db
        self.table = table
        self.col = columns  # parameter name -> column name

    def prepare(self) -> None:
        """Create the table when it is the standard one and missing; then OpenSIPS's version check."""
        if self.table == "dialog":
            self.db.ensure_tables(["dialog"])
        self.db.check_version(self.table, TABLE_VERSION)

    # ------------------------------------------------------------------------------ writing
    def row(self, dialog: Dialog, *, expiry: int, script_flags: str | None, with_values: bool = True
            ) -> dict[str, Any]:
        """The row of a dialog; without `with_values` (db_flush_vals_profiles 0, not at shutdown) the values,
        profiles and script flags are left NULL, as set_final_update_cols() does."""
        c = self.col
        caller = dialog.legs[0]
        callee = dialog.callee or Leg()
        return {
            c["dlg_id"]: dialog.db_id, c["call_id"]: dialog.callid, c["from_uri"]: dialog.from_uri,
            c["from_tag"]: caller.tag, c["to_uri"]: dialog.to_uri, c["to_tag"]: callee.tag,
            "mangled_from_uri": None, "mangled_to_uri": None,
            c["from_cseq"]: caller.r_cseq, c["to_cseq"]: callee.r_cseq,
            "caller_ping_cseq": caller.last_gen_cseq, "callee_ping_cseq": callee.last_gen_cseq,
            c["from_route"]: caller.route_set or None, c["to_route"]: callee.route_set or None,
            c["from_contact"]: caller.contact or None, c["to_contact"]: callee.contact or None,
            c["from_sock"]: socket_text(caller.socket) or "", c["to_sock"]: socket_text(callee.socket) or "",
            c["state"]: dialog.state, c["start_time"]: dialog.start_ts, c["timeout"]: expiry,
            c["vars"]: write_pairs(list(dialog.vals.items())).encode("utf-8", "surrogateescape")
            if dialog.vals and with_values else None,
            c["profiles"]: write_pairs([(n, v or "") for n, v in dialog.profiles])
            if dialog.profiles and with_values else None,
            c["sflags"]: script_flags if with_values else None, c["mflags"]: 0,
            c["flags"]: dialog.flags & ~_TRANSIENT_FLAGS,
            "rt_on_answer": dialog.rt_on_answer, "rt_on_timeout": dialog.rt_on_timeout,
            "rt_on_hangup": dialog.rt_on_hangup,
        }

    def insert(self, dialog: Dialog, **kwargs) -> None:
        self.db.replace(self.table, self.row(dialog, **kwargs), [self.col["dlg_id"]])

    def update(self, dialog: Dialog, **kwargs) -> None:
        row = self.row(dialog, **kwargs)
        key = self.col["dlg_id"]
        if self.db.update(self.table, {k: v for k, v in row.items() if k != key}, {key: dialog.db_id}) == 0:
            self.db.insert(self.table, row)

    def delete(self, dialog: Dialog) -> None:
        self.db.delete(self.table, {self.col["dlg_id"]: dialog.db_id})

    def delete_all(self) -> None:
        self.db.delete(self.table)

    # ------------------------------------------------------------------------------ reading
    def load(self, find_socket: Callable[[str], Any]) -> list[tuple[Dialog, int, str | None]]:
        """Every stored dialog: (the dialog, its expiry as unix time, its script flags text)."""
        c = self.col
        found = []
        for row in self.db.query(self.table):
            dlg_id = int(row[c["dlg_id"]])
            dialog = Dialog(dlg_id >> 32, dlg_id & 0xFFFFFFFF, row[c["call_id"]], row[c["from_uri"]] or "",
                            row[c["to_uri"]] or "")
            dialog.state = int(row[c["state"]])
            dialog.start_ts = int(row[c["start_time"]] or 0)
            caller = Leg(row[c["from_tag"]] or "", row[c["from_contact"]] or "", row[c["from_route"]] or "",
                         str(row[c["from_cseq"]] or "0"), find_socket(row[c["from_sock"]] or ""))
            caller.last_gen_cseq = int(row.get("caller_ping_cseq") or 0)
            callee = Leg(row[c["to_tag"]] or "", row[c["to_contact"]] or "", row[c["to_route"]] or "",
                         str(row[c["to_cseq"]] or "0"), find_socket(row[c["to_sock"]] or ""))
            callee.last_gen_cseq = int(row.get("callee_ping_cseq") or 0)
            dialog.legs = [caller, callee]
            dialog.legs_200ok = 1
            dialog.flags = int(row[c["flags"]] or 0)
            raw_vars = row[c["vars"]]
            if raw_vars:
                text = raw_vars.decode("utf-8", "surrogateescape") if isinstance(raw_vars, bytes) else raw_vars
                dialog.vals = dict(read_pairs(text)) or None
            profiles = read_pairs(row[c["profiles"]] or "")
            dialog.profiles = [(name, value or None) for name, value in profiles] or None
            dialog.rt_on_answer = row.get("rt_on_answer")
            dialog.rt_on_timeout = row.get("rt_on_timeout")
            dialog.rt_on_hangup = row.get("rt_on_hangup")
            if dialog.state not in (CONFIRMED_NA, CONFIRMED):
                continue  # only confirmed dialogs are stored; anything else is stale
            found.append((dialog, int(row[c["timeout"]] or 0), row[c["sflags"]]))
        return found
