"""The table API modules use, as OpenSIPS's db_func_t: query, insert, update, delete, replace by column lists
and where-conditions, plus transactions, table versions and table creation.

    db = connect("sqlite:///var/lib/opensips/opensips.db")
    db.ensure_tables(["location"])                   # create missing tables and their version rows
    db.check_version("location", 1013)               # OpenSIPS's start-up check
    rows = db.query("location", ["contact", "expires"], where={"username": "alice"}, order_by="q DESC")
    db.insert("location", {"username": "alice", "contact": "sip:alice@1.2.3.4", "expires": 0})
    db.update("location", {"expires": 1800}, where={"contact_id": 7})
    db.delete("location", where=[("expires", "<", now), ("expires", "!=", 0)])
    with db.transaction():
        ...

A where-condition is a dict {column: value} (equality; None means IS NULL), or a list of
(column, operator, value) with operator one of = != < > <= >=. Rows come back as dicts.

Errors: DatabaseUnavailable when the database cannot be reached (connect, or the connection died), a plain
DatabaseError when a statement fails. Modules log them and go on (usrloc keeps serving from memory); a
database that cannot be reached at start-up refuses the start, with the URL (password hidden) and the cause.
"""
from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any, Iterable, Iterator, Mapping, Sequence

from opensips_py.db.schema import TABLES, create_table_sql
from opensips_py.db.url import DbUrl

Row = dict[str, Any]
Where = Mapping[str, Any] | Sequence[tuple[str, str, Any]] | None

_OPERATORS = frozenset(("=", "!=", "<", ">", "<=", ">="))


class DatabaseError(Exception):
    """A database operation failed."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached (refused, gone, not creatable)."""


class UnsupportedDatabase(DatabaseError):
    """A db_url of a kind opensips-py has no driver for."""


class TableVersionMismatch(DatabaseError):
    """A table's version row is not the one this module needs (OpenSIPS refuses to start)."""


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise DatabaseError(f"bad SQL identifier {name!r}")
    return name


class Database:
    """A database behind a db_url. Subclasses supply the driver connection; this class writes the SQL.

    `dialect` picks the CREATE TABLE flavour; `placeholder` is the driver's parameter marker."""

    dialect = "sqlite"
    placeholder = "?"

    def __init__(self, url: DbUrl) -> None:
        self.url = url
        self._depth = 0  # nested transaction() calls

    # ------------------------------------------------------------------------------ driver hooks
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; returns the driver cursor. Raises DatabaseError/DatabaseUnavailable."""
        raise NotImplementedError

    def _begin(self) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _rollback(self) -> None:
        raise NotImplementedError

    def _autocommit(self) -> None:
        """Commit a statement made outside transaction()."""

    def table_exists(self, table: str) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------------------ SQL building
    def _where(self, where: Where) -> tuple[str, list[Any]]:
        if not where:
            return "", []
        items = where.items() if isinstance(where, Mapping) else where
        clauses: list[str] = []
        params: list[Any] = []
        for item in items:
            if isinstance(where, Mapping):
                column, op, value = item[0], "=", item[1]
            else:
                column, op, value = item
            if op not in _OPERATORS:
                raise DatabaseError(f"bad operator {op!r}")
            if value is None and op in ("=", "!="):
                clauses.append(f"{_ident(column)} IS {'NOT ' if op == '!=' else ''}NULL")
                continue
            clauses.append(f"{_ident(column)} {op} {self.placeholder}")
            params.append(value)
        return " WHERE " + " AND ".join(clauses), params

    # ------------------------------------------------------------------------------ the table API
    def query(self, table: str, columns: Iterable[str] | None = None, where: Where = None,
              order_by: str | None = None, limit: int | None = None) -> list[Row]:
        cols = ", ".join(_ident(c) for c in columns) if columns else "*"
        clause, params = self._where(where)
        sql = f"SELECT {cols} FROM {_ident(table)}{clause}"
        if order_by:
            column, _, direction = order_by.partition(" ")
            if direction.upper() not in ("", "ASC", "DESC"):
                raise DatabaseError(f"bad order {order_by!r}")
            sql += f" ORDER BY {_ident(column)} {direction.upper()}".rstrip()
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        cursor = self._execute(sql, params)
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, values)) for values in cursor.fetchall()]
        self._autocommit()
        return rows

    def insert(self, table: str, row: Mapping[str, Any]) -> None:
        cols = list(row)
        sql = f"INSERT INTO {_ident(table)} ({', '.join(_ident(c) for c in cols)}) VALUES " \
              f"({', '.join([self.placeholder] * len(cols))})"
        self._execute(sql, [row[c] for c in cols])
        self._autocommit()

    def update(self, table: str, values: Mapping[str, Any], where: Where) -> int:
        sets = ", ".join(f"{_ident(c)} = {self.placeholder}" for c in values)
        clause, params = self._where(where)
        cursor = self._execute(f"UPDATE {_ident(table)} SET {sets}{clause}", [*values.values(), *params])
        self._autocommit()
        return cursor.rowcount

    def delete(self, table: str, where: Where = None) -> int:
        clause, params = self._where(where)
        cursor = self._execute(f"DELETE FROM {_ident(table)}{clause}", params)
        self._autocommit()
        return cursor.rowcount

    def replace(self, table: str, row: Mapping[str, Any], keys: Sequence[str]) -> None:
        """Insert `row`, or update the row whose `keys` columns hold the same values (db_replace)."""
        with self.transaction():
            where = {k: row[k] for k in keys}
            if self.update(table, {c: v for c, v in row.items() if c not in keys}, where) == 0:
                self.insert(table, row)

    @contextlib.contextmanager
    def transaction(self) -> Iterator["Database"]:
        """Everything inside commits together or not at all; nested calls join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._begin()
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            try:
                self._rollback()
            except DatabaseError:
                pass
            raise
        self._depth = 0
        self._commit()

    # ------------------------------------------------------------------------------ tables and versions
    def table_version(self, table: str) -> int | None:
        rows = self.query("version", ["table_version"], {"table_name": table})
        return int(rows[0]["table_version"]) if rows else None

    def ensure_tables(self, names: Iterable[str], like: Mapping[str, str] | None = None) -> list[str]:
        """Create the tables of `names` that are missing (with the version table and their version rows), as
        OpenSIPS's scripts/<db>/<module>-create.sql would. `like` gives the schema of a table with another
        name (usrloc's save("location2") -> like={"location2": "location"}). Returns the names created."""
        created: list[str] = []
        like = like or {}
        with self.transaction():
            for name in ["version", *names]:
                if self.table_exists(name):
                    continue
                schema = TABLES[like.get(name, name)]
                if schema.name != name:
                    schema = replace(schema, name=name)
                for statement in create_table_sql(schema, self.dialect):
                    self._execute(statement)
                created.append(name)
                if name != "version":
                    self.delete("version", {"table_name": name})
                    self.insert("version", {"table_name": name, "table_version": schema.version})
        return created

    def check_version(self, table: str, expected: int) -> None:
        """OpenSIPS's db_check_table_version(): a missing or different version row refuses the start."""
        found = self.table_version(table)
        if found != expected:
            raise TableVersionMismatch(
                f"table {table!r} has version {found if found is not None else '(none)'} in the version table, "
                f"{expected} is needed ({self.url.redacted()})")
