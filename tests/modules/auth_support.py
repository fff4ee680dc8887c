"""Helpers for the auth/auth_db tests: a proxy with a subscriber table in SQLite, and a phone that answers
challenges the way a SIP UA does (RFC 2617/7616 digest, computed by opensips_py.sip.digest)."""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from opensips_py.sip import Response, parse_message
from opensips_py.sip.digest import Challenge, build_authorization, calc_ha1, calc_response, parse_challenge
from tests.runtime.support import Proxy, only, request

AUTH_HEAD = """loadmodule "db_sqlite.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
"""

# the subscriber table of OpenSIPS 3.2/3.4 (scripts/sqlite/auth_db-create.sql), with its version row
SUBSCRIBER_SQL = """
CREATE TABLE version (table_name CHAR(32) NOT NULL, table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT t_name_idx UNIQUE (table_name));
INSERT INTO version VALUES ('subscriber', 8);
CREATE TABLE subscriber (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    username CHAR(64) DEFAULT '' NOT NULL, domain CHAR(64) DEFAULT '' NOT NULL,
    password CHAR(25) DEFAULT '' NOT NULL, email_address CHAR(64) DEFAULT '' NOT NULL,
    ha1 CHAR(64) DEFAULT '' NOT NULL, ha1_sha256 CHAR(64) DEFAULT '' NOT NULL,
    ha1_sha512t256 CHAR(64) DEFAULT '' NOT NULL, rpid CHAR(64) DEFAULT NULL,
    CONSTRAINT account_idx UNIQUE (username, domain));
"""


_MODULE_LINE = re.compile(r"^(ALERT|CRITICAL|ERROR|WARNING|NOTICE|INFO|DBG):\w+:")


def script_lines(proxy: Proxy) -> list[str]:
    """What the script logged (xlog), without the modules' own lines."""
    return [line for line in proxy.script_logs() if not _MODULE_LINE.match(line)]


def module_lines(proxy: Proxy, module: str) -> list[str]:
    """The module's own log lines, as `LEVEL:text`."""
    found = []
    for line in proxy.logs:
        text = line.split("] ", 1)[-1]
        level, _, rest = text.partition(":")
        if rest.startswith(module + ":"):
            found.append(f"{level}:{rest[len(module) + 1:]}")
    return found


def subscriber_db(path: Path, *rows: dict) -> Path:
    """A SQLite file with the subscriber table and `rows` (column -> value); ha1/ha1_sha256 are filled from
    the password and the domain (as realm) unless given."""
    con = sqlite3.connect(path)
    con.executescript(SUBSCRIBER_SQL)
    for row in rows:
        row = dict(row)
        realm = row.get("realm", row.get("domain", ""))
        row.pop("realm", None)
        if "password" in row:
            row.setdefault("ha1", calc_ha1(row["username"], realm, row["password"]))
            row.setdefault("ha1_sha256", calc_ha1(row["username"], realm, row["password"], "SHA-256"))
        con.execute(f"INSERT INTO subscriber ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                    list(row.values()))
    con.commit()
    con.close()
    return path


def auth_proxy(config: str, db: Path | None = None, params: str = "") -> Proxy:
    """A proxy loading auth and auth_db (db_url on `db`), with `params` (modparam lines) and `config`."""
    head = AUTH_HEAD + (f'modparam("auth_db", "db_url", "sqlite://{db}")\n' if db is not None else "")
    return Proxy(head + params + config)


def reply_of(proxy: Proxy, data: bytes) -> Response:
    message = parse_message(only(proxy.send(data)).data)
    assert not message.is_request
    return message


def challenge_of(reply: Response) -> Challenge:
    values = reply.header_values("WWW-Authenticate" if reply.status == 401 else "Proxy-Authenticate")
    assert values, reply.raw
    return parse_challenge(values[0])


class Phone:
    """A UA with one account: sends a request, reads the challenge, sends it again with credentials."""

    def __init__(self, proxy: Proxy, user: str = "alice", password: str = "secret", method: str = "REGISTER",
                 ruri: str = "sip:biloxi.com") -> None:
        self.proxy = proxy
        self.user = user
        self.password = password
        self.method = method
        self.ruri = ruri
        self.cseq = 1

    def request(self, header: str | None = None, *, body: str = "", extra: str = "") -> bytes:
        self.cseq += 1
        lines = "\n".join(x for x in (header, extra) if x)
        return request(self.method, self.ruri, extra=lines, cseq=self.cseq, body=body,
                       branch=f"z9hG4bKphone{self.cseq}")

    def send(self, header: str | None = None, **kwargs) -> Response:
        return reply_of(self.proxy, self.request(header, **kwargs))

    def challenged(self) -> Challenge:
        reply = self.send()
        assert reply.status in (401, 407), reply.raw
        return challenge_of(reply)

    def credentials(self, challenge: Challenge, *, user: str | None = None, password: str | None = None,
                    nc: int = 1, body: bytes = b"", uri: str | None = None) -> str:
        name = "Authorization" if self.method == "REGISTER" else "Proxy-Authorization"
        value = build_authorization(challenge, user or self.user, password or self.password, self.method,
                                    uri or self.ruri, cnonce="0a4f113b", nc=nc, body=body)
        return f"{name}: {value}"

    def credentials_without_qop(self, challenge: Challenge, algorithm: str = "MD5") -> str:
        """RFC 2069 style credentials (no qop, cnonce, nc) for the challenge's nonce."""
        name = "Authorization" if self.method == "REGISTER" else "Proxy-Authorization"
        ha1 = calc_ha1(self.user, challenge.realm, self.password, algorithm)
        response = calc_response(ha1, challenge.nonce, self.method, self.ruri, algorithm=algorithm)
        algo = f", algorithm={algorithm}" if "algorithm" in challenge.params else ""
        return (f'{name}: Digest username="{self.user}", realm="{challenge.realm}", nonce="{challenge.nonce}", '
                f'uri="{self.ruri}", response="{response}"{algo}')

    def authorized(self, **kwargs) -> Response:
        """challenge, answer: the reply to the request with credentials."""
        return self.send(self.credentials(self.challenged(), **kwargs))
