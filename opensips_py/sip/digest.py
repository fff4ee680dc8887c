"""HTTP Digest for SIP (RFC 2617, RFC 7616, RFC 3261 §22): parse challenges and credentials, compute responses.

Supported algorithms: MD5, SHA-256 (and SHA-512-256 where hashlib has it), each with its -sess variant;
qop absent (RFC 2069 compatibility), `auth` and `auth-int`. Hashes are hex strings, as OpenSIPS stores HA1
in its subscriber table (`ha1`, `ha1_sha256`).
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from opensips_py.sip.errors import SIPParseError
from opensips_py.sip.headers import quote, unquote

__all__ = [
    "ALGORITHMS", "Challenge", "Credentials", "build_authorization", "build_challenge", "calc_ha1",
    "calc_response", "check_response", "parse_challenge", "parse_credentials",
]

_HASHES = {"MD5": "md5", "SHA-256": "sha256"}
if "sha512_256" in hashlib.algorithms_available:
    _HASHES["SHA-512-256"] = "sha512_256"
ALGORITHMS: tuple[str, ...] = tuple(base + sess for base in _HASHES for sess in ("", "-sess"))

_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_SCHEME_RE = re.compile(rf"[ \t]*({_TOKEN})(?:[ \t]+|$)")
_AUTH_PARAM_RE = re.compile(rf"[ \t]*({_TOKEN})[ \t]*=[ \t]*(\"(?:[^\"\\]|\\[\s\S])*\"|[^,\s\"]*)[ \t]*")
_COMMA_RE = re.compile(r"[ \t]*,")


def _parse_auth(value: str, what: str) -> tuple[str, dict[str, str]]:
    """'Digest a=1, b="x"' -> ('Digest', {'a': '1', 'b': 'x'}); names lower-cased, values unquoted."""
    match = _SCHEME_RE.match(value)
    if match is None:
        raise SIPParseError(400, "Bad Request", f"bad {what}: {value[:40]!r}")
    params: dict[str, str] = {}
    pos = match.end()
    while pos < len(value):
        param = _AUTH_PARAM_RE.match(value, pos)
        if param is None:
            raise SIPParseError(400, "Bad Request", f"bad {what} parameter at {value[pos:pos + 30]!r}")
        params.setdefault(param.group(1).lower(), unquote(param.group(2)) or "")
        pos = param.end()
        comma = _COMMA_RE.match(value, pos)
        if comma is None:
            if pos < len(value):
                raise SIPParseError(400, "Bad Request", f"bad {what}: {value[pos:pos + 30]!r}")
            break
        pos = comma.end()
    return match.group(1), params


@dataclass(frozen=True)
class Challenge:
    """WWW-Authenticate / Proxy-Authenticate: scheme and parameters (unquoted)."""

    scheme: str
    params: dict[str, str]

    realm = property(lambda self: self.params.get("realm"))
    nonce = property(lambda self: self.params.get("nonce"))
    opaque = property(lambda self: self.params.get("opaque"))
    domain = property(lambda self: self.params.get("domain"))

    @property
    def algorithm(self) -> str:
        return self.params.get("algorithm") or "MD5"

    @property
    def qop_options(self) -> list[str]:
        return [q.strip() for q in self.params.get("qop", "").split(",") if q.strip()]

    @property
    def stale(self) -> bool:
        return self.params.get("stale", "").lower() == "true"

    @property
    def is_digest(self) -> bool:
        return self.scheme.lower() == "digest"


@dataclass(frozen=True)
class Credentials:
    """Authorization / Proxy-Authorization: scheme and parameters (unquoted)."""

    scheme: str
    params: dict[str, str]

    username = property(lambda self: self.params.get("username"))
    realm = property(lambda self: self.params.get("realm"))
    nonce = property(lambda self: self.params.get("nonce"))
    uri = property(lambda self: self.params.get("uri"))
    response = property(lambda self: self.params.get("response"))
    cnonce = property(lambda self: self.params.get("cnonce"))
    nc = property(lambda self: self.params.get("nc"))
    qop = property(lambda self: self.params.get("qop"))
    opaque = property(lambda self: self.params.get("opaque"))

    @property
    def algorithm(self) -> str:
        return self.params.get("algorithm") or "MD5"

    @property
    def is_digest(self) -> bool:
        return self.scheme.lower() == "digest"


def parse_challenge(value: str) -> Challenge:
    return Challenge(*_parse_auth(value, "challenge"))


def parse_credentials(value: str) -> Credentials:
    return Credentials(*_parse_auth(value, "credentials"))


def _hash(algorithm: str, text: str | bytes) -> str:
    base = algorithm.upper().removesuffix("-SESS")
    name = _HASHES.get(base)
    if name is None:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}")
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.new(name, data).hexdigest()


def calc_ha1(username: str, realm: str, password: str, algorithm: str = "MD5", *, nonce: str = "",
             cnonce: str = "", ha1: str | None = None) -> str:
    """HA1 = H(username:realm:password); for -sess, H(HA1:nonce:cnonce). A stored `ha1` skips the first step."""
    base = ha1 if ha1 is not None else _hash(algorithm, f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        return _hash(algorithm, f"{base}:{nonce}:{cnonce}")
    return base


def calc_response(ha1: str, nonce: str, method: str, uri: str, *, algorithm: str = "MD5",
                  qop: str | None = None, nc: str = "", cnonce: str = "", body: bytes = b"") -> str:
    """The request-digest (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1)."""
    if qop == "auth-int":
        ha2 = _hash(algorithm, f"{method}:{uri}:{_hash(algorithm, body)}")
    else:
        ha2 = _hash(algorithm, f"{method}:{uri}")
    if qop:
        return _hash(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _hash(algorithm, f"{ha1}:{nonce}:{ha2}")


def check_response(credentials: Credentials, method: str, *, password: str | None = None,
                   ha1: str | None = None, body: bytes = b"") -> bool:
    """True when the credentials' response matches the password (or stored HA1), compared in constant time."""
    params = credentials.params
    if password is None and ha1 is None:
        raise ValueError("need a password or a stored ha1")
    algorithm = credentials.algorithm
    if algorithm.upper().removesuffix("-SESS") not in _HASHES:
        return False
    session_ha1 = calc_ha1(params.get("username", ""), params.get("realm", ""), password or "", algorithm,
                           nonce=params.get("nonce", ""), cnonce=params.get("cnonce", ""), ha1=ha1)
    expected = calc_response(session_ha1, params.get("nonce", ""), method, params.get("uri", ""),
                             algorithm=algorithm, qop=params.get("qop"), nc=params.get("nc", ""),
                             cnonce=params.get("cnonce", ""), body=body)
    return hmac.compare_digest(expected, params.get("response", "").lower())


