"""drouting: prefix-based routing to gateways and carriers (rules by group, time and priority)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    ALL, B, F, L, O, R, S, T, V, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports,
    ParamType, VersionSpan,
)

# do_routing()/dr_match() flag letters: F rule fallback, L strict length match, C check only.
ROUTING_FLAGS = ("F", "L", "C")
# is_from_gw()/goes_to_gw()/dr_is_gw() flag letters.
GW_FLAGS = ("s", "p", "i", "n", "r", "c")

_GW_ATTRS = Arg("gw_attrs", ArgKind.VAR, optional=True)
_CARRIER_ATTRS = Arg("carrier_attrs", ArgKind.VAR, optional=True)
_RULE_ATTRS = Arg("rule_attrs", ArgKind.VAR, optional=True)
_PARTITION = Arg("partition", optional=True)
_ROUTING_ARGS = (
    Arg("group_id", ArgKind.INT, optional=True), Arg("flags", optional=True, choices=ROUTING_FLAGS),
    Arg("gw_whitelist", optional=True), _RULE_ATTRS, _GW_ATTRS, _CARRIER_ATTRS, _PARTITION,
)
_GW_TYPE_ARGS = (Arg("type", ArgKind.INT, optional=True), Arg("flags", optional=True, choices=GW_FLAGS))
_RFLB = R | F | L | B

EXPORTS = ModuleExports(
    name="drouting",
    doc="Dynamic routing: longest prefix, then time recurrence, then priority over dr_rules; gateways and "
        "carriers from the database.",
    functions=(
        Function("do_routing", _ROUTING_ARGS, routes=_RFLB, versions=VersionSpan(until="3.4")),
        Function(
            "do_routing", _ROUTING_ARGS, routes=ALL, versions=VersionSpan(since="3.4"),
            doc="Rewrites the R-URI to the first gateway; the others are kept for use_next_gw(). "
                "partition is required when use_partitions=1.",
        ),
        Function(
            "use_next_gw", (_RULE_ATTRS, _GW_ATTRS, _CARRIER_ATTRS, _PARTITION), routes=_RFLB,
            doc="1 next gateway in the R-URI; -1 none left.",
        ),
        Function(
            "route_to_carrier", (Arg("carriers"), _GW_ATTRS, _CARRIER_ATTRS, _PARTITION), routes=_RFLB,
            versions=VersionSpan(until="3.4"),
        ),
        Function(
            "route_to_carrier", (Arg("carriers"), _GW_ATTRS, _CARRIER_ATTRS, _PARTITION), routes=ALL,
            versions=VersionSpan(since="3.4"),
        ),
        Function(
            "route_to_gw", (Arg("gw_id"), _GW_ATTRS, _PARTITION), routes=_RFLB, versions=VersionSpan(until="3.4"),
        ),
        Function(
            "route_to_gw", (Arg("gw_id"), _GW_ATTRS, _CARRIER_ATTRS, _PARTITION), routes=ALL,
            versions=VersionSpan(since="3.4"),
        ),
        Function(
            "is_from_gw", (*_GW_TYPE_ARGS, _GW_ATTRS, _PARTITION), routes=R | F | O | B,
            versions=VersionSpan(until="3.4"),
        ),
        Function(
            "is_from_gw", (*_GW_TYPE_ARGS, _GW_ATTRS, _CARRIER_ATTRS, _PARTITION), routes=R | F | O | B,
            versions=VersionSpan(since="3.4"),
        ),
        Function(
            "goes_to_gw", (*_GW_TYPE_ARGS, _GW_ATTRS, _PARTITION), routes=R | F | O | B | L,
            versions=VersionSpan(until="3.4"),
        ),
        Function(
            "goes_to_gw", (*_GW_TYPE_ARGS, _GW_ATTRS, _CARRIER_ATTRS, _PARTITION), routes=R | F | O | B | L,
            versions=VersionSpan(since="3.4"),
        ),
        Function(
            "dr_is_gw", (Arg("sip_uri"), *_GW_TYPE_ARGS, _GW_ATTRS, _PARTITION),
            routes=R | F | O | B | L | S | T | V, versions=VersionSpan(until="3.4"),
        ),
        Function(
            "dr_is_gw", (Arg("sip_uri"), *_GW_TYPE_ARGS, _GW_ATTRS, _CARRIER_ATTRS, _PARTITION), routes=ALL,
            versions=VersionSpan(since="3.4"),
        ),
        Function("dr_disable", (_PARTITION,), routes=R | F | O | B | L),
        Function(
            "dr_match",
            (Arg("group_id", ArgKind.INT), Arg("flags", optional=True, choices=ROUTING_FLAGS), Arg("number"),
             _RULE_ATTRS, _PARTITION),
            routes=R | F | O | B | L,
        ),
    ),
    params=(
        ModParam("db_url", ParamType.STR, None),
        ModParam("use_partitions", ParamType.INT, 0),
        ModParam("db_partitions_url", ParamType.STR, None),
        ModParam("db_partitions_table", ParamType.STR, "dr_partitions"),
        ModParam("drd_table", ParamType.STR, "dr_gateways"),
        ModParam("drr_table", ParamType.STR, "dr_rules"),
        ModParam("drg_table", ParamType.STR, "dr_groups"),
        ModParam("drc_table", ParamType.STR, "dr_carriers"),
        ModParam("use_domain", ParamType.INT, 1),
        ModParam("drg_user_col", ParamType.STR, "username"),
        ModParam("drg_domain_col", ParamType.STR, "domain"),
        ModParam("drg_grpid_col", ParamType.STR, "groupid"),
        ModParam("ruri_avp", ParamType.STR, "$avp(___dr_ruri__)"),
        ModParam("gw_id_avp", ParamType.STR, "$avp(___dr_gw_id__)"),
        ModParam("gw_priprefix_avp", ParamType.STR, None),
        ModParam("gw_sock_avp", ParamType.STR, "$avp(___dr_sock__)"),
        ModParam("rule_id_avp", ParamType.STR, None),
        ModParam("rule_prefix_avp", ParamType.STR, None),
        ModParam("carrier_id_avp", ParamType.STR, None),
        ModParam("force_dns", ParamType.INT, 1),
        ModParam("default_group", ParamType.INT, -1, doc="-1: the group comes from dr_groups."),
        ModParam("define_blacklist", ParamType.STR, None, repeatable=True),
        ModParam("probing_interval", ParamType.INT, 30, doc="Seconds; > 0 (the default) needs tm."),
        ModParam("probing_method", ParamType.STR, "OPTIONS"),
        ModParam("probing_from", ParamType.STR, "sip:prober@localhost"),
        ModParam("probing_socket", ParamType.STR, None),
        ModParam("probing_reply_codes", ParamType.STR, None),
        ModParam("persistent_state", ParamType.INT, 1),
        ModParam("rule_tables_query", ParamType.STR, None),
        ModParam("no_concurrent_reload", ParamType.INT, 0),
        ModParam("partition_id_pvar", ParamType.STR, None),
        ModParam("cluster_id", ParamType.INT, 0),
        ModParam("cluster_sharing_tag", ParamType.STR, None),
        ModParam("cluster_probing_mode", ParamType.STR, None, versions=VersionSpan(since="3.4")),
        ModParam("enable_restart_persistency", ParamType.INT, 0),
        ModParam("extra_prefix_chars", ParamType.STR, None),
        ModParam("extra_id_chars", ParamType.STR, "_-.", versions=VersionSpan(since="3.4")),
        ModParam("gw_socket_filter_mode", ParamType.STR, None, versions=VersionSpan(since="3.4")),
        ModParam("generate_data_checksum", ParamType.INT, 0, versions=VersionSpan(since="3.6")),
    ),
    mi=(
        MICommand("dr_reload", ("partition_name",), versions=VersionSpan(until="3.4")),
        MICommand(
            "dr_reload", ("partition_name", "inherit_state"), versions=VersionSpan(since="3.4"),
            alias_4_0="drouting:reload",
        ),
        MICommand("dr_gw_status", ("partition_name", "gw_id", "status"), alias_4_0="drouting:gw_status"),
        MICommand(
            "dr_carrier_status", ("partition_name", "carrier_id", "status"), alias_4_0="drouting:carrier_status",
        ),
        MICommand(
            "dr_number_routing", ("partition_name", "group_id", "number"), alias_4_0="drouting:number_routing",
        ),
        MICommand("dr_reload_status", ("partition_name",), alias_4_0="drouting:reload_status"),
        MICommand("dr_enable_probing", ("status",), alias_4_0="drouting:enable_probing"),
    ),
    deps=(
        Dependency(("db_*",), doc="DEP_ABORT, unconditional."),
        Dependency(("tm",), when_param="probing_interval", unless_values=(0,)),
        Dependency(("clusterer",), when_param="cluster_id", unless_values=(0,)),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation
# timerec.py (dr_rules.timerec), data.py (tables -> gateways, carriers, prefix tree) and module.py (script
# functions, MI, probing, state flushing): see docs/drouting.md.

from opensips_py.modules.drouting.module import Module  # noqa: E402,F401
