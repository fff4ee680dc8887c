"""Offers and answers applied to the session model (rtpengine daemon/call.c, ported step by step).

`get_dialogue` finds or creates the two monologues a message is about (call_get_mono_dialogue);
`offer_answer` updates both sides' medias from the received SDP's stream parameters and the flags
(monologue_offer_answer): protocol, mid, ICE/DTLS/SDES roles, rtcp-mux, codecs, local interface and
ports, then the streams' endpoints and where each stream forwards to. The SDP for the recipient is then
written by sdp_out from the recipient's medias.

In every function `media` is the recipient's side (the one the rewritten SDP goes to) and `other` the
sender's, as in rtpengine.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Callable

from opensips_py.media import ice
from opensips_py.media.codecs import CodecStore, answer_codecs, update_handlers
from opensips_py.media.dtls import DtlsCertificate
from opensips_py.media.flags import Ice, IceLite, NgFlags, Op, is_rtp, is_srtp
from opensips_py.media.interfaces import InterfaceTable, address_family
from opensips_py.media.ports import PortsExhausted
from opensips_py.media.relay import LocalSocket, SocketLayer
from opensips_py.media.sdp_in import StreamParams
from opensips_py.media.session import (
    Call, CallMedia, EndpointMap, MediaFlag as F, Monologue, PacketStream, is_unspecified,
    pair, unsubscribe,
)

# SDES crypto suites in rtpengine's order (daemon/crypto.c): name → key length + salt length in bytes.
CRYPTO_SUITES: dict[str, int] = {
    "AEAD_AES_256_GCM": 32 + 12, "AEAD_AES_128_GCM": 16 + 12,
    "AES_256_CM_HMAC_SHA1_80": 32 + 14, "AES_256_CM_HMAC_SHA1_32": 32 + 14,
    "AES_192_CM_HMAC_SHA1_80": 24 + 14, "AES_192_CM_HMAC_SHA1_32": 24 + 14,
    "AES_CM_128_HMAC_SHA1_80": 16 + 14, "AES_CM_128_HMAC_SHA1_32": 16 + 14,
    "F8_128_HMAC_SHA1_80": 16 + 14, "F8_128_HMAC_SHA1_32": 16 + 14,
    "NULL_HMAC_SHA1_80": 16 + 14, "NULL_HMAC_SHA1_32": 16 + 14,
}


@dataclass
class RelayContext:
    """What offers and answers need from the running relay."""

    interfaces: InterfaceTable
    sockets: SocketLayer
    certificate: DtlsCertificate
    clock: Callable[[], float]


# -- dialogue association (call_get_mono_dialogue) --------------------------------------------------------

def get_dialogue(call: Call, from_tag: str, to_tag: str | None, via_branch: str | None,
                 now: float) -> tuple[Monologue, Monologue]:
    """The (sender, recipient) monologues for a message; `from_tag` is always the sender's tag."""
    if not to_tag:
        return _monologue_new(call, from_tag, None, via_branch, now)
    recipient = call.tags.get(to_tag)
    if recipient is None:
        return _monologue_new(call, from_tag, to_tag, via_branch, now)
    sender = call.tags.get(from_tag)
    if sender is not None:
        if sender.peer is recipient and recipient.peer is sender:
            return sender, recipient
    else:
        if via_branch:
            sender = call.branches.get(via_branch)
        if sender is None:
            half = recipient.peer
            sender = half if half is not None and not half.tag else call.new_monologue(now)
    if sender.tag != from_tag:
        call.set_tag(sender, from_tag)
    pair(sender, recipient)
    return sender, recipient


