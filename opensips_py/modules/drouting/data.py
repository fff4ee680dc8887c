"""The routing data of one partition: gateways, carriers and rules, loaded from the dr_* tables.

Facts from modules/drouting/{dr_load,routing,prefix_tree}.c of OpenSIPS 3.4–3.6:
- dr_gateways rows become gateways keyed by gwid (an address without a scheme gets "sip:"; the part after
  the scheme and any user@ is what replaces the R-URI host; the host is resolved at load time, a failure
  drops the gateway when force_dns is on). state 1 = disabled for good ("Disabled MI"), 2 = disabled
  (probing may bring it back); probe_mode 1 = probe while disabled, 2 = always.
- dr_carriers rows: a gateway list ("gw1=10,gw2", no carriers inside), flags 1 = use only the first usable
  gateway, sort_alg N/W/Q, state 1 = off.
- dr_rules rows: a group list ("1,2"), a prefix (empty = a prefixless rule), a time recurrence, a priority
  (higher first; equal priorities keep the table order), a route to run, a destination list of gateways and
  "#carriers" with optional "=weight", a sort algorithm and attributes. A rule whose timerec does not parse
  is skipped; a NULL gwlist fails the whole load, as OpenSIPS's column check does.
- Lookups walk the prefix tree like get_prefix(): down the digits of the number while the tree goes on
  (an unknown character on the way means no prefix match at all), then up towards the root, taking the
  first node with a time-valid rule of the group.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Callable

from opensips_py.modules._timerec import TimeRecError, TimeRecExpr, parse_timerec_expr
from opensips_py.sip import SIPParseError, URI

# gateway flags (prefix_tree.h)
PING_DSBL, PING_PERM, STAT_DSBL, STAT_NOEN, STAT_DIRTY = 1, 2, 4, 8, 16
STAT_MASK = STAT_DSBL | STAT_NOEN
# carrier flags
CR_FIRST, CR_IS_OFF, CR_DIRTY = 1, 2, 4

SORT_ALGS = {"N": "N", "W": "W", "Q": "Q"}  # anything else sorts as N (dr_get_sort_alg)


class LoadError(Exception):
    """The data of a partition cannot be loaded (the old data stays in use)."""


@dataclass(eq=False)
class Gateway:
    """pgw_t."""

    id: str
    internal_id: int
    address: str  # ip_str: what follows "sip:" (and any user@) in the address column
    type: int = 0
    strip: int = 0
    pri: str | None = None
    attrs: str | None = None
    flags: int = 0
    socket: Any = None
    socket_text: str = ""
    addresses: list[tuple[str, int, str]] = field(default_factory=list)  # (ip, port, proto)

    @property
    def disabled(self) -> bool:
        return bool(self.flags & STAT_DSBL)

    @property
    def state_name(self) -> str:
        """The MI State (mi_dr_print_gw_state)."""
        if not self.flags & STAT_DSBL:
            return "Active"
        if self.flags & STAT_NOEN:
            return "Disabled MI"
        if self.flags & PING_DSBL:
            return "Probing"
        return "Inactive"

    @property
    def db_state(self) -> int:
        return (1 if self.flags & STAT_NOEN else 2) if self.flags & STAT_DSBL else 0

    def matches(self, ip: str, port: int, proto: str | None) -> bool:
        """gw_matches_ip(): port 0 (or 1) and proto None on either side match anything."""
        for gw_ip, gw_port, gw_proto in self.addresses:
            if gw_port not in (0, 1) and port and gw_port != port:
                continue
            if proto and gw_proto and gw_proto != proto:
                continue
            if same_ip(gw_ip, ip):
                return True
        return False


@dataclass(eq=False)
class Destination:
    """pgw_list_t: a gateway or a carrier in a list, with its weight."""

    target: "Gateway | Carrier"
    weight: int = 0

    @property
    def is_carrier(self) -> bool:
        return isinstance(self.target, Carrier)


@dataclass(eq=False)
class Carrier:
    """pcr_t."""

    id: str
    flags: int = 0
    sort_alg: str = "N"
    dests: list[Destination] = field(default_factory=list)
    attrs: str | None = None

    @property
    def off(self) -> bool:
        return bool(self.flags & CR_IS_OFF)


@dataclass(eq=False)
class Rule:
    """rt_info_t."""

    id: int
    priority: int
    timerec: TimeRecExpr | None
    route: str | None
    dests: list[Destination]
    sort_alg: str = "N"
    attrs: str | None = None

    def valid_at(self, now: float) -> bool:
        return self.timerec is None or self.timerec.matches(int(now))


def same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.strip("[]")) == ipaddress.ip_address(b.strip("[]"))
    except ValueError:
        return a.lower() == b.lower()


Groups = dict[int, list[Rule]]


def _add_rule(groups: Groups, group: int, rule: Rule) -> None:
    """add_rt_info(): higher priority first; a new rule goes after the ones of equal priority."""
    rules = groups.setdefault(group, [])
    for i, other in enumerate(rules):
        if rule.priority > other.priority:
            rules.insert(i, rule)
            return
    rules.append(rule)


def check_rules(groups: Groups | None, group: int, start: int, now: float) -> tuple[Rule | None, int]:
    """internal_check_rt(): the first time-valid rule of `group` from index `start`; with the index of the
    next rule of the list, or 0 when it was the last one."""
    if not groups or group not in groups:
        return None, start
    rules = groups[group]
    for index in range(start, len(rules)):
        if rules[index].valid_at(now):
            return rules[index], (index + 1 if index + 1 < len(rules) else 0)
    return None, start


class RoutingData:
    """rt_data_t: the gateways and carriers by id, the prefix tree and the prefixless rules."""

    def __init__(self, prefix_chars: str) -> None:
        self.gateways: dict[str, Gateway] = {}
        self.carriers: dict[str, Carrier] = {}
        self.nodes: dict[str, Groups] = {}  # prefix -> rules by group
        self.inner: set[str] = set()  # prefixes that have longer prefixes below them
        self.noprefix: Groups = {}
        self.prefix_chars = prefix_chars
        self.loaded_at = 0.0
        self.counts: dict[str, tuple[int, int]] = {}  # gw/cr/rl -> (loaded, discarded)

    # -------------------------------------------------------------------------------------------- building
    def add_prefix_rule(self, prefix: str, group: int, rule: Rule) -> None:
        for c in prefix:
            if c not in self.prefix_chars:
                raise LoadError(f"{c} is not valid char in the prefix")
        for i in range(1, len(prefix)):
            self.inner.add(prefix[:i])
        _add_rule(self.nodes.setdefault(prefix, {}), group, rule)

    def add_noprefix_rule(self, group: int, rule: Rule) -> None:
        _add_rule(self.noprefix, group, rule)

    def sorted_gateways(self) -> list[Gateway]:
        """In the order of OpenSIPS's AVL map (by id)."""
        return [self.gateways[k] for k in sorted(self.gateways)]

    def sorted_carriers(self) -> list[Carrier]:
        return [self.carriers[k] for k in sorted(self.carriers)]

    # -------------------------------------------------------------------------------------------- lookups
    def get_prefix(self, number: str, group: int, start: int, now: float) -> tuple[Rule | None, int, int]:
        """get_prefix(): (rule, matched length, next rule index). Matched length 0 without a match."""
        if not number:
            return None, 0, start
        depth = 0
        for depth in range(len(number)):  # down: stop at the last digit or where the tree ends
            if number[depth] not in self.prefix_chars:
                return None, 0, start
            if depth == len(number) - 1 or number[:depth + 1] not in self.inner:
                break
        index = start
        for end in range(depth + 1, 0, -1):
            groups = self.nodes.get(number[:end])
            if groups:
                rule, index = check_rules(groups, group, index, now)
                if rule is not None:
                    return rule, end, index
        return None, 0, index

    def find_rule(self, number: str, group: int, now: float) -> tuple[Rule | None, int]:
        """find_rule_by_prefix_unsafe(): the prefix tree, then the prefixless rules."""
        rule, matched, _ = self.get_prefix(number, group, 0, now)
        if rule is None:
            rule, _ = check_rules(self.noprefix, group, 0, now)
            matched = 0
        return rule, matched


