"""SIP over secure WebSocket on the live host: the WebSocket tests again over TLS with tls_mgm's domain, plus
what only WSS has (a TLS handshake before the upgrade, a client domain for the WSS connections we open)."""
from __future__ import annotations

import socket
import ssl
import time

import pytest
import trio
from trio_websocket import open_websocket, serve_websocket

from opensips_py.sip import build_reply, parse_message
from tests.transport.support import (
    LOOPBACK, MODULES, ORIGIN, ROUTE, browser_request, client_context, closed_by_server, free_ports,
    make_certificate, proxy, request, run, tls_domain_params,
)

pytestmark = pytest.mark.live


def wss_config(udp: int, wss: int, domains: str) -> str:
    return f"socket = udp:{LOOPBACK}:{udp}\nsocket = wss:{LOOPBACK}:{wss}\n{MODULES}{domains}{ROUTE}"


def test_options_over_wss_is_answered_on_the_same_websocket_and_requests_reach_the_browser(tmp_path):
    udp, wss = free_ports(2)
    cert = make_certificate(tmp_path)

    async def scenario():
        async with open_websocket(LOOPBACK, wss, "/", use_ssl=client_context(trust=cert.certificate),
                                  subprotocols=["sip"], extra_headers=ORIGIN) as conn:
            await conn.send_message(browser_request("OPTIONS", f"sip:{LOOPBACK}:{wss};transport=wss", 1))
            answer = await conn.get_message()
            phone = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
            with phone:
                await phone.bind((LOOPBACK, 0))
                await phone.sendto(request("MESSAGE", f"sip:bob@{LOOPBACK}:{conn.local.port};transport=wss", "UDP",
                                           f"{LOOPBACK}:{phone.getsockname()[1]}", 2), (LOOPBACK, udp))
                incoming = await conn.get_message()
                await conn.send_message(build_reply(parse_message(incoming.encode()), 200, "OK").decode())
                reply, _ = await phone.recvfrom(65535)
            return answer, incoming, reply

    with proxy(wss_config(udp, wss, tls_domain_params("default", cert))):
        answer, incoming, reply = run(scenario)
    assert answer.startswith("SIP/2.0 200 OK over wss\r\n")
    assert f"Via: SIP/2.0/WSS {LOOPBACK}:{wss};branch=z9hG4bK" in incoming  # RFC 7118 §5.2
    assert reply.startswith(b"SIP/2.0 200 OK\r\n") and b"Call-ID: transport-2" in reply


def test_a_request_towards_a_wss_server_opens_a_tls_websocket_with_the_client_domain(tmp_path):
    udp, wss, peer_port = free_ports(3)
    ours, theirs = make_certificate(tmp_path / "ours"), make_certificate(tmp_path / "peer")
    domains = tls_domain_params("default", ours) + tls_domain_params(
        "peers", None, server=False, extra={"verify_cert": "1", "ca_list": str(theirs.certificate)})
    peer_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    peer_tls.load_cert_chain(str(theirs.certificate), str(theirs.private_key))
    seen: list[str] = []

    async def peer_handler(req):
        conn = await req.accept(subprotocol="sip")
        incoming = await conn.get_message()
        seen.append(incoming)
        await conn.send_message(build_reply(parse_message(incoming.encode()), 200, "OK").decode())
        await trio.sleep_forever()

    async def scenario():
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_websocket, peer_handler, LOOPBACK, peer_port, peer_tls)
            phone = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
            with phone:
                await phone.bind((LOOPBACK, 0))
                await phone.sendto(request("MESSAGE", f"sip:carol@{LOOPBACK}:{peer_port};transport=wss", "UDP",
                                           f"{LOOPBACK}:{phone.getsockname()[1]}", 3), (LOOPBACK, udp))
                reply, _ = await phone.recvfrom(65535)
            nursery.cancel_scope.cancel()
        return reply

    with proxy(f"tcp_connect_timeout = 2000\n{wss_config(udp, wss, domains)}"):
        reply = run(scenario)
    assert f"Via: SIP/2.0/WSS {LOOPBACK}:{wss};branch=z9hG4bK" in seen[0]
    assert reply.startswith(b"SIP/2.0 200 OK\r\n") and b"Call-ID: transport-3" in reply


def test_plain_text_and_plain_http_on_a_wss_port_are_refused_and_the_server_keeps_serving(tmp_path):
    udp, wss = free_ports(2)
    cert = make_certificate(tmp_path)

    async def browser():
        async with open_websocket(LOOPBACK, wss, "/", use_ssl=client_context(), subprotocols=["sip"],
                                  extra_headers=ORIGIN) as conn:
            await conn.send_message(browser_request("OPTIONS", f"sip:{LOOPBACK}:{wss}", 4))
            return await conn.get_message()

    with proxy(wss_config(udp, wss, tls_domain_params("default", cert))) as running:
        # an upgrade request without TLS: not a ClientHello, closed
        with socket.create_connection((LOOPBACK, wss), timeout=5) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n")
            assert closed_by_server(conn)
        # HTTPS that is no upgrade: TLS is fine, the HTTP is answered 400
        with socket.create_connection((LOOPBACK, wss), timeout=5) as raw, \
                client_context().wrap_socket(raw) as conn:
            conn.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = conn.recv(65535)
        assert run(browser).startswith("SIP/2.0 200 OK over wss")
        deadline = time.monotonic() + 5
        while running.server.failed_handshakes < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.server.failed_handshakes == 2
    assert answer.startswith(b"HTTP/1.1 400 ")
