"""SIP, SIPS and tel URIs: parse, rebuild, %-escape (RFC 3261 §19.1.2) and compare (§19.1.4).

A `URI` keeps the text it was parsed from (`str(uri)` gives it back unchanged) and exposes the parts a proxy
reads: `user`, `password`, `host`, `port`, `params`, `headers`. The parts stay escaped as written, like
OpenSIPS's `$rU`; `unescape()` decodes them. `replace()` builds a new URI with some parts changed and the rest
copied as written, which is how `$rU`/`$rd`/`$rp` assignments rewrite the Request-URI.

Equality is the RFC 3261 §19.1.4 rule, not string equality: the user part is case-sensitive, the rest is
not; escapes of unreserved characters equal the characters; `user`, `ttl`, `method`, `maddr` and
`transport` must match when either side has them; other parameters only when both have them; headers
must all match. Hashing uses only the parts that must always match, so equal URIs hash alike.

Any other scheme (`http:`, `urn:`, `isbn:` …) parses as an opaque URI: only `scheme` and `opaque` are set.
"""
from __future__ import annotations

import re

from opensips_py.sip.errors import SIPParseError

__all__ = ["URI", "parse_uri", "unescape", "escape", "USER_SAFE", "PASSWORD_SAFE", "PARAM_SAFE", "HEADER_SAFE"]

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_HOST_RE = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_\-.]+)")
_PNAME_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()%\[\]/:&+$]+")
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f<>\"]")
_ESCAPE_RE = re.compile(r"%([0-9A-Fa-f]{2})")

# RFC 3261 §25.1: characters that may appear unescaped in each URI component (besides alphanumerics).
_UNRESERVED = "-_.!~*'()"
USER_SAFE = _UNRESERVED + "&=+$,;?/"
PASSWORD_SAFE = _UNRESERVED + "&=+$,"
PARAM_SAFE = _UNRESERVED + "[]/:&+$"
HEADER_SAFE = _UNRESERVED + "[]/?:+$"
# `reserved` plus '%' itself: their escapes stay escaped when URIs are compared.
_KEEP_ESCAPED = frozenset(";/?:@&=+$,%")

# Parameters that must match when present in either URI (RFC 3261 §19.1.4).
_MUST_MATCH_PARAMS = ("user", "ttl", "method", "maddr", "transport")
_TEL_VISUAL = str.maketrans("", "", "-.()")


def _bad(detail: str) -> SIPParseError:
    return SIPParseError(400, "Bad Request", detail)


def unescape(text: str) -> str:
    """Decode every %HH (as UTF-8; bytes that are not UTF-8 survive as surrogates). '%00' gives '\\x00'."""
    if "%" not in text:
        return text
    raw = bytearray()
    pos = 0
    for match in _ESCAPE_RE.finditer(text):
        raw += text[pos:match.start()].encode("utf-8", "surrogateescape")
        raw.append(int(match.group(1), 16))
        pos = match.end()
    raw += text[pos:].encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "surrogateescape")


def escape(text: str, safe: str = USER_SAFE) -> str:
    """%-escape every character that is neither alphanumeric ASCII nor in `safe` (UTF-8 for non-ASCII)."""
    out = []
    for char in text:
        if (char.isascii() and char.isalnum()) or char in safe:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogateescape"))
    return "".join(out)


def _normalize(text: str | None) -> str | None:
    """Canonical form for comparison: decode escapes of non-reserved characters, upper-case the others."""
    if text is None or "%" not in text:
        return text

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return f"%{match.group(1).upper()}" if char in _KEEP_ESCAPED else char

    return _ESCAPE_RE.sub(fix, text)


def _parse_params(text: str, where: str) -> dict[str, str | None]:
    """';a=b;c' (leading ';' included) -> {'a': 'b', 'c': None}; names lower-cased, first one wins."""
    params: dict[str, str | None] = {}
    for item in text.split(";")[1:]:
        name, eq, value = item.partition("=")
        if not name or not _PNAME_RE.fullmatch(name):
            raise _bad(f"bad {where} parameter {item!r}")
        params.setdefault(name.lower(), value if eq else None)
    return params


