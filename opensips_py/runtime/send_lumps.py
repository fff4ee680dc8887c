"""Header lines finished when the message leaves: OpenSIPS's SUBST and COND lumps.

Some edits depend on the socket a request is sent from, which the script does not know when it makes them:
record_route() writes the outgoing interface's address in the Record-Route URI, and a second Record-Route
(r2=on) only when the outgoing interface differs from the one the request came in on (rr's
`enable_double_rr`). OpenSIPS keeps such pieces as special lumps (SUBST_SND_ALL, COND_IF_DIFF_REALMS,
msg_translator.c) resolved by build_req_buf_from_sip_req() once the send socket is chosen.

Here a module puts a `SendTimeLine` into `msg.lumps.insert` like any header line. Its str value is a valid
stand-in (what the line says if the message left from the socket it came in on), so nothing breaks if a
message is serialized without finishing. Whoever serializes a request for one destination (stateless
forward(), tm's branches) calls `finish_lumps(lumps, Outgoing(...))` on the copy it serializes; each
SendTimeLine is replaced by the lines it renders for that socket (possibly none, possibly several).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.script.context import ListenSocket
    from opensips_py.sip.message import Lumps


@dataclass(frozen=True, slots=True)
class Outgoing:
    """Where one copy of a request leaves from: the send socket and set_advertised_address()/_port()."""

    socket: "ListenSocket"
    advertised_host: str | None = None
    advertised_port: int | None = None


class SendTimeLine(str):
    """A lump line whose final text depends on the send socket. Subclasses implement `finish()`; the str
    value is the stand-in used when nobody finishes the line."""

    def finish(self, out: Outgoing) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError


def has_send_time_lines(lumps: "Lumps") -> bool:
    for lines in lumps.insert.values():
        for line in lines:
            if isinstance(line, SendTimeLine):
                return True
    return False


def finish_lumps(lumps: "Lumps", out: Outgoing) -> "Lumps":
    """Replace, in `lumps` (a copy made for one send), every SendTimeLine by its lines for `out`."""
    insert = lumps.insert
    for anchor, lines in insert.items():
        if not any(isinstance(line, SendTimeLine) for line in lines):
            continue
        finished: list[str] = []
        for line in lines:
            if isinstance(line, SendTimeLine):
                finished.extend(line.finish(out))
            else:
                finished.append(line)
        insert[anchor] = finished
    return lumps


__all__ = ["Outgoing", "SendTimeLine", "finish_lumps", "has_send_time_lines"]
