"""SDP (RFC 8866) as an editable list of lines: parse, read, edit, serialize byte-exact.

Theory of operation: a session description is kept as the lines it was written with. Each line remembers
its type letter, its value and its own line ending, so `serialize()` of an unedited description gives back
the input bytes exactly: unknown attributes, odd spacing, a missing final CRLF and SIPp `[keywords]` survive.
Typed readers (`origin`, `connection`, `codecs()`, `candidates()`, `fingerprint`, …) parse the line they need
each time they are asked; setters rewrite only the line they own, so everything else stays as it came.

The description has one session section (`SessionDescription`, the lines before the first `m=`) and one
`MediaDescription` per `m=` line. Both are `Section`s and share the attribute API (`attribute`,
`attributes`, `set_attribute`, `add_attribute`, `remove_attributes`). Properties that may be given at either
level (c=, a=fingerprint, a=setup, a=ice-ufrag/pwd, direction) are read per section; the media relay decides
about inheritance with the `effective_*` helpers on `MediaDescription`.

Malformed values raise `SIPParseError(400)` from the typed reader that meets them, never at parse time, so a
relay can still forward an SDP it does not fully understand.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

from opensips_py.sip.errors import SIPParseError

__all__ = [
    "Attribute", "Candidate", "Codec", "Connection", "Crypto", "Fingerprint", "Group", "MediaDescription",
    "Origin", "Rtcp", "STATIC_PAYLOAD_TYPES", "Section", "SdpLine", "SessionDescription", "DIRECTIONS",
]

# RFC 3551 §6 static payload types: pt -> (encoding, clock rate, channels).
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int | None]] = {
    0: ("PCMU", 8000, 1), 3: ("GSM", 8000, 1), 4: ("G723", 8000, 1), 5: ("DVI4", 8000, 1),
    6: ("DVI4", 16000, 1), 7: ("LPC", 8000, 1), 8: ("PCMA", 8000, 1), 9: ("G722", 8000, 1),
    10: ("L16", 44100, 2), 11: ("L16", 44100, 1), 12: ("QCELP", 8000, 1), 13: ("CN", 8000, 1),
    14: ("MPA", 90000, None), 15: ("G728", 8000, 1), 16: ("DVI4", 11025, 1), 17: ("DVI4", 22050, 1),
    18: ("G729", 8000, 1), 25: ("CelB", 90000, None), 26: ("JPEG", 90000, None), 28: ("nv", 90000, None),
    31: ("H261", 90000, None), 32: ("MPV", 90000, None), 33: ("MP2T", 90000, None), 34: ("H263", 90000, None),
}

# a=sendrecv / sendonly / recvonly / inactive (RFC 8866 §6.7).
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")

# RFC 8866 §5: the order of line types inside a section; new lines are placed accordingly.
_SESSION_ORDER = "vosiuepcbtrzka"
_MEDIA_ORDER = "mickba"


def _bad(what: str) -> SIPParseError:
    return SIPParseError(400, "Bad Request", f"bad SDP: {what}")


class SdpLine:
    """One line: `type` ('v', 'o', 'a', …; '' for a line that is not `x=...`), `value`, `eol` as written."""

    __slots__ = ("type", "value", "eol")

    def __init__(self, type: str, value: str, eol: str = "\r\n") -> None:
        self.type = type
        self.value = value
        self.eol = eol

    def text(self, eol: str | None = None) -> str:
        """The line as written (with `eol` instead of the stored one when given)."""
        end = self.eol if eol is None else eol
        return f"{self.type}={self.value}{end}" if self.type else self.value + end

    @property
    def attr_name(self) -> str:
        """For an a= line: the attribute name (text before the first ':')."""
        return self.value.partition(":")[0]

    @property
    def attr_value(self) -> str | None:
        """For an a= line: the text after the first ':', or None for a property attribute (`a=rtcp-mux`)."""
        name, colon, value = self.value.partition(":")
        return value if colon else None

    def __repr__(self) -> str:
        return f"SdpLine({self.text('')!r})"


@dataclass(frozen=True)
class Attribute:
    """An a= attribute: `value` is None for a property attribute."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True)
