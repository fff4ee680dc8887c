"""A private network namespace per scenario: the suite's own addresses, no rewriting, no collisions.

SIPssert puts every task in a docker container on two bridges (osbr0 192.168.52.0/24, osbr1 10.52.0.0/24).
Here each scenario gets one network namespace (`ip netns add sipssert-<pid>-<n>`) in which both subnets are
local: lo is up, the proxy's address on each subnet is added to lo, and the whole subnet is a `local` route
on lo whose preferred source is that address. So

- any task can bind any address of the suite (192.168.52.3 for the UAS, 10.52.0.1 for the proxy…), and
  packets between them stay inside the namespace;
- a socket that does not choose its source (OpenSIPS's mhomed probe, a TCP client) gets the proxy's address
  on the destination's subnet, as the proxy container's interface on that bridge would give it;
- the scenario's files (configs, SIPp scripts, seeded SQLite databases with HA1 over 192.168.52.1) work as
  written, and two scenarios running at once (other users of this machine) never see each other.

Every task is started as `ip netns exec NAME argv…` (which execs argv: the pid is the task's). delete()
kills what is left in the namespace and removes it; remove_stale() removes namespaces of earlier runs whose
runner process is gone (a crash, a kill -9), found by the name prefix.
"""
from __future__ import annotations

import ipaddress
import itertools
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field

PREFIX = "sipssert-"
_NAME = re.compile(rf"^{PREFIX}(\d+)-\d+$")
_counter = itertools.count(1)
_available: bool | None = None


class NamespaceError(Exception):
    """`ip netns` refused (not root, no iproute2, no CAP_SYS_ADMIN): use the loopback mapping instead."""


@dataclass(frozen=True)
class Subnet:
    """One suite bridge inside the namespace: its range and the proxy's (source) address on it."""

    network: ipaddress.IPv4Network
    source: ipaddress.IPv4Address


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    ip = shutil.which("ip")
    if ip is None:
        raise NamespaceError("the ip command (iproute2) is not installed")
    done = subprocess.run([ip, *args], capture_output=True, text=True, timeout=20)
    if check and done.returncode != 0:
        raise NamespaceError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done


def list_namespaces() -> list[str]:
    done = _ip("netns", "list", check=False)
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def _pids_in(name: str) -> list[int]:
    done = _ip("netns", "pids", name, check=False)
    return [int(p) for p in done.stdout.split() if p.isdigit()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_and_delete(name: str) -> None:
    for _ in range(3):  # processes may still be exiting; bounded
        pids = _pids_in(name)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    _ip("netns", "del", name, check=False)


def remove_stale() -> list[str]:
    """Delete the namespaces of runners that no longer exist (named sipssert-<pid>-<n>); returns them."""
    removed = []
    for name in list_namespaces():
        match = _NAME.match(name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            _kill_and_delete(name)
            removed.append(name)
    return removed


@dataclass
class Namespace:
    """A scenario's network namespace (create() it, wrap() each task's argv, delete() it)."""

    name: str
    subnets: list[Subnet] = field(default_factory=list)

    @classmethod
    def create(cls, subnets: list[Subnet]) -> "Namespace":
        namespace = cls(f"{PREFIX}{os.getpid()}-{next(_counter)}", list(subnets))
        _ip("netns", "add", namespace.name)
        try:
            namespace._configure()
        except Exception:
            namespace.delete()
            raise
        return namespace

    def _configure(self) -> None:
        self.exec_ip("link", "set", "lo", "up")
        for subnet in self.subnets:
            self.exec_ip("addr", "add", f"{subnet.source}/32", "dev", "lo")
            # the whole range is local ("AnyIP"): any address of it can be bound; sourced from the proxy's
            self.exec_ip("route", "add", "local", str(subnet.network), "dev", "lo", "src", str(subnet.source),
                         "table", "local")

    def exec_ip(self, *args: str) -> None:
        _ip("-n", self.name, *args)

    def wrap(self, argv: list[str]) -> list[str]:
        """argv run inside the namespace (`ip netns exec` execs it, so the pid stays the task's)."""
        return [shutil.which("ip") or "ip", "netns", "exec", self.name, *argv]

    def delete(self) -> None:
        _kill_and_delete(self.name)


def available() -> bool:
    """Whether this process may create network namespaces (tried once: add, configure, delete)."""
    global _available
    if _available is None:
        try:
            remove_stale()
            Namespace.create([]).delete()
            _available = True
        except (NamespaceError, OSError, subprocess.SubprocessError):
            _available = False
    return _available


def subnets_for(bridges: list[dict], proxy_addresses: list[str]) -> list[Subnet]:
    """The namespace's subnets from config.yml's bridge_networks: each with the proxy's address inside it
    as source (the first opensips address in range), else the bridge's gateway."""
    out = []
    for bridge in bridges:
        try:
            network = ipaddress.ip_network(str(bridge["subnet"]), strict=False)
        except (KeyError, ValueError):
            continue
        if network.version != 4:
            continue
        source = None
        for text in proxy_addresses:
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                continue
            if address in network:
                source = address
                break
        if source is None:
            try:
                source = ipaddress.ip_address(str(bridge.get("gateway")))
            except ValueError:
                source = next(network.hosts())
        out.append(Subnet(network, source))
    return out


__all__ = ["Namespace", "NamespaceError", "Subnet", "available", "remove_stale", "subnets_for", "PREFIX"]
