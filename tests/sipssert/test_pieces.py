"""The runner's pieces: rendering like SIPssert, address/path mapping, task command lines, dependency
ordering, timeouts, reports."""
from __future__ import annotations

import base64
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from opensips_py.sipssert.config import discover, load_scenario, load_test_set, merge_defaults
from opensips_py.sipssert.runner import Result, junit_xml, selected, summary
from opensips_py.sipssert.schedule import After, Delay, State, Task, TaskList, Wait, parse_dependencies
from opensips_py.sipssert.tasks import Launch, TaskBuilder, config_args, passport_jwt
from opensips_py.sipssert.workspace import Workspace, map_addresses
from tests.shared import OFFICIAL

SUITE = OFFICIAL / "sipssert-opensips-tests"


def scenario(set_name: str, name: str):
    return load_scenario(SUITE / set_name / name, load_test_set(SUITE / set_name))


# ------------------------------------------------------------------------------------------------ config

def test_scenario_renders_with_set_defines_and_task_defaults():
    sc = scenario("registration", "01.no-db")
    tasks = {t["name"]: t for t in sc.task_definitions()}
    register = tasks["Register"]
    assert register["username"] == "testing"
    assert register["proxy"] == "192.168.52.1:5060" and register["port"] == 5040
    assert register["keys"] == {"domain": "192.168.52.1"}
    assert tasks["OpenSIPS"]["socket"] == "udp:192.168.52.1:5060"
    assert tasks["MI check Register"]["mi_ip"] == "192.168.52.1"
    assert sc.timeout == 10


def test_scenario_defines_override_and_nested_defaults_merge():
    sc = scenario("record-route", "03.record-route-double")
    uas = {t["name"]: t for t in sc.task_definitions()}["SIPP UAS"]
    assert uas["keys"] == {"double_domain": "10.52.0.1", "domain": "192.168.52.1"}
    assert uas["ip"] == "10.52.0.3" and uas["network"] == "osbr1"
    dialog = scenario("dialog", "05.reinvite-auth")
    assert "uac_ip" in dialog.defines


def test_merge_defaults_keeps_the_task_own_values():
    assert merge_defaults({"a": 1, "k": {"x": 1, "y": 2}}, {"a": 2, "k": {"y": 3}}) == \
        {"a": 2, "k": {"y": 3, "x": 1}}


def test_getenv_filter_and_jinja_in_a_synthetic_suite(tmp_path, monkeypatch):
    monkeypatch.setenv("SIPSSERT_TEST_IP", "192.168.52.9")
    (tmp_path / "set" / "one").mkdir(parents=True)
    (tmp_path / "set" / "defines.yml").write_text("ip: {{ 'SIPSSERT_TEST_IP' | getenv }}\nport: 5090\n")
    (tmp_path / "set" / "config.yml").write_text("defaults:\n  uac-sipp:\n    proxy: {{ ip }}:{{ port }}\n")
    (tmp_path / "set" / "one" / "scenario.yml").write_text(
        "timeout: 3\ntasks:\n  - name: A\n    type: uac-sipp\n    service: {{ ip }}\n")
    [(set_dir, dirs)] = discover([tmp_path / "set"])
    sc = load_scenario(dirs[0], load_test_set(set_dir))
    assert sc.task_definitions()[0]["proxy"] == "192.168.52.9:5090"


def test_discover_suite_root_uses_run_yml_sets():
    found = discover([SUITE])
    names = [s.name for s, _ in found]
    assert names[:3] == ["accounting", "auth", "b2b"] and "registration" in names
    assert sum(len(d) for _, d in found) == 148


def test_k_patterns_select_by_substring_or_glob():
    assert selected("registration/01.no-db", ["registration"])
    assert selected("dialog/03.reinvite-pinging", ["dialog/0[1-6]*"])
    assert not selected("dialog/07.prack", ["dialog/0[1-6]*"])


# ------------------------------------------------------------------------------------------------ mapping

def test_addresses_map_to_loopback_but_not_lookalikes():
    assert map_addresses("udp:192.168.52.1:5060 10.52.0.3 192.168.52.%") == \
        "udp:127.0.52.1:5060 127.10.52.3 127.0.52.%"
    assert map_addresses("1192.168.52.1 110.52.0.1 10.52.0") == "1192.168.52.1 110.52.0.1 10.52.0"


