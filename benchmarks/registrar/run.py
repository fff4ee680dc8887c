"""Registrar figures: REGISTER/s on one core with SIPp, and memory per registered contact at 10,000 contacts.

    .venv/bin/python benchmarks/registrar/run.py                      # both, usrloc in memory and write-back SQLite
    .venv/bin/python benchmarks/registrar/run.py --only memory
    .venv/bin/python benchmarks/registrar/run.py --modes no-db --duration 10 --start 1000

REGISTER/s (loopback only, ports 41100-41101): opensips-py is pinned to CPU 0 with taskset, SIPp to CPU 1. SIPp
sends REGISTERs for distinct users (user1, user2, …: one new AoR and contact each) at a fixed rate for
`--duration` seconds; a rate passes when SIPp exits 0 with 0 failed registrations (each waits for its 200 OK,
retransmitted after 500 ms) within 110 % of the duration (SIPp slows down rather than failing). The search doubles the rate until a failure, then bisects. CPU µs per REGISTER is
the proxy's user + system time (from /proc) over the run divided by the REGISTERs.

Memory: in one process, no sockets: the config's ProxyCore takes 10,000 REGISTERs (distinct users, one
contact each, Call-ID, User-Agent, received socket as a phone sends them); tracemalloc's traced size after
minus before, divided by the contacts, is the memory per registered contact (Python objects of usrloc:
the record, the contact and its strings, plus the dict entries that index them).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))
PROXY_PORT, UAC_PORT = 41100, 41101

CONFIG = """log_level = 1
socket = udp:127.0.0.1:{port}
loadmodule "proto_udp.so"
loadmodule "sl.so"
loadmodule "signaling.so"
loadmodule "sipmsgops.so"
loadmodule "db_sqlite.so"
loadmodule "usrloc.so"
{usrloc}
loadmodule "registrar.so"