class Origin:
    """o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>."""

    username: str
    sess_id: str
    sess_version: str
    nettype: str
    addrtype: str
    address: str

    @classmethod
    def parse(cls, value: str) -> Origin:
        parts = value.split()
        if len(parts) != 6:
            raise _bad(f"o= needs 6 fields: {value!r}")
        return cls(*parts)

    def __str__(self) -> str:
        return " ".join((self.username, self.sess_id, self.sess_version, self.nettype, self.addrtype,
                         self.address))


@dataclass(frozen=True)
class Connection:
    """c=<nettype> <addrtype> <connection-address>; `address` keeps any /ttl/count suffix as written."""

    nettype: str
    addrtype: str
    address: str

    @classmethod
    def parse(cls, value: str) -> Connection:
        parts = value.split()
        if len(parts) != 3:
            raise _bad(f"c= needs 3 fields: {value!r}")
        return cls(*parts)

    @property
    def host(self) -> str:
        """The address without a multicast /ttl or /count suffix."""
        return self.address.split("/", 1)[0]

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


@dataclass
class Codec:
    """A payload type of an m= line with its rtpmap, fmtp and rtcp-fb attributes (RFC 8866 §6.6, §6.15)."""

    payload_type: str
    encoding: str | None
    clock_rate: int | None
    channels: int | None = None
    fmtp: str | None = None
    rtcp_fb: list[str] = field(default_factory=list)

    @property
    def rtpmap(self) -> str | None:
        """The rtpmap value (`0 PCMU/8000`), or None when the codec has no encoding name."""
        if self.encoding is None or self.clock_rate is None:
            return None
        tail = f"/{self.channels}" if self.channels is not None else ""
        return f"{self.payload_type} {self.encoding}/{self.clock_rate}{tail}"


@dataclass(frozen=True)
class Rtcp:
    """a=rtcp:<port> [<nettype> <addrtype> <address>] (RFC 3605)."""

    port: int
    nettype: str | None = None
    addrtype: str | None = None
    address: str | None = None

    @classmethod
    def parse(cls, value: str) -> Rtcp:
        parts = value.split()
        if len(parts) not in (1, 4) or not parts[0].isdigit():
            raise _bad(f"a=rtcp: {value!r}")
        if len(parts) == 1:
            return cls(int(parts[0]))
        return cls(int(parts[0]), parts[1], parts[2], parts[3])

    def __str__(self) -> str:
        if self.address is None:
            return str(self.port)
        return f"{self.port} {self.nettype} {self.addrtype} {self.address}"


@dataclass(frozen=True)
class Candidate:
    """a=candidate (RFC 8839 §5.1): foundation, component, transport, priority, address, port, typ, extras.

    `extensions` keeps every name/value pair after `typ <type>` in order (raddr, rport, generation,
    tcptype, network-id, …) so that `str()` gives the value back.
    """

    foundation: str
    component: int
    transport: str
    priority: int
    address: str
    port: int
    type: str
    extensions: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, value: str) -> Candidate:
        parts = value.split()
        if len(parts) < 8 or parts[6] != "typ" or len(parts) % 2:
            raise _bad(f"a=candidate: {value!r}")
        try:
            component, priority, port = int(parts[1]), int(parts[3]), int(parts[5])
        except ValueError:
            raise _bad(f"a=candidate: {value!r}") from None
        extensions = tuple(zip(parts[8::2], parts[9::2]))
        return cls(parts[0], component, parts[2], priority, parts[4], port, parts[7], extensions)

    def extension(self, name: str) -> str | None:
        for key, value in self.extensions:
            if key == name:
                return value
        return None

    @property
    def related_address(self) -> str | None:
        return self.extension("raddr")

    @property
    def related_port(self) -> int | None:
        value = self.extension("rport")
        return int(value) if value is not None and value.isdigit() else None

    def __str__(self) -> str:
        head = (f"{self.foundation} {self.component} {self.transport} {self.priority} {self.address} "
                f"{self.port} typ {self.type}")
        return head + "".join(f" {k} {v}" for k, v in self.extensions)


