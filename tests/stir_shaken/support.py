"""Test PKI for STIR/SHAKEN: a CA and signing certificates made with `cryptography` (nothing secret here)."""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

TN_AUTH_LIST = ObjectIdentifier("1.3.6.1.5.5.7.1.26")
TN_AUTH_LIST_VALUE = bytes.fromhex("3008a00616043130303130")  # SPC "1001", as the SIPssert certificates


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


@dataclass
class Signer:
    """A signing (end-entity) certificate and its key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> str:
        return pem(self.cert)

    @property
    def key_pem(self) -> str:
        return key_pem(self.key)


class StiCA:
    """A self-signed STIR/SHAKEN CA issuing signing certificates."""

    def __init__(self, cn: str = "Test STI-CA"):
        now = datetime.datetime.now(datetime.timezone.utc)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = _name(cn)
        self.cert = (x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=30))
                     .not_valid_after(now + datetime.timedelta(days=3650))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))

    @property
    def pem(self) -> str:
        return pem(self.cert)

    def issue(self, *, days_before: float = 1, days_after: float = 365, tn_auth_list: bool = True,
              key: ec.EllipticCurvePrivateKey | None = None, serial: int | None = None) -> Signer:
        """A signing certificate valid from `days_before` ago until `days_after` from now (negative values
        move the window into the past or the future)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        key = key or ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(_name("SHAKEN")).issuer_name(self.name)
                   .public_key(key.public_key()).serial_number(serial or x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=days_before))
                   .not_valid_after(now + datetime.timedelta(days=days_after)))
        if tn_auth_list:
            builder = builder.add_extension(x509.UnrecognizedExtension(TN_AUTH_LIST, TN_AUTH_LIST_VALUE),
                                            critical=False)
        return Signer(builder.sign(self.key, hashes.SHA256()), key)

    def crl(self, *revoked_serials: int, next_update_days: float = 7) -> str:
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.name)
                   .last_update(now - datetime.timedelta(days=1))
                   .next_update(now + datetime.timedelta(days=next_update_days)))
        for serial in revoked_serials:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build())
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()
