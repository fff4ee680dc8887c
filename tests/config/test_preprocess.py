"""include_file/import_file, comments, and bad input files: one clear diagnostic each, never a traceback."""
from __future__ import annotations

import os

from opensips_py.config import ast
from opensips_py.config.parser import parse_file
from opensips_py.config.preprocess import MAX_INCLUDE_DEPTH, Preprocessor, blank_comments


def write(path, text: str | bytes) -> str:
    mode = "wb" if isinstance(text, bytes) else "w"
    with open(path, mode) as handle:
        handle.write(text)
    return str(path)


def test_include_at_top_level_and_inside_a_route(tmp_path):
    write(tmp_path / "mods.cfg", 'loadmodule "tm.so"\n')
    write(tmp_path / "body.cfg", "\texit;\n")
    main = write(tmp_path / "main.cfg", 'include_file "mods.cfg"\nroute {\n\timport_file \'body.cfg\'\n}\n')
    result = parse_file(main, cwd=str(tmp_path / "elsewhere"))
    assert not result.diagnostics
    load, route = result.config.statements
    assert isinstance(load, ast.LoadModule) and load.pos.file.endswith("mods.cfg") and load.pos.line == 1
    exit_stmt = route.body.stmts[0]
    assert isinstance(exit_stmt, ast.Exit) and exit_stmt.pos.file.endswith("body.cfg")


def test_relative_include_tries_the_working_directory_first(tmp_path):
    (tmp_path / "cwd").mkdir()
    (tmp_path / "conf").mkdir()
    write(tmp_path / "cwd" / "x.cfg", "log_level = 1\n")
    write(tmp_path / "conf" / "x.cfg", "log_level = 2\n")
    main = write(tmp_path / "conf" / "main.cfg", 'include_file "x.cfg"\n')
    from_cwd = parse_file(main, cwd=str(tmp_path / "cwd"))
    from_dir = parse_file(main, cwd=str(tmp_path))
    assert from_cwd.config.statements[0].value.value == 1
    assert from_dir.config.statements[0].value.value == 2


def test_missing_include_names_the_including_line(tmp_path):
    main = write(tmp_path / "main.cfg", 'log_level = 1\ninclude_file "nope.cfg"\n')
    result = parse_file(main)
    [diag] = result.diagnostics
    assert diag.code == "E002" and diag.location.line == 2 and "nope.cfg" in diag.message


def test_include_cycle_is_reported_once(tmp_path):
    write(tmp_path / "a.cfg", 'include_file "b.cfg"\n')
    write(tmp_path / "b.cfg", 'include_file "a.cfg"\n')
    result = parse_file(str(tmp_path / "a.cfg"), cwd=str(tmp_path))
    codes = [d.code for d in result.diagnostics]
    assert codes == ["E003"] and "a.cfg -> b.cfg -> a.cfg" in result.diagnostics[0].message


def test_include_depth_limit_is_fifty(tmp_path):
    for i in range(MAX_INCLUDE_DEPTH + 2):
        write(tmp_path / f"f{i}.cfg", f'include_file "f{i + 1}.cfg"\n')
    write(tmp_path / f"f{MAX_INCLUDE_DEPTH + 2}.cfg", "log_level = 1\n")
    result = parse_file(str(tmp_path / "f0.cfg"), cwd=str(tmp_path))
    assert [d.code for d in result.diagnostics] == ["E004"]


def test_include_directive_only_at_line_start(tmp_path):
    main = write(tmp_path / "main.cfg", 'route {\n\texit; include_file "x.cfg"\n}\n')
    result = parse_file(main)
    assert [d.code for d in result.diagnostics] == ["E001"]  # not spliced: a syntax error, no E002


def test_block_comments_nest_and_keep_lines_and_columns():
    text = 'a /* x /* y */ z */ b\n"/* not a comment */" # c\n'
    blanked = blank_comments(text, "t", [])
    assert blanked.split("\n")[0] == "a" + " " * 18 + " b"
    assert blanked.split("\n")[1].startswith('"/* not a comment */"')
    assert len(blanked) == len(text)


def test_unterminated_block_comment_is_an_error():
    diagnostics = []
    blank_comments("route { /* open\n", "t", diagnostics)
    assert diagnostics[0].code == "E001" and "unterminated" in diagnostics[0].message


def test_empty_file_parses_to_nothing(tmp_path):
    result = parse_file(write(tmp_path / "empty.cfg", ""))
    assert result.config.statements == [] and not result.diagnostics


def test_binary_file_is_one_error(tmp_path):
    result = parse_file(write(tmp_path / "bin.cfg", b"\x1f\x8b\x08\x00binary\x00\x00"))
    assert [d.code for d in result.diagnostics] == ["E005"]


def test_invalid_utf8_gives_its_position_and_the_rest_is_still_parsed(tmp_path):
    result = parse_file(write(tmp_path / "latin1.cfg", b"# caf\xe9\nlog_level = 3\nroute { exit; }\n"))
    [diag] = result.diagnostics
    assert diag.code == "E005" and (diag.location.line, diag.location.column) == (1, 6)
    assert len(result.config.statements) == 2


def test_config_too_large_is_refused(tmp_path):
    big = write(tmp_path / "big.cfg", "log_level = 3\n" * (5 * 1024 * 1024 // 14))
    assert os.path.getsize(big) >= 5 * 1000 * 1000
    result = parse_file(big)
    assert [d.code for d in result.diagnostics] == ["E006"]


def test_overlay_text_replaces_the_file(tmp_path):
    main = write(tmp_path / "main.cfg", "log_level = 1\n")
    source = Preprocessor(overlay={main: "log_level = 2\n"}).load(main)
    assert "log_level = 2" in source.text
