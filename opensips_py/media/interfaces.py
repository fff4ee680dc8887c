"""Local interfaces, from rtpengine's ``--interface=[NAME/]IP[!ADVERTISED]`` option.

Each interface has a name (``default`` unless given), the address we bind media sockets to, the address
we advertise in SDP (differs behind a 1:1 NAT), its own port pool and an ICE foundation. Several
``--interface`` options with the same name form one logical interface with several addresses; the
``direction`` key of an offer picks the logical interface per leg.
"""
from __future__ import annotations

import ipaddress
import secrets
import string
from dataclasses import dataclass, field

from opensips_py.media.ports import PortPool

_FOUNDATION_ALPHABET = string.ascii_letters + string.digits


def address_family(address: str) -> str:
    """'IP4' or 'IP6' (the SDP spelling) for an address literal."""
    return "IP6" if ":" in address else "IP4"


@dataclass(eq=False)
class LocalInterface:
    """One local address of a logical interface."""

    name: str
    address: str
    advertised: str
    pool: PortPool
    unique_id: int
    foundation: str = field(default_factory=lambda: "".join(
        secrets.choice(_FOUNDATION_ALPHABET) for _ in range(16)))

    @property
    def family(self) -> str:
        return address_family(self.address)


class InterfaceError(ValueError):
    """An --interface value that cannot be used."""


def parse_interface(spec: str) -> tuple[str, str, str]:
    """'[NAME/]IP[!ADVERTISED]' → (name, address, advertised)."""
    name = "default"
    rest = spec.strip()
    if "/" in rest:
        name, rest = rest.split("/", 1)
        if not name:
            raise InterfaceError(f"empty interface name in {spec!r}")
    address, _, advertised = rest.partition("!")
    for value in (address, advertised or address):
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise InterfaceError(f"not an IP address in --interface {spec!r}: {value!r}") from None
    return name, address, advertised or address


class InterfaceTable:
    """All logical interfaces; the first one given is the default."""

    def __init__(self, specs: list[str], port_min: int, port_max: int) -> None:
        if not specs:
            raise InterfaceError("at least one --interface is needed")
        self.by_name: dict[str, list[LocalInterface]] = {}
        self.all: list[LocalInterface] = []
        # Interfaces binding the same address share one port pool: a port is a port.
        pools: dict[str, PortPool] = {}
        for index, spec in enumerate(specs):
            name, address, advertised = parse_interface(spec)
            pool = pools.setdefault(address, PortPool(port_min, port_max))
            interface = LocalInterface(name, address, advertised, pool, unique_id=index)
            self.by_name.setdefault(name, []).append(interface)
            self.all.append(interface)
        self.default_name = self.all[0].name

    def lookup(self, name: str | None, family: str | None = None) -> LocalInterface:
        """The first address of interface `name` (default when unknown), preferring `family`."""
        candidates = self.by_name.get(name or "") or self.by_name[self.default_name]
        if family:
            for interface in candidates:
                if interface.family == family:
                    return interface
            for interfaces in self.by_name.values():
                for interface in interfaces:
                    if interface.family == family:
                        return interface
        return candidates[0]

    def pools(self) -> list[PortPool]:
        unique: list[PortPool] = []
        for interface in self.all:
            if all(pool is not interface.pool for pool in unique):
                unique.append(interface.pool)
        return unique
