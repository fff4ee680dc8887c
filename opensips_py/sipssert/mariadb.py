"""A throw-away MariaDB server, as the suite's `mysql` task gets from the mysql/mysql-server docker image:

    python -m opensips_py.sipssert.mariadb --ip 127.0.52.2 [--port 3306] [--root-host '127.0.52.%']
        [--root-password PW] [--database NAME] [--init-dir DIR] [--watch-pid PID]

It makes a fresh data directory in /tmp (mariadb-install-db), starts Debian's mariadbd on ip:port and a
private socket, lets root in from `--root-host` (the image's MYSQL_ROOT_HOST) with `--root-password` or none,
creates `--database` (MYSQL_DATABASE), runs the init files of `--init-dir` in name order as the image's
entrypoint does with /docker-entrypoint-initdb.d (*.sql, *.sql.gz through the mysql client, *.sh with bash),
then prints READY_LINE: the scenario's `healthy:` dependency waits for that line, as SIPssert waits for the
container's healthcheck. SIGTERM (or SIGINT, or the end of `--watch-pid`) stops the server and removes the
data directory; the exit status is 0 then, as a container stopped by `docker stop`, 1 when the server could
not start or died on its own.
"""
from __future__ import annotations

import argparse
import gzip
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READY_LINE = "mariadb: ready for connections (healthy)"
START_TIMEOUT = 60.0  # seconds for mariadbd to accept connections on its socket
STOP_TIMEOUT = 20.0


class ServerError(Exception):
    """The server could not be set up."""


def _binary(name: str, *alternatives: str) -> str:
    for candidate in (name, *alternatives):
        found = shutil.which(candidate) or (f"/usr/sbin/{candidate}" if os.access(f"/usr/sbin/{candidate}", os.X_OK)
                                            else None)
        if found:
            return found
    raise ServerError(f"{name} is missing: apt-get install mariadb-server")


def _sql_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


