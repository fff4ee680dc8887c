"""Nonces of the auth module: what a challenge promises, sealed so that only we can read it back.

OpenSIPS 3.2+ (lib/digest_auth/dauth_nonce.c) keeps no table of the nonces it hands out: a nonce carries its
own expiry time, the qop and algorithm it was issued for and an index, encrypted with the module's `secret`
(AES-256, two ECB blocks: 16 random bytes, then the payload XOR those bytes), base64 of the 32 bytes and a
trailing NUL = 44 characters. We build the same bytes, so a nonce reads the same way here and in OpenSIPS
given the same secret.

Replay protection (modules/auth/index.c) is separate: each challenge reserves a fresh index; the first
request that presents a nonce consumes its index, any later one finds it used and gets "stale". Indexes live
in a ring of MAX_NONCE_INDEX, and only those reserved within the last `nonce_expire` seconds are alive.
"""
from __future__ import annotations

import base64
import binascii
import os
import struct
from collections import OrderedDict
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

NONCE_LEN = 44
AUTH_SECRET_LEN = 32
MAX_NONCE_INDEX = 100000

# parser/digest/digest_parser.h: the numbers a nonce stores
ALG_UNSPEC, ALG_MD5, ALG_MD5SESS, ALG_SHA256, ALG_SHA256SESS, ALG_SHA512_256, ALG_SHA512_256SESS = range(7)
ALG_OTHER = 19
QOP_UNSPEC, QOP_AUTH, QOP_AUTHINT, QOP_AUTHINT_AUTH, QOP_AUTH_AUTHINT, QOP_OTHER = range(6)

ALGORITHM_NAMES = {
    ALG_MD5: "MD5", ALG_MD5SESS: "MD5-sess", ALG_SHA256: "SHA-256", ALG_SHA256SESS: "SHA-256-sess",
    ALG_SHA512_256: "SHA-512-256", ALG_SHA512_256SESS: "SHA-512-256-sess",
}
_ALGORITHMS_BY_NAME = {name.lower(): number for number, name in ALGORITHM_NAMES.items()}


def parse_algorithm(text: str | None) -> int:
    """parse_digest_algorithm(): a credentials' `algorithm` value (case-insensitive) -> ALG_*."""
    if text is None or not text.strip():
        return ALG_UNSPEC
    return _ALGORITHMS_BY_NAME.get(text.strip().lower(), ALG_OTHER)


def parse_qop(text: str | None) -> int:
    """parse_qop() of a credentials' `qop` value: auth, auth-int (case-insensitive) or other."""
    if text is None or text == "":
        return QOP_UNSPEC
    value = text.strip().lower()
    return QOP_AUTH if value == "auth" else QOP_AUTHINT if value == "auth-int" else QOP_OTHER


@dataclass(frozen=True)
class NonceParams:
    """What a nonce says about itself (struct nonce_params)."""

    expires_sec: int
    expires_usec: int
    index: int
    qop: int
    alg: int

    @property
    def expires(self) -> float:
        return self.expires_sec + self.expires_usec / 1e6

    def is_stale(self, now: float, nonce_expire: int) -> bool:
        """is_nonce_stale(): expired, or expiring further ahead than any nonce we issue (a foreign one)."""
        now_sec, now_usec = int(now), int(round((now - int(now)) * 1e6))
        here = (now_sec, now_usec)
        expires = (self.expires_sec, self.expires_usec)
        if here >= expires:
            return True
        return (now_sec + nonce_expire, now_usec) < expires


class Noncer:
    """calc_nonce()/decr_nonce() with one AES-256 key: `secret`, 32 bytes (random when not configured)."""

    def __init__(self, secret: bytes | None = None) -> None:
        key = secret if secret is not None else os.urandom(AUTH_SECRET_LEN)
        if len(key) != AUTH_SECRET_LEN:
            raise ValueError(f"bad secret length, must be exactly {AUTH_SECRET_LEN} bytes (256-bit AES key), "
                             f"given: {len(key)} (changed in OpenSIPS 3.2+)")
        cipher = Cipher(algorithms.AES(key), modes.ECB())
        # ECB without padding: one encryptor/decryptor serves every call through update()
        self._encrypt = cipher.encryptor().update
        self._decrypt = cipher.decryptor().update

    def calc(self, params: NonceParams, iv: bytes | None = None) -> str:
        """The 44-character nonce for `params` (`iv`: the 16 random bytes, for tests)."""
        random_half = iv if iv is not None else os.urandom(AUTH_SECRET_LEN // 2)
        bits = (params.qop & 0x7) | (params.alg & 0x7) << 3 | (params.expires_sec & ((1 << 34) - 1)) << 6 \
            | (params.expires_usec & ((1 << 20) - 1)) << 40
        payload = struct.pack("<iQ", params.index, bits).ljust(AUTH_SECRET_LEN // 2, b"\0")
        sealed = self._encrypt(random_half + _xor(payload, random_half))
        return base64.b64encode(sealed + b"\0").decode("ascii")

    def decrypt(self, nonce: str) -> NonceParams | None:
        """The parameters inside `nonce`, or None when it is not one of ours (wrong length, key, padding)."""
        if len(nonce) != NONCE_LEN:
            return None
        try:
            raw = base64.b64decode(nonce.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            return None
        if len(raw) != AUTH_SECRET_LEN + 1 or raw[-1] != 0:
            return None
        plain = self._decrypt(raw[:AUTH_SECRET_LEN])
        half = AUTH_SECRET_LEN // 2
        payload = _xor(plain[half:], plain[:half])
        index, bits = struct.unpack("<iQ", payload[:12])
        tail = payload[12:]
        if any(tail):  # the zero padding came back: the key is ours
            return None
        usec = (bits >> 40) & ((1 << 20) - 1)
        if usec >= 1_000_000:
            return None
        return NonceParams(expires_sec=(bits >> 6) & ((1 << 34) - 1), expires_usec=usec, index=index,
                           qop=bits & 0x7, alg=(bits >> 3) & 0x7)


def _xor(data: bytes, key: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, key))


class NonceIndex:
    """reserve_nonce_index()/is_nonce_index_valid(): each nonce may be presented once.

    An index is alive from its reservation for `nonce_expire` + 1 seconds (the C keeps one slot per second
    of the nonce lifetime); a reservation that would reuse an index still alive fails, which is the C's
    "no more nonces can be generated" (the challenge then returns -1)."""

    def __init__(self, nonce_expire: int, size: int = MAX_NONCE_INDEX) -> None:
        self.window = nonce_expire + 1
        self.size = size
        self._alive: OrderedDict[int, list] = OrderedDict()  # index -> [reserved at, used]
        self._next = 0

    def _forget_old(self, now: float) -> None:
        alive = self._alive
        while alive:
            index, (reserved, _used) = next(iter(alive.items()))
            if now - reserved < self.window:
                break
            alive.popitem(last=False)

    def reserve(self, now: float) -> int | None:
        self._forget_old(now)
        index = self._next
        if index in self._alive:
            return None
        self._alive[index] = [now, False]
        self._next = (index + 1) % self.size
        return index

    def consume(self, index: int, now: float) -> bool:
        """True the first time an alive index is presented; it is marked used."""
        if not 0 <= index < self.size:
            return False
        self._forget_old(now)
        entry = self._alive.get(index)
        if entry is None or entry[1]:
            return False
        entry[1] = True
        return True

    def __len__(self) -> int:
        return len(self._alive)
