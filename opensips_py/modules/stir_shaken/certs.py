"""Certificates for STIR/SHAKEN: loading what the script hands over, validity periods, and the chain check
against the trusted CAs (ca_list/ca_dir) and revocation lists (crl_list/crl_dir).

OpenSIPS does this with an OpenSSL X509_STORE (stir_shaken.c init_cert_validation, validate_certificate);
here the chain is built and checked by `cryptography`'s X.509 verifier with the extension requirements
relaxed to what OpenSSL's default verification asks (a CA must say it is one; nothing is required of the
end-entity certificate), at the current time as X509_verify_cert uses it.
"""
from __future__ import annotations

import datetime
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ObjectIdentifier
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError

TN_AUTH_LIST_OID = ObjectIdentifier("1.3.6.1.5.5.7.1.26")  # RFC 8226 TNAuthList

# OpenSSL's default locations (X509_STORE_set_default_paths) on Debian
SYSTEM_CA_FILE = Path("/etc/ssl/certs/ca-certificates.crt")
SYSTEM_CA_DIR = Path("/etc/ssl/certs")

_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
_PEM_CRL = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.S)
_HASHED_NAME = re.compile(r"^[0-9a-f]{8}\.r?\d+$")  # OpenSSL's hashed-directory file names (c_rehash)


class CertError(Exception):
    """The certificate or key text does not load (OpenSIPS: "Failed to load certificate", -1)."""


def load_certificates(text: str) -> list[x509.Certificate]:
    """Every PEM certificate in `text`, in order; the first is the end-entity one (load_cert)."""
    certs = []
    for block in _PEM_CERT.findall(text.encode()):
        try:
            certs.append(x509.load_pem_x509_certificate(block))
        except ValueError as exc:
            if not certs:
                raise CertError(f"bad certificate: {exc}") from exc
    if not certs:
        raise CertError("no certificate")
    return certs


def load_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise CertError(f"bad private key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertError("the private key is not an EC key (ES256 needs P-256)")
    return key


def valid_at(cert: x509.Certificate, when: float) -> bool:
    """check_cert_validity(): notBefore < when < notAfter, both strict."""
    moment = datetime.datetime.fromtimestamp(when, datetime.timezone.utc)
    return cert.not_valid_before_utc < moment < cert.not_valid_after_utc


def has_tn_auth_list(cert: x509.Certificate) -> bool:
    return any(ext.oid == TN_AUTH_LIST_OID for ext in cert.extensions)


def _read_pem_blocks(path: Path, pattern: re.Pattern) -> list[bytes]:
    try:
        return pattern.findall(path.read_bytes())
    except OSError:
        return []


def _dir_files(directory: Path) -> list[Path]:
    try:
        return sorted(p for p in directory.iterdir() if _HASHED_NAME.match(p.name) and p.is_file())
    except OSError:
        return []


@dataclass
class TrustStore:
    """The trusted CAs and the CRLs (OpenSIPS's X509_STORE)."""

    cas: list[x509.Certificate] = field(default_factory=list)
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    check_crls: bool = False

    def add_ca_locations(self, ca_file: str | None, ca_dir: str | None) -> None:
        """X509_STORE_load_locations for CAs; raises CertError when ca_file holds no certificate (OpenSSL
        fails then) or a named file cannot be read."""
        if ca_file:
            blocks = _read_pem_blocks(Path(ca_file), _PEM_CERT)
            if not blocks:
                raise CertError(f"no CA certificate in {ca_file}")
            self.cas += _parse_certs(blocks)
        if ca_dir:
            if not Path(ca_dir).is_dir():
                raise CertError(f"{ca_dir} is not a directory")
            for path in _dir_files(Path(ca_dir)):
                self.cas += _parse_certs(_read_pem_blocks(path, _PEM_CERT))

    def add_system_cas(self) -> None:
        """X509_STORE_set_default_paths: the system's CA bundle and hashed directory."""
        self.cas += _parse_certs(_read_pem_blocks(SYSTEM_CA_FILE, _PEM_CERT))

    def add_crl_locations(self, crl_file: str | None, crl_dir: str | None) -> None:
        if crl_file:
            blocks = _read_pem_blocks(Path(crl_file), _PEM_CRL)
            if not blocks:
                raise CertError(f"no CRL in {crl_file}")
            self.crls += _parse_crls(blocks)
        if crl_dir:
            if not Path(crl_dir).is_dir():
                raise CertError(f"{crl_dir} is not a directory")
            for path in _dir_files(Path(crl_dir)):
                self.crls += _parse_crls(_read_pem_blocks(path, _PEM_CRL))
        self.check_crls = True  # X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL

    def verify(self, leaf: x509.Certificate, untrusted: list[x509.Certificate], when: float) -> bool:
        """X509_verify_cert: a chain from `leaf` to a trusted CA, every certificate valid at `when`, and,
        with CRLs configured, none revoked (each non-root certificate needs a current CRL of its issuer)."""
        if not self.cas:
            return False
        moment = datetime.datetime.fromtimestamp(when, datetime.timezone.utc)
        ca_policy = ExtensionPolicy.permit_all().require_present(x509.BasicConstraints, Criticality.AGNOSTIC,
                                                                  _must_be_ca)
        verifier = (PolicyBuilder().store(Store(self.cas)).time(moment)
                    .extension_policies(ca_policy=ca_policy, ee_policy=ExtensionPolicy.permit_all())
                    .build_client_verifier())
        try:
            chain = verifier.verify(leaf, [c for c in untrusted if c != leaf]).chain
        except VerificationError:
            return False
        if self.check_crls:
            return all(self._not_revoked(cert, issuer, moment) for cert, issuer in zip(chain, chain[1:]))
        return True

    def _not_revoked(self, cert: x509.Certificate, issuer: x509.Certificate, moment: datetime.datetime) -> bool:
        for crl in self.crls:
            if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer.public_key()):
                continue
            if crl.last_update_utc > moment or (crl.next_update_utc is not None and crl.next_update_utc < moment):
                return False  # "CRL is not yet valid" / "CRL has expired"
            return crl.get_revoked_certificate_by_serial_number(cert.serial_number) is None
        return False  # "unable to get certificate CRL"


def _must_be_ca(policy, cert, extension) -> None:
    if extension is None or not extension.ca:
        raise ValueError("basicConstraints does not mark a CA")


def _parse_certs(blocks: list[bytes]) -> list[x509.Certificate]:
    certs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few system CAs have non-positive serial numbers
        for block in blocks:
            try:
                certs.append(x509.load_pem_x509_certificate(block))
            except ValueError:
                continue  # a certificate cryptography refuses cannot anchor a chain here
    return certs


def _parse_crls(blocks: list[bytes]) -> list[x509.CertificateRevocationList]:
    crls = []
    for block in blocks:
        try:
            crls.append(x509.load_pem_x509_crl(block))
        except ValueError:
            continue
    return crls
