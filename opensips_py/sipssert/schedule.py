"""Running one list of tasks the way SIPssert schedules containers (sipssert/tasks_list.py, dependencies.py
@3d043f8), with local processes instead.

Every 0.1 s: notice tasks that ended, start every pending task whose dependencies hold, until no task is
pending and no non-daemon task runs, or the scenario's timeout. Then daemons are stopped (SIGTERM,
`stop_timeout` seconds, SIGKILL). Dependencies (`require`, and `ready` for the Ready kind):
  After: <task> | {task, wait}   the task ended (a daemon: started), `wait` seconds before
  Started: …                     the task started, `wait` seconds before
  Ready: …                       started, and its own `ready` dependencies hold
  Wait: N                        N seconds after the list (or this task) started
  Delay: N                       N seconds after the previous task of the list started
A task passes when it exits 0 (and its `checklogs` patterns hold). A daemon is stopped as `docker stop`
does (SIGTERM, SIGKILL after its `stop_timeout`) and passes only when it then exits 0, as OpenSIPS does on
SIGTERM; one that needed SIGKILL, or died of the signal, fails (SIPssert checks the container's exit code).

Unlike SIPssert, once a task has failed no further task is started (the scenario has failed either way;
this only saves time).

A task with sockets to wait for (the opensips task: Launch.ready_sockets) is STARTING from its launch until
the process has bound every one of them (and logged Launch.ready_log): only then is it "started" for
`started`/`after` dependencies and their `wait`. SIPssert's containers count as started at once, but
OpenSIPS binds within milliseconds while opensips-py takes a second or two to import and check its config;
clients that send 0.5 s after the proxy "started" would otherwise hit closed ports.
"""
from __future__ import annotations

import enum
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from opensips_py.sipssert.tasks import Launch
from opensips_py.sipssert.workspace import DEFAULT_BRIDGES, AddressPool, map_addresses

POLL = 0.1


class State(enum.IntEnum):
    PENDING = 0
    STARTING = 1  # launched, its sockets not bound yet
    ACTIVE = 2
    ENDED = 3


@dataclass
class Task:
    name: str
    definition: dict[str, Any]
    launch: Launch
    daemon: bool
    log_path: Path
    require: list["Dependency"] = field(default_factory=list)
    ready: list["Dependency"] = field(default_factory=list)
    state: State = State.PENDING
    start_time: float = 0.0
    end_time: float = 0.0
    exit_code: int | None = None
    stopped_by_us: bool = False
    process: subprocess.Popen | None = None
    labels: tuple[str, ...] = ()
    launch_time: float = 0.0

    def matches(self, name: str) -> bool:
        return self.name == name or name in self.labels

    @property
    def stop_timeout(self) -> float:
        return float(self.definition.get("stop_timeout") or 0)

    def log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        missing = sorted(set(re.findall(r"error E301: (\S+) is not implemented in opensips-py", text)))
        if missing:  # the proxy refused the config: name what it lacks (module: functions), not where
            return "not implemented yet: " + missing_by_module(missing)
        sipp = sipp_reason(text)
        if sipp:
            return sipp
        errors = [line.strip() for line in text.splitlines() if re.search(r"\b(error|ERROR|CRITICAL)\b", line)
                  and "UDP errors" not in line and "TCP errors" not in line]
        if errors and not any("Traceback" in line for line in text.splitlines()):
            return " | ".join(errors[:lines])
        kept = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("$ ")]
        return " | ".join(kept[-lines:])

    def checklogs_ok(self) -> tuple[bool, str]:
        rules = self.definition.get("checklogs")
        if not rules:
            return True, ""
        if isinstance(rules, str):
            rules = {"all": rules.split(" ")}
        elif isinstance(rules, list):
            rules = {"all": [str(r) for r in rules]}
        want = rules.get("all") or []
        avoid = rules.get("none") or []
        want = want.split(" ") if isinstance(want, str) else want
        avoid = avoid.split(" ") if isinstance(avoid, str) else avoid
        try:
            logs = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            logs = ""
        for rule in want:
            pattern, count = (rule.get("expr", ""), rule.get("cnt")) if isinstance(rule, dict) else (rule, None)
            found = len(re.findall(pattern, logs))
            if (count is not None and found != count) or (count is None and found == 0):
                return False, f"checklogs: {pattern!r} found {found} time(s)"
        for pattern in avoid:
            if re.search(pattern, logs):
                return False, f"checklogs: {pattern!r} must not appear"
        return True, ""


