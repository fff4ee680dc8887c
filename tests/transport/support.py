"""Helpers of the transport tests: loopback ports in 45000-45999, the live server in a thread, certificates,
SIP text, and small blocking peers (a TLS client, a TLS server) built on the stdlib.

Every socket and thread a test opens is closed by it; every wait has a deadline.
"""
from __future__ import annotations

import random
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import trio

from opensips_py.runtime import ProxyCore
from opensips_py.runtime.log import Logger
from opensips_py.runtime.resolver import Resolver
from opensips_py.sip import parse_message
from opensips_py.transport.selfsigned import generate_self_signed
from opensips_py.transport.server import LiveServer

LOOPBACK = "127.0.0.1"
PORT_RANGE = (45000, 45999)

MODULES = ('loadmodule "proto_udp.so"\nloadmodule "proto_tcp.so"\nloadmodule "proto_tls.so"\n'
           'loadmodule "proto_ws.so"\nloadmodule "proto_wss.so"\nloadmodule "tls_mgm.so"\n'
           'loadmodule "tls_openssl.so"\nloadmodule "sl.so"\n')

# Answers OPTIONS and MESSAGE to "echo" itself (the reason says the protocol it came over), forwards the rest
# statelessly to the R-URI (or $du when the request names a "via" header).
ROUTE = ('route {\n'
         '\tif ($rm == "OPTIONS" || ($rm == "MESSAGE" && $rU == "echo")) {\n'
         '\t\tsl_send_reply(200, "OK over $socket_in(proto)");\n\t\texit;\n\t}\n'
         '\tforward();\n'
         '}\n')


def free_ports(count: int) -> list[int]:
    """`count` consecutive ports in 45000-45999 free for TCP and UDP on loopback."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(PORT_RANGE[0], PORT_RANGE[1] - count)
        if all(_free(port) for port in range(base, base + count)):
            return list(range(base, base + count))
    raise RuntimeError("no free loopback ports in 45000-45999")


def _free(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind((LOOPBACK, port))
            except OSError:
                return False
    return True


@dataclass
class Certificate:
    certificate: Path
    private_key: Path


def make_certificate(directory: Path, name: str = LOOPBACK) -> Certificate:
    made = generate_self_signed(directory / "cert.pem", directory / "key.pem", name)
    return Certificate(made.certificate, made.private_key)


def tls_domain_params(domain: str, cert: Certificate | None, *, server: bool = True,
                      extra: dict[str, str] | None = None) -> str:
    """modparam lines declaring one tls_mgm domain, with this certificate (if any) and no verification
    unless `extra` says otherwise."""
    kind = "server_domain" if server else "client_domain"
    settings = {"verify_cert": "0", "require_cert": "0"}
    if cert is not None:
        settings.update(certificate=str(cert.certificate), private_key=str(cert.private_key))
    settings.update(extra or {})
    lines = [f'modparam("tls_mgm", "{kind}", "{domain}")']
    lines += [f'modparam("tls_mgm", "{name}", "[{domain}]{value}")' for name, value in settings.items()]
    return "\n".join(lines) + "\n"


@dataclass
class Proxy:
    """A LiveServer in a thread of this process, so a test can read the core's counters and log."""

    core: ProxyCore
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = LiveServer(self.core)
        self._token = None
        self._started = threading.Event()
        self.thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        async with trio.open_nursery() as nursery:
            await nursery.start(self.server.run)
            self._started.set()

    def __enter__(self) -> "Proxy":
        self.thread.start()
        assert self._started.wait(10), "the server did not start"
        return self

    def __exit__(self, *exc) -> None:
        trio.from_thread.run_sync(self.server.shutdown, trio_token=self._token)
        self.thread.join(5)
        assert not self.thread.is_alive()

    def run_sync(self, fn, *args):
        """Call fn(*args) in the server's trio thread (to read its state consistently)."""
        return trio.from_thread.run_sync(fn, *args, trio_token=self._token)


def proxy(config: str) -> Proxy:
    log: list[str] = []
    core = ProxyCore.from_text(config, name="transport.cfg", logger=Logger(4, sink=log.append), log_level=4,
                               resolver=Resolver(system=False))
    return Proxy(core, log)


# ------------------------------------------------------------------------------------------------ SIP text

