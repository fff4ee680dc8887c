"""The exports tables of the SIP-core modules (part 1): each covers the reference.

The reference (shared/reference/opensips-modules.md) names the functions, modparams, pseudo-variables and MI
commands a config may use; every one of them must be in a table, or be listed in NOT_EXPORTS with the reason.
The Kamailio names (sdpops, t_is_canceled, handle_ruri_alias…) must be known with their OpenSIPS replacement,
and the module docs are generated from them (tests/modules/test_docs_page.py).
"""
from __future__ import annotations

from tests import shared
import importlib
import re

import pytest

from opensips_py.modules import exports_of, known_modules
from opensips_py.modules._docgen import main as docgen_main, render_module_doc, render_page
from opensips_py.modules.exports import ModuleExports
from opensips_py.modules.kamailio import KAMAILIO_FUNCTIONS, KAMAILIO_MODULES

PART1_MODULES = (
    "tm", "sl", "signaling", "rr", "usrloc", "registrar", "dialog", "rtpengine", "rtp_relay", "nathelper",
    "textops", "sipmsgops", "auth", "auth_db", "uac", "uac_auth", "dispatcher", "drouting", "sdpops",
)


def _table(name: str) -> ModuleExports:
    return importlib.import_module(f"opensips_py.modules.{name}").EXPORTS


# --- the reference names nothing our tables lack --------------------------------------------------------------
#
# Read from shared/reference/opensips-modules.md, in the sections of this part's modules:
#   functions: a backticked `name(` anywhere; the first cell of a "Function" table row (with its slash
#              shorthand, `rtpengine_block_media/unblock_media(…)`); every name in the "others" row;
#   modparams: the first cell of a "Param" table row; the backticked names of a "Params" paragraph or of a
#              "**… params:**" / "Key params:" / "Other params:" segment; a backticked name followed by its
#              default in prose (`rtpengine_retr` (5), `ping_enabled`=1, `rtpengine_sock` (repeatable));
#   pseudo-variables: every backticked $name; MI commands: `module:cmd` and its bracketed 3.x name.
# A function or pseudo-variable may live in any table (the reference mentions core and other modules' ones
# in passing); a modparam must be in its own section's modules.

REFERENCE = shared.REFERENCE / "opensips-modules.md"
SECTIONS: dict[int, tuple[str, ...]] = {
    1: ("tm",), 2: ("sl",), 3: ("signaling",), 4: ("rr",), 6: ("usrloc",), 7: ("registrar",), 8: ("dialog",),
    9: ("rtpengine",), 10: ("rtp_relay",), 11: ("nathelper",), 12: ("textops",), 13: ("sipmsgops",),
    14: ("auth", "auth_db"), 15: ("uac", "uac_auth"), 16: ("dispatcher",), 17: ("drouting",),
}

# Names the reference mentions, in a function/param/PV position of a module's section, that are deliberately not
# exports of that module, and why.
NOT_EXPORTS: dict[str, dict[str, str]] = {
    "sl": {
        "MD5": "the To-tag formula MD5(...), not a function",
        "$err": "shorthand for the core error variables in \"`$err`-style mapping\"",
    },
    "rr": {"ignore_user": "compiled in only with ENABLE_USER_CHECK, which stock builds do not define"},
    "registrar": {
        # §7.5 lists these as "removed long ago (now flags)": no version we track has them.
        "append_branches": "old modparam, now a lookup() flag",
        "method_filtering": "old modparam, now the lookup() flag method-filtering",
        "use_path": "old modparam, now the save() path-* flags",
        "path_mode": "old modparam, now the save() path-* flags",
        "nat_flag": "old modparam, now usrloc's nat_bflag",
        "use_domain": "old modparam; usrloc's use_domain decides",
        "q": "the Contact q parameter, named in default_q's note",
    },
    "rtp_relay": {"route": "the name of the script-route engine (3.6+), a value of rtp_relay_engage()"},
    "uac_auth": {"load_uac_auth": "the API uac binds to (route mask 0), not a script function"},
    "dispatcher": {"max": "a weight value form in the dispatcher table (\"max(...)-style\")"},
}


def _not_exports(number: int) -> set[str]:
    return {name for module in SECTIONS[number] for name in NOT_EXPORTS.get(module, {})}


def _sections() -> dict[int, str]:
    text = REFERENCE.read_text(encoding="utf-8")
    return {int(m.group(1)): m.group(0) for m in re.finditer(r"^## (\d+)\. .*?(?=^## \d+\. |\Z)", text, re.M | re.S)}


def _backticked(text: str) -> list[str]:
    return [code.strip() for code in re.findall(r"`([^`]+)`", text)]