def test_workspace_copy_maps_text_keeps_binary_and_never_touches_corpus(tmp_path):
    source = SUITE / "registration" / "02.db"
    before = (source / "opensips.cfg").read_text()
    ws = Workspace.create(source, {"db_sqlite": "/var/lib/opensips/db_sqlite"}, base=tmp_path)
    cfg = (ws.scenario_dir / "opensips.cfg").read_text()
    assert f'sqlite://{ws.volumes["db_sqlite"]}/opensips.db' in cfg
    assert "192.168.52." not in cfg and "127.0.52.1" in cfg
    assert (ws.scenario_dir / "opensips.db").read_bytes() == (source / "opensips.db").read_bytes()
    script = (ws.scenario_dir / "scripts" / "sqlite-register.sh").read_text()
    assert str(ws.volumes["db_sqlite"]) in script
    assert (source / "opensips.cfg").read_text() == before
    assert ws.map("cp /home/opensips.db /homes/x") == f"cp {ws.scenario_dir}/opensips.db /homes/x"
    ws.remove()
    assert not ws.root.exists()


# ------------------------------------------------------------------------------------------------ tasks

@pytest.fixture
def built(tmp_path):
    def build(set_name, name):
        sc = scenario(set_name, name)
        ws = Workspace.create(sc.path, {"db_sqlite": "/var/lib/opensips/db_sqlite"}, base=tmp_path)
        builder = TaskBuilder(ws, sc.name, ["opensips-py"])
        return ws, {d["name"]: builder.build(d) for d in sc.task_definitions()}
    return build


def test_uac_sipp_command_line_like_sipssert(built):
    ws, launches = built("registration", "01.no-db")
    argv = launches["Register"].argv
    assert argv[:3] == ["sipp", "-sf", f"{ws.scenario_dir}/sipp-register.xml"]
    joined = " ".join(argv)
    # the address is given when the task starts (docker numbers it): see test_auto_address_reused_*
    assert "-au testing -s testing -p 5040 -i {auto-ip}" in joined
    assert launches["Register"].auto_ip_network == "osbr0"
    assert "-key domain 127.0.52.1 -key scenario 01.no-db -m 1 -d 5000 -key caller testing" in joined
    assert argv[argv.index("-nostdin") - 1] == "127.0.52.1:5060"
    assert launches["OpenSIPS"].argv == ["opensips-py", "-f", f"{ws.scenario_dir}/opensips.cfg",
                                          "-l", "udp:127.0.52.1:5060", "-F"]
    mi = launches["MI check Unregister"]
    assert mi.argv[1:] == [f"{ws.scenario_dir}/check-register.py", "unregister"]
    assert mi.env == {"MI_TYPE": "http", "MI_IP": "127.0.52.1", "MI_PORT": "8888"}


def test_uac_with_remote_dials_remote_through_proxy_and_uas_port_drops_protocol(built):
    ws, launches = built("record-route", "02.record-route-protocols")
    uac = launches["SIPP UAC"].argv
    assert uac[uac.index("-rsa") + 1] == "127.0.52.1:5060"
    assert uac[uac.index("-nostdin") - 1] == "127.0.52.3:5080"
    uas = launches["SIPP UAS"].argv
    assert uas[uas.index("-p") + 1] == "5080" and uas[-4:] == ["-t", "tn", "-max_socket", "16"]
    assert launches["OpenSIPS"].argv[3:8] == ["-l", "udp:127.0.52.1:5060", "-l", "tcp:127.0.52.1:5060", "-F"]


def test_generic_tasks_run_local_tools_with_mapped_paths(built):
    ws, launches = built("registration", "02.db")
    copy = launches["Init SQLite DB"].argv
    assert copy == ["cp", f"{ws.scenario_dir}/opensips.db", f"{ws.volumes['db_sqlite']}/opensips.db"]
    check = launches["SQLite Check Unregister"].argv
    assert check[-2:] == [f"{ws.scenario_dir}/scripts/sqlite-register.sh", "unregister"]


def test_mysql_task_is_a_mariadb_at_the_task_address(tmp_path):
    ws = Workspace.create(SUITE / "registration" / "01.no-db", {}, base=tmp_path)
    launch = TaskBuilder(ws, "x", ["opensips-py"]).build(
        {"name": "db", "type": "mysql", "ip": "192.168.52.2", "env": {"MYSQL_ROOT_HOST": "192.168.52.%"}})
    assert launch.argv[1:] == ["-m", "opensips_py.sipssert.mariadb", "--ip", "127.0.52.2", "--port", "3306",
                               "--root-host", "127.0.52.%", "--init-dir", str(ws.scenario_dir)]
    assert launch.ready_log is not None  # `healthy:` waits for the init files


