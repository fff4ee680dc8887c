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
A task passes when it exits 0 (and its `checklogs` patterns hold); a daemon stopped by us passes when it
had not failed before. Unlike SIPssert, once a task has failed no further task is started (the scenario
has failed either way; this only saves time).
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

POLL = 0.1


class State(enum.IntEnum):
    PENDING = 0
    ACTIVE = 1
    ENDED = 2


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
        if missing:  # the proxy refused the config: name what it lacks, not where
            return "not implemented yet: " + ", ".join(missing)
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
                 sleep: Callable[[float], None] = time.sleep):
        self.tasks = tasks
        self.timeout = timeout
        self.clock = clock
        self.sleep = sleep
        self.start_time = 0.0
        self.failures: list[str] = []
        self._at_timeout: tuple[list[str], list[str]] = ([], [])
        self._auto_ips: dict[int, tuple[str, int]] = {}  # tasks holding an address of AUTO_IP

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
                if self.failures or (not pending and not running):
                    break
                if self.timeout and now - self.start_time >= self.timeout:
                    timed_out = True
                    self._at_timeout = ([t.name for t in running], [t.name for t in pending])
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
        task.state = State.ACTIVE
        task.start_time = now
        if task.launch.sleep is not None:
            return
        env = {**os.environ, **task.launch.env}
        if task.launch.auto_ip_network is not None:
            self._give_address(task)
        try:
            with open(task.log_path, "ab") as log:
                log.write(f"$ {' '.join(task.launch.argv)}\n".encode())
                log.flush()
                task.process = subprocess.Popen(task.launch.argv, stdin=subprocess.DEVNULL, stdout=log,
                                                stderr=subprocess.STDOUT, cwd=task.launch.cwd, env=env,
                                                start_new_session=True)
        except OSError as exc:
            task.state = State.ENDED
            task.end_time = now
            task.exit_code = 127
            self.failures.append(f"{task.name}: cannot start {task.launch.argv[0]}: {exc}")

    def _reap(self, now: float) -> None:
        for task in self.tasks:
            if task.state != State.ACTIVE:
                continue
            if task.launch.sleep is not None:
                if now - task.start_time >= task.launch.sleep:
                    self._ended(task, 0, now)
                continue
            code = task.process.poll() if task.process else 0
            if code is not None:
                self._ended(task, code, now)

    def _give_address(self, task: Task) -> None:
        """Docker's IPAM gives a new container the lowest free address of its bridge (from .101 here), so a
        task started after another ended gets that one's address again (registration scenarios rely on it)."""
        from opensips_py.sipssert.tasks import AUTO_IP
        from opensips_py.sipssert.workspace import loopback_of
        network = task.launch.auto_ip_network
        taken = {host for net, host in self._auto_ips.values() if net == network}
        host = next(h for h in range(101, 255) if h not in taken)
        self._auto_ips[id(task)] = (network, host)
        address = loopback_of(network, host)
        task.launch.argv = [address if a == AUTO_IP else a for a in task.launch.argv]

    def _ended(self, task: Task, code: int, now: float) -> None:
        self._auto_ips.pop(id(task), None)
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
        active = [t for t in self.tasks if t.state == State.ACTIVE]
        ordered = [t for t in active if not t.daemon] + [t for t in reversed(active) if t.daemon]
        for task in ordered:
            task.stopped_by_us = True
            if task.process is not None and task.process.poll() is None:
                _signal_group(task.process, signal.SIGTERM)
                try:
                    task.process.wait(timeout=max(task.stop_timeout, 1.0))
                except subprocess.TimeoutExpired:
                    _signal_group(task.process, signal.SIGKILL)
                    task.process.wait(timeout=10)
            code = task.process.returncode if task.process is not None else 0
            if task.daemon and code not in (0, -signal.SIGTERM, -signal.SIGKILL, 128 + signal.SIGTERM):
                # a daemon that failed while being stopped
                self.failures.append(f"{task.name} exited {code} when stopped: {task.log_tail()}")
            self._ended(task, 0 if task.daemon else code, self.clock())

    def _outcome(self, timed_out: bool) -> Outcome:
        if self.failures:
            return Outcome(False, self.failures[0], timed_out)
        if timed_out:
            waiting, pending = self._at_timeout
            detail = f"still running: {', '.join(waiting)}" if waiting else ""
            if pending:
                detail += ("; " if detail else "") + f"never started: {', '.join(pending)}"
            return Outcome(False, f"timeout after {self.timeout:g}s" + (f" ({detail})" if detail else ""), True)
        return Outcome(True)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
