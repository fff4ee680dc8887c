"""Shared pieces of the rtpengine module tests: relays as real processes, a proxy on the virtual network
whose rtpengine module talks real UDP to them, SIP messages with SDP.

Ports (this test area's ranges: media 23000-23999, SIP 44000-44999): the real rtpengine relays media on
23000-23399, our relay on 23400-23799, the small test relays on 23800-23949; their ng ports are
23950-23989; test phones' RTP ports are 23990-23999.
"""
from __future__ import annotations

import shutil
import socket
import tempfile
from contextlib import contextmanager

import pytest

from opensips_py.media.embedded import start_embedded_relay
from tests.runtime.support import Proxy

REAL_MEDIA = (23000, 23399)
OUR_MEDIA = (23400, 23799)
REAL_NG = 23950
OUR_NG = 23951
SPARE_NG = range(23960, 23990)  # relays and silent/dead nodes of single tests
PHONE_RTP = range(23990, 24000)

HEAD = """socket = udp:192.0.2.1:5060
loadmodule "proto_udp.so"
loadmodule "sl.so"
loadmodule "signaling.so"
loadmodule "sipmsgops.so"
loadmodule "rtpengine.so"
"""

PHONE_SDP = ("v=0\no=- 1 1 IN IP4 {ip}\ns=-\nc=IN IP4 {ip}\nt=0 0\nm=audio {port} RTP/AVP 0 8 101\n"
             "a=rtpmap:0 PCMU/8000\na=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000\n"
             "a=fmtp:101 0-16\na=sendrecv\n")

# A Chrome-like WebRTC offer (trimmed): ICE, DTLS, rtcp-mux, opus.
WEBRTC_SDP = ("v=0\no=- 4611731400430051336 2 IN IP4 127.0.0.1\ns=-\nt=0 0\na=group:BUNDLE 0\n"
              "a=msid-semantic: WMS\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\nc=IN IP4 0.0.0.0\n"
              "a=rtcp:9 IN IP4 0.0.0.0\na=candidate:1 1 udp 2122260223 {ip} {port} typ host generation 0\n"
              "a=ice-ufrag:Xy7r\na=ice-pwd:Kq2mP8vN3bR6tY1wE4uI9oLs\na=ice-options:trickle\n"
              "a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:"
              "C2:43:F0:A1:58:D0:A1:2C:19:08\na=setup:actpass\na=mid:0\na=sendrecv\na=rtcp-mux\n"
              "a=rtpmap:111 opus/48000/2\na=fmtp:111 minptime=10;useinbandfec=1\na=rtpmap:0 PCMU/8000\n"
              "a=rtpmap:8 PCMA/8000\n")


def sip_request(method: str = "INVITE", *, call_id: str = "call-1", body: str = "", to_tag: str | None = None,
                cseq: int = 1, cseq_method: str | None = None, extra: str = "",
                branch: str = "z9hG4bK776asdhds", content_type: str | None = None) -> bytes:
    """A request from the UAC at 192.0.2.10 (CRLF line ends, Content-Length of the CRLF body)."""
    wire_body = body.replace("\r\n", "\n").replace("\n", "\r\n")
    lines = [f"{method} sip:bob@192.0.2.20 SIP/2.0", f"Via: SIP/2.0/UDP 192.0.2.10:5060;branch={branch}",
             "Max-Forwards: 70", f"To: Bob <sip:bob@biloxi.com>{';tag=' + to_tag if to_tag else ''}",
             "From: Alice <sip:alice@atlanta.com>;tag=1928301774", f"Call-ID: {call_id}",
             f"CSeq: {cseq} {cseq_method or method}", "Contact: <sip:alice@192.0.2.10>"]
    if body:
        lines.append(f"Content-Type: {content_type or 'application/sdp'}")
    lines += [line for line in extra.split("\n") if line]
    lines.append(f"Content-Length: {len(wire_body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + wire_body).encode()


def sip_reply(status: int, *, call_id: str = "call-1", body: str = "", to_tag: str | None = "b7c3",
              cseq: str = "1 INVITE", extra: str = "", reason: str = "OK") -> bytes:
    """A reply from the UAS to what the proxy forwarded (two Vias: the proxy's, the UAC's)."""
    wire_body = body.replace("\r\n", "\n").replace("\n", "\r\n")
    lines = [f"SIP/2.0 {status} {reason}", "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKproxy",
             "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds",
             f"To: Bob <sip:bob@biloxi.com>{';tag=' + to_tag if to_tag else ''}",
             "From: Alice <sip:alice@atlanta.com>;tag=1928301774", f"Call-ID: {call_id}", f"CSeq: {cseq}",
             "Contact: <sip:bob@192.0.2.20>"]
    if body:
        lines.append("Content-Type: application/sdp")
    lines += [line for line in extra.split("\n") if line]
    lines.append(f"Content-Length: {len(wire_body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + wire_body).encode()


def phone_sdp(port: int, ip: str = "127.0.0.1") -> str:
    return PHONE_SDP.format(ip=ip, port=port)


def webrtc_sdp(port: int, ip: str = "127.0.0.1") -> str:
    return WEBRTC_SDP.format(ip=ip, port=port)


def rtpengine_proxy(script: str, socks: str | list[str] = f"udp:127.0.0.1:{OUR_NG}", params: str = "",
                    head: str = HEAD, log_level: int = 4) -> Proxy:
    """A proxy on the virtual network with the rtpengine module pointing at `socks`."""
    lines = [socks] if isinstance(socks, str) else socks
    config = "".join(f'modparam("rtpengine", "rtpengine_sock", "{value}")\n' for value in lines)
    return Proxy(config + params + script, head=head, log_level=log_level)


def sdp_lines(text: str) -> list[str]:
    return [line for line in text.replace("\r\n", "\n").split("\n") if line]


def m_line(sdp: str) -> list[str]:
    return next(line for line in sdp_lines(sdp) if line.startswith("m=")).split()


@contextmanager
def silent_udp_node():
    """A UDP socket that receives ng commands and never answers (a hung rtpengine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for port in SPARE_NG:
            try:
                sock.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        yield sock, sock.getsockname()[1]


def dead_port() -> int:
    """A port of the spare range where nothing listens (ICMP port unreachable answers)."""
    for port in SPARE_NG:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in the spare ng range")


@contextmanager
def small_relay(ng_port: int, port_min: int, port_max: int):
    """Our relay with a tiny media port range (to make it answer "Ran out of ports")."""
    handle = start_embedded_relay(("127.0.0.1", ng_port), interfaces=["127.0.0.1"], port_min=port_min,
                                  port_max=port_max, delete_delay=0, log_level=3)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def our_relay():
    """Our relay as a process, for the module tests (media 23400-23799, ng 23951)."""
    handle = start_embedded_relay(("127.0.0.1", OUR_NG), interfaces=["127.0.0.1"], port_min=OUR_MEDIA[0],
                                  port_max=OUR_MEDIA[1], delete_delay=0, log_level=3)
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def real_rtpengine():
    """The Debian rtpengine daemon (userspace), media 23000-23399, ng 23950."""
    from tests.media.conftest import RealRtpengine
    if shutil.which("rtpengine") is None:
        pytest.fail("rtpengine is not installed: run ./scripts/test, which installs rtpengine-daemon")
    with tempfile.TemporaryDirectory(prefix="rtpengine-module-") as workdir:
        daemon = RealRtpengine(REAL_NG, workdir, REAL_MEDIA[0], REAL_MEDIA[1], [])
        yield daemon
        daemon.stop()
