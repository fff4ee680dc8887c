"""What every rule needs: the parsed config, the options, the facts derived once (modules loaded, routes by
kind and name), and `report()`, which turns a finding into a Diagnostic with the catalogue's severity."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator

from opensips_py.config import ast
from opensips_py.config.check.catalog import RULES_BY_CODE
from opensips_py.config.diagnostics import Diagnostic, Edit, Fix, Location, Severity
from opensips_py.config.preprocess import Source
from opensips_py.modules.exports import RouteType, VersionSpan

# Modules that work with no modparam at all: --fix may add their loadmodule. Others (drouting, a database,
# dispatcher…) need settings only the user can choose, so check only says what to add.
SELF_CONTAINED_MODULES = frozenset({
    "sl", "tm", "signaling", "rr", "maxfwd", "sipmsgops", "textops", "cfgutils", "usrloc", "registrar",
    "dialog", "nathelper", "auth", "uac", "json", "exec", "tls_openssl", "tls_wolfssl", "httpd", "mi_http",
    "mi_fifo", "proto_udp", "proto_tcp", "proto_tls", "proto_ws", "proto_wss", "proto_sctp", "db_mysql",
    "db_postgres", "db_sqlite", "db_text", "topology_hiding", "acc", "uac_auth",
})

ROUTE_TYPE_OF_KIND = {
    "route": RouteType.REQUEST, "branch_route": RouteType.BRANCH, "failure_route": RouteType.FAILURE,
    "onreply_route": RouteType.ONREPLY, "local_route": RouteType.LOCAL, "startup_route": RouteType.STARTUP,
    "timer_route": RouteType.TIMER, "event_route": RouteType.EVENT, "error_route": RouteType.ERROR,
}


@dataclass
class CheckOptions:
    """target: an OpenSIPS version ("3.6") to check against, or None for opensips-py's own dialect (every
    tracked version's syntax accepted, guide-dialect constructs reported as portability warnings)."""

    target: str | None = None
    strict: bool = False
    syntax_only: bool = False


def loc(pos: ast.Pos) -> Location:
    return Location(pos.file, pos.line, pos.column, pos.end_line, pos.end_column)


def span_edit(pos: ast.Pos, text: str) -> Edit:
    """Replace exactly the source span of a node."""
    return Edit(pos.file, (pos.line, pos.column), (pos.end_line, pos.end_column), text)


def prefix_edit(pos: ast.Pos, length: int, text: str) -> Edit:
    """Replace the first `length` characters of a node (a keyword or a name at its start)."""
    return Edit(pos.file, (pos.line, pos.column), (pos.line, pos.column + length), text)


