"""The auth module's nonces: OpenSIPS's byte layout (dauth_nonce.c), decoding, staleness, and the one-use
index ring (index.c)."""
from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from opensips_py.modules import _auth_nonce as nonces
from opensips_py.modules.auth import parse_challenge_algorithms, parse_challenge_qop

SECRET = b"0123456789abcdef0123456789abcdef"


def params(**changes) -> nonces.NonceParams:
    values = dict(expires_sec=1_767_225_630, expires_usec=250_000, index=7, qop=nonces.QOP_AUTH,
                  alg=nonces.ALG_SHA256)
    values.update(changes)
    return nonces.NonceParams(**values)


def test_nonce_has_the_c_layout():
    """AES-256-ECB of [16 random bytes][payload XOR those bytes], base64 with a trailing NUL byte; payload =
    int32 index, then qop:3 alg:3 expires_sec:34 expires_usec:20 packed little-endian from bit 0."""
    iv = bytes(range(16))
    nonce = nonces.Noncer(SECRET).calc(params(), iv=iv)
    assert len(nonce) == nonces.NONCE_LEN and nonce.endswith("A")
    raw = base64.b64decode(nonce)
    assert len(raw) == 33 and raw[-1] == 0
    plain = Cipher(algorithms.AES(SECRET), modes.ECB()).decryptor().update(raw[:32])
    assert plain[:16] == iv
    payload = bytes(a ^ b for a, b in zip(plain[16:], iv))
    index, bits = struct.unpack("<iQ", payload[:12])
    assert index == 7 and payload[12:] == b"\0\0\0\0"
    assert bits & 7 == nonces.QOP_AUTH and (bits >> 3) & 7 == nonces.ALG_SHA256
    assert (bits >> 6) & ((1 << 34) - 1) == 1_767_225_630 and bits >> 40 == 250_000


@given(index=st.integers(0, nonces.MAX_NONCE_INDEX - 1), qop=st.integers(0, 4), alg=st.integers(1, 6),
       sec=st.integers(0, (1 << 34) - 1), usec=st.integers(0, 999_999))
@settings(max_examples=100, deadline=800)
def test_nonce_decrypts_to_what_it_was_made_of(index, qop, alg, sec, usec):
    noncer = nonces.Noncer(SECRET)
    made = params(index=index, qop=qop, alg=alg, expires_sec=sec, expires_usec=usec)
    assert noncer.decrypt(noncer.calc(made)) == made


def test_random_halves_make_every_nonce_different():
    noncer = nonces.Noncer(SECRET)
    assert len({noncer.calc(params()) for _ in range(20)}) == 20


@pytest.mark.parametrize("bad", ["", "A" * 43, "B" * 44, "!" * 44, "é" * 44])
def test_foreign_or_malformed_nonces_decode_to_none(bad):
    assert nonces.Noncer(SECRET).decrypt(bad) is None


def test_two_equal_cipher_blocks_read_as_a_nonce_that_expired_in_1970():
    """As in the C: equal blocks decrypt to equal halves, so the payload XORs to zeros and passes the padding
    check; it is then stale by its expiry time."""
    found = nonces.Noncer(SECRET).decrypt("A" * 44)
    assert found == nonces.NonceParams(0, 0, 0, 0, 0) and found.is_stale(1.0, 30)


def test_another_secret_cannot_read_our_nonce():
    nonce = nonces.Noncer(SECRET).calc(params())
    assert nonces.Noncer(b"x" * 32).decrypt(nonce) is None
    assert nonces.Noncer(SECRET).decrypt(nonce) == params()


def test_a_flipped_bit_is_detected():
    nonce = nonces.Noncer(SECRET).calc(params())
    raw = bytearray(base64.b64decode(nonce))
    raw[20] ^= 1
    assert nonces.Noncer(SECRET).decrypt(base64.b64encode(bytes(raw)).decode()) is None


def test_secret_length_is_32_bytes():
    with pytest.raises(ValueError, match="exactly 32"):
        nonces.Noncer(b"short")
    assert nonces.Noncer(None).decrypt(nonces.Noncer(None).calc(params())) is None  # two random keys


@pytest.mark.parametrize("now, stale", [(1_767_225_600.25, False), (1_767_225_630.2, False),
                                        (1_767_225_630.25, True), (1_767_225_700.0, True),
                                        (1_767_225_600.0, True), (1_767_225_500.0, True)])
def test_staleness_is_expired_or_too_far_ahead(now, stale):
    """is_nonce_stale(): expired at `expires`, and stale too when it expires more than nonce_expire ahead."""
    assert params().is_stale(now, nonce_expire=30) is stale


def test_index_is_consumed_once():
    ring = nonces.NonceIndex(nonce_expire=30)
    first, second = ring.reserve(0.0), ring.reserve(0.0)
    assert (first, second) == (0, 1)
    assert ring.consume(second, 1.0) and not ring.consume(second, 1.0)
    assert ring.consume(first, 1.0)


def test_index_never_reserved_or_out_of_range_is_invalid():
    ring = nonces.NonceIndex(nonce_expire=30)
    ring.reserve(0.0)
    assert not ring.consume(5, 0.0)
    assert not ring.consume(-1, 0.0) and not ring.consume(nonces.MAX_NONCE_INDEX, 0.0)


def test_index_dies_after_the_nonce_lifetime():
    ring = nonces.NonceIndex(nonce_expire=30)
    index = ring.reserve(0.0)
    assert not ring.consume(index, 31.0)
    assert len(ring) == 0


def test_a_full_ring_of_live_nonces_refuses_new_ones_then_wraps():
    ring = nonces.NonceIndex(nonce_expire=30, size=3)
    assert [ring.reserve(0.0) for _ in range(3)] == [0, 1, 2]
    assert ring.reserve(1.0) is None
    assert ring.reserve(31.0) == 0  # the old ones died: the ring wraps


@pytest.mark.parametrize("text, qop", [(None, nonces.QOP_UNSPEC), ("", nonces.QOP_UNSPEC),
                                       ("auth", nonces.QOP_AUTH), ("auth-int", nonces.QOP_AUTHINT),
                                       ("auth,auth-int", nonces.QOP_AUTH_AUTHINT),
                                       ("auth-int, auth", nonces.QOP_AUTHINT_AUTH)])
def test_challenge_qop_lists(text, qop):
    assert parse_challenge_qop(text) == qop


def test_challenge_qop_is_case_sensitive_as_fixup_qop():
    with pytest.raises(ValueError):
        parse_challenge_qop("AUTH")


def test_challenge_algorithms():
    assert parse_challenge_algorithms(None) == {nonces.ALG_UNSPEC}
    assert parse_challenge_algorithms("sha-256,MD5") == {nonces.ALG_SHA256, nonces.ALG_MD5}
    with pytest.raises(ValueError):
        parse_challenge_algorithms("MD4")
