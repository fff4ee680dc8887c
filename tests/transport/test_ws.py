"""SIP over WebSocket (RFC 7118) on the live host, with trio-websocket clients on loopback (ports 45000-45999):
replies on the client's own WebSocket, requests routed to a WebSocket peer over its connection, connections we
open to a WebSocket server, keep-alives, and upgrades refused with a 400 while the server keeps serving."""
from __future__ import annotations

import socket
import time

import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket, serve_websocket

from opensips_py.sip import build_reply, parse_message
from tests.transport.support import (
    BROWSER, LOOPBACK, MODULES, ORIGIN, ROUTE, browser_request, free_ports, proxy, request, run,
)

pytestmark = pytest.mark.live

def ws_config(udp: int, ws: int, extra: str = "", params: str = "") -> str:
    return f"socket = udp:{LOOPBACK}:{udp}\nsocket = ws:{LOOPBACK}:{ws}\n{extra}{MODULES}{params}{ROUTE}"


def http_exchange(port: int, text: bytes) -> bytes:
    """Send raw HTTP, read until the server closes (the socket timeout bounds it)."""
    with socket.create_connection((LOOPBACK, port), timeout=5) as conn:
        conn.sendall(text)
        answer = b""
        while True:
            try:
                data = conn.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
    return answer


def test_options_and_message_over_websocket_are_answered_on_the_same_websocket():
    udp, ws = free_ports(2)

    async def browser():
        async with open_websocket(LOOPBACK, ws, "/", use_ssl=False, subprotocols=["sip"],
                                  extra_headers=ORIGIN) as conn:
            assert conn.subprotocol == "sip"
            await conn.send_message(browser_request("OPTIONS", f"sip:{LOOPBACK}:{ws};transport=ws", 1))
            first = await conn.get_message()
            await conn.send_message(browser_request("MESSAGE", f"sip:echo@{LOOPBACK};transport=ws", 2, "hello"))
            second = await conn.get_message()
            return first, second

    with proxy(ws_config(udp, ws)) as running:
        first, second = run(browser)
    assert isinstance(first, str)  # SIP goes out as text messages
    assert first.startswith("SIP/2.0 200 OK over ws\r\n") and "Call-ID: transport-1" in first
    assert f"Via: SIP/2.0/WS {BROWSER};received={LOOPBACK};branch=z9hG4bKt1" in first
    assert second.startswith("SIP/2.0 200 OK over ws\r\n") and "Call-ID: transport-2" in second
    assert running.core.stats["rcv_requests"] == 2


def test_a_request_routed_to_a_websocket_peer_goes_over_its_connection_and_the_reply_comes_back():
    udp, ws = free_ports(2)

    async def scenario():
        async with open_websocket(LOOPBACK, ws, "/", use_ssl=False, subprotocols=["sip"],
                                  extra_headers=ORIGIN) as conn:
            browser_port = conn.local.port
            # the browser's REGISTER comes first in real life: by its reply the connection is known
            await conn.send_message(browser_request("OPTIONS", f"sip:{LOOPBACK}:{ws}", 30))
            await conn.get_message()
            phone = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
            with phone:
                await phone.bind((LOOPBACK, 0))
                # what lookup("location") gives for a browser: its received address, transport ws
                ruri = f"sip:bob@{LOOPBACK}:{browser_port};transport=ws"
                await phone.sendto(request("MESSAGE", ruri, "UDP", f"{LOOPBACK}:{phone.getsockname()[1]}", 3, "hi"),
                                   (LOOPBACK, udp))
                incoming = await conn.get_message()
                await conn.send_message(build_reply(parse_message(incoming.encode()), 200, "OK").decode())
                reply, _ = await phone.recvfrom(65535)
            return incoming, reply, len(running.server.connections)

    with proxy(ws_config(udp, ws)) as running:
        incoming, reply, connections = run(scenario)
    assert connections == 1  # the browser's own: no other was opened
    assert incoming.startswith(f"MESSAGE sip:bob@{LOOPBACK}:")
    assert f"Via: SIP/2.0/WS {LOOPBACK}:{ws};branch=z9hG4bK" in incoming  # RFC 7118 §5.2
    assert incoming.endswith("\r\n\r\nhi")
    assert reply.startswith(b"SIP/2.0 200 OK\r\n") and b"Call-ID: transport-3" in reply


def test_a_request_towards_a_websocket_server_opens_a_websocket_to_it():
    udp, ws, peer_port = free_ports(3)
    seen: dict[str, object] = {}

    async def peer_handler(req):
        seen["subprotocols"] = req.proposed_subprotocols
        seen["path"] = req.path
        conn = await req.accept(subprotocol="sip")
        incoming = await conn.get_message()
        seen["incoming"] = incoming
        await conn.send_message(build_reply(parse_message(incoming.encode()), 200, "OK").decode())
        await trio.sleep_forever()

    async def scenario():
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_websocket, peer_handler, LOOPBACK, peer_port, None)
            phone = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
            with phone:
                await phone.bind((LOOPBACK, 0))
                await phone.sendto(request("MESSAGE", f"sip:carol@{LOOPBACK}:{peer_port};transport=ws", "UDP",
                                           f"{LOOPBACK}:{phone.getsockname()[1]}", 4), (LOOPBACK, udp))
                reply, _ = await phone.recvfrom(65535)
            nursery.cancel_scope.cancel()
        return reply

    with proxy(ws_config(udp, ws, "tcp_connect_timeout = 2000\n", 'modparam("proto_ws", "ws_resource", "/sip")\n')):
        reply = run(scenario)
    assert seen["subprotocols"] == ("sip",) and seen["path"] == "/sip"
    assert f"Via: SIP/2.0/WS {LOOPBACK}:{ws};branch=z9hG4bK" in seen["incoming"]
    assert reply.startswith(b"SIP/2.0 200 OK\r\n") and b"Call-ID: transport-4" in reply


