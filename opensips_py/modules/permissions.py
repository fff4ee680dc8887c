"""permissions: IP address ACLs (address table) and regex ACL files for routing and registration."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, R, S, T, V, Arg, ArgKind, Function, MICommand, ModParam, ModuleExports, ParamType,
)


def _column(param: str, default: str) -> ModParam:
    return ModParam(param, ParamType.STR, default, doc="Column name in the address table.")


EXPORTS = ModuleExports(
    name="permissions",
    doc="Two mechanisms: the `address` table (grp, ip, mask, port, proto, pattern, context_info), cached per "
        "partition, for IP checks; and allow/deny files of regular expressions (hosts.allow style) for "
        "allow_routing/allow_register/allow_uri.",
    functions=(
        Function(
            "check_address",
            (Arg("group_id", ArgKind.INT), Arg("ip"), Arg("port", ArgKind.INT), Arg("proto"),
             Arg("context_info", ArgKind.VAR, optional=True), Arg("pattern", optional=True),
             Arg("partition", optional=True)),
            routes=R | F | B | L | S | T | V,
            doc='1 if the address matches a row: group 0 = any group, port 0 = any port, proto "any" = any.',
        ),
        Function(
            "check_source_address",
            (Arg("group_id", ArgKind.INT), Arg("context_info", ArgKind.VAR, optional=True),
             Arg("pattern", optional=True), Arg("partition", optional=True)),
            routes=R | F | B | L, doc="check_address with the request's source IP, port and protocol.",
        ),
        Function("get_source_group", (Arg("var", ArgKind.VAR), Arg("partition", optional=True)),
                 routes=R | F | B | L, doc="The group of the source address into var; -1 if none."),
        Function("allow_routing", (Arg("basename", optional=True),), routes=R | F | L,
                 doc="Check From/R-URI against default files, or <basename>.allow/.deny."),
        Function("allow_register", (Arg("basename"),), routes=R | F | L,
                 doc="Check To/Contacts of a REGISTER against <basename>.allow/.deny."),
        Function("allow_uri", (Arg("basename"), Arg("uri")), routes=R | F | B | L | S | T | V,
                 doc="Check From against uri using <basename>.allow/.deny."),
    ),
    params=(
        ModParam("default_allow_file", ParamType.STR, "permissions.allow", doc="Relative to the config dir."),
        ModParam("default_deny_file", ParamType.STR, "permissions.deny", doc="Relative to the config dir."),
        ModParam("check_all_branches", ParamType.INT, 1, doc="allow_routing checks every branch, not the R-URI."),
        ModParam("allow_suffix", ParamType.STR, ".allow"),
        ModParam("deny_suffix", ParamType.STR, ".deny"),
        ModParam("partition", ParamType.STR, repeatable=True,
                 doc='"name: db_url=…; table_name=…" declares an address data source.'),
        ModParam("db_url", ParamType.STR, doc="URL of the default partition (else db_default_url)."),
        ModParam("address_table", ParamType.STR, "address"),
        _column("grp_col", "grp"),
        _column("ip_col", "ip"),
        _column("mask_col", "mask"),
        _column("port_col", "port"),
        _column("proto_col", "proto"),
        _column("pattern_col", "pattern"),
        _column("info_col", "context_info"),
    ),
    mi=(
        MICommand("address_reload", ("partition",), alias_4_0="permissions:address_reload",
                  doc="Reload the address table (one partition, optional)."),
        MICommand("address_dump", ("partition",), alias_4_0="permissions:address_dump"),
        MICommand("subnet_dump", ("partition",), alias_4_0="permissions:subnet_dump"),
        MICommand("allow_uri", ("basename", "uri", "contact"), alias_4_0="permissions:allow_uri"),
    ),
)
