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
