"""One lookup over every exports table: which module offers a function, a pseudo-variable, a transformation.

Built once per process from opensips_py.modules (the same tables the interpreter binds to).
"""
from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass

from opensips_py.modules import core, exports_of, known_modules
from opensips_py.modules.exports import Function, ModParam, ModuleExports, PseudoVar, Transformation, VersionSpan


@dataclass(frozen=True)
class Offer:
    """Something a module offers, and which module ("core" for the core)."""

    module: str
    item: object


@dataclass
class ExportsIndex:
    modules: dict[str, ModuleExports]
    functions: dict[str, list[Offer]]
    pvars: dict[str, list[Offer]]
    transformations: dict[str, list[Offer]]
    transformation_classes: dict[str, set[str]]


@functools.cache
def exports_index() -> ExportsIndex:
    modules: dict[str, ModuleExports] = {}
    functions: dict[str, list[Offer]] = defaultdict(list)
    pvars: dict[str, list[Offer]] = defaultdict(list)
    transformations: dict[str, list[Offer]] = defaultdict(list)
    classes: dict[str, set[str]] = defaultdict(set)
    tables = [("core", core.EXPORTS)] + [(name, exports_of(name)) for name in known_modules()]
    for name, table in tables:
        if table is None:
            continue
        if name != "core":
            modules[name] = table
        for function in table.functions:
            functions[function.name].append(Offer(name, function))
        for pvar in table.pvars:
            pvars[pvar.name.lstrip("$")].append(Offer(name, pvar))
        for tr in table.transformations:
            transformations[tr.name.lower()].append(Offer(name, tr))
            classes[tr.name.split(".", 1)[0].lower()].add(name)
    return ExportsIndex(modules, dict(functions), dict(pvars), dict(transformations), dict(classes))


def in_version(span: VersionSpan, target: str | None) -> bool:
    """Does `span` include the target? With no target (our dialect) every tracked version counts."""
    return True if target is None else span.includes(target)


def function_offers(name: str, target: str | None = None) -> list[Offer]:
    return [o for o in exports_index().functions.get(name, []) if in_version(o.item.versions, target)]


def module_params(module: str) -> tuple[ModParam, ...]:
    table = exports_index().modules.get(module)
    return table.params if table else ()


def pvar_offers(name: str) -> list[Offer]:
    return exports_index().pvars.get(name, [])


def transformation_offers(name: str) -> list[Offer]:
    return exports_index().transformations.get(name.lower(), [])


__all__ = ["Offer", "ExportsIndex", "exports_index", "in_version", "function_offers", "module_params",
           "pvar_offers", "transformation_offers", "Function", "PseudoVar", "Transformation"]
