"""`opensips-py mi`: parameter building like opensips-cli, and real calls over HTTP and FIFO (the CLI is run
as a subprocess, as a user would)."""
from __future__ import annotations

import json
import subprocess
import sys

import trio

from opensips_py.mi.client import build_params
from tests.mi.conftest import serve_mi


def test_named_positional_and_array_params_like_opensips_cli():
    assert build_params("log_level", ["level=4"]) == {"level": "4"}
    assert build_params("log_level", ["4", "123"]) == ["4", "123"]
    assert build_params("get_statistics", ["core:", "dialog:"]) == [["core:", "dialog:"]]
    assert build_params("get_statistics", ["statistics=core: shmem:"]) == {"statistics": ["core:", "shmem:"]}
    assert build_params("dlg_push_var", ["a", "b", "1", "2"]) == ["a", "b", ["1", "2"]]
    assert build_params("log_level", ["4"], as_json=True) == [4]
    assert build_params("ps", []) == []


async def _cli(*args: str) -> subprocess.CompletedProcess:
    return await trio.run_process([sys.executable, "-m", "opensips_py", "mi", *args], capture_stdout=True,
                                  capture_stderr=True, check=False)


def test_cli_over_http_prints_result_and_exits_0(tmp_path):
    async def body(info):
        done = await _cli("get_statistics", "rcv_requests", "--url", info["url"])
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"core:rcv_requests": 0}
        bad = await _cli("nope", "--url", info["url"])
        assert bad.returncode == 1 and b"-32601: Method not found" in bad.stderr
    serve_mi(body)


def test_cli_over_fifo(tmp_path):
    fifo = str(tmp_path / "fifo")

    async def body(info):
        done = await _cli("log_level", "level=2", "--fifo", fifo, "--reply-dir", str(tmp_path))
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"New global log level": 2}
    serve_mi(body, fifo_path=fifo, reply_dir=str(tmp_path) + "/")


def test_cli_reports_unreachable_proxy_with_status_2():
    done = subprocess.run([sys.executable, "-m", "opensips_py", "mi", "ps", "--url", "http://127.0.0.1:9/mi"],
                          capture_output=True, timeout=60)
    assert done.returncode == 2 and b"cannot reach" in done.stderr
