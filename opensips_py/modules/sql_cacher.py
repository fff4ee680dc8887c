"""sql_cacher: rows of an SQL table kept in a cachedb, read in the script through $sql_cached_value."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, S, Arg, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType,
    PseudoVar, VersionSpan,
)

EXPORTS = ModuleExports(
    name="sql_cacher",
    doc="Caches SQL tables (any db_url) into a cachedb (cachedb_url): the whole table at start-up (full "
        "caching, reloaded before full_caching_expire) or row by row when a key is first asked for (on_demand, "
        "kept `expire` seconds). One cache_table setting per cache entry.",
    functions=(
        Function(
            "sql_cache_dump", (Arg("caching_id"), Arg("columns"), Arg("result_avps", no_expand=True)),
            routes=R | F | O | B | L | S, versions=VersionSpan(since="3.6"),
            doc="Every cached row's columns (comma-separated) into the AVPs (comma-separated): returns the "
                "number of rows, -2 none, -1 error.",
        ),
    ),
    params=(
        ModParam("cache_table", ParamType.STR, repeatable=True,
                 doc="A cache entry: id, db_url, cachedb_url, table, key[, key_type][, columns][, on_demand]"
                     "[, expire] as `name=value`, separated by spec_delimiter, in that order."),
        ModParam("spec_delimiter", ParamType.STR, "\n", doc="Separates the fields of cache_table (one character)."),
        ModParam("pvar_delimiter", ParamType.STR, ":", doc="Separates id, column and key in $sql_cached_value."),
        ModParam("columns_delimiter", ParamType.STR, " ", doc="Separates the names in `columns`."),
        ModParam("sql_fetch_nr_rows", ParamType.INT, 100, doc="Rows fetched per chunk at a full load."),
        ModParam("full_caching_expire", ParamType.INT, 86400,
                 doc="Seconds a fully cached row lives (the table is reloaded before then)."),
        ModParam("reload_interval", ParamType.INT, 60,
                 doc="Seconds before full_caching_expire at which the table is reloaded."),
        ModParam("bigint_to_str", ParamType.INT, 0, versions=VersionSpan(since="3.5"),
                 doc="Return BIGINT values as strings (values beyond the int range)."),
    ),
    pvars=(
        PseudoVar("sql_cached_value", takes_arg=True,
                  doc="$sql_cached_value(id:column:key): the column of the row whose key column holds key "
                      "(NULL when there is none); the key may contain variables."),
    ),
    mi=(
        MICommand("sql_cacher_reload", ("id", "key"), alias_4_0="sql_cacher:reload",
                  doc="Reload the table (full caching) or forget every key (on demand); with key, reload "
                      "that key. key is optional."),
    ),
    deps=(
        Dependency(("db_*",), doc="The SQL drivers of the cache_table db_urls."),
        Dependency(("cachedb_*",), doc="The cachedb engines of the cache_table cachedb_urls."),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation

import datetime  # noqa: E402
import json  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

from opensips_py.db import DatabaseError, open_database  # noqa: E402
from opensips_py.db.url import BadDatabaseURL  # noqa: E402
from opensips_py.runtime.log import L_ERR, L_INFO, L_WARN  # noqa: E402
from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402


# the fields of a cache_table setting, in the order OpenSIPS's parser takes them
_FIELDS = ("id", "db_url", "cachedb_url", "table", "key", "key_type", "columns", "on_demand", "expire")
_REQUIRED = ("id", "db_url", "cachedb_url", "table", "key")
DEFAULT_ON_DEMAND_EXPIRE = 3600
_NULL_ROW = ""  # what an on-demand lookup of a missing key stores (OpenSIPS stores an empty value)


@dataclass
class CacheEntry:
    """One cache_table setting."""

    id: str
    db_url: str
    cachedb_url: str
    table: str
    key: str
    key_type: str = "string"
    columns: list[str] = field(default_factory=list)  # empty: every column of the table
    on_demand: bool = False
    expire: int = DEFAULT_ON_DEMAND_EXPIRE
    loaded_keys: set[str] = field(default_factory=set)  # full caching: what the last load stored


def parse_cache_table(text: str, spec_delimiter: str = "\n", columns_delimiter: str = " ") -> CacheEntry:
    """A cache_table value as parse_cache_entry() reads it: `name=value` fields, in _FIELDS order, the
    optional ones (key_type, columns, on_demand, expire) omissible. Raises ValueError naming the problem."""
    parts = [p.strip() for p in text.split(spec_delimiter) if p.strip()]
    values: dict[str, str] = {}
    order = list(_FIELDS)
    for part in parts:
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"expected: '=' after {name}")
        if name not in order:
            raise ValueError(f"unknown parameter: {name}" if name not in _FIELDS else
                             f"{name} is out of order (the order is {', '.join(_FIELDS)})")
        missing = [f for f in order[:order.index(name)] if f in _REQUIRED]
        if missing:
            raise ValueError(f"expected: {missing[0]} instead of: {name}")
        del order[:order.index(name) + 1]
        value = value.strip()
        if not value:
            raise ValueError(f"expected value of: {name}")
        values[name] = value
    absent = [f for f in _REQUIRED if f not in values]
    if absent:
        raise ValueError(f"invalid cache entry specification: {absent[0]} is missing")
    entry = CacheEntry(values["id"], values["db_url"], values["cachedb_url"], values["table"], values["key"])
    key_type = values.get("key_type", "string")
    if key_type not in ("string", "int"):
        raise ValueError(f"Unsupported key type: {key_type}")
    entry.key_type = key_type
    if "columns" in values:
        entry.columns = [c for c in values["columns"].split(columns_delimiter) if c]
        if len(entry.columns) > 64:
            raise ValueError("Too many columns, maximum number is 64")
    for name in ("on_demand", "expire"):
        if name in values:
            try:
                number = int(values[name])
            except ValueError:
                raise ValueError(f"expected integer value for: {name} instead of: {values[name]}") from None
            if name == "on_demand":
                entry.on_demand = bool(number)
            else:
                entry.expire = number
    return entry


def _column_value(value: Any, bigint_to_str: bool) -> Any:
    """A column as the PV returns it: int, str, or None (NULL); doubles and dates as their text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        if -2**31 <= value < 2**31 or not bigint_to_str:
            return value if -2**63 <= value < 2**63 else str(value)
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="surrogateescape")
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return repr(value) if value != int(value) else str(int(value))
    return str(value)


