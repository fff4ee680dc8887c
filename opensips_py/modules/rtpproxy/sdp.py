"""The SDP walk and rewrite of rtpproxy_offer()/rtpproxy_answer() (rtpproxy_offer_answer() in rtpproxy.c).

The body is split into sessions (each from a ``v=`` line) and media (each from an ``m=`` line); for each
proxied medium the module asks the rtpproxy for a port, then the m= port, the c= address (the medium's,
or the session's once), the ``a=rtcp:`` line and, with flag o, the o= address are replaced. Edits are
kept as spans over the original text, like OpenSIPS's lumps, and applied at once.

Two shapes, as in OpenSIPS: the message's own body (lumps: the session c= is rewritten when a medium has
no c= of its own) and a body given in a variable (rebuilt text: the session c= is rewritten only with
flag c).
"""
from __future__ import annotations

from dataclasses import dataclass, field

# transport protocols of m= lines (sup_ptypes): name -> carries RTP payload types
MEDIA_PROTOCOLS = {
    "udp": False, "udptl": False, "rtp/avp": True, "rtp/avpf": True, "rtp/savp": True, "rtp/savpf": True,
    "dccp/tls/rtp/savp": True, "dccp/tls/rtp/savpf": True, "udp/tls/rtp/savp": True,
    "udp/tls/rtp/savpf": True, "udp/bfcp": False,
}


class SdpError(ValueError):
    """The body cannot be handled (no session, no m=, no c=…)."""


@dataclass
class Address:
    """The address of a c= or o= line: its text, family, and where it and its IP4/IP6 digit sit."""

    ip: str
    pf: int  # 4 or 6
    span: tuple[int, int]
    family_at: int  # index of the '4'/'6' of "IP4"/"IP6"


@dataclass
class Media:
    port: str
    port_span: tuple[int, int]
    payload_types: list[str]
    address: Address            # from the medium's c=, else the session's
    own_c: bool                 # the medium has its own c=
    rtcp_span: tuple[int, int] | None  # the value after "a=rtcp:" up to the line end
    end: int                    # where the medium's text ends


@dataclass
class Session:
    origin: Address | None
    common: Address | None      # the session-level c=
    media: list[Media] = field(default_factory=list)


def _lines(text: str, start: int, end: int):
    """(line start, line end without CR/LF) of each line in text[start:end]."""
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        line_end = stop - 1 if stop > pos and text[stop - 1] == "\r" else stop
        yield pos, line_end
        pos = stop + 1 if nl >= 0 else end


def _address(text: str, start: int, end: int, origin: bool) -> Address:
    """extract_mediaip(): "c=IN IP4 a.b.c.d" / "o=u id ver IN IP4 a.b.c.d"."""
    line = text[start:end]
    tokens, pos = [], 2
    while pos < len(line):
        while pos < len(line) and line[pos] in " \t":
            pos += 1
        first = pos
        while pos < len(line) and line[pos] not in " \t":
            pos += 1
        if first < pos:
            tokens.append((first, pos))
    skip = 3 if origin else 0
    if len(tokens) < skip + 3:
        raise SdpError(f"can't extract media IP from the message: {line!r}")
    family = line[tokens[skip + 1][0]:tokens[skip + 1][1]]
    if family.upper() not in ("IP4", "IP6"):
        raise SdpError(f"invalid addrtype {family!r}")
    a, b = tokens[skip + 2]
    ip = line[a:b]
    slash = ip.find("/")
    if slash >= 0:  # multicast TTL
        b = a + slash
        ip = ip[:slash]
    return Address(ip, 6 if family[-1] == "6" else 4, (start + a, start + b), start + tokens[skip + 1][1] - 1)


