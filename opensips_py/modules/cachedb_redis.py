"""cachedb_redis: Redis (standalone or Redis Cluster) behind the core cache_* functions (engine "redis")."""
from __future__ import annotations

from opensips_py.modules.exports import (
    Dependency, MICommand, ModParam, ModuleExports, ParamType, VersionSpan,
)

EXPORTS = ModuleExports(
    name="cachedb_redis",
    doc="Used through the core cache_* functions and cache_raw_query with engine \"redis[:group]\". A Redis "
        "Cluster is detected by itself (slot map, MOVED redirects). No script functions. The statistics "
        "exist in 4.0 only.",
    params=(
        ModParam("cachedb_url", ParamType.STR, repeatable=True,
                 doc='"redis[:group]://[user:]pass@host:port/db"; a comma list of hosts means failover; '
                     '"?socket=/path" for a unix socket.'),
        ModParam("connect_timeout", ParamType.INT, 5000, doc="Milliseconds to connect."),
        ModParam("query_timeout", ParamType.INT, 5000, doc="Milliseconds a query may take."),
        ModParam("shutdown_on_error", ParamType.INT, 0, doc="Stop OpenSIPS if Redis is unreachable at start."),
        ModParam("use_tls", ParamType.INT, 0, doc='Allow "tls_domain=" in URLs (needs tls_mgm and tls_openssl).'),
        ModParam("enable_raw_query_quoting", ParamType.INT, 0, versions=VersionSpan(until="3.3"),
                 doc="3.2: quote the arguments of cache_raw_query."),
        ModParam("ftsearch_index_name", ParamType.STR, "idx:usrloc", versions=VersionSpan(since="3.6"),
                 doc="RediSearch index used by usrloc's Redis JSON backend."),
        ModParam("ftsearch_json_prefix", ParamType.STR, "usrloc:", versions=VersionSpan(since="3.6"),
                 doc="Key prefix of usrloc JSON documents."),
        ModParam("ftsearch_max_results", ParamType.INT, 10000, versions=VersionSpan(since="3.6"),
                 doc="Largest result set of one search."),
        ModParam("ftsearch_json_mset_expire", ParamType.INT, 3600, versions=VersionSpan(since="3.6"),
                 doc="Seconds to live of JSON documents written by map operations."),
        ModParam("lazy_connect", ParamType.INT, 0, versions=VersionSpan(since="4.0"),
                 doc="Connect at first use instead of at start-up."),
        ModParam("redis_keepalive", ParamType.INT, 10, versions=VersionSpan(since="4.0"),
                 doc="TCP keepalive interval in seconds (0: off)."),
    ),
    mi=(
        MICommand("redis_cluster_info", ("group",), versions=VersionSpan(since="4.0"),
                  alias_4_0="cachedb_redis:redis_cluster_info", doc="Slot map and nodes; group is optional."),
        MICommand("redis_cluster_refresh", ("group",), versions=VersionSpan(since="4.0"),
                  alias_4_0="cachedb_redis:redis_cluster_refresh", doc="Re-read the slot map; group optional."),
        MICommand("redis_ping_nodes", ("group",), versions=VersionSpan(since="4.0"),
                  alias_4_0="cachedb_redis:redis_ping_nodes", doc="PING every node; group is optional."),
    ),
    stats=("redis_queries", "redis_queries_failed", "redis_moved", "redis_topology_refreshes"),
    deps=(
        Dependency(("tls_mgm",), when_param="use_tls", unless_values=(0,)),
        Dependency(("tls_openssl",), when_param="use_tls", unless_values=(0,)),
    ),
)