def missing_by_module(functions: list[str]) -> str:
    """`b2b_logic: b2b_bridge(), b2b_init_request(); cachedb_local: cache_store()` for a list of `name()`:
    the module whose exports table has each function (the script's loadmodule decides in the rare
    case of a name two modules export; the first known module is named here)."""
    from opensips_py.modules import exports_of, known_modules
    owners: dict[str, str] = {}
    for module in known_modules():
        exports = exports_of(module)
        for function in getattr(exports, "functions", ()) if exports else ():
            owners.setdefault(function.name, module)
    grouped: dict[str, list[str]] = {}
    for call in functions:
        grouped.setdefault(owners.get(call.rstrip("()"), "core"), []).append(call)
    return "; ".join(f"{module}: {', '.join(calls)}" for module, calls in grouped.items())


_SIPP_UNEXPECTED = re.compile(
    r"Aborting call on unexpected message for Call-I[dD] '[^']*': while expecting '([^']+)' \(index (\d+)\), "
    r"received '([^\r\n]*)\r?\n(.*?)'\r?\n", re.S)
_SIPP_OTHER = re.compile(r"^\S+\s+\S+\s+[\d.]+: (.+)$", re.M)  # "date time epoch: message"


def sipp_reason(text: str) -> str:
    """What SIPp complained about, in one line: an unexpected message (what it waited for, what came, for
    which CSeq), a failed regexp check, a retransmission timeout; '' when the log has none of these."""
    match = _SIPP_UNEXPECTED.search(text)
    if match:
        expected, index, first_line, rest = match.groups()
        cseq = re.search(r"^CSeq:\s*(.+?)\s*$", rest, re.M | re.I)
        return (f"SIPp expected {expected} (message {index}), got '{first_line.strip()}'"
                + (f" (CSeq {cseq.group(1)})" if cseq else ""))
    for message in _SIPP_OTHER.findall(text):
        if any(word in message for word in ("Aborting", "Failed", "failed", "timeout", "timed out",
                                             "Unexpected", "unexpected", "Error", "error")):
            return "SIPp: " + " ".join(message.split())[:240]
    return ""


_SIPP_STEP = re.compile(r"^\s*(?:(?P<n1>[\w.\-]+)\s+(?P<a1><-+|-+>)|(?P<a2><-+|-+>)\s+(?P<n2>[\w.\-]+)"
                        r"|(?P<pause>Pause)\s+\[[^\]]*\])\s+(?:[A-Z]-\w+\s+)?(?P<count>\d+)", re.M)


def sipp_progress(text: str) -> str:
    """Where a SIPp run stood when it was stopped, from its last scenario screen: the first step after the
    last one that happened (`stuck at 183 (after 180)`); '' when the log has no screen."""
    screen = text.rsplit("Scenario Screen", 1)
    if len(screen) < 2:
        return ""
    steps = [(m.group("n1") or m.group("n2") or "pause", int(m.group("count")))
             for m in _SIPP_STEP.finditer(screen[1].split("Test Terminated", 1)[0])]
    last_done = max((i for i, (_, count) in enumerate(steps) if count > 0), default=-1)
    following = [name for name, _ in steps[last_done + 1:] if name != "pause"]
    if not following:
        return ""
    after = f" (after {steps[last_done][0]})" if last_done >= 0 else ""
    return f"stuck at {following[0]}{after}"


class Dependency:
    def satisfied(self, task: Task, tasks: "TaskList", now: float) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class After(Dependency):
    task_name: str
    wait: float = 0.0
    active: bool = False  # Started: the start is enough
    ready: bool = False   # Ready: started and its own ready dependencies hold

    def satisfied(self, task: Task, tasks: "TaskList", now: float) -> bool:
        dep = tasks.find(self.task_name)
        if dep is None:
            return False
        if dep.daemon or self.active:
            if dep.state < State.ACTIVE:
                return False
            if self.ready and not all(r.satisfied(dep, tasks, now) for r in dep.ready):
                return False
            since = dep.start_time
        else:
            if dep.state < State.ENDED:
                return False
            since = dep.end_time
        return now - since >= self.wait


@dataclass
class Wait(Dependency):
    seconds: float

    def satisfied(self, task: Task, tasks: "TaskList", now: float) -> bool:
        since = task.start_time if task.state > State.PENDING else tasks.start_time
        return now - since >= self.seconds


@dataclass
class Delay(Dependency):
    seconds: float

    def satisfied(self, task: Task, tasks: "TaskList", now: float) -> bool:
        previous = None
        for other in tasks.tasks:
            if other is task:
                break
            previous = other
        if previous is None:
            return now - tasks.start_time >= self.seconds
        if previous.state < State.ACTIVE:
            return False
        return now - previous.start_time >= self.seconds


def _after(info: Any, **kind: bool) -> After:
    if isinstance(info, dict):
        keys = {k.lower(): k for k in info}
        return After(str(info[keys["task"]]), float(info[keys["wait"]]) if "wait" in keys else 0.0, **kind)
    return After(str(info), **kind)


