"""Live test helpers: free loopback ports, the proxy as a real process (`opensips-py -f`), SIPp runs.

Every process a test starts is stopped by it (context managers, by pid, SIGTERM then SIGKILL).
SIPp comes from Debian's sip-tester (scripts/test installs it); without it these tests fail, loudly.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

from tests.shared import REPO

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port free for both UDP and TCP on loopback (SIPp and the proxy listen on both)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((LOOPBACK, 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((LOOPBACK, port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair on loopback")


def udp_bound(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it does not go within `timeout` (our own child, by pid)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


@contextlib.contextmanager
def proxy_process(config: str, tmp_path: Path, port: int, *args: str) -> Iterator[subprocess.Popen]:
    """`opensips-py -f <config>` running until the block ends; waits until its UDP port is bound."""
    path = tmp_path / "proxy.cfg"
    path.write_text(config)
    log = open(tmp_path / "proxy.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "opensips_py", "-f", str(path), *args], cwd=REPO,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not udp_bound(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the proxy did not start:\n{(tmp_path / 'proxy.log').read_text()}")
            time.sleep(0.05)
        yield process
    finally:
        stop(process)
        log.close()


@contextlib.contextmanager
def sipp_uas(port: int, tmp_path: Path, transport: str = "u1") -> Iterator[subprocess.Popen]:
    """SIPp's built-in UAS on loopback:port."""
    process = subprocess.Popen(["sipp", "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-t", transport,
                                "-nostdin", "-bind_local"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not (udp_bound(port) if transport == "u1" else _tcp_listening(port)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("sipp uas did not start")
            time.sleep(0.05)
        yield process
    finally:
        stop(process)


def _tcp_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((LOOPBACK, port)) == 0


def sipp_client(target_port: int, local_port: int, tmp_path: Path, *args: str,
                timeout: float = 120) -> subprocess.CompletedProcess:
    """A SIPp client run to completion (scenario and rate in `args`)."""
    return subprocess.run(["sipp", f"{LOOPBACK}:{target_port}", "-i", LOOPBACK, "-p", str(local_port), "-nostdin",
                           "-bind_local", "-timeout", str(int(timeout)), "-timeout_error", "-trace_err", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=timeout + 30)


def call_counts(output: str) -> tuple[int | None, int | None]:
    """(successful, failed) calls from SIPp's final statistics screen."""
    def last(label: str) -> int | None:
        found = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", output)
        return int(found[-1]) if found else None

    return last("Successful call"), last("Failed call")


def options_scenario(tmp_path: Path, expect: int, max_forwards: int = 70, padding: int = 0) -> Path:
    """An OPTIONS to the proxy expecting one status; `padding` bytes of an extra header make it large."""
    pad = f"      X-Padding: {'p' * padding}\n" if padding else ""
    xml = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="options-{expect}">
  <send>
    <![CDATA[

      OPTIONS sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 OPTIONS
      Max-Forwards: {max_forwards}
{pad}      Content-Length: 0

    ]]>
  </send>
  <recv response="{expect}" />
</scenario>
"""
    path = tmp_path / f"options-{expect}-{max_forwards}-{padding}.xml"
    path.write_text(xml)
    return path


def environment_note() -> str:
    return f"load average {os.getloadavg()}"
