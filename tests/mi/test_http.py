"""mi_http over real HTTP on loopback: python-opensips' client, plain HTTP, bad input, and the server keeps
serving after each refusal."""
from __future__ import annotations

import http.client
import json
import socket

import pytest
import trio
from opensips.mi import OpenSIPSMI, OpenSIPSMIException

from tests.mi.conftest import serve_mi


def _post(port: int, body: bytes, path: str = "/mi", method: str = "POST",
          headers: dict | None = None) -> tuple[int, bytes, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        conn.close()


async def _in_thread(fn, *args):
    return await trio.to_thread.run_sync(fn, *args)


def test_python_opensips_http_client_runs_ps_and_uptime():
    async def body(info):
        mi = OpenSIPSMI(conn="http", url=info["url"])
        ps = await _in_thread(mi.execute, "ps")
        assert ps["Processes"][0]["Type"] == "attendant"
        assert any(p["Type"].startswith("HTTPD 127.0.0.1") for p in ps["Processes"])
        uptime = await _in_thread(mi.execute, "uptime")
        assert set(uptime) == {"Now", "Up since", "Up time"}
        stats = await _in_thread(mi.execute, "get_statistics", {"statistics": ["core:"]})
        assert stats["core:rcv_requests"] == 0
    serve_mi(body)


def test_unknown_command_is_method_not_found_and_client_raises():
    async def body(info):
        mi = OpenSIPSMI(conn="http", url=info["url"])
        with pytest.raises(OpenSIPSMIException, match="-32601: Method not found"):
            await _in_thread(mi.execute, "no_such_command")
        assert await _in_thread(mi.execute, "version")  # still serving
    serve_mi(body)


def test_malformed_json_gets_parse_error_reply_with_null_id():
    async def body(info):
        status, data, headers = await _in_thread(_post, info["port"], b'{"jsonrpc": "2.0", "method": ')
        assert status == 200
        assert headers["Content-Type"] == "application/json"
        assert json.loads(data) == {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"},
                                    "id": None}
        status, data, _ = await _in_thread(
            _post, info["port"], b'{"jsonrpc":"2.0","method":"version","id":7}')
        assert status == 200 and json.loads(data)["id"] == 7
    serve_mi(body)


def test_invalid_request_and_invalid_params():
    async def body(info):
        _, data, _ = await _in_thread(_post, info["port"], b'{"jsonrpc":"1.0","method":"ps","id":1}')
        assert json.loads(data)["error"] == {"code": -32600, "message": "Invalid Request"}
        _, data, _ = await _in_thread(
            _post, info["port"], b'{"jsonrpc":"2.0","method":"log_level","params":{"lvl":1},"id":2}')
        assert json.loads(data)["error"] == {"code": -32602, "message": "Invalid params",
                                             "data": "Named parameters do not match"}
    serve_mi(body)


def test_notification_gets_202_and_no_body():
    async def body(info):
        status, data, _ = await _in_thread(_post, info["port"], b'{"jsonrpc":"2.0","method":"ps"}')
        assert (status, data) == (202, b"")
    serve_mi(body)


def test_huge_body_is_refused_with_413_and_server_keeps_serving():
    async def body(info):
        huge = b'{"jsonrpc":"2.0","method":"ps","params":{"x":"' + b"a" * (200 * 1024) + b'"},"id":1}'
        status, _, _ = await _in_thread(_post, info["port"], huge)
        assert status == 413
        mi = OpenSIPSMI(conn="http", url=info["url"])
        assert "Processes" in await _in_thread(mi.execute, "ps")
    serve_mi(body)


def test_receive_buf_size_sets_the_body_limit():
    async def body(info):
        request = json.dumps({"jsonrpc": "2.0", "method": "which", "params": {"command": "x" * 600},
                              "id": 1}).encode()
        status, _, _ = await _in_thread(_post, info["port"], request)
        assert status == 413
    serve_mi(body, receive_buf_size=512)


def test_get_is_405_unknown_root_is_400_other_method_is_406():
    async def body(info):
        assert (await _in_thread(lambda: _post(info["port"], b"", method="GET")))[0] == 405
        assert (await _in_thread(lambda: _post(info["port"], b"{}", path="/other")))[0] == 400
        assert (await _in_thread(lambda: _post(info["port"], b"{}", method="PUT")))[0] == 406
    serve_mi(body)


def test_keep_alive_serves_several_requests_on_one_connection():
    async def body(info):
        def two_requests():
            conn = http.client.HTTPConnection("127.0.0.1", info["port"], timeout=10)
            ids = []
            for n in (1, 2):
                conn.request("POST", "/mi", body=json.dumps({"jsonrpc": "2.0", "method": "ps", "id": n}))
                ids.append(json.loads(conn.getresponse().read())["id"])
            conn.close()
            return ids
        assert await _in_thread(two_requests) == [1, 2]
    serve_mi(body)


def test_garbage_request_line_is_400_and_server_keeps_serving():
    async def body(info):
        def garbage():
            with socket.create_connection(("127.0.0.1", info["port"]), timeout=10) as sock:
                sock.sendall(b"\x00\x01 nonsense\r\n\r\n")
                return sock.recv(1000)
        assert (await _in_thread(garbage)).startswith(b"HTTP/1.1 400")
        mi = OpenSIPSMI(conn="http", url=info["url"])
        assert await _in_thread(mi.execute, "version")
    serve_mi(body)


def test_idle_connection_is_closed_after_conn_timeout():
    async def body(info):
        def idle():
            with socket.create_connection(("127.0.0.1", info["port"]), timeout=10) as sock:
                return sock.recv(100)  # b"" once the server closes it
        with trio.fail_after(8):
            assert await _in_thread(idle) == b""
    serve_mi(body, conn_timeout=1)
