"""Building replies to requests (RFC 3261 §8.2.6 and §16.7), the way OpenSIPS's sl and tm build them.

The reply copies the request's header lines byte for byte: every Via (the top one with `received`/`rport`
filled in, RFC 3261 §18.2.1 and RFC 3581), Record-Route for 180-299 replies (as OpenSIPS does), To (with a
tag added when the request had none and the status is above 100), From, Call-ID and CSeq. Then come the
caller's extra header lines, Server, Content-Type, Content-Length and the body.
"""
from __future__ import annotations

import hashlib
import re
from typing import Iterable

from opensips_py.sip.errors import REASON_PHRASES, SIPParseError
from opensips_py.sip.headers import parse_via_list
from opensips_py.sip.message import Request

__all__ = ["build_reply", "default_to_tag"]

_RPORT_RE = re.compile(r";[ \t]*rport(?:[ \t]*=[ \t]*[^;,\s]*)?", re.I)
_RECEIVED_RE = re.compile(r";[ \t]*received[ \t]*=[ \t]*[^;,\s]*", re.I)


def default_to_tag(request: Request) -> str:
    """A To tag derived from the request (Call-ID, From tag, top Via branch, CSeq): retransmissions of the
    same request get the same tag without any state, which sl needs for ACK matching."""
    via = request.header("via") or ""
    seed = "|".join((request.header("call-id") or "", request.header("from") or "", via.split(",")[0],
                     request.header("cseq") or ""))
    return hashlib.md5(seed.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()[:16]


def _top_via_line(raw: str, received: str | None, rport: int | None, force_rport: bool) -> str:
    colon = raw.find(":")
    value = raw[colon + 1:].strip(" \t")
    via = parse_via_list(" ".join(value.split()) if "\n" in value else value)[0]
    head, params = via.raw[:via.params_offset], via.raw[via.params_offset:]
    extra = ""
    if received is not None:
        params = _RECEIVED_RE.sub("", params)
        extra += f";received={received}"
    if rport is not None:
        if via.has_rport:
            params = _RPORT_RE.sub(f";rport={rport}", params, count=1)
        elif force_rport:
            extra += f";rport={rport}"
    new = head + extra + params
    if via.raw in raw:
        return raw.replace(via.raw, new, 1)
    return f"{raw[:colon].rstrip()}: {value.replace(via.raw, new, 1)}"


def build_reply(request: Request, status: int, reason: str | None = None, *, to_tag: str | None = None,
                headers: Iterable[str] = (), body: bytes = b"", content_type: str | None = None,
                received: str | None = None, rport: int | None = None, force_rport: bool = False,
                server: str | None = None) -> bytes:
    """The bytes of a reply to `request`.

    to_tag:      the tag to add to To when it has none (default: `default_to_tag(request)`); never added to
                 a 100 Trying.
    headers:     extra header lines, each `Name: value` without line end.
    received:    the source IP to put in the top Via as `received` (the caller applies §18.2.1).
    rport:       the source port for the top Via's `rport` when the client asked for it (RFC 3581), or
                 always with `force_rport` (OpenSIPS's force_rport()).
    """
    if not 100 <= status <= 699:
        raise ValueError(f"status {status} outside 100-699")
    if reason is None:
        reason = REASON_PHRASES.get(status, "Unknown")
    lines = [f"SIP/2.0 {status} {reason}"]
    for position, field in enumerate(request.header_fields("via")):
        if position == 0 and (received is not None or rport is not None):
            try:
                lines.append(_top_via_line(field.raw, received, rport, force_rport))
                continue
            except SIPParseError:
                pass                               # a malformed Via is copied as received
        lines.append(field.raw)
    if 180 <= status < 300:
        lines.extend(field.raw for field in request.header_fields("record-route"))
    to_fields = request.header_fields("to")
    if to_fields:
        to_line = to_fields[0].raw
        if status > 100:
            try:
                has_tag = request.to is not None and request.to.tag is not None
            except SIPParseError:
                has_tag = True                     # do not touch a To we cannot read
            if not has_tag:
                tag = to_tag or default_to_tag(request)
                to_line = to_line.rstrip(" \t") + ";tag=" + tag
        lines.append(to_line)
    for name in ("from", "call-id", "cseq"):
        found = request.header_fields(name)
        if found:
            lines.append(found[0].raw)
    lines.extend(headers)
    if server:
        lines.append(f"Server: {server}")
    if body and content_type:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body