def parse(text: str) -> list[Session]:
    """Sessions and media with the positions the rewrite needs. Media whose protocol is unknown are
    skipped (not proxied); SdpError when a session has no o=, no m= or a medium no address."""
    stripped = len(text) - len(text.lstrip())
    if not text[stripped:].startswith("v="):
        raise SdpError("no sessions in SDP")
    lines = list(_lines(text, stripped, len(text)))
    starts = [i for i, (a, _) in enumerate(lines) if text.startswith("v=", a)]
    sessions = []
    for n, first in enumerate(starts):
        last = starts[n + 1] if n + 1 < len(starts) else len(lines)
        block = lines[first:last]
        o_line = next((l for l in block if text.startswith("o=", l[0])), None)
        if o_line is None:
            raise SdpError("no o= in session")
        m_indexes = [i for i, l in enumerate(block) if text.startswith("m=", l[0])]
        if not m_indexes:
            raise SdpError("no m= in session")
        head = block[block.index(o_line):m_indexes[0]]
        c_line = next((l for l in head if text.startswith("c=", l[0])), None)
        session = Session(_address(text, *o_line, origin=True), _address(text, *c_line, origin=False)
                          if c_line else None)
        session_end = lines[last][0] if last < len(lines) else len(text)
        for k, mi in enumerate(m_indexes):
            mend = m_indexes[k + 1] if k + 1 < len(m_indexes) else len(block)
            mblock = block[mi:mend]
            media_end = block[mend][0] if mend < len(block) else session_end
            m_start, m_stop = mblock[0]
            fields = text[m_start + 2:m_stop].split()
            if len(fields) < 3:
                raise SdpError("no port in `m='")
            proto = fields[2].lower()
            c_own = next((l for l in mblock if text.startswith("c=", l[0])), None)
            address_line = c_own or c_line
            if address_line is None:
                raise SdpError("can't find media IP in the message")
            if proto not in MEDIA_PROTOCOLS:
                continue  # unproxyable protocol type: not an error
            port_at = text.index(fields[1], m_start + 2 + len(fields[0]))
            rtcp = next((l for l in mblock if text.startswith("a=rtcp:", l[0])), None)
            session.media.append(Media(
                port=fields[1], port_span=(port_at, port_at + len(fields[1])),
                payload_types=fields[3:] if MEDIA_PROTOCOLS[proto] else [],
                address=_address(text, *address_line, origin=False), own_c=c_own is not None,
                rtcp_span=(rtcp[0] + 7, rtcp[1]) if rtcp else None, end=media_end))
        sessions.append(session)
    return sessions


def is_null(ip: str, pf: int) -> bool:
    """isnulladdr(): 0.0.0.0, or an IPv6 address of zeros and colons."""
    if pf == 6:
        return all(c in "0:" for c in ip)
    return ip == "0.0.0.0"


class Rewrite:
    """Edits over the original body, applied in position order."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.edits: dict[tuple[int, int], str] = {}

    def replace(self, span: tuple[int, int], value: str) -> None:
        self.edits[span] = value

    def address(self, old: Address, new_ip: str, new_pf: int, *, lump: bool) -> None:
        """alter_mediaip(): a null address of the same family stays (on hold), the same address stays; a
        family change rewrites "IP4 x" as "IP6 y"."""
        if lump and (old.pf == new_pf and is_null(old.ip, old.pf) or new_ip == old.ip):
            return
        if old.pf == new_pf:
            self.replace(old.span, new_ip)
        else:
            self.replace((old.family_at, old.span[1]), f"{new_pf}{self.text[old.family_at + 1:old.span[0]]}"
                                                        f"{new_ip}")

    def apply(self) -> str:
        out, pos = [], 0
        for (start, end), value in sorted(self.edits.items()):
            if start < pos:
                continue  # overlapping edit: the first one wins
            out.append(self.text[pos:start])
            out.append(value)
            pos = end
        out.append(self.text[pos:])
        return "".join(out)


def insert_marker(text: str, marker: str) -> str:
    """The a=nortpproxy line goes after the body's last CRLF (at the end when there is none)."""
    at = text.rfind("\r\n")
    at = len(text) if at < 0 else at + 2
    return text[:at] + marker + "\r\n" + text[at:]