def _monologue_new(call: Call, from_tag: str, to_tag: str | None, via_branch: str | None,
                   now: float) -> tuple[Monologue, Monologue]:
    sender = call.tags.get(from_tag)
    other: Monologue | None = None
    if sender is None:
        sender = call.new_monologue(now)
        call.set_tag(sender, from_tag)
    else:
        if to_tag and sender.peer is not None and sender.peer.tag != to_tag:
            existing = call.tags.get(to_tag)
            if existing is None:
                other = _new_branch(call, sender, via_branch, now)
            else:
                pair(sender, existing)
        if other is None and via_branch:
            peer = sender.peer
            if peer is not None and not peer.via_branch:
                call.set_via_branch(peer, via_branch)
            elif peer is None or peer.via_branch != via_branch:
                known = call.branches.get(via_branch)
                if known is not None:
                    pair(sender, known)
                else:
                    other = _new_branch(call, sender, via_branch, now)
    if other is None and sender.peer is None:
        other = _new_branch(call, sender, via_branch, now)
    recipient = sender.peer
    assert recipient is not None
    if to_tag and not recipient.tag:
        call.set_tag(recipient, to_tag)
        pair(sender, recipient)
    return sender, recipient


def _new_branch(call: Call, sender: Monologue, via_branch: str | None, now: float) -> Monologue:
    other = call.new_monologue(now)
    pair(sender, other)
    call.set_via_branch(other, via_branch)
    return other


# -- medias and streams ------------------------------------------------------------------------------------

def _get_media(monologue: Monologue, sp: StreamParams) -> CallMedia:
    media = monologue.media_by_index(sp.index)
    if media is None:
        media = CallMedia(monologue=monologue, index=sp.index, type=sp.media_type,
                          codecs=CodecStore(sp.media_type))
        monologue.medias.append(media)
    return media


def _num_streams(media: CallMedia, num_ports: int, now: float) -> int:
    """Make sure the media has max(2, num_ports) streams; return how many were created."""
    wanted = max(2, num_ports)
    created = 0
    while len(media.streams) < wanted:
        media.streams.append(PacketStream(media, len(media.streams) + 1, now))
        created += 1
    del media.streams[wanted:]
    return created


def _proto_num_ports(sp_ports: int, media: CallMedia, flags: NgFlags, allow_offer_split: bool) -> int:
    if sp_ports == 0:
        return 2
    if sp_ports != 2 or not is_rtp(media.protocol) or not media.has(F.RTCP_MUX):
        return sp_ports
    if flags.opmode is Op.ANSWER:
        return 1
    if flags.opmode is Op.OFFER and allow_offer_split:
        return 1
    return sp_ports


def _get_endpoint_map(media: CallMedia, num_ports: int, endpoint, flags: NgFlags | None,
                      ctx: RelayContext) -> EndpointMap:
    """Reuse a port set of this media when the remote endpoint is the same (or latching), else bind new
    ports (rtpengine __get_endpoint_map)."""
    interface = media.interface
    assert interface is not None
    for em in reversed(media.endpoint_maps):
        if em.interface is not interface:
            continue
        if em.wildcard and em.num_ports >= num_ports:
            if endpoint is not None:
                em.endpoint = endpoint
                em.wildcard = False
            return em
        if endpoint is None:
            break
        if flags is not None and flags.port_latching:
            pass
        elif media.has(F.ICE) and not (flags is not None and flags.no_port_latching):
            pass
        elif is_unspecified(endpoint[0]) or em.endpoint is None or is_unspecified(em.endpoint[0]):
            if em.endpoint is None or endpoint[1] != em.endpoint[1]:
                continue
        elif em.endpoint != endpoint:
            continue
        if em.num_ports >= num_ports:
            if em.endpoint is not None and is_unspecified(em.endpoint[0]):
                em.endpoint = (endpoint[0], em.endpoint[1])
            return em
        _close_map(em)
        em.sockets = _bind_ports(num_ports, interface, ctx)
        em.num_ports = num_ports
        return em
    em = EndpointMap(endpoint=endpoint, wildcard=endpoint is None, num_ports=num_ports, interface=interface)
    em.sockets = _bind_ports(num_ports, interface, ctx)
    media.endpoint_maps.append(em)
    return em


def _bind_ports(num_ports: int, interface, ctx: RelayContext) -> list[LocalSocket]:
    if num_ports > 2:
        raise PortsExhausted("Ran out of ports")
    raw = interface.pool.take(num_ports, lambda port: ctx.sockets.bind(interface.address, port))
    return [ctx.sockets.adopt(sock, interface.address) for sock in raw]


def _close_map(em: EndpointMap) -> None:
    pool = em.interface.pool
    pool.give_back([sock.port for sock in em.sockets])
    for sock in em.sockets:
        sock.close()
    em.sockets = []


