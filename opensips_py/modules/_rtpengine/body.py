"""The SDP of a message: the first received, non-empty application/sdp body part, and its replacement.

OpenSIPS's extract_body() walks the parts of the *received* body (a multipart body works too, edits made
earlier in the script are not seen) and takes the first non-empty application/sdp one; the daemon's SDP
then replaces exactly that part through a delete+insert lump pair. Here the received body is spliced at
the part's offsets and handed to `msg.set_body()`: the other parts and every byte around them stay as
received, Content-Length follows when the message is sent.
"""
from __future__ import annotations

from opensips_py.sip import SIPParseError

SDP_MIME = "application/sdp"


def _content_type(msg):
    try:
        return msg.content_type
    except SIPParseError:
        return None


def sdp_span(msg) -> tuple[int, int] | None:
    """(start, end) of the SDP part inside `msg.body`; None when the message has none."""
    body = msg.body
    if not body:
        return None
    content_type = _content_type(msg)
    if content_type is None:
        return None
    if content_type.mime == SDP_MIME:
        return (0, len(body))
    boundary = content_type.params.get("boundary") if content_type.type == "multipart" else None
    if not boundary:
        return None
    for start, end, mime in _parts(body, boundary.strip('"').encode()):
        if mime == SDP_MIME and end > start:
            return (start, end)
    return None


def _parts(body: bytes, boundary: bytes):
    """(content start, content end, mime) of each part of a multipart body (RFC 2046 §5.1.1)."""
    delimiter = b"--" + boundary
    pos = body.find(delimiter)
    for _ in range(10_000):  # bounded by the number of parts a body can hold
        if pos < 0:
            return
        after = pos + len(delimiter)
        if body[after:after + 2] == b"--":  # close delimiter
            return
        line_end = body.find(b"\n", after)
        if line_end < 0:
            return
        part_start = line_end + 1
        following = body.find(b"\n" + delimiter, part_start)
        if following < 0:
            return
        part_end = following - 1 if following > 0 and body[following - 1:following] == b"\r" else following
        head_end, content_start = _header_end(body, part_start, part_end)
        mime = "text/plain"
        for line in body[part_start:head_end].decode("utf-8", "surrogateescape").splitlines():
            name, colon, value = line.partition(":")
            if colon and name.strip().lower() in ("content-type", "c"):
                mime = value.split(";", 1)[0].strip().lower()
        yield content_start, part_end, mime
        pos = following + 1


def _header_end(body: bytes, start: int, end: int) -> tuple[int, int]:
    """Where a part's headers end and its content starts (after the blank line)."""
    if body[start:start + 2] == b"\r\n":
        return start, start + 2
    if body[start:start + 1] == b"\n":
        return start, start + 1
    crlf = body.find(b"\r\n\r\n", start, end)
    lf = body.find(b"\n\n", start, end)
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return crlf, crlf + 4
    if lf >= 0:
        return lf, lf + 2
    return end, end


def extract_sdp(msg) -> str | None:
    """The SDP text to send to the daemon, or None."""
    span = sdp_span(msg)
    if span is None:
        return None
    return msg.body[span[0]:span[1]].decode("utf-8", "surrogateescape")


def replace_sdp(msg, sdp: str) -> bool:
    """Put `sdp` where the received SDP part was (through the message's lumps); False without one."""
    span = sdp_span(msg)
    if span is None:
        return False
    body = msg.body
    msg.set_body(body[:span[0]] + sdp.encode("utf-8", "surrogateescape") + body[span[1]:])
    return True