class MariaDB:
    """One mariadbd process over a data directory of its own."""

    def __init__(self, ip: str, port: int, root: Path) -> None:
        self.ip = ip
        self.port = port
        self.root = root
        self.datadir = root / "data"
        self.socket = root / "mysqld.sock"
        self.log = root / "mariadbd.log"
        self.process: subprocess.Popen | None = None

    def install(self) -> None:
        argv = [_binary("mariadb-install-db", "mysql_install_db"), "--no-defaults", f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal", "--skip-test-db"]
        if os.geteuid() == 0:
            argv.append("--user=root")
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise ServerError(f"mariadb-install-db failed: {(done.stderr or done.stdout).strip()[-500:]}")

    def start(self) -> None:
        argv = [_binary("mariadbd", "mysqld"), "--no-defaults", f"--datadir={self.datadir}",
                f"--socket={self.socket}", f"--port={self.port}", f"--bind-address={self.ip}",
                f"--pid-file={self.root / 'mariadbd.pid'}", f"--log-error={self.log}", "--skip-name-resolve",
                "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M", "--innodb-flush-log-at-trx-commit=0",
                "--skip-log-bin", "--character-set-server=utf8mb4"]
        if os.geteuid() == 0:
            argv.append("--user=root")
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"mariadbd exited {self.process.returncode}: {self.log_tail()}")
            if self.socket.exists() and self.client(["-e", "SELECT 1"], check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise ServerError(f"mariadbd did not accept connections within {START_TIMEOUT:g}s: {self.log_tail()}")

    def client(self, args: list[str], *, stdin: bytes | None = None, check: bool = True,
               database: str | None = None) -> subprocess.CompletedProcess:
        """The mysql command line client as root over the private socket."""
        argv = [_binary("mariadb", "mysql"), "--no-defaults", f"--socket={self.socket}", "-uroot", *args]
        if database:
            argv.append(database)
        done = subprocess.run(argv, input=stdin, capture_output=True, timeout=120)
        if check and done.returncode != 0:
            lines = [line for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
            raise ServerError(f"mysql client: {lines[-1] if lines else f'exit status {done.returncode}'}")
        return done

    def set_up(self, root_host: str, root_password: str, database: str | None) -> None:
        """What the image's entrypoint does with MYSQL_ROOT_HOST, MYSQL_ROOT_PASSWORD, MYSQL_DATABASE."""
        password = f" IDENTIFIED BY {_sql_literal(root_password)}" if root_password else ""
        statements = [f"CREATE USER IF NOT EXISTS 'root'@{_sql_literal(root_host)}{password}",
                      f"GRANT ALL ON *.* TO 'root'@{_sql_literal(root_host)} WITH GRANT OPTION"]
        if database:
            statements.append(f"CREATE DATABASE IF NOT EXISTS `{database.replace('`', '')}`")
        if root_password:
            statements.append(f"ALTER USER 'root'@'localhost' IDENTIFIED BY {_sql_literal(root_password)}")
        self.client(["-e", "; ".join(statements)])

    def run_init_files(self, directory: Path, database: str | None, root_password: str) -> list[str]:
        """The init files of `directory` (not its subdirectories), in name order; returns their names. A *.sh
        runs with a home whose options file leads its `mysql` commands to this server as root."""
        done = []
        extra = [f"-p{root_password}"] if root_password else []
        home = self.root / "home"
        home.mkdir(exist_ok=True)
        options = ["[client]", "user=root", f"socket={self.socket}"]
        (home / ".my.cnf").write_text("\n".join(options + ([f"password={root_password}"] if root_password else []))
                                      + "\n")
        for path in sorted(p for p in directory.iterdir() if p.is_file()):
            try:
                if path.name.endswith(".sql"):
                    self.client(extra, stdin=path.read_bytes(), database=database)
                elif path.name.endswith(".sql.gz"):
                    self.client(extra, stdin=gzip.decompress(path.read_bytes()), database=database)
                elif path.name.endswith(".sh"):
                    env = {**os.environ, "HOME": str(home), "MYSQL_UNIX_PORT": str(self.socket)}
                    result = subprocess.run([shutil.which("bash") or "sh", str(path)], cwd=directory, env=env,
                                            capture_output=True, timeout=120)
                    if result.returncode != 0:
                        lines = [line for line in result.stderr.decode(errors="replace").splitlines() if line.strip()]
                        raise ServerError(f"exited {result.returncode}: {lines[-1] if lines else ''}")
                else:
                    continue
            except ServerError as exc:
                raise ServerError(f"init file {path.name}: {exc}") from None
            print(f"mariadb: ran {path.name}", flush=True)
            done.append(path.name)
        return done

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _parent_alive(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opensips_py.sipssert.mariadb", description=__doc__.split("\n")[0])
    parser.add_argument("--ip", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3306)
    parser.add_argument("--root-host", default="%")
    parser.add_argument("--root-password", default="")
    parser.add_argument("--database")
    parser.add_argument("--init-dir", type=Path)
    parser.add_argument("--watch-pid", type=int, help="stop when this process is gone (a test run)")
    args = parser.parse_args(argv)

    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, frame: stopping.append(number))
    root = Path(tempfile.mkdtemp(prefix="opensips-py-mariadb-"))
    server = MariaDB(args.ip, args.port, root)
    code = 0
    try:
        server.install()
        server.start()
        server.set_up(args.root_host, args.root_password, args.database)
        if args.init_dir is not None:
            server.run_init_files(args.init_dir, args.database, args.root_password)
        print(f"{READY_LINE} on {args.ip}:{args.port}", flush=True)
        while not stopping:  # bounded by SIGTERM, the server's end or the watched process's end
            if server.process.poll() is not None:
                time.sleep(0.3)  # SIGTERM sent to the whole process group reaches mariadbd too
                if stopping:
                    break
                print(f"mariadb: mariadbd exited {server.process.returncode}: {server.log_tail()}", flush=True)
                code = 1
                break
            if not _parent_alive(args.watch_pid):
                break
            time.sleep(0.2)
    except (ServerError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"mariadb: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
