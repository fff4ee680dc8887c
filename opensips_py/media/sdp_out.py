"""Writing the SDP for the recipient of an offer or answer, line for line as rtpengine 10.5 does.

rtpengine (daemon/sdp.c sdp_replace) does not build a new body: it copies the received one, rewriting
o=/c=/m= in place and cutting out the attributes it manages, and appends its own attributes at the end
of each media section: mid, rtpmap/fmtp/rtcp-fb per codec, direction, rtcp/rtcp-mux, crypto, setup and
fingerprint, ptime, ICE credentials, candidates. Everything it does not know (ssrc, msid, extmap, …)
stays where it was. This module does the same over the shared SDP model's lines, so an SDP that went
through our relay reads like one that went through rtpengine.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

from opensips_py.media import ice
from opensips_py.media.dtls import DtlsCertificate
from opensips_py.media.flags import Ice, NgFlags, Op, is_rtp
from opensips_py.media.sdp_in import Attr, ParsedAttr, ParsedMedia, ParsedSdp
from opensips_py.media.session import CallMedia, MediaFlag as F, Monologue, PacketStream
from opensips_py.sip.sdp import SdpLine

_ICE_ATTRS = (Attr.ICE, Attr.ICE_UFRAG, Attr.ICE_PWD, Attr.ICE_OPTIONS, Attr.ICE_LITE)
_DIRECTIONS = (Attr.INACTIVE, Attr.SENDONLY, Attr.RECVONLY, Attr.SENDRECV)
CRLF = "\r\n"


@dataclass
class OutputContext:
    certificate: DtlsCertificate
    instance_id: str
    random_version: int


def _ice_strips(flags: NgFlags) -> bool:
    return flags.ice in (Ice.REMOVE, Ice.FORCE, Ice.DEFAULT)


def _strip_session_attr(item: ParsedAttr, flags: NgFlags) -> bool:
    attr = item.attr
    if attr in _ICE_ATTRS:
        return _ice_strips(flags)
    if attr is Attr.CANDIDATE:
        if flags.ice is Ice.FORCE_RELAY:
            return item.data.get("type", "").lower() == "relay"
        return _ice_strips(flags)
    if attr is Attr.EXTMAP:
        return flags.strip_extmap
    if attr in (Attr.FINGERPRINT, Attr.SETUP, Attr.IGNORE):
        return True
    if attr in _DIRECTIONS:
        return not flags.original_sendrecv
    if attr is Attr.GROUP:
        return bool(item.data.get("bundle"))
    return False


def _strip_media_attr(item: ParsedAttr, flags: NgFlags, media: CallMedia) -> bool:
    attr = item.attr
    passthru = media.has(F.PASSTHRU)
    if attr in _ICE_ATTRS:
        return not passthru and _ice_strips(flags)
    if attr is Attr.CANDIDATE:
        if flags.ice is Ice.FORCE_RELAY:
            return item.data.get("type", "").lower() == "relay"
        return not passthru and _ice_strips(flags)
    if attr in (Attr.RTCP, Attr.RTCP_MUX):
        return flags.ice is not Ice.FORCE_RELAY
    if attr in (Attr.IGNORE, Attr.END_OF_CANDIDATES, Attr.MID):
        return True
    if attr in _DIRECTIONS:
        return not flags.original_sendrecv
    if attr in (Attr.RTPMAP, Attr.FMTP):
        return len(media.codecs) > 0
    if attr is Attr.PTIME:
        return bool(media.ptime)
    if attr is Attr.RTCP_FB:
        if item.data.get("pt") == -1:
            return False
        return len(media.codecs) > 0
    if attr is Attr.EXTMAP:
        return not passthru and flags.strip_extmap
    if attr in (Attr.CRYPTO, Attr.FINGERPRINT, Attr.SETUP):
        return not passthru
    return False


def our_address(ps: PacketStream, flags: NgFlags, keep_unspec: bool, with_family: bool = True) -> str:
    """The address we put in c=/o= for this stream (rtpengine call_stream_address46 / media address)."""
    if flags.media_address:
        family = "IP6" if ":" in flags.media_address else "IP4"
        return f"{family} {flags.media_address}" if with_family else flags.media_address
    interface = ps.media.interface
    assert interface is not None
    family = interface.family
    if ps.zero_address and keep_unspec:
        address = "::" if family == "IP6" else "0.0.0.0"
    else:
        address = interface.advertised
    return f"{family} {address}" if with_family else address


def _replace_address(line: SdpLine, replacement: str) -> None:
    """Replace '<addrtype> <address>' at the end of an o= or c= value, keeping what comes before."""
    parts = line.value.split(" ")
    if line.type == "o":
        head = parts[:4]
        tail = parts[6:]
    else:
        head = parts[:1]
        tail = parts[3:]
    line.value = " ".join(head + [replacement] + tail)


def _sendrecv(media: CallMedia) -> str:
    send, recv = media.has(F.SEND), media.has(F.RECV)
    if send and recv:
        return "sendrecv"
    if send:
        return "sendonly"
    if recv:
        return "recvonly"
    return "inactive"


def _rtcp_attr(ps: PacketStream, flags: NgFlags) -> list[str]:
    if flags.no_rtcp_attr:
        return []
    value = f"a=rtcp:{ps.local_port}"
    if flags.full_rtcp_attr:
        value += f" IN {our_address(ps, flags, False)}"
    return [value]


def _print_rtcp(media: CallMedia, rtp: PacketStream, flags: NgFlags) -> tuple[list[str], PacketStream | None]:
    rtcp = rtp.rtcp_sibling
    out: list[str] = []
    if not is_rtp(media.protocol):
        return out, None
    if media.has(F.RTCP_MUX) and (flags.opmode in (Op.ANSWER, Op.OTHER)
                                  or (flags.opmode is Op.OFFER and flags.rtcp_mux_require)):
        out += _rtcp_attr(rtp, flags)
        out.append("a=rtcp-mux")
        return out, None
    if rtcp is not None and flags.ice is not Ice.FORCE_RELAY:
        out += _rtcp_attr(rtcp, flags)
        if media.has(F.RTCP_MUX):
            out.append("a=rtcp-mux")
    return out, rtcp


def _crypto_lines(media: CallMedia, flags: NgFlags) -> list[str]:
    if not media.has(F.SDES) or media.has(F.PASSTHRU):
        return []
    lines = []
    for entry in media.sdes_out:
        key = entry.get("key")
        if isinstance(key, bytes):
            inline = base64.b64encode(key).decode()
            if not flags.sdes_pad:
                inline = inline.rstrip("=")
            key_params = f"inline:{inline}"
            if flags.sdes_lifetime:
                key_params += "|2^31"
        else:
            key_params = entry.get("key_params", "")
        params = "".join(f" {p}" for p in entry.get("params", []) if p)
        lines.append(f"a=crypto:{entry['tag']} {entry['suite']} {key_params}{params}")
    return lines


def _dtls_lines(media: CallMedia, certificate: DtlsCertificate) -> list[str]:
    if not media.has(F.DTLS) or media.has(F.PASSTHRU):
        return []
    wanted = media.fp_hash or (media.fingerprint[0] if media.fingerprint else None)
    name, digest = certificate.fingerprint(wanted)
    media.fp_hash = name
    active, passive = media.has(F.SETUP_ACTIVE), media.has(F.SETUP_PASSIVE)
    setup = "actpass" if active and passive else "passive" if passive else "active" if active else "holdconn"
    return [f"a=setup:{setup}", f"a=fingerprint:{name} {digest}"]


def _received_candidates(section: ParsedMedia | None) -> list[tuple[int, str, int]]:
    out = []
    for item in section.all(Attr.CANDIDATE) if section is not None else []:
        try:
            out.append((int(item.data["priority"]), item.data["type"].lower(), int(item.data["component"])))
        except (KeyError, ValueError):
            continue
    return out


def _candidate_lines(media: CallMedia, rtp: PacketStream, rtcp: PacketStream | None,
                     flags: NgFlags, section: ParsedMedia | None) -> list[str]:
    type_name = "relay" if flags.ice is Ice.FORCE_RELAY else "host"
    interface = media.interface
    assert interface is not None
    type_preference = ice.TYPE_PREFERENCE[type_name]
    local_preference = interface.unique_id
    if media.has(F.PASSTHRU) and section is not None:
        type_preference, local_preference = ice.preference_below_peer(_received_candidates(section),
                                                                       type_name)
    lines = []
    for ps in (rtp, rtcp):
        if ps is None:
            continue
        address = our_address(ps, flags, False, with_family=False)
        related = (address, ps.local_port) if type_name != "host" else None
        lines.append("a=candidate:" + ice.candidate_line(interface.foundation, ps.component, address,
                                                         ps.local_port, type_name, local_preference,
                                                         related, type_preference))
    return lines


def _media_section(media: CallMedia, flags: NgFlags, is_active: bool, force_end_of_ice: bool,
                   certificate: DtlsCertificate, section: ParsedMedia | None) -> list[str]:
    out: list[str] = []
    if media.media_id is not None:
        out.append(f"a=mid:{media.media_id}")
    if is_active:
        rtp = media.streams[0]
        if is_rtp(media.protocol):
            for pt in media.codecs:
                if not pt.encoding:
                    continue
                out.append(f"a=rtpmap:{pt.payload_type} {pt.encoding_with_params}")
                if pt.format_parameters:
                    out.append(f"a=fmtp:{pt.payload_type} {pt.format_parameters}")
                for fb in pt.rtcp_fb:
                    out.append(f"a=rtcp-fb:{pt.payload_type} {fb}")
        if not flags.original_sendrecv:
            out.append(f"a={_sendrecv(media)}")
        rtcp_lines, rtcp = _print_rtcp(media, rtp, flags)
        out += rtcp_lines
        out += _crypto_lines(media, flags)
        out += _dtls_lines(media, certificate)
        if is_rtp(media.protocol) and media.ptime:
            out.append(f"a=ptime:{media.ptime}")
        if media.has(F.ICE) and media.ice_ufrag is not None:
            out.append(f"a=ice-ufrag:{media.ice_ufrag}")
            out.append(f"a=ice-pwd:{media.ice_pwd}")
        if media.has(F.TRICKLE_ICE) and media.ice_ufrag is not None:
            out.append("a=ice-options:trickle")
        if media.has(F.ICE):
            out += _candidate_lines(media, rtp, rtcp, flags, section)
    if media.has(F.TRICKLE_ICE) and media.ice_ufrag is not None:
        out.append("a=end-of-candidates")
    elif force_end_of_ice:
        out.append("a=end-of-candidates")
    return out


def _codec_list(media: CallMedia) -> str:
    if not is_rtp(media.protocol):
        return media.format_str
    return " ".join(str(pt.payload_type) for pt in media.codecs)


def _rewrite_m_line(line: SdpLine, parsed: ParsedMedia, media: CallMedia, flags: NgFlags) -> None:
    if flags.ice is Ice.FORCE_RELAY:
        return
    parts = line.value.split(" ")
    media_type = media.type or parts[0]
    port_field = parts[1]
    if parsed.port:
        rtp = media.streams[0] if media.streams else None
        port = rtp.local_port if rtp is not None else 0
        port_field = str(port)
        if parsed.port_count != 1 and rtp is not None and rtp.socket is not None:
            port_field += f"/{parsed.port_count}"
    protocol = media.protocol or parts[2]
    formats = _codec_list(media)
    line.value = f"{media_type} {port_field} {protocol}"
    if len(parts) > 3 or formats:
        line.value += f" {formats}"


def rewrite_sdp(parsed: ParsedSdp, monologue: Monologue, flags: NgFlags, out_ctx: OutputContext) -> bytes:
    """The SDP to send to `monologue`'s party, from the SDP it was offered/answered and our state."""
    medias = monologue.medias
    if not medias:
        raise ValueError("no medias")
    first = medias[0]
    first_ps = first.streams[0]
    description = parsed.description
    origin = parsed.origin
    assert origin is not None
    output: list[str] = []

    # -- session level -------------------------------------------------------------------------------
    if monologue.sdp_username is None:
        monologue.sdp_username = origin["username"]
    if monologue.sdp_version == 0:
        try:
            version = int(origin["version"])
        except ValueError:
            version = 0
        if version in (0, 2 ** 64 - 1):
            version = out_ctx.random_version
        monologue.sdp_version = version
    if monologue.sdp_session_name is None:
        monologue.sdp_session_name = parsed.session_name or ""
    sess_conn = flags.replace_sess_conn or any(media.connection is None for media in parsed.media)
    keep_zero = not first.has(F.ICE)
    passthru = first.has(F.PASSTHRU)
    strip_lines = set()
    if not passthru:
        for item in parsed.attrs:
            if _strip_session_attr(item, flags):
                strip_lines.add(id(item.line))
    version_line: SdpLine | None = None
    for line in description.lines:
        if id(line) in strip_lines:
            continue
        copy = SdpLine(line.type, line.value, line.eol)
        if line.type == "o" and line is origin["line"]:
            version_line = copy
            parts = copy.value.split(" ")
            if flags.replace_username and len(parts) >= 6:
                parts[0] = monologue.sdp_username
                copy.value = " ".join(parts)
            if origin["parsed"] and flags.replace_origin and flags.ice is not Ice.FORCE_RELAY:
                _replace_address(copy, our_address(first_ps, flags, False))
        elif line.type == "s" and flags.replace_sess_name:
            copy.value = monologue.sdp_session_name
        elif line.type == "c" and parsed.connection is not None and sess_conn \
                and flags.ice is not Ice.FORCE_RELAY:
            _replace_address(copy, our_address(first_ps, flags, keep_zero))
        output.append(copy.text())
    if flags.loop_protect:
        output.append(f"a=rtpengine:{out_ctx.instance_id}{CRLF}")
    if first.has(F.ICE) and first.has(F.ICE_LITE_SELF):
        output.append(f"a=ice-lite{CRLF}")

    # -- media sections ------------------------------------------------------------------------------
    for index, section in enumerate(parsed.media):
        media = monologue.media_by_index(index + 1)
        if media is None:
            raise ValueError("media index mismatch")
        strip = {id(item.line) for item in section.attrs if _strip_media_attr(item, flags, media)}
        lines = section.section.lines
        for line in lines:
            if id(line) in strip:
                continue
            copy = SdpLine(line.type, line.value, line.eol)
            if line is lines[0]:
                _rewrite_m_line(copy, section, media, flags)
            elif line.type == "c" and section.connection is not None and flags.ice is not Ice.FORCE_RELAY:
                _replace_address(copy, our_address(media.streams[0], flags, keep_zero))
            text = copy.text()
            if not copy.eol:
                text += CRLF
            output.append(text)
        rtp = media.streams[0] if media.streams else None
        is_active = bool(section.port) and rtp is not None and rtp.socket is not None
        had_end = section.first(Attr.END_OF_CANDIDATES) is not None
        output += [f"{text}{CRLF}" for text in
                   _media_section(media, flags, is_active, had_end, out_ctx.certificate, section)]
    body = "".join(output)
    if flags.replace_sdp_version and version_line is not None:
        body = _check_version(body, version_line, monologue)
    return body.encode("utf-8", "surrogateescape")


def _with_version(body: str, version_line: SdpLine, version: int) -> str:
    parts = version_line.value.split(" ")
    old = version_line.text()
    parts[2] = str(version)
    new = SdpLine("o", " ".join(parts), version_line.eol).text()
    return body.replace(old, new, 1)


def _check_version(body: str, version_line: SdpLine, monologue: Monologue) -> str:
    """replace-SDP-version: keep our o= version, increment it only when the body changed."""
    candidate = _with_version(body, version_line, monologue.sdp_version)
    encoded = candidate.encode("utf-8", "surrogateescape")
    if monologue.last_out_sdp is None or monologue.last_out_sdp == encoded:
        monologue.last_out_sdp = encoded
        return candidate
    monologue.sdp_version += 1
    candidate = _with_version(body, version_line, monologue.sdp_version)
    monologue.last_out_sdp = candidate.encode("utf-8", "surrogateescape")
    return candidate
