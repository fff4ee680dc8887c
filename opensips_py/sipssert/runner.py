"""Running scenarios: workspace, tasks, schedule, result; the report lines and JUnit XML."""
from __future__ import annotations

import fnmatch
import json
import re
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

from opensips_py.sipssert import netns
from opensips_py.sipssert.config import ConfigError, Scenario, discover, load_scenario, load_test_set
from opensips_py.sipssert.schedule import Task, TaskList, parse_dependencies
from opensips_py.sipssert.tasks import TaskBuilder, TaskSkip, is_daemon
from opensips_py.sipssert.workspace import DEFAULT_BRIDGES, AddressPool, Workspace

DEFAULT_OPENSIPS = [sys.executable, "-m", "opensips_py"]
OPENSIPS_PY_READY = "opensips-py serving"  # logged once every socket is bound (transport/server.py)
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")


@dataclass
class Result:
    name: str            # "registration/01.no-db"
    status: str          # PASS FAIL SKIP
    reason: str = ""
    seconds: float = 0.0
    logs: Path | None = None

    @property
    def test_set(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def scenario(self) -> str:
        return self.name.split("/", 1)[-1]


@dataclass
class RunOptions:
    opensips_command: list[str] = field(default_factory=lambda: list(DEFAULT_OPENSIPS))
    sipp: str = "sipp"
    python: str = sys.executable
    logs_dir: Path | None = None
    keep: bool = False
    extra_vars: dict[str, Any] = field(default_factory=dict)
    timeout_scale: float = 1.0
    netns: bool | None = None  # a network namespace per scenario; None: when `ip netns` is permitted
    faketime: float | None = None  # --faketime: the UNIX time each scenario's opensips/sipp clocks start at

    def use_netns(self) -> bool:
        if self.netns is None:
            self.netns = netns.available()
        return self.netns


def selected(name: str, patterns: list[str]) -> bool:
    """-k: a scenario runs when its "set/scenario" name contains a pattern (or matches it as a glob)."""
    if not patterns:
        return True
    return any((fnmatch.fnmatch(name, p) if any(c in p for c in "*?[") else p in name) for p in patterns)


def _volume_binds(scenario: Scenario) -> dict[str, str]:
    binds = {name: str(spec.get("bind") or "") for name, spec in scenario.volumes.items()}
    for key in ("init_tasks", "tasks", "cleanup_tasks"):
        for definition in scenario.config.get(key) or []:
            volumes = definition.get("volumes") or {}
            if isinstance(volumes, dict):
                for name, spec in volumes.items():
                    if spec and spec.get("bind"):
                        binds[name] = str(spec["bind"])
                    binds.setdefault(name, "")
            else:
                for name in volumes:
                    binds.setdefault(name, "")
    return binds


def _named_addresses(scenario: Scenario) -> list[str]:
    """Every IPv4 address the scenario's tasks name (ip, proxy, sockets, keys…): docker's IPAM would not
    hand them to a task without an `ip` (they belong to tasks of this scenario)."""
    text = json.dumps([scenario.task_definitions(k) for k in ("init_tasks", "tasks", "cleanup_tasks")],
                      default=str)
    return sorted(set(_IPV4.findall(text)))


def _proxy_addresses(scenario: Scenario) -> list[str]:
    """The opensips tasks' addresses (ip, then sockets'): the namespace's source address per subnet."""
    out: list[str] = []
    for definition in scenario.task_definitions("tasks"):
        if str(definition.get("type", "")).lower() != "opensips":
            continue
        sockets = ([definition["socket"]] if definition.get("socket") else []) + list(definition.get("sockets") or [])
        for value in [definition.get("ip"), *sockets]:
            out += _IPV4.findall(str(value or ""))
    return out


def _bridges(scenario: Scenario) -> list[dict]:
    return list(scenario.test_set.config.get("bridge_networks") or DEFAULT_BRIDGES)


def _task_list(scenario: Scenario, key: str, builder: TaskBuilder, ws: Workspace, scale: float,
               addresses: AddressPool | None = None, namespace: netns.Namespace | None = None) -> TaskList:
    tasks = []
    for index, definition in enumerate(scenario.task_definitions(key)):
        name = str(definition.get("name") or f"{key}-{index}")
        launch = builder.build(definition)
        labels = definition.get("labels") or []
        labels = list(labels) if isinstance(labels, list) else [labels]
        if definition.get("label"):
            labels.append(definition["label"])
        require = parse_dependencies(definition.get("require"))
        if definition.get("delay_start"):
            from opensips_py.sipssert.schedule import Delay
            require.append(Delay(float(definition["delay_start"])))
        log_path = ws.logs_dir / (re.sub(r"[^\w.-]", "_", name) + ".log")
        tasks.append(Task(name, definition, launch, is_daemon(definition), log_path, require,
                          parse_dependencies(definition.get("ready")), labels=tuple(str(l) for l in labels)))
    return TaskList(tasks, timeout=scenario.timeout * scale, addresses=addresses,
                    wrap=namespace.wrap if namespace else None)


def run_scenario(scenario: Scenario, options: RunOptions) -> Result:
    """Run one scenario in a fresh workspace (and network namespace, unless the loopback mode is chosen or
    forced); both are removed afterwards whatever happens."""
    started = time.monotonic()
    in_namespace = options.use_netns()
    secrets = [str(v) for v in scenario.defines.values() if isinstance(v, (str, int))]
    ws = Workspace.create(scenario.path, _volume_binds(scenario), rewrite_addresses=not in_namespace,
                          secrets=secrets)
    namespace: netns.Namespace | None = None
    try:
        if in_namespace:
            try:
                namespace = netns.Namespace.create(netns.subnets_for(_bridges(scenario), _proxy_addresses(scenario)))
            except netns.NamespaceError as exc:
                return Result(scenario.full_name, "FAIL", f"cannot create the network namespace: {exc}",
                              time.monotonic() - started)
        ready_log = OPENSIPS_PY_READY if options.opensips_command == DEFAULT_OPENSIPS else None
        offset = round(options.faketime - time.time()) if options.faketime is not None else None
        builder = TaskBuilder(ws, scenario.name, options.opensips_command, options.sipp, options.python,
                              opensips_ready_log=ready_log, faketime_offset=offset)
        addresses = AddressPool(_bridges(scenario), _named_addresses(scenario),
                                mapper=ws.map_address)
        try:
            lists = {key: _task_list(scenario, key, builder, ws, options.timeout_scale, addresses, namespace)
                     for key in ("init_tasks", "tasks", "cleanup_tasks")}
        except TaskSkip as skip:
            return Result(scenario.full_name, "SKIP", str(skip), time.monotonic() - started)
        if not lists["tasks"].tasks:
            return Result(scenario.full_name, "SKIP", "no tasks", time.monotonic() - started)
        outcome = lists["init_tasks"].run()
        if outcome.passed:
            outcome = lists["tasks"].run()
        else:
            outcome.reason = f"init task: {outcome.reason}"
        lists["cleanup_tasks"].run()
        status = "PASS" if outcome.passed else "FAIL"
        logs = _keep_logs(ws, scenario, options)
        reason = outcome.reason.replace(str(ws.scenario_dir) + "/", "").replace(str(ws.root), "<workspace>")
        return Result(scenario.full_name, status, reason, time.monotonic() - started, logs)
    finally:
        if namespace is not None:
            namespace.delete()
        if options.keep:
            print(f"  workspace kept: {ws.root}", file=sys.stderr)
        else:
            ws.remove()


def _keep_logs(ws: Workspace, scenario: Scenario, options: RunOptions) -> Path | None:
    if options.logs_dir is None:
        return None
    target = options.logs_dir / scenario.test_set.name / scenario.name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(ws.logs_dir, target)
    return target


def run_paths(paths: list[Path], patterns: list[str], options: RunOptions,
              out: TextIO = sys.stdout, on_result: Callable[[Result], None] | None = None) -> list[Result]:
    """Run every selected scenario under `paths`, printing one line each."""
    results: list[Result] = []
    if options.use_netns():
        netns.remove_stale()  # namespaces left by runners that crashed
    for set_dir, scenario_dirs in discover(paths):
        chosen = [d for d in scenario_dirs if selected(f"{set_dir.name}/{d.name}", patterns)]
        if not chosen:
            continue
        try:
            test_set = load_test_set(set_dir, options.extra_vars)
        except ConfigError as exc:
            for d in chosen:
                results.append(_emit(Result(f"{set_dir.name}/{d.name}", "FAIL", str(exc)), out, on_result))
            continue
        for scenario_dir in chosen:
            name = f"{set_dir.name}/{scenario_dir.name}"
            try:
                scenario = load_scenario(scenario_dir, test_set)
                result = run_scenario(scenario, options)
            except (ConfigError, ValueError) as exc:
                result = Result(name, "FAIL", f"bad scenario: {exc}")
            results.append(_emit(result, out, on_result))
    return results


def _emit(result: Result, out: TextIO, on_result) -> Result:
    line = f"{result.name} {'.' * max(3, 52 - len(result.name))} {result.status}"
    if result.reason:
        line += f" - {result.reason}"
    print(line, file=out, flush=True)
    if on_result:
        on_result(result)
    return result


def summary(results: list[Result]) -> str:
    counts = {status: sum(1 for r in results if r.status == status) for status in ("PASS", "FAIL", "SKIP")}
    return (f"Summary: {len(results)} scenarios, {counts['PASS']} passed, {counts['FAIL']} failed, "
            f"{counts['SKIP']} skipped")


def junit_xml(results: list[Result]) -> bytes:
    """JUnit XML: one testsuite per test set, one testcase per scenario (failure/skipped with the reason)."""
    root = ET.Element("testsuites")
    suites: dict[str, ET.Element] = {}
    for result in results:
        suite = suites.get(result.test_set)
        if suite is None:
            suite = suites[result.test_set] = ET.SubElement(root, "testsuite", name=result.test_set)
        case = ET.SubElement(suite, "testcase", name=result.scenario, classname=result.test_set,
                             time=f"{result.seconds:.3f}")
        if result.status == "FAIL":
            ET.SubElement(case, "failure", message=result.reason or "failed", type="failure")
        elif result.status == "SKIP":
            ET.SubElement(case, "skipped", message=result.reason)
    for name, suite in suites.items():
        cases = [r for r in results if r.test_set == name]
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for r in cases if r.status == "FAIL")))
        suite.set("skipped", str(sum(1 for r in cases if r.status == "SKIP")))
        suite.set("errors", "0")
        suite.set("time", f"{sum(r.seconds for r in cases):.3f}")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def markdown_table(results: list[Result]) -> str:
    """The result table docs/sipssert.md carries: a count per test set, then one row per scenario."""
    lines = ["| test set | scenarios | pass | fail | skip |", "|---|---:|---:|---:|---:|"]
    sets: dict[str, list[Result]] = {}
    for result in results:
        sets.setdefault(result.test_set, []).append(result)
    for name, cases in sets.items():
        counts = [sum(1 for r in cases if r.status == s) for s in ("PASS", "FAIL", "SKIP")]
        lines.append(f"| {name} | {len(cases)} | {counts[0]} | {counts[1]} | {counts[2]} |")
    totals = [sum(1 for r in results if r.status == s) for s in ("PASS", "FAIL", "SKIP")]
    lines.append(f"| **all** | **{len(results)}** | **{totals[0]}** | **{totals[1]}** | **{totals[2]}** |")
    lines += ["", "| scenario | result | reason | seconds |", "|---|---|---|---:|"]
    for result in results:
        reason = " ".join(result.reason.split()).replace("|", "\\|")
        if len(reason) > 300:
            reason = reason[:297] + "..."
        lines.append(f"| {result.name} | {result.status} | {reason} | {result.seconds:.1f} |")
    return "\n".join(lines) + "\n"
