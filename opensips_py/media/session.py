"""rtpengine's session model: call → monologues (one per SIP tag) → medias (one per m= line) → streams.

A *monologue* is half a dialogue: the party behind one tag. An offer pairs the offerer's monologue with
the monologue of whoever receives the offer (its tag still unknown, or known only by via-branch for a
forked INVITE); the answer fills in that tag. Each monologue has one `CallMedia` per m= line, and each
media has a `PacketStream` for RTP and one for RTCP (the RTCP one has no socket of its own while
rtcp-mux is in effect). A media's local ports are the ports advertised *to that monologue's party*:
what party A sends to the ports of A's media is relayed out of the ports of B's media to B.

This module holds the state and the packet hot path of one stream (`PacketStream.receive`); building and
changing the state from offers and answers is in `offer_answer`, the sockets are in `relay`.
Names follow rtpengine's (daemon/call.c, include/call.h) so its source can be read alongside.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.media.codecs import CodecStore
    from opensips_py.media.interfaces import LocalInterface
    from opensips_py.media.relay import LocalSocket

Endpoint = tuple[str, int]

UNSPECIFIED_ADDRESSES = frozenset({"0.0.0.0", "::", ""})


def is_unspecified(address: str | None) -> bool:
    return address is None or address in UNSPECIFIED_ADDRESSES


class MediaFlag:
    """Per-media state bits (rtpengine's MEDIA_FLAG_*); SEND/RECV are from our point of view.

    Plain int bits rather than enum.IntFlag: offers test and set them hundreds of times.
    """

    INITIALIZED = 1 << 0
    ASYMMETRIC = 1 << 1
    UNIDIRECTIONAL = 1 << 2
    SEND = 1 << 3
    RECV = 1 << 4
    RTCP_MUX = 1 << 5
    RTCP_MUX_OVERRIDE = 1 << 6
    DTLS = 1 << 7
    SDES = 1 << 8
    SETUP_ACTIVE = 1 << 9
    SETUP_PASSIVE = 1 << 10
    PASSTHRU = 1 << 11
    ICE = 1 << 12
    TRICKLE_ICE = 1 << 13
    ICE_LITE_PEER = 1 << 14
    ICE_CONTROLLING = 1 << 15
    LOOP_CHECK = 1 << 16
    TRANSCODE = 1 << 17
    PTIME_OVERRIDE = 1 << 18
    RTCP_FB = 1 << 19
    GENERATOR = 1 << 20
    ICE_LITE_SELF = 1 << 21
    RTCP_GEN = 1 << 22
    ECHO = 1 << 23
    BLACKHOLE = 1 << 24


class EndpointLearning(enum.Enum):
    """How a stream learns its peer's real address from incoming packets (rtpengine --endpoint-learning)."""

    OFF = "off"
    IMMEDIATE = "immediate"
    DELAYED = "delayed"
    HEURISTIC = "heuristic"


# rtpengine waits this long after the last signalling before locking onto a learned address.
LEARNING_DELAY_SECONDS = 3.0


def is_rtcp_packet(data: bytes) -> bool:
    """RFC 5761 §4: on a muxed port, RTCP has packet types 192–223 in the second byte."""
    return len(data) >= 2 and 192 <= data[1] <= 223


class PacketStream:
    """One component (RTP or RTCP) of a media: our local socket, the peer's endpoint, counters.

    `receive` is the per-packet hot path: count, learn the peer's address (latching), then forward out
    of the sink stream's socket to the sink's endpoint. It must stay small.
    """

    __slots__ = (
        "media", "component", "socket", "endpoint", "advertised_endpoint", "learned_endpoint",
        "filled", "confirmed", "received", "is_rtp", "is_rtcp", "fallback_rtcp", "implicit_rtcp",
        "strict_source", "media_handover", "learning", "rtp_sink", "rtcp_sink", "rtcp_sibling",
        "packets", "bytes", "errors", "last_packet", "forwarding", "zero_address", "demux",
    )

    def __init__(self, media: "CallMedia", component: int, now: float) -> None:
        self.media = media
        self.component = component
        self.socket: LocalSocket | None = None
        self.endpoint: Endpoint | None = None
        self.advertised_endpoint: Endpoint | None = None
        self.learned_endpoint: Endpoint | None = None
        self.filled = False
        self.confirmed = False
        self.received = False
        self.is_rtp = False
        self.is_rtcp = False
        self.fallback_rtcp = False
        self.implicit_rtcp = False
        self.strict_source = False
        self.media_handover = False
        self.zero_address = False
        self.learning = EndpointLearning.DELAYED
        self.rtp_sink: PacketStream | None = None
        self.rtcp_sink: PacketStream | None = None
        self.rtcp_sibling: PacketStream | None = None
        self.packets = 0
        self.bytes = 0
        self.errors = 0
        self.last_packet = now
        self.forwarding = True
        self.demux = False  # True when ICE/DTLS may arrive here: STUN and DTLS are not forwarded

    # -- the hot path ---------------------------------------------------------------------------
    def receive(self, data: bytes, source: Endpoint, now: float) -> None:
        """Handle one datagram received on this stream's socket from `source`."""
        self.packets += 1
        self.bytes += len(data)
        self.last_packet = now
        if source != self.endpoint or not self.confirmed:
            if not self._check_source(data, source, now):
                self.errors += 1
                return
        if not self.forwarding:
            return
        if self.demux and data and data[0] < 64:
            # RFC 7983: STUN (0-3) or DTLS (20-63), not media. They belong to the ICE agent and the DTLS
            # endpoint of this stream (ice.IceSeam, dtls.DtlsSeam), never to the other leg.
            handler = self.media.control_handler
            if handler is not None:
                handler(self, data, source)
            return
        sink = self.rtp_sink
        if self.is_rtcp and (not self.is_rtp or (len(data) >= 2 and 192 <= data[1] <= 223)):
            sink = self.rtcp_sink
        if sink is None:
            return
        destination = sink.endpoint
        out = sink.socket
        if destination is None or out is None or not sink.filled or destination[1] == 0:
            return
        try:
            out.sock.sendto(data, destination)
        except OSError:
            sink.errors += 1

    def _check_source(self, data: bytes, source: Endpoint, now: float) -> bool:
        """Endpoint learning (daemon/media_socket.c media_packet_address_check); False drops the packet."""
        if not self.filled:
            return True
        if self.confirmed:
            if self.media_handover:
                self.endpoint = source
                return True
            return not self.strict_source
        if self.is_rtp and is_rtcp_packet(data):
            return True  # stray RTCP on an RTP port is not used to learn the peer (rtpengine GH #697)
        self.received = True
        media = self.media
        if self.learning is EndpointLearning.OFF or media.flags & MediaFlag.ASYMMETRIC:
            self.confirmed = True
            return True
        use = source
        last_signal = media.monologue.call.last_signal
        waiting = now <= last_signal + LEARNING_DELAY_SECONDS
        if self.learning is EndpointLearning.IMMEDIATE:
            waiting = False
        elif self.learning is EndpointLearning.HEURISTIC and self.advertised_endpoint:
            use = self._heuristic_pick(source)
        if not waiting:
            self.confirmed = True
        if not waiting or self.learned_endpoint is None or use != self.learned_endpoint:
            self.endpoint = use
            self.learned_endpoint = use
        return True

    def _heuristic_pick(self, source: Endpoint) -> Endpoint:
        # Prefer, in order: the advertised address and port, the same address, the same port, anything.
        advertised = self.advertised_endpoint
        assert advertised is not None
        candidates = self.media.detected_endpoints.setdefault(self.component, [None] * 4)
        slot = (1 if source[1] != advertised[1] else 0) | (2 if source[0] != advertised[0] else 0)
        candidates[slot] = source
        return next(endpoint for endpoint in candidates if endpoint is not None)

    # -- state ----------------------------------------------------------------------------------
    @property
    def local_port(self) -> int:
        return self.socket.port if self.socket is not None else 0

    def fill(self, endpoint: Endpoint, learning: EndpointLearning | None, now: float,
             has_ice: bool, ice_unchanged: bool) -> None:
        """Set the peer's endpoint from signalling (rtpengine __fill_stream)."""
        self.last_packet = now
        if self.filled and self.advertised_endpoint == endpoint:
            return
        self.advertised_endpoint = endpoint
        if self.filled and has_ice and ice_unchanged:
            return
        if not has_ice:
            self.endpoint = endpoint
            self.confirmed = False
            self.learned_endpoint = None
        elif not self.filled:
            self.endpoint = endpoint
        if learning is not None:
            self.learning = learning
        self.filled = True


@dataclass(eq=False)
class EndpointMap:
    """A set of local ports for one media, keyed by the remote endpoint it was allocated for."""

    endpoint: Endpoint | None
    wildcard: bool
    num_ports: int
    interface: "LocalInterface"
    sockets: list["LocalSocket"] = field(default_factory=list)


@dataclass(eq=False)
class CallMedia:
    """One m= line of one monologue."""

    monologue: "Monologue"
    index: int
    type: str
    codecs: "CodecStore"
    protocol: str | None = None
    protocol_str: str = ""
    format_str: str = ""
    flags: int = 0
    media_id: str | None = None
    ptime: int = 0
    desired_family: str | None = None
    interface: "LocalInterface | None" = None
    streams: list[PacketStream] = field(default_factory=list)
    endpoint_maps: list[EndpointMap] = field(default_factory=list)
    # ICE/DTLS/SDES as received from this media's party and as we present them to it.
    ice_ufrag: str | None = None          # ours, generated once (None without an ICE agent)
    ice_pwd: str | None = None
    remote_ice_ufrag: str | None = None
    remote_ice_pwd: str | None = None
    remote_candidates: list[str] = field(default_factory=list)
    fingerprint: tuple[str, str] | None = None     # peer's (hash name, hex digest)
    fp_hash: str | None = None                     # hash we print in our a=fingerprint
    sdes_in: list[dict] = field(default_factory=list)
    sdes_out: list[dict] = field(default_factory=list)
    detected_endpoints: dict[int, list] = field(default_factory=dict)
    # Where STUN/DTLS datagrams go once ICE and DTLS act (a later issue); None: they are dropped.
    control_handler: Callable[["PacketStream", bytes, Endpoint], None] | None = None

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)

    def set(self, flag: int, on: bool = True) -> None:
        if on:
            self.flags |= flag
        else:
            self.flags &= ~flag

    def clear(self, flag: int) -> None:
        self.flags &= ~flag

    @property
    def call(self) -> "Call":
        return self.monologue.call

    def open_ports(self) -> list[int]:
        return [sock.port for em in self.endpoint_maps for sock in em.sockets]


