"""dispatcher: load balancing and failover over sets of destinations, with OPTIONS probing."""
from __future__ import annotations

from opensips_py.modules.exports import (
    ALL, B, F, L, O, R, T, V, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports,
    ParamType, VersionSpan,
)

# ds_select_dst()/ds_select_domain() flag letters, either case: failover list, user-only hash, default
# destination last, append.
SELECT_FLAGS = ("f", "F", "u", "U", "d", "D", "a", "A")
_SELECT_ARGS = (
    Arg("set", ArgKind.INT), Arg("alg", ArgKind.INT), Arg("flags", optional=True, choices=SELECT_FLAGS),
    Arg("partition", optional=True), Arg("max_results", ArgKind.INT, optional=True),
)
_SELECT_DOC = ("alg: 0 Call-ID, 1 From, 2 To, 3 R-URI, 4 weighted round-robin, 5 auth user, 6 random, "
               "7 hash_pvar, 8 first, 9 load, 10 algo_route. 1 found, -1 none active.")


def _column(name: str, default: str, **kwargs) -> ModParam:
    return ModParam(f"{name}_col", ParamType.STR, default, doc="Column name in the dispatcher table.", **kwargs)


EXPORTS = ModuleExports(
    name="dispatcher",
    doc="Destination sets from the dispatcher table (partitions), selection algorithms, failover lists, "
        "state marking and probing.",
    functions=(
        Function("ds_select_dst", _SELECT_ARGS, routes=R | F | B, versions=VersionSpan(until="3.4")),
        Function(
            "ds_select_dst", _SELECT_ARGS, routes=R | F | B | L, versions=VersionSpan(since="3.4"),
            doc="Sets $du. " + _SELECT_DOC + " C: local_route allowed since 3.4.",
        ),
        Function("ds_select_domain", _SELECT_ARGS, routes=R | F | B, versions=VersionSpan(until="3.4")),
        Function(
            "ds_select_domain", _SELECT_ARGS, routes=R | F | B | L, versions=VersionSpan(since="3.4"),
            doc="Rewrites the R-URI host:port. " + _SELECT_DOC,
        ),
        Function("ds_next_dst", (Arg("partition", optional=True),), routes=R | F),
        Function("ds_next_domain", (Arg("partition", optional=True),), routes=R | F),
        Function(
            "ds_mark_dst", (Arg("state", optional=True), Arg("partition", optional=True)), routes=R | F,
            doc="state: i/I/0 inactive (default), a/A/1 active, p/P/2 probing; parsed per call.",
        ),
        Function(
            "ds_is_in_list",
            (Arg("ip"), Arg("port", ArgKind.INT), Arg("set", ArgKind.INT, optional=True),
             Arg("partition", optional=True), Arg("active_only", ArgKind.INT, optional=True),
             Arg("pattern", optional=True)),
            routes=R | F | O | B | L,
        ),
        Function(
            "ds_count",
            (Arg("set", ArgKind.INT), Arg("state_filter"), Arg("result", ArgKind.VAR),
             Arg("partition", optional=True)),
            routes=R | F | B | L | T | V, doc="state_filter letters a/i/p (or 0/1/2).",
        ),
        Function(
            "ds_push_script_attrs",
            (Arg("script_attrs"), Arg("ip"), Arg("port", ArgKind.INT), Arg("set", ArgKind.INT, optional=True),
             Arg("partition", optional=True)),
            routes=ALL,
        ),
        Function(
            "ds_get_script_attrs",
            (Arg("uri"), Arg("set", ArgKind.INT), Arg("partition", optional=True), Arg("out_attrs", ArgKind.VAR)),
            routes=ALL,
        ),
    ),
    params=(
        ModParam("partition", ParamType.STR, None, repeatable=True, doc="\"name: db_url=…; table_name=…\"."),
        ModParam("db_url", ParamType.STR, None),
        ModParam("table_name", ParamType.STR, "dispatcher"),
        ModParam("dst_avp", ParamType.STR, "$avp(ds_dst_failover)"),
        ModParam("grp_avp", ParamType.STR, "$avp(ds_grp_failover)"),
        ModParam("cnt_avp", ParamType.STR, "$avp(ds_cnt_failover)"),
        ModParam("sock_avp", ParamType.STR, "$avp(ds_sock_failover)"),
        ModParam("attrs_avp", ParamType.STR, None),
        ModParam("script_attrs_avp", ParamType.STR, None),
        ModParam("algo_route", ParamType.STR, None),
        ModParam("hash_pvar", ParamType.STR, None),
        ModParam("setid_pvar", ParamType.STR, None),
        ModParam("pvar_algo_pattern", ParamType.STR, ""),
        ModParam("ds_ping_method", ParamType.STR, "OPTIONS"),
        ModParam("ds_ping_from", ParamType.STR, "sip:dispatcher@localhost"),
        ModParam("ds_ping_interval", ParamType.INT, 0, doc="Seconds; > 0 needs tm."),
        ModParam("ds_ping_maxfwd", ParamType.INT, -1),
        ModParam("ds_probing_sock", ParamType.STR, None),
        ModParam("ds_probing_threshold", ParamType.INT, 3),
        ModParam("ds_probing_threshhold", ParamType.INT, 3, doc="Misspelt alias of ds_probing_threshold."),
        ModParam("ds_probing_mode", ParamType.INT, 0),
        ModParam("ds_probing_list", ParamType.STR, None, repeatable=True),
        ModParam("options_reply_codes", ParamType.STR, None),
        ModParam("ds_define_blacklist", ParamType.STR, None, repeatable=True),
        ModParam("persistent_state", ParamType.INT, 1),
        ModParam("fetch_freeswitch_stats", ParamType.INT, 0),
        ModParam("max_freeswitch_weight", ParamType.INT, 100),
        ModParam("cluster_id", ParamType.INT, 0),
        ModParam("cluster_sharing_tag", ParamType.STR, None),
        ModParam(
            "cluster_probing_mode", ParamType.STR, None, versions=VersionSpan(since="3.4"),
            doc="all or by-shtag.",
        ),
        _column("setid", "setid"),
        _column("destination", "destination"),
        _column("socket", "socket"),
        _column("state", "state"),
        _column("weight", "weight"),
        _column("priority", "priority"),
        _column("attrs", "attrs"),
        _column("description", "description"),
        _column("probe_mode", "probe_mode", versions=VersionSpan(since="3.4")),
    ),
    mi=(
        MICommand("ds_set_state", ("state", "group", "address"), alias_4_0="dispatcher:set_state"),
        MICommand("ds_list", ("full",), versions=VersionSpan(until="3.4")),
        MICommand(
            "ds_list", ("partition", "full"), versions=VersionSpan(since="3.4"), alias_4_0="dispatcher:list",
        ),
        MICommand("ds_reload", ("partition",), versions=VersionSpan(until="3.4")),
        MICommand(
            "ds_reload", ("partition", "inherit_state"), versions=VersionSpan(since="3.4"),
            alias_4_0="dispatcher:reload",
        ),
        MICommand(
            "ds_push_script_attrs", ("attrs", "ip", "port", "set", "partition"),
            alias_4_0="dispatcher:push_script_attrs",
        ),
    ),
    deps=(
        Dependency(("db_*",), doc="DEP_ABORT, unconditional in the C (the reference says only with db_url)."),
        Dependency(("tm",), when_param="ds_ping_interval", unless_values=(0,)),
        Dependency(("freeswitch",), when_param="fetch_freeswitch_stats", unless_values=(0,)),
        Dependency(("clusterer",), when_param="cluster_id", unless_values=(0,)),
    ),
)

