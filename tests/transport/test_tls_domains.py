"""tls_mgm's domains without the network: "[domain]value" parsing, tls_method ranges, the matching order of
tls_domain.c, the ssl settings each domain gives, and what refuses start-up."""
from __future__ import annotations

import ssl

import pytest

from opensips_py.runtime import ProxyCore, StartupFailure
from opensips_py.runtime.log import Logger
from opensips_py.runtime.resolver import Resolver
from opensips_py.transport.tls_domains import (
    DomainError, DomainTable, TLSDomain, build_context, parse_domains, tls_versions,
)
from tests.transport.support import MODULES, ROUTE, make_certificate, tls_domain_params

V = ssl.TLSVersion


@pytest.mark.parametrize("method, expected", [
    ("SSLv23", (None, None)), ("TLSany", (None, None)), ("TLSv1_2", (V.TLSv1_2, V.TLSv1_2)),
    ("tlsv1_3", (V.TLSv1_3, V.TLSv1_3)), ("TLSv1_2-TLSv1_3", (V.TLSv1_2, V.TLSv1_3)),
    ("TLSv1_2-", (V.TLSv1_2, V.TLSv1_3)), ("-TLSv1_2", (V.TLSv1, V.TLSv1_2)), ("TLSv1", (V.TLSv1, V.TLSv1)),
])
def test_tls_method_gives_the_minimum_and_maximum_versions(method, expected):
    assert tls_versions(method) == expected


def test_an_unknown_tls_method_is_refused():
    with pytest.raises(DomainError, match="unsupported tls_method 'TLSv1_1'"):
        tls_versions("TLSv1_1")


def test_per_domain_values_must_name_a_declared_domain():
    with pytest.raises(DomainError, match='names no domain: write "\\[domain\\]0"'):
        parse_domains({"server_domain": ["d"], "verify_cert": ["0"]}, "c.pem", "k.pem")
    with pytest.raises(DomainError, match="domain 'other', which no server_domain or client_domain declares"):
        parse_domains({"server_domain": ["d"], "verify_cert": ["[other]0"]}, "c.pem", "k.pem")
    with pytest.raises(DomainError, match="must be 0 or 1"):
        parse_domains({"server_domain": ["d"], "require_cert": ["[d]yes"]}, "c.pem", "k.pem")
    with pytest.raises(DomainError, match="must be written IP:port"):
        parse_domains({"server_domain": ["d"], "match_ip_address": ["[d]10.0.0.1"]}, "c.pem", "k.pem")


def test_domains_take_opensips_defaults_and_a_name_may_be_both_server_and_client():
    server, client = parse_domains({"client_domain": ["d"], "server_domain": ["d"], "ca_list": ["[d]/ca.pem"],
                                    "match_ip_address": ["[d]10.0.0.1:5061, [::1]:5061"]}, "c.pem", "k.pem")
    assert server.server and not client.server
    assert (server.certificate, server.private_key) == ("c.pem", "k.pem")  # CFG_DIR/tls/cert.pem, ckey.pem
    assert client.certificate is None  # a client domain may present no certificate
    assert server.verify_cert and server.require_cert and server.tls_method == "SSLv23"
    assert server.ca_list == client.ca_list == "/ca.pem"
    assert server.match_addresses == ["10.0.0.1:5061", "::1:5061"] and server.match_domains == ["*"]


def domain(name: str, *, server: bool = True, addresses=("*",), names=("*",)) -> TLSDomain:
    return TLSDomain(name, server, list(addresses), list(names))


def test_matching_prefers_the_exact_address_then_exact_names_then_patterns_then_any():
    table = DomainTable([domain("any"), domain("wild", names=["*.example.com"]),
                         domain("exact", names=["sip.example.com"]),
                         domain("on-address", addresses=["10.0.0.1:5061"], names=["*"])])
    assert table.server_domain("10.0.0.1", 5061).name == "on-address"  # its entry hides the "*" one
    assert table.find(True, "10.0.0.1", 5061, "sip.example.com").name == "on-address"
    assert table.server_domain("10.0.0.2", 5061).name == "exact"
    assert table.find(True, "10.0.0.2", 5061, "SIP.example.com").name == "exact"
    assert table.find(True, "10.0.0.2", 5061, "www.example.com").name == "wild"
    assert table.find(True, "10.0.0.2", 5061, "none").name == "any"


