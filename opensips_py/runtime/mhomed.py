"""`mhomed=yes`: send from the socket whose address the kernel would use as source for the destination.

OpenSIPS (forward.c get_out_socket) connects a throw-away UDP socket to the destination and takes the
listening socket bound to the source address the kernel picked. On loopback every 127/8 destination is
sourced from 127.0.0.1, so a machine emulating several interfaces with 127.x addresses (the SIPssert runner
does) would never find a match: there the socket sharing the longest address prefix with the destination
stands in for "the interface on the destination's network".
"""
from __future__ import annotations

import ipaddress
import socket as _socket
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.script.context import ListenSocket


def kernel_source(ip: str) -> str | None:
    """The source address the kernel routes `ip` from (no packet is sent by connect() on UDP)."""
    family = _socket.AF_INET6 if ":" in ip else _socket.AF_INET
    probe = _socket.socket(family, _socket.SOCK_DGRAM)
    try:
        probe.connect((ip, 9))
        return probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()


def _prefix_length(a: str, b: str) -> int:
    try:
        x, y = ipaddress.ip_address(a), ipaddress.ip_address(b)
    except ValueError:
        return -1
    if x.version != y.version:
        return -1
    bits = x.max_prefixlen
    return bits - (int(x) ^ int(y)).bit_length()


def outgoing_socket(candidates: Sequence["ListenSocket"], ip: str) -> "ListenSocket | None":
    """The candidate bound to the kernel's source address for `ip`; for a loopback destination, the one
    with the longest common address prefix; None when neither applies (the caller's default then)."""
    source = kernel_source(ip)
    if source is not None:
        for sock in candidates:
            if sock.host == source:
                return sock
    try:
        loopback = ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return None
    if not loopback:
        return None
    best, best_length = None, -1
    for sock in candidates:
        length = _prefix_length(sock.host, ip)
        if length > best_length:
            best, best_length = sock, length
    return best


__all__ = ["outgoing_socket", "kernel_source"]