def parse_destinations(data: RoutingData, text: str, id_chars: str, log: Callable[[int, str], None]
                       ) -> list[Destination]:
    """parse_destination_list(): "gw1=10, #cr2 | gw3"; unknown ids are dropped with a warning.
    Raises ValueError on a syntax error."""
    dests: list[Destination] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n":
            i += 1
        carrier = i < n and text[i] == "#"
        if carrier:
            i += 1
        start = i
        while i < n and (text[i].isalnum() and text[i].isascii() or text[i] in id_chars):
            i += 1
        if i == start:
            raise ValueError(f"bad id {text[i:i + 1]!r} ({i})[{text}]")
        ident = text[start:i]
        target = data.carriers.get(ident) if carrier else data.gateways.get(ident)
        if target is None:
            log(1, f"destination ID <{ident}> was not found")
        while i < n and text[i] in " \t\r\n":
            i += 1
        weight = 0
        if i < n and text[i] == "=":
            i += 1
            j = i
            while j < n and text[j] in " \t\r\n":
                j += 1
            k = j + 1 if j < n and text[j] in "+-" else j
            while k < n and text[k].isdigit():
                k += 1
            if k == j or text[j:k] in "+-":
                raise ValueError(f"bad weight value ({i})[{text}]")
            weight = int(text[j:k])
            i = k
            while i < n and text[i] in " \t\r\n":
                i += 1
        if target is not None:
            dests.append(Destination(target, weight))
        if i < n:
            if text[i] in "|,":
                i += 1
            else:
                raise ValueError(f"bad char {text[i]} ({i}) [{text}]")
    return dests


