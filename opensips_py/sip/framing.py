"""Cutting a TCP/TLS byte stream into SIP messages (RFC 3261 §18.3) and spotting RFC 5626 keep-alives.

Sans-IO: `feed(data)` takes what the socket gave and returns what became complete: whole messages as bytes
(hand them to `parse_message`) and keep-alives. A double CRLF between messages is a keep-alive *ping* that
the transport answers with a single CRLF *pong* (RFC 5626 §3.5.1); a lone CRLF is a pong (or the stray CRLF
RFC 3261 §7.5 says to ignore). A stream message must carry Content-Length: without it, or with a bad one,
the framing is lost, `feed` raises SIPParseError and the transport closes the connection.

WebSocket needs no framer: each WebSocket message holds exactly one SIP message (RFC 7118 §5).
"""
from __future__ import annotations

import enum
import re

from opensips_py.sip.errors import SIPParseError
from opensips_py.sip.message import MAX_MESSAGE_SIZE

__all__ = ["KeepAlive", "StreamFramer", "CRLF_PONG", "is_keepalive_datagram"]

CRLF_PONG = b"\r\n"

_CONTENT_LENGTH_RE = re.compile(r"^(?:content-length|l)[ \t]*:[ \t]*(.*?)[ \t]*\r?$", re.I | re.M)
_FOLD_RE = re.compile(r"\r?\n[ \t]+")


def is_keepalive_datagram(data: bytes) -> bool:
    """True for a UDP datagram that only holds CRLF/NUL/space padding: some UAs send these to keep their NAT
    binding open (OpenSIPS drops such tiny datagrams); drop it without a reply and without a parse error."""
    return not data.strip(b"\r\n\x00 \t")


class KeepAlive(enum.Enum):
    """RFC 5626 §3.5.1 keep-alives seen between messages."""

    PING = "ping"      # CRLF CRLF: answer with CRLF_PONG
    PONG = "pong"      # a lone CRLF


class StreamFramer:
    """Content-Length framing of one connection's byte stream."""

    def __init__(self, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self.max_size = max_size
        self._buffer = bytearray()
        self._scanned = 0          # how far the search for the end of headers already went
        self.broken = False

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete message."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes | KeepAlive]:
        """Add received bytes; return the complete messages and keep-alives, in stream order."""
        if self.broken:
            raise SIPParseError(400, "Bad Request", "stream framing already lost")
        buffer = self._buffer
        buffer += data
        events: list[bytes | KeepAlive] = []
        while buffer:
            if buffer[0] == 0x0D:                   # '\r': a keep-alive, or the start of one
                if buffer.startswith(b"\r\n\r\n"):
                    events.append(KeepAlive.PING)
                    del buffer[:4]
                    continue
                if buffer in (b"\r\n", b"\r\n\r"):
                    break  # maybe the first half of a CRLFCRLF ping cut by the segment: wait for more
                if buffer.startswith(b"\r\n"):
                    events.append(KeepAlive.PONG)
                    del buffer[:2]
                    continue
                if len(buffer) == 1:
                    break
            end = buffer.find(b"\r\n\r\n", max(self._scanned - 3, 0))
            if end < 0:
                self._scanned = len(buffer)
                if len(buffer) > self.max_size:
                    self._fail(513, "Message Too Large", "no end of headers within the size limit")
                break
            length = self._content_length(bytes(buffer[:end]))
            total = end + 4 + length
            if total > self.max_size:
                self._fail(513, "Message Too Large", f"message of {total} bytes")
            if len(buffer) < total:
                self._scanned = end
                break
            events.append(bytes(buffer[:total]))
            del buffer[:total]
            self._scanned = 0
        return events

    def _content_length(self, head: bytes) -> int:
        text = head.decode("latin-1")
        if "\n " in text or "\n\t" in text:
            text = _FOLD_RE.sub(" ", text)
        values = _CONTENT_LENGTH_RE.findall(text)
        if not values:
            self._fail(400, "Bad Request", "no Content-Length on a stream transport")
        if len(values) > 1:
            self._fail(400, "Bad Request", "more than one Content-Length")
        value = values[0]
        if not value.isascii() or not value.isdigit() or len(value) > 10:
            self._fail(400, "Bad Request", f"bad Content-Length {value!r}")
        return int(value)

    def _fail(self, code: int, reason: str, detail: str) -> None:
        self.broken = True
        raise SIPParseError(code, reason, detail)
