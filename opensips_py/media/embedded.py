"""Starting the relay from the proxy: a child process on a local ng address, and a handle to stop it.

`opensips-py -f` calls `relay_answers_ping(address)` for a local ``rtpengine_sock``; when nothing answers
it calls `start_embedded_relay(address)`, logs that it did, and calls `handle.stop()` on shutdown. The
relay runs in its own process (``python -m opensips_py.media``) so its uvloop media path never shares
a core's event loop with SIP processing.

    handle = start_embedded_relay(("127.0.0.1", 22222), interfaces=["127.0.0.1"])
    ...
    handle.stop()
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from opensips_py.media.ngclient import NgClient


class EmbeddedRelayError(RuntimeError):
    """The relay process exited or did not answer ping in time."""


def relay_answers_ping(address: tuple[str, int], timeout: float = 0.5) -> bool:
    """True when something on `address` answers an ng ping with pong."""
    with NgClient(address[0], address[1], timeout=timeout, retries=0) as client:
        return client.ping()


@dataclass
class RelayHandle:
    """A running embedded relay; `stop()` ends it (SIGTERM, then SIGKILL after `grace` seconds)."""

    process: subprocess.Popen
    address: tuple[str, int]
    argv: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 5.0) -> int:
        """Stop the relay and return its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> "RelayHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_embedded_relay(ng_address: tuple[str, int], *, interfaces: list[str] | None = None,
                         port_min: int = 30000, port_max: int = 39999, timeout: int = 60,
                         silent_timeout: int = 3600, final_timeout: int = 0, delete_delay: int = 30,
                         log_level: int = 5, extra_args: list[str] | None = None,
                         startup_timeout: float = 10.0, stderr=None) -> RelayHandle:
    """Spawn the relay listening for ng on `ng_address`; return once it answers ping.

    `interfaces` defaults to the ng address itself (a loopback relay for a loopback proxy).
    Raises EmbeddedRelayError when the process exits or stays silent for `startup_timeout` seconds.
    """
    host, port = ng_address
    argv = [sys.executable, "-m", "opensips_py.media", "--foreground",
            f"--listen-ng={host}:{port}" if ":" not in host else f"--listen-ng=[{host}]:{port}",
            f"--port-min={port_min}", f"--port-max={port_max}", f"--timeout={timeout}",
            f"--silent-timeout={silent_timeout}", f"--final-timeout={final_timeout}",
            f"--delete-delay={delete_delay}", f"--log-level={log_level}"]
    for interface in interfaces or [host if host not in ("0.0.0.0", "::") else "127.0.0.1"]:
        argv.append(f"--interface={interface}")
    argv += extra_args or []
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=stderr, env=dict(os.environ))
    handle = RelayHandle(process, (host, port), argv)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedRelayError(f"relay exited with status {process.returncode}: {' '.join(argv)}")
        if relay_answers_ping((host, port), timeout=0.2):
            return handle
        time.sleep(0.05)
    handle.stop()
    raise EmbeddedRelayError(f"relay did not answer ping on {host}:{port} within {startup_timeout} s")
