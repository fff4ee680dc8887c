"""The rtpengine module as users run it: `opensips-py -f` with an rtpengine_sock where nothing listens
starts our relay there (and stops it at shutdown); SIPp phones then make a call with real G.711 RTP through
the proxy and that relay.

The proxy is stateful (tm): offer in the INVITE, answer in the 200 (its onreply_route), $rtpstat and delete
on BYE. The caller streams 150 packets of A-law (SIPp rtp_stream) to the relay port
of the 200's SDP from another port than its SDP names, the relay latches onto it and forwards to the
callee, the callee (SIPp -rtp_echo) sends every packet back, the relay returns them to the caller's real
source. Ports: SIP 44000-44002, ng 23970-23971, relay media 23820-23899, phones' RTP 23990-23997 (the
caller's SDP names 23996, it sends from 23990).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from opensips_py.media.embedded import relay_answers_ping
from opensips_py.media.ngclient import NgClient
from tests.e2e.support import proxy_process, sipp_client, stop, udp_bound

pytestmark = pytest.mark.live

SIPP = Path(__file__).parent / "sipp"
PROXY, UAS, UAC = 44000, 44001, 44002
NG = 23970
PACKETS = 150
RTP_BYTES = 12 + 160  # RTP header + 20 ms of A-law

CONFIG = f"""log_level = 3
stderror_enabled = yes
socket = udp:127.0.0.1:{PROXY}
loadmodule "proto_udp.so"
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "sipmsgops.so"
loadmodule "rtpengine.so"
modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:@NG@")

route {{
    $du = "sip:127.0.0.1:{UAS}";
    if (has_totag()) {{
        if (is_method("BYE")) {{
            xlog("L_NOTICE", "call $ci stats: $rtpstat\\n");
            rtpengine_delete();
        }}
        t_relay();
        exit;
    }}
    if (is_method("INVITE")) {{
        if (!rtpengine_offer("trust-address replace-origin replace-session-connection"))
            xlog("L_ERR", "offer failed\\n");
        t_on_reply("MEDIA");
    }}
    t_relay();
}}

onreply_route[MEDIA] {{
    if (has_body("application/sdp"))
        rtpengine_answer("trust-address replace-origin replace-session-connection");
}}
"""


@pytest.fixture
def relay_env(monkeypatch):
    monkeypatch.setenv("OPENSIPS_PY_RELAY_ARGS", "--port-min=23820 --port-max=23899 --delete-delay=30")


def _relay_pid(log: str) -> int:
    match = re.search(r"started the embedded media relay there \(pid (\d+)", log)
    assert match, log
    return int(match.group(1))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_call_with_g711_rtp_through_the_proxy_and_the_relay_it_started(tmp_path, relay_env):
    assert not relay_answers_ping(("127.0.0.1", NG))
    with proxy_process(CONFIG.replace("@NG@", str(NG)), tmp_path, PROXY):
        log = (tmp_path / "proxy.log").read_text()
        pid = _relay_pid(log)
        assert f"nothing answered ping on udp:127.0.0.1:{NG}" in log
        assert relay_answers_ping(("127.0.0.1", NG))
        (tmp_path / "caller.alaw").write_bytes(bytes([0xD5]) * 160 * PACKETS)
        callee = subprocess.Popen(
            ["sipp", "-i", "127.0.0.1", "-p", str(UAS), "-m", "1", "-nostdin", "-timeout", "30", "-timeout_error",
             "-sf", str(SIPP / "rtpengine_uas.xml"), "-mp", "23994", "-rtp_echo"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not udp_bound(UAS) and time.monotonic() < deadline:
                time.sleep(0.05)
            caller = sipp_client(PROXY, UAC, tmp_path, "-sf", str(SIPP / "rtpengine_uac.xml"), "-m", "1",
                                 "-mp", "23990", "-set", "sdp_port", "23996", timeout=40)
            assert caller.returncode == 0, caller.stdout[-1500:] + (tmp_path / "proxy.log").read_text()[-2000:]
            assert callee.wait(timeout=15) == 0
        finally:
            stop(callee)
        log = (tmp_path / "proxy.log").read_text()
        call_id = re.search(r"call (\S+) stats: ", log).group(1)
        # both directions: the caller's stream and the callee's echo of it
        total = 2 * PACKETS
        assert f"stats: RTP: {total * RTP_BYTES} bytes, {total} packets, 0 errors" in log, log[-2000:]
        with NgClient("127.0.0.1", NG, timeout=2.0) as client:
            state = client.command("query", call_id=call_id)  # the deleted call lingers (delete-delay)
        streams = {tag: monologue["medias"][0]["streams"][0] for tag, monologue in state["tags"].items()}
        caller_stream = next(s for tag, s in streams.items() if "SIPpTag00" in tag)
        callee_stream = next(s for tag, s in streams.items() if "SIPpTag01" in tag)
        assert caller_stream["stats"] == {"packets": PACKETS, "bytes": PACKETS * RTP_BYTES, "errors": 0}
        assert callee_stream["stats"] == caller_stream["stats"]
        assert callee_stream["endpoint"]["port"] == 23994
        # the caller's SDP said 23996, its RTP came from 23990: the relay latched onto the real source
        assert caller_stream["advertised endpoint"]["port"] == 23996
        assert caller_stream["endpoint"]["port"] == 23990, json.dumps(state, indent=1)
    deadline = time.monotonic() + 5  # the relay stops with the proxy
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
    assert not relay_answers_ping(("127.0.0.1", NG), timeout=0.2)


def test_no_embedded_relay_leaves_the_address_alone(tmp_path, relay_env):
    ng = NG + 1
    with proxy_process(CONFIG.replace("@NG@", str(ng)), tmp_path, PROXY, "--no-embedded-relay"):
        time.sleep(0.3)
        assert not relay_answers_ping(("127.0.0.1", ng), timeout=0.2)
    assert "embedded media relay" not in (tmp_path / "proxy.log").read_text()
