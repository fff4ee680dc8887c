"""ICE as the SDP shows it: our credentials and host candidates (RFC 8445, RFC 8839).

rtpengine gives every ICE-enabled media an agent with its own ufrag (8 characters) and password
(26 characters) and advertises one host candidate per local socket, with the interface's foundation and
priority ``126 << 24 | (65535 - interface id) << 8 | (256 - component)`` (daemon/ice.c, include/ice.h).
The connectivity checks themselves are a later issue; `IceSeam` is where a stream will hand STUN
packets to an agent.
"""
from __future__ import annotations

import secrets
import string
from typing import Protocol

_ALPHABET = string.ascii_letters + string.digits

TYPE_PREFERENCE = {"host": 126, "prflx": 110, "srflx": 100, "relay": 0}


def new_credentials() -> tuple[str, str]:
    """A fresh (ufrag, pwd) pair."""
    ufrag = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    pwd = "".join(secrets.choice(_ALPHABET) for _ in range(26))
    return ufrag, pwd


def priority(type_preference: int, local_preference: int, component: int) -> int:
    """RFC 8445 §5.1.2.1 as rtpengine computes it (local preference counted down from 65535)."""
    return (type_preference << 24) | ((65535 - local_preference) << 8) | (256 - component)


def candidate_line(foundation: str, component: int, address: str, port: int, type_name: str = "host",
                   local_preference: int = 0, related: tuple[str, int] | None = None,
                   type_preference: int | None = None) -> str:
    """The value of one a=candidate attribute."""
    if type_preference is None:
        type_preference = TYPE_PREFERENCE[type_name]
    value = (f"{foundation} {component} UDP "
             f"{priority(type_preference, local_preference, component)} {address} {port} "
             f"typ {type_name}")
    if type_name != "host" and related is not None:
        value += f" raddr {related[0]} rport {related[1]}"
    return value


def preference_below_peer(candidates: list[tuple[int, str, int]], type_name: str) -> tuple[int, int]:
    """(type, local) preference just above the peer's best candidate of our type, for when the relay
    is one candidate among the peer's own (rtpengine new_priority, used in ICE passthrough).

    `candidates` are (priority, type, component) of the received a=candidate lines, in SDP order.
    """
    type_preference = TYPE_PREFERENCE[type_name]
    local_preference = 0
    best = priority(type_preference, local_preference, 1)
    for cand_priority, cand_type, component in candidates:
        if cand_priority <= best and cand_type == type_name and component == 1:
            type_preference = cand_priority >> 24
            local_preference = 65535 - ((cand_priority >> 8) & 0xFFFF)
            if local_preference:
                local_preference -= 1
            else:
                if type_preference:
                    type_preference -= 1
                local_preference = 65535
            best = priority(type_preference, local_preference, 1)
    return type_preference, local_preference


def is_stun(data: bytes) -> bool:
    """RFC 7983 demultiplexing: first byte 0–3 is STUN."""
    return bool(data) and data[0] < 4


class IceSeam(Protocol):
    """What a stream will call once ICE acts (later issue): answer checks, report the nominated pair."""

    def stun_datagram(self, data: bytes, source: tuple[str, int]) -> bytes | None: ...
