"""uri: URI checks (has_totag, uri_param, db_does_uri_exist…) of OpenSIPS 2.x, removed in 3.0."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, Arg, ArgKind, Function, ModParam, ModuleExports, ParamType, VersionSpan,
)

# Every entry ends with the module: OpenSIPS 3.0 removed it and spread its functions over other modules.
_GONE = VersionSpan(until="3.0")
_ROUTES = R | F | B | L

EXPORTS = ModuleExports(
    name="uri",
    versions=_GONE,
    replacement="sipmsgops (has_totag, is_uri_user_e164, ruri_has_param, ruri_add_param, ruri_del_param, "
                "ruri_tel2sip), auth_db (db_does_uri_exist, db_get_auth_id, db_is_to_authorized, "
                "db_is_from_authorized), auth_aaa (aaa_does_uri_exist, aaa_does_uri_user_exist)",
    doc="Loading uri.so fails on 3.x and 4.0. Its 2.4 surface is listed so that check can name the "
        "3.x replacement of each function (renamed_to, or the module in `replacement`).",
    functions=(
        Function("has_totag", (), routes=R | O | F | B | L, versions=_GONE,
                 doc="3.x: sipmsgops has_totag()."),
        Function("is_uri_user_e164", (Arg("pseudo_variable"),), routes=_ROUTES, versions=_GONE,
                 doc="3.x: sipmsgops is_uri_user_e164()."),
        Function("uri_param", (Arg("param"), Arg("value", optional=True)), routes=_ROUTES, versions=_GONE,
                 renamed_to="ruri_has_param", doc="3.x: sipmsgops ruri_has_param()."),
        Function("add_uri_param", (Arg("param"),), routes=R, versions=_GONE, renamed_to="ruri_add_param",
                 doc="3.x: sipmsgops ruri_add_param()."),
        Function("del_uri_param", (Arg("param"),), routes=_ROUTES, versions=_GONE, renamed_to="ruri_del_param",
                 doc="3.x: sipmsgops ruri_del_param()."),
        Function("tel2sip", (), routes=_ROUTES, versions=_GONE, renamed_to="ruri_tel2sip",
                 doc="3.x: sipmsgops ruri_tel2sip()."),
        Function("is_user", (Arg("username"),), routes=R | L, versions=_GONE,
                 doc="Removed in 3.0 without a replacement (compare $au in the script)."),
        Function("db_check_to", (), routes=R, versions=_GONE, renamed_to="db_is_to_authorized",
                 doc="3.x: auth_db db_is_to_authorized()."),
        Function("db_check_from", (), routes=R, versions=_GONE, renamed_to="db_is_from_authorized",
                 doc="3.x: auth_db db_is_from_authorized()."),
        Function("db_does_uri_exist", (), routes=_ROUTES, versions=_GONE, doc="3.x: auth_db."),
        Function(
            "db_get_auth_id", (Arg("uri"), Arg("auth_user", ArgKind.VAR), Arg("auth_realm", ArgKind.VAR)),
            routes=R | L, versions=_GONE, doc="3.x: auth_db.",
        ),
        Function("aaa_does_uri_exist", (Arg("uri", optional=True),), routes=R | L, versions=_GONE,
                 doc="3.x: auth_aaa."),
        Function("aaa_does_uri_user_exist", (Arg("uri", optional=True),), routes=R | L, versions=_GONE,
                 doc="3.x: auth_aaa."),
    ),
    params=(
        ModParam("db_url", ParamType.STR, versions=_GONE),
        ModParam("db_table", ParamType.STR, versions=_GONE,
                 doc='Default "uri" with use_uri_table, else "subscriber".'),
        ModParam("user_column", ParamType.STR, "username", versions=_GONE),
        ModParam("domain_column", ParamType.STR, "domain", versions=_GONE),
        ModParam("uriuser_column", ParamType.STR, "uri_user", versions=_GONE),
        ModParam("use_uri_table", ParamType.INT, 0, versions=_GONE),
        ModParam("use_domain", ParamType.INT, 0, versions=_GONE),
        ModParam("aaa_url", ParamType.STR, versions=_GONE),
        ModParam("service_type", ParamType.INT, -1, versions=_GONE),
        ModParam("use_sip_uri_host", ParamType.INT, 0, versions=_GONE),
    ),
)
