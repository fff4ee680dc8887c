"""The proxy as users run it (`opensips-py -f cfg`), driven by real SIPp on loopback.

SIPp `-sn uac` → opensips-py → SIPp `-sn uas` (INVITE, 100/180/200, ACK, BYE), 2,000 calls at 200 calls/s
with 0 failed calls over UDP and over TCP; local replies decided by the script (OPTIONS 200, Max-Forwards 0
→ 483, a message over the script's size limit → 413).
"""
from __future__ import annotations

import pytest

from tests.e2e.support import (
    call_counts, environment_note, free_port, options_scenario, proxy_process, sipp_client, sipp_uas,
)

pytestmark = pytest.mark.live

CONFIG = """log_level = 2
udp_workers = 4
socket = udp:127.0.0.1:{proxy}
socket = tcp:127.0.0.1:{proxy}
loadmodule "proto_udp.so"
loadmodule "proto_tcp.so"
loadmodule "sl.so"
loadmodule "maxfwd.so"
loadmodule "sipmsgops.so"

route {{
    if ($ml > 2048) {{
        sl_send_reply(413, "Request Entity Too Large");
        exit;
    }}
    if (!mf_process_maxfwd_header(10)) {{
        sl_send_reply(483, "Too Many Hops");
        exit;
    }}
    if (is_method("OPTIONS")) {{
        sl_send_reply(200, "OK");
        exit;
    }}
    if ($pr == "tcp")
        forward("tcp:127.0.0.1:{uas}");
    else
        forward("udp:127.0.0.1:{uas}");
}}
"""


@pytest.fixture
def ports():
    return {"proxy": free_port(), "uas": free_port(), "uac": free_port()}


def _calls(tmp_path, ports, transport: str, calls: int = 2000, rate: int = 200):
    config = CONFIG.format(**ports)
    with proxy_process(config, tmp_path, ports["proxy"]), sipp_uas(ports["uas"], tmp_path, transport):
        result = sipp_client(ports["proxy"], ports["uac"], tmp_path, "-sn", "uac", "-s", "service", "-t", transport,
                             "-r", str(rate), "-m", str(calls), timeout=calls / rate * 4 + 30)
    successful, failed = call_counts(result.stdout)
    log = (tmp_path / "proxy.log").read_text()
    assert result.returncode == 0 and failed == 0 and successful == calls, \
        f"{successful=} {failed=} rc={result.returncode} ({environment_note()})\n{result.stdout[-1500:]}\n{log[-3000:]}"
    assert "internal error" not in log


def test_2000_calls_at_200_per_second_over_udp_with_no_failure(tmp_path, ports):
    _calls(tmp_path, ports, "u1")


def test_2000_calls_at_200_per_second_over_tcp_with_no_failure(tmp_path, ports):
    _calls(tmp_path, ports, "t1")


@pytest.mark.parametrize("expect, max_forwards, padding", [(200, 70, 0), (483, 0, 0), (413, 70, 3000)],
                         ids=["options-200", "max-forwards-0-483", "too-large-413"])
def test_the_script_answers_locally(tmp_path, ports, expect, max_forwards, padding):
    scenario = options_scenario(tmp_path, expect, max_forwards, padding)
    with proxy_process(CONFIG.format(**ports), tmp_path, ports["proxy"]):
        result = sipp_client(ports["proxy"], ports["uac"], tmp_path, "-sf", str(scenario), "-s", "service",
                             "-m", "3", "-r", "10", timeout=30)
    assert result.returncode == 0 and call_counts(result.stdout) == (3, 0), result.stdout[-1500:]