@dataclass
class Context:
    config: ast.Config
    source: Source | None
    options: CheckOptions
    diagnostics: list[Diagnostic] = field(default_factory=list)
    loaded: dict[str, ast.LoadModule] = field(default_factory=dict)
    load_order: list[ast.LoadModule] = field(default_factory=list)
    routes: dict[tuple[str, str | None], ast.Route] = field(default_factory=dict)
    _reported: set = field(default_factory=set)
    _nodes: dict = field(default_factory=dict)
    _all: list | None = None

    def __post_init__(self) -> None:
        for stmt in self.config.statements:
            if isinstance(stmt, ast.LoadModule):
                self.load_order.append(stmt)
                self.loaded.setdefault(stmt.module, stmt)
            elif isinstance(stmt, ast.Route):
                key = (stmt.kind, _route_key(stmt))
                self.routes.setdefault(key, stmt)

    # ------------------------------------------------------------------------------------------ facts
    @property
    def target(self) -> str | None:
        return self.options.target

    def in_target(self, span: VersionSpan) -> bool:
        return True if self.target is None else span.includes(self.target)

    def is_loaded(self, module: str) -> bool:
        return module in self.loaded

    def unchecked_modules(self) -> list[str]:
        """Loaded real OpenSIPS modules we have no exports table for."""
        from opensips_py.config.check.exports_index import exports_index
        from opensips_py.modules.names import OPENSIPS_MODULES
        index = exports_index()
        return sorted(m for m in self.loaded if m not in index.modules and m in OPENSIPS_MODULES)

    def route(self, kind: str, name: str | None) -> ast.Route | None:
        return self.routes.get((kind, _normal_name(kind, name)))

    def last_loadmodule(self) -> ast.LoadModule | None:
        """The last loadmodule of the main file (where --fix inserts missing ones)."""
        main = self.source.main_file if self.source else None
        candidates = [m for m in self.load_order if main is None or m.pos.file == main]
        return candidates[-1] if candidates else (self.load_order[-1] if self.load_order else None)

    def insert_loadmodule_fix(self, module: str, before: ast.LoadModule | None = None) -> Fix | None:
        """A fix adding `loadmodule "module.so"` after the last loadmodule (or before a given one)."""
        if before is not None:
            pos = before.pos
            return Fix(f'add loadmodule "{module}.so"',
                       (Edit(pos.file, (pos.line, pos.column), (pos.line, pos.column),
                             f'loadmodule "{module}.so"\n'),))
        if module not in SELF_CONTAINED_MODULES:
            return None  # it needs settings only the user can choose: the hint says what to add
        anchor = self.last_loadmodule()
        if anchor is None:
            return None
        pos = anchor.pos
        end_column = pos.end_column
        if self.source is not None:  # after the line's trailing comment
            end_column = max(end_column, len(self.source.source_line(pos.file, pos.end_line)) + 1)
        return Fix(f'add loadmodule "{module}.so"',
                   (Edit(pos.file, (pos.end_line, end_column), (pos.end_line, end_column),
                         f'\nloadmodule "{module}.so"'),))

    def comment_out_fix(self, node, note: str) -> Fix | None:
        """Turn a one-line top-level statement into a comment that keeps it and says why."""
        pos = node.pos
        if self.source is None or pos.line != pos.end_line:
            return None
        line = self.source.source_line(pos.file, pos.line)
        original = line[pos.column - 1:pos.end_column - 1]
        return Fix(f"comment out: {note}", (span_edit(pos, f"# {original}  # {note}"),))

    # ------------------------------------------------------------------------------------------ report
    def report(self, code: str, pos: ast.Pos | Location, message: str, hint: str | None = None,
               fix: Fix | None = None, severity: Severity | None = None) -> None:
        rule = RULES_BY_CODE[code]
        if severity is None:
            severity = rule.severity
            if code.startswith("P") and self.target is not None:
                severity = Severity.ERROR  # real OpenSIPS rejects the guide dialect
        location = pos if isinstance(pos, Location) else loc(pos)
        key = (code, location.file, location.line, location.column, message)
        if key in self._reported:
            return
        self._reported.add(key)
        self.diagnostics.append(Diagnostic(code, severity, location, message, hint=hint, fix=fix))

    # ------------------------------------------------------------------------------------------ walking
    def strings_anywhere(self) -> set[str]:
        """Every string literal value in the config (names of routes armed by modules, for W403)."""
        found: set[str] = set()
        for node in self.all_nodes():
            if isinstance(node, ast.Str):
                found.add(node.value)
        return found

    def nodes_of(self, route: ast.Route) -> list:
        """Every node of a route's body, computed once per check."""
        key = id(route)
        nodes = self._nodes.get(key)
        if nodes is None:
            nodes = self._nodes[key] = list(walk_nodes(route.body))
        return nodes

    def all_nodes(self) -> list:
        if self._all is None:
            self._all = list(walk_nodes(self.config))
        return self._all


def _route_key(route: ast.Route) -> str | None:
    return _normal_name(route.kind, route.name)


def _normal_name(kind: str, name: str | None) -> str | None:
    if kind == "route" and name in (None, "0"):
        return None
    return name


_SKIPPED_FIELDS = frozenset({"pos", "name_pos", "target_pos", "value_pos", "raw", "text", "items", "dialect",
                             "name", "op", "value_pos", "context", "long_form", "short_transforms", "parens",
                             "interval", "kind"})
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(cls: type) -> tuple[str, ...]:
    fields = _CHILD_FIELDS.get(cls)
    if fields is None:
        names = getattr(cls, "__dataclass_fields__", {})
        fields = tuple(n for n in names if n not in _SKIPPED_FIELDS)
        _CHILD_FIELDS[cls] = fields
    return fields


def walk_nodes(node) -> Iterator:
    """Every AST node under `node`, depth first (lists and tuples followed)."""
    stack = [node]
    pop, extend = stack.pop, stack.extend
    while stack:
        current = pop()
        if current is None or current.__class__ in (str, int, bool):
            continue
        if current.__class__ in (list, tuple):
            extend(reversed(current))
            continue
        yield current
        fields = _child_fields(current.__class__)
        if fields:
            extend([getattr(current, name) for name in reversed(fields)])


def statements(block_or_stmt) -> list:
    if isinstance(block_or_stmt, ast.Block):
        return block_or_stmt.stmts
    return [block_or_stmt]


def calls_in(node) -> Iterator:
    """Calls (function, route, async, launch, assert) anywhere under a node, not entering other routes."""
    for child in walk_nodes(node):
        if isinstance(child, (ast.Call, ast.RouteCall, ast.AsyncCall, ast.LaunchCall, ast.AssertCall)):
            yield child


_PV_TEXT_RE = re.compile(r"\$")


def string_args(call: ast.Call) -> Iterator[ast.Str]:
    for arg in call.args:
        if isinstance(arg, ast.Str):
            yield arg
        elif isinstance(arg, ast.FoldedStr):
            yield from arg.parts
        elif isinstance(arg, ast.Concat):
            yield from (p for p in arg.parts if isinstance(p, ast.Str))
