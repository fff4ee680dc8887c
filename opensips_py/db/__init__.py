"""The storage behind OpenSIPS's db_url: one table API (db/api.py) over SQLite, PostgreSQL and MySQL/MariaDB.

A module that stores things (usrloc, dialog, auth_db…) opens its db_url through `open_database()`, which
finds the driver module the URL names among the loaded modules (db_sqlite for sqlite://, db_postgres for
postgres://, db_mysql for mysql://), as OpenSIPS's db_bind_mod() does, and gets a connection shared by every
module using the same URL.
"""
from __future__ import annotations

from typing import Any

from opensips_py.db.api import (
    Database, DatabaseError, DatabaseUnavailable, Row, TableVersionMismatch, UnsupportedDatabase, Where,
)
from opensips_py.db.schema import TABLES, Column, Table, create_table_sql
from opensips_py.db.url import BadDatabaseURL, DbUrl, parse_db_url


def connect(url: str | DbUrl, **options: Any) -> Database:
    """Open a database by URL with the driver's default options (tests, tools)."""
    parsed = url if isinstance(url, DbUrl) else parse_db_url(url)
    if parsed.scheme == "sqlite":
        from opensips_py.db.sqlite import SQLiteDatabase
        return SQLiteDatabase(parsed, **options)
    if parsed.driver_module == "db_postgres":
        from opensips_py.db.postgres import PostgresDatabase
        return PostgresDatabase(parsed, **options)
    from opensips_py.db.mysql import MySQLDatabase
    return MySQLDatabase(parsed, **options)


def open_database(core: Any, url_text: str, owner: str) -> Database:
    """The connection for `owner`'s db_url, through the loaded driver module (db_sqlite, db_postgres, db_mysql).

    Raises BadDatabaseURL, UnsupportedDatabase (driver not loaded or not available) or
    DatabaseUnavailable (cannot reach it)."""
    url = parse_db_url(url_text)
    modules = getattr(core, "modules", {}) or {}
    driver = modules.get(url.driver_module)
    if driver is None or not callable(getattr(driver, "database", None)):
        raise UnsupportedDatabase(f"{owner}: db_url {url.redacted()} needs loadmodule \"{url.driver_module}.so\"")
    return driver.database(url)


__all__ = ["BadDatabaseURL", "Column", "Database", "DatabaseError", "DatabaseUnavailable", "DbUrl", "Row", "TABLES",
           "Table", "TableVersionMismatch", "UnsupportedDatabase", "Where", "connect", "create_table_sql",
           "open_database", "parse_db_url"]
