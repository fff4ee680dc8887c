"""Bencode, strict and bounded, for the rtpengine "ng" control protocol.

The ng port is reachable by whatever can send a UDP datagram, so the decoder trusts nothing: it refuses
truncated input, trailing bytes, integers with leading zeros or ``-0``, nesting deeper than
``MAX_DEPTH`` and containers with more than ``MAX_ITEMS`` entries in total. Every refusal is a
`BencodeError`, never another exception, so the caller can answer with an error reply and carry on.

Byte strings decode to `bytes` (dictionary keys included); the ng layer decides what is text.
The encoder takes `bytes`, `str` (UTF-8), `int`, `float` (sent as a decimal string, as rtpengine does
for its statistics), `list`/`tuple` and `dict` (keys sorted bytewise, as bencode asks).
"""
from __future__ import annotations

from typing import Union

BValue = Union[bytes, int, list["BValue"], dict[bytes, "BValue"]]

MAX_DEPTH = 32
MAX_ITEMS = 10_000


class BencodeError(ValueError):
    """The input is not one well-formed, bounded bencode value."""


def decode(data: bytes, *, max_depth: int = MAX_DEPTH, max_items: int = MAX_ITEMS) -> BValue:
    """Decode exactly one bencode value filling all of `data`."""
    value, end = decode_prefix(data, 0, max_depth=max_depth, max_items=max_items)
    if end != len(data):
        raise BencodeError(f"trailing data at offset {end}")
    return value


def decode_prefix(data: bytes, offset: int = 0, *, max_depth: int = MAX_DEPTH,
                  max_items: int = MAX_ITEMS) -> tuple[BValue, int]:
    """Decode one value starting at `offset`; return it and the offset just past it.

    Bencode is self-delimiting, which is how a stream transport frames ng messages.
    """
    decoder = _Decoder(bytes(data), max_depth, max_items)
    value = decoder.value(offset, 0)
    return value, decoder.pos


class _Decoder:
    __slots__ = ("data", "pos", "max_depth", "items_left")

    def __init__(self, data: bytes, max_depth: int, max_items: int) -> None:
        self.data = data
        self.pos = 0
        self.max_depth = max_depth
        self.items_left = max_items

    def value(self, pos: int, depth: int) -> BValue:
        data = self.data
        if pos >= len(data):
            raise BencodeError("truncated input")
        lead = data[pos]
        if lead == 0x69:  # 'i'
            return self.integer(pos)
        if 0x30 <= lead <= 0x39:
            return self.string(pos)
        if lead == 0x6C or lead == 0x64:  # 'l', 'd'
            if depth >= self.max_depth:
                raise BencodeError(f"nesting deeper than {self.max_depth}")
            return self.dictionary(pos, depth) if lead == 0x64 else self.list(pos, depth)
        raise BencodeError(f"unexpected byte {data[pos:pos + 1]!r} at offset {pos}")

    def integer(self, pos: int) -> int:
        end = self.data.find(b"e", pos + 1, pos + 2 + 21)  # sign and up to 20 digits (64 bits)
        if end < 0:
            raise BencodeError("truncated or oversized integer")
        digits = self.data[pos + 1:end]
        if not _is_canonical_integer(digits):
            raise BencodeError(f"malformed integer {digits!r}")
        self.pos = end + 1
        return int(digits)

    def string(self, pos: int) -> bytes:
        data = self.data
        colon = data.find(b":", pos, pos + 11)
        if colon < 0:
            raise BencodeError("truncated or oversized string length")
        digits = data[pos:colon]
        if not digits.isdigit() or (len(digits) > 1 and digits[0] == 0x30):
            raise BencodeError(f"malformed string length {digits!r}")
        end = colon + 1 + int(digits)
        if end > len(data):
            raise BencodeError("truncated string")
        self.pos = end
        return data[colon + 1:end]

    def list(self, pos: int, depth: int) -> list[BValue]:
        items: list[BValue] = []
        pos += 1
        data = self.data
        while True:
            if pos >= len(data):
                raise BencodeError("truncated list")
            if data[pos] == 0x65:  # 'e'
                self.pos = pos + 1
                return items
            self.count_item()
            items.append(self.value(pos, depth + 1))
            pos = self.pos

    def dictionary(self, pos: int, depth: int) -> dict[bytes, BValue]:
        items: dict[bytes, BValue] = {}
        pos += 1
        data = self.data
        while True:
            if pos >= len(data):
                raise BencodeError("truncated dictionary")
            if data[pos] == 0x65:
                self.pos = pos + 1
                return items
            if not 0x30 <= data[pos] <= 0x39:
                raise BencodeError(f"dictionary key is not a string at offset {pos}")
            self.count_item()
            key = self.string(pos)
            # rtpengine does not check key order; we accept any order but not duplicates.
            if key in items:
                raise BencodeError(f"duplicate dictionary key {key!r}")
            items[key] = self.value(self.pos, depth + 1)
            pos = self.pos

    def count_item(self) -> None:
        self.items_left -= 1
        if self.items_left < 0:
            raise BencodeError("too many items")


def _is_canonical_integer(digits: bytes) -> bool:
    body = digits[1:] if digits[:1] == b"-" else digits
    if not body or not body.isdigit():
        return False
    if body[0] == 0x30 and (len(body) > 1 or digits[:1] == b"-"):
        return False
    return True


def encode(value: object) -> bytes:
    """Encode `value` as bencode (see the module docstring for the accepted types)."""
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _encode(value: object, out: list[bytes]) -> None:
    if isinstance(value, bytes):
        out.append(b"%d:" % len(value))
        out.append(value)
    elif isinstance(value, str):
        raw = value.encode("utf-8", "surrogateescape")
        out.append(b"%d:" % len(raw))
        out.append(raw)
    elif isinstance(value, bool):
        raise TypeError("bencode has no booleans")
    elif isinstance(value, int):
        out.append(b"i%de" % value)
    elif isinstance(value, float):
        _encode(repr(value), out)
    elif isinstance(value, (list, tuple)):
        out.append(b"l")
        for item in value:
            _encode(item, out)
        out.append(b"e")
    elif isinstance(value, dict):
        keyed = []
        for key, item in value.items():
            if isinstance(key, str):
                key = key.encode("utf-8", "surrogateescape")
            elif not isinstance(key, bytes):
                raise TypeError(f"bencode dictionary key must be str or bytes, not {type(key).__name__}")
            keyed.append((key, item))
        keyed.sort(key=lambda pair: pair[0])
        out.append(b"d")
        for key, item in keyed:
            _encode(key, out)
            _encode(item, out)
        out.append(b"e")
    else:
        raise TypeError(f"cannot bencode {type(value).__name__}")


def to_native(value):
    """A decoded bencode value with its byte strings (dictionary keys included) turned into str, recursively:
    what the ng clients hand to callers."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, list):
        return [to_native(item) for item in value]
    if isinstance(value, dict):
        return {to_native(key): to_native(item) for key, item in value.items()}
    return value
