"""json: JSON documents in script variables ($json) with path access, linking and merge patches."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, S, T, V, Arg, ArgKind, Function, ModParam, ModuleExports, ParamType, PseudoVar,
    VersionSpan,
)

EXPORTS = ModuleExports(
    name="json",
    doc="$json(id/key[idx]/key) reads and writes into a JSON document held by the process; `:=` assigns "
        "parsed JSON, `=` a plain value; [] appends, negative indexes count from the end.",
    functions=(
        Function("json_link", (Arg("dest", ArgKind.VAR), Arg("source", ArgKind.VAR)),
                 routes=R | F | O | B | L | S | T | V,
                 doc="Make dest refer to source's object (no copy): changes show in both."),
        Function(
            "json_merge",
            (Arg("main_json_var"), Arg("patch_json_var"), Arg("output_var", ArgKind.VAR)),
            versions=VersionSpan(since="3.6"), doc="RFC 7386 merge patch of two JSON strings into output_var.",
        ),
    ),
    params=(
        ModParam("enable_long_quoting", ParamType.INT, 0, versions=VersionSpan(since="3.4"),
                 doc="Print integers beyond 2^53 as quoted strings."),
    ),
    pvars=(
        PseudoVar("json", writable=True, takes_arg=True, doc="$json(id[/path]): compact JSON for objects."),
        PseudoVar("json_compact", writable=True, takes_arg=True, doc="As $json, printed compactly."),
        PseudoVar("json_pretty", writable=True, takes_arg=True, doc="As $json, printed indented."),
        PseudoVar("json_compact_noescape", writable=True, takes_arg=True, versions=VersionSpan(since="4.0"),
                  doc="Compact, without escaping slashes."),
    ),
)