# ------------------------------------------------------------------------------------------------ loading

@dataclass
class LoadContext:
    """What loading needs from the module: names, the resolver, sockets, the log."""

    tables: dict[str, str]  # drd, drr, drc -> table name
    persistent_state: bool
    force_dns: bool
    prefix_chars: str
    id_chars: str
    resolve: Callable[[str], str | None]
    find_socket: Callable[[str], Any]
    socket_filter: str  # "all", "ignore", "matched-only"
    log: Callable[[int, str], None]
    counter: list[int] = field(default_factory=lambda: [0])


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def _int(value: Any, column: str, not_null: bool = True) -> int:
    if value is None:
        if not_null:
            raise LoadError(f"column {column} is null")
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        raise LoadError(f"column {column} has a bad type") from None


def make_gateway(ctx: LoadContext, gwid: str, address: str, strip: int, pri: str | None, gw_type: int,
                 attrs: str | None, probe_mode: int, socket: Any, socket_text: str, state: int) -> Gateway:
    """add_dst(); raises LoadError for a gateway to skip."""
    for c in gwid:
        if not (c.isalnum() and c.isascii() or c in ctx.id_chars):
            raise LoadError(f"invalid char in gateway's name [{c}]")
    lowered = address.lower()
    scheme_len = 4 if len(address) > 5 and lowered.startswith("sip:") else \
        5 if len(address) > 5 and lowered.startswith("sips:") else 0
    full = address if scheme_len else "sip:" + address
    try:
        uri = URI(full)
    except SIPParseError as exc:
        raise LoadError(f"invalid uri <{full}>: {exc}") from None
    if not uri.host:
        raise LoadError(f"invalid uri <{full}>")
    body = full[(scheme_len or 4):]
    if uri.user is not None:
        body = body[body.index("@") + 1:]
    flags = {0: 0, 1: PING_DSBL, 2: PING_PERM}.get(probe_mode)
    if flags is None:
        raise LoadError(f"bad probe_mode {probe_mode}")
    state_flags = {0: 0, 1: STAT_DSBL | STAT_NOEN, 2: STAT_DSBL}.get(state)
    if state_flags is None:
        raise LoadError(f"bad state {state}")
    ctx.counter[0] += 1
    gw = Gateway(gwid, ctx.counter[0], body, gw_type, strip, pri, attrs, flags | state_flags, socket, socket_text)
    secure = uri.scheme == "sips"
    proto = uri.transport or ("tls" if secure else "udp")
    port = uri.port or (5061 if secure or proto == "tls" else 5060)
    ip = ctx.resolve(uri.host.strip("[]"))
    if ip is None:
        if ctx.force_dns:
            raise LoadError(f"cannot resolve <{uri.host}>")
        ctx.log(4, f"cannot resolve <{uri.host}> - won't be used by is_from_gw()")
    else:
        gw.addresses.append((ip, port, proto))
    return gw


