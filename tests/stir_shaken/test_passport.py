"""The PASSporT as OpenSIPS's stir_shaken writes and reads it: canonical JSON, ES256 raw signatures, Identity
header parsing and the claim checks (stir_shaken.c build_unsigned_pport, parse_identity_hf,
check_passport_claims)."""
from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from opensips_py.modules.stir_shaken.passport import (
    InvalidIdentity, b64url, identity_value, parse_identity, sign, signature_valid, unsigned_passport,
)


def _decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_unsigned_passport_is_opensips_canonical_compact_json():
    text = unsigned_passport(1700000000, "A", "https://cert.example/x.pem", "33612345678", "33987654321", "id-1")
    header, payload = text.split(".")
    assert "=" not in text
    assert _decode(header) == b'{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"https://cert.example/x.pem"}'
    assert _decode(payload) == (b'{"attest":"A","dest":{"tn":["33987654321"]},"iat":1700000000,'
                                b'"orig":{"tn":"33612345678"},"origid":"id-1"}')


def test_es256_raw_signature_is_64_bytes_and_verifies_only_unchanged_input():
    key = ec.generate_private_key(ec.SECP256R1())
    signing_input = unsigned_passport(1, "B", "u", "1234", "5678", "o")
    signature = _decode(sign(key, signing_input))
    assert len(signature) == 64
    assert signature_valid(key.public_key(), signing_input, signature)
    assert not signature_valid(key.public_key(), signing_input + "x", signature)
    other = ec.generate_private_key(ec.SECP256R1())
    assert not signature_valid(other.public_key(), signing_input, signature)


def test_identity_value_has_info_alg_ppt_params_in_opensips_order():
    assert identity_value("a.b.c", "https://x/c.pem") == "a.b.c;info=<https://x/c.pem>;alg=ES256;ppt=shaken"


def _token(header: dict, payload: dict, signature: bytes = b"\x01" * 64) -> str:
    return ".".join((b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()), b64url(signature)))


HEADER = {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": "https://x/c.pem"}
PAYLOAD = {"attest": "A", "dest": {"tn": ["222"]}, "iat": 5, "orig": {"tn": "111"}, "origid": "o"}


def test_parse_identity_reads_claims_params_and_signature():
    parsed = parse_identity(_token(HEADER, PAYLOAD) + ";info=<https://x/c.pem>;alg=ES256;ppt=\"shaken\"")
    assert (parsed.attest, parsed.orig_tn, parsed.dest_tn, parsed.iat, parsed.origid, parsed.x5u) == (
        "A", "111", "222", 5, "o", "https://x/c.pem")
    assert (parsed.alg_param, parsed.ppt_param) == ("ES256", "shaken")
    assert parsed.params["info"] == "<https://x/c.pem>"
    assert parsed.signature == b"\x01" * 64
    assert parsed.claims_ok()


@pytest.mark.parametrize("value", [
    "nodots;ppt=shaken",                      # no PASSporT header separator
    ".e30.c2ln;ppt=shaken",                   # empty header
    "e30.e30;ppt=shaken",                     # no signature part
    "e30.e30.c2ln",                           # no parameters at all
    "e30.e30.c2ln;",                          # an empty parameter list
    "bm90IGpzb24.e30.c2ln;ppt=shaken",        # header is not JSON
    "e30.e30.a;ppt=shaken",                   # 4n+1 base64url characters
])
def test_malformed_identity_headers_are_invalid(value):
    with pytest.raises(InvalidIdentity):
        parse_identity(value)


@pytest.mark.parametrize("change", [
    lambda h, p: h.update(alg="ES384"), lambda h, p: h.pop("ppt"), lambda h, p: h.update(typ="JWT"),
    lambda h, p: h.update(x5u=""), lambda h, p: p.update(attest=""), lambda h, p: p.update(iat="5"),
    lambda h, p: p.update(dest={"tn": "222"}), lambda h, p: p.update(orig={"tn": ["111"]}),
    lambda h, p: p.pop("origid"),
])
def test_claim_checks_refuse_missing_or_mistyped_claims(change):
    header, payload = dict(HEADER), json.loads(json.dumps(PAYLOAD))
    change(header, payload)
    assert not parse_identity(_token(header, payload) + ";ppt=shaken").claims_ok()


def test_attest_value_itself_is_not_checked_and_claim_names_ignore_case():
    header = {k.upper(): v for k, v in HEADER.items()}
    payload = dict(PAYLOAD, attest="W")
    assert parse_identity(_token(header, payload) + ";ppt=shaken").claims_ok()