@dataclass(frozen=True)
class Fingerprint:
    """a=fingerprint:<hash-func> <fingerprint> (RFC 8122)."""

    hash_function: str
    value: str

    @classmethod
    def parse(cls, value: str) -> Fingerprint:
        parts = value.split()
        if len(parts) != 2:
            raise _bad(f"a=fingerprint: {value!r}")
        return cls(parts[0], parts[1])

    def __str__(self) -> str:
        return f"{self.hash_function} {self.value}"


@dataclass(frozen=True)
class Crypto:
    """a=crypto:<tag> <crypto-suite> <key-params> [<session-params>] (SDES, RFC 4568)."""

    tag: int
    suite: str
    key_params: str
    session_params: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str) -> Crypto:
        parts = value.split()
        if len(parts) < 3 or not parts[0].isdigit():
            raise _bad(f"a=crypto: {value!r}")
        return cls(int(parts[0]), parts[1], parts[2], tuple(parts[3:]))

    @property
    def key_salt(self) -> str | None:
        """The base64 key||salt of the first `inline:` key parameter."""
        for param in self.key_params.split(";"):
            if param.startswith("inline:"):
                return param[7:].split("|", 1)[0]
        return None

    def __str__(self) -> str:
        return " ".join((str(self.tag), self.suite, self.key_params, *self.session_params))


@dataclass(frozen=True)
class Group:
    """a=group:<semantics> <mid> … (RFC 5888; BUNDLE is RFC 9143)."""

    semantics: str
    mids: tuple[str, ...]

    @classmethod
    def parse(cls, value: str) -> Group:
        parts = value.split()
        if not parts:
            raise _bad("empty a=group")
        return cls(parts[0], tuple(parts[1:]))

    def __str__(self) -> str:
        return " ".join((self.semantics, *self.mids))