def release_media_ports(media: CallMedia) -> None:
    for em in media.endpoint_maps:
        _close_map(em)
    media.endpoint_maps = []
    for ps in media.streams:
        ps.socket = None


def _assign_sockets(media: CallMedia, em: EndpointMap) -> None:
    restart = False
    for ps in media.streams:
        old = ps.socket
        if ps.component - 1 < len(em.sockets):
            sock = em.sockets[ps.component - 1]
        else:
            sock = ps.socket  # rtpengine keeps the stream's socket when the new set has fewer ports
        if sock is not None:
            sock.stream = ps
        ps.socket = sock
        if old is not None and sock is not None and old is not sock:
            restart = True
    if restart and media.ice_ufrag is not None:
        media.ice_ufrag, media.ice_pwd = ice.new_credentials()


def _disable_streams(media: CallMedia, num_ports: int, now: float) -> None:
    _num_streams(media, num_ports, now)
    for ps in media.streams:
        ps.socket = None


# -- the parts of monologue_offer_answer -------------------------------------------------------------------

def _update_protocol(media: CallMedia, other: CallMedia, sp: StreamParams, flags: NgFlags) -> None:
    if other.type != sp.media_type:
        other.type = sp.media_type
        media.type = sp.media_type
    other.protocol_str = sp.protocol_str
    if other.protocol != sp.protocol:
        other.protocol = sp.protocol
        if flags.opmode is Op.ANSWER:
            if flags.protocol_accept:
                media.protocol = None
        else:
            media.protocol = None
    if media.protocol is None:
        media.protocol = other.protocol
    if flags.transport_protocol and is_rtp(other.protocol):
        media.protocol = flags.transport_protocol


def _update_media_id(media: CallMedia, other: CallMedia, sp: StreamParams, flags: NgFlags) -> None:
    if flags.opmode is not Op.OFFER:
        return
    if other.media_id is None or (sp.media_id is not None and sp.media_id != other.media_id):
        if sp.media_id is not None:
            other.media_id = sp.media_id
    if media.media_id is None:
        if other.media_id is not None:
            media.media_id = other.media_id
        elif flags.generate_mid:
            media.media_id = str(other.index)


def _media_init_from_flags(other: CallMedia, media: CallMedia, sp: StreamParams, flags: NgFlags) -> None:
    if flags.opmode is Op.OFFER and flags.reset:
        media.clear(F.INITIALIZED)
        other.clear(F.INITIALIZED)
        for side in (media, other):
            if side.ice_ufrag is not None:
                side.ice_ufrag, side.ice_pwd = ice.new_credentials()
    _update_protocol(media, other, sp, flags)
    _update_media_id(media, other, sp, flags)
    if sp.rtp_endpoint[1]:
        for flag, on in ((F.RTCP_MUX, sp.rtcp_mux), (F.ASYMMETRIC, sp.asymmetric), (F.ICE, sp.ice),
                         (F.TRICKLE_ICE, sp.trickle_ice), (F.ICE_LITE_PEER, sp.ice_lite_peer),
                         (F.RTCP_FB, sp.rtcp_fb)):
            other.set(flag, on)
        other.sdes_in = [dict(entry) for entry in sp.sdes]
        if other.sdes_in:
            other.set(F.SDES)
    if sp.ptime > 0:
        if not media.has(F.PTIME_OVERRIDE):
            media.ptime = sp.ptime
        if not other.has(F.PTIME_OVERRIDE):
            other.ptime = sp.ptime
    if flags.ptime > 0:
        media.ptime = flags.ptime
        media.set(F.PTIME_OVERRIDE)
        other.set(F.PTIME_OVERRIDE)
    if flags.rev_ptime > 0:
        other.ptime = flags.rev_ptime
        media.set(F.PTIME_OVERRIDE)
        other.set(F.PTIME_OVERRIDE)
    if other.format_str != sp.format_str:
        other.format_str = sp.format_str
    if media.format_str != sp.format_str and media.protocol == other.protocol:
        media.format_str = sp.format_str
    family = address_family(sp.rtp_endpoint[0])
    if other.desired_family is None or not other.has(F.ICE):
        other.desired_family = family
    if media.desired_family is None or not media.has(F.ICE):
        if media.desired_family is None:
            media.desired_family = other.desired_family
        if sp.desired_family:
            media.desired_family = sp.desired_family


