"""SIPp phones with real G.711 RTP through the relay (and through rtpengine, same test).

The test negotiates the SDP with the relay itself (offer from the caller's media port, answer from the
callee's), then runs a SIPp callee with -rtp_echo and a SIPp caller that plays a 236-packet G.711 A-law
capture (/usr/share/sip-tester/g711a.pcap, 252-byte RTP packets) to the relay port it was given. The
relay forwards the capture to the callee, the callee echoes every packet back to the relay, and the
counters in the query reply must show exactly the capture in each direction.
"""
from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from tests.media.conftest import free_udp_port
from tests.media.test_media import PHONE_SDP, m_port

SIPP_DIR = Path(__file__).parent / "sipp"
CAPTURE_PACKETS = 236
CAPTURE_RTP_BYTES = 252


@pytest.fixture(params=["ours", "rtpengine"])
def ng(request):
    return request.getfixturevalue("relay" if request.param == "ours" else "real")


def _pcma_sdp(port: int) -> str:
    return PHONE_SDP.format(port=port, extra="").replace(" 0\r\na=rtpmap:0 PCMU", " 8\r\na=rtpmap:8 PCMA")


def _sipp(*args: str) -> list[str]:
    return ["sipp", "-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", "30", "-timeout_error", *args]


@pytest.mark.live
def test_g711_capture_from_sipp_is_relayed_to_the_callee_and_echoed_back(ng, tmp_path) -> None:
    caller_media, callee_media = free_udp_port(), free_udp_port()
    call_id = f"sipp-{uuid.uuid4()}"
    flags = {"flags": ["trust-address"], "replace": ["origin", "session-connection"]}
    offer = ng.send({"command": "offer", "call-id": call_id, "from-tag": "a", "sdp": _pcma_sdp(caller_media),
                     **flags})
    answer = ng.send({"command": "answer", "call-id": call_id, "from-tag": "a", "to-tag": "b",
                      "sdp": _pcma_sdp(callee_media), **flags})
    assert offer["result"] == "ok" and answer["result"] == "ok"
    callee_sip = free_udp_port()
    callee = subprocess.Popen(
        _sipp("-sf", str(SIPP_DIR / "uas_echo.xml"), "-p", str(callee_sip), "-mp", str(callee_media),
              "-rtp_echo", "-set", "relay_for_a", str(m_port(answer["sdp"]))),
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        caller = subprocess.run(
            _sipp(f"127.0.0.1:{callee_sip}", "-sf", str(SIPP_DIR / "uac_pcap.xml"), "-p", str(free_udp_port()),
                  "-mp", str(caller_media), "-set", "relay_for_b", str(m_port(offer["sdp"]))),
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        assert caller.returncode == 0
        assert callee.wait(timeout=15) == 0
    finally:
        if callee.poll() is None:
            callee.kill()
            callee.wait()
    query = ng.send({"command": "query", "call-id": call_id})
    ng.send({"command": "delete", "call-id": call_id})
    from_caller = query["tags"]["a"]["medias"][0]["streams"][0]
    from_callee = query["tags"]["b"]["medias"][0]["streams"][0]
    assert from_caller["stats"] == {"packets": CAPTURE_PACKETS, "bytes": CAPTURE_PACKETS * CAPTURE_RTP_BYTES,
                                    "errors": 0}
    assert from_callee["stats"] == from_caller["stats"]
    assert from_callee["endpoint"]["port"] == callee_media
    assert from_caller["advertised endpoint"]["port"] == caller_media
    # SIPp's pcap replay sends from source port 0, so this call proves nothing about latching: that is pinned by
    # tests/media/test_media.py (sockets that send from other ports than their SDP's) and by
    # tests/e2e/test_rtpengine_e2e.py (SIPp's rtp_stream through the proxy and the relay).
