"""benchmark: timers around script sections, to measure how long parts of the routing take."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, S, T, V, Arg, Function, MICommand, ModParam, ModuleExports, ParamType, PseudoVar,
)

_ROUTES = R | F | O | B | L | S | T | V

EXPORTS = ModuleExports(
    name="benchmark",
    doc="bm_start_timer/bm_log_timer bracket a section; results are logged every `granularity` runs and "
        "kept for MI.",
    functions=(
        Function("bm_start_timer", (Arg("name"),), routes=_ROUTES, doc="Start the named timer."),
        Function("bm_log_timer", (Arg("name"),), routes=_ROUTES,
                 doc="Stop it, add the time to its totals ($BM_time_diff holds this run)."),
    ),
    params=(
        ModParam("enable", ParamType.INT, 0, doc="-1 off for all timers, 0 per timer (MI), 1 on."),
        ModParam("granularity", ParamType.INT, 100, doc="Log the totals every this many runs."),
        ModParam("loglevel", ParamType.INT, 3, doc="Log level of the reports (3 = L_INFO)."),
    ),
    pvars=(
        PseudoVar("BM_time_diff", doc="Microseconds of the last measured run."),
    ),
    mi=(
        MICommand("bm_enable_global", ("enable",), alias_4_0="benchmark:enable_global"),
        MICommand("bm_enable_timer", ("timer", "enable"), alias_4_0="benchmark:enable_timer"),
        MICommand("bm_granularity", ("granularity",), alias_4_0="benchmark:granularity"),
        MICommand("bm_loglevel", ("log_level",), alias_4_0="benchmark:loglevel"),
        MICommand("bm_poll_results", (), alias_4_0="benchmark:poll_results"),
    ),
)
