"""Where a scenario runs: a temporary copy of its directory with container paths turned into workspace
paths, and (only without a network namespace) docker's addresses into loopback ones. The corpus itself is
never touched.

Addresses: the suite's bridges are 192.168.52.0/24 (osbr0) and 10.52.0.0/24 (osbr1). Normally the scenario
runs in its own network namespace where those addresses exist (sipssert/netns.py) and the files keep them.
Without one (`--no-netns`, or no permission for `ip netns`) they become 127.0.52.x and 127.10.52.x (all of
127/8 is loopback on Linux, no setup), in every text file and in the text columns of seeded SQLite
databases (an HA1 computed over a mapped realm is recomputed when the scenario's defines hold its password).
Paths: each task sees the scenario directory at its mount point (/etc/opensips for opensips, /home for
the others) and a scenario volume at its bind path (/var/lib/opensips/db_sqlite); here those are the
workspace copy and a workspace directory per volume. FIFO paths under /run/opensips or /var/run/opensips
(mi_fifo) go to the workspace too. In SIPp scenario files, `<`/`>` inside attribute values are escaped
(see escape_attribute_brackets).
"""
from __future__ import annotations

import hashlib
import ipaddress
import re
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

_ADDRESS_RULES = (
    (re.compile(r"(?<![\d.])192\.168\.52\.(?=\d|%)"), "127.0.52."),
    (re.compile(r"(?<![\d.])10\.52\.0\.(?=\d|%)"), "127.10.52."),
)

MOUNT_POINTS = ("/etc/opensips", "/home")
RUN_DIRS = ("/var/run/opensips", "/run/opensips")


def map_addresses(text: str) -> str:
    """192.168.52.x → 127.0.52.x, 10.52.0.x → 127.10.52.x (also in 192.168.52.% and …0/24)."""
    for pattern, replacement in _ADDRESS_RULES:
        text = pattern.sub(replacement, text)
    return text


def escape_attribute_brackets(xml: str) -> str:
    """`<` and `>` inside attribute values escaped (`regexp="<sip:(.*)>"`): the suite's SIPp scenarios have
    them raw, which the SIPp of its docker image takes and Debian's SIPp 3.6 refuses ("Invalid XML in
    scenario"). CDATA sections (the SIP messages) and comments are left as they are."""
    out: list[str] = []
    i, n = 0, len(xml)
    in_tag = False
    quote = ""
    while i < n:
        if not in_tag:
            for opener, closer in (("<![CDATA[", "]]>"), ("<!--", "-->")):
                if xml.startswith(opener, i):
                    end = xml.find(closer, i)
                    end = n if end < 0 else end + len(closer)
                    out.append(xml[i:end])
                    i = end
                    break
            else:
                ch = xml[i]
                in_tag = ch == "<"
                out.append(ch)
                i += 1
            continue
        ch = xml[i]
        if quote:
            if ch == quote:
                quote = ""
                out.append(ch)
            else:
                out.append({"<": "&lt;", ">": "&gt;"}.get(ch, ch))
        elif ch in "\"'":
            quote = ch
            out.append(ch)
        else:
            in_tag = ch != ">"
            out.append(ch)
        i += 1
    return "".join(out)


def loopback_of(network: str | None, host: int) -> str:
    """The loopback address for host number `host` of a suite network (osbr0 by default)."""
    return f"127.10.52.{host}" if network == "osbr1" else f"127.0.52.{host}"


DEFAULT_BRIDGES = [{"name": "osbr0", "subnet": "192.168.52.0/24", "gateway": "192.168.52.254"},
                   {"name": "osbr1", "subnet": "10.52.0.0/24", "gateway": "10.52.0.254"}]


class AddressPool:
    """Addresses docker's IPAM would give tasks without an `ip`: the lowest free host of the task's bridge,
    skipping the network, broadcast and gateway addresses and every address the scenario names (those
    belong to tasks that may start later). An ended task's address is free again, as docker frees it when
    the container is removed (registration/01 unregisters from the address the first UAC registered)."""

    def __init__(self, bridges: list[dict], reserved: Iterable[str] = (),
                 mapper: Callable[[str], str] = lambda a: a):
        self.networks: dict[str, ipaddress.IPv4Network] = {}
        self.gateways: set[ipaddress.IPv4Address] = set()
        for bridge in bridges:
            try:
                self.networks[str(bridge["name"])] = ipaddress.ip_network(str(bridge["subnet"]), strict=False)
                self.gateways.add(ipaddress.ip_address(str(bridge.get("gateway"))))
            except (KeyError, ValueError):
                continue
        self.reserved: set[ipaddress.IPv4Address] = set()
        for text in reserved:
            try:
                self.reserved.add(ipaddress.ip_address(text))
            except ValueError:
                pass
        self.mapper = mapper
        self.taken: dict[object, ipaddress.IPv4Address] = {}

    def take(self, owner: object, network: str | None) -> str:
        subnet = self.networks.get(network or "osbr0") or next(iter(self.networks.values()))
        busy = self.reserved | self.gateways | set(self.taken.values())
        for host in subnet.hosts():  # bounded by the subnet's size
            if host not in busy:
                self.taken[owner] = host
                return self.mapper(str(host))
        raise RuntimeError(f"no free address left on {subnet}")

    def give_back(self, owner: object) -> None:
        self.taken.pop(owner, None)


