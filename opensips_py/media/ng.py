"""The ng packet format, its request accessors and the reply cache keyed by cookie.

A datagram is ``<cookie> SP <document>``; the reply is ``<same cookie> SP <bencoded dict>``. The cookie is
everything up to the first space and must not be empty (rtpengine drops such a datagram without a reply,
daemon/control_ng.c). The document is a bencoded dictionary (first byte ``d``) or a JSON object (first
byte ``{``); anything else is answered with rtpengine's error ``Invalid NG data format``.

Clients retransmit with the same cookie when a reply is lost, so a reply is remembered per cookie and a
retransmission is answered from the cache without running the command again (rtpengine's two-generation
cache rotated every 30 s, daemon/cookie_cache.c). Ours is also bounded in entries, so a flood of fresh
cookies cannot grow memory without limit.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

from opensips_py.media import bencode

MAX_DATAGRAM = 65_535
CACHE_ROTATE_SECONDS = 30.0
CACHE_MAX_ENTRIES = 50_000


class NgError(Exception):
    """A command failed; `reason` is sent as ``error-reason`` (rtpengine's wording where it has one)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class NgPacket:
    """One received ng datagram split into its cookie and its document."""

    cookie: bytes
    document: bytes


def split_packet(datagram: bytes) -> NgPacket | None:
    """Split at the first space; None when there is no cookie (the datagram is dropped silently)."""
    space = datagram.find(b" ")
    if space <= 0:
        return None
    return NgPacket(datagram[:space], datagram[space + 1:])


def decode_document(document: bytes) -> tuple[dict[bytes, Any], bool]:
    """Decode the request document; return the dictionary and whether it came as JSON.

    Raises NgError with rtpengine's reasons for the ways a document can be unusable.
    """
    if not document:
        raise NgError("Invalid data (no payload)")
    lead = document[:1]
    if lead == b"d":
        try:
            value = bencode.decode(document)
        except bencode.BencodeError:
            raise NgError("Could not decode bencode dictionary") from None
        if not isinstance(value, dict):  # pragma: no cover - a 'd' always decodes to a dict
            raise NgError("Could not decode bencode dictionary")
        return value, False
    if lead == b"{":
        try:
            value = json.loads(document)
        except (ValueError, RecursionError):
            raise NgError("Failed to parse JSON document") from None
        if not isinstance(value, dict):
            raise NgError("Could not decode bencode dictionary")
        converted = _from_json(value, 0)
        return converted, True
    raise NgError("Invalid NG data format")


def _from_json(value: Any, depth: int) -> Any:
    """JSON → the same shapes bencode.decode produces (bytes for strings, int for numbers)."""
    if depth > bencode.MAX_DEPTH:
        raise NgError("Could not decode bencode dictionary")
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return repr(value).encode()
    if isinstance(value, list):
        return [_from_json(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {key.encode("utf-8", "surrogateescape"): _from_json(item, depth + 1)
                for key, item in value.items()}
    return b""


def _to_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        return {(k.decode("utf-8", "replace") if isinstance(k, bytes) else k): _to_json(v)
                for k, v in value.items()}
    if isinstance(value, float):
        return repr(value)
    return value


def encode_reply(cookie: bytes, reply: dict[str, Any], as_json: bool = False) -> bytes:
    """The reply datagram: same cookie, a space, the reply in the request's document format."""
    if as_json:
        body = json.dumps(_to_json(reply), separators=(",", ":")).encode()
    else:
        body = bencode.encode(reply)
    return cookie + b" " + body


def error_reply(reason: str) -> dict[str, Any]:
    """rtpengine's error reply shape: ``result: error`` and ``error-reason``, nothing else."""
    return {"result": "error", "error-reason": reason}


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, int):
        return str(value)
    return None


def _normal(key: str) -> str:
    """rtpengine accepts most keys spaced or hyphenated (``media address`` / ``media-address``)."""
    return key.lower().replace(" ", "-").replace("_", "-")


class NgRequest:
    """Typed access to a decoded ng dictionary, tolerant of the spellings clients use."""

    def __init__(self, raw: dict[bytes, Any]) -> None:
        self.raw = raw
        self._by_name: dict[str, Any] = {}
        for key, value in raw.items():
            self._by_name.setdefault(_normal(key.decode("utf-8", "surrogateescape")), value)

    def _lookup(self, key: str, aliases: Iterable[str] = ()) -> Any:
        by_name = self._by_name
        value = by_name.get(_normal(key))
        if value is None:
            for name in aliases:
                value = by_name.get(_normal(name))
                if value is not None:
                    break
        return value

    def has(self, key: str, *aliases: str) -> bool:
        return self._lookup(key, aliases) is not None

    def str(self, key: str, *aliases: str) -> str | None:
        """A string value (an integer is given as its decimal text); None if absent or not a scalar."""
        return _text(self._lookup(key, aliases))

    def bytes(self, key: str, *aliases: str) -> bytes | None:
        value = self._lookup(key, aliases)
        return value if isinstance(value, bytes) else None

    def int(self, key: str, *aliases: str) -> int | None:
        """An integer; rtpengine also takes a decimal string for integer keys."""
        value = self._lookup(key, aliases)
        if isinstance(value, int):
            return value
        if isinstance(value, bytes):
            try:
                return int(value.strip())
            except ValueError:
                return None
        return None

    def list(self, key: str, *aliases: str) -> list[str]:
        """A list of strings; a plain string is split on commas (OpenSIPS sends ``"direction": "a,b"``)."""
        value = self._lookup(key, aliases)
        if value is None:
            return []
        if isinstance(value, list):
            return [text for text in (_text(item) for item in value) if text is not None]
        text = _text(value)
        if text is None:
            return []
        return [part.strip() for part in text.split(",") if part.strip()]

    def dict(self, key: str, *aliases: str) -> dict[bytes, Any] | None:
        value = self._lookup(key, aliases)
        return value if isinstance(value, dict) else None


class ReplyCache:
    """Replies remembered by cookie for 30–60 s, so retransmissions are answered, not re-executed."""

    def __init__(self, rotate_seconds: float = CACHE_ROTATE_SECONDS,
                 max_entries: int = CACHE_MAX_ENTRIES) -> None:
        self.rotate_seconds = rotate_seconds
        self.max_entries = max_entries
        self._current: dict[bytes, bytes] = {}
        self._old: dict[bytes, bytes] = {}
        self._rotated_at: float | None = None

    def _maybe_rotate(self, now: float) -> None:
        if self._rotated_at is None:
            self._rotated_at = now
        elif now - self._rotated_at >= self.rotate_seconds or len(self._current) >= self.max_entries:
            self._old = self._current
            self._current = {}
            self._rotated_at = now

    def lookup(self, cookie: bytes, now: float) -> bytes | None:
        """The reply sent for `cookie` in the last 30–60 s, or None."""
        self._maybe_rotate(now)
        reply = self._current.get(cookie)
        if reply is None:
            reply = self._old.get(cookie)
        return reply

    def store(self, cookie: bytes, reply: bytes, now: float) -> None:
        self._maybe_rotate(now)
        self._old.pop(cookie, None)
        self._current[cookie] = reply

    def __len__(self) -> int:
        return len(self._current) + len(self._old)