# ------------------------------------------------------------------------------------------------ implementation
# Behaviour read in modules/dispatcher/{dispatch,dispatcher}.c of OpenSIPS 3.4–4.0: the table is loaded at
# start-up (ds_reload again) into sets; a set's destinations are ordered by priority, highest first, table
# order among equals; each keeps running weights for the weighted picks. ds_select_dst() hashes (Call-ID,
# From, To, R-URI, auth user), picks at random, round-robins by weight or takes the first, skips inactive
# and probing destinations, sets $du (or the R-URI host:port for ds_select_domain) and, with the `f` flag,
# stacks the other active destinations in the failover AVPs for ds_next_dst(). OPTIONS probing every
# ds_ping_interval seconds (tm's t_uac) brings probing destinations back (and, with ds_probing_mode 1,
# sends failing ones to probing after ds_probing_threshold failures).
# Not here: partitions other than the default (refused at start-up), algorithms 7, 9 and 10, FreeSWITCH
# weights, clustering, ds_push_script_attrs/ds_get_script_attrs.

import fnmatch as _fnmatch  # noqa: E402
import re  # noqa: E402
import ipaddress as _ipaddress  # noqa: E402
import random as _random  # noqa: E402
import secrets as _secrets  # noqa: E402
from dataclasses import dataclass as _dataclass, field as _field  # noqa: E402
from typing import Any as _Any  # noqa: E402

