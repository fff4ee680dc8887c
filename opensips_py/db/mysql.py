"""db_mysql: MySQL and MariaDB through PyMySQL (pure Python), for `mysql://user:password@host[:port]/database`.

The connection runs in autocommit mode; transaction() wraps statements in BEGIN/COMMIT. A statement that
finds the connection lost (server gone, restarted, the connection killed or timed out) reconnects and runs
again, as db_mysql's submit_query(): up to `max_queries` attempts (max_db_queries), each reconnection trying
`max_retries` times (max_db_retries). When that fails, or inside a transaction (which cannot be replayed), the
call raises DatabaseUnavailable and the next call tries again, so a database that comes back is used again
without a restart.

Options follow db_mysql's parameters: `timeout` is timeout_interval (seconds to connect, read and write; the
client library applies it up to three times, so does PyMySQL per packet), `query_threshold_us` is
exec_query_threshold (a statement slower than that many microseconds is logged, 0: off).
"""
from __future__ import annotations

import logging
import time
from typing import Any, Sequence

from opensips_py.db.api import Database, DatabaseError, DatabaseUnavailable, UnsupportedDatabase
from opensips_py.db.url import DbUrl

try:
    import pymysql
except ImportError:  # pragma: no cover - pymysql is a dependency; a trimmed install may lack it
    pymysql = None

log = logging.getLogger("opensips_py.db.mysql")

# MySQL client error numbers of a connection that is gone (CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR,
# CR_SERVER_GONE_ERROR, CR_SERVER_LOST, CR_COMMANDS_OUT_OF_SYNC, CR_SERVER_LOST_EXTENDED; ER_SERVER_SHUTDOWN,
# MySQL 8's ER_CLIENT_INTERACTION_TIMEOUT from the server side)
_CONNECTION_LOST = frozenset((2002, 2003, 2006, 2013, 2014, 2055, 1053, 4031))


class MySQLDatabase(Database):
    dialect = "mysql"
    placeholder = "%s"

    def __init__(self, url: DbUrl, *, timeout: int = 2, query_threshold_us: int = 0, max_queries: int = 2,
                 max_retries: int = 3) -> None:
        if pymysql is None:
            raise UnsupportedDatabase("db_mysql needs the PyMySQL package (pip install pymysql)")
        super().__init__(url)
        self._timeout = max(int(timeout), 1)
        self._max_queries = max(int(max_queries), 1)
        self._max_retries = max(int(max_retries), 1)
        self._in_transaction = False  # from BEGIN to COMMIT/ROLLBACK: a lost connection lost the transaction
        self._threshold = max(int(query_threshold_us), 0) / 1_000_000
        self._conn = None
        self._connect()

    def _connect(self):
        url = self.url
        try:
            self._conn = pymysql.connect(host=url.host or "localhost", port=url.port or 3306, user=url.user or "",
                                         password=url.password or "", database=url.database, autocommit=True,
                                         connect_timeout=self._timeout, read_timeout=self._timeout * 3,
                                         write_timeout=self._timeout * 3, charset="utf8mb4",
                                         # an UPDATE counts the rows it matched, as SQLite and PostgreSQL do
                                         # (replace() inserts only when none matched)
                                         client_flag=pymysql.constants.CLIENT.FOUND_ROWS)
        except pymysql.Error as exc:
            self._conn = None
            raise DatabaseUnavailable(f"cannot connect to {url.redacted()}: {_reason(exc)}") from exc
        return self._conn

    def _reconnect(self) -> None:
        """connect_with_retry(): up to max_retries attempts; the last failure is raised."""
        for attempt in range(self._max_retries):
            try:
                self._connect()
                return
            except DatabaseUnavailable:
                if attempt == self._max_retries - 1:
                    raise

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self._conn is None:
            self._reconnect()
        for attempt in range(self._max_queries):  # bounded: max_db_queries
            started = time.monotonic()
            try:
                cursor = self._conn.cursor()
                cursor.execute(sql, list(params) or None)
                break
            except (pymysql.OperationalError, pymysql.err.InterfaceError) as exc:
                lost = isinstance(exc, pymysql.err.InterfaceError) or (exc.args and exc.args[0] in _CONNECTION_LOST)
                if not lost:
                    raise DatabaseError(f"{self.url.redacted()}: {_reason(exc)} (in: {sql})") from exc
                self._drop()
                if self._in_transaction or attempt == self._max_queries - 1:
                    raise DatabaseUnavailable(f"{self.url.redacted()}: connection lost ({_reason(exc)})") from exc
                self._reconnect()  # then run the statement again
            except pymysql.Error as exc:
                raise DatabaseError(f"{self.url.redacted()}: {_reason(exc)} (in: {sql})") from exc
        if self._threshold and time.monotonic() - started > self._threshold:
            log.warning("db_mysql: query took %d us (exec_query_threshold %d us): %s",
                        int((time.monotonic() - started) * 1_000_000), int(self._threshold * 1_000_000), sql)
        return _Cursor(cursor)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except pymysql.Error:
                pass

    def _begin(self) -> None:
        self._execute("BEGIN")
        self._in_transaction = True

    def _commit(self) -> None:
        try:
            self._execute("COMMIT")
        finally:
            self._in_transaction = False

    def _rollback(self) -> None:
        try:
            if self._conn is not None:
                self._execute("ROLLBACK")
        finally:
            self._in_transaction = False

    def table_exists(self, table: str) -> bool:
        cursor = self._execute("SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() "
                               "AND table_name = %s", (table,))
        return cursor.fetchone() is not None

    def close(self) -> None:
        self._drop()


class _Cursor:
    """PyMySQL's cursor, with the description of a statement without result set as an empty list (what the
    table API expects from every driver)."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        self.description = cursor.description or []
        self.rowcount = cursor.rowcount

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall()) if self._cursor.description else []


def _reason(exc: Exception) -> str:
    """PyMySQL's (errno, message) as `message (errno)`."""
    if len(exc.args) >= 2:
        return f"{str(exc.args[1]).strip()} ({exc.args[0]})"
    return str(exc).strip() or type(exc).__name__
