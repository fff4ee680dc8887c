"""alias_db: rewrite the R-URI from an alias table (dbaliases) looked up in the database on every call."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, S, Arg, ArgKind, Dependency, Function, ModParam, ModuleExports, ParamType,
)

EXPORTS = ModuleExports(
    name="alias_db",
    doc="Like usrloc aliases but straight from a table, no caching. Flags: d ignore the domain, r reverse "
        "lookup (from canonical to alias).",
    functions=(
        Function("alias_db_lookup", (Arg("table_name"), Arg("flags", optional=True)), routes=R | F,
                 doc="Replace the R-URI with the canonical URI of its alias; 1 found, -1 not."),
        Function(
            "alias_db_find",
            (Arg("table_name"), Arg("input_uri"), Arg("output_var", ArgKind.VAR), Arg("flags", optional=True)),
            routes=R | F | O | B | L | S, doc="Look up input_uri and write the result into output_var.",
        ),
    ),
    params=(
        ModParam("db_url", ParamType.STR),
        ModParam("user_column", ParamType.STR, "username"),
        ModParam("domain_column", ParamType.STR, "domain"),
        ModParam("alias_user_column", ParamType.STR, "alias_username"),
        ModParam("alias_domain_column", ParamType.STR, "alias_domain"),
        ModParam("domain_prefix", ParamType.STR, doc='Strip this prefix from the domain ("sip.") first.'),
        ModParam("append_branches", ParamType.INT, 0, doc="Add every match as a branch, not just the first."),
    ),
    deps=(
        Dependency(("db_*",), doc="Declared DEP_ABORT."),
    ),
)
