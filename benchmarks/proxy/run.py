"""Proxy throughput: the highest call rate a proxy on ONE core completes for 20 s with 0 failed calls.

    .venv/bin/python benchmarks/proxy/run.py                  # opensips-py, then Kamailio as the same-run baseline
    .venv/bin/python benchmarks/proxy/run.py --proxy opensips-py --duration 20 --start 1000
    .venv/bin/python benchmarks/proxy/run.py --config stateful  # usrloc lookup + record_route + t_relay

Set-up (loopback only): the proxy is pinned to one core with taskset (`--proxy-cpu`, default 0); SIPp's built-in
`-sn uas` and `-sn uac` (INVITE, 100/180/200, ACK, BYE) run pinned to the other core(s). For each rate the UAC
places rate × duration calls; a rate passes when SIPp exits 0 and reports 0 failed calls. The search doubles
the rate until a failure, then bisects (`--steps` times). For each passing rate the proxy's CPU time (user +
system, all its processes, from /proc) is divided by the calls: "CPU µs per call".

Configs: benchmarks/proxy/opensips-py.cfg (mf_process_maxfwd_header + forward()) and benchmarks/proxy/kamailio.cfg
(the same logic in Kamailio's dialect, one UDP worker). Kamailio comes from Debian: the script runs
`apt-get install -y kamailio` when the binary is missing (root only).

`--config stateful`: opensips-py-stateful.cfg / kamailio-stateful.cfg. The callee (SIPp with
sipp/uas_rr.xml, which echoes Record-Route) is registered once per proxy start (a REGISTER sent from here,
Contact sip:service@127.0.0.1:<uas port>); each call is looked up in usrloc, record-routed and relayed with
t_relay(); the caller (sipp/uac_rr.xml) sends ACK and BYE through the Route set, so loose_route() relays them.

Prints one line per run and a summary; `--json FILE` also writes the results.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PROXY_PORT, UAS_PORT, UAC_PORT = 25060, 25062, 25064


@dataclass
class Run:
    proxy: str
    rate: int
    calls: int
    ok: bool
    failed_calls: int | None
    successful_calls: int | None
    proxy_cpu_s: float
    cpu_us_per_call: float | None
    wall_s: float
    note: str = ""


@dataclass
class Result:
    proxy: str
    best_rate: int = 0
    cpu_us_per_call: float | None = None
    runs: list[Run] = field(default_factory=list)


def sh(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True).stdout.strip()


def machine() -> dict:
    load = os.getloadavg()
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "loadavg": [round(x, 2) for x in load],
            "python": sys.version.split()[0], "sipp": sh("sipp", "-v").splitlines()[0] if shutil.which("sipp") else "",
            "kamailio": sh("kamailio", "-v").splitlines()[0] if shutil.which("kamailio") else ""}


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of a process and all its descendants (Kamailio forks workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()
        stats[int(entry)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry))
    total = 0
    stack = [pid]
    while stack:
        current = stack.pop()
        fields = stats.get(current)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
        stack.extend(children.get(current, ()))
    return total / ticks


class Proxy:
    """A proxy process pinned to one core."""

    def __init__(self, kind: str, cpu: str, workdir: Path, config: str = "stateless") -> None:
        self.kind = kind
        self.cpu = cpu
        self.workdir = workdir
        self.config = config
        self.process: subprocess.Popen | None = None
        self.log = open(workdir / f"{kind}.log", "w")

    def command(self) -> list[str]:
        suffix = "-stateful" if self.config == "stateful" else ""
        if self.kind == "opensips-py":
            return ["taskset", "-c", self.cpu, sys.executable, "-m", "opensips_py", "-f",
                    str(HERE / f"opensips-py{suffix}.cfg")]
        return ["taskset", "-c", self.cpu, "kamailio", "-DD", "-E", "-m", "256", "-M", "16", "-f",
                str(HERE / f"kamailio{suffix}.cfg")]

    def start(self) -> None:
        self.process = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO,
                                        start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited at start-up, see {self.log.name}")
            if not port_free(PROXY_PORT):
                time.sleep(0.3)
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.kind} did not open udp:127.0.0.1:{PROXY_PORT}")

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return tree_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        self.log.close()


def sipp_cpus(proxy_cpu: str) -> str:
    others = [str(c) for c in range(os.cpu_count() or 1) if str(c) != proxy_cpu]
    return ",".join(others) or proxy_cpu


def register_callee(timeout: float = 5.0) -> bool:
    """REGISTER sip:service@127.0.0.1 with the SIPp callee's address as Contact; True once a 200 came."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.settimeout(0.5)
        for attempt in range(20):
            if time.monotonic() > deadline:
                break
            message = (f"REGISTER sip:127.0.0.1:{PROXY_PORT} SIP/2.0\r\n"
                       f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKbenchreg{attempt}\r\n"
                       "Max-Forwards: 70\r\n"
                       f"From: <sip:service@127.0.0.1:{PROXY_PORT}>;tag=benchreg\r\n"
                       f"To: <sip:service@127.0.0.1:{PROXY_PORT}>\r\n"
                       "Call-ID: bench-register@127.0.0.1\r\n"
                       f"CSeq: {attempt + 1} REGISTER\r\n"
                       f"Contact: <sip:service@127.0.0.1:{UAS_PORT}>\r\n"
                       "Expires: 3600\r\nContent-Length: 0\r\n\r\n").encode()
            sock.sendto(message, ("127.0.0.1", PROXY_PORT))
            try:
                while True:
                    data = sock.recv(65535)
                    if data.startswith(b"SIP/2.0 200"):
                        return True
                    if not data.startswith(b"SIP/2.0 1"):
                        break
            except OSError:
                continue
    return False


