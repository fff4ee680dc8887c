"""The statistics the ng protocol returns: per call (query, delete) and per relay (statistics).

Shapes follow rtpengine 10.5 (daemon/call_interfaces.c ng_call_stats, daemon/statistics.c): a query
reply has ``created``, ``last signal``, ``SSRC``, ``tags`` (monologue → medias → streams with local
port, endpoint, flags and packet/byte/error counters) and ``totals`` split into RTP and RTCP; OpenSIPS
reads ``totals`` for $rtpstat.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from opensips_py.media.session import Call, CallMedia, Endpoint, MediaFlag as F, Monologue, PacketStream

MAX_PROXIES = 256

COMMANDS = ("ping", "offer", "answer", "delete", "query", "list", "statistics")

# rtpengine's short names in controlstatistics (daemon/control_ng.c ng_command_strings_short).
_SHORT = {"ping": "ping", "offer": "offer", "answer": "answer", "delete": "delete", "query": "query",
          "list": "list", "statistics": "stats"}

_MEDIA_FLAG_NAMES = (
    ("initialized", F.INITIALIZED), ("asymmetric", F.ASYMMETRIC), ("send", F.SEND), ("recv", F.RECV),
    ("rtcp-mux", F.RTCP_MUX), ("DTLS-SRTP", F.DTLS), ("DTLS role active", F.SETUP_ACTIVE),
    ("DTLS role passive", F.SETUP_PASSIVE), ("SDES", F.SDES), ("passthrough", F.PASSTHRU), ("ICE", F.ICE),
    ("trickle ICE", F.TRICKLE_ICE), ("ICE controlling", F.ICE_CONTROLLING),
    ("ICE-lite peer", F.ICE_LITE_PEER), ("unidirectional", F.UNIDIRECTIONAL),
    ("loop check", F.LOOP_CHECK), ("transcoding", F.TRANSCODE), ("generator/sink", F.GENERATOR),
)


def _endpoint(endpoint: Endpoint | None) -> dict[str, Any]:
    if endpoint is None:
        return {}
    family = "IPv6" if ":" in endpoint[0] else "IPv4"
    return {"family": family, "address": endpoint[0], "port": endpoint[1]}


@dataclass
class Totals:
    rtp: list[int] = field(default_factory=lambda: [0, 0, 0])
    rtcp: list[int] = field(default_factory=lambda: [0, 0, 0])

    def add(self, ps: PacketStream) -> None:
        target = self.rtp if ps.is_rtp else self.rtcp
        target[0] += ps.packets
        target[1] += ps.bytes
        target[2] += ps.errors

    def as_dict(self) -> dict[str, Any]:
        return {"RTP": {"packets": self.rtp[0], "bytes": self.rtp[1], "errors": self.rtp[2]},
                "RTCP": {"packets": self.rtcp[0], "bytes": self.rtcp[1], "errors": self.rtcp[2]}}


def stream_stats(ps: PacketStream, totals: Totals) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if ps.socket is not None:
        entry["local port"] = ps.socket.port
        entry["local address"] = ps.socket.address
        entry["family"] = "IPv6" if ":" in ps.socket.address else "IPv4"
    elif ps.media.interface is not None and ps.media.streams[0].socket is not None:
        # rtpengine shows the RTCP stream of a muxed media on a placeholder socket with port 0
        entry["local port"] = 0
        entry["local address"] = ps.media.interface.address
        entry["family"] = "IPv6" if ":" in ps.media.interface.address else "IPv4"
    entry["endpoint"] = _endpoint(ps.endpoint)
    entry["advertised endpoint"] = _endpoint(ps.advertised_endpoint)
    entry["last packet"] = int(ps.last_packet)
    flags = []
    for name, on in (("RTP", ps.is_rtp), ("RTCP", ps.is_rtcp), ("fallback RTCP", ps.fallback_rtcp),
                     ("filled", ps.filled), ("confirmed", ps.confirmed),
                     ("strict source address", ps.strict_source), ("media handover", ps.media_handover),
                     ("ICE", ps.media.has(F.ICE))):
        if on:
            flags.append(name)
    entry["flags"] = flags
    entry["stats"] = {"packets": ps.packets, "bytes": ps.bytes, "errors": ps.errors}
    totals.add(ps)
    return entry


def media_stats(media: CallMedia, totals: Totals) -> dict[str, Any]:
    entry: dict[str, Any] = {"index": media.index, "type": media.type}
    if media.protocol:
        entry["protocol"] = media.protocol
    entry["streams"] = [stream_stats(ps, totals) for ps in media.streams]
    entry["flags"] = [name for name, flag in _MEDIA_FLAG_NAMES if media.has(flag)]
    return entry


def monologue_stats(monologue: Monologue, totals: Totals) -> dict[str, Any]:
    entry: dict[str, Any] = {"tag": monologue.tag}
    if monologue.via_branch:
        entry["via-branch"] = monologue.via_branch
    if monologue.label:
        entry["label"] = monologue.label
    entry["created"] = int(monologue.created)
    entry["subscriptions"] = [{"tag": m.tag, "type": "offer/answer"} for m in monologue.subscriptions]
    entry["subscribers"] = [{"tag": m.tag, "type": "offer/answer"} for m in monologue.subscribers]
    entry["medias"] = [media_stats(media, totals) for media in monologue.medias]
    return entry


def call_stats(call: Call, from_tag: str | None = None, to_tag: str | None = None) -> dict[str, Any]:
    """The query reply body for a call (only the tag's monologue and its partner when a tag is given)."""
    totals = Totals()
    tags: dict[str, Any] = {}
    match = to_tag or from_tag
    if match:
        monologue = call.tags.get(match)
        selected = [monologue] if monologue is not None else []
        if monologue is not None:
            selected += [m for m in monologue.subscriptions if m is not monologue]
    else:
        selected = list(call.monologues)
    for monologue in selected:
        key = monologue.tag or f"<untagged {monologue.unique_id}>"
        tags[key] = monologue_stats(monologue, totals)
    return {
        "created": int(call.created),
        "created_us": int((call.created % 1) * 1_000_000),
        "last signal": int(call.last_signal),
        "SSRC": {},
        "tags": tags,
        "totals": totals.as_dict(),
    }


@dataclass
class CommandCounter:
    count: int = 0
    duration: float = 0.0


@dataclass
class RelayStatistics:
    """Counters for the statistics command and for timeouts and terminations."""

    started: float = field(default_factory=time.time)
    managed_sessions: int = 0
    rejected_sessions: int = 0
    timeout_sessions: int = 0
    silent_timeout_sessions: int = 0
    final_timeout_sessions: int = 0
    offer_timeout_sessions: int = 0
    regular_terminated_sessions: int = 0
    forced_terminated_sessions: int = 0
    relayed_packets: int = 0
    relayed_bytes: int = 0
    relayed_errors: int = 0
    call_durations: float = 0.0
    ended_calls: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    commands: dict[str, dict[str, CommandCounter]] = field(default_factory=dict)

    def _proxy_key(self, proxy: str) -> str:
        # Per-proxy counters are keyed by source address: bounded, so spoofed sources cannot grow them.
        if proxy in self.commands or len(self.commands) < MAX_PROXIES:
            return proxy
        return "other"

    def count_command(self, proxy: str, command: str, duration: float) -> None:
        per_proxy = self.commands.setdefault(self._proxy_key(proxy), {})
        counter = per_proxy.setdefault(command, CommandCounter())
        counter.count += 1
        counter.duration += duration

    def count_error(self, proxy: str) -> None:
        key = proxy if proxy in self.errors or len(self.errors) < MAX_PROXIES else "other"
        self.errors[key] = self.errors.get(key, 0) + 1

    def call_ended(self, call: Call, now: float) -> None:
        totals = Totals()
        for ps in call.streams():
            totals.add(ps)
        self.relayed_packets += totals.rtp[0] + totals.rtcp[0]
        self.relayed_bytes += totals.rtp[1] + totals.rtcp[1]
        self.relayed_errors += totals.rtp[2] + totals.rtcp[2]
        self.call_durations += max(0.0, now - call.created)
        self.ended_calls += 1

    def as_dict(self, calls: dict[str, Call], now: float) -> dict[str, Any]:
        live = Totals()
        transcoded = 0
        for call in calls.values():
            for monologue in call.monologues:
                for media in monologue.medias:
                    if media.has(F.TRANSCODE):
                        transcoded += 1
                    for ps in media.streams:
                        live.add(ps)
        packets = self.relayed_packets + live.rtp[0] + live.rtcp[0]
        byte_count = self.relayed_bytes + live.rtp[1] + live.rtcp[1]
        errors = self.relayed_errors + live.rtp[2] + live.rtcp[2]
        average = self.call_durations / self.ended_calls if self.ended_calls else 0.0
        proxies = []
        totals: dict[str, int] = {f"total{_SHORT[c]}count": 0 for c in COMMANDS}
        for proxy in list(self.commands) + [p for p in self.errors if p not in self.commands]:
            per_command = self.commands.get(proxy, {})
            entry: dict[str, Any] = {"proxy": proxy}
            for command in COMMANDS:
                counter = per_command.get(command, CommandCounter())
                entry[f"{_SHORT[command]}count"] = counter.count
                entry[f"{_SHORT[command]}duration"] = f"{counter.duration:.6f}"
                totals[f"total{_SHORT[command]}count"] += counter.count
            entry["errorcount"] = self.errors.get(proxy, 0)
            proxies.append(entry)
        return {
            "currentstatistics": {
                "sessionsown": len(calls), "sessionsforeign": 0, "sessionstotal": len(calls),
                "transcodedmedia": transcoded, "packetrate": 0, "byterate": 0, "errorrate": 0,
            },
            "totalstatistics": {
                "uptime": str(int(now - self.started)),
                "managedsessions": self.managed_sessions,
                "rejectedsessions": self.rejected_sessions,
                "timeoutsessions": self.timeout_sessions,
                "silenttimeoutsessions": self.silent_timeout_sessions,
                "finaltimeoutsessions": self.final_timeout_sessions,
                "offertimeoutsessions": self.offer_timeout_sessions,
                "regularterminatedsessions": self.regular_terminated_sessions,
                "forcedterminatedsessions": self.forced_terminated_sessions,
                "relayedpackets": packets, "relayedpacketerrors": errors, "relayedbytes": byte_count,
                "zerowaystreams": 0, "onewaystreams": 0,
                "avgcallduration": f"{average:.6f}",
            },
            "intervalstatistics": {},
            "controlstatistics": {"proxies": proxies, **totals},
        }
