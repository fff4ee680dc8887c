"""Reading a received SDP the way rtpengine does: which lines it understands, and per m= line the
*stream parameters* an offer or answer works from (daemon/sdp.c: sdp_parse, sdp_streams).

The text itself is held by the shared SDP model (opensips_py/sip/sdp.py), which keeps every line as
written. Here each line is classified once (`ParsedSdp`): rtpengine rewrites the body by copying it and
cutting out the attributes it knows (sdp_out.py), so both the reading and the rewriting need to agree on
what an attribute *is*. An attribute rtpengine cannot parse (a bad rtpmap, an unknown fingerprint hash)
is left in place untouched, as it would be by rtpengine.
"""
from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field

from opensips_py.media.codecs import CodecStore, payload_types_from_sdp
from opensips_py.media.flags import NgFlags, transport_protocol
from opensips_py.media.session import Endpoint, is_unspecified
from opensips_py.sip.sdp import MediaDescription, SdpLine, SessionDescription


class SdpError(ValueError):
    """The SDP cannot be used; `reason` is rtpengine's error text for the reply."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class Attr(enum.Enum):
    """rtpengine's attribute ids (include/sdp.h), the ones the rewriting cares about."""

    OTHER = "other"
    IGNORE = "ignore"
    MID = "mid"
    RTCP = "rtcp"
    SSRC = "ssrc"
    FMTP = "fmtp"
    GROUP = "group"
    SETUP = "setup"
    PTIME = "ptime"
    CRYPTO = "crypto"
    EXTMAP = "extmap"
    RTPMAP = "rtpmap"
    ICE_PWD = "ice-pwd"
    ICE_LITE = "ice-lite"
    INACTIVE = "inactive"
    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    RTCP_MUX = "rtcp-mux"
    CANDIDATE = "candidate"
    ICE_UFRAG = "ice-ufrag"
    RTPENGINE = "rtpengine"
    ICE_OPTIONS = "ice-options"
    FINGERPRINT = "fingerprint"
    ICE = "ice"                      # ice-mismatch, remote-candidates
    END_OF_CANDIDATES = "end-of-candidates"
    RTCP_FB = "rtcp-fb"


DTLS_HASHES = {"sha-256": 32, "sha-1": 20, "sha-224": 28, "sha-384": 48, "sha-512": 64}


@dataclass(eq=False)
class ParsedAttr:
    """One a= line: the model's line, rtpengine's id for it, and what was parsed from it."""

    line: SdpLine
    attr: Attr
    name: str
    value: str | None
    data: dict = field(default_factory=dict)


def _parse_address(addrtype: str | None, address: str) -> str | None:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if addrtype is not None:
        if addrtype == "IP4" and parsed.version != 4:
            return None
        if addrtype == "IP6" and parsed.version != 6:
            return None
        if addrtype not in ("IP4", "IP6"):
            return None
    return str(parsed) if parsed.version == 6 else address