def _identifiers(text: str) -> set[str]:
    """Bare backticked identifiers, splitting `a/b` and `a, b` shorthand; no $pvars, globs or `/b` suffixes."""
    names = set()
    for code in _backticked(text):
        if re.fullmatch(r"[a-z_]\w*(\s*[/,]\s*[a-z_]\w*)*", code):
            first, *rest = re.split(r"\s*[/,]\s*", code)
            names.add(first)
            # `route_copy_offer/answer/delete`: a bare word replaces the last word of the first name.
            names.update(part if "_" in part else f"{first.rsplit('_', 1)[0]}_{part}" for part in rest)
    return names


def _expand_braces(token: str) -> list[str]:
    """`$tm.branch.{uri,duri}` -> [$tm.branch.uri, $tm.branch.duri]."""
    match = re.search(r"\{([^{}]*,[^{}]*)\}", token)
    if not match:
        return [token]
    return [done for choice in match.group(1).split(",")
            for done in _expand_braces(token[:match.start()] + choice.strip() + token[match.end():])]


def _table_rows(text: str) -> list[tuple[str, list[str]]]:
    """(header first cell, cells) for every data row of every markdown table."""
    rows, header = [], None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("|"):
            header = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if i + 1 < len(lines) and re.match(r"^\|\s*-", lines[i + 1]):
            header = cells[0]
        elif not re.match(r"^\|\s*-", line) and header is not None:
            rows.append((header, cells))
    return rows


def _param_segments(text: str) -> list[str]:
    """The parts of the section that list modparams (see the comment above)."""
    segments = []
    in_params_heading = False
    for line in text.splitlines():
        if line.startswith("#"):
            in_params_heading = bool(re.match(r"^###\s+[\d.]+\s+Params\b", line))
            continue
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if cells and cells[0].startswith("Params"):
                segments.append("|".join(cells[1:]))
            continue
        # Split at bold labels; keep what follows a label about params (or the unlabelled start of a line
        # under a "Params" heading).
        pieces = re.split(r"(\*\*[^*]+\*\*)", line)
        keep = in_params_heading
        for piece in pieces:
            if piece.startswith("**"):
                keep = "param" in piece.lower()
                continue
            plain = re.split(r"(?i)\b(?:key|other) params:", piece, maxsplit=1)
            if len(plain) == 2:
                segments.append(re.split(r"\bMI\b", plain[1])[0])
            elif keep:
                segments.append(piece)
        segments.extend(m.group(1) for m in re.finditer(r"`([a-z_]\w*)`\s*(?:s\s*)?\((?:\d+|repeatable)\)", line))
        segments.extend(m.group(1) for m in re.finditer(r"`([a-z_]\w*)`=\d", line))
    return [s if "`" in s else f"`{s}`" for s in segments]


def _shorthand(first: str, part: str) -> tuple[str, ...]:
    """`codec_move_up/down` and `rtpengine_start_recording/stop_recording`: the part replaces a tail of
    the first name; every split point is a candidate."""
    words = first.split("_")
    return tuple("_".join(words[:k] + [part]) for k in range(len(words) - 1, 0, -1))


def _reference_functions(text: str) -> set[tuple[str, ...]]:
    """Functions the text names, each as the tuple of spellings it may stand for (one, unless shorthand)."""
    names: set[tuple[str, ...]] = set()
    for code in _backticked(text):
        match = re.match(r"([A-Za-z_]\w*)\(", code)
        if match:
            names.add((match.group(1),))
    for header, cells in _table_rows(text):
        if header != "Function":
            continue
        if cells[0] == "others":
            names.update((name,) for name in _identifiers("|".join(cells[1:])))
            continue
        for code in _backticked(cells[0]):
            parts = [p for p in re.split(r"\s*/\s*", re.sub(r"\(.*", "", code)) if p.isidentifier()]
            if parts:
                names.add((parts[0],))
                names.update(_shorthand(parts[0], part) for part in parts[1:])
    return names


def _reference_params(text: str) -> set[str]:
    names = set()
    for header, cells in _table_rows(text):
        if header == "Param":
            names.update(_identifiers(cells[0]))
    for segment in _param_segments(text):
        names.update(_identifiers(segment))
    return names


def _reference_pvars(text: str) -> set[str]:
    names = set()
    for code in _backticked(text):
        for token in _expand_braces(code):
            names.update(re.findall(r"\$([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)", token))
    return names


