"""The messages tm writes itself: CANCEL and hop-by-hop ACK for a branch, relayed replies, local requests.

- CANCEL and the ACK of a negative reply (RFC 3261 §9.1, §17.1.1.3) are built as OpenSIPS's build_local()
  does: the branch's R-URI, one Via (ours, with the branch's id), the transaction's From, Call-ID and CSeq
  number, To (the reply's for an ACK, with its tag), Max-Forwards 70, the Route lines the branch request
  carried, the Reason and t_add_hdrs() lines, Content-Length 0.
- A relayed reply loses our top Via (§16.7 step 3); the rest is copied as received, plus the edits made to it.
- A local request (t_uac) is written from scratch with our Via on top.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opensips_py.runtime.forward import STREAM_PROTOCOLS, via_host_text
from opensips_py.runtime.sanity import header_index
from opensips_py.sip import SIPParseError, parse_message

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.modules.tm.transaction import ClientBranch, Transaction
    from opensips_py.script.context import ListenSocket
    from opensips_py.sip import Response

USER_AGENT = "User-Agent: opensips-py"
CANCEL_REASON_200 = 'Reason: SIP ;cause=200 ;text="Call completed elsewhere"'
CANCEL_REASON_487 = 'Reason: SIP;cause=487;text="ORIGINATOR_CANCEL"'
CANCEL_REASON_480 = 'Reason: SIP;cause=480;text="NO_ANSWER"'


def our_via(socket: "ListenSocket", proto: str, branch: str, advertised: tuple[str | None, int | None] = (None, None),
            local_rport: bool = False) -> str:
    """The value of our Via for a request leaving from `socket`."""
    host = via_host_text(advertised[0] or socket.via_host)
    port = advertised[1] or socket.via_port
    value = f"SIP/2.0/{proto.upper()} {host}:{port};branch={branch}"
    return value + ";rport" if local_rport else value


_CSEQ_LINE = re.compile(rb"\r\n[Cc][Ss][Ee][Qq][ \t]*:[ \t]*(\d+)")


def _sent_cseq(sent: bytes | None) -> str | None:
    """The CSeq number the branch request left with: its CANCEL and ACK must carry it (RFC 3261 §9.1,
    §17.1.1.3) also when the script or a module renumbered it (uac_auth(), dialog's shift; OpenSIPS reads
    it back from the branch's buffer for FL_USE_UAC_CSEQ)."""
    if not sent:
        return None
    found = _CSEQ_LINE.search(sent, 0, sent.find(b"\r\n\r\n") + 2 if b"\r\n\r\n" in sent else len(sent))
    return found.group(1).decode() if found else None


def _route_lines(sent: bytes) -> list[str]:
    """The Route header lines of a request we sent (a CANCEL/ACK must follow the same route)."""
    try:
        msg = parse_message(sent)
    except SIPParseError:
        return []
    return [f.raw for f in msg.header_fields("route")]


def build_local(t: "Transaction", branch: "ClientBranch", method: str, *, reply: "Response | None" = None,
                extra: list[str] | None = None, server_signature: bool = True) -> bytes:
    """CANCEL (no `reply`) or ACK (to `reply`) for one branch: build_local() of t_msgbuilder.c."""
    if not t.from_line and t.request is not None:  # the request's own lines, read once, when first needed
        for attr, name in (("from_line", "from"), ("to_line", "to"), ("callid_line", "call-id")):
            found = t.request.header_fields(name)
            setattr(t, attr, found[0].raw if found else "")
    if reply is not None:
        to_fields = reply.header_fields("to")
        from_fields = reply.header_fields("from")
        to_line = to_fields[0].raw if to_fields else t.to_line
        from_line = from_fields[0].raw if from_fields else t.from_line
    else:
        to_line, from_line = t.to_line, t.from_line
    via = our_via(branch.socket, branch.proto, branch.via_branch, t.advertised) if branch.socket else ""
    lines = [f"{method} {branch.uri} SIP/2.0", f"Via: {via}", from_line, t.callid_line, to_line,
             f"CSeq: {_sent_cseq(branch.sent) or t.cseq_number} {method}", "Max-Forwards: 70"]
    if branch.sent is not None and (t.is_local or b"\nRoute:" in branch.sent or b"\nroute:" in branch.sent
                                    or b"\nROUTE:" in branch.sent):
        lines.extend(_route_lines(branch.sent))
    if extra:
        lines.extend(extra)
    lines.extend(t.extra_hdrs)
    if server_signature:
        lines.append(USER_AGENT)
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")


def relayed_reply(reply: "Response", proto: str, extra_headers: list[str] | None = None) -> bytes:
    """The reply without our top Via, with its edits (and `extra_headers` before Content-Length)."""
    saved = reply.lumps
    lumps = saved.copy()
    reply.lumps = lumps
    try:
        via_lines = header_index(reply).get("via")
        vias = reply.via
        if via_lines and len(via_lines) == len(vias):  # one Via per line: leave the first line out
            lumps.removed.add(via_lines[0])
        elif via_lines and vias:  # "Via: ours, theirs": keep what follows our value (parsed already)
            field = reply.header_fields("via")[0]
            value = field.value
            rest = value[value.find(vias[0].raw) + len(vias[0].raw):].lstrip(" \t")
            reply.replace_field(field.index, rest[1:].lstrip(" \t") if rest.startswith(",") else rest)
        else:
            reply.remove_top_via()
        if extra_headers:
            anchor = _anchor_before(reply, "content-length")
            lumps.insert.setdefault(anchor, []).extend(extra_headers)
        return reply.serialize(ensure_content_length=proto in STREAM_PROTOCOLS)
    finally:
        reply.lumps = saved


def _anchor_before(msg, name: str) -> int:
    found = msg.header_fields(name)
    return found[0].index if found else len(msg.headers)


# ------------------------------------------------------------------------------------------------ t_uac

@dataclass
class LocalRequest:
    """A request tm sends on its own behalf (t_uac): dialog's BYE and pings, t_new_request(), MI."""

    method: str
    ruri: str
    from_: str                   # the From value, tag included: "<sip:alice@atlanta.com>;tag=1928301774"
    to: str                      # the To value ("<sip:bob@biloxi.com>", with ;tag= inside a dialog)
    call_id: str | None = None   # None: a fresh one
    cseq: int | None = None      # None: 1
    headers: list[str] = field(default_factory=list)  # extra lines: "Route: <…>", "Contact: <…>"
    body: bytes = b""
    content_type: str | None = None
    next_hop: str | None = None  # a SIP URI or proto:host:port; default: the first loose Route, else the R-URI
    socket: "ListenSocket | None" = None
    fr_timeout: float | None = None  # seconds without a final reply (None: the fr_timeout modparam)
    max_forwards: int = 70       # b2b_entities: the received value minus one, as OpenSIPS's mf_enforced
    data: dict = field(default_factory=dict)  # the transaction's data from the start (local_route sees it)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(8)}@{host}"


def build_local_request(req: LocalRequest, via: str, call_id: str, cseq: int, server_signature: bool = True) -> bytes:
    lines = [f"{req.method} {req.ruri} SIP/2.0", f"Via: {via}", f"Max-Forwards: {req.max_forwards}",
             f"From: {req.from_}", f"To: {req.to}", f"Call-ID: {call_id}", f"CSeq: {cseq} {req.method}"]
    lines.extend(req.headers)
    if server_signature:
        lines.append(USER_AGENT)
    body = req.body or b""
    if body and req.content_type:
        lines.append(f"Content-Type: {req.content_type}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


__all__ = ["build_local", "relayed_reply", "our_via", "LocalRequest", "build_local_request", "new_call_id",
           "CANCEL_REASON_200", "CANCEL_REASON_480", "CANCEL_REASON_487", "USER_AGENT"]
