"""Reading a SIPssert suite the way SIPssert does (sipssert/config.py, tests_set.py, tasks_list.py @3d043f8).

Every YAML file is first a Jinja2 template over the defines in force: the suite root's defines.yml, then
the test set's defines.yml (rendered with the root's), then the scenario's own defines.yml. The test set's
config.yml gives `defaults` per task type (merged under each task, the task's own keys winning, nested
dictionaries merged key by key), `task_templates`, `network`, `init_tasks`/`cleanup_tasks`.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

SCENARIO_FILE = "scenario.yml"
CONFIG_FILE = "config.yml"
DEFINES_FILE = "defines.yml"
RUN_FILE = "run.yml"


class ConfigError(Exception):
    """A suite file that cannot be read or rendered."""


def _environment() -> jinja2.Environment:
    env = jinja2.Environment()
    env.filters["getenv"] = lambda name, default=None: os.environ.get(name, default)
    return env


def render_yaml(path: Path, variables: dict[str, Any]) -> Any:
    """A YAML file rendered as a Jinja2 template over `variables`, then parsed."""
    try:
        text = path.read_text(encoding="utf-8")
        rendered = _environment().from_string(text).render(variables)
        return yaml.safe_load(rendered)
    except (OSError, jinja2.TemplateError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def load_defines(directory: Path, inherited: dict[str, Any]) -> dict[str, Any]:
    """`inherited` overlaid with directory/defines.yml (rendered with `inherited`), if there is one."""
    path = directory / DEFINES_FILE
    if not path.is_file():
        return dict(inherited)
    own = render_yaml(path, inherited) or {}
    if not isinstance(own, dict):
        raise ConfigError(f"{path}: expected a mapping")
    return {**inherited, **own}


def merge_defaults(defaults: dict[str, Any], definition: dict[str, Any]) -> dict[str, Any]:
    """SIPssert's merge_dicts: keys of `defaults` fill what `definition` lacks, recursively."""
    merged = copy.deepcopy(definition)
    for key, value in defaults.items():
        if isinstance(value, dict):
            node = merged.setdefault(key, {})
            if isinstance(node, dict):
                merged[key] = merge_defaults(value, node)
        elif key not in merged:
            merged[key] = copy.deepcopy(value)
    return merged


@dataclass
class TestSet:
    """A directory of scenarios with its config.yml/defines.yml."""

    path: Path
    defines: dict[str, Any]
    config: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def defaults(self) -> dict[str, Any]:
        return self.config.get("defaults") or {}

    @property
    def task_templates(self) -> dict[str, Any]:
        return self.config.get("task_templates") or {}

    def scenario_dirs(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir() if p.is_dir() and (p / SCENARIO_FILE).is_file())


@dataclass
class Scenario:
    """One rendered scenario: its directory, its defines, and scenario.yml as data."""

    path: Path
    test_set: TestSet
    defines: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def full_name(self) -> str:
        return f"{self.test_set.name}/{self.name}"

    @property
    def timeout(self) -> float:
        return float(self.config.get("timeout") or 0)

    @property
    def network(self) -> str | None:
        return self.config.get("network", self.test_set.config.get("network"))

    @property
    def volumes(self) -> dict[str, dict[str, Any]]:
        volumes = self.config.get("volumes") or {}
        if isinstance(volumes, list):
            return {name: {} for name in volumes}
        return {name: (spec or {}) for name, spec in volumes.items()}

    def task_definitions(self, key: str = "tasks") -> list[dict[str, Any]]:
        """The tasks of `key` (tasks, init_tasks, cleanup_tasks) with templates and defaults applied."""
        templates = {**self.test_set.task_templates, **(self.config.get("task_templates") or {})}
        out = []
        for definition in self.config.get(key) or []:
            definition = dict(definition)
            template = None
            if "type" in definition and str(definition["type"]).lower() in templates:
                template = templates[str(definition.pop("type")).lower()]
            elif "use" in definition:
                template = templates.get(str(definition["use"]).lower())
                if template is None:
                    raise ConfigError(f"{self.full_name}: unknown task template {definition['use']}")
            if template:
                definition = merge_defaults(template, definition)
            kind = str(definition.get("type", "generic")).lower()
            if kind in self.test_set.defaults:
                definition = merge_defaults(self.test_set.defaults[kind], definition)
            if self.network and "network" not in definition:
                definition["network"] = self.network
            out.append(definition)
        return out


def suite_root_defines(set_dir: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The defines of the suite above a test set (its run.yml directory), plus -E extra variables."""
    base = dict(extra or {})
    parent = set_dir.parent
    if (parent / RUN_FILE).is_file() or (parent / DEFINES_FILE).is_file():
        base = load_defines(parent, base)
        base.update(extra or {})
    return base


def load_test_set(path: Path, extra: dict[str, Any] | None = None) -> TestSet:
    defines = load_defines(path, suite_root_defines(path, extra))
    defines.update(extra or {})
    config_path = path / CONFIG_FILE
    config = render_yaml(config_path, defines) if config_path.is_file() else {}
    return TestSet(path, defines, config or {})


def load_scenario(path: Path, test_set: TestSet) -> Scenario:
    defines = load_defines(path, test_set.defines)
    config = render_yaml(path / SCENARIO_FILE, defines) or {}
    if not isinstance(config, dict):
        raise ConfigError(f"{path / SCENARIO_FILE}: expected a mapping")
    return Scenario(path, test_set, defines, config)


def discover(paths: list[Path]) -> list[tuple[Path, list[Path]]]:
    """(test set dir, [scenario dirs]) for command-line paths: a suite root (its run.yml `tests`, else its
    subdirectories holding scenarios), a test set, or a single scenario."""
    found: list[tuple[Path, list[Path]]] = []
    for raw in paths:
        path = raw.resolve()
        if (path / SCENARIO_FILE).is_file():
            found.append((path.parent, [path]))
            continue
        if any((child / SCENARIO_FILE).is_file() for child in path.iterdir() if child.is_dir()):
            found.append((path, sorted(c for c in path.iterdir() if (c / SCENARIO_FILE).is_file())))
            continue
        sets: list[Path] = []
        run_file = path / RUN_FILE
        if run_file.is_file():
            run = yaml.safe_load(run_file.read_text(encoding="utf-8")) or {}
            sets = [path / name for name in run.get("tests") or []]
        if not sets:
            sets = sorted(c for c in path.iterdir() if c.is_dir())
        for set_dir in sets:
            scenarios = sorted(c for c in set_dir.iterdir() if (c / SCENARIO_FILE).is_file()) \
                if set_dir.is_dir() else []
            if scenarios:
                found.append((set_dir, scenarios))
    return found
