"""MI through the real live host: a config loading httpd + mi_http + mi_fifo, run by the runtime's
LiveServer; python-opensips reads the proxy's own counters while it serves SIP."""
from __future__ import annotations

import socket

import trio
from opensips.mi import OpenSIPSMI

from opensips_py.runtime import ProxyCore
from opensips_py.runtime.log import Logger
from opensips_py.transport.server import LiveServer


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


OPTIONS = ("OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{src};branch=z9hG4bKmi1\r\n"
           "From: <sip:mi@127.0.0.1>;tag=1\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: mi-live-1\r\n"
           "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")


def test_mi_over_http_and_fifo_through_the_live_host_counts_sip_traffic(tmp_path):
    port = _free_udp_port()
    fifo = str(tmp_path / "opensips_fifo")
    config = f"""
socket = udp:127.0.0.1:{port}
loadmodule "proto_udp.so"
loadmodule "sl.so"
loadmodule "httpd.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", 0)
loadmodule "mi_http.so"
loadmodule "mi_fifo.so"
modparam("mi_fifo", "fifo_name", "{fifo}")
modparam("mi_fifo", "reply_dir", "{tmp_path}/")
route {{
    sl_send_reply(200, "OK");
    exit;
}}
"""
    core = ProxyCore.from_text(config, name="mi.cfg", logger=Logger(2, sink=lambda line: None))
    server = LiveServer(core)

    async def main():
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            httpd = core.modules["httpd"].server
            with trio.fail_after(10):
                while not httpd.bound:
                    await trio.sleep(0.01)
            http = OpenSIPSMI(conn="http", url=f"http://127.0.0.1:{httpd.bound[0][1]}/mi")
            over_fifo = OpenSIPSMI(conn="fifo", fifo_file=fifo, fifo_file_fallback=fifo,
                                   fifo_reply_dir=str(tmp_path))
            before = await trio.to_thread.run_sync(http.execute, "get_statistics", {"statistics": ["core:"]})
            client = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
            await client.bind(("127.0.0.1", 0))
            src = client.getsockname()[1]
            await client.sendto(OPTIONS.format(port=port, src=src).encode(), ("127.0.0.1", port))
            with trio.fail_after(10):
                reply, _ = await client.recvfrom(65535)
            assert reply.startswith(b"SIP/2.0 200 OK")
            after = await trio.to_thread.run_sync(over_fifo.execute, "get_statistics",
                                                  {"statistics": ["rcv_requests"]})
            assert after["core:rcv_requests"] == before["core:rcv_requests"] + 1
            ps = await trio.to_thread.run_sync(http.execute, "ps")
            assert f"SIP receiver udp:127.0.0.1:{port}" in [p["Type"] for p in ps["Processes"]]
            client.close()
            server.shutdown()

    trio.run(main)
