"""A caller and a callee around a proxy on the virtual network, for dialog and record-route tests.

`Call` plays both user agents as RFC 3261 §12 wants them: the callee answers the INVITE with the request's
Record-Routes copied into its replies and keeps them (in order) as its route set; the caller keeps the
2xx's Record-Routes in reverse order; each then sends in-dialog requests to the other's Contact through its
route set (loose routing: the Route headers, the first hop from the first Route). Both answer in-dialog
requests the proxy sends them (BYE, OPTIONS, re-INVITE) with 200, unless told otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from opensips_py.modules.dialog import model
from opensips_py.modules.dialog.model import Leg
from opensips_py.sip import Request, parse_message
from tests.runtime.support import HEAD, Proxy
from opensips_py.runtime.virtual import sip

CALLER = ("192.0.2.10", 5060)
CALLEE = ("192.0.2.20", 5060)

DIALOG_HEAD = HEAD + """loadmodule "tm.so"
loadmodule "sipmsgops.so"
loadmodule "rr.so"
loadmodule "dialog.so"
"""

ROUTING = """route {
\tif (has_totag()) {
\t\tif (is_method("ACK") && t_check_trans()) { t_relay(); exit; }
\t\tif (!loose_route() && !match_dialog()) { send_reply(404, "Not here"); exit; }
\t\troute(in_dialog);
\t\tt_relay();
\t\texit;
\t}
\tif (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }
\troute(initial);
\trecord_route();
\t$du = "sip:192.0.2.20:5060";
\tif (!t_relay()) send_reply(500, "Internal Error");
}
"""


def proxy(initial: str = "\tcreate_dialog();", params: str = "", in_dialog: str = "", extra_routes: str = "",
          head: str = DIALOG_HEAD) -> Proxy:
    """A record-routing stateful proxy: `initial` runs for the INVITE before record_route()/t_relay(),
    `in_dialog` for sequential requests after loose_route()."""
    script = (params + ROUTING + f"route[initial] {{\n{initial}\n}}\n"
              + f"route[in_dialog] {{\n{in_dialog or '    $var(x) = 0;'}\n}}\n" + extra_routes)
    return Proxy(script, head=head)


def _reply(msg: Request, code: int, reason: str, tag: str | None, contact: str, extra: list[str] = ()) -> bytes:
    lines = [f"SIP/2.0 {code} {reason}"] + [f"Via: {v}" for v in msg.header_values("via")]
    lines += [f"Record-Route: {r}" for r in msg.header_values("record-route")]
    to = msg.header("to")
    if tag and ";tag=" not in to:
        to += f";tag={tag}"
    lines += [f"To: {to}", f"From: {msg.header('from')}", f"Call-ID: {msg.call_id}", f"CSeq: {msg.header('cseq')}",
              f"Contact: <{contact}>", *extra, "Content-Length: 0"]
    return sip("\n".join(lines) + "\n\n")


@dataclass
class Agent:
    """One user agent of the call: what it received, its dialog state, how it answers."""

    name: str
    address: tuple[str, int]
    tag: str
    received: list = field(default_factory=list)
    route_set: list[str] = field(default_factory=list)
    remote_target: str = ""
    cseq: int = 0
    answers: dict[str, int] = field(default_factory=dict)  # method -> status for requests we receive

    @property
    def contact(self) -> str:
        return f"sip:{self.name}@{self.address[0]}:{self.address[1]}"

    def requests(self, method: str | None = None) -> list[Request]:
        return [m for m in self.received if m.is_request and (method is None or m.method == method)]


class Call:
    """An INVITE dialog between a caller at 192.0.2.10 and a callee at 192.0.2.20 through `proxy`."""

    def __init__(self, proxy: Proxy, call_id: str = "call-1@192.0.2.10", *, ring: bool = True,
                 answer: int = 200) -> None:
        self.proxy = proxy
        self.call_id = call_id
        self.caller = Agent("alice", CALLER, "a-tag")
        self.callee = Agent("bob", CALLEE, "b-tag")
        self.ring = ring
        self.answer = answer
        self.caller.cseq = 1
        self.pending_invite = None
        proxy.net.attach(*CALLER, self._caller_side)
        proxy.net.attach(*CALLEE, self._callee_side)

    # ---------------------------------------------------------------------------------- peers
    def _caller_side(self, data: bytes, src) -> list[bytes]:
        msg = parse_message(data)
        self.caller.received.append(msg)
        if msg.is_request:
            return self._answer_in_dialog(self.caller, msg)
        if msg.status >= 200 and msg.cseq.method == "INVITE" and 200 <= msg.status < 300 and not self.caller.route_set:
            self.caller.route_set = [r.raw for r in reversed(msg.record_route)]
            self.caller.remote_target = msg.contacts[0].uri_text if msg.contacts else ""
        return []

    def _callee_side(self, data: bytes, src) -> list[bytes]:
        msg = parse_message(data)
        self.callee.received.append(msg)
        if not msg.is_request:
            return []
        if msg.method == "INVITE" and not msg.to.tag:
            self.pending_invite = msg
            self.callee.route_set = [r.raw for r in msg.record_route]
            self.callee.remote_target = msg.contacts[0].uri_text if msg.contacts else ""
            out = []
            if self.ring:
                out.append(_reply(msg, 180, "Ringing", self.callee.tag, self.callee.contact))
            if self.answer:
                out.append(_reply(msg, self.answer, "OK" if self.answer < 300 else "Busy Here", self.callee.tag,
                                  self.callee.contact))
            return out
        return self._answer_in_dialog(self.callee, msg)

    def answer_now(self, code: int = 200):
        """The callee answers the INVITE it holds (a Call made with answer=0)."""
        msg = self.pending_invite
        data = _reply(msg, code, "OK" if code < 300 else "Busy Here", self.callee.tag, self.callee.contact)
        return self.proxy.send(data, CALLEE)

    def _answer_in_dialog(self, agent: Agent, msg: Request) -> list[bytes]:
        if msg.method == "ACK":
            return []
        code = agent.answers.get(msg.method, 200)
        if code == 0:
            return []
        return [_reply(msg, code, "OK" if code < 300 else "Failed", None, agent.contact)]

    # ---------------------------------------------------------------------------------- requests
    def invite(self, extra: str = ""):
        lines = ["INVITE sip:bob@192.0.2.20 SIP/2.0",
                 f"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKinv{self.call_id}", "Max-Forwards: 70",
                 "To: <sip:bob@biloxi.example>", f"From: <sip:alice@atlanta.example>;tag={self.caller.tag}",
                 f"Call-ID: {self.call_id}", "CSeq: 1 INVITE", f"Contact: <{self.caller.contact}>"]
        if extra:
            lines += extra.strip("\n").split("\n")
        lines.append("Content-Length: 0")
        return self.proxy.send(sip("\n".join(lines) + "\n\n"), CALLER)

    def in_dialog(self, method: str, *, from_caller: bool = True, cseq: int | None = None, extra: str = "",
                  routes: list[str] | None = None):
        """A request inside the dialog, as the caller (or the callee) sends it through its route set."""
        agent, other = (self.caller, self.callee) if from_caller else (self.callee, self.caller)
        if cseq is None:
            if method != "ACK":
                agent.cseq += 1
            cseq = agent.cseq
        route_set = agent.route_set if routes is None else routes
        if from_caller:
            from_h = f"<sip:alice@atlanta.example>;tag={self.caller.tag}"
            to_h = f"<sip:bob@biloxi.example>;tag={self.callee.tag}"
        else:
            from_h = f"<sip:bob@biloxi.example>;tag={self.callee.tag}"
            to_h = f"<sip:alice@atlanta.example>;tag={self.caller.tag}"
        branch = f"z9hG4bK{method.lower()}{cseq}{'c' if from_caller else 'e'}{len(agent.received)}"
        lines = [f"{method} {agent.remote_target or other.contact} SIP/2.0",
                 f"Via: SIP/2.0/UDP {agent.address[0]}:{agent.address[1]};branch={branch}", "Max-Forwards: 70",
                 f"From: {from_h}", f"To: {to_h}", f"Call-ID: {self.call_id}", f"CSeq: {cseq} {method}",
                 f"Contact: <{agent.contact}>"]
        lines += [f"Route: {r}" for r in route_set]
        if extra:
            lines += extra.strip("\n").split("\n")
        lines.append("Content-Length: 0")
        return self.proxy.send(sip("\n".join(lines) + "\n\n"), agent.address)

    def establish(self):
        """INVITE, 180, 200 and the ACK."""
        sent = self.invite()
        sent += self.in_dialog("ACK", cseq=1)
        return sent

    @property
    def module(self):
        return self.proxy.core.modules["dialog"]

    @property
    def dialog(self):
        found = self.module.table.by_callid(self.call_id)
        return found[0] if found else None


def statuses(sends, to: tuple[str, int]) -> list[int]:
    out = []
    for s in sends:
        if (s.host, s.port) == to and s.data.startswith(b"SIP/2.0 "):
            out.append(int(s.data[8:11]))
    return out


def methods(sends, to: tuple[str, int]) -> list[str]:
    return [s.data.split(b" ", 1)[0].decode() for s in sends
            if (s.host, s.port) == to and not s.data.startswith(b"SIP/2.0 ")]


def confirmed(p: Proxy, callid: str, *, caller_tag: str = "a-tag"):
    """A dialog answered by its callee without a call on the wire (MI, storage and memory tests): the legs a
    relayed 2xx would have filled, then the module's own transition for the 2xx."""
    module = p.core.modules["dialog"]
    dialog = module.table.create(callid, "sip:alice@atlanta.example", "sip:bob@biloxi.example")
    sock = p.core.sockets[0]
    caller = Leg(caller_tag, "sip:alice@192.0.2.10", "", "0", sock)
    caller.inv_cseq = "1"
    callee = Leg("b-tag", "sip:bob@192.0.2.20", "<sip:p2.example;lr>", "1", sock, branch=0)
    dialog.legs = [caller, callee]
    dialog.lifetime = 60
    dialog.legs_200ok = 1
    module._initial_reply_state(dialog, model.EV_RPL2XX, None)
    return dialog
