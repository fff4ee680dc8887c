"""What the management interface needs from the proxy, and where the transports find the registry.

The live host (opensips_py.runtime) builds one `MIHost` and one registry at start-up:

    host = MIHost(argv=sys.argv, reload_routes=runtime.reload_routes, on_log_level=runtime.set_log_level)
    registry = build_registry(host, modules.values())   # core commands + every module's mi_commands()
    core.mi = registry                                  # the MI transports look here

and then runs every module's `serve()` in its nursery: httpd's serve() is the HTTP listener (mi_http hangs
the JSON-RPC endpoint on it), mi_fifo's serve() the FIFO reader. When `core.mi` is missing (tests, or a
runtime that did not wire it yet) `registry_of(core)` builds one from `core.modules` with a default host.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from opensips_py.mi.registry import MIRegistry
from opensips_py.mi.statistics import Statistics


@dataclass
class ProcessEntry:
    """One line of `ps`: OpenSIPS lists its processes; we list the logical workers of our one process."""

    id: int
    pid: int
    type: str
    log_level: int | None = None


@dataclass
class MIHost:
    """The proxy as the core MI commands see it. Every field has a usable default."""

    argv: list[str] = field(default_factory=lambda: ["opensips-py"])
    started_at: float = field(default_factory=time.time)
    statistics: Statistics | None = None
    log_level: int = 3
    xlog_level: int = 3
    reload_routes: Callable[[], Any] | None = None  # raises (or returns False) when the reload fails
    on_log_level: Callable[[int], None] | None = None
    processes: list[ProcessEntry] = field(default_factory=list)
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if self.statistics is None:
            self.statistics = Statistics(clock=self.clock)
        if not self.processes:
            self.add_process("attendant")

    def add_process(self, description: str) -> ProcessEntry:
        """Register a worker shown by `ps` ("SIP receiver udp:127.0.0.1:5060", "HTTPD 127.0.0.1:8888")."""
        entry = ProcessEntry(id=len(self.processes), pid=os.getpid(), type=description)
        self.processes.append(entry)
        return entry

    def remove_process(self, entry: ProcessEntry) -> None:
        if entry in self.processes:
            self.processes.remove(entry)

    def set_log_level(self, level: int) -> None:
        self.log_level = level
        for entry in self.processes:
            entry.log_level = None
        if self.on_log_level is not None:
            self.on_log_level(level)


def build_registry(host: MIHost, modules: Iterable[Any] = ()) -> MIRegistry:
    """A registry with the core commands and every module's commands and statistics."""
    from opensips_py.mi.core_commands import register_core_commands

    registry = MIRegistry()
    registry.host = host  # type: ignore[attr-defined]
    register_core_commands(registry, host)
    for module in modules:
        host.statistics.register_module(module)
        registry.register_module(module)
    return registry


def registry_of(core: Any) -> MIRegistry:
    """The registry of this proxy: `core.mi`, or one built (and attached) from `core.modules`."""
    registry = getattr(core, "mi", None)
    if isinstance(registry, MIRegistry):
        return registry
    modules = getattr(core, "modules", None) or {}
    instances = modules.values() if isinstance(modules, dict) else modules
    registry = build_registry(host_for_core(core), instances)
    try:
        core.mi = registry
    except AttributeError:
        pass
    return registry


def host_for_core(core: Any) -> MIHost:
    """An MIHost reading what a proxy core exposes, when the core did not build its own: its `stats` dict
    (core counters, reset in place), its log level (`settings.log_level`, `logger`, `process`), its sockets
    (one `ps` line each) and `reload_routes()` if it has one."""
    import sys

    stats = Statistics(core_groups=not isinstance(getattr(core, "stats", None), dict))
    if isinstance(getattr(core, "stats", None), dict):
        stats.register_mapping("core", core.stats)
        for name in ("waiting_udp", "waiting_tcp", "waiting_tls"):
            stats.register_func("net", name, lambda: 0)

    def set_level(level: int) -> None:
        for holder in (getattr(core, "logger", None), getattr(core, "process", None),
                       getattr(core, "settings", None)):
            if holder is not None and hasattr(holder, "log_level"):
                holder.log_level = level

    level = getattr(getattr(core, "settings", None), "log_level", 3)
    reload_hook = getattr(core, "reload_routes", None)
    host = MIHost(argv=list(sys.argv), statistics=stats, log_level=int(level) if isinstance(level, int) else 3,
                  on_log_level=set_level, reload_routes=reload_hook if callable(reload_hook) else None)
    for sock in getattr(core, "sockets", None) or ():
        host.add_process(f"SIP receiver {sock}")
    host.add_process("timer")
    return host


def host_of(registry: MIRegistry) -> MIHost:
    host = getattr(registry, "host", None)
    if host is None:
        host = registry.host = MIHost()  # type: ignore[attr-defined]
    return host


def find_module(core: Any, name: str) -> Any | None:
    """Another loaded module's instance (mi_http looks up httpd): `core.module(name)` when the core has
    it, else `core.modules[name]`."""
    lookup = getattr(core, "module", None)
    if callable(lookup):
        try:
            found = lookup(name)
        except (KeyError, LookupError):
            found = None
        if found is not None:
            return found
    modules = getattr(core, "modules", None)
    if isinstance(modules, dict):
        return modules.get(name)
    for module in modules or ():
        if getattr(getattr(module, "exports", None), "name", None) == name:
            return module
    return None
