"""Loading the config's modules: one instance per `loadmodule` that has a Python implementation.

A module file of opensips_py.modules with a `class Module(ModuleBase)` is implemented (maybe partly: a script
function without a method is "not implemented yet"). A loaded module without that class gets a placeholder,
so the compiler can tell "not implemented in opensips-py yet" from "no loaded module exports it"; such a
module is fine as long as the script calls none of its functions.

`modparam(module, param, value)`: the module name is a case-insensitive extended regex anchored as
`^(module)$` over the loaded modules (OpenSIPS modparam.c), so "tm|sl" sets both.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any, Callable

from opensips_py.config import ast
from opensips_py.config.check.context import walk_nodes
from opensips_py.config.check.exports_index import exports_index
from opensips_py.modules import exports_of
from opensips_py.modules.base import ModuleBase, ModuleInitError
from opensips_py.modules.core import STATEMENT_KEYWORDS


class NotImplementedModule:
    """Stands in for a loaded module that has no Python implementation yet: it offers no function."""

    def __init__(self, name: str) -> None:
        self.name = name

    def function(self, name: str) -> None:
        return None

    def pvars(self) -> dict:
        return {}


def loaded_modules(config: ast.Config) -> list[str]:
    """Module names in loadmodule order, each once."""
    names: list[str] = []
    for stmt in config.statements:
        if isinstance(stmt, ast.LoadModule) and stmt.module not in names:
            names.append(stmt.module)
    return names


def _param_value(node) -> Any:
    if isinstance(node, (ast.Int, ast.Str, ast.FoldedStr)):
        return node.value
    if isinstance(node, ast.Word):
        return node.name
    return node


def module_params(config: ast.Config, names: list[str]) -> dict[str, dict[str, list[Any]]]:
    """Every modparam setting per loaded module, in config order."""
    params: dict[str, dict[str, list[Any]]] = {name: {} for name in names}
    for stmt in config.statements:
        if not isinstance(stmt, ast.ModParam):
            continue
        try:
            pattern = re.compile(f"^({stmt.module.value})$", re.IGNORECASE)
        except re.error:
            continue
        for name in names:
            if pattern.match(name):
                params[name].setdefault(stmt.param.value, []).append(_param_value(stmt.value))
    return params


def implementation_class(name: str) -> type[ModuleBase] | None:
    """The `Module` class of opensips_py.modules.<name>, or None when the module is not implemented."""
    if exports_of(name) is None:
        return None
    module = importlib.import_module(f"opensips_py.modules.{name}")
    cls = getattr(module, "Module", None)
    return cls if isinstance(cls, type) and issubclass(cls, ModuleBase) else None


def instantiate(config: ast.Config, core: Any) -> tuple[dict[str, ModuleBase], dict[str, NotImplementedModule]]:
    """Build every implemented loaded module, publish them as `core.modules`, then init() them in load order
    (so init() may look up the other modules); placeholders for the modules not implemented."""
    names = loaded_modules(config)
    params = module_params(config, names)
    instances: dict[str, ModuleBase] = {}
    placeholders: dict[str, NotImplementedModule] = {}
    for name in names:
        cls = implementation_class(name)
        if cls is None:
            placeholders[name] = NotImplementedModule(name)
        else:
            instances[name] = cls(core, params.get(name, {}))
    core.modules = instances
    for name, instance in instances.items():
        try:
            instance.init()
        except ModuleInitError:
            raise
        except Exception as exc:  # a module bug at start-up is a start-up error, with its name
            raise ModuleInitError(f"{name}: init failed: {exc!r}") from exc
    return instances, placeholders


@dataclass(frozen=True)
class UnimplementedCall:
    """A script call to a function no loaded or known module implements yet."""

    name: str
    modules: tuple[str, ...]
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.name}() ({', '.join(self.modules)})"


def unimplemented_calls(config: ast.Config, core_implements: Callable[[str], bool]) -> list[UnimplementedCall]:
    """Every call, in source order, to a function that some module exports but nobody implements yet.

    Used when a config is refused for other reasons too, so the user sees the whole list at once."""
    function_routes = {r.name for r in config.routes("route") if r.dialect == "function"}
    offers_of = exports_index().functions
    found: list[UnimplementedCall] = []
    for node in walk_nodes(config):
        if not isinstance(node, ast.Call):
            continue
        name = node.name
        if name in STATEMENT_KEYWORDS or name in function_routes:
            continue
        offers = offers_of.get(name)
        if not offers:
            continue
        implemented = False
        for offer in offers:
            if offer.module == "core":
                implemented = implemented or core_implements(name)
            else:
                cls = implementation_class(offer.module)
                implemented = implemented or (cls is not None and callable(getattr(cls, name, None)))
        if not implemented:
            modules = tuple(sorted({offer.module for offer in offers}))
            found.append(UnimplementedCall(name, modules, node.pos.file, node.pos.line))
    found.sort(key=lambda call: (call.file, call.line, call.name))
    return found