def _codecs_offer_answer(media: CallMedia, other: CallMedia, sp: StreamParams, flags: NgFlags) -> None:
    ptime_override = media.has(F.PTIME_OVERRIDE) or other.has(F.PTIME_OVERRIDE)
    if flags.opmode is not Op.ANSWER:
        if flags.reuse_codec:
            other.codecs.populate_reuse(sp.codecs)
        else:
            other.codecs.populate(sp.codecs)
        other.codecs.strip(flags.codec_strip, flags.codec_except)
        other.codecs.offer(flags.codec_offer, sp.codecs)
        if not other.codecs.strip_full:
            other.codecs.offer(flags.codec_transcode, sp.codecs)
        other.codecs.check_empty(sp.codecs)
        other.codecs.accept(flags.codec_accept, None)
        other.codecs.accept(flags.codec_consume, sp.codecs)
        other.codecs.track(flags.codec_mask)
        if not (is_rtp(media.protocol) and not is_rtp(other.protocol)):
            if flags.reuse_codec:
                media.codecs.populate_reuse(sp.codecs)
            else:
                media.codecs.populate(sp.codecs)
        media.codecs.strip(flags.codec_strip, flags.codec_except)
        media.codecs.strip(flags.codec_consume, flags.codec_except)
        media.codecs.strip(flags.codec_mask, flags.codec_except)
        media.codecs.offer(flags.codec_offer, sp.codecs)
        media.codecs.transcode(flags.codec_transcode, sp.codecs, other.codecs)
        media.codecs.check_empty(sp.codecs)
        media.codecs.update_supplemental()
        update_handlers(media.codecs, other.codecs, media.ptime, other.ptime, ptime_override, False)
        media.codecs.update_supplemental()
        _, transcoding = update_handlers(media.codecs, other.codecs, media.ptime, other.ptime,
                                         ptime_override, False)
        media.set(F.TRANSCODE, transcoding)
        return
    answer_only = bool(other.streams) and sp.rtp_endpoint[1] != 0
    if flags.reuse_codec:
        other.codecs.populate_reuse(sp.codecs, answer_only)
    else:
        other.codecs.populate(sp.codecs, answer_only)
    other.codecs.strip(flags.codec_strip, flags.codec_except)
    other.codecs.offer(flags.codec_offer, sp.codecs)
    other.codecs.check_empty(sp.codecs)
    handlers, _ = update_handlers(other.codecs, media.codecs, other.ptime, media.ptime, ptime_override, True)
    answer_codecs(media.codecs, other.codecs, handlers, flags.single_codec)
    update_handlers(media.codecs, other.codecs, media.ptime, other.ptime, ptime_override, False)
    media.codecs.update_supplemental()
    other.codecs.update_supplemental()
    _, transcoding = update_handlers(media.codecs, other.codecs, media.ptime, other.ptime, ptime_override,
                                     False)
    media.set(F.TRANSCODE, transcoding)
    _, transcoding_back = update_handlers(other.codecs, media.codecs, other.ptime, media.ptime,
                                          ptime_override, True)
    other.set(F.TRANSCODE, transcoding_back)


def _dtls_logic(flags: NgFlags, other: CallMedia, sp: StreamParams) -> None:
    """Note what the sender's a=setup and a=fingerprint allow (rtpengine __dtls_logic)."""
    previous = other.flags & (F.SETUP_ACTIVE | F.SETUP_PASSIVE)
    other.set(F.SETUP_PASSIVE, sp.setup_active)
    other.set(F.SETUP_ACTIVE, sp.setup_passive)
    if flags.opmode is Op.OFFER and other.has(F.SETUP_ACTIVE) and other.has(F.SETUP_PASSIVE) \
            and previous == F.SETUP_PASSIVE:
        other.clear(F.SETUP_ACTIVE)
    if flags.dtls_reverse_passive and other.has(F.SETUP_PASSIVE):
        other.clear(F.SETUP_ACTIVE)
    if other.fingerprint != sp.fingerprint:
        other.fingerprint = sp.fingerprint
    other.clear(F.DTLS)
    if (other.flags & (F.SETUP_PASSIVE | F.SETUP_ACTIVE)) and other.fingerprint is not None:
        other.set(F.DTLS)