def _parse_headers(text: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in text.split("&"):
        name, eq, value = item.partition("=")
        if not name or not eq:
            raise _bad(f"bad URI header {item!r}")
        headers.setdefault(name, value)
    return headers


class URI:
    """A parsed URI. Instances are immutable; `replace()` makes a changed copy."""

    __slots__ = ("raw", "scheme", "user", "password", "host", "port", "params", "headers", "opaque",
                 "_params_text", "_headers_text")

    raw: str
    scheme: str
    user: str | None
    password: str | None
    host: str | None
    port: int | None
    params: dict[str, str | None]
    headers: dict[str, str]
    opaque: str | None

    def __init__(self, raw: str) -> None:
        colon = raw.find(":")
        if colon <= 0 or not _SCHEME_RE.fullmatch(raw, 0, colon):
            raise _bad(f"URI without a scheme: {raw!r}")
        if _FORBIDDEN.search(raw):
            raise _bad(f"whitespace, control character, '<', '>' or '\"' in URI {raw!r}")
        self.raw = raw
        self.scheme = raw[:colon].lower()
        self.user = self.password = self.host = self.opaque = None
        self.port = None
        self.params = {}
        self.headers = {}
        self._params_text = self._headers_text = ""
        rest = raw[colon + 1:]
        if self.scheme in ("sip", "sips"):
            self._parse_sip(rest)
        elif self.scheme == "tel":
            number, semi, params = rest.partition(";")
            if not number:
                raise _bad(f"tel URI without a number: {raw!r}")
            self.user = number
            if semi:
                self._params_text = ";" + params
                self.params = _parse_params(self._params_text, "tel URI")
        else:
            if not rest:
                raise _bad(f"empty URI: {raw!r}")
            self.opaque = rest

    def _parse_sip(self, rest: str) -> None:
        at = rest.find("@")
        if at >= 0:
            userinfo, hostpart = rest[:at], rest[at + 1:]
            user, colon, password = userinfo.partition(":")
            if not user:
                raise _bad(f"empty user part in {self.raw!r}")
            self.user = user
            self.password = password if colon else None
        else:
            hostpart = rest
        match = _HOST_RE.match(hostpart)
        if match is None:
            raise _bad(f"bad host in {self.raw!r}")
        self.host = match.group()
        pos = match.end()
        if pos < len(hostpart) and hostpart[pos] == ":":
            end = pos + 1
            while end < len(hostpart) and hostpart[end].isdigit():
                end += 1
            digits = hostpart[pos + 1:end]
            if not digits or len(digits) > 5 or int(digits) > 65535:
                raise _bad(f"bad port in {self.raw!r}")
            self.port = int(digits)
            pos = end
        tail = hostpart[pos:]
        params, question, headers = tail.partition("?")
        if params and params[0] != ";":
            raise _bad(f"unexpected {params[0]!r} after host in {self.raw!r}")
        if params:
            self._params_text = params
            self.params = _parse_params(params, "URI")
        if question:
            self._headers_text = "?" + headers
            self.headers = _parse_headers(headers)

    # -- reading ---------------------------------------------------------------------------------------------

    @property
    def is_sip(self) -> bool:
        """sip: or sips:."""
        return self.scheme in ("sip", "sips")

    @property
    def hostport(self) -> str:
        if self.host is None:
            return ""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def transport(self) -> str | None:
        """The transport parameter, lower-cased (udp, tcp, tls, ws, wss, sctp)."""
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def lr(self) -> bool:
        """True for a loose-routing URI (RFC 3261 §16.12)."""
        return "lr" in self.params

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def ob(self) -> bool:
        """The `ob` parameter of RFC 5626 §5.3 (the edge proxy keeps the flow for this registration)."""
        return "ob" in self.params

    @property
    def params_text(self) -> str:
        """The parameters exactly as written, with their leading ';' ('' when none)."""
        return self._params_text

    @property
    def headers_text(self) -> str:
        """The headers exactly as written, with their leading '?' ('' when none)."""
        return self._headers_text

    # -- building ---------------------------------------------------------------------------------------------

    _KEEP = object()

    def replace(self, *, scheme: str | None = None, user: object = _KEEP, password: object = _KEEP,
                host: str | None = None, port: object = _KEEP, params: str | None = None,
                headers: str | None = None) -> URI:
        """A new SIP/SIPS/tel URI with the given parts changed (user/password/port None removes them).

        `params` and `headers` are raw text with their leading ';' / '?' (or '' to drop them).
        """
        if not self.is_sip and self.scheme != "tel":
            raise ValueError(f"cannot rebuild a {self.scheme}: URI")
        new_scheme = scheme if scheme is not None else self.scheme
        new_user = self.user if user is URI._KEEP else user
        new_password = self.password if password is URI._KEEP else password
        new_port = self.port if port is URI._KEEP else port
        new_params = self._params_text if params is None else params
        new_headers = self._headers_text if headers is None else headers
        if self.scheme == "tel" and new_scheme == "tel":
            return URI(f"tel:{new_user}{new_params}")
        userinfo = ""
        if new_user:
            userinfo = f"{new_user}:{new_password}@" if new_password is not None else f"{new_user}@"
        new_host = host if host is not None else (self.host or "")
        hostport = f"{new_host}:{new_port}" if new_port is not None else new_host
        return URI(f"{new_scheme}:{userinfo}{hostport}{new_params}{new_headers}")

    def with_param(self, name: str, value: str | None = None) -> URI:
        """Add (or replace) one URI parameter, keeping the others as written."""
        kept = [item for item in self._params_text.split(";")[1:] if item.partition("=")[0].lower() != name.lower()]
        kept.append(name if value is None else f"{name}={value}")
        return self.replace(params="".join(";" + item for item in kept))

    def without_params(self, *names: str) -> URI:
        drop = {name.lower() for name in names}
        kept = [item for item in self._params_text.split(";")[1:] if item.partition("=")[0].lower() not in drop]
        return self.replace(params="".join(";" + item for item in kept))

    # -- comparison (RFC 3261 §19.1.4) ------------------------------------------------------------------------

    def _key(self) -> tuple[object, ...]:
        if self.is_sip:
            return (self.scheme, _normalize(self.user), _normalize(self.password), (self.host or "").lower(),
                    self.port)
        if self.scheme == "tel":
            return ("tel", (self.user or "").translate(_TEL_VISUAL).lower())
        return (self.scheme, self.opaque)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, URI):
            return NotImplemented
        if self._key() != other._key():
            return False
        if self.scheme == "tel":
            return _lower_params(self.params) == _lower_params(other.params)
        if not self.is_sip:
            return True
        mine, theirs = _lower_params(self.params), _lower_params(other.params)
        for name in _MUST_MATCH_PARAMS:
            if mine.get(name, _ABSENT) != theirs.get(name, _ABSENT):
                return False
        for name, value in mine.items():
            if name in theirs and theirs[name] != value:
                return False
        return _normal_headers(self.headers) == _normal_headers(other.headers)

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.raw

    def __repr__(self) -> str:
        return f"URI({self.raw!r})"


_ABSENT = object()


def _lower_params(params: dict[str, str | None]) -> dict[str, str | None]:
    return {(_normalize(k) or "").lower(): (_normalize(v) or "").lower() if v is not None else None
            for k, v in params.items()}


def _normal_headers(headers: dict[str, str]) -> dict[str, str]:
    return {(unescape(k)).lower(): unescape(v) for k, v in headers.items()}


def parse_uri(text: str) -> URI:
    """Parse a URI; raises SIPParseError(400) when it is malformed."""
    return URI(text)
