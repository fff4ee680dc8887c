"""Statistics: named counters by OpenSIPS group and name, as MI get_statistics and prometheus show them.

OpenSIPS keeps every statistic in a group (the module name, or "core", "net", a script group) and prints
it as "group:name" (statistics.c). A statistic is either a counter that code bumps (resettable unless
declared no-reset), or a function read when asked (never reset: "non-incremental" in list_statistics).

Who feeds it:
  - the core: `stats.counter("core", "rcv_requests").inc()`;
  - a module: declared names from its exports table (`stats=(...)`) are registered at start-up by
    `register_module()`: if the module implements `stats()` the values are read from it, otherwise they
    are counters the module bumps with `stats.counter(<module>, <name>)`.
Lookups by a bare name are case-insensitive and take the first group that has it, as OpenSIPS's get_stat().
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

# OpenSIPS's core groups (core_stats.c): what a fresh proxy lists before any module registers its own.
CORE_STATS = ("rcv_requests", "rcv_replies", "fwd_requests", "fwd_replies", "drop_requests", "drop_replies",
              "err_requests", "err_replies", "bad_URIs_rcvd", "bad_msg_hdr", "slow_messages")
NET_STATS = ("waiting_udp", "waiting_tcp", "waiting_tls")


@dataclass
class Stat:
    """One statistic. `read` makes it a function statistic (value computed on demand, never reset)."""

    group: str
    name: str
    value: int = 0
    no_reset: bool = False
    read: Callable[[], int] | None = None
    write: Callable[[int], None] | None = None  # with read: a value kept elsewhere that can be reset

    @property
    def full_name(self) -> str:
        return f"{self.group}:{self.name}"

    @property
    def incremental(self) -> bool:
        """list_statistics' word: a resettable counter is "incremental", the rest "non-incremental"."""
        return (self.read is None or self.write is not None) and not self.no_reset

    def get(self) -> int:
        if self.read is not None:
            try:
                return int(self.read())
            except Exception:  # a broken reader must not break get_statistics "all"
                return 0
        return self.value

    def inc(self, amount: int = 1) -> None:
        self.value += amount

    def dec(self, amount: int = 1) -> None:
        self.value -= amount

    def set(self, value: int) -> None:
        self.value = value

    def reset(self) -> None:
        if not self.incremental:
            return
        if self.write is not None:
            self.write(0)
        else:
            self.value = 0


@dataclass
class StatGroup:
    name: str
    stats: dict[str, Stat] = field(default_factory=dict)  # by lower-case name, in registration order


class Statistics:
    """Every statistic of one proxy, in registration order of groups and names."""

    def __init__(self, core_groups: bool = True, clock: Callable[[], float] | None = None):
        self._groups: dict[str, StatGroup] = {}
        if core_groups:
            for name in CORE_STATS:
                self.counter("core", name)
            if clock is not None:
                started = clock()
                self.register_func("core", "timestamp", lambda: int(clock() - started))
            for name in NET_STATS:
                self.register_func("net", name, lambda: 0)

    # ------------------------------------------------------------------------------------------ registering
    def _group(self, group: str) -> StatGroup:
        found = self._groups.get(group.lower())
        if found is None:
            found = self._groups[group.lower()] = StatGroup(group)
        return found

    def counter(self, group: str, name: str, no_reset: bool = False) -> Stat:
        """The counter group:name, created at 0 on first use."""
        grp = self._group(group)
        stat = grp.stats.get(name.lower())
        if stat is None:
            stat = grp.stats[name.lower()] = Stat(grp.name, name, no_reset=no_reset)
        return stat

    def register_func(self, group: str, name: str, read: Callable[[], int]) -> Stat:
        grp = self._group(group)
        stat = grp.stats[name.lower()] = Stat(grp.name, name, read=read)
        return stat

    def register_mapping(self, group: str, values: dict[str, int]) -> None:
        """Statistics kept in someone else's dict (the runtime's core counters): read and reset there."""
        grp = self._group(group)
        for name in values:
            grp.stats[name.lower()] = Stat(grp.name, name, read=lambda n=name: values.get(n, 0),
                                           write=lambda v, n=name: values.__setitem__(n, v))

    def register_module(self, module: Any) -> None:
        """Register the statistics a module's exports table declares (see the module docstring)."""
        exports = getattr(module, "exports", None)
        names = tuple(getattr(exports, "stats", ()) or ())
        if not names:
            return
        group = exports.name
        reader = getattr(type(module), "stats", None)
        overridden = reader is not None and getattr(reader, "__qualname__", "") != "ModuleBase.stats"
        for name in names:
            if overridden:
                self.register_func(group, name, lambda n=name: module.stats().get(n, 0))
            else:
                self.counter(group, name)

    # ------------------------------------------------------------------------------------------ lookups
    def groups(self) -> Iterator[StatGroup]:
        return iter(self._groups.values())

    def group(self, name: str) -> StatGroup | None:
        return self._groups.get(name.lower())

    def find(self, name: str) -> Stat | None:
        """A statistic by bare name ("active_dialogs") or "group:name"; case-insensitive."""
        if ":" in name:
            group, _, short = name.partition(":")
            grp = self.group(group)
            return grp.stats.get(short.lower()) if grp else None
        for grp in self._groups.values():
            stat = grp.stats.get(name.lower())
            if stat is not None:
                return stat
        return None

    def all(self) -> Iterator[Stat]:
        for grp in self._groups.values():
            yield from grp.stats.values()

    def value(self, name: str) -> int | None:
        stat = self.find(name)
        return stat.get() if stat else None
