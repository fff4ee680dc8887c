"""The scenario's network namespace: the suite's addresses bindable, the proxy's address as source on each
subnet, nothing left behind (and stale namespaces of dead runners removed). Needs root, as CI has."""
from __future__ import annotations

import ipaddress
import subprocess
import sys

from opensips_py.sipssert import netns
from opensips_py.sipssert.workspace import DEFAULT_BRIDGES

PROBE = """
import socket
uas = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); uas.bind(("192.168.52.3", 5080))
proxy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); proxy.bind(("10.52.0.1", 5060))
uac = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); uac.bind(("192.168.52.77", 5040))
uac.sendto(b"INVITE", ("192.168.52.3", 5080))
data, peer = uas.recvfrom(100)
route = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); route.connect(("10.52.0.3", 9))
print(data.decode(), peer[0], route.getsockname()[0])
"""


def test_subnets_take_the_proxy_address_else_the_gateway():
    subnets = netns.subnets_for(DEFAULT_BRIDGES, ["192.168.52.1"])
    assert [(str(s.network), str(s.source)) for s in subnets] == [("192.168.52.0/24", "192.168.52.1"),
                                                                  ("10.52.0.0/24", "10.52.0.254")]


def test_tasks_in_the_namespace_use_the_suite_addresses_and_it_is_deleted():
    assert netns.available()
    namespace = netns.Namespace.create(netns.subnets_for(DEFAULT_BRIDGES, ["192.168.52.1", "10.52.0.1"]))
    try:
        assert namespace.name in netns.list_namespaces()
        out = subprocess.run(namespace.wrap([sys.executable, "-c", PROBE]), capture_output=True, text=True,
                             timeout=20)
        assert out.returncode == 0, out.stderr
        # the UAC's own address reaches the UAS; an unbound socket is sourced from the proxy's address
        assert out.stdout.split() == ["INVITE", "192.168.52.77", "10.52.0.1"]
        # not visible outside
        outside = subprocess.run([sys.executable, "-c", "import socket; socket.socket(socket.AF_INET, "
                                  "socket.SOCK_DGRAM).bind(('192.168.52.3', 5080))"], capture_output=True)
        assert outside.returncode != 0
        sleeper = subprocess.Popen(namespace.wrap(["sleep", "30"]))
    finally:
        namespace.delete()
    assert sleeper.wait(timeout=10) != 0  # what was left inside was killed
    assert namespace.name not in netns.list_namespaces()


def test_stale_namespaces_of_dead_runners_are_removed_and_live_ones_kept():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = f"{netns.PREFIX}{dead.pid}-1"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    mine = netns.Namespace.create([])
    try:
        removed = netns.remove_stale()
        assert stale in removed and stale not in netns.list_namespaces()
        assert mine.name in netns.list_namespaces()
    finally:
        mine.delete()
        subprocess.run(["ip", "netns", "del", stale], capture_output=True)


def test_namespace_names_carry_the_runner_pid():
    import os
    namespace = netns.Namespace.create([netns.Subnet(ipaddress.ip_network("10.52.0.0/24"),
                                                     ipaddress.ip_address("10.52.0.1"))])
    try:
        assert namespace.name.startswith(f"{netns.PREFIX}{os.getpid()}-")
    finally:
        namespace.delete()


# ------------------------------------------------------------------------------------------------ whole runs

def _suite():
    from tests.shared import OFFICIAL
    return OFFICIAL / "sipssert-opensips-tests"


def test_two_runs_of_one_scenario_at_once_do_not_collide(tmp_path):
    """Same addresses and ports (192.168.52.1:5060, the UAC's 5040) in two namespaces at the same time."""
    import threading

    from opensips_py.sipssert.runner import RunOptions, run_paths

    results: dict[int, list] = {}

    def run(n: int) -> None:
        import io
        results[n] = run_paths([_suite() / "registration" / "01.no-db"], [],
                               RunOptions(logs_dir=tmp_path / str(n)), out=io.StringIO())

    threads = [threading.Thread(target=run, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [(r.status, r.reason) for n in (1, 2) for r in results[n]] == [("PASS", ""), ("PASS", "")]


def test_a_runner_stopped_by_sigterm_leaves_no_namespace_and_no_process(tmp_path):
    import os
    import signal
    import time

    runner = subprocess.Popen([sys.executable, "-m", "opensips_py", "sipssert",
                               str(_suite() / "registration" / "01.no-db")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    mine = f"{netns.PREFIX}{runner.pid}-"
    try:
        for _ in range(200):  # until the scenario's namespace holds the proxy (bounded: 20 s)
            names = [n for n in netns.list_namespaces() if n.startswith(mine)]
            if names and subprocess.run(["ip", "netns", "pids", names[0]], capture_output=True,
                                        text=True).stdout.split():
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the scenario never started")
        inside = [int(p) for p in subprocess.run(["ip", "netns", "pids", names[0]], capture_output=True,
                                                  text=True).stdout.split()]
        runner.send_signal(signal.SIGTERM)
        output = runner.communicate(timeout=60)[0].decode()
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
    assert "interrupted" in output
    assert not [n for n in netns.list_namespaces() if n.startswith(mine)]
    for pid in inside:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