def _rtcp_mux_logic(flags: NgFlags, media: CallMedia, other: CallMedia) -> None:
    if flags.opmode is Op.ANSWER:
        if not other.has(F.RTCP_MUX_OVERRIDE):
            media.set(F.RTCP_MUX, other.has(F.RTCP_MUX))
        return
    if flags.opmode is not Op.OFFER:
        return
    if not media.has(F.RTCP_MUX):
        media.set(F.RTCP_MUX, other.has(F.RTCP_MUX))
    else:
        flags.rtcp_mux_require = True
    if flags.rtcp_mux_offer or flags.rtcp_mux_require:
        media.set(F.RTCP_MUX)
    elif flags.rtcp_mux_demux:
        media.clear(F.RTCP_MUX)
    media.clear(F.RTCP_MUX_OVERRIDE)
    if other.has(F.RTCP_MUX):
        if not media.has(F.RTCP_MUX):
            media.set(F.RTCP_MUX_OVERRIDE)
            if flags.rtcp_mux_reject:
                other.clear(F.RTCP_MUX)
        elif flags.rtcp_mux_accept:
            media.set(F.RTCP_MUX_OVERRIDE)
        elif flags.rtcp_mux_reject:
            media.set(F.RTCP_MUX_OVERRIDE)
            other.clear(F.RTCP_MUX)
    else:
        media.set(F.RTCP_MUX_OVERRIDE)


def _generate_crypto(flags: NgFlags, this: CallMedia, other: CallMedia | None) -> None:
    """Decide DTLS/SDES towards `this` party and generate our SDES keys (rtpengine __generate_crypto)."""
    is_offer = flags.opmode is Op.OFFER
    if not is_srtp(this.protocol) or this.has(F.PASSTHRU):
        this.sdes_out = []
        for flag in (F.DTLS, F.SDES, F.SETUP_PASSIVE, F.SETUP_ACTIVE):
            this.clear(flag)
            if this.has(F.PASSTHRU) and other is not None:
                other.clear(flag)
        return
    if is_offer:
        this.set(F.SETUP_PASSIVE)
        this.set(F.SETUP_ACTIVE)
    else:
        if flags.dtls_passive and this.has(F.SETUP_PASSIVE):
            this.clear(F.SETUP_ACTIVE)
        if this.has(F.SETUP_ACTIVE):
            this.clear(F.SETUP_PASSIVE)
    if is_offer:
        if not (this.has(F.DTLS) or this.has(F.SDES)):
            if not flags.dtls_off:
                this.set(F.DTLS)
            if not flags.sdes_off:
                this.set(F.SDES)
            else:
                _after_sdes(flags, this, is_offer)
                return
    else:
        if this.has(F.DTLS) and this.has(F.SDES) and flags.dtls_off:
            this.clear(F.DTLS)
        if this.has(F.DTLS):
            this.clear(F.SDES)
            _after_sdes(flags, this, is_offer)
            return
    offered = other.sdes_in if other is not None else []
    if is_offer:
        previous = this.sdes_out
        out: list[dict] = []
        next_tag = 1
        seen: set[str] = set()
        for entry in offered:
            copy = dict(entry)
            out.append(copy)
            tag = int(copy.get("tag", "0") or 0)
            if tag >= next_tag:
                next_tag = tag + 1
            seen.add(copy["suite"])
        for entry in previous:
            if entry["suite"] in seen:
                continue
            tag = max(int(entry["tag"]), next_tag)
            entry["tag"] = str(tag)
            next_tag = tag + 1
            out.append(entry)
            seen.add(entry["suite"])
        for suite, size in CRYPTO_SUITES.items():
            if suite in seen or suite in flags.sdes_no:
                continue
            out.append({"tag": str(next_tag), "suite": suite, "key": secrets.token_bytes(size), "params": []})
            next_tag += 1
        this.sdes_out = out
    else:
        chosen = this.sdes_in[0] if this.sdes_in else None
        if offered and this.sdes_in:
            for entry in this.sdes_in:
                if entry["suite"] == offered[0]["suite"]:
                    chosen = entry
                    break
        if chosen is not None and (not this.sdes_out or this.sdes_out[0]["suite"] != chosen["suite"]):
            size = CRYPTO_SUITES.get(chosen["suite"], 30)
            if offered and offered[0]["suite"] == chosen["suite"]:
                this.sdes_out = [dict(offered[0], tag=chosen["tag"])]
            else:
                this.sdes_out = [{"tag": chosen["tag"], "suite": chosen["suite"],
                                  "key": secrets.token_bytes(size), "params": list(chosen.get("params", []))}]
            this.sdes_in = [chosen]
    _after_sdes(flags, this, is_offer)