def classify_attribute(line: SdpLine) -> ParsedAttr | None:
    """rtpengine parse_attribute(); None when it would drop the attribute from its lists (parse error)."""
    text = line.value
    name, colon, value = text.partition(":")
    item = ParsedAttr(line, Attr.OTHER, name, value if colon else None)
    data = item.data
    simple = {"mid": Attr.MID, "ptime": Attr.PTIME, "extmap": Attr.EXTMAP, "ice-pwd": Attr.ICE_PWD,
              "ice-lite": Attr.ICE_LITE, "inactive": Attr.INACTIVE, "sendrecv": Attr.SENDRECV,
              "sendonly": Attr.SENDONLY, "recvonly": Attr.RECVONLY, "rtcp-mux": Attr.RTCP_MUX,
              "ice-ufrag": Attr.ICE_UFRAG, "rtpengine": Attr.RTPENGINE, "ice-options": Attr.ICE_OPTIONS,
              "ice-mismatch": Attr.ICE, "remote-candidates": Attr.ICE,
              "end-of-candidates": Attr.END_OF_CANDIDATES}
    if name in simple:
        item.attr = simple[name]
        return item
    fields = (value or "").split(" ")
    if name == "rtcp":
        item.attr = Attr.IGNORE
        if value is None:
            return item
        port_text, _, rest = value.partition(" ")
        try:
            port = int(port_text)
        except ValueError:
            return item
        if not 0 < port <= 0xFFFF:
            return item
        address = None
        if rest:
            parts = rest.split(" ")
            if len(parts) < 3 or parts[0] not in ("IN", "in"):
                return None
            address = _parse_address(parts[1], parts[2])
            if address is None:
                return None
        item.attr = Attr.RTCP
        data.update(port=port, address=address)
        return item
    if name == "ssrc":
        item.attr = Attr.SSRC
        return item
    if name == "fmtp":
        if value is None or " " not in value:
            return None
        pt_text, _, params = value.partition(" ")
        try:
            data["pt"] = int(pt_text)
        except ValueError:
            return None
        data["params"] = params
        item.attr = Attr.FMTP
        return item
    if name == "group":
        item.attr = Attr.GROUP
        data["bundle"] = (value or "").startswith("BUNDLE ")
        return item
    if name == "setup":
        item.attr = Attr.SETUP
        data["setup"] = value if value in ("actpass", "active", "passive", "holdconn") else None
        return item
    if name == "crypto":
        if len(fields) < 3:
            return None
        item.attr = Attr.CRYPTO
        data.update(tag=fields[0], suite=fields[1], key_params=fields[2], params=fields[3:])
        return item
    if name == "rtpmap":
        if value is None or len(fields) < 2:
            return None
        try:
            data["pt"] = int(fields[0])
        except ValueError:
            return None
        encoding, slash, rest = fields[1].partition("/")
        if not slash:
            return None
        clock_text, _, channels_text = rest.partition("/")
        channels = 1
        if channels_text:
            try:
                channels = int(channels_text) or 1
            except ValueError:
                channels = 1
        try:
            clock = int(clock_text)
        except ValueError:
            return None
        data.update(encoding=encoding, clock_rate=clock, channels=channels)
        item.attr = Attr.RTPMAP
        return item
    if name == "candidate":
        if len(fields) < 8:
            return None
        item.attr = Attr.CANDIDATE
        data.update(foundation=fields[0], component=fields[1], transport=fields[2], priority=fields[3],
                    address=fields[4], port=fields[5], type=fields[7])
        if fields[6] != "typ":
            return None
        return item
    if name == "fingerprint":
        if len(fields) < 2:
            return None
        size = DTLS_HASHES.get(fields[0].lower())
        if size is None:
            return None
        digest = fields[1]
        octets = digest.split(":")
        if len(octets) != size or any(len(o) != 2 or not all(c in "0123456789abcdefABCDEF" for c in o)
                                        for o in octets):
            return None
        item.attr = Attr.FINGERPRINT
        data.update(hash=fields[0].lower(), digest=digest.upper())
        return item
    if name == "rtcp-fb":
        if value is None or " " not in value:
            return None
        pt_text, _, fb = value.partition(" ")
        if pt_text == "*":
            data["pt"] = -1
        else:
            try:
                data["pt"] = int(pt_text)
            except ValueError:
                return None
        data["value"] = fb
        item.attr = Attr.RTCP_FB
        return item
    return item


@dataclass(eq=False)
class ParsedMedia:
    """One m= section: the model's section, its m= fields and its classified attributes."""

    section: MediaDescription
    media_type: str
    port: int
    port_count: int
    transport: str
    formats: list[str]
    connection: tuple[str, str] | None     # (addrtype, address) of a media c= line
    attrs: list[ParsedAttr]

    def first(self, attr: Attr) -> ParsedAttr | None:
        for item in self.attrs:
            if item.attr is attr:
                return item
        return None

    def all(self, attr: Attr) -> list[ParsedAttr]:
        return [item for item in self.attrs if item.attr is attr]


@dataclass(eq=False)
class ParsedSdp:
    """The session-level view rtpengine keeps: o=, s=, c=, attributes, and the media sections."""

    description: SessionDescription
    origin: dict | None
    session_name: str | None
    connection: tuple[str, str] | None
    attrs: list[ParsedAttr]
    media: list[ParsedMedia]

    def first(self, attr: Attr) -> ParsedAttr | None:
        for item in self.attrs:
            if item.attr is attr:
                return item
        return None


_KNOWN_LINE_TYPES = set("vosiuepctrzmabk")


def _parse_connection(value: str) -> tuple[str, str]:
    parts = value.split(" ")
    if len(parts) < 3 or parts[0] not in ("IN", "in"):
        raise SdpError("Failed to parse SDP", f"c={value}")
    address = _parse_address(parts[1], parts[2])
    if address is None:
        raise SdpError("Failed to parse SDP", f"c={value}")
    return parts[1], address


