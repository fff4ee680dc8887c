"""The whole runner on a real, unmodified corpus scenario (registration/01.no-db: sipp registers and
unregisters, python-opensips checks ul_dump over HTTP), with its opensips task pointed at a stand-in."""
from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import pytest

from opensips_py.sipssert.runner import RunOptions, junit_xml, run_paths
from tests.shared import OFFICIAL

SUITE = OFFICIAL / "sipssert-opensips-tests"
STANDIN = Path(__file__).with_name("standin_registrar.py")


@pytest.mark.live
@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (Debian sip-tester) is needed")
def test_corpus_registration_scenario_passes_against_a_standin_registrar(tmp_path):
    assert SUITE.is_dir(), SUITE
    out = io.StringIO()
    options = RunOptions(opensips_command=[sys.executable, str(STANDIN)], logs_dir=tmp_path)
    results = run_paths([SUITE / "registration"], ["01.no-db"], options, out=out)
    assert [(r.name, r.status) for r in results] == [("registration/01.no-db", "PASS")], out.getvalue()
    assert (tmp_path / "registration" / "01.no-db" / "MI_check_Register.log").is_file()
    assert b'name="01.no-db"' in junit_xml(results)
