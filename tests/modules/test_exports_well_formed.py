"""Every module's exports table is well-formed: the one set of checks, run over every table we ship.

The checker, the interpreter and the generated docs all read these tables, so a malformed entry (a name
twice in one version, a version bound we do not track, a dependency on a parameter that does not exist, a
4.0 MI name outside the module's namespace) would mislead all three at once.
"""
from __future__ import annotations

import importlib
import itertools

import pytest

from opensips_py.modules import exports_of, known_modules
from opensips_py.modules.exports import (
    ArgKind, Dependency, Function, ModParam, ModuleExports, RouteType, VersionSpan, version_key,
)

# Every OpenSIPS branch a table may name as a bound: the targets, the releases between them (so that
# "added in 3.5" stays exact) and 2.4, the last release of the modules removed in 3.0 (uri).
BRANCHES = ("2.4", "3.0", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "4.0")

MODULES = tuple(name for name in known_modules() if exports_of(name) is not None)


def _table(name: str) -> ModuleExports:
    return importlib.import_module(f"opensips_py.modules.{name}").EXPORTS


def _overlap(a: VersionSpan, b: VersionSpan) -> bool:
    return any(a.includes(v) and b.includes(v) for v in BRANCHES)


def _mi_namespace(module: str) -> str:
    """4.0 namespaces MI commands by module name, without the proto_ prefix (mi/mi.c)."""
    return module.removeprefix("proto_")


def test_the_registry_finds_the_tables_of_the_core_sip_modules() -> None:
    assert {"tm", "sl", "rr", "dialog", "usrloc", "registrar", "rtpengine", "proto_udp", "acc"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_table_is_found_by_the_registry_under_its_module_name(name: str) -> None:
    table = exports_of(name)
    assert isinstance(table, ModuleExports)
    assert table.name == name


@pytest.mark.parametrize("name", MODULES)
def test_module_file_docstring_opens_with_a_line_naming_the_module(name: str) -> None:
    doc = importlib.import_module(f"opensips_py.modules.{name}").__doc__ or ""
    first = doc.strip().split("\n", 1)[0]
    assert first.startswith(f"{name}: ") and first.endswith(".")


@pytest.mark.parametrize("name", MODULES)
def test_names_are_unique_per_version(name: str) -> None:
    table = _table(name)
    for kind in (table.functions, table.params, table.pvars, table.mi):
        for a, b in itertools.combinations(kind, 2):
            assert not (a.name == b.name and _overlap(a.versions, b.versions)), f"{name}: {a.name} twice"
    assert len(set(table.stats)) == len(table.stats)


@pytest.mark.parametrize("name", MODULES)
def test_version_spans_name_known_branches_and_meet_the_module(name: str) -> None:
    table = _table(name)
    assert any(table.versions.includes(v) for v in BRANCHES)
    for item in (*table.functions, *table.params, *table.pvars, *table.mi):
        span = item.versions
        for bound in (span.since, span.until):
            assert bound is None or bound in BRANCHES, f"{name}.{item.name}: {bound}"
        if span.since and span.until:
            assert version_key(span.since) < version_key(span.until)
        assert any(span.includes(v) and table.versions.includes(v) for v in BRANCHES), \
            f"{name}.{item.name} never exists while the module does"


@pytest.mark.parametrize("name", MODULES)
def test_functions_are_well_formed(name: str) -> None:
    for function in _table(name).functions:
        assert isinstance(function, Function)
        assert function.name.isidentifier()
        assert function.min_args <= function.max_args
        assert int(function.routes) != 0 and not function.routes & ~RouteType.ALL
        arg_names = [arg.name for arg in function.args]
        assert len(set(arg_names)) == len(arg_names), f"{function.name}: duplicate argument names"
        for arg in function.args:
            assert arg.name.isidentifier(), f"{function.name}.{arg.name}"
            assert (arg.kind is ArgKind.ROUTE) == (arg.route_kind is not None), f"{function.name}.{arg.name}"
            if arg.route_kind is not None:
                assert arg.route_kind in ("route", "failure_route", "onreply_route", "branch_route")
            if arg.choices:
                assert arg.kind in (ArgKind.STR, ArgKind.FLAG), f"{function.name}.{arg.name}"
        if function.renamed_to is not None:
            assert function.versions.until is not None


@pytest.mark.parametrize("name", MODULES)
def test_params_are_well_formed(name: str) -> None:
    for param in _table(name).params:
        assert isinstance(param, ModParam)
        assert param.name.isidentifier()
        if param.default is not None:
            expected = {"int": int, "str": str}.get(param.type.value, (int, str))
            assert isinstance(param.default, expected), f"{name}.{param.name} default"
        if param.flag_name:
            assert param.type.value in ("str", "str|int")
        if param.renamed_to is not None:
            assert param.versions.until is not None


@pytest.mark.parametrize("name", MODULES)
def test_dependencies_name_params_of_the_module(name: str) -> None:
    table = _table(name)
    param_names = {param.name for param in table.params}
    for dep in table.deps:
        assert isinstance(dep, Dependency)
        assert dep.any_of and name not in dep.any_of
        if dep.when_param is not None:
            assert dep.when_param in param_names, f"{name}: dependency on unknown param {dep.when_param}"
        else:
            assert not dep.unless_values


@pytest.mark.parametrize("name", MODULES)
def test_mi_commands_in_4_0_have_their_namespaced_name(name: str) -> None:
    for command in _table(name).mi:
        if command.versions.includes("4.0"):
            assert command.alias_4_0 is not None
            assert command.alias_4_0.split(":", 1)[0] == _mi_namespace(name), f"{name}: {command.alias_4_0}"
        else:
            assert command.alias_4_0 is None, f"{name}: {command.name} gone in 4.0 but has a 4.0 alias"
