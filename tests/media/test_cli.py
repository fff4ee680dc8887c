"""The standalone command and the embedded start: options, pid file, signals, ping."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from opensips_py.media.cli import build_parser, config_from_args, main
from opensips_py.media.embedded import EmbeddedRelayError, relay_answers_ping, start_embedded_relay
from opensips_py.media.session import EndpointLearning
from tests.media.conftest import free_udp_port


def test_options_are_named_like_rtpengines() -> None:
    args = build_parser().parse_args([
        "--listen-ng=127.0.0.1:2223", "--interface=127.0.0.1", "--interface=pub/127.0.0.1!203.0.113.1",
        "--port-min=40000", "--port-max=40100", "--timeout=30", "--silent-timeout=300",
        "--final-timeout=7200", "--delete-delay=5", "--log-level=7", "--foreground", "--pidfile=/tmp/x",
        "--table=-1", "--config-file=none", "--endpoint-learning=immediate"])
    config = config_from_args(args)
    assert config.interfaces == ["127.0.0.1", "pub/127.0.0.1!203.0.113.1"]
    assert (config.port_min, config.port_max) == (40000, 40100)
    assert (config.timeout, config.silent_timeout, config.final_timeout, config.delete_delay) == (30, 300, 7200, 5)
    assert config.endpoint_learning is EndpointLearning.IMMEDIATE


@pytest.mark.parametrize("argv", [
    ["--interface=127.0.0.1"],
    ["--listen-ng=127.0.0.1:2223"],
    ["--listen-ng=127.0.0.1:2223", "--interface=not-an-ip"],
    ["--listen-ng=127.0.0.1:99999", "--interface=127.0.0.1"],
    ["--listen-ng=127.0.0.1:2223", "--interface=127.0.0.1", "--port-min=5000", "--port-max=4000"],
    ["--listen-ng=127.0.0.1:2223", "--interface=127.0.0.1", "--config-file=/etc/rtpengine/rtpengine.conf"],
    ["--no-such-option"],
])
def test_bad_options_exit_with_status_2(argv: list[str], capsys) -> None:
    assert main(argv) == 2


def test_help_exits_0(capsys) -> None:
    assert main(["--help"]) == 0
    assert "--listen-ng" in capsys.readouterr().out


def test_nothing_answers_ping_on_an_unused_port() -> None:
    assert not relay_answers_ping(("127.0.0.1", free_udp_port()), timeout=0.2)


def test_embedded_relay_starts_answers_and_stops_cleanly() -> None:
    address = ("127.0.0.1", free_udp_port())
    handle = start_embedded_relay(address, port_min=22100, port_max=22199, log_level=3)
    try:
        assert relay_answers_ping(address)
    finally:
        status = handle.stop()
    assert status == 0
    assert not relay_answers_ping(address, timeout=0.2)


def test_embedded_relay_reports_a_busy_ng_port() -> None:
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(EmbeddedRelayError):
            start_embedded_relay(blocker.getsockname(), port_min=22200, port_max=22299, log_level=0,
                                 startup_timeout=5, stderr=subprocess.DEVNULL)
    finally:
        blocker.close()


def test_without_foreground_the_relay_detaches_and_writes_its_pidfile(tmp_path) -> None:
    pidfile = tmp_path / "relay.pid"
    port = free_udp_port()
    launcher = subprocess.run(
        [sys.executable, "-m", "opensips_py.media", f"--listen-ng=127.0.0.1:{port}",
         "--interface=127.0.0.1", "--port-min=22300", "--port-max=22399", f"--pidfile={pidfile}",
         "--log-level=0"], timeout=10)
    assert launcher.returncode == 0
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and relay_answers_ping(("127.0.0.1", port), timeout=0.2)):
        assert time.monotonic() < deadline, "detached relay did not come up"
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    os.kill(pid, 0)                      # alive, and not the launcher (which has exited)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while pidfile.exists():
        assert time.monotonic() < deadline, "pid file not removed on SIGTERM"
        time.sleep(0.05)
    assert not relay_answers_ping(("127.0.0.1", port), timeout=0.2)


def test_relay_process_times_out_silent_calls_and_frees_their_sockets() -> None:
    from opensips_py.media.ngclient import NgClient
    from tests.media.conftest import load_sdp

    handle = start_embedded_relay(("127.0.0.1", free_udp_port()), port_min=22400, port_max=22499, timeout=1,
                                  delete_delay=0, log_level=3)
    try:
        fds = len(os.listdir(f"/proc/{handle.pid}/fd"))
        with NgClient(*handle.address) as client:
            reply = client.send({"command": "offer", "call-id": "t", "from-tag": "a", "sdp": load_sdp("phone_offer"),
                                 "flags": ["trust-address"]})
            assert reply["result"] == "ok"
            client.send({"command": "answer", "call-id": "t", "from-tag": "a", "to-tag": "b",
                         "sdp": load_sdp("phone_answer"), "flags": ["trust-address"]})
            assert len(os.listdir(f"/proc/{handle.pid}/fd")) == fds + 4
            deadline = time.monotonic() + 6
            while client.send({"command": "list"})["calls"]:
                assert time.monotonic() < deadline, "call not timed out"
                time.sleep(0.2)
            stats = client.send({"command": "statistics"})["statistics"]["totalstatistics"]
        assert stats["timeoutsessions"] == 1
        assert len(os.listdir(f"/proc/{handle.pid}/fd")) == fds
    finally:
        handle.stop()
