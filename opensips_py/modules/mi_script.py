"""mi_script: run MI commands from the script (optionally async)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    Arg, ArgKind, Dependency, Function, ModParam, ModuleExports, ParamType,
)

EXPORTS = ModuleExports(
    name="mi_script",
    doc="mi() runs an MI command in the calling process and returns its JSON result.",
    functions=(
        Function(
            "mi",
            (Arg("command"), Arg("ret_var", ArgKind.VAR, optional=True),
             Arg("params_avp", ArgKind.VAR, optional=True), Arg("vals_avp", ArgKind.VAR, optional=True)),
            is_async=True,
            doc='Run "cmd [p1 p2 …]" (or named params from the two AVPs); the JSON result into ret_var.',
        ),
    ),
    params=(
        ModParam("pretty_printing", ParamType.INT, 0),
        ModParam("trace_destination", ParamType.STR, doc="A proto_hep `hep_id` name to trace MI calls to."),
        ModParam("trace_bwlist", ParamType.STR, doc='"w: cmd, …" or "b: cmd, …".'),
    ),
    deps=(
        Dependency(("proto_hep",), when_param="trace_destination", doc="Tracing goes through proto_hep."),
    ),
)
