"""drouting's script functions, MI commands, probing and state flushing (modules/drouting/drouting.c, 3.4–3.6).

Per message, drouting keeps its state in AVPs, as OpenSIPS does: do_routing() puts the first gateway in the
R-URI and queues the others in $avp(___dr_ruri__) / $avp(___dr_sock__) (added at the bottom), with every
gateway's id in $avp(___dr_gw_id__) (the current one on top); use_next_gw() pops them. The rule fallback
("F") keeps its resume point in internal AVPs named _dr_fb_*_<partition>.
"""
from __future__ import annotations

import random
import re
import secrets
import time as _time
from dataclasses import dataclass, field
from typing import Any

from opensips_py.db import DatabaseError, TableVersionMismatch, open_database
from opensips_py.mi import MIError
from opensips_py.modules.base import ModuleBase, ModuleInitError
from opensips_py.modules.drouting import EXPORTS
from opensips_py.modules.drouting.data import (
    CR_DIRTY, CR_FIRST, CR_IS_OFF, PING_DSBL, PING_PERM, STAT_DIRTY, STAT_DSBL, STAT_MASK, STAT_NOEN, Carrier,
    Destination, Gateway, LoadContext, LoadError, RoutingData, Rule, check_rules, load_routing_data,
    parse_destinations,
)
from opensips_py.sip import SIPParseError, URI

F_FALLBACK, F_STRICT, F_CHECK, F_INTERNAL = 1 << 1, 1 << 2, 1 << 3, 1 << 30
TABLE_VERSIONS = {"drd": 6, "drr": 4, "drg": 2, "drc": 3}
PARTITIONS_TABLE_VERSION = 1
WILDCARD = object()  # the "*" partition
_MAX_SEARCHES = 100_000  # a bound for the rule and gateway walks (each round makes progress)


def routing_flags(text: str | None) -> int:
    """fix_flags(): F, L, C; other letters are skipped."""
    flags = 0
    for c in text or "":
        flags |= {"F": F_FALLBACK, "L": F_STRICT, "C": F_CHECK}.get(c, 0)
    return flags


def avp_name(spec: str | None) -> str | None:
    if not spec:
        return None
    spec = str(spec).strip()
    if spec.startswith("$avp(") and spec.endswith(")"):
        return spec[5:-1]
    return spec.lstrip("$")


@dataclass
class Partition:
    """struct head_db: one routing partition, its tables, AVPs and data."""

    name: str
    db_url: str
    tables: dict[str, str]
    avps: dict[str, str | None]
    db: Any = None
    data: RoutingData | None = None
    last_update: float = 0.0
    report: str = ""  # the status report of the last load ("N gateways loaded (M discarded), …")
    internal: dict[str, str] = field(default_factory=dict)


class _WritablePV:
    """partition_id_pvar: a $avp(name) or $var(name) written by the wildcard partition searches."""

    def __init__(self, text: str) -> None:
        match = re.fullmatch(r"\$(avp|var)\(([^()]+)\)", text.strip())
        if match is None:
            raise ValueError(f"partition_id_pvar {text!r}: only $avp(name) and $var(name) are supported")
        self.kind, self.name = match.groups()

    def set(self, ctx, value: str) -> None:
        if self.kind == "var":
            ctx.process.vars[self.name] = value
        else:
            ctx.avps.setdefault(self.name, []).insert(0, value)


