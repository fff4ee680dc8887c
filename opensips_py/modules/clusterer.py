"""clusterer: cluster topology, node health and BIN replication channels that other modules build on."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, V, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType,
    PseudoVar, VersionSpan,
)

_ROUTES = R | F | O | B | L | V


def _column(name: str) -> ModParam:
    return ModParam(f"{name}_col", ParamType.STR, name, doc="Column name in the clusterer table.")


EXPORTS = ModuleExports(
    name="clusterer",
    doc="Nodes talk over BIN sockets (`socket=bin:IP:PORT` with proto_bin, or proto_bins for TLS; neither "
        "is a declared dependency). Consumers (usrloc, dialog, cachedb_local, dispatcher, ratelimit, …) "
        "register capabilities; sharing tags pick the active node of a pair. Statistics exist since 3.4.",
    functions=(
        Function(
            "cluster_send_req",
            (Arg("cluster_id", ArgKind.INT), Arg("dst_id", ArgKind.INT), Arg("msg"),
             Arg("tag", ArgKind.VAR, optional=True)),
            routes=_ROUTES,
            doc="Send a generic message to one node; the tag (out) matches its reply. Raises "
                "E_CLUSTERER_REQ_RECEIVED there.",
        ),
        Function(
            "cluster_send_rpl",
            (Arg("cluster_id", ArgKind.INT), Arg("dst_id", ArgKind.INT), Arg("msg"), Arg("tag", ArgKind.VAR)),
            routes=_ROUTES, doc="Reply to a received request, with its tag (E_CLUSTERER_RPL_RECEIVED).",
        ),
        Function(
            "cluster_broadcast_req",
            (Arg("cluster_id", ArgKind.INT), Arg("msg"), Arg("tag", ArgKind.VAR, optional=True)),
            routes=_ROUTES, versions=VersionSpan(until="3.6"), doc="Send a generic message to every node.",
        ),
        Function(
            "cluster_broadcast_req",
            (Arg("cluster_id", ArgKind.INT), Arg("msg"), Arg("tag", ArgKind.VAR, optional=True),
             Arg("include_self", ArgKind.INT, optional=True)),
            routes=_ROUTES, versions=VersionSpan(since="3.6"),
            doc="Send a generic message to every node (and to ourselves when include_self is set).",
        ),
        Function(
            "cluster_check_addr",
            (Arg("cluster_id", ArgKind.INT), Arg("ip"), Arg("addr_type", optional=True, choices=("sip", "bin"))),
            routes=_ROUTES,
            doc='1 if ip is a node of the cluster: its DB sip_addr ("sip", default) or BIN address ("bin").',
        ),
    ),
    params=(
        ModParam("my_node_id", ParamType.INT, -1, doc="This node's id in every cluster (required, > 0)."),
        ModParam("db_mode", ParamType.INT, 1,
                 doc="1: topology from the clusterer table; 0: from my_node_info/neighbor_node_info."),
        ModParam("db_url", ParamType.STR),
        ModParam("db_table", ParamType.STR, "clusterer"),
        ModParam("db_bridges_table", ParamType.STR, "clusterer_bridge", versions=VersionSpan(since="4.0"),
                 doc="Table of bridges between clusters."),
        ModParam("my_node_info", ParamType.STR, repeatable=True,
                 doc='db_mode 0: "cluster_id=1, url=bin:IP:PORT[, flags=seed, …]" (one per cluster).'),
        ModParam("neighbor_node_info", ParamType.STR, repeatable=True,
                 doc='db_mode 0: a known neighbour, same "prop=value, …" form.'),
        ModParam("sharing_tag", ParamType.STR, repeatable=True, doc='"tag/cluster_id=active|backup".'),
        ModParam("ping_interval", ParamType.INT, 4, doc="Seconds between pings of a neighbour."),
        ModParam("ping_timeout", ParamType.INT, 1000, doc="Milliseconds to wait for a ping reply."),
        ModParam("node_timeout", ParamType.INT, 60, doc="Seconds before a silent node is declared down."),
        ModParam("seed_fallback_interval", ParamType.INT, 5,
                 doc="Seconds a seed node waits for a donor before it declares itself synced."),
        ModParam("sync_timeout", ParamType.INT, 15, doc="Seconds a data sync may take."),
        ModParam("sync_packet_size", ParamType.INT, 32768, doc="Bytes per sync packet."),
        ModParam("dispatch_jobs", ParamType.INT, 1, doc="Hand received packets to workers instead of the reader."),
        ModParam("enable_stats", ParamType.INT, 1, versions=VersionSpan(since="3.4"),
                 doc="Keep the clusterer_nodes* statistics."),
        ModParam("enable_rerouting", ParamType.INT, 1, versions=VersionSpan(since="3.5"),
                 doc="Relay messages through other nodes when there is no direct link."),
        _column("id"),
        _column("cluster_id"),
        _column("node_id"),
        _column("url"),
        _column("state"),
        _column("no_ping_retries"),
        _column("priority"),
        _column("sip_addr"),
        _column("flags"),
        _column("description"),
    ),
    pvars=(
        PseudoVar("cluster.sh_tag", writable=True, takes_arg=True,
                  doc='$cluster.sh_tag(tag/cluster_id): "active" or "backup"; writing "active" takes over.'),
    ),
    mi=(
        MICommand("clusterer_reload", (), alias_4_0="clusterer:reload", doc="Reload the topology (db_mode 1)."),
        MICommand("clusterer_set_status", ("cluster_id", "status", "node_id"), alias_4_0="clusterer:set_status",
                  doc="Enable/disable a node (node_id optional: ourselves)."),
        MICommand("clusterer_list", (), alias_4_0="clusterer:list"),
        MICommand("clusterer_list_topology", (), alias_4_0="clusterer:list_topology"),
        MICommand("cluster_send_mi", ("cluster_id", "destination", "cmd_name", "cmd_params"),
                  alias_4_0="clusterer:send_mi", doc="Run an MI command on another node; cmd_params optional."),
        MICommand("cluster_broadcast_mi", ("cluster_id", "cmd_name", "cmd_params"),
                  alias_4_0="clusterer:broadcast_mi", doc="Run an MI command on every node; cmd_params optional."),
        MICommand("clusterer_list_cap", (), alias_4_0="clusterer:list_cap"),
        MICommand("clusterer_set_cap_status", ("cluster_id", "capability", "status"),
                  alias_4_0="clusterer:set_cap_status"),
        MICommand("clusterer_list_shtags", (), alias_4_0="clusterer:list_shtags"),
        MICommand("clusterer_shtag_set_active", ("tag",), alias_4_0="clusterer:shtag_set_active"),
        MICommand("clusterer_remove_node", ("cluster_id", "node_id"), alias_4_0="clusterer:remove_node"),
    ),
    stats=("clusterer_nodes", "clusterer_nodes_up", "clusterer_nodes_down"),
    deps=(
        Dependency(("db_*",), when_param="db_mode", unless_values=(0,),
                   doc="db_mode 1 (the default) needs an SQL module."),
    ),
)
