"""carrierroute: least-cost-style routing over carrier trees with prefix matching and weighted hashing."""
from __future__ import annotations

from opensips_py.modules.exports import (
    F, R, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType, VersionSpan,
)

_HASH_SOURCES = ("call_id", "from_uri", "from_user", "to_uri", "to_user")


def _column(name: str, default: str) -> ModParam:
    return ModParam(name, ParamType.STR, default, doc="Column name.")


def _route(name: str, doc: str) -> Function:
    return Function(
        name,
        (Arg("carrier"), Arg("domain"), Arg("prefix_matching"), Arg("rewrite_user"),
         Arg("hash_source", choices=_HASH_SOURCES), Arg("dst_avp", ArgKind.VAR, optional=True)),
        routes=R | F, doc=doc,
    )


EXPORTS = ModuleExports(
    name="carrierroute",
    doc="Routing trees per carrier and domain, from a config file (config_source file) or the database; "
        "the longest matching prefix picks a set of hosts, a hash of hash_source picks one by probability.",
    functions=(
        Function("cr_user_carrier", (Arg("user"), Arg("domain"), Arg("dst_avp", ArgKind.VAR)), routes=R | F,
                 doc="The preferred carrier of a subscriber into dst_avp."),
        _route("cr_route", "Rewrite the R-URI host from the matching rule (hash over hash_source)."),
        _route("cr_prime_route", "As cr_route, with prime-number hashing."),
        Function(
            "cr_next_domain",
            (Arg("carrier"), Arg("domain"), Arg("prefix_matching"), Arg("host"), Arg("reply_code"),
             Arg("dst_avp", ArgKind.VAR)),
            routes=R | F, doc="Failure routing: the next domain for a failed host and reply code.",
        ),
    ),
    params=(
        ModParam("config_source", ParamType.STR, "file", doc='"file" or "db".'),
        ModParam("config_file", ParamType.STR, "carrierroute.conf", doc="Relative to the config directory."),
        ModParam("default_tree", ParamType.STR, "default"),
        ModParam("use_domain", ParamType.INT, 0, versions=VersionSpan(until="4.0")),
        ModParam("use_domain", ParamType.INT, 1, versions=VersionSpan(since="4.0")),
        ModParam("fallback_default", ParamType.INT, 1, doc="Fall back to the default tree when none matches."),
        ModParam("db_url", ParamType.STR),
        ModParam("db_table", ParamType.STR, "carrierroute"),
        ModParam("db_failure_table", ParamType.STR, "carrierfailureroute"),
        ModParam("carrier_table", ParamType.STR, "route_tree"),
        ModParam("subscriber_table", ParamType.STR, "subscriber"),
        _column("id_column", "id"),
        _column("carrier_column", "carrier"),
        _column("domain_column", "domain"),
        _column("scan_prefix_column", "scan_prefix"),
        _column("flags_column", "flags"),
        _column("mask_column", "mask"),
        _column("prob_column", "prob"),
        _column("rewrite_host_column", "rewrite_host"),
        _column("strip_column", "strip"),
        _column("rewrite_prefix_column", "rewrite_prefix"),
        _column("rewrite_suffix_column", "rewrite_suffix"),
        _column("comment_column", "description"),
        _column("failure_id_column", "id"),
        _column("failure_carrier_column", "carrier"),
        _column("failure_domain_column", "domain"),
        _column("failure_scan_prefix_column", "scan_prefix"),
        _column("failure_host_name_column", "host_name"),
        _column("failure_reply_code_column", "reply_code"),
        _column("failure_flags_column", "flags"),
        _column("failure_mask_column", "mask"),
        _column("failure_next_domain_column", "next_domain"),
        _column("failure_comment_column", "description"),
        _column("subscriber_user_col", "username"),
        _column("subscriber_domain_col", "domain"),
        _column("subscriber_carrier_col", "cr_preferred_carrier"),
        _column("carrier_id_col", "id"),
        _column("carrier_name_col", "carrier"),
    ),
    mi=(
        MICommand("cr_reload_routes", (), alias_4_0="carrierroute:reload_routes"),
        MICommand("cr_dump_routes", (), alias_4_0="carrierroute:dump_routes"),
        MICommand("cr_replace_host", ("options",), alias_4_0="carrierroute:replace_host"),
        MICommand("cr_deactivate_host", ("options",), alias_4_0="carrierroute:deactivate_host"),
        MICommand("cr_activate_host", ("options",), alias_4_0="carrierroute:activate_host"),
        MICommand("cr_add_host", ("options",), alias_4_0="carrierroute:add_host"),
        MICommand("cr_delete_host", ("options",), alias_4_0="carrierroute:delete_host"),
    ),
    deps=(
        Dependency(("db_*",), doc="Declared DEP_ABORT (even with config_source file)."),
    ),
)
