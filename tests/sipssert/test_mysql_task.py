"""The `mysql` and `mysql-client` task types: the throw-away MariaDB the runner starts (init files run as the
image's /docker-entrypoint-initdb.d, root from MYSQL_ROOT_HOST without password, the healthy line, a clean
stop on SIGTERM) and the client pointed at it through its options file."""
from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opensips_py.sipssert.mariadb import READY_LINE
from opensips_py.sipssert.tasks import TaskBuilder
from opensips_py.sipssert.workspace import Workspace
from tests.shared import OFFICIAL

SUITE = OFFICIAL / "sipssert-opensips-tests"
PORT = 47401


def start(init_dir: Path, *extra: str) -> tuple[subprocess.Popen, list[str]]:
    """The launcher as the runner starts it, read until it is healthy or ends (bounded)."""
    server = subprocess.Popen([sys.executable, "-m", "opensips_py.sipssert.mariadb", "--ip", "127.0.0.1", "--port",
                               str(PORT), "--init-dir", str(init_dir), "--watch-pid", str(os.getpid()), *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line:
            break
        output.append(line.strip())
        if READY_LINE in line:
            break
    return server, output


def stop(server: subprocess.Popen) -> int:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)  # the runner signals the task's whole process group
    try:
        return server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        raise


def test_the_server_runs_the_init_files_in_name_order_and_stops_cleanly_on_sigterm(tmp_path):
    import pymysql
    (tmp_path / "a.sql").write_text("CREATE DATABASE opensips;\nUSE opensips;\n"
                                    "CREATE TABLE t (id INT PRIMARY KEY, name CHAR(16));\n")
    (tmp_path / "b.sql.gz").write_bytes(gzip.compress(b"INSERT INTO opensips.t VALUES (1, 'from gz');\n"))
    (tmp_path / "c.sh").write_text("mariadb -uroot opensips -e \"INSERT INTO t VALUES (2, 'from sh')\"\n")
    (tmp_path / "opensips.cfg").write_text("not an init file\n")
    server, output = start(tmp_path, "--root-host", "127.0.0.%")
    try:
        assert output[:3] == ["mariadb: ran a.sql", "mariadb: ran b.sql.gz", "mariadb: ran c.sh"], output
        assert output[-1] == f"{READY_LINE} on 127.0.0.1:{PORT}"
        with pymysql.connect(host="127.0.0.1", port=PORT, user="root", database="opensips") as conn, \
                conn.cursor() as cursor:
            cursor.execute("SELECT id, name FROM t ORDER BY id")
            assert cursor.fetchall() == ((1, "from gz"), (2, "from sh"))
            cursor.execute("SELECT host FROM mysql.user WHERE user = 'root' AND host = '127.0.0.%'")
            assert cursor.fetchall() == (("127.0.0.%",),)
        client = mysql_client(tmp_path / "ws", {"host": "127.0.0.1", "port": PORT, "database": "opensips",
                                                "args": ["-Nse", "SELECT name FROM t WHERE id = 2"]})
        done = subprocess.run(client.argv, env={**os.environ, **client.env}, cwd=client.cwd, capture_output=True,
                              text=True, timeout=30)
        assert (done.returncode, done.stdout.strip()) == (0, "from sh"), done.stderr
    finally:
        code = stop(server)
    assert code == 0  # as a container stopped by `docker stop`
    rest = server.stdout.read()
    assert "mariadbd exited" not in rest


def mysql_client(base: Path, definition: dict):
    base.mkdir(exist_ok=True)
    ws = Workspace.create(SUITE / "registration" / "01.no-db", {}, base=base)
    return TaskBuilder(ws, "x", ["opensips-py"]).build({"name": "MySQL check", "type": "mysql-client", **definition})


def test_a_failing_init_file_ends_the_task_with_the_reason(tmp_path):
    (tmp_path / "opensips.sql").write_text("CREATE TABLE nowhere.t (id INT);\n")
    server, output = start(tmp_path)
    assert stop(server) == 1
    assert output[-1] == "mariadb: init file opensips.sql: mysql client: ERROR 1049 (42000) at line 1: Unknown " \
                         "database 'nowhere'", output
    assert not any(READY_LINE in line for line in output)


@pytest.mark.parametrize("definition, expected", [
    ({"host": "192.168.52.2"}, ["host=127.0.52.2", "port=3306", "user=root"]),
    ({"host": "192.168.52.2", "port": 3307, "user": "opensips", "password": "pw", "database": "opensips",
      "options": {"connect-timeout": 3}},
     ["host=127.0.52.2", "port=3307", "user=opensips", "password=pw", "connect-timeout = 3", "[mysql]",
      "database=opensips"]),
])
def test_the_mysql_client_finds_its_server_through_its_options_file(tmp_path, definition, expected):
    ws = Workspace.create(SUITE / "registration" / "01.no-db", {}, base=tmp_path)
    (ws.scenario_dir / "check.sh").write_text("mariadb -Nse 'SELECT 1'\n")
    launch = TaskBuilder(ws, "x", ["opensips-py"]).build(
        {"name": "MySQL check", "type": "mysql-client", "script": "check.sh", **definition})
    assert launch.argv[-1] == str(ws.scenario_dir / "check.sh")
    options = (Path(launch.env["HOME"]) / ".my.cnf").read_text().split("\n")
    assert options[0] == "[client]" and set(expected) <= set(options)
    assert launch.env["MYSQL_HOST"] == "127.0.52.2"  # as SIPssert hands them to the image
