"""avpops: AVP operations and AVP/database queries (3.4 and older; replaced by sqlops in 3.5)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, S, T, V, Arg, ArgKind, Dependency, Function, ModParam, ModuleExports, ParamType,
    VersionSpan,
)

# Every route but error_route.
_ROUTES = R | F | O | B | L | S | T | V
_GONE = VersionSpan(until="3.5")


def _column(name: str) -> ModParam:
    return ModParam(f"{name}_column", ParamType.STR, name, doc="Column name in avp_table.")


EXPORTS = ModuleExports(
    name="avpops",
    versions=_GONE,
    replacement="sqlops (avp_db_* -> sql_avp_*, avp_db_query -> sql_query); the pure AVP operations have "
                "no replacement module (use script assignments and transformations)",
    doc="Loads/stores AVPs from a preferences table (usr_preferences) and runs raw queries into AVPs; plus "
        "operations on AVP values. Removed in 3.5: the database part moved to sqlops.",
    functions=(
        Function(
            "avp_db_load",
            (Arg("source"), Arg("name"), Arg("db_id", ArgKind.INT, optional=True), Arg("prefix", optional=True)),
            routes=_ROUTES, versions=_GONE, renamed_to="sql_avp_load",
            doc='Load AVPs for source ($fu, $ruri/username, $avp(uuid), …); name "$avp(x)" or "*".',
        ),
        Function(
            "avp_db_store", (Arg("source"), Arg("name"), Arg("db_id", ArgKind.INT, optional=True)),
            routes=_ROUTES, versions=_GONE, renamed_to="sql_avp_store",
        ),
        Function(
            "avp_db_delete", (Arg("source"), Arg("name"), Arg("db_id", ArgKind.INT, optional=True)),
            routes=_ROUTES, versions=_GONE, renamed_to="sql_avp_delete",
        ),
        Function(
            "avp_db_query",
            (Arg("query"), Arg("res_col_avps", optional=True), Arg("db_id", ArgKind.INT, optional=True)),
            routes=_ROUTES, versions=_GONE, renamed_to="sql_query", is_async=True,
            doc='Raw query; result columns go to "$avp(a);$avp(b)" (default $avp(1)…), one value per row. '
                "1 rows, -2 no rows, -1 error.",
        ),
        Function("avp_delete", (Arg("name"),), routes=_ROUTES, doc='"$avp(x)[/g]": delete one or all values.'),
        Function("avp_pushto", (Arg("destination"), Arg("name")), routes=_ROUTES,
                 doc='Copy an AVP into "$ru[/username|/domain]", "$du" or "$br".'),
        Function("avp_check", (Arg("name"), Arg("op_value")), routes=_ROUTES,
                 doc='"op/value[/flags]": eq ne lt le gt ge re fm and or xor; value i:N, s:text or a pvar.'),
        Function("avp_copy", (Arg("from_avp"), Arg("to_avp")), routes=_ROUTES, doc='"$avp(b)[/flags]".'),
        Function("avp_subst", (Arg("avps"), Arg("subst")), routes=_ROUTES, doc='"/re/repl/flags" on AVP values.'),
        Function("avp_op", (Arg("name"), Arg("op_value")), routes=_ROUTES,
                 doc='"op/value[/flags]": add sub mul div mod and or xor not.'),
        Function("is_avp_set", (Arg("name"),), routes=_ROUTES),
        Function("avp_shuffle", (Arg("name"),), routes=_ROUTES, versions=VersionSpan(since="3.4", until="3.5")),
        Function("avp_print", (), routes=_ROUTES, doc="Log every AVP (debugging)."),
    ),
    params=(
        ModParam("db_url", ParamType.STR, repeatable=True,
                 doc='"[id ]url": id 0 (the default) when absent; functions pick one by db_id.'),
        ModParam("avp_table", ParamType.STR, "usr_preferences"),
        ModParam("use_domain", ParamType.INT, 0, doc="Match the domain column too when loading by URI."),
        _column("uuid"),
        _column("username"),
        _column("domain"),
        _column("attribute"),
        _column("value"),
        _column("type"),
        ModParam("db_scheme", ParamType.STR, repeatable=True,
                 doc='"name:table=…;uuid_col=…;value_col=…" alternative table layouts.'),
    ),
    deps=(
        Dependency(("db_*",), when_param="db_url"),
    ),
)
