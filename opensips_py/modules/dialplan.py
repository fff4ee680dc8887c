"""dialplan: rule-based string translation (number normalisation, prefix rewriting) from a DB table."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, R, S, T, V, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType,
)


def _column(name: str, default: str) -> ModParam:
    return ModParam(f"{name}_col", ParamType.STR, default, doc="Column name in the dialplan table.")


EXPORTS = ModuleExports(
    name="dialplan",
    doc="Rules (dpid, pr, match_op 0 string / 1 regex, match_exp, match_flags bit 1 = case-insensitive, "
        "subst_exp, repl_exp, timerec, disabled, attrs) are cached per partition; the lowest pr that "
        "matches wins.",
    functions=(
        Function(
            "dp_translate",
            (Arg("id", ArgKind.INT), Arg("input"), Arg("out_var", ArgKind.VAR, optional=True),
             Arg("attrs_var", ArgKind.VAR, optional=True), Arg("partition", optional=True)),
            routes=R | F | B | L | S | T | V,
            doc="Translate input with the rules of dialplan id; 1 if a rule matched, -1 otherwise.",
        ),
    ),
    params=(
        ModParam("partition", ParamType.STR, repeatable=True,
                 doc='"name: table_name=…; db_url=…" declares a data source; "default: other" renames.'),
        ModParam("db_url", ParamType.STR, doc="URL of the default partition (else db_default_url)."),
        ModParam("table_name", ParamType.STR, "dialplan"),
        _column("dpid", "dpid"),
        _column("pr", "pr"),
        _column("match_op", "match_op"),
        _column("match_exp", "match_exp"),
        _column("match_flags", "match_flags"),
        _column("subst_exp", "subst_exp"),
        _column("repl_exp", "repl_exp"),
        _column("attrs", "attrs"),
        _column("timerec", "timerec"),
        _column("disabled", "disabled"),
    ),
    mi=(
        MICommand("dp_reload", ("partition",), alias_4_0="dialplan:reload",
                  doc="Reload the rules (one partition, optional)."),
        MICommand("dp_translate", ("dpid", "input", "partition"), alias_4_0="dialplan:translate",
                  doc="Translate a string; partition optional."),
        MICommand("dp_show_partition", ("partition",), alias_4_0="dialplan:show_partition",
                  doc="Partitions and their URLs (one partition, optional)."),
    ),
    deps=(
        Dependency(("db_*",), doc="Rules always come from a database (declared DEP_WARN)."),
    ),
)