from opensips_py.db import DatabaseError, open_database  # noqa: E402
from opensips_py.mi import MIError  # noqa: E402
from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.sip import SIPParseError, URI  # noqa: E402

INACTIVE, PROBING, RESET_FAIL, PROBING_PERM = 1, 2, 4, 16
_DEFAULT_PORTS = {"sip": 5060, "sips": 5061}


def ds_hash(*keys: str | None) -> int:
    """dispatch.c ds_get_hash(): 4 bytes at a time (chars signed, as C's), folded; never 0."""
    present = [k for k in keys if k is not None]
    if not present:
        return 0
    h = 0
    for key in present:
        data = [b - 256 if b > 127 else b for b in key.encode()]
        i = 0
        while i + 4 <= len(data):
            v = ((data[i] << 24) + (data[i + 1] << 16) + (data[i + 2] << 8) + data[i + 3]) & 0xFFFFFFFF
            h = (h + (v ^ (v >> 3))) & 0xFFFFFFFF
            i += 4
        v = 0
        for b in data[i:]:
            v = ((v << 8) + b) & 0xFFFFFFFF
        h = (h + (v ^ (v >> 3))) & 0xFFFFFFFF
    h = ((h + (h >> 11)) + ((h >> 13) + (h >> 23))) & 0xFFFFFFFF
    return h or 1


def uri_hash_keys(text: str, user_only: bool) -> tuple[str, str | None]:
    """get_uri_hash_keys(): (user, host[:port unless the default]) or (user, None) with the `u` flag."""
    uri = URI(text.strip().strip("<>"))
    if not uri.host:
        raise SIPParseError("no host")
    user = uri.user or ""
    if user_only:
        return user, None
    host = uri.host
    if uri.port is not None and uri.port != _DEFAULT_PORTS.get(uri.scheme, 5060):
        host += f":{uri.port}"
    return user, host


@_dataclass
class Destination:
    """One row of a set (ds_dest_t)."""

    uri: str
    dst_uri: str
    socket: _Any = None
    socket_text: str = ""
    weight: int = 1
    priority: int = 0
    attrs: str | None = None
    description: str | None = None
    flags: int = 0
    addresses: list[tuple[str, int]] = _field(default_factory=list)
    running_weight: int = 0
    active_running_weight: int = 0
    rr_count: int = 0
    failure_count: int = 0
    chosen_count: int = 0

    @property
    def active(self) -> bool:
        return not self.flags & (INACTIVE | PROBING)

    @property
    def state(self) -> str:
        return "Inactive" if self.flags & INACTIVE else "Probing" if self.flags & PROBING else "Active"


@_dataclass
class DestinationSet:
    id: int
    dests: list[Destination] = _field(default_factory=list)
    last: int = 0
    active_nr: int = 0

    def recalculate(self) -> None:
        """re_calculate_active_dsts(): running weights over all and over the active destinations."""
        running = active_running = 0
        self.active_nr = len(self.dests)
        for dest in self.dests:
            running += dest.weight
            dest.running_weight = running
            if dest.active:
                active_running += dest.weight
            else:
                self.active_nr -= 1
            dest.active_running_weight = active_running


def _avp_name(spec: str | None) -> str | None:
    if not spec:
        return None
    spec = str(spec).strip()
    if spec.startswith("$avp(") and spec.endswith(")"):
        return spec[5:-1]
    return spec.lstrip("$")


