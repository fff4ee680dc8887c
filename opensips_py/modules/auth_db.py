"""auth_db: digest credentials checked against a database table (subscriber)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    F, L, R, Arg, ArgKind, Dependency, Function, ModParam, ModuleExports, ParamType, VersionSpan,
)

EXPORTS = ModuleExports(
    name="auth_db",
    doc="Database-backed digest authorization on top of auth.",
    functions=(
        Function(
            "www_authorize", (Arg("realm"), Arg("table")), routes=R,
            doc="1 authorized; -1 user not found; -2 wrong password; -3 stale nonce; -4 no credentials; "
                "-5 error.",
        ),
        Function("proxy_authorize", (Arg("realm"), Arg("table")), routes=R),
        Function("db_does_uri_exist", (Arg("uri"), Arg("table")), routes=R | F | L),
        Function("db_is_to_authorized", (Arg("table"),), routes=R),
        Function("db_is_from_authorized", (Arg("table"),), routes=R),
        Function(
            "db_get_auth_id",
            (Arg("table"), Arg("uri"), Arg("auth_user", ArgKind.VAR), Arg("auth_realm", ArgKind.VAR)),
            routes=R | F | L,
        ),
    ),
    params=(
        ModParam("db_url", ParamType.STR, None),
        ModParam("user_column", ParamType.STR, "username"),
        ModParam("domain_column", ParamType.STR, "domain"),
        ModParam(
            "password_column", ParamType.STR, "ha1",
            doc="HA1 hex, or plaintext when calculate_ha1=1 (then usually \"password\").",
        ),
        ModParam("hash_column_sha256", ParamType.STR, "ha1_sha256"),
        ModParam("hash_column_sha512t256", ParamType.STR, "ha1_sha512t256"),
        ModParam("uri_user_column", ParamType.STR, "username"),
        ModParam("uri_domain_column", ParamType.STR, "domain"),
        ModParam("uri_uriuser_column", ParamType.STR, "uri_user"),
        ModParam("calculate_ha1", ParamType.INT, 0),
        ModParam("use_domain", ParamType.INT, 0, versions=VersionSpan(until="4.0")),
        ModParam("use_domain", ParamType.INT, 1, versions=VersionSpan(since="4.0")),
        ModParam("load_credentials", ParamType.STR, "rpid", versions=VersionSpan(until="4.0")),
        ModParam("load_credentials", ParamType.STR, "", versions=VersionSpan(since="4.0")),
        ModParam("skip_version_check", ParamType.INT, 0),
    ),
    deps=(
        Dependency(("auth",), doc="DEP_ABORT."),
        Dependency(("db_*",), when_param="db_url", doc="DEP_WARN in the C; without it nothing can be checked."),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation
# Behaviour read in modules/auth_db/{authdb_mod,authorize,checks}.c and aaa_avps.h of OpenSIPS 3.2–4.0.

from opensips_py.db import DatabaseError, open_database  # noqa: E402
from opensips_py.modules.auth import (  # noqa: E402
    AUTH_500_REASON, AUTHORIZATION, PROXY_AUTHORIZATION, AuthResult, DigestCredentials, selected_credentials,
)
from opensips_py.modules import _auth_nonce as nonces  # noqa: E402
from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.sip import SIPParseError  # noqa: E402
from opensips_py.sip.uri import URI  # noqa: E402

SUBSCRIBER_TABLE_VERSION = 8  # checked for every table these functions name (auth_fixup_table)
_TABLE_FUNCTIONS = {"www_authorize": 1, "proxy_authorize": 1, "db_does_uri_exist": 1, "db_is_to_authorized": 0,
                    "db_is_from_authorized": 0, "db_get_auth_id": 0}  # function -> index of its table argument

# checks.c return codes
_OK, _ERR_INTERNAL, _ERR_CREDENTIALS, _ERR_DBUSE, _ERR_USERNOTFOUND, _ERR_DBEMPTYRES = 1, -1, -2, -3, -4, -5
_ERR_DBQUERY, _ERR_SPOOFEDUSER = -8, -9


def parse_load_credentials(text: str) -> list[tuple[str, str]]:
    """aaa_avps.h parse_aaa_avps(): "col;$avp(name)=col2;…" -> [(avp name, column)], in the C's (reversed)
    list order. A bare column loads into the AVP of the same name."""
    found: list[tuple[str, str]] = []
    for item in (text or "").split(";"):
        if not item.strip():
            continue
        avp, eq, column = item.partition("=")
        if eq:
            avp = avp.strip()
            if not (avp.startswith("$avp(") and avp.endswith(")")) or len(avp) <= 6:
                raise ValueError(f"malformed or non AVP {avp} AVP definition")
            name = avp[5:-1].strip()
        else:
            column, name = avp, avp.strip()
        column = column.strip()
        if not column or not name:
            raise ValueError(f"parse failed in {text!r}")
        found.insert(0, (name, column))
    return found


class Module(ModuleBase):
    """www_authorize()/proxy_authorize() against a subscriber table, and the uri-table checks."""

    exports = EXPORTS

    def init(self) -> None:
        modules = getattr(self.core, "modules", {})
        self.auth = modules.get("auth")
        if self.auth is None or not hasattr(self.auth, "pre_auth"):
            raise ModuleInitError("auth_db: unable to find bind_auth function. Check if you load the auth module.")
        url = self.db_url()
        if not url:
            raise ModuleInitError("auth_db: db_url is not set")
        try:
            self.db = open_database(self.core, str(url), "auth_db")
        except (DatabaseError, ValueError) as exc:
            raise ModuleInitError(f"auth_db: {exc}") from exc
        self.user_column = str(self.param("user_column"))
        self.domain_column = str(self.param("domain_column"))
        self.password_column = str(self.param("password_column"))
        self.hash_column_sha256 = str(self.param("hash_column_sha256"))
        self.hash_column_sha512t256 = str(self.param("hash_column_sha512t256"))
        self.uri_user_column = str(self.param("uri_user_column"))
        self.uri_domain_column = str(self.param("uri_domain_column"))
        self.uri_uriuser_column = str(self.param("uri_uriuser_column"))
        self.calc_ha1 = bool(self.int_param("calculate_ha1"))
        self.use_domain = bool(self.int_param("use_domain"))
        self.skip_version_check = bool(self.int_param("skip_version_check"))
        # 3.x loads the rpid column by default; 3.6/4.0 subscriber tables have none, so the default is
        # only honoured when the column exists (an explicit setting is taken as written)
        self._credentials_explicit = bool(self.params.get("load_credentials"))
        try:
            self.credentials = parse_load_credentials(str(self.param("load_credentials") or ""))
        except ValueError as exc:
            raise ModuleInitError(f"auth_db: failed to parse credentials: {exc}") from exc
        self._checked_tables: set[str] = set()
        self._default_loads_missing: set[str] = set()  # tables without the default rpid column
        for table in self._literal_tables():
            self._check_table(table)

    def _log(self, level: int, text: str) -> None:
        self.core.logger.log(level, text, "auth_db")

    # ---------------------------------------------------------------------------------- tables
    def _literal_tables(self) -> list[str]:
        """The table names the script gives these functions as plain strings (checked at start-up, as the
        C's fixup does); names built from variables are checked on first use."""
        from opensips_py.config import ast
        from opensips_py.config.check.context import walk_nodes
        config = getattr(self.core, "config", None)
        names: list[str] = []
        if config is None:
            return names
        for node in walk_nodes(config):
            if isinstance(node, ast.Call) and node.name in _TABLE_FUNCTIONS:
                position = _TABLE_FUNCTIONS[node.name]
                arg = node.args[position] if position < len(node.args) else None
                if isinstance(arg, ast.Str) and "$" not in arg.value and arg.value not in names:
                    names.append(arg.value)
        return names

    def _check_table(self, table: str) -> None:
        """db_check_table_version(table, 8): a fresh database gets an empty subscriber table; any other
        missing or different version refuses the start (raises ModuleInitError)."""
        if table in self._checked_tables:
            return
        try:
            if table == "subscriber" and not self.db.table_exists(table):
                self.db.ensure_tables([table])
            if not self.skip_version_check:
                self.db.check_version(table, SUBSCRIBER_TABLE_VERSION)
        except DatabaseError as exc:
            raise ModuleInitError(f"auth_db: error during table version check: {exc}") from exc
        self._checked_tables.add(table)

    def _table_ok(self, ctx, table: str) -> bool:
        try:
            self._check_table(table)
        except ModuleInitError as exc:
            self._log(-1, str(exc).removeprefix("auth_db: "))
            return False
        return True

    # ---------------------------------------------------------------------------------- authorize
    def www_authorize(self, ctx, realm: str, table: str) -> int:
        return int(self._authorize(ctx, realm or "", table, AUTHORIZATION))

    def proxy_authorize(self, ctx, realm: str, table: str) -> int:
        return int(self._authorize(ctx, realm or "", table, PROXY_AUTHORIZATION))

    def _authorize(self, ctx, realm: str, table: str, kind: str) -> AuthResult:
        """authorize.c authorize(): pre_auth, the HA1 from the table, the response check; the loaded
        credentials become AVPs when authorized."""
        result, selected, realm = self.auth.pre_auth(ctx, realm, kind)
        if result != AuthResult.DO_AUTHORIZATION:
            return result
        found = self._get_ha1(ctx, selected, realm, table) if self._table_ok(ctx, table) else None
        if found is None:  # database error (or an unusable stored HA1)
            self.auth.send_resp(ctx, 500, AUTH_500_REASON)
            return AuthResult.ERROR
        if found is False:
            return AuthResult.USER_UNKNOWN
        ha1, row, loads = found
        if not self.auth.check_response(selected, ctx.msg.method, ctx.msg.body, ha1):
            return AuthResult.INVALID_PASSWORD
        for avp, column in loads:  # generate_avps()
            value = row.get(column)
            if value is None or value == "":
                continue
            ctx.avps.setdefault(avp, []).insert(0, value if isinstance(value, (int, str)) else str(value))
        return AuthResult.AUTHORIZED

    def _credential_column(self, alg: int) -> str | None:
        """get_cred_column(): the password column when HA1 is calculated, else the hash of the algorithm."""
        if self.calc_ha1 or alg in (nonces.ALG_UNSPEC, nonces.ALG_MD5, nonces.ALG_MD5SESS):
            return self.password_column
        if alg in (nonces.ALG_SHA256, nonces.ALG_SHA256SESS):
            return self.hash_column_sha256
        if alg in (nonces.ALG_SHA512_256, nonces.ALG_SHA512_256SESS):
            return self.hash_column_sha512t256
        return None

    def _get_ha1(self, ctx, selected: DigestCredentials, realm: str, table: str):
        """authorize.c get_ha1(): (HA1, row, loaded columns), False when the user is not in the table, None on
        error. The user is the username's part before '@'; the domain, when use_domain, its part after '@'
        or else the realm."""
        column = self._credential_column(selected.alg)
        if column is None:
            self._log(-1, f"unsupported algorithm {selected.alg}")
            return None
        where = {self.user_column: selected.user}
        if self.use_domain:
            where[self.domain_column] = selected.user_domain or realm
        loads = [] if table in self._default_loads_missing else self.credentials
        try:
            try:
                rows = self.db.query(table, [column, *(c for _, c in loads)], where=where)
            except DatabaseError:
                if self._credentials_explicit or not loads:
                    raise
                rows = self.db.query(table, [column], where=where)  # a 3.6+ table: no rpid column
                self._default_loads_missing.add(table)
                loads = []
        except DatabaseError as exc:
            self._log(-1, f"failed to query database: {exc}")
            return None
        if not rows:
            return False
        row = rows[0]
        stored = row.get(column)
        stored = "" if stored is None else str(stored)
        if self.calc_ha1:
            ha1 = self.auth.calc_ha1(selected, realm, password=stored)
        else:
            ha1 = self.auth.calc_ha1(selected, realm, ha1=stored)
            if ha1 is None:
                self._log(-1, f"incorrect length of pre-hashed credentials in column {column}: "
                            f"{len(stored)} characters")
        if ha1 is None:
            return None
        return ha1, row, loads

    # ---------------------------------------------------------------------------------- checks.c
    def db_is_to_authorized(self, ctx, table: str) -> int:
        return self._check_uri_user(ctx, table, "to")

    def db_is_from_authorized(self, ctx, table: str) -> int:
        return self._check_uri_user(ctx, table, "from")

    def _check_uri_user(self, ctx, table: str, which: str) -> int:
        """check_to()/check_from(): the To/From user must be one the authorized username may use (a row of
        the uri table with username, domain = the credentials' realm, uri_user = the URI's user)."""
        msg = ctx.msg
        try:
            body = msg.to if which == "to" else msg.from_
            uri = body.uri if body is not None else None
        except (SIPParseError, ValueError):
            uri = None
        if uri is None:
            self._log(-1, f"error while parsing {which.capitalize()} header URI")
            return _ERR_INTERNAL
        selected = selected_credentials(ctx, AUTHORIZATION) or selected_credentials(ctx, PROXY_AUTHORIZATION)
        if selected is None:
            self._log(-1, "no authorized credentials found (error in scripts); call {www,proxy}_authorize "
                        "before calling check_* functions!")
            return _ERR_CREDENTIALS
        if not uri.user:
            return _ERR_USERNOTFOUND
        if not self._table_ok(ctx, table):
            return _ERR_DBQUERY
        where = {self.uri_user_column: selected.user, self.uri_domain_column: selected.realm,
                 self.uri_uriuser_column: uri.user}
        try:
            rows = self.db.query(table, [self.uri_user_column], where=where)
        except DatabaseError as exc:
            self._log(-1, f"error while querying database: {exc}")
            return _ERR_DBQUERY
        return _OK if rows else _ERR_SPOOFEDUSER

    def db_does_uri_exist(self, ctx, uri: str, table: str) -> int:
        """The URI's user (and host, with use_domain) is a subscriber: 1, else -5; -1 for a bad URI."""
        if not uri:
            return _ERR_INTERNAL
        try:
            parsed = URI(uri)
        except (SIPParseError, ValueError):
            return _ERR_INTERNAL
        if not parsed.is_sip:
            return _ERR_INTERNAL
        if not self._table_ok(ctx, table):
            return _ERR_USERNOTFOUND
        where = {self.user_column: parsed.user or ""}
        if self.use_domain:
            where[self.domain_column] = parsed.host or ""
        try:
            rows = self.db.query(table, [self.user_column], where=where)
        except DatabaseError as exc:
            self._log(-1, f"error while querying database: {exc}")
            return _ERR_USERNOTFOUND
        return _OK if rows else _ERR_DBEMPTYRES

    def db_get_auth_id(self, ctx, table: str, uri: str, auth_user, auth_realm) -> int:
        """The username and domain of the uri-table row whose uri_user (and domain, with use_domain) match
        the URI: written to the two variables, 1; -4 when there is none."""
        try:
            parsed = URI(uri or "")
        except (SIPParseError, ValueError):
            parsed = None
        if parsed is None or not parsed.is_sip or not parsed.user:
            self._log(-1, f"first parameter must be a URI with username (val = {uri!r})")
            return -1
        if not self._table_ok(ctx, table):
            return _ERR_DBQUERY
        where = {self.uri_uriuser_column: parsed.user}
        if self.use_domain:
            where[self.uri_domain_column] = parsed.host or ""
        try:
            rows = self.db.query(table, [self.uri_user_column, self.uri_domain_column], where=where)
        except DatabaseError as exc:
            self._log(-1, f"error while querying database: {exc}")
            return _ERR_DBQUERY
        if not rows:
            return _ERR_USERNOTFOUND
        if len(rows) > 1:
            self._log(1, "multiple entries are matching the given uri. Consider setting the 'use_domain' "
                       "param.")
        user, domain = rows[0].get(self.uri_user_column), rows[0].get(self.uri_domain_column)
        if not isinstance(user, str) or not isinstance(domain, str):
            return _ERR_DBUSE
        auth_user.set(ctx, user)
        auth_realm.set(ctx, domain)
        return _OK
