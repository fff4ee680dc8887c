"""The design guide's config: everything real OpenSIPS 3.6.8 rejected is reported at its line, in one run,
and --fix leaves only what a machine cannot decide, each with a hint."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from opensips_py.config.check import check_file
from opensips_py.config.check.context import CheckOptions
from opensips_py.config.diagnostics import Severity
from tests import shared

GUIDE = str(shared.GUIDE_CFG)

# line -> what OpenSIPS 3.6.8 complained about there (issue 2's list), and a word our message must contain.
REJECTED_BY_OPENSIPS_3_6 = {
    15: "children", 16: "socket", 19: "pkg_mem_size", 20: "shm_mem_size", 25: "tcp_send_timeout",
    49: "sdpops", 63: "dialog", 70: "certificate", 71: "private_key", 72: "ca_list",
    74: "tls_method", 81: "verify_cert", 82: "require_cert", 75: "tls_max_allowed_version",
    76: "tls_min_allowed_version", 78: "tls_ciphers", 85: "tls_domain", 86: "tls_mgm:tls_domain",
    87: "tls_mgm:tls_domain", 91: "wss_keepalive", 96: "nat_bflag", 99: "accept_j_header", 107: "dlg_timeout",
    112: "cluster_replicate_dialogs", 117: "sipping_bflag", 130: "queued_requests_limit", 133: "engines",
    143: "my_seed_node_id", 146: "mi_rest", 150: "advertise", 151: "advertise", 152: "advertise",
    153: "advertise", 157: "request_route", 162: "mf_process_maxfwd_header", 167: "$msg:len", 173: "$proto",
    159: "$proto", 251: "$proto", 177: "setflag", 181: "has_totag", 194: "tm_check_trans",
    202: "tm_check_trans", 241: "handle_ruri_alias", 295: "sdp_has_rtcp_mux", 301: "concatenation",
    306: "concatenation", 317: "concatenation", 329: "t_is_canceled", 338: "use_next_gw", 349: "function",
    47: "tls_mgm",
}
SEND_REPLY_LINES = (163, 168, 184, 210, 247, 260, 270, 280, 287, 341)


@pytest.fixture(scope="module")
def findings():
    result = check_file(GUIDE, CheckOptions(target="3.6"))
    errors = [d for d in result.diagnostics if d.severity == Severity.ERROR]
    by_line: dict[int, list[str]] = {}
    for d in errors:
        by_line.setdefault(d.location.line, []).append(d.message)
    return by_line


@pytest.mark.parametrize("line,word", sorted(REJECTED_BY_OPENSIPS_3_6.items()))
def test_every_opensips_rejection_is_an_error_at_its_line(findings, line, word):
    assert line in findings, f"nothing reported at line {line} ({word})"
    if word == "concatenation":
        assert any("concatenation" in m for m in findings[line])
    else:
        assert any(word in m or word.lstrip("$") in m for m in findings[line]), findings[line]


@pytest.mark.parametrize("line", SEND_REPLY_LINES)
def test_send_reply_without_signaling_and_with_quoted_codes(findings, line):
    messages = findings[line]
    assert any("send_reply" in m and "signaling.so" in m for m in messages)
    assert any("integer" in m for m in messages)


def test_without_target_the_dialect_is_a_warning_not_an_error():
    result = check_file(GUIDE)
    dialect = [d for d in result.diagnostics if d.code.startswith("P")]
    assert {d.code for d in dialect} >= {"P701", "P702", "P703", "P704", "P706"}
    assert all(d.severity == Severity.WARNING for d in dialect)


def test_fix_leaves_only_undecidable_findings_each_with_a_hint(tmp_path):
    copy = tmp_path / "guide.cfg"
    shutil.copyfile(GUIDE, copy)
    run = subprocess.run([sys.executable, "-m", "opensips_py", "check", "--fix", "--target", "3.6", str(copy)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr  # what is left is still an error for real OpenSIPS
    left = check_file(str(copy), CheckOptions(target="3.6")).diagnostics
    assert left, "the guide has problems no machine can decide"
    assert all(d.fix is None for d in left), [d.message for d in left if d.fix]
    assert all(d.hint for d in left), [d.message for d in left if not d.hint]
    text = copy.read_text()
    assert "request_route" not in text and "$msg:len" not in text and "function sdp_has_rtcp_mux" in \
        open(GUIDE).read() and "route[sdp_has_rtcp_mux]" in text
    assert "return -1;" in text  # return 0 in a route would stop the whole script


def test_fix_is_idempotent(tmp_path):
    copy = tmp_path / "guide.cfg"
    shutil.copyfile(GUIDE, copy)
    cmd = [sys.executable, "-m", "opensips_py", "check", "--fix", "--target", "3.6", str(copy)]
    subprocess.run(cmd, capture_output=True, timeout=120)
    once = copy.read_text()
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert copy.read_text() == once
    assert "0 fix(es) applied" in second.stderr


def test_fix_diff_changes_nothing(tmp_path):
    copy = tmp_path / "guide.cfg"
    shutil.copyfile(GUIDE, copy)
    run = subprocess.run([sys.executable, "-m", "opensips_py", "check", "--fix", "--diff", "--target", "3.6",
                          str(copy)], capture_output=True, text=True, timeout=120)
    assert copy.read_text() == open(GUIDE).read()
    assert "-request_route {" in run.stdout and "+route {" in run.stdout
