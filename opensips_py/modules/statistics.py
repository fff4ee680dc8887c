"""statistics: script-defined statistics (counters) and statistic series."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, S, T, V, Arg, ArgKind, Function, ModParam, ModuleExports, ParamType, PseudoVar,
)

# Every route but error_route.
_ROUTES = R | F | O | B | L | S | T | V

EXPORTS = ModuleExports(
    name="statistics",
    doc="Statistics declared with `variable` (or created on first update) appear in MI get_statistics and "
        "prometheus like the modules' own.",
    functions=(
        Function("update_stat", (Arg("variable"), Arg("value", ArgKind.INT)), routes=_ROUTES,
                 doc='Add value (may be negative) to "[group:]name".'),
        Function("reset_stat", (Arg("variable"),), routes=_ROUTES, doc="Set a statistic back to 0."),
        Function("stat_iter_init", (Arg("group"), Arg("iter")), routes=_ROUTES,
                 doc="Start iterating over the statistics of a group."),
        Function("stat_iter_next", (Arg("name", ArgKind.VAR), Arg("val", ArgKind.VAR), Arg("iter")),
                 routes=_ROUTES, doc="Next name and value of the iteration; -1 at the end."),
        Function("update_stat_series", (Arg("profile"), Arg("variable"), Arg("value", ArgKind.INT)),
                 doc="Add a value to a time-windowed series of a stat_series_profile."),
    ),
    params=(
        ModParam("variable", ParamType.STR, repeatable=True,
                 doc='Declare a statistic "[group:]name[/no_reset]" at start-up.'),
        ModParam("stat_groups", ParamType.STR, repeatable=True, doc="Comma list of statistic groups."),
        ModParam("stat_series_profile", ParamType.STR, repeatable=True,
                 doc='"name: algorithm=accumulate|percentage|average; window=…; slots=…; group=…".'),
    ),
    pvars=(
        PseudoVar("stat", writable=True, takes_arg=True,
                  doc="$stat(name): a statistic's value; writing 0 resets it."),
    ),
)
