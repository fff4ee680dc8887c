"""Stateless forwarding (RFC 3261 §16.6, §16.11, §18.2.2): where a request goes, how it is rewritten, and
where a response goes back.

Requests (`forward()`): the destination is the script's argument, else `$du`, else the R-URI, each read as
a SIP URI (maddr, port, transport) or as `proto:host:port`. The forwarded copy carries the script's edits
(the new R-URI and the lumps), `received=`/`rport=` on the Via it arrived with (when the source address
differs from the sent-by host, and when the client asked for rport or the script called force_rport()), and
our own Via on top with a branch computed from the request, so a retransmission gets the same branch without
any state (§16.11). Like OpenSIPS (forward.c, set_sl_branch) the branch hashes the first RFC 3261 branch of
the request's Vias (or the From tag, or the From URI) with the Call-ID and the CSeq number: a CANCEL, and an
ACK to a non-2xx, get the branch of their INVITE.

Responses: the top Via must be ours; it is removed and the response goes to the next Via's address:
maddr, else received, else the sent-by host; rport's value, else the sent-by port, else the transport's
default (OpenSIPS's update_sock_struct_from_via).
"""
from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opensips_py.runtime.send_lumps import Outgoing, finish_lumps
from opensips_py.sip import URI, Request, Response, SIPParseError, Via

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.script.context import ListenSocket

PROTOCOLS = ("udp", "tcp", "tls", "sctp", "ws", "wss")
STREAM_PROTOCOLS = frozenset({"tcp", "tls", "ws", "wss"})
DEFAULT_PORT = {"udp": 5060, "tcp": 5060, "sctp": 5060, "tls": 5061, "ws": 80, "wss": 443}

_RECEIVED_RE = re.compile(r";[ \t]*received[ \t]*=[ \t]*[^;,\s]*", re.I)
_RPORT_RE = re.compile(r";[ \t]*rport(?:[ \t]*=[ \t]*[^;,\s]*)?", re.I)
_HOSTPORT_RE = re.compile(r"^(?:(?P<proto>[A-Za-z]+):)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^:;\[\]]+)(?::(?P<port>\d+))?$")


class BadDestination(ValueError):
    """The destination text is neither a SIP URI nor proto:host:port."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send: protocol, host (a name or an IP, brackets removed) and port (None: the default)."""

    proto: str
    host: str
    port: int | None

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORT.get(self.proto, 5060)


def target_of_uri(uri: URI) -> Target:
    """RFC 3263 without DNS records: maddr or host, the port or the scheme's default, transport param."""
    if not uri.is_sip:
        raise BadDestination(f"cannot forward to a {uri.scheme}: URI")
    transport = uri.transport
    if transport:
        proto = transport.lower()
    else:
        proto = "tls" if uri.scheme == "sips" else "udp"
    if proto not in PROTOCOLS:
        raise BadDestination(f"unknown transport {transport!r}")
    if uri.scheme == "sips" and proto == "tcp":
        proto = "tls"
    host = uri.maddr or uri.host
    if not host:
        raise BadDestination(f"no host in {uri}")
    return Target(proto, host.strip("[]"), uri.port)


_TARGET_CACHE: dict[str, Target] = {}


def parse_destination(text: str) -> Target:
    """A script destination: a SIP/SIPS URI, or `[proto:]host[:port]` (forward("udp:10.0.0.1:5060"))."""
    found = _TARGET_CACHE.get(text)
    if found is not None:
        return found
    stripped = text.strip()
    lower = stripped[:5].lower()
    if lower.startswith(("sip:", "sips:")):
        try:
            target = target_of_uri(URI(stripped))
        except SIPParseError as exc:
            raise BadDestination(f"bad destination URI {text!r}: {exc}") from exc
    else:
        match = _HOSTPORT_RE.match(stripped)
        if match is None:
            raise BadDestination(f"bad destination {text!r}: write a SIP URI or proto:host:port")
        proto = (match.group("proto") or "udp").lower()
        if proto not in PROTOCOLS:
            raise BadDestination(f"unknown protocol {proto!r} in {text!r}")
        port = match.group("port")
        target = Target(proto, match.group("host").strip("[]"), int(port) if port else None)
    if len(_TARGET_CACHE) < 4096:
        _TARGET_CACHE[text] = target
    return target


# ------------------------------------------------------------------------------------------------ requests