def test_args_split_like_sipssert():
    assert config_args({"args": "-auth_uri 1.2.3.4:5"}) == ["-auth_uri", "1.2.3.4:5"]
    assert config_args({"args": ["-t", "tn", 16]}) == ["-t", "tn", "16"]
    assert config_args({"args": 1}) == ["1"]


def test_stir_shaken_passport_is_a_valid_es256_jwt():
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from opensips_py.sipssert.tasks import _DEFAULT_KEY

    token = passport_jwt({}, "+4915", "+4916")
    head, claims, sig = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)
    assert json.loads(base64.urlsafe_b64decode(pad(head)))["ppt"] == "shaken"
    body = json.loads(base64.urlsafe_b64decode(pad(claims)))
    assert body["dest"] == {"tn": ["4915"]} and body["orig"] == {"tn": "4916"}
    raw = base64.urlsafe_b64decode(pad(sig))
    public = serialization.load_pem_private_key(_DEFAULT_KEY, None).public_key()
    public.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                  f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))


# ------------------------------------------------------------------------------------------------ schedule

class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def _task(tmp_path, name, require=None, seconds=1.0, daemon=False, argv=None):
    launch = Launch(argv) if argv else Launch([], sleep=seconds)
    return Task(name, {"name": name}, launch, daemon, tmp_path / f"{name}.log", parse_dependencies(require))


def test_dependencies_start_tasks_in_order_with_waits(tmp_path):
    clock = FakeClock()
    tasks = [
        _task(tmp_path, "server", seconds=100, daemon=True),
        _task(tmp_path, "a", {"started": {"task": "server", "wait": 2}}, seconds=1),
        _task(tmp_path, "b", {"after": {"task": "a", "wait": 0.5}}, seconds=1),
        _task(tmp_path, "c", "b", seconds=1),
        _task(tmp_path, "d", {"delay": 1}, seconds=1),
        _task(tmp_path, "e", {"wait": 4}, seconds=0.1),
    ]
    outcome = TaskList(tasks, timeout=30, clock=clock, sleep=clock.sleep).run()
    assert outcome.passed
    start = {t.name: round(t.start_time, 1) for t in tasks}
    assert start["server"] == 0.0 and start["a"] == 2.0
    assert start["b"] == pytest.approx(3.5, abs=0.11) and start["c"] == pytest.approx(4.5, abs=0.21)
    assert start["d"] == pytest.approx(start["c"] + 1, abs=0.11)  # Delay: after the previous task started
    assert start["e"] == pytest.approx(4.0, abs=0.11)


def test_timeout_fails_and_names_what_was_still_running(tmp_path):
    clock = FakeClock()
    tasks = [_task(tmp_path, "slow", seconds=50), _task(tmp_path, "next", "slow", seconds=1)]
    outcome = TaskList(tasks, timeout=5, clock=clock, sleep=clock.sleep).run()
    assert not outcome.passed and outcome.timed_out
    assert outcome.reason == "timeout after 5s (still running: slow; never started: next)"


def test_real_processes_exit_codes_and_daemon_stop(tmp_path):
    py = sys.executable
    graceful = "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); time.sleep(30)"
    tasks = [_task(tmp_path, "daemon", daemon=True, argv=[py, "-c", graceful]),
             _task(tmp_path, "ok", "daemon", argv=[py, "-c", "print('fine')"])]
    assert TaskList(tasks, timeout=20).run().passed
    assert tasks[0].state == State.ENDED and tasks[0].process.returncode == 0
    failing = [_task(tmp_path, "bad", argv=[py, "-c", "print('boom'); raise SystemExit(3)"]),
               _task(tmp_path, "never", "bad", argv=[py, "-c", "pass"])]
    outcome = TaskList(failing, timeout=20).run()
    assert outcome.reason == "bad exited 3: boom" and failing[1].state == State.PENDING


