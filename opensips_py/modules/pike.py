"""pike: flood detection: block source IPs sending more than a request rate."""
from __future__ import annotations

from opensips_py.modules.exports import R, Function, MICommand, ModParam, ModuleExports, ParamType, VersionSpan

EXPORTS = ModuleExports(
    name="pike",
    doc="Counts requests per source IP in a tree of address prefixes; an IP above reqs_density_per_unit "
        "requests per sampling_time_unit seconds is blocked until it calms down.",
    functions=(
        Function("pike_check_req", (), routes=R,
                 doc="-1 if the source IP is flooding (blocked), 1 otherwise."),
    ),
    params=(
        ModParam("sampling_time_unit", ParamType.INT, 2, doc="Seconds of one sampling window."),
        ModParam("reqs_density_per_unit", ParamType.INT, 30, doc="Requests allowed per window."),
        ModParam("remove_latency", ParamType.INT, 120, doc="Seconds an idle IP stays in memory."),
        ModParam("pike_log_level", ParamType.INT, 1, doc="Log level of block/unblock messages (1 = L_WARN)."),
        ModParam("check_route", ParamType.STR,
                 doc="Automatic mode: route run per request; `drop` there exempts the request."),
    ),
    mi=(
        MICommand("pike_list", (), versions=VersionSpan(until="4.0"),
                  doc="Blocked IPs. 4.0 names it pike:list, without this alias."),
        MICommand("pike_rm", ("ip",), versions=VersionSpan(until="4.0"),
                  doc="Unblock an IP. 4.0 names it pike:rm, without this alias."),
        MICommand("list", (), versions=VersionSpan(since="4.0"), alias_4_0="pike:list"),
        MICommand("rm", ("ip",), versions=VersionSpan(since="4.0"), alias_4_0="pike:rm"),
    ),
)
