"""Host names to addresses: the system resolver, asked once per name and remembered (no SRV/NAPTR yet).

A stateless proxy resolves the destination of every request it forwards, so the answer is cached for the
life of the process (OpenSIPS's DNS cache does the same within its TTLs). IP literals never reach the
system resolver. Tests and replay use `Resolver(hosts={...}, system=False)`, which answers from a table only.
"""
from __future__ import annotations

import ipaddress
import socket
from typing import Callable

LookUp = Callable[[str], str | None]


def system_lookup(name: str) -> str | None:
    """The first address the system resolver gives for `name` (IPv4 first), or None."""
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_DGRAM)
    except OSError:
        return None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return infos[0][4][0] if infos else None


def ip_literal(host: str) -> str | None:
    """`host` as a normalised IP address (brackets of an IPv6 reference removed), or None for a name."""
    if host.startswith("["):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


class Resolver:
    """Name -> IP, cached. Unresolvable names are cached too (as None) so a bad name costs one lookup."""

    def __init__(self, hosts: dict[str, str] | None = None, system: bool = True,
                 lookup: LookUp = system_lookup, max_entries: int = 10000) -> None:
        self._cache: dict[str, str | None] = {}
        self._hosts = {name.lower(): address for name, address in (hosts or {}).items()}
        self._system = system
        self._lookup = lookup
        self._max_entries = max_entries

    def resolve(self, host: str) -> str | None:
        found = self._cache.get(host, False)
        if found is not False:
            return found  # type: ignore[return-value]
        address = ip_literal(host)
        if address is None:
            address = self._hosts.get(host.lower())
        if address is None and self._system:
            address = self._lookup(host)
        if len(self._cache) < self._max_entries:
            self._cache[host] = address
        return address