def parse_sdp(body: bytes) -> ParsedSdp:
    """Parse and classify like rtpengine's sdp_parse; SdpError('Failed to parse SDP') otherwise."""
    text = body.decode("utf-8", "surrogateescape")
    # rtpengine stops at an empty line (the end of a body followed by garbage, e.g. a multipart tail).
    description = SessionDescription.parse(text)
    lines = list(description.all_lines())
    if not lines or lines[0].type != "v" or lines[0].value != "0":
        raise SdpError("Failed to parse SDP", "no v=0 first")
    for line in lines:
        if line.type == "" and line.value == "":
            break
        if line.type not in _KNOWN_LINE_TYPES:
            raise SdpError("Failed to parse SDP", f"unknown line {line.text('')!r}")
    origin = None
    session_name = None
    connection = None
    session_attrs: list[ParsedAttr] = []
    for line in description.lines:
        if line.type == "o":
            parts = line.value.split(" ")
            if origin is not None or len(parts) < 6:
                raise SdpError("Failed to parse SDP", "o= line")
            origin = {"username": parts[0], "session_id": parts[1], "version": parts[2],
                      "addrtype": parts[4], "address": parts[5], "line": line,
                      "parsed": _parse_address(parts[4], parts[5]) is not None and parts[3] in ("IN", "in")}
        elif line.type == "s":
            session_name = line.value
        elif line.type == "c":
            if connection is not None:
                raise SdpError("Failed to parse SDP", "second session c=")
            connection = _parse_connection(line.value)
        elif line.type == "a":
            item = classify_attribute(line)
            if item is not None:
                session_attrs.append(item)
    medias: list[ParsedMedia] = []
    for section in description.media:
        parts = section.lines[0].value.split(" ")
        if len(parts) < 3:
            raise SdpError("Failed to parse SDP", "m= line")
        port_text, slash, count_text = parts[1].partition("/")
        try:
            port = int(port_text)
            count = int(count_text) if slash else 1
        except ValueError:
            raise SdpError("Failed to parse SDP", "m= port") from None
        if not 0 <= port <= 0xFFFF or count <= 0 or count > 10:
            raise SdpError("Failed to parse SDP", "m= port")
        media_connection = None
        attrs: list[ParsedAttr] = []
        for line in section.lines[1:]:
            if line.type == "c":
                if media_connection is not None:
                    raise SdpError("Failed to parse SDP", "second media c=")
                media_connection = _parse_connection(line.value)
            elif line.type in ("o", "s"):
                raise SdpError("Failed to parse SDP", f"{line.type}= line found within media section")
            elif line.type == "a":
                item = classify_attribute(line)
                if item is not None:
                    attrs.append(item)
        medias.append(ParsedMedia(section, parts[0], port, count, parts[2],
                                  [f for f in parts[3:] if f], media_connection, attrs))
    if origin is None:
        raise SdpError("Failed to parse SDP", "no o= line")
    return ParsedSdp(description, origin, session_name, connection, session_attrs, medias)


@dataclass(eq=False)
class StreamParams:
    """What one m= line of a received SDP says (rtpengine's struct stream_params)."""

    index: int
    media_type: str
    protocol: str | None
    protocol_str: str
    num_ports: int
    consecutive_ports: int
    rtp_endpoint: Endpoint
    rtcp_endpoint: Endpoint | None
    implicit_rtcp: bool
    rtcp_mux: bool
    send: bool
    recv: bool
    setup_active: bool
    setup_passive: bool
    ice: bool
    trickle_ice: bool
    ice_lite_peer: bool
    ice_ufrag: str | None
    ice_pwd: str | None
    candidates: list[str]
    fingerprint: tuple[str, str] | None
    sdes: list[dict]
    media_id: str | None
    ptime: int
    format_str: str
    codecs: CodecStore
    rtcp_fb: bool
    direction: tuple[str | None, str | None]
    desired_family: str | None
    asymmetric: bool
    strict_source: bool
    media_handover: bool
    parsed: ParsedMedia


def _first_m_s(media: ParsedMedia, sdp: ParsedSdp, attr: Attr) -> ParsedAttr | None:
    return media.first(attr) or sdp.first(attr)


def _endpoint(media: ParsedMedia, sdp: ParsedSdp, flags: NgFlags, address: str | None,
              port: int) -> Endpoint:
    """rtpengine fill_endpoint: SDP address (trust-address) or the SIP source address."""
    if not flags.trust_address and flags.received_from:
        return (flags.received_from[1], port)
    if address is not None and not is_unspecified(address):
        return (address, port)
    if media.connection is not None:
        return (media.connection[1], port)
    if sdp.connection is not None:
        return (sdp.connection[1], port)
    raise SdpError("Incomplete SDP specification", "no address for a stream")


