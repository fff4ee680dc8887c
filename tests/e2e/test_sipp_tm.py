"""tm live: `opensips-py -f cfg` relaying statefully between real SIPp peers on loopback.

Ports: tm's range, 40000-40999 on 127.0.0.1 (each test its own block of ten). Scenarios in tests/e2e/sipp/tm_*.xml:
- record-routed calls (INVITE, 100, 180, 200, ACK, BYE; the in-dialog requests follow the Route set through
  loose_route()) for 1,000 calls with 0 failures over UDP, and 200 over TCP on both sides;
- CANCEL while it rings: 200 canceling, the callee CANCELled, 487 to the caller;
- a busy callee (486): failure_route sends the call to a second callee, which answers;
- a callee that rings for ever: 408 after fr_inv_timeout, failure_route runs, the callee gets a CANCEL.
"""
from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.e2e.support import LOOPBACK, call_counts, environment_note, proxy_process, sipp_client, stop, udp_bound

pytestmark = pytest.mark.live

SCENARIOS = Path(__file__).resolve().parent / "sipp"

CONFIG = """log_level = 3
socket = udp:127.0.0.1:{proxy}
socket = tcp:127.0.0.1:{proxy}
loadmodule "proto_udp.so"
loadmodule "proto_tcp.so"
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "sipmsgops.so"
modparam("tm", "fr_inv_timeout", 2)

route {{
    if (!mf_process_maxfwd_header(10)) {{
        sl_send_reply(483, "Too Many Hops");
        exit;
    }}
    if (has_totag()) {{
        if (loose_route()) {{
            t_relay();
            exit;
        }}
        if (is_method("ACK")) {{
            if (t_check_trans()) t_relay();
            exit;
        }}
        sl_send_reply(404, "Not Here");
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) t_relay();
        exit;
    }}
    t_check_trans();
    record_route();
    t_on_failure("missed");
    if ($pr == "tcp")
        $du = "sip:127.0.0.1:{uas};transport=tcp";
    else
        $du = "sip:127.0.0.1:{uas}";
    if (!t_relay()) sl_reply_error();
}}

failure_route[missed] {{
    xlog("failure_route: $T_reply_code for $ci\\n");
    if (t_was_cancelled()) exit;
    if (t_check_status("486")) {{
        $du = "sip:127.0.0.1:{uas2}";
        t_relay();
    }}
}}
"""


def tm_ports(block: int) -> dict[str, int]:
    """Ten ports of tm's range per test: proxy, two callees, the caller."""
    base = 40000 + 10 * block
    return {"proxy": base, "uas": base + 2, "uas2": base + 4, "uac": base + 6}


@contextlib.contextmanager
def sipp_server(scenario: str, port: int, tmp_path: Path, *args: str) -> Iterator[subprocess.Popen]:
    """A SIPp callee running `scenario` on loopback:port until the block ends (TCP: `-t t1` in args)."""
    log = open(tmp_path / f"uas-{port}.log", "w")
    process = subprocess.Popen(["sipp", "-sf", str(SCENARIOS / scenario), "-i", LOOPBACK, "-p", str(port),
                                "-nostdin", "-bind_local", "-trace_err", *args], cwd=tmp_path, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        tcp = "t1" in args
        while not (tcp_listening(port) if tcp else udp_bound(port)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"sipp {scenario} did not start")
            time.sleep(0.05)
        yield process
    finally:
        stop(process)
        log.close()


def tcp_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((LOOPBACK, port)) == 0


def run_calls(tmp_path: Path, ports: dict[str, int], scenario: str, calls: int, rate: int, *args: str) -> str:
    result = sipp_client(ports["proxy"], ports["uac"], tmp_path, "-sf", str(SCENARIOS / scenario), "-s", "service",
                         "-r", str(rate), "-m", str(calls), *args, timeout=calls / rate * 4 + 30)
    successful, failed = call_counts(result.stdout)
    log = (tmp_path / "proxy.log").read_text()
    errors = "".join((tmp_path / name).read_text()[-1500:] for name in sorted(p.name for p in tmp_path.iterdir())
                     if name.endswith("_errors.log"))
    assert result.returncode == 0 and failed == 0 and successful == calls, \
        f"{successful=} {failed=} rc={result.returncode} ({environment_note()})\n{result.stdout[-1500:]}\n" \
        f"{errors}\n{log[-3000:]}"
    assert "internal error" not in log
    return log


def test_1000_record_routed_calls_through_tm_with_no_failure(tmp_path):
    ports = tm_ports(0)
    with proxy_process(CONFIG.format(**ports), tmp_path, ports["proxy"]), \
            sipp_server("tm_uas_rr.xml", ports["uas"], tmp_path):
        log = run_calls(tmp_path, ports, "tm_uac_rr.xml", calls=1000, rate=200)
    assert "failure_route" not in log


def test_record_routed_calls_over_tcp_on_both_sides(tmp_path):
    ports = tm_ports(4)
    with proxy_process(CONFIG.format(**ports), tmp_path, ports["proxy"]), \
            sipp_server("tm_uas_rr.xml", ports["uas"], tmp_path, "-t", "t1"):
        run_calls(tmp_path, ports, "tm_uac_rr.xml", 200, 50, "-t", "t1")


def test_cancel_before_answer_gets_200_canceling_and_487(tmp_path):
    ports = tm_ports(1)
    with proxy_process(CONFIG.format(**ports), tmp_path, ports["proxy"]), \
            sipp_server("tm_uas_cancel.xml", ports["uas"], tmp_path):
        log = run_calls(tmp_path, ports, "tm_uac_cancel.xml", calls=20, rate=20)
    assert log.count("failure_route: 487") == 20


def test_a_busy_callee_fails_over_to_the_second_destination(tmp_path):
    ports = tm_ports(2)
    with proxy_process(CONFIG.format(**ports), tmp_path, ports["proxy"]), \
            sipp_server("tm_uas_busy.xml", ports["uas"], tmp_path), \
            sipp_server("tm_uas_rr.xml", ports["uas2"], tmp_path):
        log = run_calls(tmp_path, ports, "tm_uac_rr.xml", calls=20, rate=20)
    assert log.count("failure_route: 486") == 20


def test_a_silent_callee_times_out_with_408_into_failure_route(tmp_path):
    ports = tm_ports(3)
    with proxy_process(CONFIG.format(**ports), tmp_path, ports["proxy"]), \
            sipp_server("tm_uas_cancel.xml", ports["uas"], tmp_path):
        started = time.monotonic()
        log = run_calls(tmp_path, ports, "tm_uac_timeout.xml", calls=5, rate=5)
        assert time.monotonic() - started >= 2.0
    assert log.count("failure_route: 408") == 5
