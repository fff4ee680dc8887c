"""Each SIPssert task type as a local command line (what SIPssert's task classes put in the container,
sipssert/tasks/*.py @3d043f8), with addresses and paths mapped into the workspace.

    opensips            → opensips-py -f <cfg> -l <socket>… -F  (daemon)
    uac-sipp / uas-sipp → Debian's sipp with SIPssert's arguments (-sf, -au/-ap, -s, -p, -i, -key, -m, -d)
    uac-sipp-stir-shaken→ the same, plus the PASSporT keys SIPssert signs (ES256 JWT)
    opensips-mi         → the check script (python with python-opensips / bash) with MI_TYPE/MI_IP/MI_PORT,
                          or python-opensips' `opensips-mi` command line
    opensips-cli        → its script, or `-x mi CMD …` through `opensips-py mi`
    generic             → its args run on this machine (cp, sqlite3, shell scripts: the images' tools)
    sleep               → a pause
    mysql               → a throw-away MariaDB (opensips_py.sipssert.mariadb) at the task's ip:3306, root
                          from MYSQL_ROOT_HOST without password, the scenario's *.sql/*.sh run as the
                          image's /docker-entrypoint-initdb.d; `healthy` once they ran  (daemon)
    mysql-client        → Debian's mariadb client (or its `script` with bash) against host/port/user/database
"""
from __future__ import annotations

import base64
import importlib.util
import json
import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opensips_py.sipssert.workspace import Workspace, loopback_of

DAEMON_TYPES = {"opensips", "mysql", "rtpproxy", "asterisk"}
MOUNT_POINT = {"opensips": "/etc/opensips", "mysql": "/docker-entrypoint-initdb.d"}


AUTO_IP = "{auto-ip}"


class TaskSkip(Exception):
    """This task cannot run here; the scenario is reported SKIP with the reason."""


@dataclass
class Launch:
    """A command to start for a task."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    sleep: float | None = None  # a `sleep` task: no process, just time
    # the network of an address docker would number (AUTO_IP in argv): given when the task starts, the
    # lowest free one, as docker's IPAM reuses the address of a container that has ended
    auto_ip_network: str | None = None
    # a daemon counts as started once these (proto, ip, port) sockets are bound (and ready_log is in its
    # output), as OpenSIPS in its container binds within milliseconds of starting (schedule.py)
    ready_sockets: list[tuple[str, str, int]] = field(default_factory=list)
    ready_log: str | None = None


def config_args(definition: dict[str, Any]) -> list[str]:
    """A task's `args` as SIPssert splits them: a list as is, a string on single spaces."""
    args = definition.get("args")
    if args is None:
        return []
    if isinstance(args, list):
        return [str(a) for a in args]
    if isinstance(args, (int, float)):
        return [str(args)]
    return [a for a in str(args).split(" ") if a != ""]


def _port(value: Any) -> str:
    return str(value).split("/", 1)[0]