def _reference_mi(text: str, modules: tuple[str, ...]) -> set[str]:
    """`module:cmd` names of these modules, and the 3.x name the reference brackets after one."""
    names = set()
    for match in re.finditer(r"`(([a-z_]+):[a-z_]+)`(?:\s*\[`(\w+)`\])?", text):
        if match.group(2) in modules:
            names.add(match.group(1))
            if match.group(3):
                names.add(match.group(3))
    for match in re.finditer(r"`[a-z_]+`\s*\[`(\w+)`\]", text):  # `gw_status` [`dr_gw_status`]
        names.add(match.group(1))
    return names


def _all_tables() -> list[ModuleExports]:
    tables = [exports_of("core")] + [exports_of(name) for name in known_modules()]
    return [table for table in tables if table is not None and table.opensips]


def _section_tables(number: int) -> list[ModuleExports]:
    return [_table(name) for name in SECTIONS[number]]


@pytest.mark.parametrize("number", sorted(SECTIONS))
def test_every_function_the_reference_names_is_in_a_table(number: int) -> None:
    known = {f.name for table in _all_tables() for f in table.functions} | _not_exports(number)
    missing = sorted(names[0] for names in _reference_functions(_sections()[number]) if not set(names) & known)
    assert not missing, f"§{number} {SECTIONS[number]}: functions in no table: {missing}"


@pytest.mark.parametrize("number", sorted(SECTIONS))
def test_every_modparam_the_reference_names_is_in_its_modules_table(number: int) -> None:
    known = {p.name for table in _section_tables(number) for p in table.params}
    missing = sorted(_reference_params(_sections()[number]) - known - _not_exports(number))
    assert not missing, f"§{number} {SECTIONS[number]}: modparams not in the table: {missing}"


@pytest.mark.parametrize("number", sorted(SECTIONS))
def test_every_pseudo_variable_the_reference_names_is_in_a_table(number: int) -> None:
    known = {v.name for table in _all_tables() for v in table.pvars}
    missing = sorted(name for name in _reference_pvars(_sections()[number]) - known
                     if f"${name}" not in _not_exports(number))
    assert not missing, f"§{number} {SECTIONS[number]}: pseudo-variables in no table: {missing}"


@pytest.mark.parametrize("number", sorted(SECTIONS))
def test_every_mi_command_the_reference_names_is_in_its_modules_table(number: int) -> None:
    known = set()
    for table in _all_tables():
        for command in table.mi:
            known.add(command.name)
            if command.alias_4_0:
                known.add(command.alias_4_0)
    missing = sorted(_reference_mi(_sections()[number], SECTIONS[number]) - known)
    assert not missing, f"§{number} {SECTIONS[number]}: MI commands in no table: {missing}"


def test_reference_parsing_finds_the_names_it_should() -> None:
    """Guards the parser itself: a regression here would make the coverage tests above vacuous."""
    sections = _sections()
    functions = {name for number in (1, 9, 13, 17) for names in _reference_functions(sections[number])
                 for name in names}
    assert {"t_relay", "t_on_failure", "t_get_branch_idx_by_attr"} <= functions
    assert {"rtpengine_stop_recording", "rtpengine_unblock_dtmf", "codec_move_down"} <= functions
    assert {"route_to_carrier", "dr_match"} <= functions
    assert {"fr_timeout", "local_reply_route"} <= _reference_params(sections[1])
    assert {"rtpengine_sock", "rtpengine_retr", "ping_enabled", "extra_id_pv"} <= _reference_params(sections[9])
    assert {"allow_dup_cseq", "pn_enable_purr", "append_branches"} <= _reference_params(sections[7])
    assert {"default_timeout", "dialog_replication_cluster"} <= _reference_params(sections[8])
    assert "default_expire" not in _reference_params(sections[7])  # a statistic, after **Stats:**
    assert {"tm.branch.uri", "T_fr_timeout"} <= _reference_pvars(sections[1])
    assert {"usrloc:dump", "ul_dump"} <= _reference_mi(sections[6], ("usrloc",))
    assert "dr_gw_status" in _reference_mi(sections[17], ("drouting",))


def test_not_exports_lists_only_names_the_reference_gives_and_their_module_lacks() -> None:
    sections = _sections()
    for number, modules in SECTIONS.items():
        text = sections[number]
        mentioned = {name for names in _reference_functions(text) for name in names} | _reference_params(text)
        mentioned |= {f"${name}" for name in _reference_pvars(text)}
        for module in modules:
            listed = set(NOT_EXPORTS.get(module, {}))
            assert listed <= mentioned, f"{module}: stale NOT_EXPORTS entries {sorted(listed - mentioned)}"
            table = _table(module)
            exported = {p.name for p in table.params} | {f.name for f in table.functions}
            exported |= {f"${v.name}" for v in table.pvars}
            assert not listed & exported, f"{module}: listed as not exported but in the table"
    assert set(NOT_EXPORTS) <= set(PART1_MODULES)