class Module(ModuleBase):
    exports = EXPORTS

    def init(self) -> None:
        if self.param_values("partition"):
            raise ModuleInitError("dispatcher: partitions other than the default are not supported by "
                                  "opensips-py yet")
        url = self.db_url()
        if not url:
            raise ModuleInitError("dispatcher: no db_url for the default partition")
        self.url, self.table = str(url), str(self.param("table_name"))
        self.columns = {key: str(self.param(f"{key}_col")) for key in
                        ("setid", "destination", "socket", "state", "weight", "priority", "attrs",
                         "description", "probe_mode")}
        self.avps = {key: _avp_name(self.param(f"{key}_avp")) for key in
                     ("dst", "grp", "cnt", "sock", "attrs", "script_attrs")}
        self.persistent_state = bool(self.int_param("persistent_state"))
        self.ping_interval = self.int_param("ds_ping_interval")
        self.ping_method = str(self.param("ds_ping_method"))
        self.ping_from = str(self.param("ds_ping_from"))
        self.probing_mode = self.int_param("ds_probing_mode")
        threshold = self.params.get("ds_probing_threshold") or self.params.get("ds_probing_threshhold")
        self.probing_threshold = int(threshold[-1]) if threshold else 3
        codes = self.param("options_reply_codes")
        self.reply_codes = {int(c) for c in str(codes).split(",") if c.strip().isdigit()} if codes else set()
        self.random = _random.Random()
        self.sets: list[DestinationSet] = []
        try:
            self.db = open_database(self.core, self.url, "dispatcher")
            self.sets = self._load()
        except (DatabaseError, ValueError) as exc:
            raise ModuleInitError(f"dispatcher: cannot load the {self.table} table: {exc}") from exc
        self.tm = getattr(self.core, "modules", {}).get("tm")
        if self.ping_interval > 0:
            if self.tm is None:
                raise ModuleInitError("dispatcher: ds_ping_interval needs the tm module")
            self.core.add_timer(self._clock + self.ping_interval, self._probe_round)

    @property
    def _clock(self) -> float:
        return float(getattr(self.core, "now", 0.0) or 0.0)

    def _log(self, level: int, text: str) -> None:
        self.core.logger.log(level, text, module="dispatcher")

    # ---------------------------------------------------------------------------------- loading
    def _load(self) -> list[DestinationSet]:
        c = self.columns
        wanted = [c["setid"], c["destination"], c["socket"], c["weight"], c["attrs"], c["priority"],
                  c["description"], c["probe_mode"]] + ([c["state"]] if self.persistent_state else [])
        sets: list[DestinationSet] = []
        for row in self.db.query(self.table, wanted):
            values = list(row.values())
            setid, uri = values[0], values[1]
            if setid is None or not uri:
                self._log(-1, "ds ID column cannot be NULL, or an empty URI -> skipping")
                continue
            weight_value = values[3]
            try:
                weight = int(weight_value) if weight_value not in (None, "") else 1
            except (TypeError, ValueError):
                self._log(-1, f"weight {weight_value!r} of {uri}: FreeSWITCH weights are not supported")
                continue
            state = int(values[8]) if self.persistent_state and len(values) > 8 and values[8] is not None else 0
            dest = self._destination(str(uri), values[2] or "", weight, int(values[5] or 0), values[4] or None,
                                     values[6] or None, state, int(values[7] or 0))
            if dest is None:
                continue
            found = next((s for s in sets if s.id == int(setid)), None)
            if found is None:
                found = DestinationSet(int(setid))
                sets.insert(0, found)  # new sets are prepended, as add_dest2list does
            found.dests.append(dest)
        for dest_set in sets:
            # highest priority first; the table order among equal priorities (add_dest2list + reindex)
            dest_set.dests.sort(key=lambda d: -d.priority)
            dest_set.recalculate()
        return sets

    def _destination(self, uri_text: str, socket_text: str, weight: int, priority: int, attrs, description,
                     state: int, probe_mode: int) -> Destination | None:
        try:
            uri = URI(uri_text)
        except SIPParseError:
            self._log(-1, f"bad uri [{uri_text}]")
            return None
        if not uri.host or len(uri.host) > 254:
            self._log(-1, f"bad uri [{uri_text}]")
            return None
        if uri.user or uri.password or uri.headers:
            dst_uri = f"{uri.scheme}:{uri.host}" + (f":{uri.port}" if uri.port is not None else "") + \
                uri._params_text
        else:
            dst_uri = uri_text
        ip = self.core.resolver.resolve(uri.host.strip("[]"))
        if ip is None:
            self._log(-1, f"could not resolve {uri.host}, skipping it")
            return None
        socket = None
        if socket_text:
            from opensips_py.script.pv_core import find_socket
            socket = find_socket(_SocketLookup(self.core), str(socket_text))
            if socket is None:
                self._log(-1, f"socket <{socket_text}> is not local to opensips (we must listen on it) -> "
                              "ignoring it")
        port = uri.port or _DEFAULT_PORTS.get(uri.scheme, 5060)
        flags = {0: 0, 1: INACTIVE, 2: PROBING}.get(state, 0) | (PROBING_PERM if probe_mode == 1 else 0)
        return Destination(uri_text, dst_uri, socket, str(socket_text or ""), weight, priority, attrs,
                           description, flags, [(ip, port)])

    def _set(self, set_id: int) -> DestinationSet | None:
        return next((s for s in self.sets if s.id == set_id), None)

    # ---------------------------------------------------------------------------------- selection
    def ds_select_dst(self, ctx, set_id: int, alg: int, flags: str | None = None, partition: str | None = None,
                      max_results: int | None = None) -> int:
        return self._select(ctx, set_id, alg, flags, partition, max_results, domain=False)

    def ds_select_domain(self, ctx, set_id: int, alg: int, flags: str | None = None,
                         partition: str | None = None, max_results: int | None = None) -> int:
        return self._select(ctx, set_id, alg, flags, partition, max_results, domain=True)

    def _partition_ok(self, partition: str | None) -> bool:
        if partition not in (None, "", "default"):
            self._log(-1, f"partition {partition} not found")
            return False
        return True

    def _select(self, ctx, set_id: int, alg: int, flags: str | None, partition: str | None,
                max_results: int | None, domain: bool) -> int:
        if ctx.msg is None or not self._partition_ok(partition):
            return -1
        letters = (flags or "").lower()
        failover, user_only, use_default, append = ("f" in letters, "u" in letters, "d" in letters,
                                                    "a" in letters)
        dest_set = self._set(set_id)
        if dest_set is None:
            self._log(-1, f"destination set [{set_id}] not found")
            return -1
        nr = len(dest_set.dests)
        if nr == 0 or dest_set.active_nr == 0:
            return -1
        dests = dest_set.dests
        size = nr - 1 if use_default and nr > 1 else nr
        hash_value, ds_id = 0, -1
        try:
            if alg == 0:
                hash_value = ds_hash((ctx.msg.call_id or "").strip())
            elif alg in (1, 2, 3):
                text = (ctx.msg.from_.uri if alg == 1 else ctx.msg.to.uri if alg == 2 else ctx.ruri())
                hash_value = ds_hash(*uri_hash_keys(str(text), user_only))
            elif alg == 4:
                if dests[dest_set.last].rr_count < dests[dest_set.last].weight:
                    ds_id = dest_set.last
                else:
                    dests[dest_set.last].rr_count = 0
                    ds_id = (dest_set.last + 1) % size
            elif alg == 5:
                user = self._auth_username(ctx.msg)
                if user is None:
                    ds_id = dest_set.last
                    dest_set.last = (dest_set.last + 1) % size
                else:
                    hash_value = ds_hash(user)
            elif alg == 6:
                hash_value = self.random.randint(0, 2**31 - 1)
            elif alg == 8:
                ds_id = 0
            elif alg in (7, 9, 10):
                self._log(-1, f"algorithm {alg} is not supported by opensips-py")
                return -1
            else:
                self._log(1, f"dispatching via [{set_id}] with unknown algo [{alg}]: defaulting to 0 - first entry")
                ds_id = 0
        except (SIPParseError, AttributeError) as exc:
            self._log(-1, f"cannot get the hash for algorithm {alg}: {exc}")
            return -1
        if ds_id == -1:
            total = dests[size - 1].running_weight
            if total:
                point = hash_value % total
                ds_id = next(i for i in range(size) if point < dests[i].running_weight)
            else:
                ds_id = hash_value % size
        chosen = self._first_active(dest_set, ds_id, size, hash_value, use_default)
        if chosen is None:
            return -1
        dest_set.last = chosen
        if alg == 4:
            dests[chosen].rr_count += 1
        selected = dests[chosen]
        self._update_dst(ctx, selected.dst_uri, selected.socket, domain)
        selected.chosen_count += 1
        stacks = {key: ctx.avps.setdefault(name, []) for key, name in self.avps.items() if name}
        if failover:
            if not append:
                for key in ("dst", "grp", "cnt", "sock", "attrs", "script_attrs"):
                    if key in stacks:
                        stacks[key].clear()
            pushed = 0
            if use_default and chosen != nr - 1:
                self._push(stacks, dests[nr - 1])
                pushed += 1
            inactive = sum(1 for i, d in enumerate(dests) if not d.active and not (use_default and i == nr - 1))
            skip = nr - inactive - (1 if use_default else 0) - (max_results if max_results else nr)
            for unwrapped in range(chosen - 1 + nr, chosen, -1):
                i = unwrapped % nr
                dest = dests[i]
                if not dest.active or (use_default and i == nr - 1):
                    continue
                if skip > 0:
                    skip -= 1
                    continue
                self._push(stacks, dest)
                pushed += 1
            stacks["dst"].insert(0, selected.uri)  # the one in use: its table URI (no socket entry), as C
            pushed += 1
            stacks["grp"].insert(0, set_id)
            stacks["cnt"].insert(0, pushed)
        else:
            if "grp" in stacks:
                stacks["grp"].insert(0, set_id)
            if "cnt" in stacks:
                stacks["cnt"].insert(0, 0)
        if "attrs" in stacks:
            stacks["attrs"].insert(0, selected.attrs or "")
        return 1

    def _first_active(self, dest_set: DestinationSet, ds_id: int, size: int, hash_value: int,
                      use_default: bool) -> int | None:
        dests, nr = dest_set.dests, len(dest_set.dests)
        i = ds_id
        for _ in range(nr + 1):  # bounded walk over the set
            if dests[i].active:
                return i
            if hash_value == 0:
                i = (i + 1) % size
            else:
                count = dest_set.active_nr - (1 if use_default and dests[nr - 1].active else 0)
                if count:
                    total = dests[size - 1].active_running_weight
                    if total:
                        point = hash_value % total
                        i = next((k for k in range(size) if dests[k].active
                                  and point < dests[k].active_running_weight), size)
                    else:
                        j = hash_value % count
                        for k in range(size):
                            if dests[k].active:
                                j -= 1
                            if j < 0:
                                i = k
                                break
                        else:
                            i = size
                    if i >= size:
                        return None
            if i == ds_id:
                if use_default and dests[nr - 1].active:
                    return nr - 1
                return None
        return None

    @staticmethod
    def _auth_username(msg) -> str | None:
        for name in ("proxy-authorization", "authorization"):
            value = msg.header(name) if hasattr(msg, "header") else None
            if value:

                match = re.search(r'username\s*=\s*"?([^",]*)"?', value, re.I)
                if match and match.group(1).strip():
                    return match.group(1).strip()
        return None

    @staticmethod
    def _push(stacks: dict, dest: Destination) -> None:
        stacks["sock"].insert(0, dest.socket_text if dest.socket else "")
        stacks["dst"].insert(0, dest.dst_uri)
        if "attrs" in stacks:
            stacks["attrs"].insert(0, dest.attrs or "")

    def _update_dst(self, ctx, uri: str, socket, domain: bool) -> None:
        if domain:
            from opensips_py.script.core_functions import rewrite_ruri
            target = URI(uri)
            rewrite_ruri(ctx, host=target.host, port=target.port if target.port is not None else "")
        else:
            ctx.dst_uri = uri
        if socket is not None:
            ctx.force_socket = socket

    def ds_next_dst(self, ctx, partition: str | None = None) -> int:
        return self._next(ctx, partition, domain=False)

    def ds_next_domain(self, ctx, partition: str | None = None) -> int:
        return self._next(ctx, partition, domain=True)

    def _next(self, ctx, partition: str | None, domain: bool) -> int:
        if not self._partition_ok(partition):
            return -1
        dst = ctx.avps.get(self.avps["dst"] or "", [])
        if not dst:
            return -1
        dst.pop(0)  # the destination just tried
        for key in ("attrs", "script_attrs"):
            stack = ctx.avps.get(self.avps[key] or "", []) if self.avps[key] else []
            if stack:
                stack.pop(0)
        if not dst or not isinstance(dst[0], str):
            return -1
        socks = ctx.avps.get(self.avps["sock"] or "", [])
        sock_text = socks.pop(0) if socks else ""
        socket = None
        if sock_text:
            from opensips_py.script.pv_core import find_socket
            socket = find_socket(ctx, sock_text)
        self._update_dst(ctx, dst[0], socket, domain)
        return 1

    def ds_mark_dst(self, ctx, state: str | None = None, partition: str | None = None) -> int:
        if not self._partition_ok(partition):
            return -1
        grp = ctx.avps.get(self.avps["grp"] or "", [])
        dst = ctx.avps.get(self.avps["dst"] or "", [])
        if not grp or isinstance(grp[0], str) or not dst or not isinstance(dst[0], str):
            return -1
        mode = (state or "i")[0].lower()
        if mode in ("a", "1"):
            ok = self.set_state(grp[0], dst[0], INACTIVE | PROBING, False, "script function ds_mark()")
        elif mode in ("p", "2"):
            ok = self.set_state(grp[0], dst[0], PROBING, True, "script function ds_mark()") and \
                self.set_state(grp[0], dst[0], INACTIVE, False, "script function ds_mark()")
        else:
            ok = self.set_state(grp[0], dst[0], INACTIVE, True, "script function ds_mark()") and \
                self.set_state(grp[0], dst[0], PROBING, False, "script function ds_mark()")
        return 1 if ok else -1

    def set_state(self, group: int, address: str, state: int, on: bool, reason: str) -> bool:
        """ds_set_state(): the destination `address` (its URI, case-insensitive) of `group` gets `state`
        set (on) or cleared; a probing mark counts failures up to ds_probing_threshold first."""
        dest_set = self._set(int(group))
        if dest_set is None:
            return False
        for dest in dest_set.dests:
            if dest.uri.lower() != address.lower():
                continue
            if state == PROBING and on:
                if dest.flags & INACTIVE:
                    return True
                dest.failure_count += 1
                if dest.failure_count < self.probing_threshold:
                    return True
                dest.failure_count = self.probing_threshold
            if state & RESET_FAIL:
                dest.failure_count = 0
                state &= ~RESET_FAIL
            before = dest.flags
            dest.flags = dest.flags | state if on else dest.flags & ~state
            if dest.flags != before:
                if bool(before & (INACTIVE | PROBING)) != bool(dest.flags & (INACTIVE | PROBING)):
                    dest_set.recalculate()
                self._log(3, f"DESTINATION <{address}>, set {dest_set.id} switched to "
                             f"[{'inactive' if on else 'active'}] due to {reason}")
            return True
        return False

    def ds_is_in_list(self, ctx, ip: str, port: int, set_id: int | None = None, partition: str | None = None,
                      active_only: int | None = None, pattern: str | None = None) -> int:
        if not self._partition_ok(partition):
            return -1
        try:
            address = _ipaddress.ip_address(ip.strip("[]"))
        except ValueError:
            self._log(-1, f"IP val is not IP <{ip}>")
            return -1
        wanted = -1 if set_id is None else set_id
        for dest_set in self.sets:
            if wanted not in (-1, dest_set.id):
                continue
            for dest in dest_set.dests:
                for dest_ip, dest_port in dest.addresses:
                    if not (dest_port == 0 or port == 0 or port == dest_port):
                        continue
                    try:
                        if _ipaddress.ip_address(dest_ip) != address:
                            continue
                    except ValueError:
                        continue
                    if active_only and not dest.active:
                        continue
                    if pattern and (not dest.attrs or not _fnmatch.fnmatchcase(dest.attrs, pattern)):
                        continue
                    return 1
        return -1

    def ds_count(self, ctx, set_id: int, state_filter: str, result, partition: str | None = None) -> int:
        if not self._partition_ok(partition):
            return -1
        dest_set = self._set(set_id)
        if dest_set is None:
            return -1
        letters = state_filter.lower()
        want_active = "a" in letters or "1" in letters
        want_inactive = "i" in letters or "0" in letters
        want_probing = "p" in letters or "2" in letters
        count = 0
        for dest in dest_set.dests:
            if (dest.active and want_active) or (dest.flags & INACTIVE and want_inactive) or \
                    (dest.flags & PROBING and not dest.flags & INACTIVE and want_probing):
                count += 1
        result.set(ctx, count)
        return 1

    # ---------------------------------------------------------------------------------- probing
    def _probe_round(self, now: float) -> None:
        self.core.add_timer(now + self.ping_interval, self._probe_round)
        from opensips_py.modules.tm import LocalRequest, TMCB
        for dest_set in self.sets:
            for dest in dest_set.dests:
                if dest.flags & INACTIVE:
                    continue
                if not (self.probing_mode == 1 or dest.flags & (PROBING | PROBING_PERM)):
                    continue
                always = self.probing_mode == 1 or bool(dest.flags & PROBING_PERM)
                request = LocalRequest(method=self.ping_method, ruri=dest.uri,
                                       from_=f"<{self.ping_from}>;tag={_secrets.token_hex(8)}", to=f"<{dest.uri}>",
                                       socket=dest.socket)

                def answered(t, p, set_id=dest_set.id, uri=dest.uri, always=always) -> None:
                    if p.type & TMCB.LOCAL_COMPLETED:
                        self._probe_answered(set_id, uri, p.code, always)

                self.tm.t_uac(request, callback=answered)

    def _probe_answered(self, set_id: int, uri: str, code: int, always: bool) -> None:
        if code == 200 or code in self.reply_codes:
            self.set_state(set_id, uri, INACTIVE | PROBING | RESET_FAIL, False, "200 OK probing reply")
        if always and code != 200 and (code == 408 or code not in self.reply_codes):
            self.set_state(set_id, uri, PROBING, True, "negative probing reply")

    # ---------------------------------------------------------------------------------- MI
    def mi_commands(self) -> dict:
        return {"ds_list": self._mi_list, "ds_reload": self._mi_reload, "ds_set_state": self._mi_set_state}

    @staticmethod
    def _arg(params, name: str, position: int):
        if isinstance(params, dict):
            return params.get(name)
        return params[position] if isinstance(params, (list, tuple)) and len(params) > position else None

    def _mi_list(self, params) -> dict:
        partition = self._arg(params, "partition", 0)
        if partition is not None and partition != "default":
            raise MIError(500, "ERROR Unknown partition")
        try:
            full = int(self._arg(params, "full", 1) or 0)
        except (TypeError, ValueError):
            raise MIError(-32602, details="Bad type for parameter 'full'") from None

        def dest_item(dest: Destination) -> dict:
            item: dict[str, _Any] = {"URI": dest.uri, "state": dest.state, "first_hit_counter": dest.chosen_count}
            if dest.socket is not None:
                item["socket"] = dest.socket_text
            if dest.attrs:
                item["attr"] = dest.attrs
            if full:
                item["weight"] = dest.weight
                item["priority"] = dest.priority
                if dest.description:
                    item["description"] = dest.description
            item["resolved_addresses"] = [f"{ip}:{port}" for ip, port in dest.addresses]
            return item

        return {"PARTITIONS": [{"name": "default", "SETS": [
            {"id": s.id, "Destinations": [dest_item(d) for d in s.dests]} for s in self.sets]}]}

    def _mi_reload(self, params) -> str:
        partition = self._arg(params, "partition", 0)
        if partition is not None and partition != "default":
            raise MIError(500, "ERROR Unknown partition")
        inherit = str(self._arg(params, "inherit_state", 1) or "1") not in ("0", "")
        old = {(s.id, d.uri): d.flags for s in self.sets for d in s.dests}
        try:
            sets = self._load()
        except (DatabaseError, ValueError) as exc:
            raise MIError(500, "ERROR Reloading data") from exc
        if inherit:
            for dest_set in sets:
                for dest in dest_set.dests:
                    if (dest_set.id, dest.uri) in old:
                        dest.flags = (dest.flags & ~(INACTIVE | PROBING)) | \
                            (old[(dest_set.id, dest.uri)] & (INACTIVE | PROBING))
                dest_set.recalculate()
        self.sets = sets
        return "OK"

    def _mi_set_state(self, params) -> str:
        state = str(self._arg(params, "state", 0) or "")
        if not state or state[0].lower() not in "0i2p1a":
            raise MIError(500, "Bad state value")
        group_text = self._arg(params, "group", 1)
        if group_text is None:
            raise MIError(500, "group not found")
        partition, _, number = str(group_text).rpartition(":")
        if partition and partition != "default":
            raise MIError(404, "ERROR Unknown partition")
        if not number.isdigit():
            raise MIError(500, "bad group value")
        group = int(number)
        address = self._arg(params, "address", 2)
        if not address:
            raise MIError(500, "address not found")
        letter = state[0].lower()
        if letter in ("a", "1"):
            ok = self.set_state(group, address, INACTIVE | PROBING, False, "MI command")
        elif letter in ("p", "2"):
            ok = self.set_state(group, address, PROBING, True, "MI command") and \
                self.set_state(group, address, INACTIVE, False, "MI command")
        else:
            ok = self.set_state(group, address, INACTIVE, True, "MI command") and \
                self.set_state(group, address, PROBING, False, "MI command")
        if not ok:
            raise MIError(404, "destination not found")
        return "OK"


class _SocketLookup:
    """Enough of a MsgContext for find_socket() at start-up: the process that knows the core's sockets."""

    def __init__(self, core) -> None:
        self.process = type("P", (), {"core": core})()
