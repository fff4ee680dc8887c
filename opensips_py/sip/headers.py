"""Typed views of the header values a proxy reads, parsed from the (unfolded) value text.

The views are plain slotted dataclasses for speed; treat them as read-only (edits go through lumps).

Each `parse_*` function takes a header value as it appears after the colon, with folding already turned into
single spaces, and returns immutable views. Parameter values are kept as written (a quoted value keeps its
quotes; use `unquote`). They raise `SIPParseError(400)` on malformed input, e.g. the empty parameters of
RFC 4475 badinv01, an unterminated quoted string (quotbal) or an unquoted display name with a comma (baddn).

The grammar followed is RFC 3261 §25.1 with the leniency real proxies need: LWS around ';' '=' '/' ':' and
',' is accepted everywhere (RFC 4475 wsinv), a display name may touch its '<' (lwsdisp), and an unquoted
parameter value may hold any character but ';' ',' '"' and whitespace (like OpenSIPS's parse_param).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from opensips_py.sip.errors import SIPParseError
from opensips_py.sip.uri import URI

__all__ = [
    "CSeq", "Contact", "MediaType", "NameAddr", "Via", "parse_contacts", "parse_cseq", "parse_delta_seconds",
    "parse_media_type", "parse_name_addr", "parse_name_addr_list", "parse_token_list", "parse_uint",
    "parse_via_list", "unquote", "quote", "MAX_DELTA_SECONDS",
]

MAX_DELTA_SECONDS = 2**32 - 1

_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_QUOTED = r'"(?:[^"\\]|\\[\s\S])*"'
_TOKEN_RE = re.compile(_TOKEN)
_QUOTED_RE = re.compile(_QUOTED)
_PARAM_RE = re.compile(rf"[ \t]*;[ \t]*({_TOKEN})(?:[ \t]*=[ \t]*({_QUOTED}|[^;,\s\"]+))?")
_DISPLAY_TOKENS_RE = re.compile(rf"[ \t]*{_TOKEN}(?:[ \t]+{_TOKEN})*[ \t]*")
# OpenSIPS's parse_to() also takes a ':' in an unquoted display name (SIPp's "To:[$from]" writes "To:: <…>")
_DISPLAY_TOKENS_LAX_RE = re.compile(rf"[ \t]*[:\w.!%*+`'~-]+(?:[ \t]+[:\w.!%*+`'~-]+)*[ \t]*")
_COMMA_RE = re.compile(r"[ \t]*,[ \t]*")
_WS_RE = re.compile(r"[ \t]*")
_VIA_RE = re.compile(
    rf"[ \t]*({_TOKEN})[ \t]*/[ \t]*({_TOKEN})[ \t]*/[ \t]*({_TOKEN})[ \t]+"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_\-.]+)(?:[ \t]*:[ \t]*([0-9]{1,5}))?")
_CSEQ_RE = re.compile(rf"[ \t]*([0-9]+)[ \t]+({_TOKEN})[ \t]*")
_MEDIA_TYPE_RE = re.compile(rf"[ \t]*({_TOKEN})[ \t]*/[ \t]*({_TOKEN})")
_UNESCAPE_RE = re.compile(r"\\([\s\S])")


def _bad(detail: str) -> SIPParseError:
    return SIPParseError(400, "Bad Request", detail)


def unquote(value: str | None) -> str | None:
    """'"a\\"b"' -> 'a"b'; a value without quotes is returned as is."""
    if value is None or len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    return _UNESCAPE_RE.sub(r"\1", value[1:-1])


def quote(text: str) -> str:
    """A quoted-string for `text` (backslash and double quote escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_uint(text: str, what: str, limit: int = MAX_DELTA_SECONDS) -> int:
    """A decimal integer 0..limit (leading zeros allowed, RFC 4475 wsinv); 400 otherwise."""
    text = text.strip(" \t")
    if not text.isascii() or not text.isdigit():
        raise _bad(f"bad {what}: {text!r}")
    if len(text.lstrip("0")) > 20 or int(text) > limit:
        raise _bad(f"{what} too large: {text[:30]}")
    return int(text)


def parse_delta_seconds(text: str, what: str = "Expires") -> int:
    """delta-seconds; values beyond 2**32-1 count as 2**32-1 (RFC 3261 §10.2.1.1 / RFC 4475 scalar02)."""
    text = text.strip(" \t")
    if not text.isascii() or not text.isdigit():
        raise _bad(f"bad {what}: {text!r}")
    if len(text.lstrip("0")) > 10:
        return MAX_DELTA_SECONDS
    return min(int(text), MAX_DELTA_SECONDS)


def _params(text: str, pos: int) -> tuple[dict[str, str | None], int]:
    """Parse `*( SEMI generic-param )` from pos; names lower-cased, first occurrence wins."""
    params: dict[str, str | None] = {}
    match = _PARAM_RE.match(text, pos)
    while match is not None:
        params.setdefault(match.group(1).lower(), match.group(2))
        pos = match.end()
        match = _PARAM_RE.match(text, pos)
    return params, pos


def _after_element(text: str, pos: int, allow_list: bool, what: str) -> int:
    """After one list element: return the start of the next element, or -1 at the end of the value."""
    pos = _WS_RE.match(text, pos).end()
    if pos >= len(text):
        return -1
    if allow_list and text[pos] == ",":
        return _COMMA_RE.match(text, pos).end()
    raise _bad(f"unexpected {text[pos:pos + 10]!r} in {what}")


# -- Via ------------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Via:
    """One Via value (RFC 3261 §20.42): sent-protocol, sent-by and parameters.

    `raw` is the value text as written; `params_offset` is where its parameters start in `raw` (where a
    `received` parameter is inserted when replying, as OpenSIPS does).
    """

    protocol: str
    version: str
    transport: str
    host: str
    port: int | None
    params: dict[str, str | None]
    raw: str
    params_offset: int

    @property
    def sent_by(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def is_rfc3261_branch(self) -> bool:
        """True when the branch has the magic cookie and something after it (RFC 3261 §8.1.1.7)."""
        branch = self.branch
        return branch is not None and branch.startswith("z9hG4bK") and len(branch) > 7

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def has_rport(self) -> bool:
        return "rport" in self.params

    @property
    def rport(self) -> int | None:
        """The rport value (RFC 3581); None when absent or empty (as sent by the client)."""
        value = self.params.get("rport")
        return int(value) if value and value.isdigit() and len(value) <= 5 else None

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def ttl(self) -> int | None:
        value = self.params.get("ttl")
        return int(value) if value and value.isdigit() and len(value) <= 3 else None

    @property
    def alias(self) -> bool:
        """The `alias` parameter of RFC 5923 (connection reuse)."""
        return "alias" in self.params

    def __str__(self) -> str:
        return self.raw


def parse_via_list(value: str) -> list[Via]:
    """All Via values of one header (comma-separated)."""
    vias = []
    pos = 0
    while True:
        match = _VIA_RE.match(value, pos)
        if match is None:
            raise _bad(f"bad Via: {value[pos:pos + 40]!r}")
        port = int(match.group(5)) if match.group(5) else None
        if port is not None and port > 65535:
            raise _bad(f"bad Via port: {match.group(5)}")
        start = _WS_RE.match(value, pos).end()
        params, end = _params(value, match.end())
        vias.append(Via(match.group(1), match.group(2), match.group(3).upper(), match.group(4), port, params,
                        value[start:end].rstrip(" \t"), match.end() - start))
        pos = _after_element(value, end, True, "Via")
        if pos < 0:
            return vias


# -- name-addr: From, To, Contact, Route, Record-Route, Path ---------------------------------------------------

@dataclass(slots=True)
class NameAddr:
    """[display-name] <URI> *(;param), or a bare URI with header parameters after it.

    `display_name` is unquoted and unescaped (None when absent); `uri_text` is the URI as written and `uri`
    parses it on demand (so reading a tag never fails on an odd URI). `bracketed` says whether the URI was in
    <>; `raw` is the whole value as written.
    """

    display_name: str | None
    uri_text: str
    params: dict[str, str | None]
    raw: str
    bracketed: bool = True
    _uri: URI | None = field(default=None, repr=False, compare=False)

    @property
    def uri(self) -> URI:
        if self._uri is None:
            self._uri = URI(self.uri_text)
        return self._uri

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        return self.raw


@dataclass(slots=True)
class Contact(NameAddr):
    """A Contact value (RFC 3261 §20.10, RFC 5626): expires, q, +sip.instance, reg-id; `*` is `is_star`."""

    is_star: bool = False

    @property
    def expires(self) -> int | None:
        value = self.params.get("expires")
        return parse_delta_seconds(value, "Contact expires") if value is not None else None

    @property
    def q(self) -> float | None:
        value = self.params.get("q")
        if value is None:
            return None
        try:
            q = float(value)
        except ValueError:
            raise _bad(f"bad Contact q: {value!r}") from None
        if not 0 <= q <= 1:
            raise _bad(f"Contact q out of range: {value!r}")
        return q

    @property
    def instance(self) -> str | None:
        """+sip.instance, unquoted (usually `<urn:uuid:…>`)."""
        return unquote(self.params.get("+sip.instance"))

    @property
    def reg_id(self) -> int | None:
        value = self.params.get("reg-id")
        return parse_uint(value, "reg-id") if value is not None else None


def _parse_one_name_addr(value: str, pos: int, allow_list: bool, what: str,
                         cls: type[NameAddr]) -> tuple[NameAddr, int]:
    start = pos = _WS_RE.match(value, pos).end()
    if pos >= len(value):
        raise _bad(f"empty {what}")
    display: str | None = None
    char = value[pos]
    if char == '"':
        match = _QUOTED_RE.match(value, pos)
        if match is None:
            raise _bad(f"unterminated quoted string in {what}")
        display = unquote(match.group())
        pos = _WS_RE.match(value, match.end()).end()
        if pos >= len(value) or value[pos] != "<":
            raise _bad(f"quoted display name without <URI> in {what}")
    elif char != "<":
        lt = value.find("<", pos)
        if lt > 0 and (not allow_list or "," not in value[pos:lt]) and (
                _DISPLAY_TOKENS_RE.fullmatch(value, pos, lt)
                or not allow_list and _DISPLAY_TOKENS_LAX_RE.fullmatch(value, pos, lt)):
            display = " ".join(value[pos:lt].split())
            pos = lt
    if pos < len(value) and value[pos] == "<":
        gt = value.find(">", pos)
        if gt < 0:
            raise _bad(f"missing '>' in {what}")
        uri_text = value[pos + 1:gt]
        if not uri_text or uri_text.strip(" \t") != uri_text or " " in uri_text or "\t" in uri_text:
            raise _bad(f"whitespace inside <> in {what}")
        bracketed = True
        pos = gt + 1
    else:
        # addr-spec form: the URI ends at ';', ',' or whitespace and may hold none of ';' ',' '?' (§20).
        end = pos
        while end < len(value) and value[end] not in ";, \t":
            end += 1
        uri_text = value[pos:end]
        if not uri_text or "?" in uri_text or ":" not in uri_text:
            raise _bad(f"bad URI in {what}: {uri_text!r} (a URI with ?, ; or , must be in <>)")
        bracketed = False
        pos = end
    params, pos = _params(value, pos)
    return cls(display, uri_text, params, value[start:pos].rstrip(" \t"), bracketed), pos


def parse_name_addr(value: str, what: str = "header") -> NameAddr:
    """From/To/Refer-To style: exactly one name-addr or addr-spec with parameters."""
    item, pos = _parse_one_name_addr(value, 0, False, what, NameAddr)
    _after_element(value, pos, False, what)
    return item


def parse_name_addr_list(value: str, what: str = "header") -> list[NameAddr]:
    """Route/Record-Route/Path style: comma-separated name-addrs."""
    items = []
    pos = 0
    while True:
        item, pos = _parse_one_name_addr(value, pos, True, what, NameAddr)
        items.append(item)
        pos = _after_element(value, pos, True, what)
        if pos < 0:
            return items


def parse_contacts(value: str) -> list[Contact]:
    """Contact values of one header; `*` gives a single Contact with is_star=True."""
    stripped = value.strip(" \t")
    if stripped == "*":
        return [Contact(None, "*", {}, "*", False, None, True)]
    items: list[Contact] = []
    pos = 0
    while True:
        item, pos = _parse_one_name_addr(value, pos, True, "Contact", Contact)
        items.append(item)  # type: ignore[arg-type]
        pos = _after_element(value, pos, True, "Contact")
        if pos < 0:
            return items


# -- CSeq, Content-Type, token lists ----------------------------------------------------------------------------

@dataclass(slots=True)
class CSeq:
    """CSeq: a sequence number below 2**32 and the method (RFC 3261 §20.16)."""

    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


def parse_cseq(value: str) -> CSeq:
    match = _CSEQ_RE.fullmatch(value)
    if match is None:
        raise _bad(f"bad CSeq: {value!r}")
    return CSeq(parse_uint(match.group(1), "CSeq number", 2**32 - 1), match.group(2))


@dataclass(slots=True)
class MediaType:
    """Content-Type: type/subtype (lower-cased) and parameters."""

    type: str
    subtype: str
    params: dict[str, str | None]

    @property
    def mime(self) -> str:
        return f"{self.type}/{self.subtype}"

    def __str__(self) -> str:
        return self.mime


def parse_media_type(value: str) -> MediaType:
    match = _MEDIA_TYPE_RE.match(value)
    if match is None:
        raise _bad(f"bad Content-Type: {value!r}")
    params, pos = _params(value, match.end())
    _after_element(value, pos, False, "Content-Type")
    return MediaType(match.group(1).lower(), match.group(2).lower(), params)


def parse_token_list(value: str, what: str = "header") -> list[str]:
    """Supported/Require/Proxy-Require/Unsupported/Allow: comma-separated tokens (empty items skipped)."""
    tokens = []
    for item in value.split(","):
        item = item.strip(" \t")
        if not item:
            continue
        if not _TOKEN_RE.fullmatch(item):
            raise _bad(f"bad token {item!r} in {what}")
        tokens.append(item)
    return tokens