route {{
    if (is_method("REGISTER")) {{
        save("location");
        exit;
    }}
    sl_send_reply(404, "Not Found");
}}
"""

MODES = {
    "no-db": "",
    "write-back": 'modparam("usrloc", "db_url", "sqlite://{dir}/opensips.db")\n'
                  'modparam("usrloc", "working_mode_preset", "single-instance-sql-write-back")\n'
                  'modparam("usrloc", "timer_interval", 10)',
    "write-through": 'modparam("usrloc", "db_url", "sqlite://{dir}/opensips.db")\n'
                     'modparam("usrloc", "working_mode_preset", "single-instance-sql-write-through")',
}

SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register">
  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:user[call_number]@example.com>;tag=[call_number]
      To: <sip:user[call_number]@example.com>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:user[call_number]@[local_ip]:[local_port]>
      User-Agent: SIPp benchmark
      Expires: 3600
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""


def register_bytes(n: int) -> bytes:
    text = (f"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{n:08x}\r\n"
            f"Max-Forwards: 70\r\nTo: <sip:user{n}@example.com>\r\nFrom: <sip:user{n}@example.com>;tag={n:x}\r\n"
            f"Call-ID: {n:016x}@192.0.2.10\r\nCSeq: 1 REGISTER\r\n"
            f"Contact: <sip:user{n}@192.0.2.{n % 250 + 1}:{5060 + n % 1000};transport=udp>\r\n"
            f"User-Agent: Phone/1.0\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n")
    return text.encode()


def memory_per_contact(count: int, mode: str) -> dict:
    from opensips_py.runtime import ProxyCore
    from opensips_py.runtime.resolver import Resolver
    from opensips_py.script.context import ReceiveInfo
    work = Path(tempfile.mkdtemp(prefix="opensips-py-regbench-"))
    try:
        core = ProxyCore.from_text(CONFIG.format(port=5060, usrloc=MODES[mode].format(dir=work)),
                                   resolver=Resolver(system=False))
        now = time.time()
        core.start(now)
        core.on_timer(now)
        sock = core.sockets[0]
        datagrams = [register_bytes(n) for n in range(1, count + 1)]
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for n, data in enumerate(datagrams, 1):
            core.receive(data, ReceiveInfo(sock, "192.0.2.10", 5060, "udp"), now)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        contacts = core.modules["usrloc"].stats()["location-contacts"]
        assert contacts == count, contacts
        core.shutdown()
        return {"mode": mode, "contacts": contacts, "bytes_per_contact": round((after - before) / contacts)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _udp_bound(port: int) -> bool:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def run_rate(work: Path, mode: str, rate: int, duration: int) -> dict:
    config = work / f"{mode}.cfg"
    (work / mode).mkdir(exist_ok=True)
    for stale in (work / mode).glob("*"):
        stale.unlink()
    config.write_text(CONFIG.format(port=PROXY_PORT, usrloc=MODES[mode].format(dir=work / mode)))
    scenario = work / "register.xml"
    scenario.write_text(SCENARIO)
    log = open(work / "proxy.log", "w")
    proxy = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-m", "opensips_py", "-f", str(config)],
                             cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not _udp_bound(PROXY_PORT):
            if proxy.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((work / "proxy.log").read_text())
            time.sleep(0.05)
        time.sleep(0.5)
        count = rate * duration
        cpu_before = _cpu_seconds(proxy.pid)
        started = time.monotonic()
        result = subprocess.run(["taskset", "-c", "1", "sipp", f"127.0.0.1:{PROXY_PORT}", "-sf", str(scenario),
                                 "-i", "127.0.0.1", "-p", str(UAC_PORT), "-r", str(rate), "-m", str(count),
                                 "-nostdin", "-timeout", str(duration * 3 + 30), "-timeout_error"],
                                cwd=work, capture_output=True, text=True, timeout=duration * 3 + 60)
        wall = time.monotonic() - started
        cpu = _cpu_seconds(proxy.pid) - cpu_before
    finally:
        proxy.terminate()
        try:
            proxy.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proxy.kill()
            proxy.wait()
        log.close()

    def last(label: str) -> int | None:
        found = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", result.stdout)
        return int(found[-1]) if found else None

    ok, failed = last("Successful call"), last("Failed call")
    # SIPp slows down rather than failing when it cannot keep the rate: a rate passes only if it was held
    passed = result.returncode == 0 and failed == 0 and ok == count and wall <= duration * 1.1 + 1
    return {"mode": mode, "rate": rate, "registers": count, "ok": passed, "successful": ok, "failed": failed,
            "wall_s": round(wall, 1), "achieved_per_s": round(count / wall) if wall else None, "cpu_us_per_register": round(cpu / count * 1e6) if count else None}


def search(mode: str, start: int, duration: int, steps: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="opensips-py-regrate-"))
    runs: list[dict] = []
    try:
        best, failing, rate = 0, None, start
        for _ in range(12):
            run = run_rate(work, mode, rate, duration)
            runs.append(run)
            print(json.dumps(run), flush=True)
            if run["ok"]:
                best = rate
                rate *= 2
            else:
                failing = rate
                break
        for _ in range(steps if failing else 0):
            rate = (best + failing) // 2
            if rate in (best, failing):
                break
            run = run_rate(work, mode, rate, duration)
            runs.append(run)
            print(json.dumps(run), flush=True)
            if run["ok"]:
                best = rate
            else:
                failing = rate
        at_best = [r for r in runs if r["rate"] == best and r["ok"]]
        achieved = max((r["achieved_per_s"] for r in runs if r["failed"] == 0 and r["successful"] == r["registers"]),
                       default=0)
        return {"mode": mode, "best_rate": best, "first_failing": failing, "best_achieved_per_s": achieved,
                "cpu_us_per_register": at_best[-1]["cpu_us_per_register"] if at_best else None, "runs": runs}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("rate", "memory"))
    parser.add_argument("--modes", default="no-db,write-back")
    parser.add_argument("--contacts", type=int, default=10000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--start", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    results: dict = {"memory": [], "rate": []}
    modes = [m for m in args.modes.split(",") if m]
    if args.only in (None, "memory"):
        for mode in modes:
            figure = memory_per_contact(args.contacts, mode)
            print(json.dumps(figure), flush=True)
            results["memory"].append(figure)
    if args.only in (None, "rate"):
        for mode in modes:
            found = search(mode, args.start, args.duration, args.steps)
            print(f"{mode}: {found['best_rate']} REGISTER/s held (first failing {found['first_failing']}), "
                  f"at most {found['best_achieved_per_s']} REGISTER/s achieved with 0 failures, "
                  f"{found['cpu_us_per_register']} CPU µs per REGISTER", flush=True)
            results["rate"].append(found)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
