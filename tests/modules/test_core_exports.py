"""The core exports table: well-formed, and complete against the shared OpenSIPS core reference.

The reference (../shared/reference/opensips-core.md) is read as written: its tables and backticked names are
parsed here, so a name added there without a table entry makes a test fail. Where the reference and the
OpenSIPS sources disagree, the sources win; such cases are listed below with the reason.
"""
from __future__ import annotations

from tests import shared
import re
from pathlib import Path

import pytest

from opensips_py.modules import core
from opensips_py.modules.exports import ALL, VERSIONS, ArgKind, GlobalKind, ModuleExports

REPO = Path(__file__).resolve().parents[2]
REFERENCE = shared.REFERENCE / "opensips-core.md"
DOCS = REPO / "docs" / "core.md"


# ---------------------------------------------------------------------------------------------------------
# Reading the reference.

def _section(title_prefix: str) -> str:
    """The text of one `##`/`###` section, up to the next heading of any level."""
    text = REFERENCE.read_text(encoding="utf-8")
    start = text.index("\n" + title_prefix)
    end = re.search(r"\n#{2,3} ", text[start + 1:])
    return text[start:start + 1 + end.start()] if end else text[start:]


def _table_rows(section: str) -> list[list[str]]:
    """Cells of the markdown table rows of a section (header and separator rows dropped)."""
    rows = []
    for line in section.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        rows.append(cells)
    return rows[1:]  # header


