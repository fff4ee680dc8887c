"""usrloc: the location table (AoR → contacts) that registrar writes and lookup() reads."""
from __future__ import annotations

from opensips_py.modules.exports import (
    ALL, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType, VersionSpan,
)

# working_mode_preset values (ul_mod.c mod_init); the ones naming "sql-" need an SQL module, the ones
# naming "cachedb" a cachedb module (get_deps_wmode_preset).
WORKING_MODE_PRESETS = (
    "single-instance-no-db", "single-instance-sql-write-through", "single-instance-sql-write-back",
    "federation-cluster", "federation-cachedb-cluster", "full-sharing-cluster", "full-sharing-cachedb-cluster",
    "sql-only",
)
CLUSTER_MODES = ("none", "federation", "federation-cachedb", "full-sharing", "full-sharing-cachedb", "sql-only")


def _column(name: str, default: str) -> ModParam:
    return ModParam(f"{name}_column", ParamType.STR, default, doc="Column name in the location table.")


EXPORTS = ModuleExports(
    name="usrloc",
    doc="User location storage; registrar and nathelper use its API. Storage mode comes from "
        "working_mode_preset (or 3.x db_mode).",
    functions=(
        Function(
            "ul_add_key", (Arg("domain", static=True), Arg("aor"), Arg("key"), Arg("value", optional=True)),
            routes=ALL, versions=VersionSpan(since="3.6"),
            doc="AoR-level key/value (kv_store). An empty or absent value deletes the key. C: since 3.6 "
                "(the reference says 4.0).",
        ),
        Function(
            "ul_get_key", (Arg("domain", static=True), Arg("aor"), Arg("key"), Arg("dest", ArgKind.VAR)),
            routes=ALL, versions=VersionSpan(since="3.6"),
        ),
        Function(
            "ul_del_key", (Arg("domain", static=True), Arg("aor"), Arg("key")),
            routes=ALL, versions=VersionSpan(since="3.6"),
        ),
    ),
    params=(
        ModParam("db_url", ParamType.STR, None),
        ModParam("cachedb_url", ParamType.STR, None),
        ModParam("timer_interval", ParamType.INT, 60),
        ModParam(
            "db_mode", ParamType.INT, None, versions=VersionSpan(until="4.0"), renamed_to="working_mode_preset",
            doc="Deprecated alias of working_mode_preset: 0 single-instance-no-db, 1 "
                "single-instance-sql-write-through, 2 single-instance-sql-write-back, 3 sql-only; an error "
                "together with working_mode_preset. Removed in 4.0.",
        ),
        ModParam(
            "working_mode_preset", ParamType.STR, "single-instance-no-db",
            doc="One of: " + ", ".join(WORKING_MODE_PRESETS) + ". Overrides the three below.",
        ),
        ModParam("cluster_mode", ParamType.STR, "none", doc="One of: " + ", ".join(CLUSTER_MODES) + "."),
        ModParam(
            "restart_persistency", ParamType.STR, "none", doc="none, load-from-sql or sync-from-cluster.",
        ),
        ModParam("sql_write_mode", ParamType.STR, "none", doc="none, write-through or write-back."),
        ModParam(
            "shared_pinging", ParamType.INT, None, versions=VersionSpan(until="4.0"), renamed_to="pinging_mode",
            doc="Deprecated (3.x), removed in 4.0: pinging_mode.",
        ),
        ModParam(
            "pinging_mode", ParamType.STR, None,
            doc="ownership or cooperation; default depends on cluster_mode (cooperation, ownership for "
                "none/federation).",
        ),
        ModParam(
            "use_domain", ParamType.INT, 0, versions=VersionSpan(until="4.0"), doc="AoR = user (0) or user@domain.",
        ),
        ModParam(
            "use_domain", ParamType.INT, 1, versions=VersionSpan(since="4.0"), doc="Default became 1 in 4.0.",
        ),
        ModParam("desc_time_order", ParamType.INT, 0),
        ModParam("matching_mode", ParamType.INT, 0, doc="0 contact URI only; 1 contact and Call-ID."),
        ModParam("cseq_delay", ParamType.INT, 20),
        ModParam("hash_size", ParamType.INT, 9, doc="2^n buckets."),
        ModParam(
            "nat_bflag", ParamType.STR, None, flag_name=True,
            doc="Branch flag name marking NATed contacts (a number is not accepted).",
        ),
        ModParam("contact_refresh_timer", ParamType.INT, 0),
        ModParam("location_cluster", ParamType.INT, 0),
        ModParam("skip_replicated_db_ops", ParamType.INT, 0),
        ModParam("max_contact_delete", ParamType.INT, 10),
        ModParam("regen_broken_contactid", ParamType.INT, 0),
        ModParam("mi_dump_kv_store", ParamType.INT, 0),
        ModParam("latency_event_min_us", ParamType.INT, 0),
        ModParam("latency_event_min_us_delta", ParamType.INT, 0),
        ModParam(
            "ha_cluster", ParamType.INT, 0, versions=VersionSpan(since="3.6"),
            doc="C: since 3.6 (the reference says 4.0).",
        ),
        ModParam("ha_shtag", ParamType.STR, None, versions=VersionSpan(since="3.6")),
        _column("contact_id", "contact_id"),
        _column("user", "username"),
        _column("domain", "domain"),
        _column("contact", "contact"),
        _column("expires", "expires"),
        _column("q", "q"),
        _column("callid", "callid"),
        _column("cseq", "cseq"),
        _column("flags", "flags"),
        _column("cflags", "cflags"),
        _column("user_agent", "user_agent"),
        _column("received", "received"),
        _column("path", "path"),
        _column("socket", "socket"),
        _column("methods", "methods"),
        _column("sip_instance", "sip_instance"),
        _column("kv_store", "kv_store"),
        _column("attr", "attr"),
    ),
    mi=(
        MICommand("ul_rm", ("table_name", "aor"), alias_4_0="usrloc:rm"),
        MICommand("ul_rm_contact", ("table_name", "aor", "contact"), alias_4_0="usrloc:rm_contact"),
        MICommand("ul_dump", ("brief",), alias_4_0="usrloc:dump", doc="brief is optional."),
        MICommand("ul_flush", (), alias_4_0="usrloc:flush"),
        MICommand(
            "ul_add", ("table_name", "aor", "contact", "expires", "q", "flags", "cflags", "methods"),
            alias_4_0="usrloc:add",
            doc="3.2 also accepted an extra unused parameter after q.",
        ),
        MICommand("ul_show_contact", ("table_name", "aor"), alias_4_0="usrloc:show_contact"),
        MICommand("ul_sync", ("table_name", "aor"), alias_4_0="usrloc:sync", doc="aor is optional."),
        MICommand("ul_cluster_sync", (), alias_4_0="usrloc:cluster_sync"),
    ),
    stats=("registered_users",),
    deps=(
        Dependency(
            ("db_*",), when_param="db_mode", unless_values=(0,),
            doc="3.x: db_mode 1..3 needs an SQL module; db_mode 0 needs none.",
        ),
        Dependency(
            ("db_*",), when_param="working_mode_preset",
            unless_values=("single-instance-no-db", "federation-cluster", "federation-cachedb-cluster",
                           "full-sharing-cluster", "full-sharing-cachedb-cluster"),
            doc="Presets naming sql- need an SQL module.",
        ),
        Dependency(
            ("cachedb_*",), when_param="working_mode_preset",
            unless_values=("single-instance-no-db", "single-instance-sql-write-through",
                           "single-instance-sql-write-back", "federation-cluster", "full-sharing-cluster",
                           "sql-only"),
            doc="Presets naming cachedb need a cachedb module.",
        ),
        Dependency(
            ("db_*",), when_param="cluster_mode",
            unless_values=("none", "federation", "federation-cachedb", "full-sharing", "full-sharing-cachedb"),
        ),
        Dependency(
            ("cachedb_*",), when_param="cluster_mode",
            unless_values=("none", "federation", "full-sharing", "sql-only"),
        ),
        Dependency(("db_*",), when_param="restart_persistency", unless_values=("none", "sync-from-cluster")),
        Dependency(("cachedb_*",), when_param="cachedb_url"),
        Dependency(("clusterer",), when_param="location_cluster", unless_values=(0,)),
    ),
)
