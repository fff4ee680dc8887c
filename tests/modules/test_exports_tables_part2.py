"""The exports tables of the transport, TLS, management, database and service modules (part 2).

Each table covers the reference: every function, modparam, pseudo-variable
and MI command that shared/reference/opensips-modules.md names for one of these modules is in its table,
or is listed in NOT_EXPORTS below with the reason.
"""
from __future__ import annotations

from tests import shared
import importlib
import re

import pytest

from opensips_py.modules import known_modules
from opensips_py.modules._docgen import render_module_doc
from opensips_py.modules.exports import ModuleExports
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

REFERENCE = shared.REFERENCE / "opensips-modules.md"


def _table(name: str) -> ModuleExports:
    return importlib.import_module(f"opensips_py.modules.{name}").EXPORTS


def _mi_namespace(module: str) -> str:
    """4.0 namespaces MI commands by module name, without the proto_ prefix (mi/mi.c)."""
    return module.removeprefix("proto_")


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
