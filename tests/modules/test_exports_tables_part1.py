"""The exports tables of the SIP-core modules (part 1): each imports, is well-formed, and covers the reference.

The reference (shared/reference/opensips-modules.md) names the functions and modparams a config may use;
every one of them must be in a table, or be listed below as deliberately not an export, with the reason.
"""
from __future__ import annotations

import importlib
import itertools

import pytest

from opensips_py.modules import exports_of, known_modules
from opensips_py.modules.exports import (
    VERSIONS, ArgKind, Dependency, Function, ModuleExports, ModParam, RouteType, VersionSpan, version_key,
)

PART1_MODULES = (
    "tm", "sl", "signaling", "rr", "usrloc", "registrar", "dialog", "rtpengine", "rtp_relay", "nathelper",
    "textops", "sipmsgops", "auth", "auth_db", "uac", "uac_auth", "dispatcher", "drouting",
)


def _table(name: str) -> ModuleExports:
    return importlib.import_module(f"opensips_py.modules.{name}").EXPORTS


def _overlap(a: VersionSpan, b: VersionSpan) -> bool:
    return any(a.includes(v) and b.includes(v) for v in VERSIONS)


@pytest.mark.parametrize("name", PART1_MODULES)
def test_table_is_found_by_the_registry_under_its_module_name(name: str) -> None:
    assert name in known_modules()
    table = exports_of(name)
    assert isinstance(table, ModuleExports)
    assert table.name == name


@pytest.mark.parametrize("name", PART1_MODULES)
def test_module_file_has_a_one_line_docstring_naming_the_module(name: str) -> None:
    doc = importlib.import_module(f"opensips_py.modules.{name}").__doc__ or ""
    assert doc.startswith(f"{name}: ")
    assert "\n" not in doc.strip()


@pytest.mark.parametrize("name", PART1_MODULES)
def test_function_names_are_unique_per_version(name: str) -> None:
    table = _table(name)
    for a, b in itertools.combinations(table.functions, 2):
        assert not (a.name == b.name and _overlap(a.versions, b.versions)), f"{name}.{a.name} twice"


@pytest.mark.parametrize("name", PART1_MODULES)
def test_param_names_are_unique_per_version(name: str) -> None:
    table = _table(name)
    for a, b in itertools.combinations(table.params, 2):
        assert not (a.name == b.name and _overlap(a.versions, b.versions)), f"{name}.{a.name} twice"


@pytest.mark.parametrize("name", PART1_MODULES)
def test_pvar_and_mi_names_are_unique_per_version(name: str) -> None:
    table = _table(name)
    for kind in (table.pvars, table.mi):
        for a, b in itertools.combinations(kind, 2):
            assert not (a.name == b.name and _overlap(a.versions, b.versions)), f"{name}: {a.name} twice"
    assert len(set(table.stats)) == len(table.stats)


def _spans(table: ModuleExports) -> list[VersionSpan]:
    items = [*table.functions, *table.params, *table.pvars, *table.mi, table]
    return [item.versions for item in items]


@pytest.mark.parametrize("name", PART1_MODULES)
def test_version_spans_name_tracked_versions_and_are_not_empty(name: str) -> None:
    for span in _spans(_table(name)):
        for bound in (span.since, span.until):
            assert bound is None or bound in VERSIONS
        if span.since and span.until:
            assert version_key(span.since) < version_key(span.until)
        assert any(span.includes(v) for v in VERSIONS)


@pytest.mark.parametrize("name", PART1_MODULES)
def test_functions_are_well_formed(name: str) -> None:
    for function in _table(name).functions:
        assert isinstance(function, Function)
        assert function.name.isidentifier()
        assert function.min_args <= function.max_args
        assert int(function.routes) != 0 and not function.routes & ~RouteType.ALL
        arg_names = [arg.name for arg in function.args]
        assert len(set(arg_names)) == len(arg_names), f"{function.name}: duplicate argument names"
        for arg in function.args:
            assert arg.name.isidentifier()
            assert (arg.kind is ArgKind.ROUTE) == (arg.route_kind is not None), f"{function.name}.{arg.name}"
            if arg.route_kind is not None:
                assert arg.route_kind in ("route", "failure_route", "onreply_route", "branch_route")
            if arg.choices:
                assert arg.kind is ArgKind.STR, f"{function.name}.{arg.name}: choices on a non-string"
        if function.renamed_to is not None:
            assert function.versions.until is not None


@pytest.mark.parametrize("name", PART1_MODULES)
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


@pytest.mark.parametrize("name", PART1_MODULES)
def test_dependencies_name_known_params(name: str) -> None:
    table = _table(name)
    param_names = {param.name for param in table.params}
    for dep in table.deps:
        assert isinstance(dep, Dependency)
        assert dep.any_of
        if dep.when_param is not None:
            assert dep.when_param in param_names, f"{name}: dependency on unknown param {dep.when_param}"
        else:
            assert not dep.unless_values


@pytest.mark.parametrize("name", PART1_MODULES)
def test_mi_commands_have_a_namespaced_4_0_name(name: str) -> None:
    for command in _table(name).mi:
        if command.versions.includes("4.0"):
            assert command.alias_4_0 is not None and command.alias_4_0.startswith(f"{name}:")
