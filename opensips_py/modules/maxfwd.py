"""maxfwd: the Max-Forwards check every proxy does first (RFC 3261 §16.3 step 3)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, R, Arg, ArgKind, Function, ModParam, ModuleExports, ParamType,
)

EXPORTS = ModuleExports(
    name="maxfwd",
    doc="Max-Forwards processing.",
    functions=(
        Function(
            "mf_process_maxfwd_header", (Arg("max", ArgKind.INT),), routes=R,
            doc="2: header absent, `Max-Forwards: max` added; 1: found and decremented (clamped to "
                "max_limit first); -1: value is 0 (reply 483); -2: parse error.",
        ),
        Function(
            "is_maxfwd_lt", (Arg("max", ArgKind.INT),), routes=R | F | B,
            doc="1: value < max; -1: value >= max; -2: no header; -3: error.",
        ),
    ),
    params=(
        ModParam("max_limit", ParamType.INT, 256, doc="Upper bound for the received value."),
    ),
)