class Section:
    """Lines of one section (session or media) and the attribute API both share."""

    _order = _SESSION_ORDER

    def __init__(self, lines: list[SdpLine] | None = None, eol: str = "\r\n") -> None:
        self.lines: list[SdpLine] = lines if lines is not None else []
        self.eol = eol

    # -- generic line access -------------------------------------------------------------------------------

    def line(self, type: str) -> str | None:
        """Value of the first line of `type` (e.g. 'c', 's'), or None."""
        for line in self.lines:
            if line.type == type:
                return line.value
        return None

    def line_values(self, type: str) -> list[str]:
        return [line.value for line in self.lines if line.type == type]

    def set_line(self, type: str, value: str | None) -> None:
        """Replace the first line of `type`, insert one in RFC 8866 order if absent, or remove all if None."""
        if value is None:
            self.lines[:] = [line for line in self.lines if line.type != type]
            return
        for line in self.lines:
            if line.type == type:
                line.value = value
                return
        self._insert(SdpLine(type, value, self.eol))

    def _insert(self, new: SdpLine) -> None:
        """Insert after the last line whose type comes no later than `new.type` in the section order."""
        rank = self._order.find(new.type)
        position = 0
        for index, line in enumerate(self.lines):
            other = self._order.find(line.type)
            if rank < 0 or other < 0 or other <= rank:
                position = index + 1
        self.lines.insert(position, new)

    # -- attributes ------------------------------------------------------------------------------------------

    def attributes(self, name: str | None = None) -> list[Attribute]:
        """The a= attributes in order, all or those called `name`."""
        out = []
        for line in self.lines:
            if line.type == "a":
                attr_name, colon, value = line.value.partition(":")
                if name is None or attr_name == name:
                    out.append(Attribute(attr_name, value if colon else None))
        return out

    def attribute(self, name: str) -> str | None:
        """Value of the first a=`name` ('' for a property attribute), or None when absent."""
        for line in self.lines:
            if line.type == "a":
                attr_name, colon, value = line.value.partition(":")
                if attr_name == name:
                    return value if colon else ""
        return None

    def attribute_values(self, name: str) -> list[str]:
        return [a.value if a.value is not None else "" for a in self.attributes(name)]

    def has_attribute(self, name: str) -> bool:
        return self.attribute(name) is not None

    def add_attribute(self, name: str, value: str | None = None, *, after: str | None = None) -> None:
        """Add a=name[:value] after the last a= line (or after the last a=`after` line when present)."""
        new = SdpLine("a", name if value is None else f"{name}:{value}", self.eol)
        position = None
        for index, line in enumerate(self.lines):
            if line.type == "a" and (after is None or line.attr_name == after):
                position = index + 1
        if position is None:
            self._insert(new)
        else:
            self.lines.insert(position, new)

    def set_attribute(self, name: str, value: str | None = None) -> None:
        """Give the first a=`name` this value (adding it when absent) and drop any further a=`name`."""
        text = name if value is None else f"{name}:{value}"
        found = False
        kept = []
        for line in self.lines:
            if line.type == "a" and line.attr_name == name:
                if found:
                    continue
                line.value = text
                found = True
            kept.append(line)
        self.lines[:] = kept
        if not found:
            self.add_attribute(name, value)

    def remove_attributes(self, name: str, value_startswith: str | None = None) -> int:
        """Remove a=`name` lines (only those whose value starts with `value_startswith` if given)."""
        kept = []
        removed = 0
        for line in self.lines:
            if line.type == "a" and line.attr_name == name:
                value = line.attr_value
                if value_startswith is None or (value is not None and value.startswith(value_startswith)):
                    removed += 1
                    continue
            kept.append(line)
        self.lines[:] = kept
        return removed

    # -- properties that exist at session and media level ---------------------------------------------------

    @property
    def connection(self) -> Connection | None:
        value = self.line("c")
        return Connection.parse(value) if value is not None else None

    @connection.setter
    def connection(self, value: Connection | None) -> None:
        self.set_line("c", str(value) if value is not None else None)

    @property
    def direction(self) -> str | None:
        """sendrecv / sendonly / recvonly / inactive as written in this section, None when absent."""
        for line in self.lines:
            if line.type == "a" and line.value in DIRECTIONS:
                return line.value
        return None

    @direction.setter
    def direction(self, value: str | None) -> None:
        if value is not None and value not in DIRECTIONS:
            raise ValueError(f"not an SDP direction: {value!r}")
        kept = []
        replaced = False
        for line in self.lines:
            if line.type == "a" and line.value in DIRECTIONS:
                if value is None or replaced:
                    continue
                line.value = value
                replaced = True
            kept.append(line)
        self.lines[:] = kept
        if value is not None and not replaced:
            self.add_attribute(value)

    @property
    def ice_ufrag(self) -> str | None:
        return self.attribute("ice-ufrag")

    @property
    def ice_pwd(self) -> str | None:
        return self.attribute("ice-pwd")

    @property
    def ice_options(self) -> list[str]:
        value = self.attribute("ice-options")
        return value.split() if value else []

    @property
    def fingerprints(self) -> list[Fingerprint]:
        return [Fingerprint.parse(v) for v in self.attribute_values("fingerprint")]

    @property
    def fingerprint(self) -> Fingerprint | None:
        values = self.attribute_values("fingerprint")
        return Fingerprint.parse(values[0]) if values else None

    @property
    def setup(self) -> str | None:
        """a=setup (RFC 4145): actpass, active, passive or holdconn."""
        return self.attribute("setup")

    def text(self) -> str:
        return "".join(line.text() for line in self.lines)