def test_keepalives_double_crlf_gets_a_crlf_and_a_ping_gets_its_pong():
    udp, ws = free_ports(2)

    async def browser():
        async with open_websocket(LOOPBACK, ws, "/", use_ssl=False, subprotocols=["sip"],
                                  extra_headers=ORIGIN) as conn:
            await conn.send_message("\r\n\r\n")
            pong = await conn.get_message()
            await conn.ping(b"are you there")  # returns once the matching pong arrived
            return pong

    with proxy(ws_config(udp, ws)) as running:
        assert run(browser) == "\r\n"
    assert running.core.stats["rcv_requests"] == 0 and running.core.stats["bad_msg_hdr"] == 0


def test_websocket_pings_keep_a_connection_alive_past_tcp_connection_lifetime():
    udp, ws = free_ports(2)

    async def browser():
        async with open_websocket(LOOPBACK, ws, "/", use_ssl=False, subprotocols=["sip"],
                                  extra_headers=ORIGIN) as conn:
            for _ in range(8):  # 2.4 s of pings, with a lifetime of 1 s
                await conn.ping()
                await trio.sleep(0.3)
            await conn.send_message(browser_request("OPTIONS", f"sip:{LOOPBACK}:{ws}", 5))
            alive = await conn.get_message()
            started = trio.current_time()
            with trio.move_on_after(5):
                try:
                    while True:  # silent now: closed by the idle sweeper
                        await conn.get_message()
                except ConnectionClosed:
                    pass
            return alive, conn.closed, trio.current_time() - started

    with proxy(ws_config(udp, ws, "tcp_connection_lifetime = 1\n")):
        alive, closed, waited = run(browser)
    assert alive.startswith("SIP/2.0 200 OK over ws")
    assert closed is not None and waited < 4


def test_non_websocket_http_and_upgrades_without_sip_are_refused_with_400_and_the_server_keeps_serving():
    udp, ws = free_ports(2)
    upgrade = ("GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n")

    async def refused_subprotocol():
        try:
            async with open_websocket(LOOPBACK, ws, "/", use_ssl=False, subprotocols=["chat"],
                                      extra_headers=ORIGIN):
                return None
        except ConnectionRejected as exc:
            return exc.status_code

    async def browser():
        async with open_websocket(LOOPBACK, ws, "/", use_ssl=False, subprotocols=["sip"],
                                  extra_headers=ORIGIN) as conn:
            await conn.send_message(browser_request("OPTIONS", f"sip:{LOOPBACK}:{ws}", 6))
            return await conn.get_message()

    with proxy(ws_config(udp, ws)) as running:
        plain_get = http_exchange(ws, f"GET /index.html HTTP/1.1\r\nHost: {LOOPBACK}\r\n\r\n".encode())
        no_origin = http_exchange(ws, upgrade.format(host=LOOPBACK, extra="Sec-WebSocket-Protocol: sip\r\n").encode())
        sip_text = http_exchange(ws, request("OPTIONS", f"sip:{LOOPBACK}", "TCP", f"{LOOPBACK}:5060", 7))
        assert run(refused_subprotocol) == 400
        assert run(browser).startswith("SIP/2.0 200 OK over ws")
        deadline = time.monotonic() + 5
        while running.server.failed_handshakes < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.server.failed_handshakes == 4
        assert running.run_sync(lambda: running.server.handshaking) == 0
    assert plain_get.startswith(b"HTTP/1.1 400 ")
    assert no_origin.startswith(b"HTTP/1.1 400 ") and b"Sec-WebSocket-Version: 13" in no_origin
    assert sip_text.startswith(b"HTTP/1.1 400 ")
    assert running.core.stats["rcv_requests"] == 1
    assert any("no Origin header" in line for line in running.log)
    assert any("does not offer the sip subprotocol" in line for line in running.log)


def test_require_origin_0_accepts_an_upgrade_without_origin():
    udp, ws = free_ports(2)

    async def client():
        async with open_websocket(LOOPBACK, ws, "/any/path", use_ssl=False, subprotocols=["sip"]) as conn:
            await conn.send_message(browser_request("OPTIONS", f"sip:{LOOPBACK}:{ws}", 8))
            return await conn.get_message()

    with proxy(ws_config(udp, ws, params='modparam("proto_ws", "require_origin", 0)\n')):
        assert run(client).startswith("SIP/2.0 200 OK over ws")


def test_websocket_connections_count_against_tcp_max_connections():
    udp, ws = free_ports(2)
    upgrade = (f"GET / HTTP/1.1\r\nHost: {LOOPBACK}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: sip\r\nOrigin: https://phone.example.com\r\n\r\n").encode()

    async def first_then_second():
        async with open_websocket(LOOPBACK, ws, "/", use_ssl=False, subprotocols=["sip"],
                                  extra_headers=ORIGIN) as conn:
            await conn.send_message(browser_request("OPTIONS", f"sip:{LOOPBACK}:{ws}", 9))
            answer = await conn.get_message()
            second = await trio.to_thread.run_sync(http_exchange, ws, upgrade)
            return answer, second

    with proxy(ws_config(udp, ws, "tcp_max_connections = 1\n")) as running:
        answer, second = run(first_then_second)
        deadline = time.monotonic() + 5
        while len(running.server.connections) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run(first_then_second)[0].startswith("SIP/2.0 200 OK")  # the first one is gone: room again
    assert answer.startswith("SIP/2.0 200 OK over ws")
    assert second == b""  # closed at once, no upgrade answered
    assert any("tcp_max_connections (1) reached" in line for line in running.log)
