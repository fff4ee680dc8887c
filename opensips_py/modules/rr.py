"""rr: Record-Route insertion and loose routing of in-dialog requests (RFC 3261 §16.6, §16.12)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, R, Arg, ArgKind, Function, ModParam, ModuleExports, ParamType, PseudoVar,
)

EXPORTS = ModuleExports(
    name="rr",
    doc="Record-Route and loose routing; dialog matching runs from loose_route()'s callbacks. "
        "(modparam ignore_user exists only in builds with ENABLE_USER_CHECK, off in stock builds.)",
    functions=(
        Function(
            "loose_route", (), routes=R,
            doc="1 when routed by Route headers (in-dialog); -1 when there is nothing to follow (also for "
                "a preloaded initial request whose only Route is us).",
        ),
        Function(
            "record_route", (Arg("params", optional=True),), routes=R | F | B,
            doc="params: \";name=value…\" added to our Record-Route URI. Two RRs (r2=on) when the in and "
                "out sockets differ.",
        ),
        Function("record_route_preset", (Arg("preset"), Arg("preset2", optional=True)), routes=R | F | B),
        Function("add_rr_param", (Arg("param"),), routes=R | F | B),
        Function("check_route_param", (Arg("re", ArgKind.REGEX),), routes=R),
        Function(
            "is_direction", (Arg("dir", choices=("upstream", "downstream")),), routes=R,
            doc="Needs append_fromtag=1 (start-up error otherwise).",
        ),
    ),
    params=(
        ModParam("append_fromtag", ParamType.INT, 1),
        ModParam("enable_double_rr", ParamType.INT, 1),
        ModParam("add_username", ParamType.INT, 0),
        ModParam("enable_socket_mismatch_warning", ParamType.INT, 1),
    ),
    pvars=(
        PseudoVar("rr_params", doc="Parameters of our Route header, after loose_route()."),
    ),
)
