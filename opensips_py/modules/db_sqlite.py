"""db_sqlite: the SQLite driver behind `sqlite:///path/to.db` database URLs."""
from __future__ import annotations

from opensips_py.modules.exports import ModParam, ModuleExports, ParamType, VersionSpan

EXPORTS = ModuleExports(
    name="db_sqlite",
    doc="SQL driver (no script functions): any module's db_url may be `sqlite:///abs/path/db.sqlite`. "
        "Modules check their table versions in the `version` table at start-up.",
    params=(
        ModParam("alloc_limit", ParamType.INT, 10, doc="Rows allocated at once when fetching results."),
        ModParam("load_extension", ParamType.STR, repeatable=True,
                 doc='Load an SQLite extension per connection: "path.so[;entry_point]".'),
        ModParam("busy_timeout", ParamType.INT, 500, versions=VersionSpan(since="3.6"),
                 doc="Milliseconds to wait on a locked database."),
        ModParam("exec_pragma", ParamType.STR, versions=VersionSpan(since="3.6"), repeatable=True,
                 doc='Run "PRAGMA name=value" on every new connection ("journal_mode=wal").'),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation

from opensips_py.modules.base import ModuleBase  # noqa: E402


class Module(ModuleBase):
    """The SQLite driver: one shared connection per database file (modules using the same db_url share it)."""

    exports = EXPORTS

    _databases: dict[str, object] | None = None  # opened on first use: a module loaded before us may ask


    def database(self, url):
        """The connection for a parsed sqlite:// URL (opensips_py.db.DbUrl), opened on first use."""
        from opensips_py.db.sqlite import SQLiteDatabase
        if self._databases is None:
            self._databases = {}
        db = self._databases.get(url.database)
        if db is None:
            db = SQLiteDatabase(url, busy_timeout_ms=self.int_param("busy_timeout"),
                                pragmas=[str(p) for p in self.param_values("exec_pragma")],
                                extensions=[str(e) for e in self.param_values("load_extension")])
            self._databases[url.database] = db
        return db

    def destroy(self) -> None:
        for db in (self._databases or {}).values():
            db.close()
        self._databases = None
