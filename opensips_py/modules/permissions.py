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

# ------------------------------------------------------------------------------------------------ implementation
# Behaviour read in modules/permissions/{address,hash,partitions,mi}.c of OpenSIPS 3.4–4.0: the address table
# is loaded at start-up (and by address_reload) into groups; a row matches when its protocol is "any" or the
# asked one (or "any" is asked), its port is 0 or the asked one (or 0 is asked), the address falls in
# ip/mask, and either side has no pattern or fnmatch(row pattern, asked pattern) holds.

import fnmatch as _fnmatch  # noqa: E402
import ipaddress as _ipaddress  # noqa: E402
from dataclasses import dataclass as _dataclass  # noqa: E402
from typing import Any as _Any  # noqa: E402

from opensips_py.db import DatabaseError, open_database  # noqa: E402
from opensips_py.mi import MIError  # noqa: E402
from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402

_PROTOS = {"any", "udp", "tcp", "tls", "sctp", "ws", "wss", "bin", "hep_udp", "hep_tcp", "smpp", "msrp"}


@_dataclass(frozen=True)
class AddressRule:
    """One row of the address table."""

    group: int
    network: _ipaddress.IPv4Network | _ipaddress.IPv6Network
    port: int
    proto: str  # "any" or a protocol name
    pattern: str | None
    info: str | None

    @property
    def is_host(self) -> bool:
        return self.network.prefixlen == self.network.max_prefixlen

    def matches(self, ip: _ipaddress.IPv4Address | _ipaddress.IPv6Address, port: int, proto: str,
                pattern: str | None) -> bool:
        if not (self.proto == "any" or proto == "any" or self.proto == proto):
            return False
        if not (self.port == 0 or port == 0 or self.port == port):
            return False
        if ip.version != self.network.version or ip not in self.network:
            return False
        if not self.pattern or not pattern:
            return True
        return _fnmatch_period(self.pattern, pattern)


def _fnmatch_period(pattern: str, text: str) -> bool:
    """fnmatch(3) with FNM_PERIOD: a leading '.' of the text is matched only by a literal '.'."""
    if text.startswith(".") and not pattern.startswith("."):
        return False
    return _fnmatch.fnmatchcase(text, pattern)


class AddressTable:
    """The rules of one partition, by group in load order (OpenSIPS keeps a list of groups)."""

    def __init__(self, rules: list[AddressRule]):
        self.groups: dict[int, list[AddressRule]] = {}
        for rule in rules:
            self.groups.setdefault(rule.group, []).append(rule)

    def match(self, group: int, ip: str, port: int, proto: str, pattern: str | None = None) -> AddressRule | int:
        """The matching rule; -1 when none matches, -2 when `group` (non-zero) has no rules at all."""
        address = parse_ip(ip)
        if address is None:
            return -1
        if group != 0:
            if group not in self.groups:
                return -2
            candidates = [self.groups[group]]
        else:
            candidates = list(self.groups.values())
        for rules in candidates:
            # exact addresses first, then subnets, as the hash and the prefix tree are searched
            for rule in sorted(rules, key=lambda r: not r.is_host):
                if rule.matches(address, port, proto, pattern):
                    return rule
        return -1

    def group_of(self, ip: str, port: int) -> int:
        address = parse_ip(ip)
        if address is not None:
            for group, rules in self.groups.items():
                if any(rule.matches(address, port, "any", None) for rule in rules):
                    return group
        return -1


def parse_ip(text: str) -> _ipaddress.IPv4Address | _ipaddress.IPv6Address | None:
    try:
        return _ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def rule_from_row(row: dict[str, _Any]) -> AddressRule | None:
    """A table row as a rule; None for rows OpenSIPS skips (proto "none" or unknown, bad ip or mask)."""
    proto = str(row.get("proto") or "any").lower()
    if proto not in _PROTOS:
        return None
    address = parse_ip(str(row.get("ip") or ""))
    if address is None:
        return None
    mask = row.get("mask")
    mask = address.max_prefixlen if mask is None else int(mask)
    if not 0 <= mask <= address.max_prefixlen:
        return None
    network = _ipaddress.ip_network(f"{address}/{mask}", strict=False)
    return AddressRule(int(row.get("grp") or 0), network, int(row.get("port") or 0), proto,
                       row.get("pattern") or None, row.get("context_info"))


def parse_partition(text: str) -> tuple[str, dict[str, str]]:
    """'name: db_url=…; table_name=…' → (name, {db_url, table_name})."""
    name, sep, rest = text.partition(":")
    if not sep or not name.strip():
        raise ValueError(f"failed to parse partition: {text!r}")
    props: dict[str, str] = {}
    for item in rest.split(";"):
        if not item.strip():
            continue
        key, eq, value = item.partition("=")
        if not eq or key.strip() not in ("db_url", "table_name"):
            raise ValueError(f"failed to parse partition: {text!r}")
        props[key.strip()] = value.strip()
    if "db_url" not in props:
        raise ValueError(f"partition '{name.strip()}' has no 'db_url'")
    return name.strip(), props