def parse_dependencies(spec: Any) -> list[Dependency]:
    """SIPssert's parse_dependencies: a name, a dict of kinds, or a list of either."""
    if not spec:
        return []
    items = spec if isinstance(spec, list) else [spec]
    out: list[Dependency] = []
    for item in items:
        if not isinstance(item, dict):
            out.append(_after(item))
            continue
        for key, value in item.items():
            kind = key.lower()
            if kind == "after":
                out.append(_after(value))
            elif kind == "started":
                out.append(_after(value, active=True))
            elif kind in ("ready", "healthy"):
                out.append(_after(value, active=True, ready=True))
            elif kind == "wait":
                out.append(Wait(float(value)))
            elif kind == "delay":
                out.append(Delay(float(value)))
            else:
                raise ValueError(f"unknown dependency {key}")
    return out


@dataclass
class Outcome:
    passed: bool
    reason: str = ""
    timed_out: bool = False


class TaskList:
    """Start, watch and stop one list of tasks."""

    def __init__(self, tasks: list[Task], timeout: float = 0.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, addresses: AddressPool | None = None,
                 wrap: Callable[[list[str]], list[str]] | None = None):
        self.tasks = tasks
        self.timeout = timeout
        self.clock = clock
        self.sleep = sleep
        self.start_time = 0.0
        self.failures: list[str] = []
        self._at_timeout: tuple[list[str], list[str]] = ([], [])
        # addresses for AUTO_IP (docker's IPAM); loopback numbering when no pool is given
        self.addresses = addresses or AddressPool(DEFAULT_BRIDGES, mapper=map_addresses)
        self.wrap = wrap  # the network namespace's `ip netns exec NAME`, or None

    def find(self, name: str) -> Task | None:
        for task in self.tasks:
            if task.matches(name):
                return task
        return None

    # ------------------------------------------------------------------------------------------ running
    def run(self) -> Outcome:
        self.start_time = self.clock()
        timed_out = False
        try:
            for _ in range(10_000_000):  # bounded by the timeout / the tasks ending
                now = self.clock()
                self._reap(now)
                pending = [t for t in self.tasks if t.state == State.PENDING]
                running = [t for t in self.tasks if t.state == State.ACTIVE and not t.daemon]
                starting = [t for t in self.tasks if t.state == State.STARTING]
                if self.failures or (not pending and not running and not starting):
                    break
                if self.timeout and now - self.start_time >= self.timeout:
                    timed_out = True
                    self._at_timeout = ([t.name for t in running] + [f"{t.name} (not listening yet)"
                                                                      for t in starting],
                                        [t.name for t in pending])
                    break
                for task in pending:
                    if all(dep.satisfied(task, self, now) for dep in task.require):
                        self._start(task, now)
                        if self.failures:
                            break
                self.sleep(POLL)
        finally:
            self._stop_all()
        return self._outcome(timed_out)

    def _start(self, task: Task, now: float) -> None:
        task.launch_time = now
        waits = bool(task.launch.ready_sockets or task.launch.ready_log)
        task.state = State.STARTING if waits else State.ACTIVE
        task.start_time = now
        if task.launch.sleep is not None:
            return
        env = {**os.environ, **task.launch.env}
        if task.launch.auto_ip_network is not None:
            self._give_address(task)
        argv = self.wrap(task.launch.argv) if self.wrap else task.launch.argv
        try:
            with open(task.log_path, "ab") as log:
                log.write(f"$ {' '.join(task.launch.argv)}\n".encode())
                log.flush()
                task.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                                stderr=subprocess.STDOUT, cwd=task.launch.cwd, env=env,
                                                start_new_session=True)
        except OSError as exc:
            task.state = State.ENDED
            task.end_time = now
            task.exit_code = 127
            self.failures.append(f"{task.name}: cannot start {task.launch.argv[0]}: {exc}")

    def _reap(self, now: float) -> None:
        for task in self.tasks:
            if task.state not in (State.STARTING, State.ACTIVE):
                continue
            if task.launch.sleep is not None:
                if now - task.start_time >= task.launch.sleep:
                    self._ended(task, 0, now)
                continue
            code = task.process.poll() if task.process else 0
            if code is not None:
                self._ended(task, code, now)
            elif task.state == State.STARTING and self._listening(task):
                task.state = State.ACTIVE
                task.start_time = now  # "started" from here: the dependencies' waits count from now

    @staticmethod
    def _listening(task: Task) -> bool:
        if task.process is None:
            return True
        if task.launch.ready_log:
            try:
                if task.launch.ready_log.encode() not in task.log_path.read_bytes():
                    return False
            except OSError:
                return False
        return sockets_bound(task.process.pid, task.launch.ready_sockets)

    def _give_address(self, task: Task) -> None:
        """Docker's IPAM gives a new container the lowest free address of its bridge, so a task started
        after another ended gets that one's address again (registration scenarios rely on it)."""
        from opensips_py.sipssert.tasks import AUTO_IP
        address = self.addresses.take(id(task), task.launch.auto_ip_network)
        task.launch.argv = [address if a == AUTO_IP else a for a in task.launch.argv]

    def _ended(self, task: Task, code: int, now: float) -> None:
        self.addresses.give_back(id(task))
        task.state = State.ENDED
        task.end_time = now
        task.exit_code = code
        logs_ok, why = task.checklogs_ok()
        if code != 0 and not task.stopped_by_us:
            tail = task.log_tail()
            self.failures.append(f"{task.name} exited {code}" + (f": {tail}" if tail else ""))
        elif not logs_ok:
            self.failures.append(f"{task.name}: {why}")

    def _stop_all(self) -> None:
        """Stop what still runs: non-daemons first (a timeout), then daemons in reverse order."""
        active = [t for t in self.tasks if t.state in (State.STARTING, State.ACTIVE)]
        ordered = [t for t in active if not t.daemon] + [t for t in reversed(active) if t.daemon]
        for task in ordered:
            task.stopped_by_us = True
            killed = False
            if task.process is not None and task.process.poll() is None:
                _signal_group(task.process, signal.SIGTERM)
                try:
                    task.process.wait(timeout=max(task.stop_timeout, 1.0))
                except subprocess.TimeoutExpired:
                    _signal_group(task.process, signal.SIGKILL)
                    killed = True
                    try:
                        task.process.wait(timeout=10)
                    except subprocess.TimeoutExpired:  # unkillable (D state): give up on it, report it
                        self.failures.append(f"{task.name} (pid {task.process.pid}) survived SIGKILL")
                        self._ended(task, -signal.SIGKILL, self.clock())
                        continue
            code = task.process.returncode if task.process is not None else 0
            if task.daemon and task.state == State.ACTIVE and code != 0:
                # docker stop: SIGTERM, SIGKILL after stop_timeout; SIPssert wants exit status 0
                if killed:
                    why = f"did not stop within {max(task.stop_timeout, 1.0):g}s of SIGTERM (killed)"
                elif code < 0:
                    why = f"died of {signal.Signals(-code).name} instead of exiting 0"
                else:
                    why = f"exited {code} on SIGTERM"
                tail = task.log_tail()
                self.failures.append(f"{task.name} {why}" + (f": {tail}" if tail else ""))
            self._ended(task, 0 if task.daemon else code, self.clock())

    def _outcome(self, timed_out: bool) -> Outcome:
        if self.failures:
            return Outcome(False, self.failures[0], timed_out)
        if timed_out:
            waiting, pending = self._at_timeout
            detail = f"still running: {', '.join(waiting)}" if waiting else ""
            stuck = []
            for name in waiting:
                task = self.find(name)
                try:
                    progress = sipp_progress(task.log_path.read_text(errors="replace")) if task else ""
                except OSError:
                    progress = ""
                if progress:
                    stuck.append(f"{name} {progress}")
            if stuck:
                detail += ": " + "; ".join(stuck)
            if pending:
                detail += ("; " if detail else "") + f"never started: {', '.join(pending)}"
            return Outcome(False, f"timeout after {self.timeout:g}s" + (f" ({detail})" if detail else ""), True)
        return Outcome(True)


