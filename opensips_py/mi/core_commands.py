"""The core's MI commands, with OpenSIPS's names, recipes and result shapes (mi/mi_core.c and statistics.c,
3.6; the 4.0 names `core:…` and `statistics:get`, … resolve to them as well).
"""
from __future__ import annotations

import os
import platform
import time
from typing import Any

from opensips_py import __version__
from opensips_py.mi.errors import INVALID_PARAMS, MIError
from opensips_py.mi.host import MIHost
from opensips_py.mi.params import get_int, get_str, get_str_array, recipes
from opensips_py.mi.registry import MIRegistry

OK = "OK"


def server_string() -> str:
    """What OpenSIPS puts after "Server: " ("OpenSIPS (3.6.0 (x86_64/linux))"), for us."""
    return f"opensips-py ({__version__} ({platform.machine()}/{platform.system().lower()}))"


def _ctime(epoch: float) -> str:
    return time.ctime(epoch)


def register_core_commands(registry: MIRegistry, host: MIHost) -> None:
    """Register the core commands on `registry`, reading and changing `host`."""
    stats = host.statistics
    assert stats is not None

    @recipes(())
    def uptime(_: dict) -> dict[str, Any]:
        now = host.clock()
        return {"Now": _ctime(now), "Up since": _ctime(host.started_at),
                "Up time": f"{int(now - host.started_at)} [sec]"}

    @recipes((), ("revision",))
    def version(params: dict) -> dict[str, Any]:
        result: dict[str, Any] = {"Server": server_string()}
        if "revision" in params:
            result["Revision"] = __version__
        return result

    @recipes(())
    def pwd(_: dict) -> dict[str, Any]:
        return {"WD": os.getcwd()}

    @recipes(())
    def arg(_: dict) -> list[str]:
        return list(host.argv)

    @recipes((), ("command",))
    def which(params: dict) -> list[Any]:
        if "command" not in params:
            return registry.names()
        try:
            command = registry.lookup(get_str(params, "command"))
        except MIError:
            raise MIError(404, "unknown MI command") from None
        if command.recipes is None:
            return []
        return [list(recipe) for recipe in command.recipes]

    @recipes((), ("mi_cmd",))
    def help_(params: dict) -> Any:
        if "mi_cmd" not in params:
            return "Usage: help mi_cmd - returns information about 'mi_cmd'"
        try:
            command = registry.lookup(get_str(params, "mi_cmd"))
        except MIError:
            raise MIError(404, "unknown MI command") from None
        return {"Help": command.doc or "not available for this command",
                "Exported by": command.module}

    @recipes(())
    def ps(_: dict) -> dict[str, Any]:
        return {"Processes": [{"ID": p.id, "PID": p.pid, "Type": p.type} for p in host.processes]}

    @recipes((), ("level",), ("level", "pid"))
    def log_level(params: dict) -> dict[str, Any]:
        if "level" not in params:
            return {"Processes": [{"PID": p.pid, "Log level": host.log_level if p.log_level is None
                                   else p.log_level, "Type": p.type} for p in host.processes]}
        level = get_int(params, "level")
        if "pid" in params:
            pid = get_int(params, "pid")
            entries = [p for p in host.processes if p.pid == pid]
            if not entries:
                raise MIError(INVALID_PARAMS, details="Bad PID")
            # every logical worker lives in this one process: the level is the process's own
            host.set_log_level(level)
            return {"Log level": level}
        host.set_log_level(level)
        return {"New global log level": level}

    @recipes((), ("level",))
    def xlog_level(params: dict) -> dict[str, Any]:
        if "level" not in params:
            return {"xLog Level": host.xlog_level}
        host.xlog_level = get_int(params, "level")
        return {"New xLog level": host.xlog_level}

    @recipes(())
    def reload_routes(_: dict) -> str:
        if host.reload_routes is None:
            raise MIError(500, "reload failed")
        try:
            outcome = host.reload_routes()
        except Exception:
            raise MIError(500, "reload failed") from None
        if outcome is False:
            raise MIError(500, "reload failed")
        return OK

    @recipes(("statistics",))
    def get_statistics(params: dict) -> dict[str, int]:
        result: dict[str, int] = {}
        found = False
        for wanted in get_str_array(params, "statistics"):
            if wanted == "all":
                for stat in stats.all():
                    result[stat.full_name] = stat.get()
                found = True
            elif len(wanted) > 1 and wanted.endswith(":"):
                group = stats.group(wanted[:-1])
                if group is None:
                    continue
                for stat in group.stats.values():
                    result[stat.full_name] = stat.get()
                found = True
            else:
                stat = stats.find(wanted)
                if stat is None:
                    continue
                result[stat.full_name] = stat.get()
                found = True
        if not found:
            raise MIError(404, "Statistics Not Found")
        return result

    def _kind(stat) -> str:
        return "incremental" if stat.incremental else "non-incremental"

    @recipes((), ("statistics",))
    def list_statistics(params: dict) -> dict[str, str]:
        if "statistics" not in params:
            return {stat.full_name: _kind(stat) for stat in stats.all()}
        result: dict[str, str] = {}
        found = False
        for wanted in get_str_array(params, "statistics"):
            if len(wanted) > 1 and wanted.endswith(":"):
                group = stats.group(wanted[:-1])
                if group is None:
                    continue
                result.update({stat.full_name: _kind(stat) for stat in group.stats.values()})
                found = True
            else:
                stat = stats.find(wanted)
                if stat is None:
                    continue
                result[stat.name] = _kind(stat)  # OpenSIPS prints a single one without its group
                found = True
        if not found:
            raise MIError(404, "Statistics Not Found")
        return result

    @recipes(("statistics",))
    def reset_statistics(params: dict) -> str:
        found = False
        for wanted in get_str_array(params, "statistics"):
            stat = stats.find(wanted)
            if stat is None:
                continue
            stat.reset()
            found = True
        if not found:
            raise MIError(404, "Statistics Not Found")
        return OK

    @recipes(())
    def reset_all_statistics(_: dict) -> str:
        for stat in stats.all():
            stat.reset()
        return OK

    for name, handler in (("uptime", uptime), ("version", version), ("pwd", pwd), ("arg", arg),
                          ("which", which), ("ps", ps), ("log_level", log_level), ("xlog_level", xlog_level),
                          ("reload_routes", reload_routes), ("help", help_)):
        registry.register(name, handler, "core")
    for name, local, handler in (("get_statistics", "get", get_statistics),
                                 ("list_statistics", "list", list_statistics),
                                 ("reset_statistics", "reset", reset_statistics),
                                 ("reset_all_statistics", "reset_all", reset_all_statistics)):
        registry.register(name, handler, "statistics", alias_4_0=f"statistics:{local}")
