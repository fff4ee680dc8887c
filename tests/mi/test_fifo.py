"""mi_fifo with python-opensips' FIFO client (the protocol opensips-cli speaks), and the stream splitting."""
from __future__ import annotations

import json
import os

import pytest
import trio
from opensips.mi import OpenSIPSMI, OpenSIPSMIException

from opensips_py.mi.fifo import FifoRequestBuffer, FifoServer, json_value_end
from opensips_py.mi import MIHost, build_registry
from tests.mi.conftest import serve_mi


def _client(tmp_path):
    fifo = str(tmp_path / "opensips_fifo")
    return fifo, OpenSIPSMI(conn="fifo", fifo_file=fifo, fifo_file_fallback=fifo, fifo_reply_dir=str(tmp_path))


def test_python_opensips_fifo_client_runs_commands(tmp_path):
    fifo, mi = _client(tmp_path)

    async def body(info):
        ps = await trio.to_thread.run_sync(mi.execute, "ps")
        assert "MI FIFO" in [p["Type"] for p in ps["Processes"]]
        stats = await trio.to_thread.run_sync(mi.execute, "get_statistics", {"statistics": ["rcv_requests"]})
        assert stats == {"core:rcv_requests": 0}
        assert await trio.to_thread.run_sync(mi.execute, "which")
    serve_mi(body, fifo_path=fifo, reply_dir=str(tmp_path) + "/")
    assert not os.path.exists(fifo), "the FIFO is removed at shutdown"


def test_fifo_unknown_command_and_server_keeps_serving(tmp_path):
    fifo, mi = _client(tmp_path)

    async def body(info):
        with pytest.raises(OpenSIPSMIException, match="-32601"):
            await trio.to_thread.run_sync(mi.execute, "nonexistent")
        assert await trio.to_thread.run_sync(mi.execute, "uptime")
    serve_mi(body, fifo_path=fifo, reply_dir=str(tmp_path) + "/")


def _raw_request(fifo: str, reply_dir, name: str, payload: bytes) -> str:
    reply = os.path.join(reply_dir, name)
    os.mkfifo(reply)
    try:
        with open(fifo, "wb") as out:
            out.write(payload)
        with open(reply, "r") as answer:
            return answer.read()
    finally:
        os.unlink(reply)


def test_fifo_malformed_json_gets_parse_error(tmp_path):
    fifo = str(tmp_path / "f")

    async def body(info):
        text = await trio.to_thread.run_sync(
            _raw_request, fifo, tmp_path, "r1", b':r1:{"jsonrpc": "2.0", "method": ]}')
        assert json.loads(text) == {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"},
                                    "id": None}
        text = await trio.to_thread.run_sync(
            _raw_request, fifo, tmp_path, "r2", b':r2:{"jsonrpc":"2.0","method":"version","id":"x"}')
        assert json.loads(text)["id"] == "x"
    serve_mi(body, fifo_path=fifo, reply_dir=str(tmp_path) + "/")


def test_fifo_oversized_request_is_refused_and_server_keeps_serving(tmp_path):
    fifo, mi = _client(tmp_path)

    async def body(info):
        big = b':r3:{"jsonrpc":"2.0","method":"ps","params":{"x":"' + b"a" * (70 * 1024) + b'"},"id":1}'
        text = await trio.to_thread.run_sync(_raw_request, fifo, tmp_path, "r3", big)
        assert json.loads(text)["error"]["code"] == -32700
        assert await trio.to_thread.run_sync(mi.execute, "ps")
    serve_mi(body, fifo_path=fifo, reply_dir=str(tmp_path) + "/")


def test_fifo_forbidden_reply_name_gets_no_reply_and_server_keeps_serving(tmp_path):
    fifo, mi = _client(tmp_path)

    async def body(info):
        def write():
            with open(fifo, "wb") as out:
                out.write(b':../evil:{"jsonrpc":"2.0","method":"ps","id":1}')
        await trio.to_thread.run_sync(write)
        assert await trio.to_thread.run_sync(mi.execute, "version")
        assert not os.path.exists(tmp_path.parent / "evil")
    serve_mi(body, fifo_path=fifo, reply_dir=str(tmp_path) + "/")


def test_fifo_is_recreated_when_deleted(tmp_path):
    fifo = str(tmp_path / "f")
    registry = build_registry(MIHost())
    server = FifoServer(lambda: registry, fifo, reply_dir=str(tmp_path) + "/", check_interval=0.1)
    mi = OpenSIPSMI(conn="fifo", fifo_file=fifo, fifo_file_fallback=fifo, fifo_reply_dir=str(tmp_path))

    async def main():
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            os.unlink(fifo)
            with trio.fail_after(10):
                while not os.path.exists(fifo):
                    await trio.sleep(0.05)
            assert await trio.to_thread.run_sync(mi.execute, "ps")
            nursery.cancel_scope.cancel()
    trio.run(main)


def test_request_buffer_splits_several_and_partial_requests():
    buf = FifoRequestBuffer()
    first = b':a:{"jsonrpc":"2.0","method":"ps","id":1}\n:b:{"jsonrpc":"2.0","method":"x","params":{"s":"}"'
    assert buf.feed(first) == [("a", '{"jsonrpc":"2.0","method":"ps","id":1}')]
    assert buf.feed(b'},"id":2}') == [("b", '{"jsonrpc":"2.0","method":"x","params":{"s":"}"},"id":2}')]
    assert buf.feed(b'::{"jsonrpc":"2.0","method":"ps"}') == [(None, '{"jsonrpc":"2.0","method":"ps"}')]
    assert buf.feed(b"garbage") == [] and buf.pending == ""


def test_json_value_end_skips_braces_inside_strings():
    text = '{"a": "}\\"{", "b": [1, {"c": 2}]} tail'
    assert text[:json_value_end(text, 0)] == '{"a": "}\\"{", "b": [1, {"c": 2}]}'
    assert json_value_end('{"a": [1, 2', 0) is None