def test_a_daemon_must_exit_0_on_sigterm_like_opensips(tmp_path):
    """SIPssert fails a scenario whose daemon container does not exit 0 when stopped (docker stop: SIGTERM,
    SIGKILL after stop_timeout)."""
    py = sys.executable
    dies = _task(tmp_path, "dies", daemon=True, argv=[py, "-c", "import time; time.sleep(30)"])
    outcome = TaskList([dies, _task(tmp_path, "client", "dies", seconds=0.1)], timeout=20).run()
    assert outcome.reason == "dies died of SIGTERM instead of exiting 0"
    stubborn = _task(tmp_path, "stubborn", daemon=True, argv=[
        py, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); "
                  "time.sleep(30)"])
    stubborn.definition["stop_timeout"] = 1
    outcome = TaskList([stubborn, _task(tmp_path, "c2", {"started": {"task": "stubborn", "wait": 0.5}},
                                        seconds=0.1)], timeout=20).run()
    assert outcome.reason == "stubborn did not stop within 1s of SIGTERM (killed): up"


def test_checklogs_patterns(tmp_path):
    task = _task(tmp_path, "t", argv=[sys.executable, "-c", "print('REGISTER ok')"])
    task.definition["checklogs"] = {"all": ["REGISTER"], "none": ["ERROR"]}
    assert TaskList([task], timeout=20).run().passed
    bad = _task(tmp_path, "u", argv=[sys.executable, "-c", "print('ERROR x')"])
    bad.definition["checklogs"] = {"none": "ERROR"}
    assert "checklogs" in TaskList([bad], timeout=20).run().reason


def test_missing_command_is_a_failure_not_a_crash(tmp_path):
    outcome = TaskList([_task(tmp_path, "x", argv=["/nonexistent/binary"])], timeout=5).run()
    assert not outcome.passed and "cannot start" in outcome.reason


# ------------------------------------------------------------------------------------------------ report

def test_junit_and_summary():
    results = [Result("registration/01.no-db", "PASS", seconds=1.5),
               Result("registration/02.db", "FAIL", "Register exited 1"),
               Result("auth/01.x", "SKIP", "needs a MySQL server")]
    root = ET.fromstring(junit_xml(results))
    suites = {s.get("name"): s for s in root}
    assert suites["registration"].get("tests") == "2" and suites["registration"].get("failures") == "1"
    assert suites["auth"].find("testcase/skipped").get("message") == "needs a MySQL server"
    assert summary(results) == "Summary: 3 scenarios, 1 passed, 1 failed, 1 skipped"


def test_sipp_scenarios_get_brackets_in_attributes_escaped_but_not_in_cdata(tmp_path):
    from opensips_py.sipssert.workspace import escape_attribute_brackets
    xml = ('<scenario><recv response="200"><action><ereg regexp="<sip:([^;@]*)>" assign_to="c"/></action>'
           '</recv><send><![CDATA[INVITE <sip:x> SIP/2.0]]></send><!-- a<b> --></scenario>')
    assert escape_attribute_brackets(xml) == xml.replace('"<sip:([^;@]*)>"', '"&lt;sip:([^;@]*)&gt;"')
    ws = Workspace.create(SUITE / "b2b" / "03.refer-unattended-uac", {}, base=tmp_path)
    text = (ws.scenario_dir / "scripts" / "transfer.xml").read_text()
    assert 'regexp="&lt;sip:([^;@]*)&gt;"' in text
    ET.fromstring(text.encode())  # well-formed now


def test_auto_address_reused_after_a_task_ends_like_docker(tmp_path):
    """Docker gives a new container the lowest free bridge address: a UAC started after another one ended
    gets its address (registration/01.no-db unregisters the contact the first UAC registered). Addresses
    the scenario names (the proxy's .1, the UAS's .3) are never handed out."""
    from opensips_py.sipssert.tasks import AUTO_IP
    from opensips_py.sipssert.workspace import DEFAULT_BRIDGES, AddressPool

    def task(name: str, network: str = "osbr0") -> Task:
        return Task(name, {}, Launch(["true", "-i", AUTO_IP], auto_ip_network=network), False,
                    tmp_path / f"{name}.log", [], [])

    pool = AddressPool(DEFAULT_BRIDGES, reserved=["192.168.52.1", "192.168.52.3"])
    first, second, third, other = task("a"), task("b"), task("c"), task("d", "osbr1")
    tasks = TaskList([first, second, third, other], addresses=pool)
    for t in (first, second, other):
        tasks._start(t, 0.0)
    assert first.launch.argv[-1] == "192.168.52.2" and second.launch.argv[-1] == "192.168.52.4"
    assert other.launch.argv[-1] == "10.52.0.1"
    first.process.wait()
    tasks._ended(first, 0, 1.0)
    tasks._start(third, 1.0)
    assert third.launch.argv[-1] == "192.168.52.2"
    for t in (second, third, other):
        t.process.wait()


