"""SIP over TLS on the live host (loopback, ports 45000-45999): requests answered over TLS, forwarding to a TLS
destination with a client domain, tls_mgm's verification, method and SNI settings, and bad handshakes that
close one connection while the server keeps serving."""
from __future__ import annotations

import socket
import ssl
import time

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.transport.support import (
    LOOPBACK, MODULES, ROUTE, TLSPeer, client_context, closed_by_server, free_ports, make_certificate,
    options_over_tls, proxy, read_message, request, tls_domain_params,
)

pytestmark = pytest.mark.live


def tls_config(udp: int, tls: int, domains: str, extra: str = "") -> str:
    return f"socket = udp:{LOOPBACK}:{udp}\nsocket = tls:{LOOPBACK}:{tls}\n{extra}{MODULES}{domains}{ROUTE}"


def refused(port: int, ctx: ssl.SSLContext, server_hostname: str | None = None) -> bool:
    """The handshake fails, or (TLS 1.3: the server judges the client's certificate after the client's
    Finished) the server closes the connection instead of answering."""
    try:
        options_over_tls(port, ctx, server_hostname=server_hostname)
    except (ssl.SSLError, ConnectionError, OSError):
        return True
    return False


def peer_common_name(port: int, server_hostname: str | None) -> str:
    ctx = client_context()
    with socket.create_connection((LOOPBACK, port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname=server_hostname) as conn:
        der = conn.getpeercert(binary_form=True)
    cert = x509.load_der_x509_certificate(der)
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_an_options_over_tls_is_answered_on_the_same_connection(tmp_path):
    udp, tls = free_ports(2)
    cert = make_certificate(tmp_path)
    with proxy(tls_config(udp, tls, tls_domain_params("default", cert))) as running, \
            socket.create_connection((LOOPBACK, tls), timeout=5) as raw, \
            client_context(trust=cert.certificate).wrap_socket(raw) as conn:
        local = conn.getsockname()[1]
        buffer = bytearray()
        for n in range(3):
            conn.sendall(request("OPTIONS", f"sip:{LOOPBACK}:{tls};transport=tls", "TLS", f"{LOOPBACK}:{local}", n))
            reply = read_message(conn, buffer)
            assert reply.startswith(b"SIP/2.0 200 OK over tls\r\n")
            assert f"Call-ID: transport-{n}".encode() in reply
        conn.sendall(b"\r\n\r\n")  # RFC 5626 keep-alive: tls_crlf_pingpong answers it
        assert conn.recv(16) == b"\r\n"
        assert len(running.server.connections) == 1
        assert conn.version() == "TLSv1.3"  # tls_method SSLv23: the best both sides speak


def test_a_request_forwarded_from_udp_to_a_tls_destination_arrives_and_its_reply_comes_back(tmp_path):
    udp, tls, peer_port = free_ports(3)
    ours, theirs = make_certificate(tmp_path / "ours"), make_certificate(tmp_path / "peer")
    domains = tls_domain_params("default", ours) + tls_domain_params(
        "peers", None, server=False, extra={"verify_cert": "1", "ca_list": str(theirs.certificate),
                                            "match_ip_address": f"{LOOPBACK}:{peer_port}"})
    with proxy(tls_config(udp, tls, domains)) as running, TLSPeer(peer_port, theirs) as peer, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind((LOOPBACK, 0))
        phone.settimeout(5)
        ruri = f"sip:bob@{LOOPBACK}:{peer_port};transport=tls"
        phone.sendto(request("MESSAGE", ruri, "UDP", f"{LOOPBACK}:{phone.getsockname()[1]}", 7, "hi",
                             "Content-Type: text/plain\r\n"), (LOOPBACK, udp))
        assert peer.arrived.wait(10) and not peer.errors
        reply = phone.recv(65535)
    forwarded = peer.received[0].decode()
    assert forwarded.startswith(f"MESSAGE {ruri} SIP/2.0\r\n")
    assert f"Via: SIP/2.0/TLS {LOOPBACK}:{tls};branch=z9hG4bK" in forwarded  # RFC 3261 §18: transport TLS
    assert forwarded.endswith("\r\n\r\nhi")
    assert reply.startswith(b"SIP/2.0 200 OK\r\n") and b"Call-ID: transport-7" in reply
    assert running.core.stats["fwd_requests"] == 1 and running.core.stats["fwd_replies"] == 1


def test_a_tls_destination_whose_certificate_does_not_verify_gets_nothing(tmp_path):
    udp, tls, peer_port = free_ports(3)
    ours, theirs, stranger = (make_certificate(tmp_path / name) for name in ("ours", "peer", "stranger"))
    domains = tls_domain_params("default", ours) + tls_domain_params(
        "peers", None, server=False, extra={"verify_cert": "1", "ca_list": str(stranger.certificate)})
    with proxy(tls_config(udp, tls, domains)) as running, TLSPeer(peer_port, theirs) as peer, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind((LOOPBACK, 0))
        phone.sendto(request("MESSAGE", f"sip:bob@{LOOPBACK}:{peer_port};transport=tls", "UDP",
                             f"{LOOPBACK}:{phone.getsockname()[1]}", 8), (LOOPBACK, udp))
        deadline = time.monotonic() + 10
        while not any("certificate verification failed" in line for line in running.log) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert options_over_tls(tls, client_context()).startswith(b"SIP/2.0 200")  # still serving
    assert any(f"tls connection to {LOOPBACK}:{peer_port} failed: certificate verification failed" in line
               for line in running.log)
    assert peer.received == []
    assert running.server.dropped_sends == 1


def test_without_a_client_domain_no_tls_connection_is_opened(tmp_path):
    udp, tls, peer_port = free_ports(3)
    ours = make_certificate(tmp_path)
    with proxy(tls_config(udp, tls, tls_domain_params("default", ours))) as running, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind((LOOPBACK, 0))
        phone.sendto(request("MESSAGE", f"sip:bob@{LOOPBACK}:{peer_port};transport=tls", "UDP",
                             f"{LOOPBACK}:{phone.getsockname()[1]}", 9), (LOOPBACK, udp))
        deadline = time.monotonic() + 10
        while running.server.dropped_sends == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert any("no TLS client domain matches it" in line for line in running.log)


def test_bad_handshakes_are_refused_and_the_server_keeps_serving(tmp_path):
    udp, tls = free_ports(2)
    cert = make_certificate(tmp_path)
    domains = tls_domain_params("default", cert, extra={"tls_method": "TLSv1_3"})
    with proxy(tls_config(udp, tls, domains)) as running:
        # plain SIP on the TLS port, then random bytes: not a ClientHello
        for junk in (request("OPTIONS", f"sip:{LOOPBACK}", "TCP", f"{LOOPBACK}:5060", 1), bytes(range(256)) * 4):
            with socket.create_connection((LOOPBACK, tls), timeout=5) as conn:
                conn.sendall(junk)
                assert closed_by_server(conn)
        # a client that cannot speak the domain's only version (tls_method TLSv1_3)
        old = client_context()
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        assert refused(tls, old)
        # a client that leaves before its handshake is done
        with socket.create_connection((LOOPBACK, tls), timeout=5):
            pass
        assert options_over_tls(tls, client_context()).startswith(b"SIP/2.0 200 OK over tls")
        deadline = time.monotonic() + 5
        while running.server.failed_handshakes < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.server.failed_handshakes == 4
        assert running.run_sync(lambda: running.server.handshaking) == 0
    assert any("refused" in line and "tls connection from" in line for line in running.log)


def test_require_cert_refuses_a_client_without_a_certificate_the_ca_list_verifies(tmp_path):
    udp, tls = free_ports(2)
    server, client, stranger = (make_certificate(tmp_path / name) for name in ("server", "client", "stranger"))
    domains = tls_domain_params("default", server, extra={"verify_cert": "1", "require_cert": "1",
                                                         "ca_list": str(client.certificate)})
    with proxy(tls_config(udp, tls, domains)):
        assert refused(tls, client_context())
        assert refused(tls, client_context(stranger))
        assert options_over_tls(tls, client_context(client)).startswith(b"SIP/2.0 200 OK")


def test_the_client_sni_name_picks_the_server_domain_and_its_certificate(tmp_path):
    udp, tls = free_ports(2)
    alpha = make_certificate(tmp_path / "a", "alpha.example")
    beta = make_certificate(tmp_path / "b", "beta.example")
    domains = (tls_domain_params("alpha", alpha, extra={"match_sip_domain": "alpha.example"})
               + tls_domain_params("beta", beta, extra={"match_sip_domain": "*.beta.example,beta.example",
                                                        "match_ip_address": "*"}))
    with proxy(tls_config(udp, tls, domains)) as running:
        assert peer_common_name(tls, "alpha.example") == "alpha.example"
        assert peer_common_name(tls, "sip.beta.example") == "beta.example"
        assert peer_common_name(tls, "BETA.example") == "beta.example"  # SNI names match case-insensitively
        # no SNI at all matches the pattern "none" only: no domain here declares it
        assert refused(tls, client_context(), server_hostname=None)
        assert refused(tls, client_context(), server_hostname="gamma.example")
    assert any("no TLS server domain" in line and "gamma.example" in line for line in running.log)


def test_a_domain_on_an_exact_address_wins_over_the_wildcard_one(tmp_path):
    udp, tls = free_ports(2)
    exact = make_certificate(tmp_path / "exact", "exact")
    anywhere = make_certificate(tmp_path / "any", "anywhere")
    domains = (tls_domain_params("anywhere", anywhere)
               + tls_domain_params("exact", exact, extra={"match_ip_address": f"{LOOPBACK}:{tls}"}))
    with proxy(tls_config(udp, tls, domains)):
        assert peer_common_name(tls, None) == "exact"
