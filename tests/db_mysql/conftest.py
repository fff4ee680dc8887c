"""A real MariaDB (Debian's mariadb-server) for the MySQL tests: a throw-away server on 127.0.0.1:47400 with
its own data directory, started once per test session by opensips_py.sipssert.mariadb (the runner's `mysql`
task) and stopped at the end; it also stops by itself when the test process is gone (--watch-pid)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from opensips_py.sipssert.mariadb import READY_LINE

MYSQL_PORT = 47400
ADMIN = dict(host="127.0.0.1", port=MYSQL_PORT, user="root", password="")


def _mariadb_missing() -> bool:
    return shutil.which("mariadbd") is None and not os.access("/usr/sbin/mariadbd", os.X_OK)


@pytest.fixture(scope="session")
def mysql_server():
    if _mariadb_missing():
        pytest.fail("MariaDB server binaries are missing: apt-get install mariadb-server (scripts/test does)")
    server = subprocess.Popen([sys.executable, "-m", "opensips_py.sipssert.mariadb", "--ip", "127.0.0.1",
                               "--port", str(MYSQL_PORT), "--root-host", "127.0.0.1", "--database", "opensips",
                               "--watch-pid", str(os.getpid())],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            output.append(line)
            if READY_LINE in line:
                break
        if not output or READY_LINE not in output[-1]:
            pytest.fail(f"MariaDB did not start: {''.join(output)[-800:]}")
        yield "mysql://root@127.0.0.1:%d/opensips" % MYSQL_PORT
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)


def admin_connection(database: str | None = "opensips"):
    import pymysql
    return pymysql.connect(**ADMIN, database=database, autocommit=True)


@pytest.fixture
def fresh_mysql(mysql_server):
    """The test database with no tables."""
    with admin_connection() as conn, conn.cursor() as cursor:
        cursor.execute("SHOW TABLES")
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP TABLE `{name}`")
    return mysql_server
