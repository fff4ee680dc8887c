"""The relay's control plane: one ng datagram in, at most one reply out, and the timer pass.

`MediaRelay.handle_datagram` is everything the ng port does: split cookie and document, answer a
retransmitted cookie from the reply cache, decode, dispatch the command, encode the reply. Nothing that
arrives on the port can raise out of it: bad input gets rtpengine's error reply (or silence when there is
no cookie to answer), and an unexpected failure inside a command is logged and answered as an error, so
the relay keeps serving. `tick` runs once a second for timeouts and delete-delay expiry.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from opensips_py.media import ng
from opensips_py.media.dtls import DtlsCertificate, generate_certificate
from opensips_py.media.flags import Op, parse_flags
from opensips_py.media.interfaces import InterfaceTable
from opensips_py.media.ng import NgError, NgRequest
from opensips_py.media.offer_answer import (
    RelayContext, destroy_call, destroy_monologue, get_dialogue, offer_answer, stop_monologue,
)
from opensips_py.media.ports import DEFAULT_PORT_MAX, DEFAULT_PORT_MIN, PortsExhausted
from opensips_py.media.relay import SocketLayer
from opensips_py.media.sdp_in import SdpError, parse_sdp, stream_params
from opensips_py.media.sdp_out import OutputContext, rewrite_sdp
from opensips_py.media.session import Call, EndpointLearning, MediaFlag as F
from opensips_py.media.stats import RelayStatistics, call_stats

log = logging.getLogger("opensips_py.media")

# Commands rtpengine knows but this relay does not carry out yet: answered with an error, never ignored.
NOT_IMPLEMENTED = frozenset({
    "start recording", "stop recording", "pause recording", "start forwarding", "stop forwarding",
    "block DTMF", "unblock DTMF", "block media", "unblock media", "silence media", "unsilence media",
    "play media", "stop media", "play DTMF", "publish", "subscribe request", "subscribe answer",
    "unsubscribe", "inject start", "inject stop", "connect", "create", "create answer", "mesh", "transform",
})


@dataclass
class RelayConfig:
    """The relay's settings, named after rtpengine's options."""

    interfaces: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    port_min: int = DEFAULT_PORT_MIN
    port_max: int = DEFAULT_PORT_MAX
    timeout: int = 60
    silent_timeout: int = 3600
    offer_timeout: int = 3600
    final_timeout: int = 0
    delete_delay: int = 30
    endpoint_learning: EndpointLearning = EndpointLearning.DELAYED


class MediaRelay:
    """Calls, ports and counters of one relay process, driven by ng datagrams and a 1 s timer."""

    def __init__(self, config: RelayConfig, sockets: SocketLayer | None = None,
                 clock: Callable[[], float] = time.time, certificate: DtlsCertificate | None = None) -> None:
        self.config = config
        self.clock = clock
        self.sockets = sockets or SocketLayer(None)
        self.interfaces = InterfaceTable(config.interfaces, config.port_min, config.port_max)
        self.ctx = RelayContext(self.interfaces, self.sockets, certificate or generate_certificate(), clock)
        self.instance_id = secrets.token_hex(6)
        self.calls: dict[str, Call] = {}
        self.cache = ng.ReplyCache()
        self.stats = RelayStatistics(started=clock())
        self._warned: set[str] = set()

    # -- the ng port -----------------------------------------------------------------------------------
    def handle_datagram(self, datagram: bytes, source: tuple[str, int]) -> bytes | None:
        """The reply to one ng datagram, or None to stay silent."""
        packet = ng.split_packet(datagram)
        if packet is None:
            self._warn_once("no-cookie", f"ng datagram without cookie from {source[0]}:{source[1]}")
            return None
        now = self.clock()
        cached = self.cache.lookup(packet.cookie, now)
        if cached is not None:
            return cached
        as_json = packet.document[:1] == b"{"
        proxy = source[0]
        started = time.perf_counter()
        command = None
        try:
            raw, as_json = ng.decode_document(packet.document)
            request = NgRequest(raw)
            command = request.str("command")
            if command is None:
                raise NgError('Dictionary contains no key "command"')
            reply = self.dispatch(command, request, now)
            reply["result"] = "pong" if command == "ping" else "ok"
        except NgError as error:
            reply = ng.error_reply(error.reason)
            self.stats.count_error(proxy)
        except Exception:  # a bug in a command must not take the relay down
            log.exception("ng command %r failed", command)
            reply = ng.error_reply("Internal error")
            self.stats.count_error(proxy)
        if command in ("ping", "offer", "answer", "delete", "query", "list", "statistics"):
            self.stats.count_command(proxy, command, time.perf_counter() - started)
        try:
            encoded = ng.encode_reply(packet.cookie, reply, as_json)
        except (TypeError, ValueError):
            log.exception("ng reply could not be encoded")
            encoded = ng.encode_reply(packet.cookie, ng.error_reply("Internal error"), as_json)
        self.cache.store(packet.cookie, encoded, now)
        return encoded

    def dispatch(self, command: str, request: NgRequest, now: float) -> dict[str, Any]:
        if command == "ping":
            return {}
        if command == "offer":
            return self.offer_answer(request, Op.OFFER, now)
        if command == "answer":
            return self.offer_answer(request, Op.ANSWER, now)
        if command == "delete":
            return self.delete(request, now)
        if command == "query":
            return self.query(request)
        if command == "list":
            return self.list_calls(request)
        if command == "statistics":
            return {"statistics": self.stats.as_dict(self.calls, now)}
        if command in NOT_IMPLEMENTED:
            raise NgError(f"Unsupported command '{command}'")
        raise NgError("Unrecognized command")

    # -- commands ----------------------------------------------------------------------------------------
    def offer_answer(self, request: NgRequest, opmode: Op, now: float) -> dict[str, Any]:
        flags = parse_flags(request, opmode, self.config.endpoint_learning)
        for ignored in flags.ignored:
            self._warn_once(ignored, f"ignoring unknown {ignored}")
        if flags.sdp is None:
            raise NgError("No SDP body in message")
        if flags.call_id is None:
            raise NgError("No call-id in message")
        if flags.from_tag is None:
            raise NgError("No from-tag in message")
        if opmode is Op.ANSWER:
            if flags.to_tag is None:
                raise NgError("No to-tag in message")
            flags.from_tag, flags.to_tag = flags.to_tag, flags.from_tag
        try:
            parsed = parse_sdp(flags.sdp)
        except SdpError as error:
            raise NgError(error.reason) from None
        if flags.loop_protect and any(
                item.name == "rtpengine" and item.value == self.instance_id for item in parsed.attrs):
            return {"sdp": flags.sdp}
        try:
            streams = stream_params(parsed, flags)
        except SdpError as error:
            raise NgError(error.reason) from None
        call = self.calls.get(flags.call_id)
        if call is None:
            if opmode is not Op.OFFER:
                raise NgError("Unknown call-id")
            call = Call(flags.call_id, created=now, last_signal=now)
            self.calls[flags.call_id] = call
            self.stats.managed_sessions += 1
        sender, recipient = get_dialogue(call, flags.from_tag, flags.to_tag, flags.via_branch, now)
        try:
            offer_answer(sender, recipient, streams, flags, self.ctx)
        except PortsExhausted:
            self._destroy(call, now)
            raise NgError("Ran out of ports") from None
        try:
            body = rewrite_sdp(parsed, recipient, flags,
                               OutputContext(self.ctx.certificate, self.instance_id,
                                             secrets.randbits(31) + 1))
        except (ValueError, IndexError, AssertionError):
            log.exception("rewriting SDP failed")
            raise NgError("Error rewriting SDP") from None
        return {"sdp": body}

    def delete(self, request: NgRequest, now: float) -> dict[str, Any]:
        call_id = request.str("call-id")
        if call_id is None:
            raise NgError("No call-id in message")
        from_tag = request.str("from-tag") or ""
        to_tag = request.str("to-tag") or ""
        via_branch = request.str("via-branch") or ""
        fatal = "fatal" in request.list("flags")
        delay = request.int("delete-delay", "delete delay")
        if delay is None or delay < 0:
            delay = self.config.delete_delay
        reply: dict[str, Any] = {}
        call = self.calls.get(call_id)
        monologue = None
        if call is not None and from_tag:
            if not to_tag and via_branch:
                monologue = call.branches.get(via_branch)
            if monologue is None:
                match = to_tag or from_tag
                monologue = call.tags.get(match)
                if monologue is None and via_branch:
                    monologue = call.branches.get(via_branch)
                if monologue is None and to_tag:
                    candidate = call.tags.get(from_tag)
                    if candidate is not None and candidate.peer is not None and not candidate.peer.tag:
                        monologue = candidate
            if monologue is None:
                call = None
        if call is None:
            if fatal:
                raise NgError("Call-ID not found or tags didn't match")
            reply["warning"] = "Call-ID not found or tags didn't match"
            return reply
        if monologue is None:
            for each in call.monologues:
                stop_monologue(each)
            if delay > 0:
                call.deleted_at = now + delay
            else:
                self._destroy(call, now)
            self.stats.regular_terminated_sessions += 1
            return reply
        reply.update(call_stats(call, from_tag, to_tag))
        stop_monologue(monologue)
        if monologue.peer is not None:
            stop_monologue(monologue.peer)
        if delay > 0:
            monologue.deleted_at = now + delay
            if not call.ml_deleted_at or call.ml_deleted_at > monologue.deleted_at:
                call.ml_deleted_at = monologue.deleted_at
        elif destroy_monologue(call, monologue):
            self._destroy(call, now)
            self.stats.regular_terminated_sessions += 1
        return reply

    def query(self, request: NgRequest) -> dict[str, Any]:
        call_id = request.str("call-id")
        if call_id is None:
            raise NgError("No call-id in message")
        call = self.calls.get(call_id)
        if call is None:
            raise NgError("Unknown call-id")
        return call_stats(call, request.str("from-tag"), request.str("to-tag"))

    def list_calls(self, request: NgRequest) -> dict[str, Any]:
        limit = request.int("limit")
        if limit is None:
            limit = 32
        if limit < 0:
            raise NgError("invalid limit, must be >= 0")
        return {"calls": list(self.calls)[:limit]}

    # -- time -------------------------------------------------------------------------------------------
    def tick(self) -> None:
        """The once-a-second pass: final timeout, delete-delay expiry, media timeouts."""
        now = self.clock()
        config = self.config
        for call in list(self.calls.values()):
            if config.final_timeout and now >= call.created + config.final_timeout:
                self.stats.final_timeout_sessions += 1
                self._destroy(call, now)
                continue
            if call.deleted_at and now >= call.deleted_at and call.last_signal <= call.deleted_at:
                self._destroy(call, now)
                continue
            if call.ml_deleted_at and now >= call.ml_deleted_at:
                if self._expire_monologues(call, now):
                    self._destroy(call, now)
                    self.stats.regular_terminated_sessions += 1
                    continue
            if call.ml_deleted_at or call.deleted_at:
                continue
            reason = self._timed_out(call, now)
            if reason is not None:
                setattr(self.stats, reason, getattr(self.stats, reason) + 1)
                log.info("closing call %s: %s", call.call_id, reason)
                self._destroy(call, now)

    def _timed_out(self, call: Call, now: float) -> str | None:
        reason = None
        any_stream = False
        for ps in call.streams():
            any_stream = True
            media = ps.media
            if ps.socket is None or not media.has(F.RECV):
                limit, kind = self.config.silent_timeout, "silent_timeout_sessions"
            elif not ps.filled:
                limit, kind = self.config.offer_timeout, "offer_timeout_sessions"
            else:
                limit, kind = self.config.timeout, "timeout_sessions"
            if now - ps.last_packet < limit:
                return None
            reason = kind
        return reason if any_stream else None

    def _expire_monologues(self, call: Call, now: float) -> bool:
        earliest = 0.0
        for monologue in list(call.monologues):
            if monologue.deleted_at and now >= monologue.deleted_at:
                if destroy_monologue(call, monologue):
                    return True
            elif monologue.deleted_at and (not earliest or monologue.deleted_at < earliest):
                earliest = monologue.deleted_at
        call.ml_deleted_at = earliest
        return False

    def _destroy(self, call: Call, now: float) -> None:
        if self.calls.get(call.call_id) is call:
            del self.calls[call.call_id]
        self.stats.call_ended(call, now)
        destroy_call(call)

    def close(self) -> None:
        now = self.clock()
        for call in list(self.calls.values()):
            self._destroy(call, now)
        self.sockets.close_all()

    # -- helpers -----------------------------------------------------------------------------------------
    def ports_in_use(self) -> int:
        return sum(pool.in_use() for pool in self.interfaces.pools())

    def _warn_once(self, key: str, message: str) -> None:
        if key in self._warned:
            return
        if len(self._warned) < 1000:
            self._warned.add(key)
        log.warning(message)
