"""The exports tables of the transport, TLS, management, database and service modules (part 2).

Each table imports, is well-formed, and covers the reference: every function, modparam, pseudo-variable
and MI command that shared/reference/opensips-modules.md names for one of these modules is in its table,
or is listed in NOT_EXPORTS below with the reason.
"""
from __future__ import annotations

from tests import shared
import importlib
import itertools
import re
from pathlib import Path

import pytest

from opensips_py.modules import exports_of, known_modules
from opensips_py.modules._docgen import render_module_doc, render_page
from opensips_py.modules.exports import (
    ArgKind, Dependency, Function, ModParam, ModuleExports, RouteType, VersionSpan, version_key,
)
from opensips_py.modules.not_opensips import NOT_OPENSIPS_MODULES

# Modules whose tables this part owns (the brief's list plus those loaded by 3+ corpus configs).
PART2_MODULES = (
    "proto_udp", "proto_tcp", "proto_tls", "proto_ws", "proto_wss", "proto_sctp", "proto_hep",
    "tls_mgm", "tls_openssl", "tls_wolfssl", "httpd", "mi_http", "mi_fifo", "mi_datagram", "mi_html",
    "prometheus", "db_sqlite", "db_mysql", "db_postgres", "db_text", "db_flatstore", "db_virtual",
    "cachedb_local", "cachedb_redis", "clusterer", "acc", "cfgutils", "avpops", "sqlops", "dialplan",
    "permissions", "exec", "json", "topology_hiding",
    "uri", "domain", "alias_db", "group", "presence", "pua", "pike", "ratelimit", "siprec",
    "b2b_entities", "b2b_logic", "event_route", "stir_shaken", "rest_client", "statistics", "benchmark",
    "mmgeoip",
    "rtpproxy", "presence_xml", "xcap", "load_balancer", "mi_script", "carrierroute", "msilo", "aaa_diameter",
)

# Every OpenSIPS branch the tables may name as a bound: the targets, the releases between them (so
# that "added in 3.5" stays exact) and 2.4, the last release of modules removed in 3.0 (uri).
BRANCHES = ("2.4", "3.0", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "4.0")

REFERENCE = shared.REFERENCE / "opensips-modules.md"


def _table(name: str) -> ModuleExports:
    return importlib.import_module(f"opensips_py.modules.{name}").EXPORTS


def _overlap(a: VersionSpan, b: VersionSpan) -> bool:
    return any(a.includes(v) and b.includes(v) for v in BRANCHES)


def _mi_namespace(module: str) -> str:
    """4.0 namespaces MI commands by module name, without the proto_ prefix (mi/mi.c)."""
    return module.removeprefix("proto_")


@pytest.mark.parametrize("name", PART2_MODULES)
def test_table_is_found_by_the_registry_under_its_module_name(name: str) -> None:
    assert name in known_modules()
    table = exports_of(name)
    assert isinstance(table, ModuleExports)
    assert table.name == name
    assert table.opensips


@pytest.mark.parametrize("name", PART2_MODULES)
def test_module_file_has_a_one_line_docstring_naming_the_module(name: str) -> None:
    doc = importlib.import_module(f"opensips_py.modules.{name}").__doc__ or ""
    assert doc.startswith(f"{name}: ")
    assert "\n" not in doc.strip()


@pytest.mark.parametrize("name", PART2_MODULES)
def test_names_are_unique_per_version(name: str) -> None:
    table = _table(name)
    for kind in (table.functions, table.params, table.pvars, table.mi):
        for a, b in itertools.combinations(kind, 2):
            assert not (a.name == b.name and _overlap(a.versions, b.versions)), f"{name}: {a.name} twice"
    assert len(set(table.stats)) == len(table.stats)


@pytest.mark.parametrize("name", PART2_MODULES)
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


