"""The offer/answer flags of an ng request, parsed the way rtpengine parses them.

rtpengine turns the request dictionary into one flags structure (daemon/call_interfaces.c:
call_ng_main_flags, call_ng_flags_flags, call_ng_codec_flags). Words of the ``flags`` list are matched
after turning spaces into hyphens; unknown keys and words are ignored, never an error. This module does
the same and records what it ignored, so the relay can log it once.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from opensips_py.media.ng import NgRequest
from opensips_py.media.session import EndpointLearning

# RTP transport protocols rtpengine knows (daemon/call.c transport_protocols): name → (rtp, srtp, avpf).
TRANSPORT_PROTOCOLS: dict[str, tuple[bool, bool, bool]] = {
    "RTP/AVP": (True, False, False),
    "RTP/SAVP": (True, True, False),
    "RTP/AVPF": (True, False, True),
    "RTP/SAVPF": (True, True, True),
    "UDP/TLS/RTP/SAVP": (True, True, False),
    "UDP/TLS/RTP/SAVPF": (True, True, True),
    "UDPTL": (False, False, False),
    "udptl": (False, False, False),
}


def transport_protocol(name: str | None) -> str | None:
    """The canonical protocol name, or None when unknown (rtpengine matches case-insensitively)."""
    if not name:
        return None
    for known in TRANSPORT_PROTOCOLS:
        if known.lower() == name.lower():
            return "UDPTL" if known.lower() == "udptl" else known
    return None


def is_rtp(protocol: str | None) -> bool:
    return protocol is not None and TRANSPORT_PROTOCOLS.get(protocol, (False,))[0]


def is_srtp(protocol: str | None) -> bool:
    return protocol is not None and TRANSPORT_PROTOCOLS.get(protocol, (False, False))[1]


class Op(enum.Enum):
    OFFER = "offer"
    ANSWER = "answer"
    OTHER = "other"


class Ice(enum.Enum):
    DEFAULT = "default"
    REMOVE = "remove"
    FORCE = "force"
    OPTIONAL = "optional"
    FORCE_RELAY = "force-relay"


class IceLite(enum.Enum):
    UNSET = "unset"
    OFF = "off"
    FORWARD = "forward"
    BACKWARD = "backward"
    BOTH = "both"


_ICE_VALUES = {"remove": Ice.REMOVE, "force": Ice.FORCE, "default": Ice.DEFAULT, "optional": Ice.OPTIONAL,
               "force_relay": Ice.FORCE_RELAY, "force-relay": Ice.FORCE_RELAY,
               "force relay": Ice.FORCE_RELAY}
_ICE_LITE_VALUES = {
    **dict.fromkeys(("off", "none", "no"), IceLite.OFF),
    **dict.fromkeys(("forward", "offer", "fwd", "fw"), IceLite.FORWARD),
    **dict.fromkeys(("backward", "backwards", "reverse", "answer", "back", "bkw", "bk"), IceLite.BACKWARD),
    "both": IceLite.BOTH,
}


@dataclass
class NgFlags:
    """Everything an offer/answer may ask for (rtpengine's struct sdp_ng_flags, the parts we act on)."""

    opmode: Op
    call_id: str | None = None
    from_tag: str | None = None
    to_tag: str | None = None
    via_branch: str | None = None
    label: str | None = None
    sdp: bytes | None = None
    trust_address: bool = True
    received_from: tuple[str, str] | None = None
    media_address: str | None = None
    address_family: str | None = None
    direction: tuple[str | None, str | None] = (None, None)
    interface: str | None = None
    transport_protocol: str | None = None
    protocol_accept: bool = False
    ice: Ice = Ice.DEFAULT
    ice_given: bool = False
    ice_lite: IceLite = IceLite.UNSET
    ice_reject: bool = False
    trickle_ice: bool = False
    dtls_off: bool = False
    dtls_passive: bool = False
    dtls_reverse_passive: bool = False
    dtls_fingerprint: str | None = None
    sdes_off: bool = False
    sdes_no: set[str] = field(default_factory=set)
    sdes_pad: bool = False
    sdes_lifetime: bool = False
    osrtp_offer: bool = False
    osrtp_accept: bool = False
    rtcp_mux_offer: bool = False
    rtcp_mux_require: bool = False
    rtcp_mux_demux: bool = False
    rtcp_mux_accept: bool = False
    rtcp_mux_reject: bool = False
    replace_origin: bool = False
    replace_sess_conn: bool = False
    replace_sess_name: bool = False
    replace_sdp_version: bool = False
    replace_username: bool = False
    replace_zero_address: bool = False
    asymmetric: bool = False
    unidirectional: bool = False
    strict_source: bool = False
    media_handover: bool = False
    reset: bool = False
    port_latching: bool = False
    no_port_latching: bool = False
    generate_mid: bool = False
    strip_extmap: bool = False
    no_rtcp_attr: bool = False
    full_rtcp_attr: bool = False
    loop_protect: bool = False
    original_sendrecv: bool = False
    single_codec: bool = False
    reuse_codec: bool = False
    passthrough_on: bool = False
    passthrough_off: bool = False
    pierce_nat: bool = False
    nat_wait: bool = False
    inject_dtmf: bool = False
    detect_dtmf: bool = False
    record_call: bool = False
    fragment: bool = False
    endpoint_learning: EndpointLearning | None = None
    codec_strip: list[str] = field(default_factory=list)
    codec_offer: list[str] = field(default_factory=list)
    codec_except: set[str] = field(default_factory=set)
    codec_transcode: list[str] = field(default_factory=list)
    codec_mask: list[str] = field(default_factory=list)
    codec_accept: list[str] = field(default_factory=list)
    codec_consume: list[str] = field(default_factory=list)
    codec_set: list[str] = field(default_factory=list)
    ptime: int = 0
    rev_ptime: int = 0
    tos: int = 256
    delete_delay: int | None = None
    metadata: str | None = None
    ignored: list[str] = field(default_factory=list)

    @property
    def is_offer(self) -> bool:
        return self.opmode is Op.OFFER


def _unescape(value: str) -> str:
    """rtpengine writes '=' as '--' inside flag values (codec-set-opus/48000/2--…)."""
    return value.replace("--", "=")


def _parse_word(flags: NgFlags, raw: str) -> None:
    word = raw.replace(" ", "-")
    simple = {
        "trust-address": ("trust_address", True),
        "SIP-source-address": ("trust_address", False), "sip-source-address": ("trust_address", False),
        "asymmetric": ("asymmetric", True), "symmetric": None, "unidirectional": ("unidirectional", True),
        "strict-source": ("strict_source", True), "media-handover": ("media_handover", True),
        "reset": ("reset", True), "fragment": ("fragment", True),
        "port-latching": ("port_latching", True), "no-port-latching": ("no_port_latching", True),
        "generate-mid": ("generate_mid", True), "strip-extmap": ("strip_extmap", True),
        "record-call": ("record_call", True), "debug": None, "debugging": None,
        "no-rtcp-attribute": ("no_rtcp_attr", True), "no-RTCP-attribute": ("no_rtcp_attr", True),
        "full-rtcp-attribute": ("full_rtcp_attr", True), "full-RTCP-attribute": ("full_rtcp_attr", True),
        "trickle-ICE": ("trickle_ice", True), "trickle-ice": ("trickle_ice", True),
        "ICE-reject": ("ice_reject", True), "reject-ICE": ("ice_reject", True),
        "ice-reject": ("ice_reject", True), "reject-ice": ("ice_reject", True),
        "loop-protect": ("loop_protect", True), "original-sendrecv": ("original_sendrecv", True),
        "reuse-codecs": ("reuse_codec", True), "no-codec-renegotiation": ("reuse_codec", True),
        "single-codec": ("single_codec", True), "inject-DTMF": ("inject_dtmf", True),
        "inject-dtmf": ("inject_dtmf", True), "detect-DTMF": ("detect_dtmf", True),
        "detect-dtmf": ("detect_dtmf", True), "pad-crypto": ("sdes_pad", True),
        "passthrough": ("passthrough_on", True), "no-passthrough": ("passthrough_off", True),
        "pierce-NAT": ("pierce_nat", True), "pierce-nat": ("pierce_nat", True),
        "NAT-wait": ("nat_wait", True), "nat-wait": ("nat_wait", True),
        "no-redis-update": None, "all": None, "egress": None, "SIPREC": None, "siprec": None,
        "no-jitter-buffer": None, "allow-transcoding": None, "generate-RTCP": None, "generate-rtcp": None,
        "RTCP-mirror": None, "mirror-RTCP": None, "rtcp-mirror": None, "mirror-rtcp": None,
        "asymmetric-codecs": None, "symmetric-codecs": None, "reorder-codecs": None,
        # delete-only words, harmless here
        "fatal": None, "fast": None, "to-tag": None,
    }
    if word in simple:
        target = simple[word]
        if target is not None:
            setattr(flags, target[0], target[1])
        return
    if word == "always-transcode":
        flags.codec_accept.append("all")
        return
    if word == "WebRTC":
        # Later rtpengine releases: one word for what a browser leg needs.
        flags.transport_protocol = "UDP/TLS/RTP/SAVPF"
        flags.ice, flags.ice_given = Ice.FORCE, True
        flags.trickle_ice = True
        flags.rtcp_mux_offer = flags.rtcp_mux_require = True
        flags.no_rtcp_attr = True
        flags.sdes_off = True
        flags.generate_mid = True
        return
    if word.startswith("replace-"):
        _replace_option(flags, word[len("replace-"):])
        return
    if word.startswith("rtcp-mux-"):
        _rtcp_mux_option(flags, word[len("rtcp-mux-"):])
        return
    prefixed = (
        ("from-tags-", None),
        ("SDES-no-", "sdes_no"), ("SDES-", "sdes"), ("OSRTP-", "osrtp"),
        ("codec-strip-", "codec_strip"), ("codec-offer-", "codec_offer"), ("codec-except-", "codec_except"),
        ("endpoint-learning-", "learning"),
    )
    for prefix, target in prefixed:
        if word.startswith(prefix):
            _apply_prefixed(flags, target, _unescape(word[len(prefix):]))
            return
    if flags.opmode is Op.OFFER:
        for prefix, target in (("transcode-", "codec_transcode"), ("codec-transcode-", "codec_transcode"),
                               ("codec-mask-", "codec_mask"), ("T38-", None), ("T.38-", None)):
            if word.startswith(prefix):
                _apply_prefixed(flags, target, _unescape(word[len(prefix):]))
                return
    for prefix, target in (("codec-set-", "codec_set"), ("codec-accept-", "codec_accept"),
                           ("codec-consume-", "codec_consume")):
        if word.startswith(prefix):
            _apply_prefixed(flags, target, _unescape(word[len(prefix):]))
            return
    flags.ignored.append(f"flag {raw!r}")


def _replace_option(flags: NgFlags, item: str) -> None:
    attribute = {"origin": "replace_origin", "session-connection": "replace_sess_conn",
                 "session-name": "replace_sess_name", "sdp-version": "replace_sdp_version",
                 "SDP-version": "replace_sdp_version", "username": "replace_username",
                 "zero-address": "replace_zero_address"}.get(item.replace(" ", "-"))
    if attribute:
        setattr(flags, attribute, True)
    else:
        flags.ignored.append(f"replace {item!r}")


def _rtcp_mux_option(flags: NgFlags, item: str) -> None:
    attribute = {"offer": "rtcp_mux_offer", "require": "rtcp_mux_require", "demux": "rtcp_mux_demux",
                 "accept": "rtcp_mux_accept", "reject": "rtcp_mux_reject"}.get(item)
    if attribute:
        setattr(flags, attribute, True)
    else:
        flags.ignored.append(f"rtcp-mux {item!r}")


def _apply_prefixed(flags: NgFlags, target: str | None, value: str) -> None:
    if target is None:
        return
    if target == "sdes_no":
        flags.sdes_no.add(value)
    elif target == "sdes":
        _sdes_option(flags, value)
    elif target == "osrtp":
        _osrtp_option(flags, value)
    elif target == "learning":
        _learning_option(flags, value)
    elif target == "codec_except":
        flags.codec_except.add(value)
    else:
        getattr(flags, target).append(value)


def _ice_option(flags: NgFlags, value: str) -> None:
    """One ICE item: remove/force/default/optional/force-relay, or (later rtpengine) trickle, lite-*."""
    if value in _ICE_VALUES:
        flags.ice, flags.ice_given = _ICE_VALUES[value], True
    elif value == "trickle":
        flags.trickle_ice = True
    elif value in ("no-lite", "lite-no", "lite-none", "lite-off"):
        flags.ice_lite = IceLite.OFF
    elif value == "lite" or value.startswith("lite-"):
        flags.ice_lite = _ICE_LITE_VALUES.get(value[5:], IceLite.FORWARD)
    elif value != "ice2":
        flags.ignored.append(f"ICE {value!r}")


def _sdes_option(flags: NgFlags, value: str) -> None:
    value = value.replace(" ", "-")
    if value.startswith("no-"):
        flags.sdes_no.add(value[3:])
    elif value in ("no", "off", "disabled", "disable"):
        flags.sdes_off = True
    elif value == "pad":
        flags.sdes_pad = True
    elif value == "lifetime":
        flags.sdes_lifetime = True
    # session-parameter words (unencrypted_srtp…) are accepted: SDES keys are a later issue


def _osrtp_option(flags: NgFlags, value: str) -> None:
    if value == "accept":
        flags.osrtp_accept = True
    elif value == "offer":
        flags.osrtp_offer = True


def _learning_option(flags: NgFlags, value: str) -> None:
    try:
        flags.endpoint_learning = EndpointLearning(value)
    except ValueError:
        flags.ignored.append(f"endpoint-learning {value!r}")


def _split_top(text: str) -> list[str]:
    """Split on spaces outside [brackets]."""
    tokens, depth, current = [], 0, []
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(0, depth - 1)
        if char == " " and depth == 0:
            if current:
                tokens.append("".join(current))
                current = []
            continue
        current.append(char)
    if current:
        tokens.append("".join(current))
    return tokens


def _rtpp_value(text: str):
    if text.startswith("[") and text.endswith("]"):
        items = _split_top(text[1:-1])
        if any("=" in item and not item.startswith("[") for item in items):
            out: dict[bytes, object] = {}
            for item in items:
                key, _, value = item.partition("=")
                out[key.encode()] = _rtpp_value(value)
            return out
        return [_rtpp_value(item) for item in items]
    return text.replace("..", " ").encode()


def expand_rtpp_flags(raw: dict[bytes, object]) -> dict[bytes, object]:
    """Later rtpengine releases take all flags as one ``rtpp_flags`` string
    (``"replace-origin ICE=force codec=[strip=[all] transcode=[PCMU]]"``); turn it into keys."""
    text = raw.get(b"rtpp_flags") or raw.get(b"rtpp-flags")
    if not isinstance(text, bytes):
        return raw
    merged = dict(raw)
    words: list[object] = list(merged.get(b"flags") or []) if isinstance(merged.get(b"flags"), list) else []
    for token in _split_top(text.decode("utf-8", "replace")):
        if token in TRANSPORT_PROTOCOLS:
            merged.setdefault(b"transport-protocol", token.encode())
        elif "=" in token:
            key, _, value = token.partition("=")
            merged.setdefault(key.encode(), _rtpp_value(value))
        else:
            words.append(token.encode())
    if words:
        merged[b"flags"] = words
    return merged


def parse_flags(request: NgRequest, opmode: Op, default_learning: EndpointLearning | None = None) -> NgFlags:
    """Build NgFlags from an ng request; unknown keys and words end up in `ignored`."""
    if b"rtpp_flags" in request.raw or b"rtpp-flags" in request.raw:
        request = NgRequest(expand_rtpp_flags(request.raw))
    flags = NgFlags(opmode=opmode, endpoint_learning=default_learning)
    flags.call_id = request.str("call-id", "call-ID", "call id", "call ID")
    flags.from_tag = request.str("from-tag")
    flags.to_tag = request.str("to-tag")
    flags.via_branch = request.str("via-branch")
    flags.label = request.str("label", "from-label")
    flags.sdp = request.bytes("sdp", "SDP")
    flags.interface = request.str("interface")
    flags.metadata = request.str("metadata")
    for word in request.list("flags"):
        _parse_word(flags, word)
    for item in request.list("replace"):
        _replace_option(flags, item)
    for item in request.list("rtcp-mux", "RTCP-mux"):
        _rtcp_mux_option(flags, item)
    for item in request.list("SDES", "sdes"):
        _sdes_option(flags, item)
    for item in request.list("OSRTP", "osrtp"):
        _osrtp_option(flags, item)
    for item in request.list("endpoint-learning"):
        _learning_option(flags, item)
    direction = request.list("direction")
    if direction:
        flags.direction = (direction[0] if direction else None, direction[1] if len(direction) > 1 else None)
    received = request.list("received-from", "received from")
    if len(received) >= 2:
        flags.received_from = (received[0], received[1])
    for ice in request.list("ICE", "ice"):
        _ice_option(flags, ice)
    ice_lite = request.str("ICE-lite", "ice-lite", "ICE lite", "ice lite")
    if ice_lite is not None:
        flags.ice_lite = _ICE_LITE_VALUES.get(ice_lite, flags.ice_lite)
    dtls = request.str("DTLS", "dtls")
    if dtls in ("passive",):
        flags.dtls_passive = True
    elif dtls == "active":
        flags.dtls_passive = False
    elif dtls in ("no", "off", "disabled", "disable"):
        flags.dtls_off = True
    elif dtls is not None:
        flags.ignored.append(f"DTLS {dtls!r}")
    dtls_reverse = request.str("DTLS-reverse", "dtls-reverse", "DTLS reverse", "dtls reverse")
    if dtls_reverse == "passive":
        flags.dtls_reverse_passive = True
    elif dtls_reverse == "active":
        flags.dtls_reverse_passive = False
    flags.dtls_fingerprint = request.str("DTLS-fingerprint", "DTLS fingerprint", "dtls-fingerprint")
    passthrough = request.str("passthrough", "passthru")
    if passthrough in ("on", "yes", "enable", "enabled"):
        flags.passthrough_on = True
    elif passthrough in ("no", "off", "disable", "disabled"):
        flags.passthrough_off = True
    protocol = request.str("transport-protocol", "transport protocol")
    if protocol == "accept":
        flags.protocol_accept = True
    elif protocol is not None:
        flags.transport_protocol = transport_protocol(protocol)
    flags.media_address = request.str("media-address", "media address")
    family = request.str("address-family", "address family")
    if family in ("IP4", "IP6"):
        flags.address_family = family
    tos = request.int("TOS", "tos")
    if tos is not None:
        flags.tos = tos
    if opmode is Op.OFFER:
        flags.ptime = request.int("ptime") or 0
        flags.rev_ptime = request.int("ptime-reverse", "reverse-ptime") or 0
    delay = request.int("delete-delay", "delete delay", "delete_delay")
    flags.delete_delay = delay
    codec = request.dict("codec")
    if codec:
        sub = NgRequest(codec)
        flags.codec_strip += [_unescape(v) for v in sub.list("strip")]
        flags.codec_offer += [_unescape(v) for v in sub.list("offer")]
        flags.codec_except |= {_unescape(v) for v in sub.list("except")}
        if opmode is Op.OFFER:
            flags.codec_transcode += [_unescape(v) for v in sub.list("transcode")]
            flags.codec_mask += [_unescape(v) for v in sub.list("mask")]
            flags.codec_set += [_unescape(v) for v in sub.list("set")]
            flags.codec_accept += [_unescape(v) for v in sub.list("accept")]
            flags.codec_consume += [_unescape(v) for v in sub.list("consume")]
    return flags