class MediaDescription(Section):
    """One m= section: its m= line is `lines[0]`."""

    _order = _MEDIA_ORDER

    # -- the m= line ------------------------------------------------------------------------------------------

    def _m_fields(self) -> list[str]:
        parts = self.lines[0].value.split()
        if len(parts) < 3:
            raise _bad(f"m= needs media, port and proto: {self.lines[0].value!r}")
        return parts

    def _set_m(self, media: str, port: str, proto: str, formats: Iterable[str]) -> None:
        self.lines[0].value = " ".join((media, port, proto, *formats))

    @property
    def media(self) -> str:
        """audio, video, application, text, message, image, …"""
        return self._m_fields()[0]

    @property
    def port(self) -> int:
        text = self._m_fields()[1].split("/", 1)[0]
        if not text.isdigit():
            raise _bad(f"m= port {text!r}")
        return int(text)

    @port.setter
    def port(self, value: int) -> None:
        parts = self._m_fields()
        count = parts[1].partition("/")[2]
        self._set_m(parts[0], f"{value}/{count}" if count else str(value), parts[2], parts[3:])

    @property
    def port_count(self) -> int | None:
        count = self._m_fields()[1].partition("/")[2]
        return int(count) if count.isdigit() else None

    @property
    def proto(self) -> str:
        """RTP/AVP, RTP/SAVP, UDP/TLS/RTP/SAVPF, UDP/DTLS/SCTP, …"""
        return self._m_fields()[2]

    @proto.setter
    def proto(self, value: str) -> None:
        parts = self._m_fields()
        self._set_m(parts[0], parts[1], value, parts[3:])

    @property
    def formats(self) -> list[str]:
        """The <fmt> list of the m= line (payload types for RTP), in preference order."""
        return self._m_fields()[3:]

    @formats.setter
    def formats(self, value: Iterable[str]) -> None:
        parts = self._m_fields()
        self._set_m(parts[0], parts[1], parts[2], value)

    @property
    def is_rtp(self) -> bool:
        return "RTP/" in self.proto

    @property
    def is_rejected(self) -> bool:
        """Port 0 marks a rejected or disabled stream (RFC 3264 §6)."""
        return self.port == 0

    # -- codecs ---------------------------------------------------------------------------------------------

    def codecs(self) -> list[Codec]:
        """Codecs in m= order, with rtpmap (or the RFC 3551 static entry), fmtp and rtcp-fb attached."""
        rtpmap: dict[str, str] = {}
        fmtp: dict[str, str] = {}
        rtcp_fb: dict[str, list[str]] = {}
        for attr in self.attributes():
            if attr.value is None:
                continue
            if attr.name in ("rtpmap", "fmtp", "rtcp-fb"):
                pt, _, rest = attr.value.partition(" ")
                if attr.name == "rtpmap":
                    rtpmap.setdefault(pt, rest.strip())
                elif attr.name == "fmtp":
                    fmtp.setdefault(pt, rest.strip())
                else:
                    rtcp_fb.setdefault(pt, []).append(rest.strip())
        out = []
        for pt in self.formats:
            encoding: str | None = None
            clock: int | None = None
            channels: int | None = None
            if pt in rtpmap:
                pieces = rtpmap[pt].split("/")
                encoding = pieces[0]
                if len(pieces) > 1 and pieces[1].isdigit():
                    clock = int(pieces[1])
                if len(pieces) > 2 and pieces[2].isdigit():
                    channels = int(pieces[2])
            elif pt.isdigit() and int(pt) in STATIC_PAYLOAD_TYPES:
                encoding, clock, _static_channels = STATIC_PAYLOAD_TYPES[int(pt)]
            out.append(Codec(pt, encoding, clock, channels, fmtp.get(pt),
                             rtcp_fb.get(pt, []) + rtcp_fb.get("*", [])))
        return out

    def codec(self, payload_type: str | int) -> Codec | None:
        pt = str(payload_type)
        for codec in self.codecs():
            if codec.payload_type == pt:
                return codec
        return None

    def rtpmap(self, payload_type: str | int) -> str | None:
        """The rtpmap text after the payload type (`opus/48000/2`), or None."""
        prefix = f"{payload_type} "
        for value in self.attribute_values("rtpmap"):
            if value.startswith(prefix):
                return value[len(prefix):].strip()
        return None

    def fmtp(self, payload_type: str | int) -> str | None:
        prefix = f"{payload_type} "
        for value in self.attribute_values("fmtp"):
            if value.startswith(prefix):
                return value[len(prefix):].strip()
        return None

    def remove_formats(self, payload_types: Iterable[str | int]) -> None:
        """Drop payload types from the m= line together with their rtpmap, fmtp and rtcp-fb lines."""
        drop = {str(pt) for pt in payload_types}
        self.formats = [pt for pt in self.formats if pt not in drop]
        kept = []
        for line in self.lines:
            if line.type == "a":
                name, colon, value = line.value.partition(":")
                if colon and name in ("rtpmap", "fmtp", "rtcp-fb") and value.split(" ", 1)[0] in drop:
                    continue
            kept.append(line)
        self.lines[:] = kept

    def keep_formats(self, payload_types: Iterable[str | int]) -> None:
        """Keep only these payload types (in their current order)."""
        keep = {str(pt) for pt in payload_types}
        self.remove_formats([pt for pt in self.formats if pt not in keep])

    def add_codec(self, codec: Codec) -> None:
        """Append a payload type to the m= line and its rtpmap/fmtp/rtcp-fb lines after the last a=rtpmap."""
        self.formats = [*self.formats, codec.payload_type]
        if codec.rtpmap is not None:
            self.add_attribute("rtpmap", codec.rtpmap, after="rtpmap")
        if codec.fmtp is not None:
            self.add_attribute("fmtp", f"{codec.payload_type} {codec.fmtp}", after="rtpmap")
        for feedback in codec.rtcp_fb:
            self.add_attribute("rtcp-fb", f"{codec.payload_type} {feedback}", after="rtpmap")

    # -- RTP/RTCP, ICE, DTLS, SDES, identification -------------------------------------------------------------

    @property
    def mid(self) -> str | None:
        return self.attribute("mid")

    @property
    def rtcp(self) -> Rtcp | None:
        value = self.attribute("rtcp")
        return Rtcp.parse(value) if value is not None else None

    @rtcp.setter
    def rtcp(self, value: Rtcp | None) -> None:
        if value is None:
            self.remove_attributes("rtcp")
        else:
            self.set_attribute("rtcp", str(value))

    @property
    def rtcp_mux(self) -> bool:
        return self.has_attribute("rtcp-mux")

    @rtcp_mux.setter
    def rtcp_mux(self, value: bool) -> None:
        if not value:
            self.remove_attributes("rtcp-mux")
        elif not self.rtcp_mux:
            self.add_attribute("rtcp-mux")

    @property
    def ptime(self) -> int | None:
        value = self.attribute("ptime")
        return int(value) if value is not None and value.strip().isdigit() else None

    def candidates(self) -> list[Candidate]:
        return [Candidate.parse(v) for v in self.attribute_values("candidate")]

    @property
    def end_of_candidates(self) -> bool:
        return self.has_attribute("end-of-candidates")

    def crypto(self) -> list[Crypto]:
        return [Crypto.parse(v) for v in self.attribute_values("crypto")]

    # -- inheritance from the session level -------------------------------------------------------------------

    def effective_connection(self, session: Section) -> Connection | None:
        """c= of this media, else of the session (RFC 8866 §5.7)."""
        return self.connection or session.connection

    def effective_direction(self, session: Section) -> str:
        """Direction of this media, else of the session, else sendrecv (RFC 8866 §6.7)."""
        return self.direction or session.direction or "sendrecv"

    def effective_fingerprints(self, session: Section) -> list[Fingerprint]:
        return self.fingerprints or session.fingerprints

    def effective_setup(self, session: Section) -> str | None:
        return self.setup or session.setup

    def effective_ice(self, session: Section) -> tuple[str | None, str | None]:
        """(ufrag, pwd), media level first (RFC 8839 §5.4)."""
        return (self.ice_ufrag or session.ice_ufrag, self.ice_pwd or session.ice_pwd)

    def __repr__(self) -> str:
        return f"MediaDescription({self.lines[0].value!r}, {len(self.lines)} lines)"