class TaskBuilder:
    """Turns a task definition into a Launch within a workspace."""

    def __init__(self, workspace: Workspace, scenario_name: str, opensips_command: list[str],
                 sipp: str = "sipp", python: str = sys.executable, opensips_ready_log: str | None = None,
                 faketime_offset: int | None = None):
        self.ws = workspace
        # --faketime: seconds the opensips and sipp tasks' wall clock is shifted by (libfaketime), and the
        # PASSporTs this runner signs with it
        self.faketime_offset = faketime_offset
        self.opensips_ready_log = opensips_ready_log  # opensips-py's "serving" line: every socket is open
        self.scenario_name = scenario_name
        self.opensips_command = opensips_command
        self.sipp = sipp
        self.python = python

    def allocate_ip(self, network: str | None) -> str:
        """A task the bridge would have numbered: AUTO_IP, replaced by an address when the task starts."""
        self._auto_network = network or "osbr0"
        return AUTO_IP

    def path_in(self, definition: dict[str, Any], value: str) -> str:
        """A path of the task's container (relative to its mount point, or absolute) as a local path."""
        kind = str(definition.get("type", "generic")).lower()
        mount = definition.get("mount_point", MOUNT_POINT.get(kind, "/home"))
        if not value.startswith("/"):
            value = f"{mount.rstrip('/')}/{value}"
        if value == mount or value.startswith(mount.rstrip("/") + "/"):
            return str(self.ws.scenario_dir) + value[len(mount.rstrip("/")):]
        return self.ws.map(value)

    def build(self, definition: dict[str, Any]) -> Launch:
        kind = str(definition.get("type", "generic")).lower()
        method = getattr(self, "_" + kind.replace("-", "_"), None)
        if method is None:
            raise TaskSkip(f"task type {kind} is not supported without docker")
        self._auto_network = None
        launch = method(definition)
        if self.faketime_offset is not None and kind in FAKETIME_TYPES:
            launch.env.update(faketime_env(self.faketime_offset))
        if AUTO_IP in launch.argv:
            launch.auto_ip_network = self._auto_network
        env = definition.get("env") or {}
        launch.env.update({str(k): self.ws.map(str(v)) for k, v in env.items()})
        return launch

    # ------------------------------------------------------------------------------------------ types
    def _opensips(self, d: dict[str, Any]) -> Launch:
        cfg = self.path_in(d, str(d.get("config_file") or "opensips.cfg"))
        argv = list(self.opensips_command) + ["-f", cfg]
        sockets = ([d["socket"]] if d.get("socket") else []) + list(d.get("sockets") or [])
        for socket in sockets:
            argv += ["-l", self.ws.map(str(socket))]
        argv += ["-F"] + [self.ws.map(a) for a in config_args(d)]
        ready = []
        for socket in sockets:
            parts = self.ws.map(str(socket)).split(":")
            if len(parts) == 3 and parts[0] in ("udp", "tcp", "tls", "ws", "wss") and parts[2].isdigit():
                ready.append(("udp" if parts[0] == "udp" else "tcp", parts[1], int(parts[2])))
        return Launch(argv, cwd=self.ws.scenario_dir, ready_sockets=ready, ready_log=self.opensips_ready_log)

    def _sipp_args(self, d: dict[str, Any], service: str | None, ip: str | None) -> list[str]:
        args: list[str] = []
        config_file = d.get("config_file")
        if config_file:
            args += ["-sf", self.path_in(d, str(config_file))]
        elif (self.ws.scenario_dir / "sipp.xml").is_file():
            args += ["-sf", str(self.ws.scenario_dir / "sipp.xml")]
        if d.get("username"):
            args += ["-au", str(d["username"])]
        if d.get("password"):
            args += ["-ap", str(d["password"])]
        if service:
            args += ["-s", str(service)]
        if d.get("port"):
            args += ["-p", _port(d["port"])]
        if ip:
            args += ["-i", ip]
        keys = dict(d.get("keys") or {})
        keys.setdefault("scenario", d.get("scenario") or self.scenario_name)
        for key, value in keys.items():
            args += ["-key", str(key), self.ws.map(str(value))]
        calls = str(d.get("calls", "1"))
        if calls != "unlimited":
            args += ["-m", calls]
        duration = str(d.get("duration", "5000"))
        if duration != "0":
            args += ["-d", duration]
        return args

    def _require_sipp(self) -> None:
        if shutil.which(self.sipp) is None:
            raise TaskSkip("sipp is not installed (Debian package sip-tester)")

    def _uac(self, d: dict[str, Any], extra_keys: list[str]) -> Launch:
        self._require_sipp()
        proxy, remote = d.get("proxy"), d.get("remote")
        if not proxy and not remote:
            raise TaskSkip(f"task {d.get('name')}: uac-sipp needs proxy or remote")
        if not proxy:
            proxy, remote = remote, None
        elif remote:
            proxy, remote = remote, proxy  # SIPssert: the remote is dialled, the proxy is the outbound proxy
        service = d.get("service") or d.get("destination", d.get("username"))
        ip = self.ws.map(str(d["ip"])) if d.get("ip") else self.allocate_ip(d.get("network"))
        args = self._sipp_args(d, service, ip) + extra_keys
        if not d.get("config_file") and not (self.ws.scenario_dir / "sipp.xml").is_file():
            args += ["-sn", "uac"]
        caller = d.get("caller", d.get("username"))
        if caller:
            args += ["-key", "caller", str(caller)]
        if remote:
            args += ["-rsa", self.ws.map(str(remote))]
        args += [self.ws.map(str(proxy))]
        return Launch([self.sipp, *args, "-nostdin", *[self.ws.map(a) for a in config_args(d)]],
                      cwd=self.ws.scenario_dir)

    def _uac_sipp(self, d: dict[str, Any]) -> Launch:
        return self._uac(d, [])

    def _uac_sipp_stir_shaken(self, d: dict[str, Any]) -> Launch:
        service = d.get("service") or d.get("destination", d.get("username")) or ""
        caller = d.get("caller", d.get("username")) or ""
        token = passport_jwt(d, str(service), str(caller), now=time.time() + (self.faketime_offset or 0))
        info = d.get("stir_shaken_info", "https://certs.example.org/cert.pem")
        keys = ["-key", "stir_and_shaken_jwt", token, "-key", "stir_and_shaken_info", str(info),
                "-key", "stir_shaken_alg", str(d.get("stir_shaken_alg", "ES256")),
                "-key", "stir_shaken_ppt", str(d.get("stir_shaken_ppt", "shaken"))]
        return self._uac(d, keys)

    def _uas_sipp(self, d: dict[str, Any]) -> Launch:
        self._require_sipp()
        service = d.get("service") or d.get("username")
        ip = self.ws.map(str(d["ip"])) if d.get("ip") else self.allocate_ip(d.get("network"))
        args = self._sipp_args(d, service, ip)
        if not d.get("config_file") and not (self.ws.scenario_dir / "sipp.xml").is_file():
            args += ["-sn", "uas"]
        return Launch([self.sipp, *args, "-nostdin", *[self.ws.map(a) for a in config_args(d)]],
                      cwd=self.ws.scenario_dir)

    def _sipp(self, d: dict[str, Any]) -> Launch:
        self._require_sipp()
        ip = self.ws.map(str(d["ip"])) if d.get("ip") else None
        args = self._sipp_args(d, d.get("service"), ip)
        if d.get("proxy"):
            args.append(self.ws.map(str(d["proxy"])))
        return Launch([self.sipp, *args, "-nostdin", *[self.ws.map(a) for a in config_args(d)]],
                      cwd=self.ws.scenario_dir)

    def _script(self, script: str, args: list[str], env: dict[str, str]) -> Launch:
        if script.endswith(".py"):
            if importlib.util.find_spec("opensips") is None:
                raise TaskSkip("python-opensips is not installed (pip install opensips)")
            return Launch([self.python, script, *args], env=env, cwd=self.ws.scenario_dir)
        return Launch([shutil.which("bash") or "sh", script, *args], env=env, cwd=self.ws.scenario_dir)

    def _opensips_mi(self, d: dict[str, Any]) -> Launch:
        env = {"MI_TYPE": str(d.get("mi_type", "http")),
               "MI_IP": self.ws.map(str(d.get("mi_ip", "127.0.0.1"))),
               "MI_PORT": str(d.get("mi_port", 8888))}
        args = [self.ws.map(a) for a in config_args(d)]
        if d.get("script"):
            return self._script(self.path_in(d, str(d["script"])), args, env)
        if importlib.util.find_spec("opensips") is None:
            raise TaskSkip("python-opensips is not installed (pip install opensips)")
        return Launch([self.python, "-m", "opensips.mi", "-t", env["MI_TYPE"], "-i", env["MI_IP"], "-p",
                       env["MI_PORT"], *args], env=env, cwd=self.ws.scenario_dir)

    def _opensips_cli(self, d: dict[str, Any]) -> Launch:
        ip = self.ws.map(str(d.get("mi_ip", "127.0.0.1")))
        url = f"http://{ip}:{d.get('mi_port', 8888)}/{d.get('mi_path', 'mi')}"
        args = [self.ws.map(a) for a in config_args(d)]
        if d.get("script"):
            return self._script(self.path_in(d, str(d["script"])), args, {"OPENSIPS_MI_URL": url})
        if len(args) >= 2 and args[0] == "-x" and args[1] == "mi":
            return Launch([self.python, "-m", "opensips_py", "mi", *args[2:], "--url", url],
                          cwd=self.ws.scenario_dir)
        raise TaskSkip(f"opensips-cli {' '.join(args)}: only `-x mi …` commands run without opensips-cli")

    def _generic(self, d: dict[str, Any]) -> Launch:
        args = [self.path_in(d, a) if a.startswith("/") else self.ws.map(a) for a in config_args(d)]
        if not args:
            raise TaskSkip(f"generic task {d.get('name')} has no command to run")
        first = Path(args[0])
        if first.is_file():
            head = first.read_bytes()[:64]
            # a shell script runs with bash: the images' sh is busybox ash, which (unlike dash) takes
            # bash-isms such as `[ "$l" == "1" ]` (registration/*/scripts/sqlite-register.sh)
            shell = head.startswith(b"#!") and head.split(b"\n", 1)[0].split()[-1] in (b"sh", b"/bin/sh", b"bash")
            if shell or first.suffix == ".sh" or (head.startswith(b"#!") and not os.access(first, os.X_OK)):
                args = [shutil.which("bash") or "sh", *args]
        elif shutil.which(args[0]) is None and not first.is_file():
            raise TaskSkip(f"generic task {d.get('name')}: {args[0]} is not available on this machine")
        return Launch(args, cwd=self.ws.scenario_dir)

    def _sleep(self, d: dict[str, Any]) -> Launch:
        text = str(d.get("timeout", "0")).strip()
        unit = {"s": 1, "m": 60, "h": 3600}.get(text[-1:], None)
        seconds = float(text[:-1]) * unit if unit else float(text or 0)
        return Launch([], sleep=seconds)

    def _mysql(self, d: dict[str, Any]) -> Launch:
        from opensips_py.sipssert.mariadb import READY_LINE
        if shutil.which("mariadbd") is None and not os.access("/usr/sbin/mariadbd", os.X_OK):
            raise TaskSkip("task type mysql needs MariaDB (Debian package mariadb-server)")
        env = {str(k): self.ws.map(str(v)) for k, v in (d.get("env") or {}).items()}
        ip = self.ws.map(str(d["ip"])) if d.get("ip") else self.allocate_ip(d.get("network"))
        password = str(d.get("root_password") or env.get("MYSQL_ROOT_PASSWORD") or "")
        argv = [self.python, "-m", "opensips_py.sipssert.mariadb", "--ip", ip, "--port", _port(d.get("port", 3306)),
                "--root-host", env.get("MYSQL_ROOT_HOST", "%"), "--init-dir", str(self.ws.scenario_dir)]
        if password:
            argv += ["--root-password", password]
        if env.get("MYSQL_DATABASE"):
            argv += ["--database", env["MYSQL_DATABASE"]]
        return Launch(argv, cwd=self.ws.scenario_dir, ready_log=READY_LINE)

    def _mysql_client(self, d: dict[str, Any]) -> Launch:
        """SIPssert hands the image MYSQL_HOST/PORT/user/PASSWORD/DATABASE/OPTIONS and the script; the image's
        client then reaches that server. Here: the same variables, and an options file in a home of the task's
        own that leads the mysql client (in the script, or run with the task's args) there."""
        client = shutil.which("mariadb") or shutil.which("mysql")
        if client is None:
            raise TaskSkip("task type mysql-client needs the mariadb client (Debian package mariadb-client)")
        home = self.ws.scenario_dir / f".mysql-client-{str(d.get('name', 'task')).replace('/', '_')}"
        home.mkdir(exist_ok=True)
        env = {"HOME": str(home)}
        options = ["[client]", f"user={d.get('user', 'root')}", f"port={_port(d.get('port', 3306))}"]
        if d.get("host"):
            env["MYSQL_HOST"] = self.ws.map(str(d["host"]))
            options.append(f"host={env['MYSQL_HOST']}")
        else:
            options.append("socket=/var/run/mysqld/mysqld.sock")
        for key, env_name in (("user", "MYSQL_user"), ("password", "MYSQL_PASSWORD"), ("port", "MYSQL_PORT"),
                              ("database", "MYSQL_DATABASE")):
            if key in d:
                env[env_name] = str(d[key])
        if d.get("password"):
            options.append(f"password={d['password']}")
        extra = d.get("options") or {}
        pairs = list(extra.items()) if isinstance(extra, dict) else [tuple(p) for p in extra]
        options += [f"{k} = {self.ws.map(str(v))}" for k, v in pairs]
        if d.get("database"):  # the mysql client's own group: other clients (mysqldump) refuse `database`
            options += ["[mysql]", f"database={d['database']}"]
        (home / ".my.cnf").write_text("\n".join(options) + "\n")
        args = [self.ws.map(a) for a in config_args(d)]
        if d.get("script"):
            return Launch([shutil.which("bash") or "sh", self.path_in(d, str(d["script"])), *args], env=env,
                          cwd=self.ws.scenario_dir)
        return Launch([client, *args], env=env, cwd=self.ws.scenario_dir)


