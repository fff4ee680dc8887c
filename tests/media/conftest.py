"""Fixtures for the media relay tests: our relay as a real process, the real rtpengine daemon, SDPs."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from opensips_py.media.embedded import RelayHandle, start_embedded_relay
from opensips_py.media.ngclient import NgClient

SDP_DIR = Path(__file__).parent / "sdp"

# Media port ranges of the relays the tests start: below the kernel's ephemeral range (32768+), small,
# and apart from each other, so the tests do not collide with each other or with random binds.
OUR_PORTS = (20000, 20599)
REAL_PORTS = (20600, 21199)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_sdp(name: str) -> str:
    """An SDP from tests/media/sdp/, with CRLF line ends as on the wire."""
    text = (SDP_DIR / f"{name}.sdp").read_text()
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


@pytest.fixture(scope="session")
def relay_process() -> RelayHandle:
    """Our relay as a separate process on loopback (short timeouts so timeout tests stay fast)."""
    port = free_udp_port()
    handle = start_embedded_relay(("127.0.0.1", port), interfaces=["127.0.0.1"], port_min=OUR_PORTS[0],
                                  port_max=OUR_PORTS[1], timeout=60, delete_delay=0, log_level=3)
    yield handle
    handle.stop()


@pytest.fixture()
def relay(relay_process: RelayHandle) -> NgClient:
    client = NgClient(*relay_process.address, timeout=2.0)
    yield client
    client.close()


class RealRtpengine:
    """The Debian rtpengine daemon (userspace) on loopback, started and stopped by the tests."""

    def __init__(self, port: int, workdir: str, port_min: int, port_max: int, extra: list[str]) -> None:
        self.port = port
        self.pidfile = os.path.join(workdir, "rtpengine.pid")
        self.log = open(os.path.join(workdir, "rtpengine.log"), "wb")
        argv = ["rtpengine", "--config-file=none", "--interface=127.0.0.1",
                f"--listen-ng=127.0.0.1:{port}", "--foreground", "--table=-1",
                f"--port-min={port_min}", f"--port-max={port_max}", "--log-stderr", "--log-level=3",
                f"--pidfile={self.pidfile}", "--delete-delay=0", *extra]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        with NgClient("127.0.0.1", port, timeout=0.2, retries=0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"rtpengine exited with {self.process.returncode}")
                if client.ping():
                    return
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("rtpengine did not answer ping")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="session")
def real_rtpengine():
    """The real rtpengine (apt package rtpengine-daemon, installed by scripts/test)."""
    if shutil.which("rtpengine") is None:
        pytest.fail("rtpengine is not installed: run ./scripts/test, which installs rtpengine-daemon")
    with tempfile.TemporaryDirectory(prefix="rtpengine-") as workdir:
        daemon = RealRtpengine(free_udp_port(), workdir, *REAL_PORTS, [])
        yield daemon
        daemon.stop()


@pytest.fixture()
def real(real_rtpengine: RealRtpengine) -> NgClient:
    client = NgClient("127.0.0.1", real_rtpengine.port, timeout=2.0)
    yield client
    client.close()