@pytest.mark.parametrize("name", PART2_MODULES)
def test_functions_are_well_formed(name: str) -> None:
    for function in _table(name).functions:
        assert isinstance(function, Function)
        assert function.name.isidentifier()
        assert int(function.routes) != 0 and not function.routes & ~RouteType.ALL
        arg_names = [arg.name for arg in function.args]
        assert len(set(arg_names)) == len(arg_names), f"{function.name}: duplicate argument names"
        for arg in function.args:
            assert arg.name.isidentifier(), f"{function.name}.{arg.name}"
            assert (arg.kind is ArgKind.ROUTE) == (arg.route_kind is not None), f"{function.name}.{arg.name}"
            if arg.choices:
                assert arg.kind in (ArgKind.STR, ArgKind.FLAG), f"{function.name}.{arg.name}"
        if function.renamed_to is not None:
            assert function.versions.until is not None


@pytest.mark.parametrize("name", PART2_MODULES)
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


@pytest.mark.parametrize("name", PART2_MODULES)
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


@pytest.mark.parametrize("name", PART2_MODULES)
def test_mi_commands_in_4_0_have_their_namespaced_name(name: str) -> None:
    for command in _table(name).mi:
        if command.versions.includes("4.0"):
            assert command.alias_4_0 == f"{_mi_namespace(name)}:{command.alias_4_0.split(':', 1)[1]}"
        else:
            assert command.alias_4_0 is None, f"{name}: {command.name} gone in 4.0 but has a 4.0 alias"


def test_not_opensips_names_have_no_table_and_say_what_to_use() -> None:
    for name, replacement in NOT_OPENSIPS_MODULES.items():
        assert name not in known_modules()
        assert replacement
    assert "not_opensips" not in known_modules()
    assert "httpd" in NOT_OPENSIPS_MODULES["mi_rest"] and "mi_http" in NOT_OPENSIPS_MODULES["mi_rest"]
    assert NOT_OPENSIPS_MODULES["mysql"] == "db_mysql"


# --- the reference covers nothing our tables lack ---------------------------------------------------------

# Names the reference gives in a module's row or section that are not exports of that module, with why.
NOT_EXPORTS: dict[str, dict[str, str]] = {
    "acc": {"cdr": "a do_accounting flag (an argument choice)", "failed": "a do_accounting flag"},
    "avpops": dict.fromkeys(("$avp", "$br", "$du", "$fu", "$ru", "$ruri"), "a core pseudo-variable in an example"),
    "clusterer": {
        **dict.fromkeys(("state", "no_ping_retries", "priority", "sip_addr", "flags", "description"),
                        "a column of the clusterer table (its name is the <column>_col param)"),
        "seed": "a value of the flags column", "active": "a sharing tag state", "backup": "a sharing tag state",
        "proto_bin": "the module of the BIN listener", "proto_bins": "the module of the BIN-over-TLS listener",
    },
    "dialplan": {"dialplan": "the rules table's name", "pr": "a column of the dialplan table"},
    "httpd": {"httpd_bind": "internal API (route mask 0) that mi_http, prometheus… bind to"},
    "mi_fifo": {"id": "the JSON-RPC request id, not a param"},
    "mi_http": {"result": "a JSON-RPC reply member", "error": "a JSON-RPC reply member"},
    "permissions": {"address": "the IP table's name (the address_table param)"},
    "prometheus": {"all": 'a value of the statistics param', "gauge": "a Prometheus metric type"},
    "tls_mgm": {"TLSv1_2": "a tls_method value"},
}

# The reference's sections (by number) for this part, and which of its table rows name our modules.
_SECTIONS = (18, 19, 20, 21, 22, 23, 24)
_WHOLE_SECTION = {19: "tls_mgm", 23: "clusterer"}


def _reference_sections() -> dict[int, str]:
    text = REFERENCE.read_text(encoding="utf-8")
    sections = {}
    for match in re.finditer(r"^## (\d+)\. .*?(?=^## \d+\. |\Z)", text, re.M | re.S):
        sections[int(match.group(1))] = match.group(0)
    return sections