_LEVELS = {"error": L_ERR, "warning": L_WARN, "info": L_INFO}


class Module(ModuleBase):
    """The cache entries, their SQL connections (opensips_py.db) and their cachedb collections
    (cachedb_local's Collection: rows are stored under "<id><key>" as JSON, as OpenSIPS stores its own
    encoding of the row under the same key).

    Full caching loads the tables at start-up (a table that cannot be read refuses the start) and reloads
    them `reload_interval` seconds before full_caching_expire; the cached rows carry no expiry of their own
    in the cachedb (OpenSIPS's full_caching_expire): a reload replaces them and removes the rows gone from
    the table, and a failed reload keeps them. On-demand rows expire after the entry's `expire`."""

    exports = EXPORTS

    def _log(self, level: str, text: str, *args) -> None:
        """Into the proxy's log, as the module's own line."""
        self.core.logger.log(_LEVELS[level], text % args if args else text, module="sql_cacher")

    def init(self) -> None:
        self.bigint_to_str = bool(self.int_param("bigint_to_str"))
        self.pvar_delimiter = str(self.param("pvar_delimiter") or ":")[:1]
        self.full_expire = self.int_param("full_caching_expire")
        self.reload_interval = self.int_param("reload_interval")
        if self.full_expire <= 0:
            self._log("warning", "invalid full_caching_expire parameter, using the default 86400")
            self.full_expire = 86400
        if self.reload_interval <= 0 or self.reload_interval >= self.full_expire:
            self._log("warning", "invalid reload_interval parameter, using the default 60")
            self.reload_interval = 60
        spec_delimiter = str(self.param("spec_delimiter") or "\n")[:1]
        columns_delimiter = str(self.param("columns_delimiter") or " ")[:1]
        self.entries: dict[str, CacheEntry] = {}
        self._db: dict[str, Any] = {}
        self._cdb: dict[str, Any] = {}
        for value in self.param_values("cache_table"):
            try:
                entry = parse_cache_table(str(value), spec_delimiter, columns_delimiter)
            except ValueError as exc:
                raise ModuleInitError(f"sql_cacher: cache_table: {exc}") from None
            if entry.id in self.entries:
                raise ModuleInitError(f"sql_cacher: two cache_table entries with the id {entry.id}")
            self.entries[entry.id] = entry
            self._connect(entry)
        full = [e for e in self.entries.values() if not e.on_demand]
        for entry in full:
            try:
                count = self.load_table(entry)
            except DatabaseError as exc:
                raise ModuleInitError(f"sql_cacher: failed to cache the entire table {entry.table}: {exc}") \
                    from None
            self._log("info", "%s: %d records loaded", entry.id, count)
        if full and hasattr(self.core, "add_timer"):
            # the reloads count from the first tick of the proxy's clock
            self.core.add_timer(0.0, lambda now: self._arm_reload(now))

    # ------------------------------------------------------------------------------------------ set-up
    def _connect(self, entry: CacheEntry) -> None:
        """Bind the entry's cachedb and SQL database and check the table and columns, as mod_init() does
        (a test key in the cachedb, a query with a key nobody has): any failure refuses the start."""
        collection = self._collection(entry)
        probe = f"sql_cacher_test_key_{entry.id}"
        collection.store(probe, "sql_cacher_test_value", 0)
        if collection.fetch(probe) != "sql_cacher_test_value":
            raise ModuleInitError(f"sql_cacher: inconsistent test key for cachedb: {entry.cachedb_url}")
        collection.remove(probe)
        self._cdb[entry.id] = collection
        try:
            db = open_database(self.core, entry.db_url, f"sql_cacher ({entry.id})")
            columns = [entry.key, *entry.columns] if entry.columns else None
            db.query(entry.table, columns, where={entry.key: self._sql_key(entry, "0")}, limit=1)
        except (BadDatabaseURL, DatabaseError, ValueError) as exc:
            raise ModuleInitError(f"sql_cacher: cache entry {entry.id}: {exc}") from None
        self._db[entry.id] = db

    def _collection(self, entry: CacheEntry):
        scheme = entry.cachedb_url.partition(":")[0].partition("/")[0]
        engine = self.core.modules.get(f"cachedb_{scheme}") if hasattr(self.core, "modules") else None
        finder = getattr(engine, "collection_for", None)
        if finder is None:
            raise ModuleInitError(f"sql_cacher: unable to bind to a cachedb database driver for URL: "
                                  f"{entry.cachedb_url} (opensips-py serves sql_cacher from cachedb_local)")
        try:
            collection = finder(entry.cachedb_url)
        except ValueError as exc:
            raise ModuleInitError(f"sql_cacher: {exc}") from None
        if collection is None:
            raise ModuleInitError(f"sql_cacher: cannot init connection to cachedb: {entry.cachedb_url}")
        if getattr(collection, "replicated", False):
            raise ModuleInitError(f"sql_cacher: cannot use an OpenSIPS replicated cacheDB: {entry.cachedb_url}")
        return collection

    @staticmethod
    def _sql_key(entry: CacheEntry, key: str) -> Any:
        if entry.key_type == "int":
            return int(key)
        return key

    def _arm_reload(self, now: float) -> None:
        self.core.add_timer(now + self.full_expire - self.reload_interval, self._reload_tables)

    def _reload_tables(self, now: float) -> None:
        """Reload every fully cached table `reload_interval` seconds before full_caching_expire."""
        try:
            for entry in self.entries.values():
                if entry.on_demand:
                    continue
                try:
                    count = self.load_table(entry)
                except DatabaseError as exc:
                    self._log("error", "failed to reload table %s (the cached rows stay): %s", entry.table, exc)
                    continue
                self._log("info", "%s: %d records loaded", entry.id, count)
        finally:
            self._arm_reload(now)

    # ------------------------------------------------------------------------------------------ loading
    def _encode(self, entry: CacheEntry, row: dict[str, Any]) -> str:
        names = entry.columns or [c for c in row]
        return json.dumps({c: _column_value(row.get(c), self.bigint_to_str) for c in names})

    def load_table(self, entry: CacheEntry) -> int:
        """Full caching: every row into the cachedb (keys no longer in the table are removed)."""
        db = self._db[entry.id]
        rows = db.query(entry.table, [entry.key, *entry.columns] if entry.columns else None)
        collection = self._cdb[entry.id]
        loaded: set[str] = set()
        for row in rows:
            key = row.get(entry.key)
            if key is None:
                continue
            key_text = str(_column_value(key, True))
            collection.store(entry.id + key_text, self._encode(entry, row), 0)
            loaded.add(key_text)
        for gone in entry.loaded_keys - loaded:
            collection.remove(entry.id + gone)
        entry.loaded_keys = loaded
        return len(rows)

    def load_key(self, entry: CacheEntry, key: str) -> str | None:
        """One key from SQL into the cachedb; its stored value, _NULL_ROW when no row has it, None on error."""
        try:
            sql_key = self._sql_key(entry, key)
        except ValueError:
            self._log("error", "failed to convert key value to integer: %s", key)
            return None
        try:
            rows = self._db[entry.id].query(entry.table, entry.columns or None, where={entry.key: sql_key})
        except DatabaseError as exc:
            self._log("error", "failure to issue query to SQL DB: %s", exc)
            return None
        if len(rows) > 1:
            self._log("error", "SQL query returned multiple rows (%s, key %s)", entry.id, key)
            return None
        value = self._encode(entry, rows[0]) if rows else _NULL_ROW
        self._cdb[entry.id].store(entry.id + key, value, entry.expire if entry.on_demand else 0)
        if not entry.on_demand:
            (entry.loaded_keys.add if rows else entry.loaded_keys.discard)(key)
        return value

    # ------------------------------------------------------------------------------------------ the PV
    def cached_value(self, cache_id: str, column: str, key: str) -> Any:
        """What $sql_cached_value(id:column:key) reads."""
        entry = self.entries.get(cache_id)
        if entry is None:
            self._log("warning", "unknown caching id %s", cache_id)
            return None
        if entry.columns and column not in entry.columns:
            self._log("warning", "unknown column %s", column)
            return None
        stored = self._cdb[entry.id].fetch(entry.id + key)
        if stored is None and entry.on_demand:
            stored = self.load_key(entry, key)
        if not stored:
            return None
        row = json.loads(stored)
        if column not in row:
            self._log("warning", "unknown column %s", column)
            return None
        return row[column]

    def pvars(self) -> dict:
        from opensips_py.script.pvars import Handler
        from opensips_py.script.transforms import runtime_format

        def get(ctx, arg, index):
            name = arg or ""
            if "$" in name:
                try:
                    name = runtime_format(name)(ctx)
                except ValueError as exc:
                    self._log("error", "unable to evaluate variables in pv name: %s", exc)
                    return None
            cache_id, sep1, rest = name.partition(self.pvar_delimiter)
            column, sep2, key = rest.partition(self.pvar_delimiter)
            if not sep1 or not sep2:
                self._log("error", "invalid syntax for pvar name: %s", name)
                return None
            return self.cached_value(cache_id, column, key)

        return {"sql_cached_value": Handler("sql_cached_value", get)}

    # ------------------------------------------------------------------------------------------ script
    def sql_cache_dump(self, ctx, caching_id: str, columns: str, result_avps: str) -> int:
        entry = self.entries.get(caching_id)
        if entry is None:
            self._log("error", "unknown caching id %s", caching_id)
            return -1
        names = [c.strip() for c in columns.split(",") if c.strip()]
        avps = [a.strip() for a in result_avps.split(",") if a.strip()]
        if len(names) != len(avps) or not all(a.startswith("$avp(") and a.endswith(")") for a in avps):
            self._log("error", "sql_cache_dump needs one $avp(...) per column")
            return -1
        if entry.columns and any(c not in entry.columns for c in names):
            self._log("error", "sql_cache_dump: unknown column in %s", columns)
            return -1
        collection = self._cdb[entry.id]
        if entry.on_demand:
            keys = [k[len(entry.id):] for k in collection.keys(_glob_escape(entry.id) + "*")]
        else:
            keys = sorted(entry.loaded_keys)
        rows = [json.loads(stored) for stored in (collection.fetch(entry.id + k) for k in keys) if stored]
        if not rows:
            return -2
        for name, avp in zip(names, avps):
            values = ctx.avps.setdefault(avp[len("$avp("):-1], [])
            for row in reversed(rows):  # newest first: the first row ends up at index 0
                values.insert(0, row.get(name))
        return len(rows)

    # ------------------------------------------------------------------------------------------ MI
    def mi_commands(self) -> dict:
        return {"sql_cacher_reload": self._mi_reload}

    def _mi_reload(self, params) -> str:
        from opensips_py.mi.errors import MIError
        if isinstance(params, dict):
            cache_id, key = params.get("id"), params.get("key")
        else:
            items = list(params or [])
            cache_id, key = (items + [None, None])[:2]
        if cache_id is None:
            raise MIError(-32602, "Invalid params")
        entry = self.entries.get(str(cache_id))
        if entry is None:
            raise MIError(500, "ERROR Cache entry not found")
        collection = self._cdb[entry.id]
        if key is not None:
            if self.load_key(entry, str(key)) is None:
                raise MIError(500, "ERROR Reloading key from SQL database")
            return "OK"
        if entry.on_demand:
            for stored_key in collection.keys(_glob_escape(entry.id) + "*"):
                collection.remove(stored_key)
            return "OK"
        try:
            self.load_table(entry)
        except DatabaseError as exc:
            self._log("error", "failed to reload table %s: %s", entry.table, exc)
            raise MIError(500, "ERROR Reloading SQL database") from None
        return "OK"


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)