def _after_sdes(flags: NgFlags, this: CallMedia, is_offer: bool) -> None:
    if is_offer and this.has(F.DTLS) and this.fp_hash is None and flags.dtls_fingerprint:
        this.fp_hash = flags.dtls_fingerprint.lower()


def _ice_offer(flags: NgFlags, this: CallMedia, other: CallMedia, restart: bool) -> None:
    """ICE on or off towards the recipient, lite mode and roles (rtpengine __ice_offer)."""
    if not this.has(F.INITIALIZED):
        this.set(F.ICE, other.has(F.ICE))
    if flags.ice is Ice.REMOVE:
        this.clear(F.ICE)
    elif flags.ice is not Ice.DEFAULT:
        this.set(F.ICE)
    if flags.ice_reject:
        other.clear(F.ICE)
    if flags.passthrough_on:
        this.set(F.PASSTHRU)
        other.set(F.PASSTHRU)
        return
    if flags.passthrough_off:
        this.clear(F.PASSTHRU)
        other.clear(F.PASSTHRU)
        return
    if flags.ice not in (Ice.FORCE, Ice.DEFAULT):
        if this.has(F.ICE) and other.has(F.ICE):
            this.set(F.PASSTHRU)
            other.set(F.PASSTHRU)
            return
        if flags.opmode is Op.ANSWER and not other.has(F.ICE) and this.ice_ufrag is None:
            this.clear(F.ICE)
            return
    if flags.opmode is Op.OFFER:
        lite = flags.ice_lite
        if lite is IceLite.OFF:
            this.clear(F.ICE_LITE_SELF)
            other.clear(F.ICE_LITE_SELF)
        elif lite is IceLite.FORWARD:
            this.set(F.ICE_LITE_SELF)
            other.clear(F.ICE_LITE_SELF)
        elif lite is IceLite.BACKWARD:
            this.clear(F.ICE_LITE_SELF)
            other.set(F.ICE_LITE_SELF)
        elif lite is IceLite.BOTH:
            this.set(F.ICE_LITE_SELF)
            other.set(F.ICE_LITE_SELF)
        if flags.trickle_ice:
            this.set(F.TRICKLE_ICE)
    for side, offerer_role in ((this, True), (other, False)):
        if side is other and flags.opmode not in (Op.OFFER, Op.ANSWER):
            break
        if side.has(F.ICE_LITE_PEER) and not side.has(F.ICE_LITE_SELF):
            side.set(F.ICE_CONTROLLING)
        elif not side.has(F.INITIALIZED) or restart:
            if side.has(F.ICE_LITE_SELF):
                side.clear(F.ICE_CONTROLLING)
            else:
                controlling = (flags.opmode is Op.OFFER) == offerer_role
                side.set(F.ICE_CONTROLLING, controlling)


def _ice_start(media: CallMedia) -> None:
    if media.has(F.PASSTHRU):
        media.ice_ufrag = media.ice_pwd = None
        return
    if media.has(F.ICE) and media.ice_ufrag is None:
        media.ice_ufrag, media.ice_pwd = ice.new_credentials()


