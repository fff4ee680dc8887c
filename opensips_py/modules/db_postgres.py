"""db_postgres: the PostgreSQL driver behind `postgres://user:pass@host[:port]/db` database URLs."""
from __future__ import annotations

from opensips_py.modules.exports import Dependency, ModParam, ModuleExports, ParamType, VersionSpan

EXPORTS = ModuleExports(
    name="db_postgres",
    doc="SQL driver (no script functions): any module's db_url may be `postgres://user:pass@host[:port]/db`.",
    params=(
        ModParam("exec_query_threshold", ParamType.INT, 0,
                 doc="Log queries slower than this many microseconds (0: off)."),
        ModParam("max_db_queries", ParamType.INT, 2, doc="Attempts of one query before giving up."),
        ModParam("timeout", ParamType.INT, 5,
                 doc="Seconds to connect and query; negative: block until the server answers."),
        ModParam("use_tls", ParamType.INT, 0, versions=VersionSpan(since="3.3"),
                 doc="Allow `tls_domain=` in URLs (needs tls_mgm)."),
    ),
    deps=(
        Dependency(("tls_mgm",), when_param="use_tls", unless_values=(0,)),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation

from opensips_py.modules.base import ModuleBase  # noqa: E402


class Module(ModuleBase):
    """The PostgreSQL driver (psycopg 3): one shared connection per URL."""

    exports = EXPORTS

    _databases: dict[str, object] | None = None  # opened on first use: a module loaded before us may ask


    def database(self, url):
        """The connection for a parsed postgres:// URL (opensips_py.db.DbUrl), opened on first use."""
        from opensips_py.db.postgres import PostgresDatabase
        if self._databases is None:
            self._databases = {}
        db = self._databases.get(url.text)
        if db is None:
            db = PostgresDatabase(url, timeout=self.int_param("timeout"))
            self._databases[url.text] = db
        return db

    def destroy(self) -> None:
        for db in (self._databases or {}).values():
            db.close()
        self._databases = None
