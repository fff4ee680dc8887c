"""dispatcher: load balancing and failover over sets of destinations, with OPTIONS probing."""
from __future__ import annotations

from opensips_py.modules.exports import (
    ALL, B, F, L, O, R, T, V, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports,
    ParamType, VersionSpan,
)

# ds_select_dst()/ds_select_domain() flag letters, either case: failover list, user-only hash, default
# destination last, append.
SELECT_FLAGS = ("f", "F", "u", "U", "d", "D", "a", "A")
_SELECT_ARGS = (
    Arg("set", ArgKind.INT), Arg("alg", ArgKind.INT), Arg("flags", optional=True, choices=SELECT_FLAGS),
    Arg("partition", optional=True), Arg("max_results", ArgKind.INT, optional=True),
)
_SELECT_DOC = ("alg: 0 Call-ID, 1 From, 2 To, 3 R-URI, 4 weighted round-robin, 5 auth user, 6 random, "
               "7 hash_pvar, 8 first, 9 load, 10 algo_route. 1 found, -1 none active.")


def _column(name: str, default: str, **kwargs) -> ModParam:
    return ModParam(f"{name}_col", ParamType.STR, default, doc="Column name in the dispatcher table.", **kwargs)


EXPORTS = ModuleExports(
    name="dispatcher",
    doc="Destination sets from the dispatcher table (partitions), selection algorithms, failover lists, "
        "state marking and probing.",
    functions=(
        Function("ds_select_dst", _SELECT_ARGS, routes=R | F | B, versions=VersionSpan(until="3.4")),
        Function(
            "ds_select_dst", _SELECT_ARGS, routes=R | F | B | L, versions=VersionSpan(since="3.4"),
            doc="Sets $du. " + _SELECT_DOC + " C: local_route allowed since 3.4.",
        ),
        Function("ds_select_domain", _SELECT_ARGS, routes=R | F | B, versions=VersionSpan(until="3.4")),
        Function(
            "ds_select_domain", _SELECT_ARGS, routes=R | F | B | L, versions=VersionSpan(since="3.4"),
            doc="Rewrites the R-URI host:port. " + _SELECT_DOC,
        ),
        Function("ds_next_dst", (Arg("partition", optional=True),), routes=R | F),
        Function("ds_next_domain", (Arg("partition", optional=True),), routes=R | F),
        Function(
            "ds_mark_dst", (Arg("state", optional=True), Arg("partition", optional=True)), routes=R | F,
            doc="state: i/I/0 inactive (default), a/A/1 active, p/P/2 probing; parsed per call.",
        ),
        Function(
            "ds_is_in_list",
            (Arg("ip"), Arg("port", ArgKind.INT), Arg("set", ArgKind.INT, optional=True),
             Arg("partition", optional=True), Arg("active_only", ArgKind.INT, optional=True),
             Arg("pattern", optional=True)),
            routes=R | F | O | B | L,
        ),
        Function(
            "ds_count",
            (Arg("set", ArgKind.INT), Arg("state_filter"), Arg("result", ArgKind.VAR),
             Arg("partition", optional=True)),
            routes=R | F | B | L | T | V, doc="state_filter letters a/i/p (or 0/1/2).",
        ),
        Function(
            "ds_push_script_attrs",
            (Arg("script_attrs"), Arg("ip"), Arg("port", ArgKind.INT), Arg("set", ArgKind.INT, optional=True),
             Arg("partition", optional=True)),
            routes=ALL,
        ),
        Function(
            "ds_get_script_attrs",
            (Arg("uri"), Arg("set", ArgKind.INT), Arg("partition", optional=True), Arg("out_attrs", ArgKind.VAR)),
            routes=ALL,
        ),
    ),
    params=(
        ModParam("partition", ParamType.STR, None, repeatable=True, doc="\"name: db_url=…; table_name=…\"."),
        ModParam("db_url", ParamType.STR, None),
        ModParam("table_name", ParamType.STR, "dispatcher"),
        ModParam("dst_avp", ParamType.STR, "$avp(ds_dst_failover)"),
        ModParam("grp_avp", ParamType.STR, "$avp(ds_grp_failover)"),
        ModParam("cnt_avp", ParamType.STR, "$avp(ds_cnt_failover)"),
        ModParam("sock_avp", ParamType.STR, "$avp(ds_sock_failover)"),
        ModParam("attrs_avp", ParamType.STR, None),
        ModParam("script_attrs_avp", ParamType.STR, None),
        ModParam("algo_route", ParamType.STR, None),
        ModParam("hash_pvar", ParamType.STR, None),
        ModParam("setid_pvar", ParamType.STR, None),
        ModParam("pvar_algo_pattern", ParamType.STR, ""),
        ModParam("ds_ping_method", ParamType.STR, "OPTIONS"),
        ModParam("ds_ping_from", ParamType.STR, "sip:dispatcher@localhost"),
        ModParam("ds_ping_interval", ParamType.INT, 0, doc="Seconds; > 0 needs tm."),
        ModParam("ds_ping_maxfwd", ParamType.INT, -1),
        ModParam("ds_probing_sock", ParamType.STR, None),
        ModParam("ds_probing_threshold", ParamType.INT, 3),
        ModParam("ds_probing_threshhold", ParamType.INT, 3, doc="Misspelt alias of ds_probing_threshold."),
        ModParam("ds_probing_mode", ParamType.INT, 0),
        ModParam("ds_probing_list", ParamType.STR, None, repeatable=True),
        ModParam("options_reply_codes", ParamType.STR, None),
        ModParam("ds_define_blacklist", ParamType.STR, None, repeatable=True),
        ModParam("persistent_state", ParamType.INT, 1),
        ModParam("fetch_freeswitch_stats", ParamType.INT, 0),
        ModParam("max_freeswitch_weight", ParamType.INT, 100),
        ModParam("cluster_id", ParamType.INT, 0),
        ModParam("cluster_sharing_tag", ParamType.STR, None),
        ModParam(
            "cluster_probing_mode", ParamType.STR, None, versions=VersionSpan(since="3.4"),
            doc="all or by-shtag.",
        ),
        _column("setid", "setid"),
        _column("destination", "destination"),
        _column("socket", "socket"),
        _column("state", "state"),
        _column("weight", "weight"),
        _column("priority", "priority"),
        _column("attrs", "attrs"),
        _column("description", "description"),
        _column("probe_mode", "probe_mode", versions=VersionSpan(since="3.4")),
    ),
    mi=(
        MICommand("ds_set_state", ("state", "group", "address"), alias_4_0="dispatcher:set_state"),
        MICommand("ds_list", ("full",), versions=VersionSpan(until="3.4")),
        MICommand(
            "ds_list", ("partition", "full"), versions=VersionSpan(since="3.4"), alias_4_0="dispatcher:list",
        ),
        MICommand("ds_reload", ("partition",), versions=VersionSpan(until="3.4")),
        MICommand(
            "ds_reload", ("partition", "inherit_state"), versions=VersionSpan(since="3.4"),
            alias_4_0="dispatcher:reload",
        ),
        MICommand(
            "ds_push_script_attrs", ("attrs", "ip", "port", "set", "partition"),
            alias_4_0="dispatcher:push_script_attrs",
        ),
    ),
    deps=(
        Dependency(("db_*",), doc="DEP_ABORT, unconditional in the C (the reference says only with db_url)."),
        Dependency(("tm",), when_param="ds_ping_interval", unless_values=(0,)),
        Dependency(("freeswitch",), when_param="fetch_freeswitch_stats", unless_values=(0,)),
        Dependency(("clusterer",), when_param="cluster_id", unless_values=(0,)),
    ),
)