def _fill_streams(a_media: CallMedia, b_media: CallMedia | None, sp: StreamParams | None,
                  flags: NgFlags | None, now: float) -> None:
    """Endpoints of `a_media`'s streams from `sp`, and their sinks in `b_media` (rtpengine __init_streams)."""
    a_streams = a_media.streams
    b_streams = b_media.streams if b_media is not None else []
    has_ice = a_media.has(F.ICE)
    learning = flags.endpoint_learning if flags is not None else None
    replace_zero = flags is not None and flags.replace_zero_address
    port_off = 0
    la = 0
    lb = 0
    while la + 1 < len(a_streams):
        a = a_streams[la]
        b = b_streams[lb] if lb < len(b_streams) else None
        a.rtp_sink = b
        a.is_rtp = True
        if sp is not None:
            ep = sp.rtp_endpoint
            ice_unchanged = sp.ice_ufrag is not None and sp.ice_ufrag == a_media.remote_ice_ufrag
            a.fill((ep[0], ep[1] + port_off), learning, now, has_ice, ice_unchanged)
            a.strict_source = sp.strict_source
            a.media_handover = sp.media_handover
        if b is not None:
            b.zero_address = False
            if _is_zero(a.advertised_endpoint, a_media) and not replace_zero:
                b.zero_address = True
        if b_media is not None and b is not None and not b_media.has(F.RTCP_MUX):
            lb += 1
            b = b_streams[lb] if lb < len(b_streams) else None
        if not a_media.has(F.RTCP_MUX):
            a.is_rtcp = False
            a.rtcp_sink = None
        else:
            a.is_rtcp = True
            a.rtcp_sink = b
        ax = a
        la += 1
        a = a_streams[la]
        a.rtcp_sink = b
        a.rtp_sink = None
        a.is_rtp = False
        a.is_rtcp = True
        a.fallback_rtcp = ax.is_rtcp
        ax.rtcp_sibling = a
        if sp is not None:
            if not sp.implicit_rtcp and sp.rtcp_endpoint is not None:
                a.fill(sp.rtcp_endpoint, learning, now, has_ice, False)
                a.implicit_rtcp = False
            else:
                ep = sp.rtp_endpoint
                a.fill((ep[0], ep[1] + port_off + 1), learning, now, has_ice, False)
                a.implicit_rtcp = True
            a.strict_source = sp.strict_source
            a.media_handover = sp.media_handover
        a.zero_address = False
        if b is not None and _is_zero(b.advertised_endpoint, b_media) and not replace_zero:
            a.zero_address = True
        la += 1
        lb += 1
        port_off += 2
    if sp is not None:
        a_media.remote_ice_ufrag = sp.ice_ufrag
        a_media.remote_ice_pwd = sp.ice_pwd
        a_media.remote_candidates = list(sp.candidates)


def _is_zero(endpoint, media: CallMedia | None) -> bool:
    if endpoint is None:
        return True
    if not is_unspecified(endpoint[0]):
        return False
    trickle_address = endpoint[1] == 9
    return not (trickle_address and media is not None and media.has(F.TRICKLE_ICE))


def _update_monologue_streams(ml: Monologue, streams: list[StreamParams] | None, flags: NgFlags | None,
                              now: float) -> None:
    peer = ml.peer
    for position, media in enumerate(ml.medias):
        sp = streams[position] if streams is not None and position < len(streams) else None
        _ice_start(media)
        sink = peer.media_by_index(media.index) if peer is not None else None
        _fill_streams(media, sink, sp, flags, now)
        demux = bool(media.flags & (F.ICE | F.DTLS)) and not media.has(F.PASSTHRU)
        for ps in media.streams:
            ps.demux = demux


