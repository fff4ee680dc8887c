"""The command line: exit statuses, formats, and bad input (one clear diagnostic, never a traceback)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import jsonschema
import pytest

DATA = os.path.join(os.path.dirname(__file__), "..", "data")
GOOD = 'loadmodule "proto_udp.so"\nsocket = udp:127.0.0.1:5060\nroute {\n\texit;\n}\n'
BAD = 'loadmodule "proto_udp.so"\nsocket = udp:127.0.0.1:5060\nchildren = 4\nroute {\n\tt_relay();\n}\n'
WARN = 'loadmodule "proto_udp.so"\nsocket = udp:127.0.0.1:5060\nroute {\n\texit;\n}\nroute[unused] {\n\texit;\n}\n'


def run(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opensips_py", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def cfg(tmp_path, text: str | bytes, name: str = "opensips.cfg") -> str:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def test_clean_config_exits_0(tmp_path):
    result = run("check", cfg(tmp_path, GOOD))
    assert result.returncode == 0 and "0 error(s)" in result.stdout


def test_errors_exit_1_in_compiler_format_with_caret_and_hint(tmp_path):
    path = cfg(tmp_path, BAD)
    result = run("check", path)
    assert result.returncode == 1
    assert f"{path}:3:1: error E101: unknown global parameter 'children'" in result.stdout
    assert "  children = 4\n  ^~~~~~~~" in result.stdout
    assert "hint: use udp_workers" in result.stdout
    assert f"{path}:5:2: error E301: unknown function t_relay(): missing loadmodule \"tm.so\"?" in result.stdout


def test_warnings_exit_0_but_1_with_strict(tmp_path):
    path = cfg(tmp_path, WARN)
    assert run("check", path).returncode == 0
    assert run("check", "--strict", path).returncode == 1


def test_opensips_style_c_flag(tmp_path):
    good = run("-c", "-f", cfg(tmp_path, GOOD))
    assert good.returncode == 0 and "config file ok, exiting..." in good.stderr
    bad = run("-C", "-f", cfg(tmp_path, BAD, "bad.cfg"))
    assert bad.returncode == 1 and "E101" in bad.stderr


def test_json_output_follows_its_documented_schema(tmp_path):
    result = run("check", "--format", "json", cfg(tmp_path, BAD))
    document = json.loads(result.stdout)
    with open(os.path.join(DATA, "check-json.schema.json")) as handle:
        jsonschema.validate(document, json.load(handle))
    assert document["summary"]["errors"] == 2
    fix = next(d["fix"] for d in document["diagnostics"] if d["code"] == "E101")
    assert fix["edits"][0]["text"] == "udp_workers"


def test_sarif_output_validates_against_the_sarif_2_1_0_schema(tmp_path):
    result = run("check", "--format", "sarif", "--target", "3.6", cfg(tmp_path, BAD))
    document = json.loads(result.stdout)
    with open(os.path.join(DATA, "sarif-schema-2.1.0.json")) as handle:
        jsonschema.Draft4Validator(json.load(handle)).validate(document)
    results = document["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"E101", "E301"}
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 3


def test_usage_error_exits_2():
    assert run("check").returncode == 2
    assert run("check", "--target", "9.9", "x.cfg").returncode == 2


@pytest.mark.parametrize("name,content,code", [
    ("empty.cfg", b"", "E007"),
    ("binary.cfg", b"\x1f\x8b\x08\x00\x00\x00\x00binary", "E005"),
    ("latin1.cfg", b'# caf\xe9\nloadmodule "proto_udp.so"\n', "E005"),
])
def test_bad_files_give_one_clear_diagnostic(tmp_path, name, content, code):
    result = run("check", cfg(tmp_path, content, name))
    assert result.returncode in (1, 2)
    assert "Traceback" not in result.stdout + result.stderr
    assert f" {code}: " in result.stdout


def test_missing_file_exits_2(tmp_path):
    result = run("check", str(tmp_path / "nope.cfg"))
    assert result.returncode == 2 and "E002" in result.stdout and "Traceback" not in result.stderr


def test_missing_include_and_cycle(tmp_path):
    missing = run("check", cfg(tmp_path, 'include_file "gone.cfg"\n' + GOOD, "a.cfg"))
    assert missing.returncode == 1 and "E002" in missing.stdout
    cfg(tmp_path, 'include_file "d.cfg"\n', "c.cfg")
    cfg(tmp_path, 'include_file "c.cfg"\n', "d.cfg")
    cycle = run("check", str(tmp_path / "c.cfg"), cwd=str(tmp_path))
    assert cycle.returncode == 1 and "E003" in cycle.stdout and "Traceback" not in cycle.stderr


def test_five_megabyte_config_is_refused(tmp_path):
    path = cfg(tmp_path, b"log_level = 3\n" * 380_000, "big.cfg")
    assert os.path.getsize(path) > 5_000_000
    result = run("check", path)
    assert result.returncode == 1 and "E006" in result.stdout


def test_include_of_a_directory_is_a_clear_error(tmp_path):
    (tmp_path / "conf.d").mkdir()
    result = run("check", cfg(tmp_path, 'include_file "conf.d"\n' + GOOD, "main.cfg"), cwd=tmp_path)
    assert result.returncode == 1 and "E002" in result.stdout and "directory" in result.stdout
    assert "Traceback" not in result.stderr


def test_run_mode_refuses_a_bad_config(tmp_path):
    result = run("-f", cfg(tmp_path, BAD))
    assert result.returncode == 1 and "refusing to start" in result.stderr


def test_version():
    result = run("-V")
    assert result.returncode == 0 and "opensips-py" in result.stdout
