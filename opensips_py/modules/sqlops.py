"""sqlops: SQL from the script: raw and structured queries into variables, and AVP preference tables."""
from __future__ import annotations

from opensips_py.modules.exports import (
    Arg, ArgKind, Dependency, Function, ModParam, ModuleExports, ParamType, VersionSpan,
)

_DB_ID = Arg("db_id", ArgKind.INT, optional=True)


def _column(name: str) -> ModParam:
    return ModParam(f"{name}_column", ParamType.STR, name, doc="Column name in usr_table.")


EXPORTS = ModuleExports(
    name="sqlops",
    versions=VersionSpan(since="3.5"),
    doc="Added in 3.5, taking over the database half of avpops. Result lists such as "
        '"$avp(a);$avp(b)" name the variables that receive the columns (the text is not expanded). '
        "Queries return 1 with rows, -2 with none, -1 on error.",
    functions=(
        Function(
            "sql_query", (Arg("query"), Arg("res_col_avps", optional=True), _DB_ID), is_async=True,
            doc="Raw query; each column into an AVP (default $avp(1)…), one value per row.",
        ),
        Function(
            "sql_query_one", (Arg("query"), Arg("res_col_vars", optional=True), _DB_ID), is_async=True,
            doc="Raw query; the first row's columns into variables.",
        ),
        Function(
            "sql_select",
            (Arg("columns", optional=True), Arg("table"), Arg("filter", optional=True),
             Arg("order", optional=True), Arg("res_col_avps", optional=True), _DB_ID),
            doc='SELECT built from JSON: columns ["a","b"], filter {"col": value | {">": v}}, order "col".',
        ),
        Function(
            "sql_select_one",
            (Arg("columns", optional=True), Arg("table", optional=True), Arg("filter"),
             Arg("order", optional=True), Arg("res_col_vars"), _DB_ID),
            doc="As sql_select, first row into variables. The export marks table optional and filter and "
                "res_col_vars mandatory (3.5–4.0), unlike the documentation.",
        ),
        Function("sql_update", (Arg("columns"), Arg("table"), Arg("filter", optional=True), _DB_ID),
                 doc='UPDATE: columns {"col": value, …}.'),
        Function("sql_insert", (Arg("table"), Arg("columns"), _DB_ID), doc='INSERT: columns {"col": value, …}.'),
        Function("sql_delete", (Arg("table"), Arg("filter", optional=True), _DB_ID)),
        Function("sql_replace", (Arg("table"), Arg("columns"), _DB_ID), doc="REPLACE (MySQL/SQLite)."),
        Function(
            "sql_avp_load", (Arg("source"), Arg("name"), _DB_ID, Arg("prefix", optional=True)),
            doc="avpops' avp_db_load: AVPs of source from usr_table.",
        ),
        Function("sql_avp_store", (Arg("source"), Arg("name"), _DB_ID), doc="avpops' avp_db_store."),
        Function("sql_avp_delete", (Arg("source"), Arg("name"), _DB_ID), doc="avpops' avp_db_delete."),
    ),
    params=(
        ModParam("db_url", ParamType.STR, repeatable=True,
                 doc='"[id ]url": id 0 (the default) when absent; functions pick one by db_id.'),
        ModParam("usr_table", ParamType.STR, "usr_preferences"),
        ModParam("use_domain", ParamType.INT, 0, versions=VersionSpan(until="4.0"),
                 doc="Match the domain column too when loading by URI."),
        ModParam("use_domain", ParamType.INT, 1, versions=VersionSpan(since="4.0"),
                 doc="Match the domain column too when loading by URI (on by default in 4.0)."),
        _column("uuid"),
        _column("username"),
        _column("domain"),
        _column("attribute"),
        _column("value"),
        _column("type"),
        ModParam("db_scheme", ParamType.STR, repeatable=True,
                 doc='"name:table=…;uuid_col=…;value_col=…" alternative table layouts.'),
        ModParam("ps_id_max_buf_len", ParamType.INT, 1024,
                 doc="Longest query text cached as a prepared statement."),
        ModParam("bigint_to_str", ParamType.INT, 0, doc="Return BIGINT columns as strings."),
    ),
    deps=(
        Dependency(("db_*",), when_param="db_url"),
    ),
)
