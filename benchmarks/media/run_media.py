"""Media relay benchmarks: ng command rate and paced RTP relaying, against a floor and rtpengine.

    .venv/bin/python benchmarks/media/run_media.py                  # everything, ~5 minutes
    .venv/bin/python benchmarks/media/run_media.py --calls 100,400 --seconds 5 --cycles 1000

1. ng rate: sequential offer+answer+delete cycles from one client (the WebRTC→SIP leg of the design
   guide's config), against our relay process and the real rtpengine. Cycles per second.
2. RTP: N calls, 50 packets/s per stream in each direction (100 packets/s per call), for a few seconds,
   through (a) the bare uvloop forwarder floor (echo_floor.py), (b) our relay, (c) rtpengine in
   userspace. Reported: received packets/s, late share (arrived > 20 ms after sending, or lost), p99
   delay, the relay process's CPU (share of one core), and packets/s per relay core = packets relayed
   per CPU-second of the relay process.

Every loop is bounded by a count or a time; every process started here is stopped here.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

from opensips_py.media.embedded import start_embedded_relay  # noqa: E402
from opensips_py.media.ngclient import NgClient  # noqa: E402
from rtp_load import (  # noqa: E402
    close_legs, cpu_seconds, delete_calls, make_legs, run_load, signal_calls,
)

CHROME_OFFER = (HERE.parents[1] / "tests" / "media" / "sdp" / "chrome_offer.sdp").read_text().replace("\n", "\r\n")
PHONE_ANSWER = (HERE.parents[1] / "tests" / "media" / "sdp" / "phone_answer.sdp").read_text().replace("\n", "\r\n")
OFFER_FLAGS = {"flags": ["trust-address"], "replace": ["origin", "session-connection"],
               "rtcp-mux": ["demux"], "ICE": "remove", "transport-protocol": "RTP/AVP"}
ANSWER_FLAGS = {"flags": ["trust-address"], "replace": ["origin", "session-connection"], "ICE": "force"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Rtpengine:
    """The Debian rtpengine daemon in userspace, for the anchor figures."""

    def __init__(self, port_min: int, port_max: int) -> None:
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="rtpengine-bench-")
        self.process = subprocess.Popen(
            ["rtpengine", "--config-file=none", "--interface=127.0.0.1", f"--listen-ng=127.0.0.1:{self.port}",
             "--foreground", "--table=-1", f"--port-min={port_min}", f"--port-max={port_max}",
             "--log-stderr", "--log-level=2", "--delete-delay=0",
             f"--pidfile={os.path.join(self.workdir, 'pid')}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        with NgClient("127.0.0.1", self.port, timeout=0.2, retries=0) as client:
            while not client.ping():
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("rtpengine did not start")
                time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def ng_rate(client: NgClient, cycles: int, max_seconds: float) -> float:
    """Offer+answer+delete cycles per second, sequential, bounded by `cycles` and `max_seconds`."""
    started = time.perf_counter()
    done = 0
    for cycle in range(cycles):
        call_id = f"bench-{cycle}-{started}"
        client.send({"command": "offer", "call-id": call_id, "from-tag": "a", "sdp": CHROME_OFFER, **OFFER_FLAGS})
        client.send({"command": "answer", "call-id": call_id, "from-tag": "a", "to-tag": "b",
                     "sdp": PHONE_ANSWER, **ANSWER_FLAGS})
        client.send({"command": "delete", "call-id": call_id, "delete-delay": 0})
        done += 1
        if time.perf_counter() - started > max_seconds:
            break
    return done / (time.perf_counter() - started)


def measure(pid: int, legs, seconds: float, repeat: int) -> dict:
    """Warm up, then `repeat` runs of `seconds`; the run with the median late share is reported
    (the machine is shared: single runs swing with other jobs' load)."""
    run_load(legs, 3.5)      # warm-up past rtpengine's 3 s endpoint-learning window (steady state)
    runs = []
    for _ in range(repeat):
        cpu_before = cpu_seconds(pid)
        result = run_load(legs, seconds)
        cpu = cpu_seconds(pid) - cpu_before
        runs.append({
            "calls": result.calls,
            "offered_pps": round(result.sent / seconds),
            "received_pps": round(result.packets_per_second),
            "late_percent": round(100 * result.late_share, 2),
            "p50_ms": round(result.p50_ms, 2),
            "p99_ms": round(result.p99_ms, 2),
            "relay_cpu_core_percent": round(100 * cpu / seconds, 1),
            "pps_per_core": round(result.received / cpu) if cpu > 0 else None,
        })
    runs.sort(key=lambda run: run["late_percent"])
    median = dict(runs[len(runs) // 2])
    median["late_percent_all_runs"] = [run["late_percent"] for run in runs]
    return median


def rtp_floor(calls: int, seconds: float, repeat: int) -> dict:
    legs = make_legs(calls)
    process = subprocess.Popen([sys.executable, str(HERE / "echo_floor.py")], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps([[leg.a.getsockname()[1], leg.b.getsockname()[1]] for leg in legs]) + "\n")
        process.stdin.flush()
        ports = json.loads(process.stdout.readline())
        for leg, (for_a, for_b) in zip(legs, ports):
            leg.relay_for_a = ("127.0.0.1", for_a)
            leg.relay_for_b = ("127.0.0.1", for_b)
        return measure(process.pid, legs, seconds, repeat)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        close_legs(legs)


def rtp_through(client: NgClient, pid: int, calls: int, seconds: float, repeat: int) -> dict:
    legs = make_legs(calls)
    call_ids = []
    try:
        call_ids = signal_calls(client, legs)
        return measure(pid, legs, seconds, repeat)
    finally:
        delete_calls(client, call_ids)
        close_legs(legs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", default="100,200,400", help="comma-separated call counts")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per RTP run")
    parser.add_argument("--cycles", type=int, default=2000, help="ng offer+answer+delete cycles")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per row (median reported)")
    parser.add_argument("--no-rtpengine", action="store_true", help="skip the rtpengine anchor")
    args = parser.parse_args()
    call_counts = [int(n) for n in args.calls.split(",") if n]
    have_rtpengine = not args.no_rtpengine and shutil.which("rtpengine") is not None
    results: dict = {"ng": {}, "rtp": {}}
    load_before = os.getloadavg()[0]

    ours = start_embedded_relay(("127.0.0.1", free_port()), port_min=12000, port_max=15999, delete_delay=0,
                                log_level=3)
    real = Rtpengine(16000, 19999) if have_rtpengine else None
    try:
        with NgClient(*ours.address, timeout=2.0) as client:
            results["ng"]["opensips-py"] = round(ng_rate(client, args.cycles, 60), 1)
        if real is not None:
            with NgClient("127.0.0.1", real.port, timeout=2.0) as client:
                results["ng"]["rtpengine"] = round(ng_rate(client, args.cycles, 60), 1)
        for calls in call_counts:
            row = {"floor (bare uvloop forwarder)": rtp_floor(calls, args.seconds, args.repeat)}
            with NgClient(*ours.address, timeout=2.0) as client:
                row["opensips-py relay"] = rtp_through(client, ours.pid, calls, args.seconds, args.repeat)
            if real is not None:
                with NgClient("127.0.0.1", real.port, timeout=2.0) as client:
                    row["rtpengine (userspace)"] = rtp_through(client, real.pid, calls, args.seconds,
                                                               args.repeat)
            results["rtp"][calls] = row
    finally:
        ours.stop()
        if real is not None:
            real.stop()
    results["loadavg_before"] = load_before
    results["loadavg_after"] = os.getloadavg()[0]
    print(json.dumps(results, indent=1))
    print()
    print(f"load average (1 min) before {load_before:.2f}, after {results['loadavg_after']:.2f}; rows where "
          "offered < target were limited by the generator or by other load on the machine")
    print()
    print("| ng offer+answer+delete, one client | cycles/s |")
    print("| --- | ---: |")
    for name, rate in results["ng"].items():
        print(f"| {name} | {rate} |")
    print()
    print("| calls | relay | target pkt/s | offered pkt/s | received pkt/s | late % (median) | p99 ms | "
          "relay CPU (% core) | pkt/s per core | late % of each run |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for calls, row in results["rtp"].items():
        for name, m in row.items():
            print(f"| {calls} | {name} | {calls * 100} | {m['offered_pps']} | {m['received_pps']} | "
                  f"{m['late_percent']} | "
                  f"{m['p99_ms']} | {m['relay_cpu_core_percent']} | {m['pps_per_core']} | "
                  f"{', '.join(str(v) for v in m['late_percent_all_runs'])} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
