"""The relay's DTLS identity: one self-signed certificate per process and its fingerprints.

rtpengine generates an EC P-256 certificate at start (daemon/dtls.c) and prints its fingerprint with
the hash the peer used, else SHA-256. Our certificate is real (made with `cryptography`), so the
fingerprint we advertise is the one a DTLS handshake will present once DTLS-SRTP is wired in; until
then `DtlsSeam` marks where a stream will hand its packets to a DTLS endpoint.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# rtpengine's order: the first one is used when the peer gave no fingerprint (daemon/dtls.c hash_funcs).
HASH_FUNCTIONS: dict[str, hashes.HashAlgorithm] = {
    "sha-256": hashes.SHA256(),
    "sha-1": hashes.SHA1(),  # noqa: S303 - DTLS fingerprint hash names are negotiated, not our choice
    "sha-224": hashes.SHA224(),
    "sha-384": hashes.SHA384(),
    "sha-512": hashes.SHA512(),
}


@dataclass(frozen=True)
class DtlsCertificate:
    """A certificate, its private key (PEM) and its fingerprint per hash function."""

    certificate_pem: bytes
    private_key_pem: bytes
    fingerprints: dict[str, str]

    def fingerprint(self, hash_name: str | None) -> tuple[str, str]:
        """(hash name, 'AB:CD:…') for the requested hash, falling back to SHA-256."""
        name = (hash_name or "").lower()
        if name not in self.fingerprints:
            name = next(iter(self.fingerprints))
        return name, self.fingerprints[name]


def generate_certificate(common_name: str = "opensips-py-rtpengine", days: int = 30) -> DtlsCertificate:
    """A fresh EC P-256 self-signed certificate, as rtpengine makes at start."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    fingerprints = {
        name: ":".join(f"{byte:02X}" for byte in certificate.fingerprint(algorithm))
        for name, algorithm in HASH_FUNCTIONS.items()
    }
    return DtlsCertificate(
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()),
        fingerprints,
    )


class DtlsSeam(Protocol):
    """What a stream will call once DTLS-SRTP acts (later issue): feed DTLS records, get SRTP keys."""

    def handshake_datagram(self, data: bytes, source: tuple[str, int]) -> None: ...

    def protect(self, packet: bytes) -> bytes: ...

    def unprotect(self, packet: bytes) -> bytes: ...
