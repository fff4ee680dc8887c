"""Bad input on the ng port: an error reply or silence, never a crash; the relay keeps serving.

The datagram-level cases go to our relay process over UDP; the property test drives the control plane
in-process with arbitrary documents, much faster than the wire allows.
"""
from __future__ import annotations

import os
import random
import socket

import pytest
from hypothesis import given, settings, strategies as st

from opensips_py.media import bencode
from opensips_py.media.control import MediaRelay, RelayConfig
from tests.media.conftest import load_sdp

GARBAGE = [
    b"",
    b" ",
    b"nocookie",
    b"c1 ",
    b"c1 x",
    b"c1 d7:command",
    b"c1 d7:command4:pin",
    b"c1 d7:commandi5ee",
    b"c1 l4:pinge",
    b"c1 " + b"l" * 5000 + b"e" * 5000,
    b"c1 d" + b"".join(bencode.encode(f"k{i}") + b"i1e" for i in range(6000)) + b"e",
    b"c1 d7:command5:offer3:sdp" + b"999999999:x" + b"e",
    b"c1 {\"command\": ",
    b"c1 " + b"{" * 3000 + b"}" * 3000,
    b"c1 \xff\xfe\x00garbage",
    b"c1 d7:command5:offer3:sdp4:\xff\xfe\x00\x017:call-id1:x8:from-tag1:ae",
]


def _exchange(sock: socket.socket, address: tuple[str, int], datagram: bytes) -> bytes | None:
    sock.sendto(datagram, address)
    try:
        return sock.recv(65535)
    except socket.timeout:
        return None


@pytest.fixture()
def ng_socket(relay_process):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.3)
    yield sock, relay_process.address
    sock.close()


@pytest.mark.parametrize("datagram", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_gets_an_error_reply_or_silence_and_the_relay_keeps_serving(ng_socket, relay, datagram) -> None:
    sock, address = ng_socket
    reply = _exchange(sock, address, datagram)
    if reply is not None:
        cookie, _, body = reply.partition(b" ")
        decoded = bencode.decode(body) if body[:1] == b"d" else None
        assert decoded is None or decoded[b"result"] == b"error"
    assert relay.ping()


def test_random_bytes_never_stop_the_relay(ng_socket, relay) -> None:
    sock, address = ng_socket
    rng = random.Random(7)
    for _ in range(300):
        sock.sendto(b"r%d " % rng.randrange(10**6) + os.urandom(rng.randrange(1, 1400)), address)
    assert relay.ping()


@pytest.mark.parametrize("document", [
    {"command": "offer", "call-id": ["list"], "from-tag": {"d": 1}, "sdp": 5},
    {"command": "offer", "call-id": "x", "from-tag": "a", "sdp": "v=0\r\n"},
    {"command": "offer", "call-id": "x", "from-tag": "a", "sdp": "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n"
                                                                "m=audio notaport RTP/AVP 0\r\n"},
    {"command": "offer", "call-id": "x", "from-tag": "a", "sdp": "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n"
                                                                "s=-\r\nt=0 0\r\nm=audio 5 RTP/AVP 0\r\n"},
    {"command": "offer", "call-id": "x", "from-tag": "a",
     "sdp": "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5 RTP/AVP 0 300\r\n"},
    {"command": "answer", "call-id": "nope", "from-tag": "a", "to-tag": "b", "sdp": "v=0"},
    {"command": "delete", "call-id": "never-seen"},
    {"command": "delete"},
    {"command": "query", "call-id": "never-seen"},
    {"command": "list", "limit": -3},
    {"command": "list", "limit": "many"},
    {"command": 42},
    {"command": "teleport"},
])
def test_malformed_commands_get_error_replies(relay, document) -> None:
    reply = relay.send(document)
    assert reply["result"] in ("error", "ok")
    if reply["result"] == "ok":
        assert set(reply) <= {"result", "warning", "calls"}
    assert relay.ping()


def test_delete_of_unknown_call_is_ok_with_a_warning(relay) -> None:
    assert relay.send({"command": "delete", "call-id": "unknown-call"}) == {
        "result": "ok", "warning": "Call-ID not found or tags didn't match"}


ng_values = st.recursive(
    st.binary(max_size=30) | st.integers(min_value=-5, max_value=70000) | st.sampled_from(
        [b"offer", b"answer", b"delete", b"query", b"list", b"ping", b"statistics", b"c1", b"a", b"b",
         b"RTP/AVP", b"UDP/TLS/RTP/SAVPF", b"force", b"remove", b"trust-address", b"rtcp-mux-require"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from([b"command", b"call-id", b"from-tag", b"to-tag", b"sdp", b"flags", b"replace",
                         b"ICE", b"rtcp-mux", b"transport-protocol", b"codec", b"strip", b"direction",
                         b"via-branch", b"delete-delay", b"limit", b"media-address", b"DTLS", b"x"]),
        children, max_size=6),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([b"command", b"call-id", b"from-tag", b"to-tag", b"sdp", b"flags",
                                        b"ICE", b"codec", b"replace", b"rtcp-mux", b"direction"]),
                       ng_values, max_size=8),
       st.sampled_from(["phone_offer", "chrome_offer", "phone_answer", None]))
def test_arbitrary_documents_never_raise_out_of_the_control_plane(document, sdp_name) -> None:
    relay = _fuzz_relay()
    if sdp_name is not None and b"sdp" not in document:
        document[b"sdp"] = load_sdp(sdp_name).encode()
        document.setdefault(b"command", b"offer")
        document.setdefault(b"call-id", b"c1")
        document.setdefault(b"from-tag", b"a")
    reply = relay.handle_datagram(b"f1 " + bencode.encode(document), ("127.0.0.1", 1))
    assert reply is not None
    decoded = bencode.decode(reply[3:])
    assert decoded[b"result"] in (b"ok", b"error", b"pong")
    if decoded[b"result"] == b"error":
        assert set(decoded) == {b"result", b"error-reason"}
        assert decoded[b"error-reason"] != b"Internal error"
    relay.cache = type(relay.cache)()


_relay: list[MediaRelay] = []


def _fuzz_relay() -> MediaRelay:
    if not _relay:
        _relay.append(MediaRelay(RelayConfig(interfaces=["127.0.0.1"], port_min=21700, port_max=22099)))
    relay = _relay[0]
    if relay.ports_in_use() > 300:
        relay.close()
        _relay[0] = relay = MediaRelay(RelayConfig(interfaces=["127.0.0.1"], port_min=21700, port_max=22099))
    return relay
