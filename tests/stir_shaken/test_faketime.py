"""The runner's --faketime: the opensips and sipp tasks of a scenario run with their wall clock shifted by
libfaketime (the monotonic clock left real), and the PASSporT the runner signs for uac-sipp-stir-shaken uses
the same shifted clock (so the stir-shaken scenarios can run as of a date inside their certificate's
validity)."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import pytest

from opensips_py.sipssert.cli import main as sipssert_main
from opensips_py.sipssert.tasks import TaskBuilder, faketime_env, libfaketime
from opensips_py.sipssert.workspace import Workspace
from tests.shared import OFFICIAL

SCENARIO = OFFICIAL / "sipssert-opensips-tests" / "stir-shaken" / "27.acc-stats-200"
OFFSET = -500 * 86400


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture
def launches(tmp_path):
    from opensips_py.sipssert.config import load_scenario, load_test_set
    sc = load_scenario(SCENARIO, load_test_set(SCENARIO.parent))
    ws = Workspace.create(sc.path, {"db_sqlite": "/var/lib/opensips/db_sqlite"}, base=tmp_path)
    builder = TaskBuilder(ws, sc.name, ["opensips-py"], faketime_offset=OFFSET)
    return {d["name"]: builder.build(d) for d in sc.task_definitions()}


@pytest.mark.skipif(libfaketime() is None, reason="needs Debian's faketime package (scripts/test installs it)")
def test_opensips_and_sipp_tasks_get_the_offset_and_other_tasks_the_real_clock(launches):
    for name in ("OpenSIPS", "SIPP UAS", "SIPP UAC"):
        env = launches[name].env
        assert env["FAKETIME"] == f"{OFFSET:+d}" and env["FAKETIME_DONT_FAKE_MONOTONIC"] == "1"
        assert env["LD_PRELOAD"].split(":")[0] == libfaketime()
    for name in ("Init SQLite DB", "SQLite check ACC created"):
        assert "FAKETIME" not in launches[name].env and "LD_PRELOAD" not in launches[name].env


@pytest.mark.skipif(libfaketime() is None, reason="needs Debian's faketime package (scripts/test installs it)")
def test_the_runner_signed_passport_uses_the_shifted_clock(launches):
    argv = launches["SIPP UAC"].argv
    token = argv[argv.index("stir_and_shaken_jwt") + 1]
    assert abs(_claims(token)["iat"] - (time.time() + OFFSET)) < 5


@pytest.mark.skipif(libfaketime() is None, reason="needs Debian's faketime package (scripts/test installs it)")
def test_a_task_process_sees_the_shifted_wall_clock_and_the_real_monotonic_clock():
    probe = "import time; print(time.time(), time.monotonic())"
    env = {**os.environ, **faketime_env(OFFSET)}
    real_wall, real_mono = time.time(), time.monotonic()
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=30)
    wall, mono = (float(v) for v in out.stdout.split())
    assert abs(wall - (real_wall + OFFSET)) < 10
    assert abs(mono - real_mono) < 10


def test_a_malformed_faketime_is_a_usage_error(tmp_path, capsys):
    assert sipssert_main([str(tmp_path), "--faketime", "2024-13-01"]) == 2
    assert "YYYY-MM-DD HH:MM:SS" in capsys.readouterr().err
