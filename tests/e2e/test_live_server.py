"""The live host on real loopback sockets: garbage is counted and the server keeps serving; TCP connection
rules; the CLI stops within 2 s on SIGTERM/SIGINT."""
from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from opensips_py.runtime import ProxyCore
from opensips_py.runtime.log import Logger
from tests.e2e.support import LOOPBACK, free_port, proxy_process
from tests.shared import CORPUS, REPO
from tests.transport.support import Proxy

pytestmark = pytest.mark.live

OPTIONS = ("OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{proto} 127.0.0.1:{port};branch=z9hG4bK{n}\r\n"
           "From: <sip:t@127.0.0.1>;tag={n}\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: live-{n}\r\n"
           "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")


def config(port: int, extra: str = "") -> str:
    return (f"socket = udp:127.0.0.1:{port}\nsocket = tcp:127.0.0.1:{port}\n{extra}"
            'loadmodule "proto_udp.so"\nloadmodule "proto_tcp.so"\nloadmodule "sl.so"\n'
            'route {\n\tif ($rm == "OPTIONS") { sl_send_reply(200, "OK"); exit; }\n'
            '\tforward("udp:127.0.0.1:9");\n}\n')


def core_for(port: int, extra: str = "") -> ProxyCore:
    return ProxyCore.from_text(config(port, extra), logger=Logger(-3, sink=lambda line: None))


def udp_options(port: int, n: int) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(5)
        sock.sendto(OPTIONS.format(proto="UDP", port=sock.getsockname()[1], n=n).encode(), (LOOPBACK, port))
        return sock.recv(65535)


def closed_by_peer(conn: socket.socket) -> bool:
    """The server closed the connection (an orderly close, or a reset when it had unread data)."""
    try:
        return conn.recv(65535) == b""
    except ConnectionResetError:
        return True


def test_garbage_datagrams_are_counted_and_the_server_keeps_serving():
    port = free_port()
    core = core_for(port)
    rng = random.Random(4475)
    invalid = [path.read_bytes() for path in sorted((CORPUS / "rfc4475").glob("*.dat"))
               if path.name in ("badinv01.dat", "ncl.dat", "insuf.dat", "mismatch01.dat", "lwsruri.dat")]
    with Proxy(core), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.bind((LOOPBACK, 0))
        sender.settimeout(0.2)
        for _ in range(200):
            sender.sendto(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 900))), (LOOPBACK, port))
        for data in invalid:
            sender.sendto(data, (LOOPBACK, port))
        assert udp_options(port, 1).startswith(b"SIP/2.0 200 OK")
        deadline = time.monotonic() + 5
        while core.stats["bad_msg_hdr"] + core.stats["err_requests"] < 200 + len(invalid) - 1 \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        stats = dict(core.stats)
    assert stats["bad_msg_hdr"] + stats["err_requests"] + stats["err_replies"] >= 200 + len(invalid) - 1
    assert stats["rcv_requests"] >= 1


def test_a_reply_to_a_tcp_request_comes_back_on_the_same_connection():
    port = free_port()
    with Proxy(core_for(port)), socket.create_connection((LOOPBACK, port), timeout=5) as conn:
        local = conn.getsockname()[1]
        for n in range(3):
            conn.sendall(OPTIONS.format(proto="TCP", port=local, n=n).encode())
            reply = b""
            while b"\r\n\r\n" not in reply:
                reply += conn.recv(65535)
            assert reply.startswith(b"SIP/2.0 200 OK") and f"Call-ID: live-{n}".encode() in reply
        conn.sendall(b"\r\n\r\n")  # RFC 5626 ping
        assert conn.recv(16) == b"\r\n"


def test_tcp_max_connections_refuses_connections_beyond_the_limit():
    port = free_port()
    with Proxy(core_for(port, "tcp_max_connections = 1\n")):
        first = socket.create_connection((LOOPBACK, port), timeout=5)
        first.sendall(OPTIONS.format(proto="TCP", port=first.getsockname()[1], n=1).encode())
        assert first.recv(65535).startswith(b"SIP/2.0 200")
        second = socket.create_connection((LOOPBACK, port), timeout=5)
        second.sendall(OPTIONS.format(proto="TCP", port=second.getsockname()[1], n=2).encode())
        assert closed_by_peer(second)
        second.close()
        first.close()


def test_an_idle_tcp_connection_is_closed_after_tcp_connection_lifetime():
    port = free_port()
    with Proxy(core_for(port, "tcp_connection_lifetime = 1\n")):
        conn = socket.create_connection((LOOPBACK, port), timeout=5)
        conn.sendall(OPTIONS.format(proto="TCP", port=conn.getsockname()[1], n=1).encode())
        assert conn.recv(65535).startswith(b"SIP/2.0 200")
        started = time.monotonic()
        assert closed_by_peer(conn)
        assert time.monotonic() - started < 4
        conn.close()


def test_an_outgoing_tcp_connection_not_up_within_tcp_connect_timeout_is_abandoned():
    # a listener whose accept queue is full: the kernel drops further SYNs, so connect() hangs
    blackhole = socket.socket()
    blackhole.bind((LOOPBACK, 0))
    blackhole.listen(0)
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(blackhole.getsockname())
        fillers.append(filler)
    port = free_port()
    lines: list[str] = []
    text = config(port, "tcp_connect_timeout = 200\n").replace(
        'forward("udp:127.0.0.1:9")', f'forward("tcp:127.0.0.1:{blackhole.getsockname()[1]}")')
    core = ProxyCore.from_text(text, logger=Logger(-1, sink=lines.append))
    try:
        with Proxy(core), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            invite = OPTIONS.format(proto="UDP", port=5999, n=9).replace("OPTIONS", "INVITE").encode()
            started = time.monotonic()
            sender.sendto(invite, (LOOPBACK, port))
            while not any("no connection within 200 ms" in line for line in lines):
                assert time.monotonic() - started < 3, lines
                time.sleep(0.02)
            assert time.monotonic() - started >= 0.15
    finally:
        for sock in [*fillers, blackhole]:
            sock.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_cli_serves_and_stops_within_2_seconds_on_a_signal(tmp_path, signum):
    port = free_port()
    with proxy_process(config(port), tmp_path, port) as process:
        assert udp_options(port, 7).startswith(b"SIP/2.0 200 OK")
        started = time.monotonic()
        process.send_signal(signum)
        assert process.wait(timeout=5) == 0
        assert time.monotonic() - started < 2
    log = (tmp_path / "proxy.log").read_text()
    assert re.search(r"^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \[\d+\] NOTICE:core:opensips-py \S+ starting", log, re.M)
    assert "shutting down" in log and "stopped" in log


def test_the_cli_accepts_opensips_options_and_an_extra_socket(tmp_path):
    port, extra = free_port(), free_port()
    with proxy_process(config(port), tmp_path, port, "-F", "-m", "64", "-M", "8", "-l", f"udp:127.0.0.1:{extra}",
                       "-D"):
        assert udp_options(extra, 8).startswith(b"SIP/2.0 200 OK")
    log = (tmp_path / "proxy.log").read_text()
    assert "-m/-M accepted and ignored" in log and f"listening on udp:127.0.0.1:{extra}" in log


def test_the_cli_reports_a_port_in_use_and_exits_1(tmp_path):
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind((LOOPBACK, port))
        path = tmp_path / "busy.cfg"
        path.write_text(config(port))
        result = subprocess.run([sys.executable, "-m", "opensips_py", "-f", str(path)], capture_output=True,
                                text=True, timeout=30, cwd=REPO, env=dict(os.environ))
    assert result.returncode == 1 and "cannot open the sockets" in result.stderr