def build_challenge(realm: str, nonce: str, *, algorithm: str | None = None, qop: str | None = "auth",
                    opaque: str | None = None, stale: bool = False) -> str:
    """A WWW-/Proxy-Authenticate value, parameters in the order OpenSIPS's auth module writes them."""
    parts = [f"realm={quote(realm)}", f"nonce={quote(nonce)}"]
    if opaque is not None:
        parts.append(f"opaque={quote(opaque)}")
    if stale:
        parts.append("stale=true")
    if qop:
        parts.append(f"qop={quote(qop)}")
    if algorithm:
        parts.append(f"algorithm={algorithm}")
    return "Digest " + ", ".join(parts)


def build_authorization(challenge: Challenge, username: str, password: str, method: str, uri: str, *,
                        cnonce: str = "", nc: int = 1, ha1: str | None = None, body: bytes = b"") -> str:
    """An Authorization/Proxy-Authorization value answering `challenge` (uses qop=auth when offered)."""
    algorithm = challenge.algorithm
    realm, nonce = challenge.realm or "", challenge.nonce or ""
    options = challenge.qop_options
    qop = "auth" if "auth" in options else ("auth-int" if "auth-int" in options else None)
    if qop and not cnonce:
        raise ValueError("qop needs a cnonce")
    nc_text = f"{nc:08x}"
    session_ha1 = calc_ha1(username, realm, password, algorithm, nonce=nonce, cnonce=cnonce, ha1=ha1)
    response = calc_response(session_ha1, nonce, method, uri, algorithm=algorithm, qop=qop, nc=nc_text,
                             cnonce=cnonce, body=body)
    parts = [f"username={quote(username)}", f"realm={quote(realm)}", f"nonce={quote(nonce)}",
             f"uri={quote(uri)}", f"response={quote(response)}"]
    if "algorithm" in challenge.params:
        parts.append(f"algorithm={algorithm}")
    if challenge.opaque is not None:
        parts.append(f"opaque={quote(challenge.opaque)}")
    if qop:
        parts += [f"qop={qop}", f"cnonce={quote(cnonce)}", f"nc={nc_text}"]
    return "Digest " + ", ".join(parts)