def run_rate(proxy: Proxy, rate: int, duration: int, sipp_cpu: str, workdir: Path) -> Run:
    calls = rate * duration
    stateful = proxy.config == "stateful"
    uas_scenario = ["-sf", str(HERE / "sipp" / "uas_rr.xml")] if stateful else ["-sn", "uas"]
    uac_scenario = ["-sf", str(HERE / "sipp" / "uac_rr.xml")] if stateful else ["-sn", "uac"]
    uas = subprocess.Popen(["taskset", "-c", sipp_cpu, "sipp", *uas_scenario, "-i", "127.0.0.1", "-p",
                            str(UAS_PORT), "-nostdin", "-bind_local"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir,
                           start_new_session=True)
    time.sleep(0.5)
    if stateful and not register_callee():
        os.killpg(uas.pid, signal.SIGTERM)
        uas.wait(timeout=10)
        return Run(proxy.kind, rate, calls, False, None, None, 0.0, None, 0.0, "the callee could not register")
    cpu_before = proxy.cpu_seconds()
    started = time.monotonic()
    uac = subprocess.run(["taskset", "-c", sipp_cpu, "sipp", *uac_scenario, f"127.0.0.1:{PROXY_PORT}", "-i",
                          "127.0.0.1", "-p", str(UAC_PORT), "-s", "service", "-r", str(rate), "-m", str(calls),
                          "-l", str(max(rate * 4, 100)), "-nostdin", "-timeout", str(duration * 3 + 30),
                          "-timeout_error", "-bind_local"],
                         capture_output=True, text=True, cwd=workdir)
    wall = time.monotonic() - started
    cpu = proxy.cpu_seconds() - cpu_before
    os.killpg(uas.pid, signal.SIGTERM)
    try:
        uas.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(uas.pid, signal.SIGKILL)
        uas.wait(timeout=10)
    failed = _last_count(uac.stdout, "Failed call")
    successful = _last_count(uac.stdout, "Successful call")
    ok = uac.returncode == 0 and failed == 0 and successful == calls
    note = "" if ok else f"sipp exit {uac.returncode}"
    return Run(proxy.kind, rate, calls, ok, failed, successful, round(cpu, 3),
               round(cpu * 1e6 / successful, 1) if successful else None, round(wall, 1), note)


def _last_count(text: str, label: str) -> int | None:
    found = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", text)
    return int(found[-1]) if found else None


def search(kind: str, args, workdir: Path) -> Result:
    result = Result(kind)
    sipp_cpu = sipp_cpus(args.proxy_cpu)
    low, high = 0, None
    rate = args.start
    steps = 0
    while steps < 40:
        steps += 1
        proxy = Proxy(kind, args.proxy_cpu, workdir, args.config)
        try:
            proxy.start()
            run = run_rate(proxy, rate, args.duration, sipp_cpu, workdir)
        finally:
            proxy.stop()
        result.runs.append(run)
        print(f"{kind:12s} {rate:6d} calls/s: {'ok  ' if run.ok else 'FAIL'} failed={run.failed_calls} "
              f"ok={run.successful_calls}/{run.calls} cpu={run.proxy_cpu_s}s "
              f"({run.cpu_us_per_call} us/call) wall={run.wall_s}s {run.note}", flush=True)
        if run.ok:
            low = rate
            result.best_rate, result.cpu_us_per_call = rate, run.cpu_us_per_call
        else:
            high = rate
        if high is None:
            rate *= 2
            continue
        if high - low <= max(args.resolution, low // 20) or len([r for r in result.runs]) >= args.max_runs:
            break
        rate = (low + high) // 2 if low else max(high // 2, 1)
        if rate <= 0:
            break
    return result


def ensure_kamailio() -> bool:
    if shutil.which("kamailio"):
        return True
    if os.geteuid() != 0:
        print("kamailio is not installed and we are not root: skipping the baseline", file=sys.stderr)
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "kamailio"], env=env, check=False)
    return shutil.which("kamailio") is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--proxy", choices=("opensips-py", "kamailio", "both"), default="both")
    parser.add_argument("--config", choices=("stateless", "stateful"), default="stateless",
                        help="stateless forward(), or usrloc lookup + record_route + t_relay (default stateless)")
    parser.add_argument("--duration", type=int, default=20, help="seconds of calls per rate (default 20)")
    parser.add_argument("--start", type=int, default=500, help="first rate tried (calls/s)")
    parser.add_argument("--resolution", type=int, default=100, help="stop bisecting within this many calls/s")
    parser.add_argument("--max-runs", type=int, default=9, help="runs per proxy at most")
    parser.add_argument("--proxy-cpu", default="0", help="the core the proxy is pinned to")
    parser.add_argument("--json", help="write the results there")
    args = parser.parse_args(argv)
    for tool in ("sipp", "taskset"):
        if not shutil.which(tool):
            print(f"{tool} is needed (Debian: sip-tester, util-linux)", file=sys.stderr)
            return 2
    for port in (PROXY_PORT, UAS_PORT, UAC_PORT):
        if not port_free(port):
            print(f"udp port {port} is busy", file=sys.stderr)
            return 2
    kinds = ["opensips-py", "kamailio"] if args.proxy == "both" else [args.proxy]
    if "kamailio" in kinds and not ensure_kamailio():
        kinds.remove("kamailio")
    info = machine()
    print(f"machine: {info}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp:
        for kind in kinds:
            results.append(search(kind, args, Path(tmp)))
    info["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(f"\nsummary ({args.config}: highest rate with 0 failed calls over "
          f"{args.duration} s, proxy pinned to CPU {args.proxy_cpu}):")
    for result in results:
        print(f"  {result.proxy:12s} {result.best_rate:6d} calls/s, {result.cpu_us_per_call} proxy CPU us per call")
    if len(results) == 2 and results[1].best_rate:
        print(f"  ratio opensips-py / kamailio: {results[0].best_rate / results[1].best_rate:.2f}")
    print(f"  load average before {info['loadavg']}, after {info['loadavg_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "duration": args.duration, "config": args.config,
                                               "results": [asdict(r) for r in results]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