@dataclass(eq=False)
class Monologue:
    """Half a dialogue: one SIP party (tag), its medias and its offer/answer partner."""

    call: "Call"
    unique_id: int = 0
    tag: str = ""
    via_branch: str = ""
    label: str = ""
    created: float = 0.0
    peer: "Monologue | None" = None
    # rtpengine's offer/answer subscriptions (who we receive from / who receives from us), kept for query
    subscriptions: list["Monologue"] = field(default_factory=list)
    subscribers: list["Monologue"] = field(default_factory=list)
    medias: list[CallMedia] = field(default_factory=list)
    other_tags: set[str] = field(default_factory=set)
    sdp_username: str | None = None
    sdp_session_name: str | None = None
    sdp_version: int = 0
    last_out_sdp: bytes | None = None
    deleted_at: float = 0.0
    stopped: bool = False
    interface: "LocalInterface | None" = None

    def media_by_index(self, index: int) -> CallMedia | None:
        for media in self.medias:
            if media.index == index:
                return media
        return None


@dataclass(eq=False)
class Call:
    """Everything known about one Call-ID."""

    call_id: str
    created: float
    last_signal: float
    monologues: list[Monologue] = field(default_factory=list)
    tags: dict[str, Monologue] = field(default_factory=dict)
    branches: dict[str, Monologue] = field(default_factory=dict)
    deleted_at: float = 0.0           # delete-delay expiry of the whole call (0 = not pending)
    ml_deleted_at: float = 0.0        # earliest pending monologue deletion
    destroyed: bool = False
    monologues_created: int = 0

    def new_monologue(self, now: float) -> Monologue:
        monologue = Monologue(call=self, created=now, unique_id=self.monologues_created)
        self.monologues_created += 1
        self.monologues.append(monologue)
        return monologue

    def set_tag(self, monologue: Monologue, tag: str) -> None:
        if monologue.tag and self.tags.get(monologue.tag) is monologue:
            del self.tags[monologue.tag]
        monologue.tag = tag
        self.tags[tag] = monologue

    def set_via_branch(self, monologue: Monologue, branch: str | None) -> None:
        if not branch:
            return
        if monologue.via_branch and self.branches.get(monologue.via_branch) is monologue:
            del self.branches[monologue.via_branch]
        monologue.via_branch = branch
        self.branches[branch] = monologue

    def streams(self):
        for monologue in self.monologues:
            for media in monologue.medias:
                yield from media.streams


def pair(a: Monologue, b: Monologue) -> None:
    """Make `a` and `b` each other's offer/answer partner (rtpengine __subscribe_offer_answer_both_ways:
    whoever received from `a` or `b` stops, then each subscribes to the other)."""
    for one in (a, b):
        for subscriber in list(one.subscribers):
            unsubscribe(subscriber, one)
    for which, to in ((a, b), (b, a)):
        if to not in which.subscriptions:
            which.subscriptions.insert(0, to)
            to.subscribers.insert(0, which)
    for one, other in ((a, b), (b, a)):
        old = one.peer
        if old is not None and old is not other and old.peer is one:
            old.peer = None
        one.peer = other
    if a.tag and b.tag:
        a.other_tags.add(b.tag)
        b.other_tags.add(a.tag)


def unsubscribe(which: Monologue, source: Monologue) -> None:
    """`which` no longer receives from `source`."""
    if source in which.subscriptions:
        which.subscriptions.remove(source)
    if which in source.subscribers:
        source.subscribers.remove(which)

