"""Header names: compact forms, canonical keys and the spelling used when we write a header.

Header names are case-insensitive (RFC 3261 §7.3.1) and many have a one-letter compact form (§7.3.3 and the
extensions that defined more). Internally every header is known by its *key*: the full name in lower case
(`via`, `call-id`, `content-length`). `header_key()` maps any spelling to its key and caches the answer,
because the same few spellings arrive in every message.
"""
from __future__ import annotations

import re

from opensips_py.sip.errors import SIPParseError

__all__ = ["COMPACT_FORMS", "header_key", "display_name_of"]

# compact letter -> full name (RFC 3261 §7.3.3, RFC 3265, 3515, 3841, 3892, 4028, 4474).
COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact", "b": "Referred-By", "c": "Content-Type", "d": "Request-Disposition",
    "e": "Content-Encoding", "f": "From", "i": "Call-ID", "j": "Reject-Contact", "k": "Supported",
    "l": "Content-Length", "m": "Contact", "n": "Identity-Info", "o": "Event", "r": "Refer-To",
    "s": "Subject", "t": "To", "u": "Allow-Events", "v": "Via", "x": "Session-Expires", "y": "Identity",
}

# key -> how we spell the header when we write it.
_DISPLAY: dict[str, str] = {name.lower(): name for name in COMPACT_FORMS.values()}
_DISPLAY.update({name.lower(): name for name in (
    "Max-Forwards", "CSeq", "Route", "Record-Route", "Path", "Expires", "Authorization",
    "Proxy-Authorization", "WWW-Authenticate", "Proxy-Authenticate", "Require", "Proxy-Require",
    "Unsupported", "Allow", "User-Agent", "Server", "Warning", "Min-Expires", "Retry-After",
    "Accept", "Organization", "Date", "Timestamp", "Priority", "P-Asserted-Identity",
    "P-Preferred-Identity", "Privacy", "Diversion", "Remote-Party-ID", "Replaces", "RSeq", "RAck",
    "Min-SE", "Content-Disposition", "Reason", "Security-Client", "Security-Server", "Security-Verify",
)})

_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_CACHE: dict[str, str] = {}
_CACHE_LIMIT = 4096


def header_key(name: str) -> str:
    """The canonical key of a header name as written (`v` -> `via`, `Content-Length  ` -> `content-length`).

    Raises SIPParseError(400) if the name is not a token (after trailing whitespace is removed).
    """
    key = _CACHE.get(name)
    if key is not None:
        return key
    stripped = name.rstrip(" \t")
    if not _TOKEN_RE.fullmatch(stripped):
        raise SIPParseError(400, "Bad Request", f"bad header name {name!r}")
    lower = stripped.lower()
    full = COMPACT_FORMS.get(lower)
    key = full.lower() if full is not None else lower
    if len(_CACHE) < _CACHE_LIMIT:
        _CACHE[name] = key
    return key


def display_name_of(key: str) -> str:
    """How to spell a header we add: the registered spelling, else each word capitalised."""
    name = _DISPLAY.get(key)
    if name is None:
        name = "-".join(part[:1].upper() + part[1:] for part in key.split("-"))
    return name