class SessionDescription(Section):
    """A whole SDP: the session-level lines plus `media`, one `MediaDescription` per m= line."""

    def __init__(self, lines: list[SdpLine] | None = None, media: list[MediaDescription] | None = None,
                 eol: str = "\r\n") -> None:
        super().__init__(lines, eol)
        self.media: list[MediaDescription] = media if media is not None else []

    @classmethod
    def parse(cls, data: bytes | str) -> SessionDescription:
        """Split into lines and sections; never fails (typed readers check the values they read)."""
        text = data.decode("utf-8", "surrogateescape") if isinstance(data, (bytes, bytearray)) else data
        pieces = text.split("\n")
        last = pieces.pop()          # text after the final LF ('' when the SDP ends with a line end)
        eol = "\r\n" if pieces and pieces[0].endswith("\r") else ("\n" if pieces else "\r\n")
        session = cls(eol=eol)
        current: Section = session
        for index, piece in enumerate(pieces + ([last] if last else [])):
            if index < len(pieces):
                if piece.endswith("\r"):
                    piece, line_end = piece[:-1], "\r\n"
                else:
                    line_end = "\n"
            else:
                line_end = ""
            if len(piece) >= 2 and piece[1] == "=" and piece[0].isascii() and piece[0].isalpha():
                line = SdpLine(piece[0], piece[2:], line_end)
            else:
                line = SdpLine("", piece, line_end)
            if line.type == "m":
                current = MediaDescription([line], eol)
                session.media.append(current)
            else:
                current.lines.append(line)
        return session

    def all_lines(self) -> Iterator[SdpLine]:
        yield from self.lines
        for media in self.media:
            yield from media.lines

    def serialize(self) -> bytes:
        """The SDP as bytes: unedited lines exactly as read; only the final line may lack a line end."""
        lines = list(self.all_lines())
        parts = []
        last = len(lines) - 1
        for index, line in enumerate(lines):
            parts.append(line.text(line.eol or (self.eol if index < last else "")))
        return "".join(parts).encode("utf-8", "surrogateescape")

    __bytes__ = serialize

    # -- session-level readers and writers ------------------------------------------------------------------

    @property
    def version(self) -> str | None:
        return self.line("v")

    @property
    def origin(self) -> Origin | None:
        value = self.line("o")
        return Origin.parse(value) if value is not None else None

    @origin.setter
    def origin(self, value: Origin) -> None:
        self.set_line("o", str(value))

    def bump_version(self) -> None:
        """Increment o= sess-version, as RFC 3264 §8 asks of any changed offer or answer."""
        origin = self.origin
        if origin is None or not origin.sess_version.isdigit():
            raise _bad("o= sess-version is not a number")
        self.origin = Origin(origin.username, origin.sess_id, str(int(origin.sess_version) + 1),
                             origin.nettype, origin.addrtype, origin.address)

    @property
    def session_name(self) -> str | None:
        return self.line("s")

    @property
    def timing(self) -> str | None:
        return self.line("t")

    @property
    def ice_lite(self) -> bool:
        return self.has_attribute("ice-lite")

    @ice_lite.setter
    def ice_lite(self, value: bool) -> None:
        if not value:
            self.remove_attributes("ice-lite")
        elif not self.ice_lite:
            self.add_attribute("ice-lite")

    def groups(self) -> list[Group]:
        return [Group.parse(v) for v in self.attribute_values("group")]

    @property
    def bundle_mids(self) -> list[str]:
        """mids of the first BUNDLE group (RFC 9143), [] when there is none."""
        for group in self.groups():
            if group.semantics.upper() == "BUNDLE":
                return list(group.mids)
        return []

    def media_by_mid(self, mid: str) -> MediaDescription | None:
        for media in self.media:
            if media.mid == mid:
                return media
        return None

    def add_media(self, m_line: str) -> MediaDescription:
        """Append a media section starting with `m=<m_line>`."""
        media = MediaDescription([SdpLine("m", m_line, self.eol)], self.eol)
        self.media.append(media)
        return media

    def __repr__(self) -> str:
        return f"SessionDescription({len(self.lines)} session lines, {len(self.media)} media)"