def load_routing_data(db: Any, ctx: LoadContext, now: float) -> tuple[RoutingData, str]:
    """dr_load_routing_info(): the data and the "N gateways loaded (M discarded), …" report."""
    data = RoutingData(ctx.prefix_chars)
    data.loaded_at = now
    counts = {"gw": [0, 0], "cr": [0, 0], "rl": [0, 0]}
    columns = ["id", "gwid", "address", "strip", "pri_prefix", "type", "attrs", "probe_mode", "socket"] + \
        (["state"] if ctx.persistent_state else [])
    for row in db.query(ctx.tables["drd"], columns):
        gwid, address = _text(row["gwid"]), _text(row["address"])
        if not gwid:
            raise LoadError("column gwid (str) is empty")
        if not address:
            raise LoadError("column address (str) is empty")
        socket, socket_text = None, _text(row["socket"]) or ""
        if socket_text and ctx.socket_filter != "ignore":
            socket = ctx.find_socket(socket_text)
            if socket is None:
                if ctx.socket_filter == "matched-only":
                    continue
                ctx.log(-1, f"GW <{gwid}>({row['id']}): socket <{socket_text}> is not local to OpenSIPS (we must "
                            "listen on it) -> ignoring socket")
                socket_text = ""
        elif ctx.socket_filter == "ignore":
            socket_text = ""
        try:
            if gwid in data.gateways:
                raise LoadError("Duplicate gateway!")
            gw = make_gateway(ctx, gwid, address, _int(row["strip"], "strip"), _text(row["pri_prefix"]),
                              _int(row["type"], "type"), _text(row["attrs"]), _int(row["probe_mode"], "probe_mode"),
                              socket, socket_text, _int(row["state"], "state") if ctx.persistent_state else 0)
        except LoadError as exc:
            ctx.log(-1, f"failed to add destination <{gwid}>({row['id']}) -> skipping: {exc}")
            counts["gw"][1] += 1
            continue
        data.gateways[gwid] = gw
        counts["gw"][0] += 1

    columns = ["id", "carrierid", "flags", "sort_alg", "gwlist", "attrs"] + \
        (["state"] if ctx.persistent_state else [])
    for row in db.query(ctx.tables["drc"], columns):
        cid = _text(row["carrierid"])
        gwlist = _text(row["gwlist"])
        if not cid:
            raise LoadError("column carrierid (str) is empty")
        if gwlist is None:
            raise LoadError("column gwlist is null")
        try:
            dests = parse_destinations(data, gwlist, ctx.id_chars, ctx.log) if gwlist else []
            if any(d.is_carrier for d in dests):
                raise LoadError(f"invalid carrier <{cid}> definition as points to other carrier in destination "
                                "list")
        except (ValueError, LoadError) as exc:
            ctx.log(-1, f"failed to add carrier db_id <{row['id']}> -> skipping: {exc}")
            counts["cr"][1] += 1
            continue
        flags = _int(row["flags"], "flags")
        state = _int(row["state"], "state") if ctx.persistent_state else 0
        flags = flags | CR_IS_OFF if state else flags & ~CR_IS_OFF
        attrs = _text(row["attrs"])
        data.carriers[cid] = Carrier(cid, flags, SORT_ALGS.get((_text(row["sort_alg"]) or "N")[:1], "N"), dests,
                                     attrs or None)
        counts["cr"][0] += 1

    columns = ["ruleid", "groupid", "prefix", "timerec", "priority", "routeid", "gwlist", "sort_alg",
               "sort_profile", "attrs"]
    for row in db.query(ctx.tables["drr"], columns):
        rule_id = _int(row["ruleid"], "ruleid")
        groups_text = _text(row["groupid"])
        if not groups_text:
            raise LoadError("column groupid (str) is empty")
        gwlist = _text(row["gwlist"])
        if gwlist is None:
            raise LoadError("column gwlist (str) is empty")
        timerec_text = _text(row["timerec"])
        timerec = None
        if timerec_text:
            try:
                timerec = parse_timerec_expr(timerec_text)
            except TimeRecError as exc:
                ctx.log(-1, f"bad time definition <{timerec_text}> for rule id {rule_id} -> skipping ({exc})")
                continue
        try:
            dests = parse_destinations(data, gwlist, ctx.id_chars, ctx.log) if gwlist else []
        except ValueError as exc:
            ctx.log(-1, f"failed to add routing info for rule id {rule_id} -> skipping ({exc})")
            continue
        attrs = _text(row["attrs"])
        rule = Rule(rule_id, _int(row["priority"], "priority"), timerec, _text(row["routeid"]) or None, dests,
                    SORT_ALGS.get((_text(row["sort_alg"]) or "N")[:1], "N"), attrs or None)
        try:
            groups = parse_groups(groups_text)
            prefix = _text(row["prefix"]) or ""
            for group in groups:
                if prefix:
                    data.add_prefix_rule(prefix, group, rule)
                else:
                    data.add_noprefix_rule(group, rule)
        except (ValueError, LoadError) as exc:
            ctx.log(-1, f"failed to add rule id {rule_id} -> skipping ({exc})")
            counts["rl"][1] += 1
            continue
        counts["rl"][0] += 1
    report = (f"{counts['gw'][0]} gateways loaded ({counts['gw'][1]} discarded), "
              f"{counts['cr'][0]} carriers loaded ({counts['cr'][1]} discarded), "
              f"{counts['rl'][0]} rules loaded ({counts['rl'][1]} discarded)")
    data.counts = {kind: (loaded, discarded) for kind, (loaded, discarded) in counts.items()}
    return data, report


def parse_groups(text: str) -> list[int]:
    """add_rule()'s group list: integers separated by ',' '|' or spaces."""
    groups: list[int] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n":  # strtol() skips leading blanks
            i += 1
        if i >= n:
            raise ValueError(f"bad grp id ({i})[{text}]")
        j = i + 1 if text[i] in "+-" else i
        while j < n and text[j].isdigit():
            j += 1
        if j == i or text[i:j] in "+-":
            raise ValueError(f"bad grp id '{text[i]}' ({i})[{text}]")
        if j < n and text[j] not in " \t\r\n,|":
            raise ValueError(f"bad char {text[j]} ({j}) [{text}]")
        groups.append(int(text[i:j]))
        while j < n and text[j] in " \t\r\n":
            j += 1
        if j < n and text[j] in ",|":
            j += 1
        i = j
    if not groups:
        raise ValueError(f"no id in grp list [{text}]")
    return groups