class Module(ModuleBase):
    exports = EXPORTS

    def init(self) -> None:
        for unsupported in ("cluster_id", "enable_restart_persistency", "define_blacklist", "rule_tables_query"):
            values = self.params.get(unsupported)
            if values and any(v not in (None, 0, "") for v in values):
                raise ModuleInitError(f"drouting: parameter {unsupported} is not supported by opensips-py")
        self.use_partitions = bool(self.int_param("use_partitions"))
        self.use_domain = bool(self.int_param("use_domain"))
        self.default_group = self.int_param("default_group")
        self.persistent_state = bool(self.int_param("persistent_state"))
        self.probing_interval = self.int_param("probing_interval")
        self.probing_method = str(self.param("probing_method"))
        self.probing_from = str(self.param("probing_from"))
        self.probing_enabled = 1
        codes = self.param("probing_reply_codes")
        self.probing_codes = {int(c) for c in str(codes).replace(" ", "").split(",") if c.isdigit()} if codes else set()
        extra = str(self.param("extra_prefix_chars") or "")
        self.prefix_chars = "0123456789" + "".join(c for c in extra if ord(c) < 128)
        self.id_chars = str(self.param("extra_id_chars") or "")
        mode = str(self.param("gw_socket_filter_mode") or "all").lower()
        self.socket_filter = {"none": "all", "all": "all", "ignore": "ignore", "matched-only": "matched-only"}.get(mode)
        if self.socket_filter is None:
            raise ModuleInitError(f"drouting: failed to set the GW socket filtering, unknown \"{mode}\" mode")
        self.columns = {"user": str(self.param("drg_user_col")), "domain": str(self.param("drg_domain_col")),
                        "group": str(self.param("drg_grpid_col"))}
        self.random = random.Random()
        self.partition_pvar: _WritablePV | None = None
        self.partitions: dict[str, Partition] = {}
        try:
            self._configure_partitions()
        except (DatabaseError, ValueError) as exc:
            raise ModuleInitError(f"drouting: {exc}") from exc
        for part in self.partitions.values():
            try:
                part.db = open_database(self.core, part.db_url, "drouting")
                for key, version in TABLE_VERSIONS.items():
                    part.db.check_version(part.tables[key], version)
            except TableVersionMismatch as exc:
                raise ModuleInitError(f"drouting: error during table version check (partition '{part.name}'): "
                                      f"{exc}") from exc
            except DatabaseError as exc:
                raise ModuleInitError(f"drouting: partition '{part.name}': {exc}") from exc
            self._reload(part, inherit=False)  # a failed first load leaves the partition without data
        self.tm = (getattr(self.core, "modules", {}) or {}).get("tm")
        if self.probing_interval > 0:
            if self.tm is None:
                raise ModuleInitError("drouting: probing_interval > 0 needs the tm module")
            self.core.add_timer(self._now() + self.probing_interval, self._probe_round)
        if self.persistent_state:
            self.core.add_timer(self._now() + 30, self._flush_timer)

    # ---------------------------------------------------------------------------------- setup
    def _now(self) -> float:
        return float(getattr(self.core, "now", 0.0) or 0.0)

    def _wall(self) -> float:
        """The clock rules are matched against (wall time; the runtime's clock when it is a wall clock)."""
        now = self._now()
        return now if now > 1e9 else _time.time()

    def _log(self, level: int, text: str) -> None:
        self.core.logger.log(level, text, module="drouting")

    def _avp_defaults(self, partition: str) -> dict[str, str | None]:
        suffix = partition if self.use_partitions else ""

        def default(name: str) -> str:
            return f"{name}{suffix}"

        return {"ruri": default("___dr_ruri__"), "gw_id": default("___dr_gw_id__"), "sock": default("___dr_sock__"),
                "gw_attrs": default("___dr_gw_att__"), "rule_attrs": default("___dr_ru_att__"),
                "carrier_attrs": default("___dr_cr_att__"), "gw_priprefix": None, "rule_id": None,
                "rule_prefix": None, "carrier_id": None}

    def _configure_partitions(self) -> None:
        tables = {key: str(self.param(f"{key}_table")) for key in ("drd", "drr", "drg", "drc")}
        if not self.use_partitions:
            url = self.db_url()
            if not url:
                raise ValueError("no db_url")
            avps = self._avp_defaults("Default")
            for key, param in (("ruri", "ruri_avp"), ("gw_id", "gw_id_avp"), ("sock", "gw_sock_avp"),
                               ("gw_priprefix", "gw_priprefix_avp"), ("rule_id", "rule_id_avp"),
                               ("rule_prefix", "rule_prefix_avp"), ("carrier_id", "carrier_id_avp")):
                if self.param(param):
                    avps[key] = avp_name(str(self.param(param)))
            self._add_partition(Partition("Default", str(url), tables, avps))
            return
        url = self.db_url("db_partitions_url")
        if not url:
            raise ValueError("use_partitions needs db_partitions_url")
        pvar = self.param("partition_id_pvar")
        if pvar:
            self.partition_pvar = _WritablePV(str(pvar))
        db = open_database(self.core, str(url), "drouting")
        table = str(self.param("db_partitions_table"))
        db.check_version(table, PARTITIONS_TABLE_VERSION)
        for row in db.query(table):
            name = str(row.get("partition_name") or "")
            avps = self._avp_defaults(name)
            for key, column in (("ruri", "ruri_avp"), ("gw_id", "gw_id_avp"), ("sock", "gw_sock_avp"),
                                ("gw_priprefix", "gw_priprefix_avp"), ("rule_id", "rule_id_avp"),
                                ("rule_prefix", "rule_prefix_avp"), ("carrier_id", "carrier_id_avp")):
                if row.get(column):
                    avps[key] = avp_name(str(row[column]))
            part_tables = {key: str(row.get(f"{key}_table") or tables[key]) for key in tables}
            self._add_partition(Partition(name, str(row.get("db_url") or url), part_tables, avps))

    def _add_partition(self, part: Partition) -> None:
        for key in ("dst_ids", "fb_ruri", "fb_prefix", "fb_index", "fb_whitelist", "fb_group", "fb_flags"):
            part.internal[key] = f"_dr_{key}_{part.name}"
        self.partitions[part.name] = part

    def _load_context(self, part: Partition) -> LoadContext:
        from opensips_py.modules.dispatcher import _SocketLookup
        from opensips_py.script.pv_core import find_socket
        lookup = _SocketLookup(self.core)
        return LoadContext(part.tables, self.persistent_state, bool(self.int_param("force_dns")), self.prefix_chars,
                           self.id_chars, self.core.resolver.resolve, lambda text: find_socket(lookup, text),
                           self.socket_filter, self._log)

    def _reload(self, part: Partition, inherit: bool) -> bool:
        """dr_reload_data_head(): load new data; keep the old data (and fail) when it does not load."""
        self._log(3, "loading drouting data!")
        try:
            data, report = load_routing_data(part.db, self._load_context(part), self._now())
        except (DatabaseError, LoadError) as exc:
            self._log(-1, f"failed to load routing info (partition '{part.name}'): {exc}")
            return False
        old = part.data
        if old is not None and inherit:
            for gw in data.gateways.values():
                previous = old.gateways.get(gw.id)
                if previous is not None:
                    gw.flags = (gw.flags & ~STAT_MASK) | (previous.flags & STAT_MASK)
            for cr in data.carriers.values():
                previous_cr = old.carriers.get(cr.id)
                if previous_cr is not None:
                    cr.flags = (cr.flags & ~CR_IS_OFF) | (previous_cr.flags & CR_IS_OFF)
        part.data = data
        part.last_update = _time.time()
        for kind, level, what in (("gw", 3, "gateways"), ("cr", 3, "carriers"), ("rl", 2, "rules")):
            loaded, discarded = data.counts[kind]
            self._log(level, f"loaded {loaded} (discarded {discarded}) {what} in partition '{part.name}'")
        part.report = report
        return True

    # ---------------------------------------------------------------------------------- partitions
    def _partition(self, name: str | None) -> Partition | object | None:
        """fix_partition(): the named one, WILDCARD for "*", the default when none is given."""
        if name is None or name == "":
            if self.use_partitions:
                self._log(-1, "Partition name is mandatory")
                return None
            return next(iter(self.partitions.values()))
        if name == "*":
            return WILDCARD
        part = self.partitions.get(name)
        if part is None:
            self._log(-1, f"partition <{name}> used, but not defined")
        return part

    def _set_partition_pvar(self, ctx, part: Partition) -> None:
        if self.partition_pvar is not None:
            self.partition_pvar.set(ctx, part.name)

    # ---------------------------------------------------------------------------------- AVP helpers
    @staticmethod
    def _stack(ctx, name: str) -> list:
        return ctx.avps.setdefault(name, [])

    @staticmethod
    def _skip_non_str(stack: list) -> None:
        while stack and not isinstance(stack[0], str):
            stack.pop(0)

    def _clear(self, ctx, part: Partition, keys: tuple[str, ...]) -> None:
        for key in keys:
            name = part.avps.get(key)
            if name:
                ctx.avps.pop(name, None)

    # ---------------------------------------------------------------------------------- R-URI helpers
    @staticmethod
    def build_ruri(uri: URI, strip: int, pri: str | None, hostport: str) -> str:
        """build_ruri(): sip:<pri><user minus strip>[:pass]@<gw address><R-URI params><R-URI headers>."""
        user = uri.user or ""
        strip = min(max(strip, 0), len(user))
        user_part = (pri or "") + user[strip:]
        text = "sip:" + user_part
        if uri.password:
            text += ":" + uri.password
        if uri.password or user_part:
            text += "@"
        return text + hostport + uri.params_text + uri.headers_text

    def _push_gw(self, ctx, part: Partition, uri: URI, gw: Gateway, carrier: Carrier | None, idx: int) -> bool:
        """push_gw_for_usage()."""
        ruri = self.build_ruri(uri, gw.strip, gw.pri, gw.address)
        avps = part.avps
        if idx == 0:
            ctx.new_uri = ruri
            if gw.socket is not None:
                ctx.force_socket = gw.socket
        else:
            self._stack(ctx, avps["ruri"]).append(ruri)
            self._stack(ctx, avps["sock"]).append(gw.socket_text if gw.socket is not None else "")
        self._stack(ctx, avps["gw_id"]).append(gw.id)
        self._stack(ctx, avps["gw_attrs"]).append(gw.attrs or "")
        if avps.get("gw_priprefix"):
            self._stack(ctx, avps["gw_priprefix"]).append(gw.pri or "")
        if avps.get("carrier_id"):
            self._stack(ctx, avps["carrier_id"]).append(carrier.id if carrier else "")
        self._stack(ctx, avps["carrier_attrs"]).append((carrier.attrs or "") if carrier else "")
        return True

    # ---------------------------------------------------------------------------------- sorting
    def _sort(self, dests: list[Destination], alg: str) -> list[int]:
        """no_sort_cb / weight_based_sort(): the order to try the destinations in."""
        order = list(range(len(dests)))
        if alg == "Q":
            self._log(1, "callback type '2' not registered")
            return order
        if alg != "W":
            return order
        first = 0
        while len(order) - first > 1:
            total = sum(dests[order[i]].weight for i in range(first, len(order)))
            chosen = first
            if total:
                point = int(total * self.random.random())
                running = 0
                for i in range(first, len(order)):
                    running += dests[order[i]].weight
                    if running > point:
                        chosen = i
                        break
                else:
                    chosen = len(order) - 1
            order[chosen], order[first] = order[first], order[chosen]
            first += 1
        return order

    # ---------------------------------------------------------------------------------- do_routing
    def do_routing(self, ctx, group_id: int | None = None, flags: str | None = None, gw_whitelist: str | None = None,
                   rule_attrs=None, gw_attrs=None, carrier_attrs=None, partition: str | None = None) -> int:
        part = self._partition(partition)
        if part is None:
            return -1
        group = -1 if group_id is None else int(group_id)
        bits = routing_flags(flags)
        if part is WILDCARD:
            for candidate in self.partitions.values():
                if self._do_routing(ctx, candidate, group, bits, gw_whitelist, rule_attrs, gw_attrs,
                                    carrier_attrs) > 0:
                    self._set_partition_pvar(ctx, candidate)
                    return 1
            return -1
        return self._do_routing(ctx, part, group, bits, gw_whitelist, rule_attrs, gw_attrs, carrier_attrs)

    def _group_of(self, ctx, part: Partition) -> int:
        """get_group_id(): the caller's group from dr_groups (From user[@host]), else default_group."""
        try:
            uri = URI(str(ctx.msg.from_.uri))
        except (SIPParseError, AttributeError, ValueError):
            self._log(-1, "unable to parse from uri")
            return -1
        where = {self.columns["user"]: uri.user or ""}
        if self.use_domain:
            where[self.columns["domain"]] = uri.host or ""
        try:
            rows = part.db.query(part.tables["drg"], [self.columns["group"]], where, limit=1)
        except DatabaseError as exc:
            self._log(-1, f"DB query failed: {exc}")
            return -1
        if not rows:
            if self.default_group != -1:
                return self.default_group
            self._log(-1, f"no group for user \"{uri.user or ''}\"@\"{uri.host or ''}\"")
            return -1
        value = rows[0][self.columns["group"]]
        if not isinstance(value, int):
            self._log(-1, "null or non-integer group_id")
            return -1
        return value

    def _do_routing(self, ctx, part: Partition, group: int, flags: int, whitelist: str | None, rule_attrs,
                    gw_attrs, carrier_attrs) -> int:
        data = part.data
        if data is None:
            self._log(4, "empty routing table")
            return -1
        avps, internal = part.avps, part.internal
        if not flags & F_CHECK:
            self._clear(ctx, part, ("ruri", "gw_id", "sock", "rule_attrs", "gw_attrs", "carrier_attrs",
                                    "carrier_id", "gw_priprefix", "rule_id", "rule_prefix"))
        index_stack = prefix_stack = None
        if not flags & F_INTERNAL:
            if group < 0:
                group = self._group_of(ctx, part)
                if group < 0:
                    self._log(-1, "failed to get group id")
                    return -1
            ruri_text = ctx.ruri()
            try:
                uri = URI(ruri_text)
            except SIPParseError:
                self._log(-1, "unable to parse RURI")
                return -1
            username = uri.user or ""
            rule_idx = 0
        else:
            index_stack = ctx.avps.get(internal["fb_index"]) or []
            if not index_stack:
                self._log(-1, "Cannot find index AVP during a fallback")
                return -1
            rule_idx = int(index_stack[0]) if not isinstance(index_stack[0], str) else 0
            prefix_stack = ctx.avps.get(internal["fb_prefix"]) or []
            prefix_values = [v for v in prefix_stack if isinstance(v, str)]
            if not prefix_values:
                self._log(-1, "Cannot find prefix AVP during a fallback")
                return -1
            username = prefix_values[0]
            if not username and rule_idx < 0:
                return -1
            ruri_values = [v for v in ctx.avps.get(internal["fb_ruri"]) or [] if isinstance(v, str)]
            if not ruri_values:
                self._log(-1, "Cannot find ruri AVP during a fallback")
                return -1
            try:
                uri = URI(ruri_values[0])
            except SIPParseError:
                self._log(-1, "unable to parse RURI from AVP")
                return -1
            ruri_text = ""
        now = self._wall()
        rule: Rule | None = None
        prefix_len = 0
        wl_dests: list[Destination] | None = None
        first_gw_attrs: str | None = None
        first_cr_attrs: str | None = None
        for _ in range(_MAX_SEARCHES):  # search_again; each round moves to a later rule or a shorter prefix
            if rule is not None:
                username = username[:prefix_len - (0 if rule_idx else 1)]
                if not username and rule_idx <= 0:
                    return -1
            rule, prefix_len, rule_idx = data.get_prefix(username, group, rule_idx, now)
            if flags & F_STRICT and (rule is None or prefix_len != len(username)):
                return -1
            if rule is None:
                if rule_idx >= 0:
                    rule, rule_idx = check_rules(data.noprefix, group, rule_idx, now)
                if rule is None:
                    self._log(4, f"no prefixless matching for grp {group}")
                    return -1
                prefix_len = 0
                if rule_idx == 0:
                    rule_idx = -1
            if rule.route and self._run_rule_route(ctx, rule.route):
                return -1
            if flags & F_CHECK:
                break
            if prefix_len == 0 and rule_idx <= 0:
                flags &= ~F_FALLBACK
            if not rule.dests:
                self._log(3, f"no destination for dr group {group}, rule_idx {rule_idx}, username {username}")
                if flags & F_FALLBACK:
                    continue
                return -1
            order = self._sort(rule.dests, rule.sort_alg)
            if whitelist and wl_dests is None:
                try:
                    wl_dests = parse_destinations(data, whitelist, self.id_chars, self._log)
                except ValueError:
                    self._log(-1, "invalid format in whitelist-> ignoring...")
                    wl_dests = None
            allowed = None if wl_dests is None else {id(d.target) for d in wl_dests}
            n = 0
            for i in order:
                dst = rule.dests[i]
                if isinstance(dst.target, Carrier):
                    carrier = dst.target
                    if carrier.off or (allowed is not None and id(carrier) not in allowed) or not carrier.dests:
                        continue
                    for j in self._sort(carrier.dests, carrier.sort_alg):
                        gw = carrier.dests[j].target
                        if gw.disabled:
                            continue
                        self._push_gw(ctx, part, uri, gw, carrier, n)
                        n += 1
                        if n == 1:
                            first_cr_attrs, first_gw_attrs = carrier.attrs, gw.attrs
                        if carrier.flags & CR_FIRST:
                            break
                else:
                    gw = dst.target
                    if gw.disabled or (allowed is not None and id(gw) not in allowed):
                        continue
                    self._push_gw(ctx, part, uri, gw, None, n)
                    n += 1
                    if n == 1:
                        first_cr_attrs, first_gw_attrs = None, gw.attrs
            if n < 1:
                if flags & F_FALLBACK:
                    continue
                return -1
            if gw_attrs is not None:
                gw_attrs.set(ctx, first_gw_attrs or "")
            if carrier_attrs is not None:
                carrier_attrs.set(ctx, first_cr_attrs or "")
            break
        else:
            return -1
        # no_gws:
        if avps.get("rule_prefix"):
            self._stack(ctx, avps["rule_prefix"]).insert(0, username[:prefix_len])
        self._stack(ctx, avps["rule_attrs"]).insert(0, rule.attrs or "")
        if rule_attrs is not None:
            rule_attrs.set(ctx, rule.attrs or "")
        if avps.get("rule_id"):
            self._stack(ctx, avps["rule_id"]).insert(0, rule.id)
        if flags & F_FALLBACK:
            if not flags & F_INTERNAL:
                if rule_idx > 0:
                    self._stack(ctx, internal["fb_index"]).insert(0, rule_idx)
                    self._stack(ctx, internal["fb_prefix"]).insert(0, username[:prefix_len])
                    self._stack(ctx, internal["fb_ruri"]).insert(0, ruri_text)
                    if wl_dests is not None and whitelist:
                        self._stack(ctx, internal["fb_whitelist"]).insert(0, whitelist)
                    self._stack(ctx, internal["fb_group"]).insert(0, group)
                    self._stack(ctx, internal["fb_flags"]).insert(0, flags)
            else:
                index_stack[0] = rule_idx
                if rule_idx == 0:
                    for k, value in enumerate(prefix_stack):
                        if isinstance(value, str):
                            prefix_stack[k] = value[:prefix_len - 1 if prefix_len else 0]
                            break
        elif flags & F_INTERNAL:
            ctx.avps.pop(internal["fb_flags"], None)
        return 1

    def _run_rule_route(self, ctx, name: str) -> bool:
        """Run the rule's route as run_top_route() does; True when it dropped the routing."""
        script = getattr(self.core, "script", None)
        if script is None or script.route("route", name) is None:
            self._log(1, f"route <{name}> not found for now, not running it")
            return False
        saved = (ctx.exit, ctx.drop, ctx.returning, ctx.breaking, ctx.retcode)
        ctx.exit = ctx.drop = ctx.returning = ctx.breaking = False
        try:
            script.run("route", name, ctx)
            dropped = ctx.drop
        finally:
            ctx.exit, ctx.drop, ctx.returning, ctx.breaking, ctx.retcode = saved
        if dropped:
            self._log(4, f"script route [{name}] drops routing")
        return dropped

    # ---------------------------------------------------------------------------------- use_next_gw
    def use_next_gw(self, ctx, rule_attrs=None, gw_attrs=None, carrier_attrs=None, partition: str | None = None
                    ) -> int:
        part = self._partition(partition)
        if part is None or part is WILDCARD:
            self._log(-1, "Partition is mandatory for use_next_gw.")
            return -1
        avps = part.avps
        for _ in range(_MAX_SEARCHES):  # each round drops one queued gateway
            if rule_attrs is not None:
                stack = ctx.avps.get(avps["rule_attrs"]) or []
                if stack:
                    rule_attrs.set(ctx, stack[0])
            for key, pvar in (("gw_attrs", gw_attrs), ("carrier_attrs", carrier_attrs)):
                if pvar is None:
                    continue
                stack = self._stack(ctx, avps[key])
                self._skip_non_str(stack)
                if stack:
                    stack.pop(0)
                if stack:
                    pvar.set(ctx, stack[0])
            for key in ("gw_priprefix", "carrier_id"):
                if avps.get(key):
                    stack = self._stack(ctx, avps[key])
                    self._skip_non_str(stack)
                    if stack:
                        stack.pop(0)
            ids = self._stack(ctx, avps["gw_id"])
            self._skip_non_str(ids)
            if not ids:
                self._log(1, "no GWs found at all -> have you done do_routing in script ?? ")
                return -1
            ids.pop(0)
            self._skip_non_str(ids)
            if not ids:
                return self._rule_fallback(ctx, part, rule_attrs, gw_attrs, carrier_attrs)
            ruris = self._stack(ctx, avps["ruri"])
            self._skip_non_str(ruris)
            if not ruris:
                return self._rule_fallback(ctx, part, rule_attrs, gw_attrs, carrier_attrs)
            ruri = ruris[0]
            socks = self._stack(ctx, avps["sock"])
            self._skip_non_str(socks)
            sock_text = socks.pop(0) if socks else ""
            gw = part.data.gateways.get(ids[0]) if part.data else None
            if gw is not None and not gw.disabled:
                break
            ruris.pop(0)
        else:
            return -1
        ctx.new_uri = ruri
        if sock_text:
            from opensips_py.script.pv_core import find_socket
            sock = find_socket(ctx, sock_text)
            if sock is not None:
                ctx.force_socket = sock
        ruris.pop(0)
        return 1

    def _rule_fallback(self, ctx, part: Partition, rule_attrs, gw_attrs, carrier_attrs) -> int:
        """The "F" fallback: do_routing() again, from where the last rule left off; the attrs variables of
        use_next_gw() get the new rule's and gateway's (OpenSIPS keeps them in globals across the call)."""
        internal = part.internal
        flag_stack = ctx.avps.get(internal["fb_flags"]) or []
        if not flag_stack or not isinstance(flag_stack[0], int) or not flag_stack[0] & F_FALLBACK:
            return -1
        flags = flag_stack[0] | F_INTERNAL
        groups = ctx.avps.get(internal["fb_group"]) or []
        if groups:
            whitelists = [v for v in ctx.avps.get(internal["fb_whitelist"]) or [] if isinstance(v, str)]
            if self._do_routing(ctx, part, int(groups[0]), flags, whitelists[0] if whitelists else None, rule_attrs,
                                gw_attrs, carrier_attrs) == 1:
                return 1
        else:
            self._log(-1, "Cannot find group AVP during a fallback")
        stack = ctx.avps.get(internal["fb_flags"]) or []
        if stack:
            stack.pop(0)
        return -1

    # ---------------------------------------------------------------------------------- route_to_*
    def route_to_carrier(self, ctx, carriers: str, gw_attrs=None, carrier_attrs=None,
                         partition: str | None = None) -> int:
        part = self._partition(partition)
        if part is None or part is WILDCARD:
            self._log(-1, "Partition is mandatory for route_to_carrier.")
            return -1
        if part.data is None:
            return -1
        self._clear(ctx, part, ("ruri", "gw_id", "sock", "gw_attrs", "rule_attrs", "carrier_attrs", "carrier_id",
                                "gw_priprefix", "rule_id", "rule_prefix"))
        try:
            uri = URI(ctx.ruri())
        except SIPParseError:
            self._log(-1, "unable to parse RURI")
            return -1
        n = 0
        first: tuple[str | None, str | None] = (None, None)
        for ident in carriers.split(","):
            ident = ident.strip()
            if not ident:
                continue
            carrier = part.data.carriers.get(ident)
            if carrier is None:
                self._log(-1, f"carrier <{ident}> was not found, skipping...")
                continue
            if carrier.off or not carrier.dests:
                continue
            order = self._sort(carrier.dests, "W" if carrier.sort_alg == "W" else "N")
            for j in order:
                gw = carrier.dests[j].target
                if gw.disabled:
                    continue
                self._push_gw(ctx, part, uri, gw, carrier, n)
                n += 1
                if n == 1:
                    first = (gw.attrs, carrier.attrs)
                if carrier.flags & CR_FIRST:
                    break
        if n < 1:
            return -1
        if gw_attrs is not None:
            gw_attrs.set(ctx, first[0] or "")
        if carrier_attrs is not None:
            carrier_attrs.set(ctx, first[1] or "")
        return 1

    def route_to_gw(self, ctx, gw_id: str, gw_attrs=None, carrier_attrs=None, partition: str | None = None) -> int:
        part = self._partition(partition)
        if part is None or part is WILDCARD:
            self._log(-1, "Partition is mandatory for route_to_gw.")
            return -1
        if part.data is None:
            return -1
        try:
            uri = URI(ctx.ruri())
        except SIPParseError:
            self._log(-1, "unable to parse RURI")
            return -1
        idx = 0
        for ident in gw_id.split(","):
            ident = ident.strip()
            if not ident:
                self._log(-1, "empty slot")
                return -1
            gw = part.data.gateways.get(ident)
            if gw is None:
                self._log(-1, f"no GW found with ID <{ident}> -> ignorring")
                continue
            if gw.disabled:
                continue
            self._push_gw(ctx, part, uri, gw, None, idx)
            idx += 1
            if gw_attrs is not None:
                gw_attrs.set(ctx, gw.attrs or "")
            if carrier_attrs is not None:
                carrier = self._carrier_of(part.data, gw)
                if carrier is not None:
                    carrier_attrs.set(ctx, carrier.attrs or "")
        if idx == 0:
            self._log(-1, "no GW added at all")
            return -1
        return 1

    @staticmethod
    def _carrier_of(data: RoutingData, gw: Gateway) -> Carrier | None:
        for carrier in data.sorted_carriers():
            if any(d.target is gw for d in carrier.dests):
                return carrier
        return None

    # ---------------------------------------------------------------------------------- gateway checks
    @staticmethod
    def gw_flags(text: str | None) -> set[str]:
        """fix_gw_flags(): s p i n r c (others are warned about and ignored)."""
        return {c for c in text or "" if c in "spinrc"}

    def _is_dr_gw(self, ctx, part: Partition, flags: set[str], gw_type: int, ip: str, port: int, proto: str | None,
                  gw_attrs, carrier_attrs) -> int:
        data = part.data
        if data is None:
            return -1
        for gw in data.sorted_gateways():
            if not (gw_type < 0 or gw_type == gw.type):
                continue
            if not gw.matches(ip, 0 if "n" in flags else port, proto if "r" in flags else None):
                continue
            if "s" in flags and gw.strip > 0:
                self._strip_user(ctx, gw.strip)
            if "p" in flags and gw.pri is not None:
                if part.avps.get("gw_priprefix"):
                    self._stack(ctx, part.avps["gw_priprefix"]).insert(0, gw.pri)
                self._prefix_user(ctx, gw.pri)
            if gw_attrs is not None:
                gw_attrs.set(ctx, gw.attrs or "")
            if "i" in flags:
                self._stack(ctx, part.avps["gw_id"]).insert(0, gw.id)
            want_carrier = "c" in flags and part.avps.get("carrier_id")
            if want_carrier or carrier_attrs is not None:
                carrier = self._carrier_of(data, gw)
                if carrier is not None:
                    if want_carrier:
                        self._stack(ctx, part.avps["carrier_id"]).append(carrier.id)
                    if carrier_attrs is not None:
                        carrier_attrs.set(ctx, carrier.attrs or "")
            return 1
        return -1

    @staticmethod
    def _strip_user(ctx, count: int) -> None:
        from opensips_py.script.core_functions import current_ruri, rewrite_ruri
        uri = current_ruri(ctx)
        if uri is not None:
            rewrite_ruri(ctx, user=(uri.user or "")[count:])

    @staticmethod
    def _prefix_user(ctx, prefix: str) -> None:
        from opensips_py.script.core_functions import current_ruri, rewrite_ruri
        uri = current_ruri(ctx)
        if uri is not None:
            rewrite_ruri(ctx, user=prefix + (uri.user or ""))

    def _check_gw(self, ctx, partition: str | None, flags: str | None, gw_type: int | None, ip: str, port: int,
                  proto: str | None, gw_attrs, carrier_attrs) -> int:
        part = self._partition(partition)
        if part is None:
            return -1
        letters = self.gw_flags(flags)
        kind = -1 if gw_type is None else int(gw_type)
        if part is WILDCARD:
            for candidate in self.partitions.values():
                if self._is_dr_gw(ctx, candidate, letters, kind, ip, port, proto, gw_attrs, carrier_attrs) > 0:
                    self._set_partition_pvar(ctx, candidate)
                    return 1
            return -1
        return self._is_dr_gw(ctx, part, letters, kind, ip, port, proto, gw_attrs, carrier_attrs)

    def is_from_gw(self, ctx, type: int | None = None, flags: str | None = None, gw_attrs=None, carrier_attrs=None,
                   partition: str | None = None) -> int:
        rcv = ctx.received
        if rcv is None:
            return -1
        return self._check_gw(ctx, partition, flags, type, rcv.src_host, rcv.src_port, rcv.proto, gw_attrs,
                              carrier_attrs)

    def _uri_to_ip_port(self, text: str) -> tuple[str, int, str] | None:
        try:
            uri = URI(text)
        except SIPParseError:
            self._log(-1, f"invalid sip uri <{text}>")
            return None
        if not uri.host:
            return None
        ip = self.core.resolver.resolve(uri.host.strip("[]"))
        if ip is None:
            return None
        secure = uri.scheme == "sips"
        proto = uri.transport or ("tls" if secure else "udp")
        return ip, uri.port or (5061 if secure or proto == "tls" else 5060), proto

    def goes_to_gw(self, ctx, type: int | None = None, flags: str | None = None, gw_attrs=None, carrier_attrs=None,
                   partition: str | None = None) -> int:
        target = self._uri_to_ip_port(ctx.dst_uri or ctx.ruri())
        if target is None:
            self._log(-1, "failed to extract IP/port from msg destination")
            return -1
        return self._check_gw(ctx, partition, flags, type, *target, gw_attrs, carrier_attrs)

    def dr_is_gw(self, ctx, sip_uri: str, type: int | None = None, flags: str | None = None, gw_attrs=None,
                 carrier_attrs=None, partition: str | None = None) -> int:
        target = self._uri_to_ip_port(sip_uri)
        if target is None:
            self._log(-1, f"failed to extract IP/port from uri <{sip_uri}>")
            return -1
        return self._check_gw(ctx, partition, flags, type, *target, gw_attrs, carrier_attrs)

    def dr_disable(self, ctx, partition: str | None = None) -> int:
        part = self._partition(partition)
        if part is None or part is WILDCARD:
            self._log(-1, "Partition name is mandatory!")
            return -1
        ids = [v for v in ctx.avps.get(part.avps["gw_id"]) or [] if isinstance(v, str)]
        if not ids:
            return -1
        gw = part.data.gateways.get(ids[0]) if part.data else None
        if gw is not None and not gw.disabled:
            gw.flags |= STAT_DSBL | STAT_DIRTY
            self._status_changed(part, gw, "script dr_disable")
        return 1

    def dr_match(self, ctx, group_id: int, flags: str | None, number: str, rule_attrs=None,
                 partition: str | None = None) -> int:
        part = self._partition(partition)
        if part is None or part is WILDCARD or part.data is None:
            return -1
        rule, matched = part.data.find_rule(number, int(group_id), self._wall())
        if rule is None:
            return -1
        if routing_flags(flags) & F_STRICT and matched != len(number):
            return -1
        if rule_attrs is not None:
            rule_attrs.set(ctx, rule.attrs or "")
        if part.avps.get("rule_prefix"):
            self._stack(ctx, part.avps["rule_prefix"]).insert(0, number[:matched])
        return 1

    def _status_changed(self, part: Partition, gw: Gateway, reason: str) -> None:
        state = "active" if not gw.disabled else "disabled MI" if gw.flags & STAT_NOEN else \
            "probing" if gw.flags & PING_DSBL else "inactive"
        self._log(3, f"GW <{gw.id}>/{gw.address} switched to [{state}] due to {reason} (partition {part.name})")

    # ---------------------------------------------------------------------------------- probing, state flush
    def _probe_round(self, now: float) -> None:
        self.core.add_timer(now + self.probing_interval, self._probe_round)
        if not self.probing_enabled:
            return
        from opensips_py.modules.tm import LocalRequest, TMCB
        probe_socket = None
        if self.param("probing_socket"):
            from opensips_py.modules.dispatcher import _SocketLookup
            from opensips_py.script.pv_core import find_socket
            probe_socket = find_socket(_SocketLookup(self.core), str(self.param("probing_socket")))
        for part in self.partitions.values():
            if part.data is None:
                return
            for gw in part.data.sorted_gateways():
                if gw.flags & STAT_NOEN or not (gw.flags & PING_PERM or (gw.flags & PING_DSBL and gw.disabled)):
                    continue
                uri = "sip:" + gw.address
                request = LocalRequest(method=self.probing_method, ruri=uri,
                                       from_=f"<{self.probing_from}>;tag={secrets.token_hex(8)}", to=f"<{uri}>",
                                       socket=gw.socket or probe_socket)

                def answered(t, p, part=part, gw_id=gw.internal_id) -> None:
                    if p.type & TMCB.LOCAL_COMPLETED:
                        self._probe_answered(part, gw_id, p.code)

                if self.tm.t_uac(request, callback=answered) is None and not gw.disabled:
                    gw.flags |= STAT_DSBL | STAT_DIRTY
                    self._status_changed(part, gw, "failure to send probe")

    def _probe_answered(self, part: Partition, internal_id: int, code: int) -> None:
        """dr_probing_callback()."""
        if part.data is None:
            return
        gw = next((g for g in part.data.gateways.values() if g.internal_id == internal_id), None)
        if gw is None:
            return
        if code == 200 or code in self.probing_codes:
            if gw.flags & STAT_NOEN or not gw.disabled:
                return
            gw.flags = (gw.flags & ~STAT_DSBL) | STAT_DIRTY
            self._status_changed(part, gw, "200 OK probing reply")
            return
        if code >= 400 and not gw.disabled:
            gw.flags |= STAT_DSBL | STAT_DIRTY
            self._status_changed(part, gw, "negative probing reply")

    def _flush_timer(self, now: float) -> None:
        self.core.add_timer(now + 30, self._flush_timer)
        self.flush_state()

    def flush_state(self) -> None:
        """dr_state_flusher(): write the changed gateway/carrier states to the tables."""
        for part in self.partitions.values():
            if part.data is None or part.db is None:
                continue
            for gw in part.data.sorted_gateways():
                if gw.flags & STAT_DIRTY:
                    try:
                        part.db.update(part.tables["drd"], {"state": gw.db_state}, {"gwid": gw.id})
                        gw.flags &= ~STAT_DIRTY
                    except DatabaseError as exc:
                        self._log(-1, f"DB update failed: {exc}")
            for cr in part.data.sorted_carriers():
                if cr.flags & CR_DIRTY:
                    try:
                        part.db.update(part.tables["drc"], {"state": 1 if cr.off else 0}, {"carrierid": cr.id})
                        cr.flags &= ~CR_DIRTY
                    except DatabaseError as exc:
                        self._log(-1, f"DB update failed: {exc}")

    def destroy(self) -> None:
        if self.persistent_state:
            self.flush_state()

    # ---------------------------------------------------------------------------------- MI
    def mi_commands(self) -> dict:
        return {"dr_reload": self._mi_reload, "dr_gw_status": self._mi_gw_status,
                "dr_carrier_status": self._mi_carrier_status, "dr_number_routing": self._mi_number_routing,
                "dr_reload_status": self._mi_reload_status, "dr_enable_probing": self._mi_enable_probing}

    @staticmethod
    def _named(params, names: tuple[str, ...]) -> dict:
        if isinstance(params, dict):
            return {k: v for k, v in params.items() if v is not None}
        if isinstance(params, (list, tuple)):
            return {name: value for name, value in zip(names, params)}
        return {}

    def _mi_partition(self, args: dict) -> Partition:
        if "partition_name" in args:
            if not self.use_partitions:
                raise MIError(400, "Invalid parameter: 'partition_name'",
                              "'partition_name' supported only when 'use_partitions' is set")
            part = self.partitions.get(str(args["partition_name"]))
            if part is None:
                raise MIError(404, "Partition not found")
            return part
        if self.use_partitions:
            raise MIError(400, "Missing parameter: 'partition_name'",
                          "'partition_name' is required when 'use_partitions' is set")
        return next(iter(self.partitions.values()))

    @staticmethod
    def _mi_int(args: dict, name: str) -> int:
        try:
            return int(args[name])
        except (TypeError, ValueError):
            raise MIError(-32602, "Invalid params", f"Bad type for parameter '{name}'") from None

    def _mi_reload(self, params) -> str:
        args = self._named(params, ("partition_name", "inherit_state"))
        inherit = str(args.get("inherit_state", "y")).lower() not in ("n", "0", "no", "false")
        if "partition_name" in args:
            parts = [self._mi_partition(args)]
        else:
            parts = list(self.partitions.values())
        failed = False
        for part in parts:
            if not self._reload(part, inherit):
                failed = True
        if failed:
            raise MIError(500, "Failed to reload")
        return "OK"

    def _mi_gw_status(self, params) -> Any:
        args = self._named(params, ("gw_id", "status"))
        part = self._mi_partition(args)
        if part.data is None:
            raise MIError(404, "No Data available yet")
        if "gw_id" not in args:
            gateways = []
            for gw in part.data.sorted_gateways():
                item: dict[str, Any] = {"ID": gw.id, "IP": gw.address}
                if gw.attrs:
                    item["ATTRS"] = gw.attrs
                item["State"] = gw.state_name
                gateways.append(item)
            return {"Gateways": gateways}
        gw = part.data.gateways.get(str(args["gw_id"]))
        if gw is None:
            raise MIError(404, "GW ID not found")
        if "status" not in args:
            result: dict[str, Any] = {}
            if gw.attrs:
                result["ATTRS"] = gw.attrs
            result["State"] = gw.state_name
            return result
        status = self._mi_int(args, "status")
        before = gw.flags
        if status:
            gw.flags &= ~(STAT_DSBL | STAT_NOEN)
        else:
            gw.flags |= STAT_DSBL | STAT_NOEN
        if before != gw.flags:
            gw.flags |= STAT_DIRTY
            self._status_changed(part, gw, "MI command")
        return "OK"

    def _mi_carrier_status(self, params) -> Any:
        args = self._named(params, ("carrier_id", "status"))
        part = self._mi_partition(args)
        if part.data is None:
            raise MIError(404, "No Data available yet")
        if "carrier_id" not in args:
            carriers = []
            for cr in part.data.sorted_carriers():
                item: dict[str, Any] = {"ID": cr.id}
                if cr.attrs:
                    item["ATTRS"] = cr.attrs
                item["Enabled"] = "no " if cr.off else "yes"
                carriers.append(item)
            return {"Carriers": carriers}
        cr = part.data.carriers.get(str(args["carrier_id"]))
        if cr is None:
            raise MIError(404, "Carrier ID not found")
        if "status" not in args:
            result: dict[str, Any] = {}
            if cr.attrs:
                result["ATTRS"] = cr.attrs
            result["Enabled"] = "no " if cr.off else "yes"
            return result
        status = self._mi_int(args, "status")
        before = cr.flags
        cr.flags = cr.flags & ~CR_IS_OFF if status else cr.flags | CR_IS_OFF
        if before != cr.flags:
            cr.flags |= CR_DIRTY
            self._log(3, f"Carrier <{cr.id}> switched to [{'inactive' if cr.off else 'active'}] due to MI command")
        return "OK"

    def _mi_number_routing(self, params) -> Any:
        args = self._named(params, ("group_id", "number"))
        if isinstance(params, (list, tuple)) and len(params) == 1:
            args = {"number": params[0]}
        part = self._mi_partition(args)
        if "number" not in args:
            raise MIError(-32602, "Invalid params")
        group = self._mi_int(args, "group_id") if "group_id" in args else -1
        if part.data is None:
            return "OK"
        number = str(args["number"])
        rule, matched = part.data.find_rule(number, group, self._wall())
        if rule is None:
            return "No match"
        result: dict[str, Any] = {"Matched Prefix": number[:matched], "GW List": [
            {"CARRIER" if d.is_carrier else "GATEWAY": d.target.id} for d in rule.dests]}
        if rule.attrs:
            result["ATTRS"] = rule.attrs
        return result

    def _mi_reload_status(self, params) -> Any:
        args = self._named(params, ("partition_name",))

        def date(part: Partition) -> str:
            return _time.ctime(part.last_update)

        if self.use_partitions:
            parts = [self._mi_partition(args)] if "partition_name" in args else list(self.partitions.values())
            return {"Partitions": [{"name": p.name, "Date": date(p)} for p in parts]}
        return {"Date": date(next(iter(self.partitions.values())))}

    def _mi_enable_probing(self, params) -> Any:
        args = self._named(params, ("status",))
        if "status" not in args:
            return {"Status": self.probing_enabled}
        self.probing_enabled = 1 if self._mi_int(args, "status") else 0
        return "OK"


__all__ = ["Module", "Partition", "routing_flags"]
