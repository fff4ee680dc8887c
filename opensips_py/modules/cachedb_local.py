"""cachedb_local: an in-memory key-value store behind the core cache_* functions (engine "local")."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, S, Arg, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType, VersionSpan,
)

EXPORTS = ModuleExports(
    name="cachedb_local",
    doc="Shared-memory hash tables (collections) used through the core functions cache_store/cache_fetch/"
        'cache_remove/cache_add/cache_sub/cache_counter_fetch with engine "local" or "local:<group>". '
        "Collections marked /r are replicated to the cluster_id cluster.",
    functions=(
        Function(
            "cache_remove_chunk", (Arg("collection", optional=True), Arg("glob")),
            routes=R | F | O | B | L | S,
            doc='Remove every key of a collection matching a shell glob. The collection comes first: for the '
                '"default" collection write cache_remove_chunk(, "glob") (a single argument is too few).',
        ),
    ),
    params=(
        ModParam("cachedb_url", ParamType.STR, repeatable=True,
                 doc='"local://" (default collection) or "local:<group>:///<collection>"; one per setting.'),
        ModParam("cache_collections", ParamType.STR,
                 doc='"name[/r][ = n]; …": collections with 2^n buckets (default 512), /r = replicated; '
                     '"default" always exists.'),
        ModParam("cache_clean_period", ParamType.INT, 600, doc="Seconds between sweeps of expired keys."),
        ModParam("exec_threshold", ParamType.INT, 0, doc="Log operations slower than this many microseconds."),
        ModParam("cluster_id", ParamType.INT, 0, doc="Replicate /r collections in this cluster (0: off)."),
        ModParam("cluster_persistency", ParamType.STR, "sync-from-cluster",
                 doc='"sync-from-cluster" (pull the data from a node at start-up) or "none".'),
        ModParam("enable_restart_persistency", ParamType.INT, 0, versions=VersionSpan(since="3.3"),
                 doc="Keep the collections across restarts (saved to a file at shutdown)."),
    ),
    mi=(
        MICommand("cache_remove_chunk", ("glob", "collection"), alias_4_0="cachedb_local:remove_chunk",
                  doc="collection is optional (default collection)."),
        MICommand("cache_fetch_chunk", ("glob", "collection"), versions=VersionSpan(since="3.5"),
                  alias_4_0="cachedb_local:fetch_chunk",
                  doc="Keys and values matching the glob; collection is optional."),
    ),
    deps=(
        Dependency(("clusterer",), when_param="cluster_id", unless_values=(0,)),
    ),
)
