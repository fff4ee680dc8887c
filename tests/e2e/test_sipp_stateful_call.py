"""The live test of issue 5: two users register, then one calls the other 1,000 times through a stateful
record-routing proxy (lookup("location") + create_dialog() + record_route() + t_relay()), each call INVITE,
180, 200, ACK, re-INVITE, BYE, with 0 failed calls.

Real SIPp on loopback, ports 46000-46009 (this test's range: 46000-46999). SIPp's built-in scenarios do not
follow a route set (docs: /work/shared/reference/real-peers.md), so tests/e2e/sipp/stateful_*.xml do: the
callee copies the Record-Routes into its 180/200 and checks that every in-dialog request reaches it with our
Route consumed; the caller sends ACK, re-INVITE and BYE to the callee's Contact through the 200's route set,
whose Record-Route must carry the dialog's did. Each user registers from the address and port it then calls
from / answers on, so the call reaches the callee through its registered Contact. The proxy's statistics
are read over MI (httpd + mi_http) afterwards.
"""
from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from opensips_py.mi.client import execute_http
from tests.e2e.support import LOOPBACK, call_counts, environment_note, proxy_process, sipp_client, stop, udp_bound

pytestmark = pytest.mark.live

SCENARIOS = Path(__file__).resolve().parent / "sipp"
PROXY, CALLER, CALLEE, MI = 46000, 46001, 46002, 46003
CALLS, RATE = 1000, 200

CONFIG = f"""log_level = 1
socket = udp:127.0.0.1:{PROXY}
loadmodule "proto_udp.so"
loadmodule "sl.so"
loadmodule "signaling.so"
loadmodule "tm.so"
loadmodule "sipmsgops.so"
loadmodule "maxfwd.so"
loadmodule "rr.so"
loadmodule "dialog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "httpd.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", {MI})
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
    if (is_method("REGISTER")) {{ save("location"); exit; }}
    if (!lookup("location")) {{ send_reply(404, "Not Found"); exit; }}
    create_dialog();
    record_route();
    if (!t_relay()) send_reply(500, "Internal Error");
}}
"""


def mi(command: str, params: dict | None = None):
    return execute_http(f"http://{LOOPBACK}:{MI}/mi", command, params or {})


def statistics(group: str) -> dict[str, int]:
    return {key.split(":", 1)[1]: value for key, value in mi("get_statistics", {"statistics": [f"{group}:"]}).items()}


def register(tmp_path: Path, user: str, port: int) -> str:
    """One REGISTER of `user` from loopback:port (SIPp, then gone: the port is free for the call)."""
    result = sipp_client(PROXY, port, tmp_path, "-sf", str(SCENARIOS / "stateful_register.xml"), "-s", user,
                         "-m", "1", timeout=20)
    return result.stdout + result.stderr


@contextlib.contextmanager
def callee(tmp_path: Path) -> Iterator[subprocess.Popen]:
    log = open(tmp_path / "callee.log", "w")
    process = subprocess.Popen(["sipp", "-sf", str(SCENARIOS / "stateful_uas.xml"), "-i", LOOPBACK, "-p",
                                str(CALLEE), "-nostdin", "-bind_local", "-trace_err"], cwd=tmp_path, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not udp_bound(CALLEE):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the SIPp callee did not start")
            time.sleep(0.05)
        yield process
    finally:
        stop(process)
        log.close()


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_registered_users_make_1000_record_routed_calls_with_reinvite_and_bye_without_a_failure(tmp_path):
    with proxy_process(CONFIG, tmp_path, PROXY):
        for user, port in (("alice", CALLER), ("bob", CALLEE)):
            log = register(tmp_path, user, port)
            assert call_counts(log) == (1, 0), log[-2000:]
        contacts = {aor["AOR"]: [c["Contact"] for c in aor["Contacts"]]
                    for aor in mi("ul_dump")["Domains"][0]["AORs"]}
        assert contacts == {"alice": [f"sip:alice@127.0.0.1:{CALLER}"], "bob": [f"sip:bob@127.0.0.1:{CALLEE}"]}

        with callee(tmp_path):
            result = sipp_client(PROXY, CALLER, tmp_path, "-sf", str(SCENARIOS / "stateful_uac.xml"), "-s", "bob",
                                 "-set", "caller", "alice", "-m", str(CALLS), "-r", str(RATE), "-l", str(CALLS),
                                 timeout=60)
            log = result.stdout + result.stderr
            assert call_counts(log) == (CALLS, 0), f"{environment_note()}\n{log[-3000:]}"
            assert result.returncode == 0
        assert wait_for(lambda: statistics("dialog")["active_dialogs"] == 0, 5)
        dialogs, tm = statistics("dialog"), statistics("tm")
    assert (dialogs["processed_dialogs"], dialogs["failed_dialogs"], dialogs["expired_dialogs"]) == (CALLS, 0, 0)
    assert dialogs["early_dialogs"] == 0
    # INVITE, re-INVITE and BYE of each call, each one transaction; no branch ever timed out
    assert tm["UAS_transactions"] == 3 * CALLS
    assert (tm["timeout_finalresponse"], tm["timeout_finalresponse_inv"]) == (0, 0)
