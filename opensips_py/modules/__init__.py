"""OpenSIPS modules in Python: one file per module, named as in OpenSIPS, each with its `EXPORTS` table.

`exports_of("tm")` gives a module's table; `known_modules()` lists every table we have. A module name that
has no table here is unknown to us (check reports it; OpenSIPS would fail to load it).
"""
from __future__ import annotations

import functools
import importlib
import pkgutil

from opensips_py.modules.exports import ModuleExports

# Files in this package that are not module tables.
_NOT_MODULES = {"exports", "names", "kamailio", "not_opensips", "base"}


@functools.cache
def known_modules() -> tuple[str, ...]:
    """Names of every module with an exports table (core excluded), sorted."""
    names = []
    for info in pkgutil.iter_modules(__path__):
        name = info.name
        if name.startswith("_") or name in _NOT_MODULES or name == "core":
            continue
        names.append(name)
    return tuple(sorted(names))


@functools.cache
def exports_of(name: str) -> ModuleExports | None:
    """The exports table of module `name` ("tm", "core"…), or None when we have none."""
    if name != "core" and name not in known_modules():
        return None
    module = importlib.import_module(f"opensips_py.modules.{name}")
    return getattr(module, "EXPORTS", None)


def module_name_from_path(path: str) -> str:
    """'/usr/lib/opensips/modules/tm.so' -> 'tm' (loadmodule takes a file name or a path)."""
    base = path.rsplit("/", 1)[-1]
    return base[:-3] if base.endswith(".so") else base