def _proc_hex(ip: str) -> str:
    """An IPv4 address as /proc/net/{udp,tcp} prints it (the 32-bit value in host byte order)."""
    import socket
    import sys
    return format(int.from_bytes(socket.inet_aton(ip), sys.byteorder), "08X")


def sockets_bound(pid: int, listens: list[tuple[str, str, int]]) -> bool:
    """Whether, in the network namespace of `pid` (/proc/PID/net), each (proto, ip, port) is bound: a UDP
    socket, or a listening TCP one (tcp/tls/ws/wss); a wildcard bind of the port counts."""
    tables: dict[str, set[tuple[str, int]]] = {}
    for kind in ("udp", "tcp"):
        found: set[tuple[str, int]] = set()
        try:
            lines = Path(f"/proc/{pid}/net/{kind}").read_text().splitlines()[1:]
        except OSError:
            return False
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or (kind == "tcp" and fields[3] != "0A"):  # 0A: LISTEN
                continue
            address, _, port = fields[1].partition(":")
            found.add((address, int(port, 16)))
        tables[kind] = found
    for proto, ip, port in listens:
        table = tables["udp" if proto == "udp" else "tcp"]
        try:
            wanted = _proc_hex(ip) if ip not in ("", "*", "0.0.0.0") else "00000000"
        except OSError:
            return True  # a host name: nothing to compare with; the ready_log line decides
        if (wanted, port) not in table and ("00000000", port) not in table:
            return False
    return True


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
