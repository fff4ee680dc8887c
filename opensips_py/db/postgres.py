"""db_postgres: PostgreSQL through psycopg 3, for `postgres://user:password@host[:port]/database` URLs.

The connection runs in autocommit mode; transaction() wraps statements in BEGIN/COMMIT. A lost connection
raises DatabaseUnavailable for that call and is opened again by the next one (OpenSIPS's reconnect), so a
database that comes back is used again without a restart. `timeout` is the connect timeout in seconds
(db_postgres's parameter).
"""
from __future__ import annotations

from typing import Any, Sequence

from opensips_py.db.api import Database, DatabaseError, DatabaseUnavailable, UnsupportedDatabase
from opensips_py.db.url import DbUrl

try:
    import psycopg
except ImportError:  # pragma: no cover - psycopg is a dependency; a trimmed install may lack it
    psycopg = None


class PostgresDatabase(Database):
    dialect = "postgres"
    placeholder = "%s"

    def __init__(self, url: DbUrl, *, timeout: int = 5) -> None:
        if psycopg is None:
            raise UnsupportedDatabase("db_postgres needs the psycopg package (pip install 'psycopg[binary]')")
        super().__init__(url)
        self._timeout = max(int(timeout), 1)
        self._conn = None
        self._connect()

    def _connect(self):
        url = self.url
        try:
            self._conn = psycopg.connect(host=url.host or "localhost", port=url.port or 5432, user=url.user,
                                         password=url.password, dbname=url.database,
                                         connect_timeout=self._timeout, autocommit=True)
        except psycopg.Error as exc:
            self._conn = None
            raise DatabaseUnavailable(f"cannot connect to {url.redacted()}: {str(exc).strip()}") from exc
        return self._conn

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        conn = self._conn
        if conn is None or conn.closed:
            conn = self._connect()
        try:
            return conn.execute(sql, list(params) or None)
        except psycopg.OperationalError as exc:
            if conn.closed or conn.broken:
                self._conn = None
                raise DatabaseUnavailable(f"{self.url.redacted()}: {str(exc).strip()}") from exc
            raise DatabaseError(f"{self.url.redacted()}: {str(exc).strip()} (in: {sql})") from exc
        except psycopg.Error as exc:
            raise DatabaseError(f"{self.url.redacted()}: {str(exc).strip()} (in: {sql})") from exc

    def _begin(self) -> None:
        self._execute("BEGIN")

    def _commit(self) -> None:
        self._execute("COMMIT")

    def _rollback(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._execute("ROLLBACK")

    def table_exists(self, table: str) -> bool:
        cursor = self._execute("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
                               "AND table_name = %s", (table,))
        return cursor.fetchone() is not None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