def test_loopback_mode_numbers_auto_addresses_in_the_mapped_ranges():
    from opensips_py.sipssert.workspace import DEFAULT_BRIDGES, AddressPool
    pool = AddressPool(DEFAULT_BRIDGES, reserved=["192.168.52.1"], mapper=map_addresses)
    assert pool.take("x", "osbr0") == "127.0.52.2" and pool.take("y", "osbr1") == "127.10.52.1"


def test_an_opensips_task_is_started_only_once_its_sockets_are_bound(tmp_path):
    """`started` + `wait` count from a proxy that serves (OpenSIPS binds within milliseconds in its
    container; opensips-py needs a moment to import and check the config): a client waiting 0.5 s after
    the proxy started must find the port bound."""
    import socket

    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = (f"import socket, signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); "
              f"time.sleep(1.5); s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
              f"s.bind(('127.0.0.1', {port})); print('opensips-py serving 1 socket(s)', flush=True); time.sleep(30)")
    client = (f"import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('127.0.0.1', {port})); "
              f"s.send(b'x'); s.settimeout(0.3); "
              f"exec('try:\\n s.recv(1)\\nexcept socket.timeout:\\n pass')")  # refused → ConnectionRefusedError
    proxy = Task("proxy", {}, Launch([sys.executable, "-c", server], ready_sockets=[("udp", "127.0.0.1", port)],
                                     ready_log="opensips-py serving"), True, tmp_path / "proxy.log")
    uac = Task("uac", {}, Launch([sys.executable, "-c", client]), False, tmp_path / "uac.log",
               parse_dependencies({"started": {"task": "proxy", "wait": 0.5}}))
    tasks = TaskList([proxy, uac], timeout=20)
    outcome = tasks.run()
    assert outcome.passed, outcome.reason
    assert uac.start_time - proxy.launch_time >= 1.9  # 1.5 s to bind, then the 0.5 s wait


def test_a_proxy_that_never_binds_times_out_naming_it(tmp_path):
    proxy = Task("proxy", {}, Launch([sys.executable, "-c", "import time; time.sleep(30)"],
                                     ready_sockets=[("udp", "127.0.0.1", 9)]), True, tmp_path / "p.log")
    outcome = TaskList([proxy, _task(tmp_path, "uac", "proxy")], timeout=1).run()
    assert outcome.reason == "timeout after 1s (still running: proxy (not listening yet); never started: uac)"


def test_sockets_bound_reads_the_process_namespace_tables():
    import os
    import socket
    from opensips_py.sipssert.schedule import sockets_bound

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    try:
        wanted = [("udp", "127.0.0.1", udp.getsockname()[1]), ("tcp", "127.0.0.1", tcp.getsockname()[1])]
        assert not sockets_bound(os.getpid(), wanted)  # TCP bound but not listening yet
        tcp.listen()
        assert sockets_bound(os.getpid(), wanted)
    finally:
        udp.close()
        tcp.close()


# ------------------------------------------------------------------------------------------------ loopback mode

def test_loopback_mode_maps_sqlite_text_columns_and_recomputes_ha1(tmp_path):
    import hashlib
    import sqlite3
    source = SUITE / "auth" / "06.ha1-db-www-domain"
    sc = scenario("auth", "06.ha1-db-www-domain")
    ws = Workspace.create(source, {}, base=tmp_path, secrets=[str(v) for v in sc.defines.values()])
    row = sqlite3.connect(str(ws.scenario_dir / "opensips.db")).execute(
        "SELECT username, domain, ha1 FROM subscriber").fetchone()
    assert row == ("testing", "127.0.52.1", hashlib.md5(b"testing:127.0.52.1:T3st|n6").hexdigest())
    empty_domain = Workspace.create(SUITE / "auth" / "05.ha1-db-www", {}, base=tmp_path,
                                    secrets=[str(v) for v in sc.defines.values()])
    ha1 = sqlite3.connect(str(empty_domain.scenario_dir / "opensips.db")).execute(
        "SELECT ha1 FROM subscriber").fetchone()[0]
    assert ha1 == hashlib.md5(b"testing:127.0.52.1:T3st|n6").hexdigest()
    address = sqlite3.connect(str(Workspace.create(SUITE / "permissions" / "01.check-address", {}, base=tmp_path)
                                  .scenario_dir / "opensips.db")).execute("SELECT ip, mask FROM address").fetchone()
    assert address == ("127.0.52.0", 27)
    assert sqlite3.connect(str(source / "opensips.db")).execute(
        "SELECT domain FROM subscriber").fetchone() == ("192.168.52.1",)  # the corpus untouched


