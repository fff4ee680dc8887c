"""Database URLs as OpenSIPS's db_url takes them (db/db_id.c parse_db_url).

    sqlite:///var/lib/opensips/opensips.db          (three slashes: an absolute path)
    postgres://user:password@host[:port]/database   (also postgresql://)
    mysql://user:password@host[:port]/database[?tls_domain=name]

The scheme names the driver module (db_sqlite, db_postgres, db_mysql), which must be loaded, as in OpenSIPS.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

# scheme -> the OpenSIPS module that serves it
DRIVER_MODULES = {"sqlite": "db_sqlite", "postgres": "db_postgres", "postgresql": "db_postgres",
                  "mysql": "db_mysql"}


class BadDatabaseURL(ValueError):
    """A db_url that does not parse."""


@dataclass(frozen=True)
class DbUrl:
    scheme: str  # sqlite, postgres, mysql
    database: str  # the path for sqlite, the database name otherwise
    user: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    params: str | None = None  # what follows '?'
    text: str = ""

    @property
    def driver_module(self) -> str:
        return DRIVER_MODULES[self.scheme]

    def redacted(self) -> str:
        """The URL without its password, for logs."""
        if self.password is None:
            return self.text
        scheme, _, rest = self.text.partition("://")
        credentials, _, tail = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{tail}"


def parse_db_url(text: str) -> DbUrl:
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in DRIVER_MODULES:
        known = ", ".join(sorted(DRIVER_MODULES))
        raise BadDatabaseURL(f"db_url {text!r}: unknown database type (known: {known})")
    if scheme == "sqlite":
        # db_sqlite takes everything after "sqlite://" as the path: sqlite:///abs/path.db
        path = rest
        if not path:
            raise BadDatabaseURL(f"db_url {text!r}: no database file")
        return DbUrl(scheme, path, text=text)
    params = None
    if "?" in rest:
        rest, params = rest.split("?", 1)
    user = password = None
    if "@" in rest:
        credentials, rest = rest.rsplit("@", 1)
        user, _, pw = credentials.partition(":")
        user = unquote(user) or None
        password = unquote(pw) if _ else None
    hostport, slash, database = rest.partition("/")
    if not slash or not database:
        raise BadDatabaseURL(f"db_url {text!r}: no database name")
    host, port = hostport, None
    if hostport.startswith("["):
        end = hostport.find("]")
        host = hostport[1:end]
        tail = hostport[end + 1:]
        if tail.startswith(":"):
            port = _port(text, tail[1:])
    elif ":" in hostport:
        host, port_text = hostport.rsplit(":", 1)
        port = _port(text, port_text)
    return DbUrl(scheme, unquote(database), user, password, host or None, port, params, text)


def _port(text: str, value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise BadDatabaseURL(f"db_url {text!r}: bad port {value!r}") from None
    if not 0 < port < 65536:
        raise BadDatabaseURL(f"db_url {text!r}: bad port {value!r}")
    return port
