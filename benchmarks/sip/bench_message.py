"""SIP message layer speed, in µs per message, against a plain bytes.split(b"\\r\\n") floor in the same run.

Run:  .venv/bin/python -m pytest benchmarks/sip --benchmark-enable
Goals on this machine class: lazy parse of the 1 KB INVITE <= 15 µs; parse-edit-serialize <= 60 µs.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from opensips_py.sip import parse_message
from opensips_py.sip.sdp import Connection, SessionDescription

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "sip"
MESSAGES = {
    "invite-1k": (DATA / "invite-1k.sip").read_bytes(),
    "ok-400": (DATA / "ok-400.sip").read_bytes(),
}
VIA = "SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK4b43c2ff8.0"


@pytest.fixture(params=sorted(MESSAGES))
def message(request: pytest.FixtureRequest) -> bytes:
    return MESSAGES[request.param]


def test_floor_bytes_split(benchmark, message: bytes) -> None:
    benchmark.group = f"sip {len(message)} B"
    lines = benchmark(message.split, b"\r\n")
    assert lines[0].startswith((b"INVITE", b"SIP/2.0"))


def test_lazy_parse(benchmark, message: bytes) -> None:
    benchmark.group = f"sip {len(message)} B"
    msg = benchmark(parse_message, message)
    assert msg.raw == message


def full_parse(data: bytes) -> object:
    msg = parse_message(data)
    msg.parse_all()
    if msg.is_request:
        msg.ruri  # noqa: B018
    return msg


def test_full_parse_of_every_header(benchmark, message: bytes) -> None:
    benchmark.group = f"sip {len(message)} B"
    msg = benchmark(full_parse, message)
    assert msg.via1 is not None


def add_via_and_serialize(data: bytes) -> bytes:
    msg = parse_message(data)
    msg.add_via(VIA)
    return msg.serialize()


def test_serialize_with_one_via_added(benchmark, message: bytes) -> None:
    benchmark.group = f"sip {len(message)} B"
    out = benchmark(add_via_and_serialize, message)
    assert len(out) == len(message) + len(VIA) + 7


def proxy_path(data: bytes) -> tuple[bytes, tuple[object, ...]]:
    """What a stateful proxy does with an initial INVITE: read the transaction and routing headers,
    decrement Max-Forwards, Record-Route, drop the Route to itself, add its Via, serialize."""
    msg = parse_message(data)
    key = (msg.via1.branch, msg.cseq.number, msg.call_id, msg.from_.tag, msg.to.tag, msg.ruri.host,
           len(msg.route))
    max_forwards = msg.max_forwards
    msg.replace_field(msg.header_fields("max-forwards")[0].index, str(max_forwards - 1))
    msg.remove_header("Route")
    msg.add_header("Record-Route", "<sip:198.51.100.1;lr>", first=True)
    msg.add_via(VIA)
    return msg.serialize(), key


def test_parse_edit_serialize_invite_proxy_path(benchmark) -> None:
    data = MESSAGES["invite-1k"]
    benchmark.group = f"sip {len(data)} B"
    out, key = benchmark(proxy_path, data)
    assert key == ("z9hG4bK.Tx3vyRwnY", 20, "7XQ2Kb1bHg5pL0w3aYt9@192.0.2.33", "kR9~2fQ0Zc", None,
                   "sip.example.com", 1)
    assert b"Max-Forwards: 69\r\n" in out and b"Route: <sip:edge" not in out


def rewrite_sdp(body: bytes) -> bytes:
    sdp = SessionDescription.parse(body)
    sdp.connection = Connection("IN", "IP4", "198.51.100.1")
    sdp.media[0].port = 30000
    sdp.bump_version()
    return sdp.serialize()


def test_sdp_parse_rewrite_serialize(benchmark) -> None:
    body = parse_message(MESSAGES["invite-1k"]).body
    benchmark.group = "sdp"
    out = benchmark(rewrite_sdp, body)
    assert b"m=audio 30000 " in out