def test_namespace_mode_keeps_files_as_written(tmp_path):
    source = SUITE / "registration" / "02.db"
    ws = Workspace.create(source, {"db_sqlite": "/var/lib/opensips/db_sqlite"}, base=tmp_path,
                          rewrite_addresses=False)
    cfg = (ws.scenario_dir / "opensips.cfg").read_text()
    assert f'sqlite://{ws.volumes["db_sqlite"]}/opensips.db' in cfg and "192.168.52.1" in cfg
    assert ws.map("udp:192.168.52.1:5060 /home/x") == f"udp:192.168.52.1:5060 {ws.scenario_dir}/x"


# ------------------------------------------------------------------------------------------------ reasons

def test_sipp_failures_are_reported_as_what_sipp_waited_for_and_what_came():
    from opensips_py.sipssert.schedule import sipp_reason
    log = ("2026-11-26\t07:55:11.428984\t1795679711.428984: Aborting call on unexpected message for Call-Id "
           "'1-31069@192.168.52.2': while expecting '200' (index 7), received 'SIP/2.0 408 Request Timeout\n"
           "Via: SIP/2.0/UDP 192.168.52.2:5040;branch=z9hG4bK-31069-1-6\nCSeq: 2 BYE\nContent-Length: 0\n'\n"
           "Resolving remote sending address 192.168.52.1...\n")
    assert sipp_reason(log) == "SIPp expected 200 (message 7), got 'SIP/2.0 408 Request Timeout' (CSeq 2 BYE)"
    assert sipp_reason("2026-11-26\t08:00:00.1\t1.5: Call-Id '1-2@x' timed out waiting for 200\n") == \
        "SIPp: Call-Id '1-2@x' timed out waiting for 200"
    assert sipp_reason("Resolving remote host '192.168.52.1'... Done.\n") == ""


def test_markdown_table_counts_per_set_and_one_row_per_scenario():
    from opensips_py.sipssert.runner import markdown_table
    table = markdown_table([Result("auth/01.x", "PASS", seconds=3.21),
                            Result("auth/02.y", "FAIL", "OpenSIPS exited 1: a | b", seconds=1.0),
                            Result("b2b/01.z", "SKIP", "needs a MySQL server")])
    lines = table.splitlines()
    assert "| auth | 2 | 1 | 1 | 0 |" in lines and "| **all** | **3** | **1** | **1** | **1** |" in lines
    assert "| auth/02.y | FAIL | OpenSIPS exited 1: a \\| b | 1.0 |" in lines
    assert "| auth/01.x | PASS |  | 3.2 |" in lines


def test_functions_the_proxy_lacks_are_grouped_by_module():
    from opensips_py.sipssert.schedule import missing_by_module
    assert missing_by_module(["b2b_bridge()", "b2b_init_request()", "stir_shaken_verify()"]) == \
        "b2b_logic: b2b_bridge(), b2b_init_request(); stir_shaken: stir_shaken_verify()"


def test_a_timed_out_sipp_says_where_it_stood():
    from opensips_py.sipssert.schedule import sipp_progress
    uac = ("------------------------------ Scenario Screen -------- [1-9]: Change Screen --\n"
           "                                 Messages  Retrans   Timeout   Unexpected-Msg\n"
           "      INVITE ---------->         1         0         0\n"
           "         180 <----------         1         0         0         0\n"
           "         183 <----------         0         0         0         0\n"
           "       Pause [   1000ms]         0                             0\n"
           "         BYE ---------->         0         0         0\n"
           "------------------------------ Test Terminated --------------------------------\n")
    uas = uac.replace("      INVITE ---------->", "  ----------> INVITE     ").replace(
        "         183 <----------", "  ----------> PRACK     ")
    assert sipp_progress(uac) == "stuck at 183 (after 180)"
    assert sipp_progress(uas) == "stuck at PRACK (after 180)"
    assert sipp_progress("no screen here") == ""
