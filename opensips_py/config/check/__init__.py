"""`opensips-py check`: lint an opensips.cfg against OpenSIPS's real rules, without running anything.

check_file() reads, flattens and parses the config, then runs every rule (one small function per rule group)
over the AST. It never runs module code, never opens the network, never needs a database.
"""
from __future__ import annotations

from dataclasses import dataclass

from opensips_py.config import ast
from opensips_py.config.check import (
    rules_flow, rules_functions, rules_globals, rules_modules, rules_pvars, rules_routes,
)
from opensips_py.config.check.context import CheckOptions, Context
from opensips_py.config.diagnostics import Diagnostic, Severity
from opensips_py.config.parser import ParseResult, parse_file, parse_text
from opensips_py.config.preprocess import Source

# The order rules run in; each takes the Context and reports through it.
RULE_GROUPS = (
    rules_globals.check_empty,
    rules_globals.check_globals,
    rules_modules.check_modules,
    rules_modules.check_modparams,
    rules_modules.check_dependencies,
    rules_routes.check_definitions,
    rules_routes.check_references,
    rules_functions.check_calls,
    rules_routes.check_route_types,
    rules_pvars.check_pvars,
    rules_flow.check_blocks,
    rules_flow.check_expressions,
    rules_flow.check_var_flow,
)


@dataclass
class CheckResult:
    diagnostics: list[Diagnostic]
    source: Source | None
    config: ast.Config
    options: CheckOptions

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity == Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity == Severity.WARNING)

    @property
    def notes(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity == Severity.NOTE)

    def exit_status(self) -> int:
        """0 clean, 1 errors (or warnings with --strict)."""
        if self.errors or (self.options.strict and self.warnings):
            return 1
        return 0


def run_rules(parsed: ParseResult, options: CheckOptions) -> CheckResult:
    ctx = Context(parsed.config, parsed.source, options, diagnostics=list(parsed.diagnostics))
    fatal = parsed.source is None or any(d.code in ("E005", "E006") and d.message.startswith(("not a text",
                                                                                               "config too"))
                                         for d in parsed.diagnostics)
    if not options.syntax_only and not fatal:
        for rule in RULE_GROUPS:
            rule(ctx)
    diagnostics = sorted(ctx.diagnostics, key=Diagnostic.sort_key)
    return CheckResult(diagnostics, parsed.source, parsed.config, options)


def check_file(path: str, options: CheckOptions | None = None, max_bytes: int | None = None,
               overlay: dict[str, str] | None = None) -> CheckResult:
    options = options or CheckOptions()
    return run_rules(parse_file(path, max_bytes=max_bytes, overlay=overlay), options)


def check_text(text: str, options: CheckOptions | None = None, name: str = "<string>") -> CheckResult:
    options = options or CheckOptions()
    return run_rules(parse_text(text, name), options)
