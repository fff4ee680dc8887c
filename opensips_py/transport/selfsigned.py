"""A self-signed certificate for a TLS server domain whose certificate and key files do not exist yet.

OpenSIPS refuses to start when a domain's files are missing; opensips-py creates them instead, so that the
example config (tls: and wss: sockets) runs on a fresh machine. A browser will not trust such a certificate
until the user accepts it (or a real one replaces it): it is a start-up convenience, not a PKI.

The key is ECDSA P-256 (fast to make, accepted by every TLS 1.2/1.3 stack and browser), written with mode 0600;
the certificate names the socket's host (CN and subjectAltName), is valid for one year, and is an end-entity
certificate (CA:FALSE, serverAuth/clientAuth): Firefox refuses a CA certificate used as a server's own. Files
are created exclusively: an existing file is never overwritten.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=365)
DEFAULT_NAME = "opensips-py"


class CertificateError(Exception):
    """The files cannot be created (a directory not writable, only one of the two files present…)."""


@dataclass(frozen=True)
class GeneratedCertificate:
    certificate: Path
    private_key: Path
    name: str
    not_after: datetime.datetime


def _subject_alt_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `mode`; fail if it exists (O_EXCL: never overwrite, even in a race)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def generate_self_signed(certificate: str | Path, private_key: str | Path, name: str = DEFAULT_NAME,
                         now: datetime.datetime | None = None) -> GeneratedCertificate:
    """Write a new key and a self-signed certificate for `name`; the directories are created as needed."""
    cert_path, key_path = Path(certificate), Path(private_key)
    if cert_path.exists() or key_path.exists():
        raise CertificateError(f"not generating a certificate: {cert_path if cert_path.exists() else key_path} "
                               "exists already")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEFAULT_NAME)])
    not_after = now + VALIDITY
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))  # a client clock slightly behind
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([_subject_alt_name(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    try:
        key_path.parent.mkdir(parents=True, exist_ok=True)
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        _write_new(key_path, key_pem, 0o600)
        try:
            _write_new(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        except OSError:
            key_path.unlink(missing_ok=True)  # ours, just made: do not leave half a pair behind
            raise
    except OSError as exc:
        raise CertificateError(f"cannot write {cert_path} / {key_path}: {exc}") from exc
    return GeneratedCertificate(cert_path, key_path, name, not_after)
