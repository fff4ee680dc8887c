"""The tables of the modules opensips-py implements, with OpenSIPS's names, columns and versions.

Facts from OpenSIPS's scripts/{sqlite,postgres,mysql}/*-create.sql (db/schema/*.xml), 3.4–4.0; the SQL is
written here per dialect from one description. A database created by OpenSIPS's own scripts (or by
`opensips-cli database create`) has the same tables, so either side can use the other's file.

`version` rows: location 1013 (3.2–4.0), subscriber 8, dialog 12 (3.4+; 3.2 had 11, with an integer
script_flags), the modules check them at start-up and refuse a mismatch, as OpenSIPS does.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # int, bigint, char, text, float, datetime, blob
    size: int | None = None  # char(size)
    nullable: bool = False
    default: object = None  # a Python value; None with nullable means DEFAULT NULL
    has_default: bool = False
    autoincrement: bool = False  # the integer primary key the database numbers
    primary: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    version: int
    columns: tuple[Column, ...]
    unique: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (constraint name, columns)
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(name: str, kind: str, size: int | None = None, *, null: bool = False, default: object = ...,
       auto: bool = False, primary: bool = False) -> Column:
    has_default = default is not ...
    return Column(name, kind, size, null, None if default is ... else default, has_default or null, auto,
                  primary or auto)


VERSION = Table("version", 0, (
    _c("table_name", "char", 32),
    _c("table_version", "int", default=0),
), unique=(("version_t_name_idx", ("table_name",)),))

LOCATION = Table("location", 1013, (
    _c("contact_id", "bigint", auto=True),
    _c("username", "char", 64, default=""),
    _c("domain", "char", 64, null=True),
    _c("contact", "text"),
    _c("received", "char", 255, null=True),
    _c("path", "char", 255, null=True),
    _c("expires", "int"),
    _c("q", "float", default=1.0),
    _c("callid", "char", 255, default="Default-Call-ID"),
    _c("cseq", "int", default=13),
    _c("last_modified", "datetime", default="1900-01-01 00:00:01"),
    _c("flags", "int", default=0),
    _c("cflags", "char", 255, null=True),
    _c("user_agent", "char", 255, default=""),
    _c("socket", "char", 64, null=True),
    _c("methods", "int", null=True),
    _c("sip_instance", "char", 255, null=True),
    _c("kv_store", "text", 512, null=True),
    _c("attr", "char", 255, null=True),
))

# 3.6/4.0 dropped email_address and rpid; they are kept (with defaults) so 3.2/3.4 configs that load them work.
SUBSCRIBER = Table("subscriber", 8, (
    _c("id", "int", auto=True),
    _c("username", "char", 64, default=""),
    _c("domain", "char", 64, default=""),
    _c("password", "char", 25, default=""),
    _c("email_address", "char", 64, default=""),
    _c("ha1", "char", 64, default=""),
    _c("ha1_sha256", "char", 64, default=""),
    _c("ha1_sha512t256", "char", 64, default=""),
    _c("rpid", "char", 64, null=True),
), unique=(("subscriber_account_idx", ("username", "domain")),),
    indexes=(("subscriber_username_idx", ("username",)),))

DIALOG = Table("dialog", 12, (
    _c("dlg_id", "bigint", primary=True),
    _c("callid", "char", 255),
    _c("from_uri", "char", 255),
    _c("from_tag", "char", 64),
    _c("to_uri", "char", 255),
    _c("to_tag", "char", 64),
    _c("mangled_from_uri", "char", 255, null=True),
    _c("mangled_to_uri", "char", 255, null=True),
    _c("caller_cseq", "char", 11),
    _c("callee_cseq", "char", 11),
    _c("caller_ping_cseq", "int"),
    _c("callee_ping_cseq", "int"),
    _c("caller_route_set", "text", 512, null=True),
    _c("callee_route_set", "text", 512, null=True),
    _c("caller_contact", "char", 255, null=True),
    _c("callee_contact", "char", 255, null=True),
    _c("caller_sock", "char", 64),
    _c("callee_sock", "char", 64),
    _c("state", "int"),
    _c("start_time", "int"),
    _c("timeout", "int"),
    _c("vars", "blob", 4096, null=True),
    _c("profiles", "text", 512, null=True),
    _c("script_flags", "char", 255, null=True),
    _c("module_flags", "int", default=0),
    _c("flags", "int", default=0),
    _c("rt_on_answer", "char", 64, null=True),
    _c("rt_on_timeout", "char", 64, null=True),
    _c("rt_on_hangup", "char", 64, null=True),
))

TABLES: dict[str, Table] = {t.name: t for t in (VERSION, LOCATION, SUBSCRIBER, DIALOG)}


# ------------------------------------------------------------------------------------------------ SQL per dialect

def _literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


_TYPES = {
    "sqlite": {"int": "INTEGER", "bigint": "BIGINT(10)", "text": "TEXT", "float": "FLOAT(10,2)",
               "datetime": "DATETIME", "blob": "BLOB"},
    "postgres": {"int": "INTEGER", "bigint": "BIGINT", "text": "TEXT", "float": "REAL",
                 "datetime": "TIMESTAMP WITHOUT TIME ZONE", "blob": "BYTEA"},
    "mysql": {"int": "INT", "bigint": "BIGINT", "text": "TEXT", "float": "FLOAT(10,2)", "datetime": "DATETIME",
              "blob": "BLOB"},
}


def _column_sql(col: Column, dialect: str) -> str:
    if col.autoincrement:
        if dialect == "sqlite":
            return f"{col.name} INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"
        if dialect == "postgres":
            return f"{col.name} {'BIGSERIAL' if col.kind == 'bigint' else 'SERIAL'} PRIMARY KEY NOT NULL"
        return f"{col.name} {'BIGINT' if col.kind == 'bigint' else 'INT'} UNSIGNED AUTO_INCREMENT PRIMARY KEY " \
               f"NOT NULL"
    if col.kind == "char":
        kind = f"{'VARCHAR' if dialect == 'postgres' else 'CHAR'}({col.size})"
    else:
        kind = _TYPES[dialect][col.kind]
        if col.size and dialect == "sqlite":  # OpenSIPS's SQLite scripts keep the sizes: TEXT(512), BLOB(4096)
            kind += f"({col.size})"
    text = f"{col.name} {kind}"
    if col.primary:
        text += " PRIMARY KEY"
    if col.has_default:
        text += " DEFAULT " + ("NULL" if col.default is None else _literal(col.default))
    if not col.nullable:
        text += " NOT NULL"
    return text


def create_table_sql(table: Table, dialect: str) -> list[str]:
    """CREATE TABLE (and its indexes) for `dialect` (sqlite, postgres, mysql)."""
    parts = [_column_sql(c, dialect) for c in table.columns]
    parts += [f"CONSTRAINT {table.name}_{name} UNIQUE ({', '.join(cols)})" if dialect == "postgres"
              else f"CONSTRAINT {name} UNIQUE ({', '.join(cols)})" for name, cols in table.unique]
    statements = [f"CREATE TABLE {table.name} (\n    " + ",\n    ".join(parts) + "\n)"]
    for name, cols in table.indexes:
        statements.append(f"CREATE INDEX {table.name}_{name} ON {table.name} ({', '.join(cols)})"
                          if dialect == "postgres" else f"CREATE INDEX {name} ON {table.name} ({', '.join(cols)})")
    return statements