def _expand_braces(token: str) -> list[str]:
    """`$tls_{peer,my}_san` -> [$tls_peer_san, $tls_my_san] (the reference's shorthand)."""
    match = re.search(r"\{([^{}]*,[^{}]*)\}", token)
    if not match:
        return [token]
    return [expanded for choice in match.group(1).split(",")
            for expanded in _expand_braces(token[:match.start()] + choice + token[match.end():])]


def _names_in(text: str) -> set[str]:
    """Identifiers the text puts in backticks: function names, params, $pvars, MI names."""
    namespaces = {_mi_namespace(module) for module in PART2_MODULES}
    names = set()
    for code in re.findall(r"`([^`]+)`", text):
        for token in _expand_braces(code.strip()):
            names.update(f"${pvar}" for pvar in re.findall(r"\$([A-Za-z_][\w.]*)", token))
            names.update(re.findall(r"(?<![\w$.])([A-Za-z_]\w*)\(", token))
            if re.fullmatch(r"[A-Za-z_]\w*", token):
                names.add(token)
            elif re.fullmatch(r"[a-z_]+:[a-z_]+", token) and token.split(":")[0] in namespaces:
                names.add(token)
    return names


def _reference_names() -> dict[str, set[str]]:
    """module -> names the reference mentions in that module's row or section."""
    sections = _reference_sections()
    names: dict[str, set[str]] = {}
    for number in _SECTIONS:
        text = sections[number]
        if number in _WHOLE_SECTION:
            body = text.split("**What gets replicated")[0]
            names.setdefault(_WHOLE_SECTION[number], set()).update(_names_in(body))
            continue
        for row in re.findall(r"^\|(.+)\|\s*$", text, re.M):
            cells = [cell.strip() for cell in row.split("|")]
            module = re.sub(r"[*`]|\(.*?\)", "", cells[0]).strip()
            if module in PART2_MODULES:
                names.setdefault(module, set()).update(_names_in("|".join(cells[1:])))
    return names


def _table_names(table: ModuleExports) -> set[str]:
    names = {f.name for f in table.functions} | {p.name for p in table.params} | set(table.stats)
    names |= {f"${v.name}" for v in table.pvars}
    for command in table.mi:
        names.add(command.name)
        names.update(command.params)
        if command.alias_4_0:
            names.update((command.alias_4_0, command.alias_4_0.split(":", 1)[1]))
    return names


def test_reference_names_every_module_of_this_part_it_covers() -> None:
    covered = set(_reference_names())
    assert {"proto_udp", "proto_tcp", "proto_tls", "proto_ws", "proto_wss", "tls_mgm", "httpd", "mi_fifo",
            "mi_http", "prometheus", "db_sqlite", "db_mysql", "db_postgres", "cachedb_local", "cachedb_redis",
            "clusterer", "acc", "exec", "json", "cfgutils", "avpops", "sqlops", "dialplan",
            "permissions"} <= covered


def test_not_exports_lists_only_names_the_reference_gives() -> None:
    reference = _reference_names()
    for module, names in NOT_EXPORTS.items():
        assert set(names) <= reference[module], f"{module}: stale NOT_EXPORTS entries"
        assert not set(names) & _table_names(_table(module)), f"{module}: listed but exported"


@pytest.mark.parametrize("module", sorted(_reference_names()))
def test_every_name_the_reference_gives_a_module_is_in_its_table(module: str) -> None:
    table = _table(module)
    missing = sorted(_reference_names()[module] - _table_names(table) - set(NOT_EXPORTS.get(module, {})))
    assert not missing, f"{module}: reference names not in the table: {missing}"


# --- generated docs ---------------------------------------------------------------------------------------------




def test_tls_mgm_docs_say_per_domain_values_need_the_domain_prefix() -> None:
    page = render_module_doc(_table("tls_mgm"))
    for param in ("certificate", "private_key", "ca_list", "tls_method", "verify_cert", "require_cert"):
        row = next(line for line in page.splitlines() if line.startswith(f"| `{param}` |"))
        assert '"[domain]value"' in row and "repeatable" in row
