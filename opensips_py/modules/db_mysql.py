"""db_mysql: the MySQL/MariaDB driver behind `mysql://user:pass@host[:port]/db` database URLs."""
from __future__ import annotations

from opensips_py.modules.exports import Dependency, ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="db_mysql",
    doc="SQL driver (no script functions): any module's db_url may be `mysql://user:pass@host[:port]/db`, "
        "with `?tls_domain=name` for TLS when use_tls is on.",
    params=(
        ModParam("timeout_interval", ParamType.INT, 2,
                 doc="Seconds for connect/read/write (the client library applies it up to 3 times)."),
        ModParam("exec_query_threshold", ParamType.INT, 0,
                 doc="Log queries slower than this many microseconds (0: off)."),
        ModParam("max_db_retries", ParamType.INT, 3, doc="Reconnect attempts after a lost connection."),
        ModParam("max_db_queries", ParamType.INT, 2, doc="Attempts of one query before giving up."),
        ModParam("ps_max_col_size", ParamType.INT, 1024,
                 doc="Buffer for one column of a prepared-statement result."),
        ModParam("use_tls", ParamType.INT, 0, doc="Allow `tls_domain=` in URLs (needs tls_mgm)."),
    ),
    deps=(
        Dependency(("tls_mgm",), when_param="use_tls", unless_values=(0,)),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation

from opensips_py.modules.base import ModuleBase  # noqa: E402


class Module(ModuleBase):
    """The MySQL/MariaDB driver (PyMySQL): one shared connection per URL, opened on first use.

    timeout_interval, exec_query_threshold, max_db_queries and max_db_retries are applied (a statement that
    finds its connection lost reconnects and runs again, opensips_py/db/mysql.py); ps_max_col_size has nothing
    to size (no prepared-statement buffers); use_tls needs tls_mgm and is not wired to PyMySQL's TLS yet: a
    `tls_domain=` URL is refused."""

    exports = EXPORTS

    _databases: dict[str, object] | None = None

    def database(self, url):
        """The connection for a parsed mysql:// URL (opensips_py.db.DbUrl), opened on first use."""
        from opensips_py.db.api import UnsupportedDatabase
        from opensips_py.db.mysql import MySQLDatabase
        if url.params and "tls_domain" in url.params:
            raise UnsupportedDatabase(f"{url.redacted()}: db_mysql over TLS (tls_domain=) is not supported by "
                                      f"opensips-py")
        if self._databases is None:
            self._databases = {}
        db = self._databases.get(url.text)
        if db is None:
            db = MySQLDatabase(url, timeout=self.int_param("timeout_interval"),
                               query_threshold_us=self.int_param("exec_query_threshold"),
                               max_queries=self.int_param("max_db_queries"),
                               max_retries=self.int_param("max_db_retries"))
            self._databases[url.text] = db
        return db

    def destroy(self) -> None:
        for db in (self._databases or {}).values():
            db.close()
        self._databases = None