def test_a_client_domain_is_matched_by_the_peer_address_and_the_sip_domain_any():
    table = DomainTable([domain("named", server=False, names=["example.com"]),
                         domain("peer", server=False, addresses=["192.0.2.7:5061"]),
                         domain("server-only")])
    assert table.client_domain("192.0.2.7", 5061).name == "peer"
    assert table.client_domain("192.0.2.8", 5061) is None  # "named" needs client_sip_domain_avp


def test_verify_cert_and_require_cert_give_the_ssl_verify_modes(tmp_path):
    cert = make_certificate(tmp_path)
    modes = {}
    for verify, require in ((False, False), (True, False), (True, True)):
        d = TLSDomain("d", True, certificate=str(cert.certificate), private_key=str(cert.private_key),
                      verify_cert=verify, require_cert=require, ca_list=str(cert.certificate),
                      tls_method="TLSv1_2-TLSv1_3", ciphers_list="HIGH:!aNULL")
        ctx = build_context(d)
        modes[(verify, require)] = ctx.verify_mode
        assert (ctx.minimum_version, ctx.maximum_version) == (V.TLSv1_2, V.TLSv1_3)
    assert modes == {(False, False): ssl.CERT_NONE, (True, False): ssl.CERT_OPTIONAL,
                     (True, True): ssl.CERT_REQUIRED}
    client = build_context(TLSDomain("c", False, ca_list=str(cert.certificate)))
    assert client.verify_mode == ssl.CERT_REQUIRED and not client.check_hostname  # the chain, not the name


def test_a_bad_cipher_list_or_certificate_refuses_to_start(tmp_path):
    cert = make_certificate(tmp_path)
    with pytest.raises(DomainError, match="server domain 'd'"):
        build_context(TLSDomain("d", True, certificate=str(cert.certificate), private_key=str(cert.private_key),
                                ciphers_list="NO-SUCH-CIPHER"))
    with pytest.raises(DomainError, match="cannot load certificate"):
        build_context(TLSDomain("d", True, certificate=str(cert.private_key), private_key=str(cert.private_key)))


def build(text: str, **kwargs) -> ProxyCore:
    return ProxyCore.from_text(text, name="tls.cfg", logger=Logger(-3, sink=lambda line: None),
                               resolver=Resolver(system=False), **kwargs)


def test_a_tls_socket_from_the_command_line_needs_tls_mgm():
    # `check` already asks for tls_mgm when proto_tls is loaded (and for tls_openssl when tls_mgm is); a -l
    # socket is seen at start-up only
    udp_only = 'socket = udp:127.0.0.1:45060\nloadmodule "proto_udp.so"\nloadmodule "sl.so"\n' + ROUTE
    with pytest.raises(StartupFailure, match="socket wss:127.0.0.1:45443 needs TLS certificates: load tls_mgm"):
        build(udp_only, extra_sockets=["wss:127.0.0.1:45443"])


def test_a_socket_without_port_takes_the_proto_modules_port_parameter(tmp_path):
    cert = make_certificate(tmp_path)
    core = build(f"socket = tls:127.0.0.1\nsocket = ws:127.0.0.1\nsocket = wss:127.0.0.1\n{MODULES}"
                 'modparam("proto_tls", "tls_port", 45071)\nmodparam("proto_ws", "ws_port", 45080)\n'
                 f"{tls_domain_params('default', cert)}{ROUTE}")
    assert [(s.proto, s.port) for s in core.sockets] == [("tls", 45071), ("ws", 45080), ("wss", 443)]


def test_a_tls_socket_no_server_domain_matches_is_reported_at_start_up(tmp_path):
    cert = make_certificate(tmp_path)
    log: list[str] = []
    ProxyCore.from_text(f"socket = tls:127.0.0.1:45061\n{MODULES}"
                        + tls_domain_params("other", cert, extra={"match_ip_address": "127.0.0.1:45999"}) + ROUTE,
                        name="tls.cfg", logger=Logger(4, sink=log.append), resolver=Resolver(system=False))
    assert any("ERROR:tls_mgm:no TLS server domain matches tls:127.0.0.1:45061" in line for line in log)