# ------------------------------------------------------------------------------------------------ faketime

FAKETIME_TYPES = {"opensips", "uac-sipp", "uas-sipp", "uac-sipp-stir-shaken", "sipp"}
LIBFAKETIME_GLOB = "/usr/lib/*/faketime/libfaketime.so.1"  # Debian's libfaketime (package faketime)


def libfaketime() -> str | None:
    import glob
    found = sorted(glob.glob(LIBFAKETIME_GLOB))
    return found[0] if found else None


def faketime_env(offset: int) -> dict[str, str]:
    """The environment running a task `offset` seconds away from now: libfaketime preloaded with a relative
    offset (the same for every task of the scenario, so their clocks agree), the monotonic clock left real
    (trio's timers, SIPp's retransmissions)."""
    library = libfaketime()
    if library is None:
        raise TaskSkip("--faketime needs libfaketime (Debian package faketime)")
    preload = os.environ.get("LD_PRELOAD")
    return {"LD_PRELOAD": f"{library}:{preload}" if preload else library, "FAKETIME": f"{offset:+d}",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


def is_daemon(definition: dict[str, Any]) -> bool:
    kind = str(definition.get("type", "generic")).lower()
    return bool(definition.get("daemon", kind in DAEMON_TYPES))


# ------------------------------------------------------------------------------------------------ PASSporT

_DEFAULT_KEY = (b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIOvgr23lbJ5rIOhiF+LR/VU4piEc1EYLT1CF5SN5HtZoAoGCCqGSM49AwEHoUQD"
                b"QgAEuyQP0hteN1oKDUxo/2zvTp+0ppJ2IntNSdu36QFsUPDsCWlr4iTUMsjPtD+XQ58xQEf6n/zTE9cwZhs46NJWdA==\n"
                b"-----END EC PRIVATE KEY-----")  # SIPssert's default test key (uac-sipp-stir-shaken.py)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def passport_jwt(d: dict[str, Any], service: str, caller: str, now: float | None = None) -> str:
    """The STIR/SHAKEN PASSporT SIPssert hands to sipp (PyJWT's jwt.encode in uac-sipp-stir-shaken.py):
    ES256-signed, header keys sorted, claims in SIPssert's order, iat = `now` (default: the clock)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    key_pem = d.get("stir_shaken_private_key", _DEFAULT_KEY)
    key = serialization.load_pem_private_key(key_pem.encode() if isinstance(key_pem, str) else key_pem, None)
    alg = str(d.get("stir_shaken_alg", "ES256"))
    header = {"alg": alg, "ppt": str(d.get("stir_shaken_ppt", "shaken")),
              "typ": str(d.get("stir_shaken_typ", "passport")),
              "x5u": str(d.get("stir_shaken_info", "https://certs.example.org/cert.pem"))}
    claims = {"attest": str(d.get("stir_shaken_attest", "A")), "dest": {"tn": [service.replace("+", "")]},
              "iat": int(time.time() if now is None else now), "orig": {"tn": caller.replace("+", "")},
              "origid": str(d.get("stir_shaken_origid", "4437c7eb-8f7a-4f0e-a863-f53a0e60251a"))}
    if not header["typ"]:
        del header["typ"]  # PyJWT leaves out an empty typ
    signing_input = (_b64url(json.dumps(header, separators=(",", ":"), sort_keys=True).encode()) + "."
                     + _b64url(json.dumps(claims, separators=(",", ":")).encode()))
    der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def describe(launch: Launch) -> str:
    return "sleep" if launch.sleep is not None else shlex.join(launch.argv)
