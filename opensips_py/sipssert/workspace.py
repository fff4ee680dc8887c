"""Where a scenario runs: a temporary copy of its directory with docker's addresses and container paths
turned into loopback addresses and workspace paths (the corpus itself is never touched).

Addresses: the suite's bridges are 192.168.52.0/24 (osbr0) and 10.52.0.0/24 (osbr1); on one machine
without docker they become 127.0.52.x and 127.10.52.x (all of 127/8 is loopback on Linux, no setup).
Paths: each task sees the scenario directory at its mount point (/etc/opensips for opensips, /home for
the others) and a scenario volume at its bind path (/var/lib/opensips/db_sqlite); here those are the
workspace copy and a workspace directory per volume. FIFO paths under /run/opensips or /var/run/opensips
(mi_fifo) go to the workspace too. In SIPp scenario files, `<`/`>` inside attribute values are escaped
(see escape_attribute_brackets).
"""
from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass
class Workspace:
    """A scenario's temporary home: `scenario/` (the mapped copy), `volumes/<name>/`, `run/`, `logs/`."""

    root: Path
    volumes: dict[str, Path] = field(default_factory=dict)
    path_map: list[tuple[str, str]] = field(default_factory=list)

    @property
    def scenario_dir(self) -> Path:
        return self.root / "scenario"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @classmethod
    def create(cls, scenario_dir: Path, volume_binds: dict[str, str], base: Path | None = None) -> "Workspace":
        """Make the workspace: volume directories, the path map, then the mapped copy of the scenario."""
        root = Path(tempfile.mkdtemp(prefix="sipssert-", dir=str(base) if base else None))
        ws = cls(root)
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
        """Addresses and container paths of `text` as this workspace sees them."""
        text = map_addresses(text)
        for container_path, local in self.path_map:
            text = re.sub(r"(?<![\w.-])" + re.escape(container_path) + r"(?=/|\b|$)",
                          local.replace("\\", "\\\\"), text)
        return text

    def _copy(self, source: Path) -> None:
        shutil.copytree(source, self.scenario_dir, symlinks=False)
        for path in self.scenario_dir.rglob("*"):
            if not path.is_file():
                continue
            data = path.read_bytes()
            if b"\0" in data:
                continue  # binary (a seeded sqlite database): copied as is
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