def stateless_branch(msg: Request) -> str:
    """RFC 3261 §16.11: a branch that is a function of the request, the same for its retransmissions.

    Seed (forward.c set_sl_branch): the first Via branch carrying the magic cookie, else the From tag, else the
    From URI; hashed with the Call-ID and the CSeq number (not the method, so CANCEL/ACK match the INVITE).
    """
    seed = None
    for via in msg.via:
        branch = via.branch
        if branch and len(branch) > 7 and branch.startswith("z9hG4bK"):
            seed = branch
            break
    if seed is None:
        from_ = msg.from_
        seed = (from_.tag or from_.uri_text) if from_ is not None else ""
    cseq = msg.cseq
    text = f"{seed}\x00{msg.call_id or ''}\x00{cseq.number if cseq is not None else ''}"
    digest = hashlib.md5(text.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()
    return "z9hG4bK" + digest[:24]


def host_differs(via_host: str, src_ip: str) -> bool:
    """§18.2.1: the sent-by host is not the packet's source address (names always differ: no DNS check)."""
    host = via_host[1:-1] if via_host.startswith("[") else via_host
    if host == src_ip:
        return False
    if ":" in host and ":" in src_ip:
        try:
            return ipaddress.ip_address(host) != ipaddress.ip_address(src_ip)
        except ValueError:
            return True
    return True


def via_with_received(via: Via, received: str | None, rport: int | None) -> str:
    """The Via value with `;received=…` and `;rport=…` put right after sent-by (any old ones replaced)."""
    raw = via.raw
    head, params = raw[:via.params_offset], raw[via.params_offset:]
    extra = ""
    if received is not None:
        params = _RECEIVED_RE.sub("", params)
        extra += f";received={received}"
    if rport is not None:
        params = _RPORT_RE.sub("", params)
        extra += f";rport={rport}"
    return head + extra + params


def mark_received_via(msg: Request, src_ip: str, src_port: int, force_rport: bool) -> None:
    """Add received/rport to the Via the request arrived with (a lump on the top Via line)."""
    via = msg.via1
    if via is None:
        return
    rport = src_port if (via.has_rport or force_rport) else None
    received = src_ip if (rport is not None or via.received is not None
                          or host_differs(via.maddr or via.host, src_ip)) else None
    if received is None and rport is None:
        return
    field = msg.header_fields("via")[0]
    value = field.value
    new_value = value.replace(via.raw, via_with_received(via, received, rport), 1)
    msg.replace_field(field.index, new_value)


def via_host_text(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def build_forwarded_request(msg: Request, sock: "ListenSocket", proto: str, branch: str, *,
                            advertised_host: str | None = None, advertised_port: int | None = None,
                            local_rport: bool = False, new_uri: str | None = None,
                            in_connection: int | None = None) -> bytes:
    """The bytes of the forwarded request: script edits (send-time lines finished for `sock`), our Via on top,
    Content-Length on streams. `in_connection`: the stream connection the request came on; it goes into our
    Via as `;i=<id>` (as OpenSIPS does) so the reply finds its way back over that connection even when the
    sender's Via names an unreachable host (a browser's `.invalid`).

    The message's own lumps stay untouched (a second forward() of the same request adds its own Via only)."""
    saved = msg.lumps
    lumps = saved.copy()
    if new_uri is not None and new_uri != msg.ruri_text:
        lumps.new_uri = new_uri
    # lines that depend on the send socket (rr's Record-Route): runtime/send_lumps.py
    finish_lumps(lumps, Outgoing(sock, advertised_host, advertised_port))
    msg.lumps = lumps
    try:
        host = via_host_text(advertised_host or sock.via_host)
        port = advertised_port or sock.via_port
        value = f"SIP/2.0/{proto.upper()} {host}:{port};branch={branch}"
        if local_rport:
            value += ";rport"
        if in_connection is not None:
            value += f";i={in_connection:x}"
        msg.add_via(value)
        return msg.serialize(ensure_content_length=proto in STREAM_PROTOCOLS)
    finally:
        msg.lumps = saved


def request_as_is(msg: Request, headers: str | None) -> bytes:
    """send(): the request exactly as received, with extra header lines after the request line."""
    raw = msg.raw
    if not headers:
        return raw
    if not headers.endswith("\n"):
        headers += "\r\n"
    line_end = raw.find(b"\n") + 1
    return raw[:line_end] + headers.encode("utf-8", "surrogateescape") + raw[line_end:]


# ------------------------------------------------------------------------------------------------ responses

def response_target(via: Via) -> Target:
    """§18.2.2 / forward.c update_sock_struct_from_via for a Via that is not the received one."""
    proto = via.transport.lower()
    if proto not in PROTOCOLS:
        raise BadDestination(f"unknown transport {via.transport} in Via")
    port = via.rport
    host = via.maddr or via.received or via.host
    if port is None:
        port = via.port if via.port is not None else DEFAULT_PORT.get(proto, 5060)
    return Target(proto, host.strip("[]"), port)


def second_via(msg: Response) -> Via | None:
    vias = msg.via
    return vias[1] if len(vias) > 1 else None


__all__ = ["BadDestination", "Target", "parse_destination", "target_of_uri", "stateless_branch",
           "mark_received_via", "build_forwarded_request", "request_as_is", "response_target", "second_via",
           "host_differs", "via_with_received", "STREAM_PROTOCOLS", "DEFAULT_PORT"]
