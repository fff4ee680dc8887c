"""User agents around a B2BUA on the virtual network.

`UA` plays one SIP endpoint: as a callee it answers a new INVITE (180, then its `answer` status with its SDP);
inside a dialog it answers requests with 200 (or what `answers` says; a re-INVITE's 200 carries its SDP
unless the re-INVITE had none and `offer_in_200` is set, which it is by default); as a caller it ACKs the
2xx of its INVITEs. It keeps one dialog, learnt from what it sends and receives (RFC 3261 §12), and sends
requests in it towards the B2BUA.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from opensips_py.runtime.virtual import sip
from opensips_py.sip import parse_message
from tests.runtime.support import HEAD, Proxy

PROXY = ("192.0.2.1", 5060)
ALICE = ("192.0.2.10", 5060)
BOB = ("192.0.2.20", 5060)
CAROL = ("192.0.2.30", 5060)
MEDIA = ("192.0.2.40", 5060)

B2B_HEAD = HEAD + """loadmodule "tm.so"
loadmodule "sipmsgops.so"
loadmodule "b2b_entities.so"
loadmodule "b2b_logic.so"
"""


def sdp(host: str, port: int = 6000) -> str:
    return (f"v=0\no=- 1 1 IN IP4 {host}\ns=-\nc=IN IP4 {host}\nt=0 0\nm=audio {port} RTP/AVP 0\n"
            "a=rtpmap:0 PCMU/8000\n")


_branches = itertools.count(1)


@dataclass
class UA:
    name: str
    address: tuple[str, int]
    answer: int = 200                      # final status for a new INVITE (0: only 180)
    answers: dict[str, int] = field(default_factory=dict)  # method -> status inside the dialog
    received: list = field(default_factory=list)
    call_id: str = ""
    local_tag: str = ""
    remote_tag: str = ""
    local_uri: str = ""
    remote_uri: str = ""
    remote_target: str = ""
    cseq: int = 0
    last_invite_cseq: int = 0
    proxy: Proxy | None = None
    sent_invite: bytes = b""

    @property
    def contact(self) -> str:
        return f"sip:{self.name}@{self.address[0]}:{self.address[1]}"

    @property
    def body(self) -> str:
        return sdp(self.address[0])

    def attach(self, proxy: Proxy) -> "UA":
        self.proxy = proxy
        proxy.net.attach(*self.address, self.handle)
        return self

    # ---------------------------------------------------------------------------------- what it receives
    def requests(self, method: str | None = None) -> list:
        return [m for m in self.received if m.is_request and (method is None or m.method == method)]

    def replies(self, status: int | None = None, method: str | None = None) -> list:
        return [m for m in self.received if not m.is_request and (status is None or m.status == status)
                and (method is None or m.cseq.method == method)]

    def handle(self, data: bytes, src) -> list[bytes]:
        msg = parse_message(data)
        self.received.append(msg)
        if not msg.is_request:
            if msg.cseq.method == "INVITE" and 200 <= msg.status < 300:
                if not self.remote_tag:
                    self.remote_tag = msg.to.tag
                    self.remote_target = msg.contacts[0].uri_text
                return [self._ack(msg.cseq.number)]
            return []
        if msg.method == "INVITE" and not msg.to.tag:
            self.call_id, self.remote_tag, self.local_tag = msg.call_id, msg.from_.tag, f"{self.name}-tag"
            self.local_uri, self.remote_uri = msg.header("to"), _no_tag(msg.header("from"))
            self.remote_target = msg.contacts[0].uri_text
            out = [self._reply(msg, 180, "Ringing")]
            if self.answer:
                out.append(self._reply(msg, self.answer, "OK" if self.answer < 300 else "Busy Here",
                                       with_sdp=self.answer < 300))
            return out
        if msg.method == "ACK":
            return []
        code = self.answers.get(msg.method, 200)
        if code == 0:
            return []
        return [self._reply(msg, code, "OK" if code < 300 else "Failed",
                            with_sdp=msg.method == "INVITE" and code < 300)]

    def _reply(self, msg, code: int, reason: str, with_sdp: bool = False) -> bytes:
        to = msg.header("to")
        if ";tag=" not in to:
            to += f";tag={self.local_tag}"
        lines = [f"SIP/2.0 {code} {reason}"] + [f"Via: {v}" for v in msg.header_values("via")]
        lines += [f"To: {to}", f"From: {msg.header('from')}", f"Call-ID: {msg.call_id}",
                  f"CSeq: {msg.header('cseq')}", f"Contact: <{self.contact}>"]
        return _finish(lines, self.body if with_sdp else "")

    # ---------------------------------------------------------------------------------- what it sends
    def invite(self, ruri: str, call_id: str = "call-1@192.0.2.10", body: str | None = None) -> list:
        self.call_id, self.local_tag = call_id, f"{self.name}-tag"
        self.local_uri, self.remote_uri = f"<sip:{self.name}@example.com>", f"<{ruri}>"
        self.cseq = self.last_invite_cseq = 1
        lines = [f"INVITE {ruri} SIP/2.0", f"Via: SIP/2.0/UDP {self._via()}", "Max-Forwards: 70",
                 f"From: {self.local_uri};tag={self.local_tag}", f"To: {self.remote_uri}", f"Call-ID: {call_id}",
                 "CSeq: 1 INVITE", f"Contact: <{self.contact}>", "Supported: timer"]
        self.sent_invite = _finish(lines, self.body if body is None else body)
        return self.proxy.send(self.sent_invite, self.address)

    def request(self, method: str, body: str = "", extra: list[str] | None = None) -> list:
        """A request inside the dialog (ACK: of the last INVITE)."""
        if method == "ACK":
            number = self.last_invite_cseq
        else:
            self.cseq += 1
            number = self.cseq
            if method == "INVITE":
                self.last_invite_cseq = number
        lines = [f"{method} {self.remote_target} SIP/2.0", f"Via: SIP/2.0/UDP {self._via()}", "Max-Forwards: 70",
                 f"From: {self.local_uri};tag={self.local_tag}", f"To: {self.remote_uri};tag={self.remote_tag}",
                 f"Call-ID: {self.call_id}", f"CSeq: {number} {method}", f"Contact: <{self.contact}>"]
        lines += extra or []
        return self.proxy.send(_finish(lines, body), self.address)

    def _ack(self, number: int) -> bytes:
        lines = [f"ACK {self.remote_target} SIP/2.0", f"Via: SIP/2.0/UDP {self._via()}", "Max-Forwards: 70",
                 f"From: {self.local_uri};tag={self.local_tag}", f"To: {self.remote_uri};tag={self.remote_tag}",
                 f"Call-ID: {self.call_id}", f"CSeq: {number} ACK"]
        return _finish(lines, "")

    def _via(self) -> str:
        return f"{self.address[0]}:{self.address[1]};branch=z9hG4bK{self.name}{next(_branches)}"


def _finish(lines: list[str], body: str) -> bytes:
    if body:
        lines = lines + ["Content-Type: application/sdp"]
    wire = body.replace("\r\n", "\n").replace("\n", "\r\n")
    return sip("\n".join(lines + [f"Content-Length: {len(wire.encode())}"]) + "\n\n" + body)


def _no_tag(value: str) -> str:
    return value.split(";tag=")[0]


def b2b_proxy(script: str, params: str = "") -> Proxy:
    return Proxy(params + script, head=B2B_HEAD)
