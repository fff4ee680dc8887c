"""group: user group membership checks against a database table (or AAA)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, R, Arg, ArgKind, Dependency, Function, ModParam, ModuleExports, ParamType, VersionSpan,
)

_ROUTES = R | F | B | L

EXPORTS = ModuleExports(
    name="group",
    doc="The `grp` table holds (username, domain, grp); the `re_grp` table maps regular expressions to "
        "group ids. 3.2 still declared is_user_in/get_user_group only to reject them at start-up (use "
        "db_is_user_in/db_get_user_group); they are not listed here.",
    functions=(
        Function("db_is_user_in", (Arg("uri"), Arg("group")), routes=_ROUTES,
                 doc="1 if the user of uri (a URI or a pvar) belongs to group."),
        Function("db_get_user_group", (Arg("uri"), Arg("output_avp", ArgKind.VAR)), routes=_ROUTES,
                 doc="Group ids whose regular expressions match uri, into output_avp."),
        Function("aaa_is_user_in", (Arg("uri"), Arg("group")), routes=_ROUTES,
                 doc="Membership check through AAA (aaa_url)."),
    ),
    params=(
        ModParam("db_url", ParamType.STR),
        ModParam("table", ParamType.STR, "grp"),
        ModParam("user_column", ParamType.STR, "username"),
        ModParam("domain_column", ParamType.STR, "domain"),
        ModParam("group_column", ParamType.STR, "grp"),
        ModParam("use_domain", ParamType.INT, 0, versions=VersionSpan(until="4.0"),
                 doc="Match the domain too."),
        ModParam("use_domain", ParamType.INT, 1, versions=VersionSpan(since="4.0"),
                 doc="Match the domain too (on by default in 4.0)."),
        ModParam("re_table", ParamType.STR, doc="Table of regular expressions (for db_get_user_group)."),
        ModParam("re_exp_column", ParamType.STR, "reg_exp"),
        ModParam("re_gid_column", ParamType.STR, "group_id"),
        ModParam("multiple_gid", ParamType.INT, 1, doc="Return every matching group id, not only the first."),
        ModParam("aaa_url", ParamType.STR, doc="AAA backend for aaa_is_user_in."),
    ),
    deps=(
        Dependency(("db_*",), when_param="db_url"),
        Dependency(("aaa_*",), when_param="aaa_url"),
    ),
)
