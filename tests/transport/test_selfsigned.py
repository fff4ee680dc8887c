"""tls_mgm's self-signed certificate: made once where a server domain's files are missing, reused after, never
written over an existing file; a TLS client can use it as its trust anchor."""
from __future__ import annotations

import datetime
import ipaddress
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from opensips_py.runtime import ProxyCore, StartupFailure
from opensips_py.runtime.log import Logger
from opensips_py.runtime.resolver import Resolver
from opensips_py.transport.selfsigned import CertificateError, generate_self_signed
from tests.transport.support import (
    LOOPBACK, MODULES, ROUTE, client_context, free_ports, options_over_tls, proxy,
)


def config(tls_socket: str, cert: str, key: str) -> str:
    return (f"socket = {tls_socket}\n{MODULES}"
            'modparam("tls_mgm", "server_domain", "default")\n'
            'modparam("tls_mgm", "match_ip_address", "[default]*")\n'
            f'modparam("tls_mgm", "certificate", "[default]{cert}")\n'
            f'modparam("tls_mgm", "private_key", "[default]{key}")\n'
            'modparam("tls_mgm", "verify_cert", "[default]0")\n'
            'modparam("tls_mgm", "require_cert", "[default]0")\n' + ROUTE)


def build(text: str, log: list[str]) -> ProxyCore:
    return ProxyCore.from_text(text, name="selfsigned.cfg", logger=Logger(4, sink=log.append),
                               resolver=Resolver(system=False))


def common_name(path) -> str:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_missing_files_get_a_self_signed_certificate_once_then_it_is_reused(tmp_path):
    (tls,) = free_ports(1)
    cert, key = tmp_path / "etc" / "tls" / "cert.pem", tmp_path / "etc" / "tls" / "key.pem"
    text = config(f"tls:{LOOPBACK}:{tls}", str(cert), str(key))
    first_log: list[str] = []
    build(text, first_log)
    made = [line for line in first_log if "generated a self-signed" in line]
    assert len(made) == 1 and "NOTICE:tls_mgm:" in made[0] and str(cert) in made[0]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    assert common_name(cert) == LOOPBACK  # the socket's host
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(LOOPBACK)]
    validity = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert datetime.timedelta(days=364) < validity < datetime.timedelta(days=366)
    assert isinstance(certificate.public_key(), ec.EllipticCurvePublicKey)
    before = (cert.read_bytes(), key.read_bytes())

    with proxy(text) as running:  # built again: the same files, served
        assert options_over_tls(tls, client_context(trust=cert)).startswith(b"SIP/2.0 200 OK over tls")
    assert not any("generated" in line for line in running.log)
    assert (cert.read_bytes(), key.read_bytes()) == before


def test_a_wildcard_socket_gets_a_certificate_named_opensips_py(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    build(config("wss:0.0.0.0:45443", str(cert), str(key)), [])
    assert common_name(cert) == "opensips-py"


def test_one_file_without_the_other_refuses_to_start_and_nothing_is_written(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    key.write_text("my own key\n")
    with pytest.raises(StartupFailure) as failure:
        build(config(f"tls:{LOOPBACK}:45061", str(cert), str(key)), [])
    assert f"{key} exists but {cert} does not" in failure.value.report
    assert key.read_text() == "my own key\n" and not cert.exists()


def test_generation_never_overwrites_and_says_where_it_cannot_write(tmp_path):
    existing = tmp_path / "cert.pem"
    existing.write_text("keep me\n")
    with pytest.raises(CertificateError, match="exists already"):
        generate_self_signed(existing, tmp_path / "key.pem")
    assert existing.read_text() == "keep me\n" and not (tmp_path / "key.pem").exists()
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(CertificateError, match="cannot write"):
        generate_self_signed(blocked / "tls" / "cert.pem", blocked / "tls" / "key.pem")


def test_a_certificate_that_cannot_be_written_refuses_start_up_and_says_what_to_do(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(StartupFailure) as failure:
        build(config(f"tls:{LOOPBACK}:45061", str(blocked / "cert.pem"), str(blocked / "key.pem")), [])
    assert "server domain 'default' has no certificate and none can be made" in failure.value.report
    assert "point its certificate/private_key elsewhere" in failure.value.report