def request(method: str, ruri: str, proto: str, sent_by: str, n: int | str, body: str = "",
            extra: str = "") -> bytes:
    """A request as a UA sends it (Via with rport unless the transport is WebSocket)."""
    rport = "" if proto in ("WS", "WSS") else ";rport"
    return (f"{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/{proto} {sent_by};branch=z9hG4bKt{n}{rport}\r\n"
            f"From: <sip:alice@example.com>;tag=a{n}\r\nTo: <{ruri}>\r\nCall-ID: transport-{n}\r\n"
            f"CSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}"
            f"Content-Length: {len(body.encode())}\r\n\r\n{body}").encode()


def options_over_tls(port: int, ctx: ssl.SSLContext, n: int = 1, server_hostname: str | None = None) -> bytes:
    """One OPTIONS over a new TLS connection; its reply."""
    with socket.create_connection((LOOPBACK, port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname=server_hostname) as conn:
        conn.sendall(request("OPTIONS", f"sip:{LOOPBACK}:{port};transport=tls", "TLS",
                             f"{LOOPBACK}:{conn.getsockname()[1]}", n))
        return read_message(conn, bytearray())


def closed_by_server(conn: socket.socket) -> bool:
    """The server closes (after whatever alert or error it sends first); a reset counts too."""
    try:
        for _ in range(10):
            if conn.recv(65535) == b"":
                return True
    except ConnectionResetError:
        return True
    return False


# ------------------------------------------------------------------------------------------------ WebSocket

ORIGIN = [(b"Origin", b"https://phone.example.com")]
BROWSER = "df7jal23ls0d.invalid"  # a browser's Via/Contact host (RFC 7118 §5.2)


def browser_request(method: str, ruri: str, n: int, body: str = "") -> str:
    """A request as a browser sends it over a WebSocket (an .invalid host, no port, no rport)."""
    return request(method, ruri, "WS", BROWSER, n, body,
                   f"Contact: <sip:alice@{BROWSER};transport=ws>\r\n").decode()


def run(async_fn, *args, timeout: float = 20):
    """trio.run in this thread (the server has its own), bounded."""
    async def bounded():
        with trio.fail_after(timeout):
            return await async_fn(*args)
    return trio.run(bounded)


def read_message(sock: socket.socket | ssl.SSLSocket, buffer: bytearray) -> bytes:
    """One Content-Length-framed SIP message from a blocking stream socket (the socket's timeout bounds it)."""
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(buffer[:end + 4])
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() in (b"content-length", b"l"):
                    length = int(value.strip())
            if len(buffer) >= end + 4 + length:
                message = bytes(buffer[:end + 4 + length])
                del buffer[:end + 4 + length]
                return message
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed by the peer")
        buffer.extend(data)


def client_context(cert: Certificate | None = None, *, trust: Path | None = None) -> ssl.SSLContext:
    """A TLS client context: trusts `trust` (else verifies nothing), presents `cert` if given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if trust is not None:
        ctx.load_verify_locations(cafile=str(trust))
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if cert is not None:
        ctx.load_cert_chain(str(cert.certificate), str(cert.private_key))
    return ctx


class TLSPeer:
    """A blocking TLS SIP server on loopback (another proxy or a phone): it records the messages it reads and
    answers each request with `status`, on the same connection."""

    def __init__(self, port: int, cert: Certificate, status: int = 200) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert.certificate), str(cert.private_key))
        self.listener = socket.create_server((LOOPBACK, port))
        self.listener.settimeout(10)
        self.status = status
        self.received: list[bytes] = []
        self.arrived = threading.Event()
        self.errors: list[BaseException] = []
        self._done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "TLSPeer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self.listener.close()
        self.thread.join(10)

    def _serve(self) -> None:
        from opensips_py.sip import build_reply
        try:
            raw, _ = self.listener.accept()
            with self.context.wrap_socket(raw, server_side=True) as conn:
                conn.settimeout(10)
                buffer = bytearray()
                data = read_message(conn, buffer)
                self.received.append(data)
                self.arrived.set()
                conn.sendall(build_reply(parse_message(data), self.status, "OK"))
                self._done.wait(10)  # keep the connection up until the test is over
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)
            self.arrived.set()