def offer_answer(sender: Monologue, recipient: Monologue, streams: list[StreamParams], flags: NgFlags,
                 ctx: RelayContext) -> None:
    """Apply one offer or answer from `sender` to both monologues (rtpengine monologue_offer_answer).

    Raises PortsExhausted when ports cannot be bound.
    """
    now = ctx.clock()
    call = sender.call
    call.last_signal = now
    call.deleted_at = 0.0
    sender.stopped = False
    recipient.stopped = False
    if flags.label:
        sender.label = flags.label
    for sp in streams:
        media = _get_media(recipient, sp)
        other = _get_media(sender, sp)
        _media_init_from_flags(other, media, sp, flags)
        _codecs_offer_answer(media, other, sp, flags)
        media.set(F.SEND, sp.send)
        media.set(F.RECV, sp.recv)
        other.set(F.RECV, sp.send)
        other.set(F.SEND, sp.recv)
        if sp.rtp_endpoint[1]:
            _dtls_logic(flags, other, sp)
            _rtcp_mux_logic(flags, media, other)
            _generate_crypto(flags, media, other)
        ports_this = _proto_num_ports(sp.num_ports, media, flags, flags.rtcp_mux_require)
        ports_other = _proto_num_ports(sp.num_ports, other, flags,
                                       flags.rtcp_mux_demux or flags.rtcp_mux_accept)
        _init_interface(media, sp.direction[1], ctx)
        _init_interface(other, sp.direction[0], ctx)
        restart = other.remote_ice_ufrag is not None and sp.ice_ufrag is not None \
            and other.remote_ice_ufrag != sp.ice_ufrag
        _ice_offer(flags, media, other, restart)
        if restart and other.ice_ufrag is not None:
            other.ice_ufrag, other.ice_pwd = ice.new_credentials()
        other.set(F.INITIALIZED)
        if not sp.rtp_endpoint[1]:
            _disable_streams(media, ports_this, now)
            _disable_streams(other, ports_other, now)
            continue
        if is_unspecified(sp.rtp_endpoint[0]) and not other.has(F.TRICKLE_ICE):
            media.clear(F.RECV)
            other.clear(F.SEND)
        em = _get_endpoint_map(media, ports_this, sp.rtp_endpoint, flags, ctx)
        _num_streams(media, ports_this, now)
        _assign_sockets(media, em)
        if _num_streams(other, ports_other, now):
            wildcard = _get_endpoint_map(other, ports_other, None, None, ctx)
            _assign_sockets(other, wildcard)
    _update_monologue_streams(sender, streams, flags, now)
    _update_monologue_streams(recipient, None, None, now)


def _init_interface(media: CallMedia, name: str | None, ctx: RelayContext) -> None:
    monologue = media.monologue
    if media.interface is None and monologue.interface is not None:
        media.interface = monologue.interface
    if media.interface is not None and media.interface.family == (media.desired_family or media.interface.family):
        if not name or name == media.interface.name:
            return
    family = media.desired_family
    if name in ("internal", "external") and name not in ctx.interfaces.by_name:
        family = "IP4" if name == "internal" else "IP6"
        name = None
    media.interface = ctx.interfaces.lookup(name, family)
    monologue.interface = media.interface


def stop_monologue(monologue: Monologue) -> None:
    """Media stops at once on delete; the state lingers for delete-delay (rtpengine monologue_stop)."""
    monologue.stopped = True
    for media in monologue.medias:
        for ps in media.streams:
            ps.forwarding = False


def release_monologue(monologue: Monologue) -> None:
    for media in monologue.medias:
        release_media_ports(media)


def destroy_monologue(call: Call, monologue: Monologue) -> bool:
    """Remove one monologue and partners left alone; True when the whole call should go
    (rtpengine monologue_destroy)."""
    _destroy_one(call, monologue)
    peer = monologue.peer
    if peer is not None and peer.peer is monologue:
        peer.peer = None
        peer.other_tags.discard(monologue.tag)
        if not peer.other_tags and peer in call.monologues:
            _destroy_one(call, peer)
    monologue.peer = None
    remaining_tags = [m for m in call.monologues if m.tag]
    return len(remaining_tags) < 2 and not call.branches


def _destroy_one(call: Call, monologue: Monologue) -> None:
    release_monologue(monologue)
    for source in list(monologue.subscriptions):
        unsubscribe(monologue, source)
    for subscriber in list(monologue.subscribers):
        unsubscribe(subscriber, monologue)
    if monologue.tag and call.tags.get(monologue.tag) is monologue:
        del call.tags[monologue.tag]
    if monologue.via_branch and call.branches.get(monologue.via_branch) is monologue:
        del call.branches[monologue.via_branch]
    if monologue in call.monologues:
        call.monologues.remove(monologue)


def destroy_call(call: Call) -> None:
    for monologue in call.monologues:
        stop_monologue(monologue)
        release_monologue(monologue)
    call.destroyed = True