def _backticked(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def _reference_global_params() -> set[str]:
    names = set()
    for row in _table_rows(_section("### 1.4")):
        for chunk in _backticked(row[0]):
            names.update(re.findall(r"[a-z][a-z0-9_-]*", chunk))
    return names


def _pv_base(token: str) -> str:
    """`$(hdr(name)[n])` -> `hdr`; `$ct.fields(f)` -> `ct.fields`; `$sdp.line(..)` -> `sdp.line`."""
    token = token.removeprefix("$").removeprefix("(")
    return re.match(r"[A-Za-z0-9_.]*[A-Za-z0-9_]", token).group(0)


def _reference_pvs() -> dict[str, str]:
    """Every PV named in the first column of the §4.2 table, with that row's R/W cell.

    Suffix shorthands are expanded: `$auth.nonce/.resp` and `$err.class .level` replace the last component
    inside one backtick chunk; a chunk of bare suffixes (`.uri .duri`) extends the PV named just before it.
    """
    found: dict[str, str] = {}
    for row in _table_rows(_section("### 4.2")):
        previous = None
        for chunk in _backticked(row[0]):
            words = [w for part in chunk.split() for w in part.split("/") if w]
            chunk_first = None
            for word in words:
                if word.startswith("$"):
                    name = _pv_base(word)
                    chunk_first = name
                elif word.startswith(".") and chunk_first is not None:
                    name = chunk_first.rsplit(".", 1)[0] + "." + _pv_base(word[1:])
                elif word.startswith(".") and previous is not None:
                    name = previous + "." + _pv_base(word[1:])
                else:
                    continue
                found[name] = row[1]
            if chunk_first is not None:
                previous = chunk_first
        # The meaning cell names a few more, each with its own access: "`$dd`(W) host".
        for token, rw in re.findall(r"`(\$[^`]+)`\s*\(?([RW])\b", row[2]):
            found[_pv_base(token)] = rw
    return found


def _reference_transformations() -> dict[str, str]:
    """`class.member` -> the member's argument text as written (`substr,off,len`)."""
    found = {}
    for row in _table_rows(_section("## 5.")):
        klass = _backticked(row[0])[0].rstrip(".")
        members = re.sub(r"\([^()]*`[^()]*\)", "", row[1])  # drop "(flags `i s g`)"
        for chunk in _backticked(members):
            for word in chunk.split():
                member = word.split(",", 1)[0]
                found[f"{klass}.{member}"] = word.replace("\\|", "|")
    return found


def _reference_core_functions() -> set[str]:
    """Function names of the §6 table: `name(...)` chunks, and chunks that list bare names."""
    names = set()
    for row in _table_rows(_section("## 6.")):
        for chunk in _backticked(" ".join(row)):
            if re.fullmatch(r"[a-z_][a-z0-9_ ]*", chunk):
                names.update(chunk.split())
            elif match := re.match(r"([a-z_][a-z0-9_]*)\(", chunk):
                names.add(match.group(1))
    return names


def _reference_paragraph(section: str, starts_with: str) -> str:
    return next(line for line in _section(section).splitlines() if line.startswith(starts_with))


# Names in the reference's tables that are deliberately not entries of our tables, and why.
NOT_GLOBAL_PARAM_IN_TABLE = {
    "tag",  # a keyword of socket definitions (`socket = udp:IP:5060 tag NAME`), not assignable: `tag = x` fails
}


# ---------------------------------------------------------------------------------------------------------
# Well-formedness.

def test_exports_is_a_module_table_named_core():
    assert isinstance(core.EXPORTS, ModuleExports)
    assert core.EXPORTS.name == "core"
    assert core.EXPORTS.functions == core.FUNCTIONS
    assert core.EXPORTS.pvars == core.PSEUDO_VARIABLES
    assert core.EXPORTS.transformations == core.TRANSFORMATIONS


def test_every_core_function_is_allowed_in_all_routes():
    assert all(f.routes == ALL for f in core.FUNCTIONS)


@pytest.mark.parametrize("version", VERSIONS)
def test_no_name_is_declared_twice_for_one_version(version):
    for items in (core.FUNCTIONS, core.PSEUDO_VARIABLES, core.TRANSFORMATIONS, core.GLOBAL_PARAMS):
        names = [i.name for i in items if i.versions.includes(version)]
        assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_optional_arguments_only_follow_mandatory_ones_where_opensips_allows_it():
    # construct_uri(proto, [user], domain, [port], [extra], var) is the one core function with a mandatory
    # argument after optional ones: the caller must then write empty slots.
    mixed = {f.name for f in core.FUNCTIONS
             if any(a.optional and not b.optional for i, a in enumerate(f.args) for b in f.args[i + 1:])}
    assert mixed == {"construct_uri"}


def test_flag_arguments_are_static_flag_names():
    for name in ("setflag", "resetflag", "isflagset", "setbflag", "resetbflag", "isbflagset"):
        first = core.core_function(name, "3.6").args[0]
        assert first.kind is ArgKind.FLAG and first.static


def test_renamed_items_name_something_that_exists_in_a_later_version():
    for f in core.FUNCTIONS:
        if f.renamed_to:
            assert core.core_function(f.renamed_to, VERSIONS[-1]) is not None, f.name
    for p in core.GLOBAL_PARAMS:
        if p.renamed_to:
            assert core.global_param(p.renamed_to, VERSIONS[-1]) is not None, p.name
    for pv in core.PSEUDO_VARIABLES:
        if pv.renamed_to:
            assert core.pseudo_variable(_pv_base(pv.renamed_to), VERSIONS[-1]) is not None, pv.name


def test_transformation_argument_counts_are_ordered():
    assert all(0 <= t.min_args <= t.max_args for t in core.TRANSFORMATIONS)


def test_pv_side_sets_only_name_declared_variables():
    declared = {pv.name for pv in core.PSEUDO_VARIABLES}
    assert core.PV_ARG_OPTIONAL <= declared
    assert core.PV_INDEXABLE <= declared
    assert all(core.pseudo_variable(n, "3.6").takes_arg for n in core.PV_ARG_OPTIONAL)


def test_auto_scaling_params_are_integer_worker_counts():
    assert all(core.global_param(n, "3.6").kind is GlobalKind.INT for n in core.AUTO_SCALING_PARAMS)


# ---------------------------------------------------------------------------------------------------------
# Completeness against the reference.

def test_every_global_parameter_of_the_reference_is_in_the_table():
    declared = {p.name for p in core.GLOBAL_PARAMS}
    missing = _reference_global_params() - declared - NOT_GLOBAL_PARAM_IN_TABLE
    assert not missing


def test_reference_global_parameter_parse_finds_the_table():
    # Guards the parser above: if the table moved, the completeness test would pass vacuously.
    assert {"log_level", "udp_workers", "mem-group", "tcp_no_new_conn_rplflag", "wdir", "workdir"} <= \
        _reference_global_params()


def test_names_the_reference_calls_not_parameters_have_a_hint():
    line = _reference_paragraph("### 1.4", "**Not** config parameters")
    names = set(_backticked(line.split(":", 1)[1].split(".")[0]))
    assert names and names <= set(core.NOT_GLOBAL_PARAMS)
    assert all(core.global_param(n, v) is None for n in names for v in VERSIONS)


def test_every_core_function_of_the_reference_is_in_the_table():
    declared = {f.name for f in core.FUNCTIONS}
    referenced = _reference_core_functions()
    assert {"forward", "cache_raw_query", "rewriteuserpass", "socket_belongs_to_bond"} <= referenced
    assert not referenced - declared


def test_grammar_statements_are_keywords_not_functions():
    line = _reference_paragraph("## 6.", "Grammar-level statements")
    named = {re.match(r"[a-z]+", chunk).group(0) for chunk in _backticked(line)}
    named -= {"if"}  # `if/switch/while/for`: control flow, in RESERVED_WORDS
    assert named <= set(core.STATEMENT_KEYWORDS)
    assert not named & {f.name for f in core.FUNCTIONS}
    assert set(core.STATEMENT_KEYWORDS) <= core.RESERVED_WORDS


def test_module_functions_named_by_the_reference_are_not_core():
    line = _reference_paragraph("## 6.", "Not core")
    module_functions = {re.match(r"[a-z_]+", c).group(0) for c in _backticked(line)}
    assert "send_reply" in module_functions
    assert not module_functions & {f.name for f in core.FUNCTIONS}


def test_every_pseudo_variable_of_the_reference_is_in_the_table():
    declared = {pv.name for pv in core.PSEUDO_VARIABLES}
    referenced = set(_reference_pvs())
    assert {"ru", "auth.nc", "err.rreason", "msg.branch.attr", "msg.branch.last_idx", "hdr_name",
            "challenge.ck", "sdp.stream.idx"} <= referenced
    assert not referenced - declared


# The reference's R/W column against ours; the sources win where they differ.
WRITABILITY_DIFFERS = {
    "sdp.stream.idx",  # its row says W for the whole $sdp family; pvar.c gives $sdp.stream.idx no setter
}


def test_writability_matches_the_reference():
    for name, rw in _reference_pvs().items():
        if name in WRITABILITY_DIFFERS or rw not in ("R", "W", "W (whole)"):
            continue
        assert core.pseudo_variable(name, "3.6").writable == rw.startswith("W"), name


def test_pvs_removed_in_3_3_are_3_2_only_and_name_their_replacement():
    line = _reference_paragraph("### 4.2", "Removed since **3.3**")
    pairs = re.findall(r"`\$(\w+)`(?:/`\$(\w+)`)?(?: \([^)]*\))? → `([^`]+)`", line)
    assert len(pairs) == 6
    for first, second, replacement in pairs:
        for name in filter(None, (first, second)):
            pv = core.pseudo_variable(name, "3.2")
            assert pv is not None and pv.renamed_to == replacement, name
            assert pv.versions.until == "3.4"
            assert core.pseudo_variable(name, "3.4") is None


def test_spellings_that_are_not_variables_are_absent():
    line = _reference_paragraph("### 4.2", "**Not variables at all:**")
    for token in _backticked(re.sub(r"\([^()]*\)", "", line)):  # drop "(use `$ml`)"
        name = token.split()[0].removeprefix("$")
        assert name in core.NOT_PSEUDO_VARIABLES
        assert all(core.pseudo_variable(name, v) is None for v in VERSIONS)


def _expected_counts(arg_text: str) -> tuple[int, int] | None:
    """`substr,off,len` -> (2, 2); `index,needle[,off]` -> (1, 2); None when the text abbreviates (`…`)."""
    if "…" in arg_text:
        return None
    mandatory, _, optional = arg_text.partition("[")
    return mandatory.count(","), mandatory.count(",") + optional.count(",")


# `sha1 … sha512` and `…_hmac,key` stand for five names each; we test the expansions explicitly.
TRANSFORMATION_SHORTHANDS = {"s.…_hmac"}
# `exist,name`/`exists`: the second spelling is an alias and takes the same argument.
TRANSFORMATION_ALIASES = {"param.exists": "param.exist"}


def test_every_transformation_of_the_reference_is_in_the_table_with_its_arguments():
    referenced = _reference_transformations()
    assert {"s.substr", "uri.schema", "param.exists", "sdp.stream-delete", "re.subst"} <= set(referenced)
    for name, arg_text in referenced.items():
        if name in TRANSFORMATION_SHORTHANDS:
            continue
        tr = core.transformation(name, "4.0")
        assert tr is not None, name
        expected = _expected_counts(referenced[TRANSFORMATION_ALIASES.get(name, name)])
        if expected is not None:
            assert (tr.min_args, tr.max_args) == expected, name


def test_hmac_transformations_take_a_key_from_3_4_on():
    for bits in ("1", "224", "256", "384", "512"):
        tr = core.transformation(f"s.sha{bits}_hmac", "3.4")
        assert (tr.min_args, tr.max_args) == (1, 1)
        assert core.transformation(f"s.sha{bits}_hmac", "3.2") is None


# ---------------------------------------------------------------------------------------------------------
# Version facts (from the OpenSIPS sources).

def test_append_branch_is_append_branch_old_from_3_6():
    assert core.core_function("append_branch", "3.4").renamed_to == "append_branch_old"
    assert core.core_function("append_branch", "3.6") is None
    assert core.core_function("append_branch_old", "3.6") is not None
    assert core.core_function("append_msg_branch", "3.4") is None
    assert core.core_function("append_msg_branch", "4.0").min_args == 1


def test_remove_branch_is_remove_msg_branch_from_3_6():
    assert core.core_function("remove_branch", "3.2").renamed_to == "remove_msg_branch"
    assert core.core_function("remove_branch", "3.6") is None
    assert core.core_function("remove_msg_branch", "3.6").args[0].kind is ArgKind.INT


def test_rewrite_functions_exist_only_in_3_2_and_name_the_set_function():
    for old in ("rewriteuri", "rewritehost", "rewritehostport", "rewriteuser", "rewriteuserpass", "rewriteport"):
        f = core.core_function(old, "3.2")
        assert f.renamed_to == "set" + old.removeprefix("rewrite")
        assert core.core_function(old, "3.4") is None


def test_4_0_adds_bond_and_tcp_close_functions():
    for name in ("socket_belongs_to_bond", "tcp_close_conn"):
        assert core.core_function(name, "3.6") is None
        assert core.core_function(name, "4.0") is not None


def test_log_stderror_is_valid_in_3_2_deprecated_until_3_6_gone_in_4_0():
    assert core.global_param("log_stderror", "3.2").deprecated.includes("3.2") is False
    assert core.global_param("log_stderror", "3.6").deprecated.includes("3.6")
    assert core.global_param("log_stderror", "4.0") is None
    assert core.global_param("log_stderror", "3.2").renamed_to == "stderror_enabled"


def test_listen_is_deprecated_in_every_3_x_and_gone_in_4_0():
    for version in ("3.2", "3.4", "3.6"):
        assert core.global_param("listen", version).deprecated.includes(version)
    assert core.global_param("listen", "4.0") is None
    assert core.global_param("listen", "3.6").renamed_to == "socket"


def test_children_is_no_3_x_parameter_but_points_to_udp_workers():
    assert all(core.global_param("children", v) is None for v in VERSIONS)
    assert core.NOT_GLOBAL_PARAMS["children"] == "udp_workers (3.x)"
    assert next(p for p in core.GLOBAL_PARAMS if p.name == "children").renamed_to == "udp_workers"


def test_syslog_names_replace_log_facility_and_log_name_from_3_4():
    assert core.global_param("syslog_facility", "3.2") is None
    assert core.global_param("log_facility", "3.2").deprecated.includes("3.2") is False
    assert core.global_param("log_facility", "3.4").renamed_to == "syslog_facility"
    assert core.global_param("log_name", "4.0") is None


def test_tcp_threads_replaces_parallel_read_in_4_0():
    assert core.global_param("tcp_parallel_read_on_workers", "4.0") is None
    assert core.global_param("tcp_threads", "3.6") is None
    assert core.global_param("tcp_threads", "4.0").kind is GlobalKind.INT


def test_global_param_kinds_follow_the_grammar():
    kinds = {"log_level": GlobalKind.SINT, "tcp_no_new_conn_bflag": GlobalKind.ID,
             "socket": GlobalKind.SOCKET, "alias": GlobalKind.ALIAS, "server_header": GlobalKind.STR,
             "tcp_keepalive": GlobalKind.BOOL, "tcp_max_connections": GlobalKind.INT,
             "poll_method": GlobalKind.STR_OR_ID, "dst_blacklist": GlobalKind.SPECIAL}
    for name, kind in kinds.items():
        assert core.global_param(name, "3.6").kind is kind, name


def test_socket_in_pv_needs_no_argument_but_hdr_does():
    assert "socket_in" in core.PV_ARG_OPTIONAL
    assert core.pseudo_variable("$hdr", "3.6").takes_arg and "hdr" not in core.PV_ARG_OPTIONAL


def test_pseudo_variable_lookup_accepts_the_dollar_sign():
    assert core.pseudo_variable("$ru", "3.6") is core.pseudo_variable("ru", "3.6")


def test_transformation_members_are_case_insensitive():
    assert core.transformation("s.LEN", "3.6").name == "s.len"
    assert core.transformation("x.len", "3.6") is None


# ---------------------------------------------------------------------------------------------------------
# Log levels, sockets, reserved words.

def test_xlog_levels_are_dprint_values():
    assert core.XLOG_LEVELS == {"L_ALERT": -3, "L_CRIT": -2, "L_ERR": -1, "L_WARN": 1, "L_NOTICE": 2,
                                "L_INFO": 3, "L_DBG": 4}


def test_every_socket_protocol_of_the_reference_has_a_module():
    grammar = _section("### 1.5")
    protos = re.search(r"PROTO\s+=\s+(.*)", grammar).group(1).split("|")
    assert {p.strip() for p in protos} == set(core.SOCKET_PROTOCOLS)
    assert core.SOCKET_PROTOCOLS["wss"] == "proto_wss"
    assert core.SOCKET_PROTOCOLS["hep_tls"] == "proto_hep"


def test_socket_options_of_the_reference_are_known_with_their_first_version():
    grammar = _section("### 1.5")
    option_line = re.search(r"OPTION\s+=\s+(.*?)\n#", grammar, re.S).group(1)
    options = set(re.findall(r"\b([a-z_]+)\b", option_line)) - {"ADDR", "PORTS", "N", "ID"}
    assert options <= set(core.SOCKET_OPTIONS)
    assert core.SOCKET_OPTIONS["reuse_port"] == "3.4"
    assert core.SOCKET_OPTIONS["tos"] == "3.6"
    assert set(core.SOCKET_OPTION_VALUES) <= set(core.SOCKET_OPTIONS)


def test_reserved_words_of_the_reference_are_reserved():
    line = _reference_paragraph("### 1.1", "Reserved words")
    words = set(_backticked(line.split("+")[0])[0].split())
    assert words <= core.RESERVED_WORDS
    assert {"loadmodule", "modparam", "mpath", "udp_workers", "log_level"} <= core.reserved_words("3.6")


def test_reserved_words_follow_the_version():
    assert "log_prefix" not in core.reserved_words("3.2")
    assert "listen" in core.reserved_words("3.6") and "listen" not in core.reserved_words("4.0")
    assert "tcp_threads" in core.reserved_words("4.0") and "tcp_threads" not in core.reserved_words("3.6")
    assert "children" not in core.RESERVED_WORDS


# ---------------------------------------------------------------------------------------------------------
# Docs.

def test_docs_page_is_generated_from_the_table():
    assert DOCS.read_text(encoding="utf-8") == core.markdown(), \
        "regenerate with: python -m opensips_py.modules.core > docs/core.md"