def stream_params(sdp: ParsedSdp, flags: NgFlags) -> list[StreamParams]:
    """One StreamParams per m= line (rtpengine sdp_streams)."""
    streams: list[StreamParams] = []
    for index, media in enumerate(sdp.media, start=1):
        ufrag = _first_m_s(media, sdp, Attr.ICE_UFRAG)
        ice = ufrag is not None
        if ice:
            flags.trust_address = True  # with ICE, the SIP source address is meaningless
        rtp_endpoint = _endpoint(media, sdp, flags, None, media.port)
        trickle = False
        candidates: list[str] = []
        pwd = None
        lite_peer = False
        if ice:
            candidates = [item.value or "" for item in media.all(Attr.CANDIDATE)]
            options = media.first(Attr.ICE_OPTIONS)
            if options is not None:
                trickle = "trickle" in (options.value or "")
            elif rtp_endpoint == ("0.0.0.0", 9) or rtp_endpoint == ("::", 9):
                trickle = True
            lite_peer = media.first(Attr.ICE_LITE) is not None
            pwd_attr = _first_m_s(media, sdp, Attr.ICE_PWD)
            pwd = pwd_attr.value if pwd_attr else None
        ptime_attr = media.first(Attr.PTIME)
        ptime = 0
        if ptime_attr is not None and ptime_attr.value:
            try:
                ptime = int(ptime_attr.value.strip().split()[0])
            except (ValueError, IndexError):
                ptime = 0
        protocol = transport_protocol(media.transport)
        codecs = CodecStore(media.media_type)
        if protocol and protocol != "UDPTL":
            rtpmaps = {}
            for item in media.all(Attr.RTPMAP):
                rtpmaps.setdefault(item.data["pt"], (item.data["encoding"], item.data["clock_rate"],
                                                     item.data["channels"]))
            fmtps = {}
            for item in media.all(Attr.FMTP):
                fmtps[item.data["pt"]] = item.data["params"]
            fbs: dict[int, list[str]] = {}
            for item in media.all(Attr.RTCP_FB):
                if item.data["pt"] != -1:
                    fbs.setdefault(item.data["pt"], []).append(item.data["value"])
            store = payload_types_from_sdp(media.formats, rtpmaps, fmtps, fbs, ptime, media.media_type)
            if store is None:
                raise SdpError("Incomplete SDP specification", "invalid RTP payload types")
            codecs = store
        send = recv = True
        if _first_m_s(media, sdp, Attr.RECVONLY):
            send = False
        elif _first_m_s(media, sdp, Attr.SENDONLY):
            recv = False
        elif _first_m_s(media, sdp, Attr.INACTIVE):
            send = recv = False
        setup = _first_m_s(media, sdp, Attr.SETUP)
        setup_value = setup.data.get("setup") if setup else None
        fingerprint_attr = _first_m_s(media, sdp, Attr.FINGERPRINT)
        fingerprint = (fingerprint_attr.data["hash"], fingerprint_attr.data["digest"]) \
            if fingerprint_attr else None
        sdes = [dict(item.data) for item in media.all(Attr.CRYPTO)]
        mid = media.first(Attr.MID)
        rtcp_mux = media.first(Attr.RTCP_MUX) is not None
        rtcp_attr = media.first(Attr.RTCP)
        implicit_rtcp = False
        rtcp_endpoint = None
        if rtcp_attr is None or media.port_count != 1:
            implicit_rtcp = True
        elif rtcp_attr.data["port"] == rtp_endpoint[1] and not (rtp_endpoint in (("0.0.0.0", 9), ("::", 9))):
            rtcp_mux = True
        else:
            rtcp_endpoint = _endpoint(media, sdp, flags, rtcp_attr.data["address"], rtcp_attr.data["port"])
        formats_text = media.section.lines[0].value.split(" ", 3)
        streams.append(StreamParams(
            index=index, media_type=media.media_type, protocol=protocol, protocol_str=media.transport,
            num_ports=media.port_count * 2, consecutive_ports=media.port_count,
            rtp_endpoint=rtp_endpoint, rtcp_endpoint=rtcp_endpoint, implicit_rtcp=implicit_rtcp,
            rtcp_mux=rtcp_mux, send=send, recv=recv,
            setup_active=setup_value in ("actpass", "active"),
            setup_passive=setup_value in ("actpass", "passive"),
            ice=ice, trickle_ice=trickle, ice_lite_peer=lite_peer,
            ice_ufrag=ufrag.value if ufrag else None, ice_pwd=pwd, candidates=candidates,
            fingerprint=fingerprint, sdes=sdes, media_id=mid.value if mid else None, ptime=ptime,
            format_str=formats_text[3] if len(formats_text) > 3 else "", codecs=codecs,
            rtcp_fb=media.first(Attr.RTCP_FB) is not None, direction=flags.direction,
            desired_family=flags.address_family, asymmetric=flags.asymmetric,
            strict_source=flags.strict_source, media_handover=flags.media_handover, parsed=media))
    return streams