SQLITE_MAGIC = b"SQLite format 3\x00"


def map_sqlite(path: Path, mapper: Callable[[str], str], passwords: Iterable[str] = ()) -> int:
    """Map the addresses in every text column of an SQLite database (a workspace copy); an `ha1` that is
    md5(username:realm:password) for a realm that changed and a password among `passwords` is recomputed
    over the new realm. Returns the number of rows changed."""
    passwords = [p for p in dict.fromkeys(passwords) if p]
    changed = 0
    db = sqlite3.connect(str(path))
    try:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                               "AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            columns = [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]
            rows = db.execute(f'SELECT rowid, * FROM "{table}"').fetchall()
            for row in rows:
                record = dict(zip(columns, row[1:]))
                update = {col: mapper(val) for col, val in record.items()
                          if isinstance(val, str) and mapper(val) != val}
                ha1 = _remapped_ha1(record, mapper, passwords)
                if ha1:
                    update["ha1"] = ha1
                if update:
                    assignments = ", ".join(f'"{col}" = ?' for col in update)
                    db.execute(f'UPDATE "{table}" SET {assignments} WHERE rowid = ?', [*update.values(), row[0]])
                    changed += 1
        db.commit()
    finally:
        db.close()
    return changed


def _remapped_ha1(record: dict, mapper: Callable[[str], str], passwords: list[str]) -> str | None:
    ha1, user = record.get("ha1"), record.get("username")
    if not isinstance(ha1, str) or not ha1 or not isinstance(user, str):
        return None
    realms = [record.get("domain")] if record.get("domain") else []
    realms += [p for p in passwords if map_addresses(p) != p]  # an empty domain: the realm was an address
    for realm in realms:
        for password in passwords:
            if hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest() == ha1.lower():
                new_realm = mapper(realm)
                if new_realm == realm:
                    return None
                return hashlib.md5(f"{user}:{new_realm}:{password}".encode()).hexdigest()
    return None


@dataclass
class Workspace:
    """A scenario's temporary home: `scenario/` (the copy), `volumes/<name>/`, `run/`, `logs/`.
    `rewrite_addresses` is the loopback mode (no network namespace)."""

    root: Path
    volumes: dict[str, Path] = field(default_factory=dict)
    path_map: list[tuple[str, str]] = field(default_factory=list)
    rewrite_addresses: bool = True
    secrets: list[str] = field(default_factory=list)  # the defines' values: passwords for HA1 remapping

    @property
    def scenario_dir(self) -> Path:
        return self.root / "scenario"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @classmethod
    def create(cls, scenario_dir: Path, volume_binds: dict[str, str], base: Path | None = None,
               rewrite_addresses: bool = True, secrets: Iterable[str] = ()) -> "Workspace":
        """Make the workspace: volume directories, the path map, then the mapped copy of the scenario."""
        root = Path(tempfile.mkdtemp(prefix="sipssert-", dir=str(base) if base else None))
        ws = cls(root, rewrite_addresses=rewrite_addresses, secrets=list(secrets))
        for sub in ("run", "logs", "volumes"):
            (root / sub).mkdir()
        binds: list[tuple[str, str]] = []
        for name, bind in volume_binds.items():
            directory = root / "volumes" / re.sub(r"[^\w.-]", "_", name)
            directory.mkdir(parents=True, exist_ok=True)
            ws.volumes[name] = directory
            if bind:
                binds.append((bind.rstrip("/"), str(directory)))
        ws.path_map = sorted(binds, key=lambda pair: -len(pair[0]))  # longest container path first
        ws.path_map += [(mount, str(ws.scenario_dir)) for mount in MOUNT_POINTS]
        ws.path_map += [(run, str(root / "run")) for run in RUN_DIRS]
        ws.path_map.append(("/tmp/opensips_fifo", str(root / "run" / "opensips_fifo")))
        ws._copy(scenario_dir)
        return ws

    def map(self, text: str) -> str:
        """Addresses (loopback mode) and container paths of `text` as this workspace sees them."""
        text = self.map_address(text)
        for container_path, local in self.path_map:
            text = re.sub(r"(?<![\w.-])" + re.escape(container_path) + r"(?=/|\b|$)",
                          local.replace("\\", "\\\\"), text)
        return text

    def map_address(self, text: str) -> str:
        """The suite's addresses in `text` as tasks see them: unchanged in a namespace, else loopback."""
        return map_addresses(text) if self.rewrite_addresses else text

    def _copy(self, source: Path) -> None:
        shutil.copytree(source, self.scenario_dir, symlinks=False)
        for path in self.scenario_dir.rglob("*"):
            if not path.is_file():
                continue
            data = path.read_bytes()
            if data.startswith(SQLITE_MAGIC):
                if self.rewrite_addresses:
                    map_sqlite(path, map_addresses, self.secrets)
                continue
            if b"\0" in data:
                continue  # other binary files: copied as is
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            mapped = self.map(text)
            if path.suffix == ".xml" and "<scenario" in mapped:
                mapped = escape_attribute_brackets(mapped)
            if mapped != text:
                path.write_text(mapped, encoding="utf-8")

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
