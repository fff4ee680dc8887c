"""A real PostgreSQL (Debian's postgresql-15) for the db tests: a throw-away cluster on 127.0.0.1:41901,
started once per test session and stopped at the end. Its binaries come from the postgresql package
(scripts/test installs it); PostgreSQL refuses to run as root, so the cluster belongs to the postgres user."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

PG_PORT = 41901  # the registrar helper's port range (41000-41999)


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _as_owner(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@pytest.fixture(scope="session")
def postgres_url():
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.fail("PostgreSQL server binaries are missing: apt-get install postgresql (scripts/test does)")
    root = Path(tempfile.mkdtemp(prefix="opensips-py-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    subprocess.run(_as_owner([initdb, "-D", str(data), "-A", "trust", "-U", "opensips", "--no-sync"]),
                   check=True, capture_output=True, timeout=120)
    options = f"-p {PG_PORT} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(_as_owner([pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "-t", "60",
                              "start"]), check=True, capture_output=True, timeout=90)
    try:
        import psycopg
        with psycopg.connect(host="127.0.0.1", port=PG_PORT, user="opensips", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE opensips")
        yield f"postgres://opensips:secret@127.0.0.1:{PG_PORT}/opensips"
    finally:
        subprocess.run(_as_owner([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fresh_postgres(postgres_url):
    """The test database with no tables."""
    import psycopg
    with psycopg.connect(host="127.0.0.1", port=PG_PORT, user="opensips", dbname="opensips", autocommit=True) as c:
        for (name,) in c.execute("SELECT table_name FROM information_schema.tables WHERE table_schema='public'"):
            c.execute(f"DROP TABLE {name}")
    return postgres_url
