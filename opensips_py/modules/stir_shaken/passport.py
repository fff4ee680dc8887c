"""The PASSporT (RFC 8225, SHAKEN extension of RFC 8588) as OpenSIPS's stir_shaken builds and reads it.

Signing and verifying both work on OpenSIPS's own canonical form (stir_shaken.c build_unsigned_pport): the
header `{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":…}` and the claims
`{"attest":…,"dest":{"tn":[…]},"iat":…,"orig":{"tn":…},"origid":…}`, compact JSON, base64url without
padding. The verifier rebuilds that form from the claims it accepted (orig/dest taken from the SIP message),
so a token whose JSON differs in key order or spacing does not verify, as in OpenSIPS.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

ALG = "ES256"
PPT = "shaken"
TYP = "passport"
RAW_SIGNATURE_LEN = 64  # r and s, 32 bytes each (P-256)


class InvalidIdentity(Exception):
    """The Identity header is not a PASSporT (stir_shaken.c parse_identity_hf's "invalid_hdr": -4)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """base64url without padding; a length of 4n+1 cannot be valid (dec_base64url_nopad's -1)."""
    if len(text) % 4 == 1:
        raise InvalidIdentity("bad base64url length")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidIdentity(f"bad base64url: {exc}") from exc


def _compact(value: Any) -> str:
    # cJSON_PrintUnformatted: no spaces, UTF-8 kept, control characters as \u00xx, '/' not escaped
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def unsigned_passport(iat: int, attest: str, x5u: str, orig_tn: str, dest_tn: str, origid: str) -> str:
    """`header.payload` of OpenSIPS's canonical PASSporT, the text the ES256 signature covers."""
    header = {"alg": ALG, "ppt": PPT, "typ": TYP, "x5u": x5u}
    payload = {"attest": attest, "dest": {"tn": [dest_tn]}, "iat": int(iat), "orig": {"tn": orig_tn},
               "origid": origid}
    return b64url(_compact(header).encode()) + "." + b64url(_compact(payload).encode())


def sign(private_key: ec.EllipticCurvePrivateKey, signing_input: str) -> str:
    """The base64url raw (r || s) ES256 signature of `signing_input` (RFC 7518 §3.4)."""
    r, s = decode_dss_signature(private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    if r.bit_length() > 256 or s.bit_length() > 256:
        raise ValueError("the key is not a P-256 key")
    return b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def signature_valid(public_key: ec.EllipticCurvePublicKey, signing_input: str, raw_signature: bytes) -> bool:
    """Whether a raw (r || s) ES256 signature verifies; the caller has checked its 64-byte length."""
    r = int.from_bytes(raw_signature[:32], "big")
    s = int.from_bytes(raw_signature[32:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def identity_value(token: str, x5u: str) -> str:
    """The Identity header value OpenSIPS writes: `token;info=<x5u>;alg=ES256;ppt=shaken`."""
    return f"{token};info=<{x5u}>;alg={ALG};ppt={PPT}"


# ------------------------------------------------------------------------------------------------ parsing

def _item(obj: Any, key: str) -> Any:
    """cJSON_GetObjectItem: the first member whose name matches case-insensitively, else None."""
    if not isinstance(obj, dict):
        return None
    for name, value in obj.items():
        if name.lower() == key:
            return value
    return None


def _json(text: bytes) -> Any:
    """cJSON_Parse: one JSON value at the start of a NUL-terminated string (what follows it is ignored)."""
    raw = text.split(b"\x00", 1)[0].decode("utf-8", errors="surrogateescape")
    try:
        value, _ = json.JSONDecoder().raw_decode(raw.lstrip(" \t\r\n"))
    except ValueError as exc:
        raise InvalidIdentity(f"bad JSON: {exc}") from exc
    return value


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class ParsedIdentity:
    """One Identity header taken apart (stir_shaken.c struct parsed_identity)."""

    header: Any                      # the decoded PASSporT header JSON
    payload: Any                     # the decoded claims JSON
    header_text: str                 # decoded header, as $identity(header) shows it
    payload_text: str                # decoded payload, as $identity(payload) shows it
    signature: bytes
    alg_param: str | None = None     # the header field's ;alg= and ;ppt= parameters (None when absent)
    ppt_param: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def x5u(self) -> Any:
        return _item(self.header, "x5u")

    @property
    def attest(self) -> Any:
        return _item(self.payload, "attest")

    @property
    def iat(self) -> Any:
        return _item(self.payload, "iat")

    @property
    def origid(self) -> Any:
        return _item(self.payload, "origid")

    @property
    def orig_tn(self) -> Any:
        orig = _item(self.payload, "orig")
        return _item(orig, "tn") if isinstance(orig, dict) else None

    @property
    def dest_tn(self) -> Any:
        dest = _item(self.payload, "dest")
        numbers = _item(dest, "tn") if isinstance(dest, dict) else None
        return numbers[0] if isinstance(numbers, list) and numbers else None

    def claims_ok(self) -> bool:
        """check_passport_claims(): the header fields with their fixed values, and every claim present,
        of its type and not empty (attest's value itself is not checked: any non-empty string passes)."""
        for key, expected in (("alg", ALG), ("ppt", PPT), ("typ", TYP)):
            if _string(_item(self.header, key)) != expected:
                return False
        for value in (self.x5u, self.attest, self.dest_tn):
            if not _string(value):
                return False
        if not _number(self.iat):
            return False
        return bool(_string(self.orig_tn)) and bool(_string(self.origid))


def _header_params(text: str) -> dict[str, str | None]:
    """The `;name=value` parameters after the signature (parse_params, CLASS_ANY); quoted values unquoted."""
    params: dict[str, str | None] = {}
    for part in text.split(";"):
        part = part.strip(" \t")
        if not part:
            continue
        name, sep, value = part.partition("=")
        value = value.strip(" \t")
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        params.setdefault(name.strip(" \t"), value if sep else None)
    return params


def parse_identity(value: str) -> ParsedIdentity:
    """`header.payload.signature;params` → ParsedIdentity; InvalidIdentity where OpenSIPS answers -4."""
    header_b64, sep, rest = value.partition(".")
    if not sep or not header_b64:
        raise InvalidIdentity("PASSporT header not found")
    payload_b64, sep, rest = rest.partition(".")
    if not sep or not payload_b64:
        raise InvalidIdentity("PASSporT payload not found")
    signature_b64, sep, params_text = rest.partition(";")
    if not sep or not signature_b64:
        raise InvalidIdentity("signature not found")
    params = _header_params(params_text)
    if not params:
        raise InvalidIdentity("header parameters missing")
    header_bytes = b64url_decode(header_b64)
    header = _json(header_bytes)
    payload_bytes = b64url_decode(payload_b64)
    payload = _json(payload_bytes)
    signature = b64url_decode(signature_b64)
    return ParsedIdentity(
        header=header, payload=payload,
        header_text=header_bytes.split(b"\x00", 1)[0].decode("utf-8", errors="replace"),
        payload_text=payload_bytes.split(b"\x00", 1)[0].decode("utf-8", errors="replace"),
        signature=signature, alg_param=params.get("alg"), ppt_param=params.get("ppt"), params=params)
