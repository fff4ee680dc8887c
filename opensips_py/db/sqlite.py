"""db_sqlite: SQLite through Python's sqlite3, for `sqlite:///path/to/file.db` URLs.

As OpenSIPS's db_sqlite, the URL's path is the database file. Unlike OpenSIPS, a missing file (and its
directory) is created, so the embedded default needs no set-up; the modules then create their tables.
Connection options follow db_sqlite's parameters: busy_timeout (ms), exec_pragma ("name=value", run on
every connection), load_extension ("path.so[;entry_point]").
"""
from __future__ import annotations

import os
import sqlite3
from typing import Any, Iterable, Sequence

from opensips_py.db.api import Database, DatabaseError, DatabaseUnavailable
from opensips_py.db.url import DbUrl


class SQLiteDatabase(Database):
    dialect = "sqlite"
    placeholder = "?"

    def __init__(self, url: DbUrl, *, busy_timeout_ms: int = 500, pragmas: Iterable[str] = (),
                 extensions: Iterable[str] = ()) -> None:
        super().__init__(url)
        self.path = url.database
        self._busy_timeout = busy_timeout_ms / 1000.0
        self._pragmas = list(pragmas)
        self._extensions = list(extensions)
        self._conn: sqlite3.Connection | None = None
        self._connect()

    def _connect(self) -> sqlite3.Connection:
        directory = os.path.dirname(self.path)
        try:
            if directory and not os.path.isdir(directory):
                os.makedirs(directory, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA schema_version").fetchone()  # fails now, not later, on a non-database file
            for pragma in self._pragmas:
                conn.execute(f"PRAGMA {pragma}")
            for extension in self._extensions:
                path, _, entry = extension.partition(";")
                conn.enable_load_extension(True)
                conn.load_extension(path, entrypoint=entry or None)
                conn.enable_load_extension(False)
        except (OSError, sqlite3.Error) as exc:
            raise DatabaseUnavailable(f"cannot open SQLite database {self.path}: {exc}") from exc
        self._conn = conn
        return conn

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        conn = self._conn or self._connect()
        try:
            return conn.execute(sql, params)
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "unable to open" in text or "disk I/O" in text or "readonly" in text:
                raise DatabaseUnavailable(f"SQLite {self.path}: {text}") from exc
            raise DatabaseError(f"SQLite {self.path}: {text} (in: {sql})") from exc
        except sqlite3.Error as exc:
            raise DatabaseError(f"SQLite {self.path}: {exc} (in: {sql})") from exc

    def _begin(self) -> None:
        self._execute("BEGIN")

    def _commit(self) -> None:
        self._execute("COMMIT")

    def _rollback(self) -> None:
        if self._conn is not None and self._conn.in_transaction:
            self._execute("ROLLBACK")

    def table_exists(self, table: str) -> bool:
        cursor = self._execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        return cursor.fetchone() is not None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error as exc:  # pragma: no cover - closing never fails in practice
                raise DatabaseError(str(exc)) from exc
            self._conn = None
