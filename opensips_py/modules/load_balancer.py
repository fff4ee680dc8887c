"""load_balancer: spread calls over destinations by their free capacity per resource."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType,
)

_ROUTES = R | F | B


def _start(name: str, doc: str) -> Function:
    return Function(
        name, (Arg("grp", ArgKind.INT), Arg("resources"), Arg("flags", optional=True),
               Arg("attrs", ArgKind.VAR, optional=True)),
        routes=_ROUTES, doc=doc,
    )


EXPORTS = ModuleExports(
    name="load_balancer",
    doc='Destinations (load_balancer table) declare capacities per resource ("pstn=32;transc=8"); each '
        "call takes one unit of each resource it asks for, tracked through dialog profiles.",
    functions=(
        _start("lb_start", "Pick the least loaded destination of group grp for resources (\"pstn;transc\")."),
        _start("load_balance", "Old name of lb_start."),
        _start("lb_start_or_next", "lb_start on the first call, lb_next afterwards."),
        Function("lb_next", (Arg("attrs", ArgKind.VAR, optional=True),), routes=_ROUTES,
                 doc="Move to the next destination (from failure_route)."),
        Function("lb_reset", (), routes=_ROUTES),
        Function("lb_is_started", (), routes=_ROUTES),
        Function("lb_disable_dst", (), routes=_ROUTES, doc="Disable the destination just tried."),
        Function(
            "lb_is_destination",
            (Arg("ip"), Arg("port", ArgKind.INT), Arg("group", ArgKind.INT, optional=True),
             Arg("active", ArgKind.INT, optional=True), Arg("attrs", ArgKind.VAR, optional=True)),
            routes=R | F | O | B | L,
        ),
        Function(
            "lb_count_call",
            (Arg("ip"), Arg("port", ArgKind.INT), Arg("grp", ArgKind.INT), Arg("resources"),
             Arg("undo", ArgKind.INT, optional=True)),
            routes=_ROUTES, doc="Count a call against a destination without routing it.",
        ),
    ),
    params=(
        ModParam("db_url", ParamType.STR),
        ModParam("db_table", ParamType.STR, doc='Table name (default "load_balancer").'),
        ModParam("probing_interval", ParamType.INT, 30, doc="Seconds between OPTIONS probes (0: off)."),
        ModParam("probing_verbose", ParamType.INT, 0),
        ModParam("probing_method", ParamType.STR, "OPTIONS"),
        ModParam("probing_from", ParamType.STR, "sip:prober@localhost"),
        ModParam("probing_reply_codes", ParamType.STR, doc="Extra reply codes counted as alive."),
        ModParam("lb_define_blacklist", ParamType.STR, repeatable=True, doc='"name = group1, group2".'),
        ModParam("cluster_id", ParamType.INT, 0),
        ModParam("cluster_sharing_tag", ParamType.STR),
        ModParam("fetch_freeswitch_stats", ParamType.INT, 0, doc="Use FreeSWITCH load reports (freeswitch)."),
        ModParam("initial_freeswitch_load", ParamType.INT, 1000),
    ),
    mi=(
        MICommand("lb_reload", (), alias_4_0="load_balancer:reload"),
        MICommand("lb_resize", ("destination_id", "res_name", "new_capacity"), alias_4_0="load_balancer:resize"),
        MICommand("lb_list", (), alias_4_0="load_balancer:list"),
        MICommand("lb_status", ("destination_id", "new_status"), alias_4_0="load_balancer:status",
                  doc="new_status optional (show)."),
    ),
    deps=(
        Dependency(("dialog",), doc="Declared DEP_ABORT."),
        Dependency(("db_*",), doc="Declared DEP_ABORT."),
        Dependency(("tm",), when_param="probing_interval", unless_values=(0,)),
        Dependency(("freeswitch",), when_param="fetch_freeswitch_stats", unless_values=(0,)),
        Dependency(("clusterer",), when_param="cluster_id", unless_values=(0,)),
    ),
)