# --- Kamailio names -------------------------------------------------------------------------------------------


def _opensips_functions() -> set[str]:
    """Script functions of every OpenSIPS table, plus the call-like core statements (xlog, …)."""
    from opensips_py.modules.core import STATEMENT_KEYWORDS

    return {f.name for table in _all_tables() for f in table.functions} | set(STATEMENT_KEYWORDS)


def test_sdpops_is_marked_as_kamailio_and_points_at_opensips_modules() -> None:
    table = _table("sdpops")
    assert table.opensips is False
    assert table.replacement == KAMAILIO_MODULES["sdpops"]
    assert "sipmsgops" in table.replacement and "codec_" in table.replacement


def test_every_sdpops_function_has_a_hint_and_no_opensips_namesake() -> None:
    table = _table("sdpops")
    assert {"sdp_get_line_startswith", "sdp_remove_codecs_by_name", "sdp_with_media"} <= {
        f.name for f in table.functions}
    for function in table.functions:
        assert function.name in KAMAILIO_FUNCTIONS
        assert KAMAILIO_FUNCTIONS[function.name] in function.doc
    assert not {f.name for f in table.functions} & _opensips_functions()


def test_kamailio_functions_are_unknown_to_opensips_and_their_hints_name_real_functions() -> None:
    known = _opensips_functions()
    assert {"t_is_canceled", "tm_check_trans", "handle_ruri_alias", "sdp_get_line_startswith"} <= set(
        KAMAILIO_FUNCTIONS)
    assert not set(KAMAILIO_FUNCTIONS) & known
    for name, hint in KAMAILIO_FUNCTIONS.items():
        named = set(re.findall(r"\b([a-z_]\w*)\(", hint))
        assert named <= known, f"{name}: hint names functions OpenSIPS lacks: {sorted(named - known)}"
    assert "t_was_cancelled(" in KAMAILIO_FUNCTIONS["t_is_canceled"]
    assert "t_check_trans(" in KAMAILIO_FUNCTIONS["tm_check_trans"]
    assert "restore_nated_ruri(" in KAMAILIO_FUNCTIONS["handle_ruri_alias"]
    assert "search_body(" in KAMAILIO_FUNCTIONS["sdp_get_line_startswith"]


def test_kamailio_modules_have_no_opensips_table_and_their_hints_name_one() -> None:
    opensips_modules = {table.name for table in _all_tables()}
    for name, hint in KAMAILIO_MODULES.items():
        assert name not in opensips_modules, name
        assert set(re.findall(r"[a-z_]+", hint)) & opensips_modules, f"{name}: hint names no OpenSIPS module"


def test_reference_kamailio_names_are_covered() -> None:
    """§0.2 of the reference lists Kamailio names configs ask for; ours must know each of them."""
    text = REFERENCE.read_text(encoding="utf-8")
    section = text.split("### 0.2", 1)[1].split("\n## ", 1)[0]
    for header, cells in _table_rows(section):
        for name in _identifiers(cells[0]):
            if name in ("sdpops", "siputils"):
                assert name in KAMAILIO_MODULES
            elif name in ("t_is_canceled", "handle_ruri_alias"):
                assert name in KAMAILIO_FUNCTIONS


# --- generated docs ---------------------------------------------------------------------------------------------


def test_module_doc_lists_functions_params_pvars_mi_stats_and_deps() -> None:
    page = render_module_doc(_table("tm"))
    assert page.startswith("## tm\n")
    assert "| `t_relay([flags], [outbound_proxy])` |" in page
    assert "one of no-auto-477 no-dns-failover pass-reason-hdr allow-no-cancel" in page
    assert "| `fr_timeout` | int | `30` | all |" in page
    assert "| `$T_fr_timeout` | read/write |" in page
    assert "| `t_uac_dlg` | `tm:uac_dlg` |" in page
    assert "`inuse_transactions`" in page
    assert "- `clusterer` when `tm_replication_cluster` is set to other than `0`" in page


def test_module_doc_marks_a_kamailio_module_and_its_replacement() -> None:
    page = render_module_doc(_table("sdpops"))
    assert "**Not an OpenSIPS module.**" in page and "sipmsgops" in page
    assert "none (Kamailio)" in page and "| all |" not in page


def test_docgen_command_line_prints_the_page_and_rejects_unknown_modules(capsys: pytest.CaptureFixture) -> None:
    assert docgen_main(["sl"]) == 0
    assert capsys.readouterr().out == render_page(["sl"])
    assert docgen_main([]) == 2
    with pytest.raises(SystemExit, match="no exports table for module 'no_such_module'"):
        docgen_main(["no_such_module"])