class Module(ModuleBase):
    exports = EXPORTS

    def init(self) -> None:
        self.columns = {key: str(self.param(f"{key}_col")) for key in
                        ("grp", "ip", "mask", "port", "proto", "pattern", "info")}
        self.sources: dict[str, tuple[str, str]] = {}  # partition -> (db_url, table)
        url = self.db_url()
        if url:
            self.sources["default"] = (str(url), str(self.param("address_table")))
        for text in self.param_values("partition"):
            try:
                name, props = parse_partition(str(text))
            except ValueError as exc:
                raise ModuleInitError(f"permissions: {exc}") from exc
            self.sources[name] = (props["db_url"], props.get("table_name") or str(self.param("address_table")))
        self.tables: dict[str, AddressTable] = {}
        for name in self.sources:
            try:
                self.tables[name] = self._load(name)
            except (DatabaseError, ValueError) as exc:
                raise ModuleInitError(f"permissions: cannot load the address table of partition {name}: {exc}") \
                    from exc

    def _load(self, partition: str) -> AddressTable:
        url, table = self.sources[partition]
        db = open_database(self.core, url, "permissions")
        c = self.columns
        rows = db.query(table, [c["grp"], c["ip"], c["mask"], c["port"], c["proto"], c["pattern"], c["info"]])
        rules = []
        for row in rows:
            values = dict(zip(("grp", "ip", "mask", "port", "proto", "pattern", "context_info"),
                              row.values() if isinstance(row, dict) else row))
            rule = rule_from_row(values)
            if rule is None:
                self.core.logger.debug(f"address table row {values} ignored", module="permissions")
            else:
                rules.append(rule)
        return AddressTable(rules)

    def _table(self, ctx, partition: str | None) -> AddressTable | None:
        table = self.tables.get(partition or "default")
        if table is None:
            self.core.logger.log(-1, f"partition {partition or 'default'} is not defined", module="permissions")
        return table

    def _result(self, ctx, rule: AddressRule | int, info) -> int:
        if isinstance(rule, int):
            return rule
        if info is not None:
            info.set(ctx, rule.info or "")
        return 1

    # ---------------------------------------------------------------------------------- script functions
    def check_address(self, ctx, group_id: int, ip: str, port: int, proto: str, context_info=None,
                      pattern: str | None = None, partition: str | None = None) -> int:
        """1 match, -1 none, -2 the group has no rules."""
        table = self._table(ctx, partition)
        if table is None:
            return -1
        if parse_ip(ip) is None:
            self.core.logger.log(-1, f"invalid ip address <{ip}>!", module="permissions")
            return -1
        proto = (proto or "any").lower()
        return self._result(ctx, table.match(group_id, ip, int(port or 0), proto, pattern), context_info)

    def check_source_address(self, ctx, group_id: int, context_info=None, pattern: str | None = None,
                             partition: str | None = None) -> int:
        table = self._table(ctx, partition)
        if table is None or ctx.received is None:
            return -1
        rcv = ctx.received
        return self._result(ctx, table.match(group_id, rcv.src_host, rcv.src_port, rcv.proto, pattern),
                            context_info)

    def get_source_group(self, ctx, var, partition: str | None = None) -> int:
        table = self._table(ctx, partition)
        if table is None or ctx.received is None:
            return -1
        group = table.group_of(ctx.received.src_host, ctx.received.src_port)
        if group < 0:
            return -1
        var.set(ctx, group)
        return 1

    # ---------------------------------------------------------------------------------- MI
    def mi_commands(self) -> dict:
        return {"address_reload": self._mi_reload, "address_dump": lambda p: self._mi_dump(p, subnets=False),
                "subnet_dump": lambda p: self._mi_dump(p, subnets=True)}

    @staticmethod
    def _partition_param(params) -> str | None:
        if isinstance(params, dict):
            return params.get("partition")
        return params[0] if params else None

    def _mi_reload(self, params) -> str:
        name = self._partition_param(params)
        names = [name] if name else list(self.sources)
        for partition in names:
            if partition not in self.sources:
                raise MIError(400, "Trusted table reload failed")
            try:
                self.tables[partition] = self._load(partition)
            except (DatabaseError, ValueError) as exc:
                raise MIError(500, "Failed to reolad") from exc  # sic, OpenSIPS's text
        return "OK"

    def _mi_dump(self, params, subnets: bool) -> dict:
        name = self._partition_param(params)
        if name and name not in self.tables:
            raise MIError(404, "No such partition")

        def destinations(table: AddressTable) -> list[dict]:
            out = []
            for group, rules in table.groups.items():
                for rule in rules:
                    if rule.is_host == subnets:
                        continue
                    out.append({"grp": group, "ip": str(rule.network.network_address),
                                "mask": str(rule.network.prefixlen if subnets else rule.network.max_prefixlen),
                                "port": rule.port, "proto": rule.proto, "pattern": rule.pattern,
                                "context_info": rule.info})
            return out

        if name:
            return {"part": name, "Destinations": destinations(self.tables[name])}
        return {"Partitions": [{"name": n, "Destinations": destinations(t)} for n, t in self.tables.items()]}
