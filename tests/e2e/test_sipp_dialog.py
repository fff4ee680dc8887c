"""Live dialog tests: SIPp caller and callee through `opensips-py -f` with record_route + create_dialog +
t_relay, on loopback ports 42000-42999 (the dialog helper's range).

The caller follows the 200's route set (ACK, re-INVITE) and the callee hangs up through the INVITE's route set;
the dialog statistics are read afterwards over MI (httpd + mi_http) as SIPssert's check scripts do. The
lifetime tests hold calls past $DLG_timeout: with bye-on-timeout the proxy sends BYE to both sides, without
it nothing is sent (an unexpected BYE would fail the SIPp call)."""
from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path
from typing import Iterator

from opensips_py.mi.client import execute_http
from tests.e2e.support import LOOPBACK, call_counts, environment_note, proxy_process, sipp_client, stop, udp_bound

SCENARIOS = Path(__file__).resolve().parent / "sipp"

CONFIG = """log_level = 1
socket = udp:127.0.0.1:{proxy}
loadmodule "proto_udp.so"
loadmodule "sl.so"
loadmodule "signaling.so"
loadmodule "tm.so"
loadmodule "sipmsgops.so"
loadmodule "maxfwd.so"
loadmodule "rr.so"
loadmodule "dialog.so"
loadmodule "httpd.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", {mi})
loadmodule "mi_http.so"

route {{
    if (!mf_process_maxfwd_header(10)) {{ send_reply(483, "Too Many Hops"); exit; }}
    if (has_totag()) {{
        if (is_method("ACK") && t_check_trans()) {{ t_relay(); exit; }}
        if (!loose_route()) {{ send_reply(404, "Not here"); exit; }}
        t_relay();
        exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) t_relay(); exit; }}
{initial}
    record_route();
    $du = "sip:127.0.0.1:{uas}";
    if (!t_relay()) send_reply(500, "Internal Error");
}}
"""


def dialog_ports(block: int) -> dict[str, int]:
    base = 42000 + 10 * block
    return {"proxy": base, "uas": base + 1, "uac": base + 2, "mi": base + 3}


@contextlib.contextmanager
def sipp_server(scenario: str, port: int, tmp_path: Path) -> Iterator[subprocess.Popen]:
    log = open(tmp_path / f"uas-{port}.log", "w")
    process = subprocess.Popen(["sipp", "-sf", str(SCENARIOS / scenario), "-i", LOOPBACK, "-p", str(port),
                                "-nostdin", "-bind_local", "-trace_err"], cwd=tmp_path, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not udp_bound(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("sipp uas did not start")
            time.sleep(0.05)
        yield process
    finally:
        stop(process)
        log.close()


def run(tmp_path: Path, ports: dict[str, int], scenario: str, calls: int, rate: int, timeout: float = 60) -> str:
    result = sipp_client(ports["proxy"], ports["uac"], tmp_path, "-sf", str(SCENARIOS / scenario), "-s", "service",
                         "-m", str(calls), "-r", str(rate), "-l", str(max(calls, 1)), timeout=timeout)
    return result.stdout + result.stderr


def dialog_stats(ports: dict[str, int]) -> dict[str, int]:
    out = execute_http(f"http://127.0.0.1:{ports['mi']}/mi", "get_statistics", {"statistics": ["dialog:"]})
    return {key.split(":", 1)[1]: value for key, value in out.items()}


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_record_routed_calls_with_reinvite_and_callee_bye_have_no_failure(tmp_path):
    ports = dialog_ports(0)
    config = CONFIG.format(initial="    create_dialog();", **ports)
    calls = 300
    with proxy_process(config, tmp_path, ports["proxy"]), sipp_server("dialog_uas.xml", ports["uas"], tmp_path):
        log = run(tmp_path, ports, "dialog_uac.xml", calls=calls, rate=100)
        assert call_counts(log) == (calls, 0), f"{environment_note()}\n{log[-3000:]}"
        assert wait_for(lambda: dialog_stats(ports)["active_dialogs"] == 0, 5)
        stats = dialog_stats(ports)
    assert (stats["processed_dialogs"], stats["failed_dialogs"], stats["expired_dialogs"]) == (calls, 0, 0)
    assert stats["early_dialogs"] == 0


def test_bye_on_timeout_ends_each_call_with_a_bye_to_both_sides(tmp_path):
    ports = dialog_ports(1)
    config = CONFIG.format(initial='    $DLG_timeout = 2;\n    create_dialog("B");', **ports)
    calls = 20
    with proxy_process(config, tmp_path, ports["proxy"]), sipp_server("dialog_uas_end.xml", ports["uas"], tmp_path):
        log = run(tmp_path, ports, "dialog_uac_timeout.xml", calls=calls, rate=20, timeout=30)
        assert call_counts(log) == (calls, 0), f"{environment_note()}\n{log[-3000:]}"
        assert wait_for(lambda: dialog_stats(ports)["active_dialogs"] == 0, 5)
        stats = dialog_stats(ports)
    assert (stats["expired_dialogs"], stats["processed_dialogs"], stats["failed_dialogs"]) == (calls, calls, 0)


def test_without_the_flag_the_lifetime_ends_the_dialog_silently(tmp_path):
    ports = dialog_ports(2)
    config = CONFIG.format(initial='    $DLG_timeout = 2;\n    create_dialog();', **ports)
    calls = 10
    with proxy_process(config, tmp_path, ports["proxy"]), sipp_server("dialog_uas_end.xml", ports["uas"], tmp_path):
        log = run(tmp_path, ports, "dialog_uac_hold.xml", calls=calls, rate=10, timeout=30)
        # the caller held each call 3.5 s past a 2 s lifetime, got no BYE, and its own BYE still got through
        assert call_counts(log) == (calls, 0), f"{environment_note()}\n{log[-3000:]}"
        stats = dialog_stats(ports)
    assert (stats["expired_dialogs"], stats["active_dialogs"], stats["failed_dialogs"]) == (calls, 0, 0)
