"""The interpreter: the AST compiled once, at start-up, into Python closures.

Every statement becomes `fn(ctx) -> None` (it leaves the action's return code in ctx.retcode), every value
expression `fn(ctx) -> Value`, every condition `fn(ctx) -> int` (>0 true, <0 false; a failed comparison is
ERROR, false both ways). Control flow is three flags on the context, checked after each statement of a block:
`exit` (exit/drop, or any action returning 0: the whole script stops), `returning` (leave the current route),
`breaking` (leave the switch/loop). No tree is walked and nothing is parsed per message.

OpenSIPS semantics kept here (opensips-core.md §2.3, §3): a 0 return code from any function or route stops
the script, even inside a condition; `return` leaves one route; string comparisons and `switch` string cases
are case-insensitive; `=~` is a case-insensitive POSIX extended regex; the arithmetic and bitwise operators
are left-associative on one level each (the parser already built that shape); `$var`s live as long as the
process.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Callable

from opensips_py.config import ast
from opensips_py.config.diagnostics import Diagnostic, Location, Severity
from opensips_py.config.pvar import PVarSyntaxError, parse_format
from opensips_py.modules.exports import ArgKind, Function, RouteType
from opensips_py.script import async_engine
from opensips_py.script.context import ERROR, FALSE, TRUE, MsgContext, ScriptError, Value
from opensips_py.script.pvars import ALL, CORE_HANDLERS, Handler, PVRef, UnknownPseudoVariable, compile_pvar
from opensips_py.script.regex import posix_regex
from opensips_py.sip.errors import SIPParseError

Stmt = Callable[[MsgContext], None]
Expr = Callable[[MsgContext], Value]
Cond = Callable[[MsgContext], int]

ROUTE_TYPE_OF_KIND = {
    "route": RouteType.REQUEST, "branch_route": RouteType.BRANCH, "failure_route": RouteType.FAILURE,
    "onreply_route": RouteType.ONREPLY, "local_route": RouteType.LOCAL, "startup_route": RouteType.STARTUP,
    "timer_route": RouteType.TIMER, "event_route": RouteType.EVENT, "error_route": RouteType.ERROR,
}
MAX_ROUTE_DEPTH = 100


class StartupError(Exception):
    """The script cannot run: every problem found while compiling, with positions."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        lines = [f"{d.location.file}:{d.location.line}:{d.location.column}: {d.message}" for d in diagnostics]
        super().__init__("\n".join(lines))


# ------------------------------------------------------------------------------------------------ bindings

class Bindings:
    """What the compiler needs from the outside world: pseudo-variable handlers, transformations, and the
    implementation of each script function (core or module), all resolved once at start-up."""

    def __init__(self, modules: dict[str, object] | None = None, core_functions: object | None = None,
                 transforms: dict[str, Callable] | None = None, max_while_loops: int = 10000):
        self.modules = modules or {}  # module name -> ModuleBase instance
        self.core_functions = core_functions
        self.transforms = transforms
        self.max_while_loops = max_while_loops
        self._pv_handlers: dict[str, Handler] = dict(CORE_HANDLERS)
        for instance in self.modules.values():
            self._pv_handlers.update(getattr(instance, "pvars", lambda: {})())

    def pv_handler(self, name: str) -> Handler | None:
        return self._pv_handlers.get(name)

    def transform(self, name: str) -> Callable | None:
        if self.transforms is None:
            from opensips_py.script import transforms as registry
            self.transforms = registry.TRANSFORMS
        return self.transforms.get(name.lower())

    def function(self, name: str, argc: int) -> tuple[Function, Callable] | tuple[Function, None] | None:
        """(exports entry, implementation or None) for a call with argc arguments; None if nobody exports it."""
        from opensips_py.config.check.exports_index import exports_index
        offers = exports_index().functions.get(name, [])
        found = None
        # the current signature first when versions overlap in arity (is_from_gw's 4th argument is a
        # partition before 3.4, the carrier attrs variable since): the runtime implements the newest behaviour
        def newest_first(offer) -> bool:
            return getattr(getattr(offer.item, "versions", None), "until", None) is not None

        for offer in sorted(offers, key=newest_first):
            instance = self.core_functions if offer.module == "core" else self.modules.get(offer.module)
            if instance is None:
                continue
            entry = offer.item
            if not entry.min_args <= argc <= entry.max_args:
                found = found or (entry, None)
                continue
            implementation = instance.function(name) if hasattr(instance, "function") else None
            return entry, implementation
        return found


# ------------------------------------------------------------------------------------------------ values

def truth(value: Value) -> int:
    """A bare value as a condition: null, "" and 0 are false; "0" is true (a non-empty string)."""
    if value is None:
        return FALSE
    if isinstance(value, int):
        return TRUE if value != 0 else FALSE
    if isinstance(value, list):
        return TRUE if value else FALSE
    return TRUE if value != "" else FALSE


def as_text(value: Value) -> str:
    if value is None:
        return "<null>"
    return str(value)


def _ci(text: str) -> str:
    return text.casefold()


def leaves_loop(ctx: MsgContext) -> bool:
    """After one pass of a loop or switch body: True when the body asked to leave it. A `break` is consumed
    here; exit and return keep unwinding."""
    if ctx.breaking:
        ctx.breaking = False
        return True
    return ctx.exit or ctx.returning


def compare(op: str, left: Value, right: Value, right_is_literal_int: bool = False) -> int:
    """OpenSIPS's comp_scriptvar(): TRUE, FALSE or ERROR."""
    if left is None or right is None:
        if op == "==":
            return TRUE if left is None and right is None else FALSE
        if op == "!=":
            return FALSE if left is None and right is None else TRUE
        return ERROR
    if isinstance(right, int) and not isinstance(right, bool):
        if not isinstance(left, int):
            if right_is_literal_int:
                return ERROR  # a string compared with an integer literal
            try:
                left = int(left)
            except ValueError:
                return ERROR
        return _ordered(op, left, right)
    if isinstance(left, int):
        left = str(left)
    right = str(right)
    if op in ("==", "!="):
        equal = _ci(left) == _ci(right)
        return TRUE if equal == (op == "==") else FALSE
    a, b = _ci(left), _ci(right)
    if a == b:
        a, b = len(left), len(right)
    return _ordered(op, a, b)


def _ordered(op: str, a, b) -> int:
    result = {"==": a == b, "!=": a != b, ">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}.get(op)
    if result is None:
        return ERROR
    return TRUE if result else FALSE


def match_regex(pattern: str) -> re.Pattern:
    """The regex of `=~`/`!~`: POSIX extended, case-insensitive, not newline-sensitive (route.c)."""
    return posix_regex(pattern, icase=True, newline=False)


def ip_matches(value: Value, net: str) -> bool:
    try:
        address = ipaddress.ip_address(str(value).strip("[]"))
        if "/" in net:
            host, _, mask = net.partition("/")
            if "." in mask:  # 10.0.0.0/255.0.0.0
                network = ipaddress.ip_network(f"{host}/{mask}", strict=False)
            else:
                network = ipaddress.ip_network(f"{host.strip('[]')}/{mask}", strict=False)
            return address in network
        return address == ipaddress.ip_address(net.strip("[]"))
    except ValueError:
        return False


# ------------------------------------------------------------------------------------------------ compiler

@dataclass
class CompiledRoute:
    kind: str
    name: str | None
    body: Stmt
    dialect: str | None = None
    interval: int | None = None


@dataclass
class CompiledScript:
    """The whole script, ready to run. `run(kind, name, ctx)` executes one top-level route."""

    routes: dict[tuple[str, str | None], CompiledRoute] = field(default_factory=dict)

    def route(self, kind: str, name: str | None = None) -> CompiledRoute | None:
        if kind == "route" and name == "0":
            name = None
        return self.routes.get((kind, name))

    def run(self, kind: str, name: str | None, ctx: MsgContext) -> int:
        """Run a top-level route; returns the final return code (0 when the script was stopped)."""
        route = self.route(kind, name)
        if route is None:
            return 1
        ctx.route_stack.append(f"{kind}[{name}]" if name is not None else kind)
        try:
            route.body(ctx)
        finally:
            ctx.route_stack.pop()
        ctx.returning = False
        ctx.breaking = False
        return 0 if ctx.exit else ctx.retcode


class Compiler:
    def __init__(self, config: ast.Config, bindings: Bindings):
        self.config = config
        self.bindings = bindings
        self.errors: list[Diagnostic] = []
        self.script = CompiledScript()
        self._route_nodes: dict[tuple[str, str | None], ast.Route] = {}
        for route in config.routes():
            key = (route.kind, None if route.kind == "route" and route.name in (None, "0") else route.name)
            self._route_nodes[key] = route

    # ---------------------------------------------------------------------------------- entry
    def compile(self) -> CompiledScript:
        for key, node in self._route_nodes.items():
            self.script.routes[key] = CompiledRoute(node.kind, key[1], self._noop, node.dialect, node.interval)
        for key, node in self._route_nodes.items():
            self.script.routes[key].body = self.block(node.body.stmts)
        if self.errors:
            raise StartupError(self.errors)
        return self.script

    @staticmethod
    def _noop(ctx: MsgContext) -> None:
        return None

    def error(self, pos: ast.Pos, message: str, code: str = "E301") -> None:
        self.errors.append(Diagnostic(code, Severity.ERROR,
                                      Location(pos.file, pos.line, pos.column, pos.end_line, pos.end_column),
                                      message))

    # ---------------------------------------------------------------------------------- statements
    def block(self, stmts: list) -> Stmt:
        compiled = [s for s in (self.stmt(stmt) for stmt in stmts) if s is not None]
        if not compiled:
            return self._noop
        if len(compiled) == 1:
            return compiled[0]
        steps = tuple(compiled)

        def run_block(ctx: MsgContext) -> None:
            for step in steps:
                step(ctx)
                if ctx.exit or ctx.returning or ctx.breaking:
                    return

        return run_block

    def stmt(self, node) -> Stmt | None:
        method = getattr(self, "stmt_" + type(node).__name__)
        return method(node)

    def stmt_Block(self, node: ast.Block) -> Stmt:
        return self.block(node.stmts)

    def stmt_Nop(self, node) -> None:
        return None

    def stmt_CallStmt(self, node: ast.CallStmt) -> Stmt:
        call = self.call(node.call)

        def run_call(ctx: MsgContext) -> None:
            call(ctx)

        return run_call

    def stmt_AssignStmt(self, node: ast.AssignStmt) -> Stmt:
        assign = self.assign(node.assign)

        def run_assign(ctx: MsgContext) -> None:
            assign(ctx)

        return run_assign

    def stmt_If(self, node: ast.If) -> Stmt:
        cond = self.cond(node.cond)
        then = self.stmt(node.then) or self._noop
        other = (self.stmt(node.else_) or self._noop) if node.else_ is not None else None

        def run_if(ctx: MsgContext) -> None:
            result = cond(ctx)
            if ctx.exit:
                return
            if result > 0:
                then(ctx)
            elif other is not None:
                other(ctx)

        return run_if

    def stmt_While(self, node: ast.While) -> Stmt:
        cond = self.cond(node.cond)
        body = self.stmt(node.body) or self._noop
        limit = self.bindings.max_while_loops
        pos = node.pos

        def run_while(ctx: MsgContext) -> None:
            for _ in range(limit):
                if cond(ctx) <= 0 or ctx.exit:
                    return
                body(ctx)
                if leaves_loop(ctx):
                    return
            ctx.log(-1, f"while loop at {pos.file}:{pos.line} ran {limit} times (max_while_loops): leaving it")

        return run_while

    def stmt_ForEach(self, node: ast.ForEach) -> Stmt:
        var = self.pvar(node.var)
        source = self.pvar(node.source)
        body = self.stmt(node.body) or self._noop
        all_values = node.source.index == "*"
        pos = node.pos

        def run_for(ctx: MsgContext) -> None:
            if var is None or source is None:
                return
            if not all_values:
                ctx.log(-1, f"for-each at {pos.file}:{pos.line} needs a [*] index: loop skipped")
                return
            values = source.get(ctx)
            for value in values if isinstance(values, list) else []:
                var.set(ctx, value, ":=")
                body(ctx)
                if leaves_loop(ctx):
                    return

        return run_for

    def stmt_Switch(self, node: ast.Switch) -> Stmt:
        subject = self.pvar(node.subject)
        cases = []
        default_at = None
        for i, case in enumerate(node.cases):
            if case.value is None:
                default_at = i
            cases.append((case.value.value if case.value is not None else None, self.block(case.body)))
        entries = tuple(cases)

        def matches(label, value) -> bool:
            if isinstance(label, int):
                return isinstance(value, int) and value == label
            return isinstance(value, str) and _ci(value) == _ci(label)

        def run_switch(ctx: MsgContext) -> None:
            value = subject.get(ctx) if subject is not None else None
            start = None
            for i, (label, _) in enumerate(entries):
                if label is not None and matches(label, value):
                    start = i
                    break
            if start is None:
                start = default_at
            if start is None:
                return
            for _, body in entries[start:]:  # fall through until break
                body(ctx)
                if leaves_loop(ctx):
                    return

        return run_switch

    def stmt_Return(self, node: ast.Return) -> Stmt:
        value = self.expr(node.value) if node.value is not None else None
        extra = tuple(self.expr(v) if v is not None else (lambda ctx: None) for v in node.values)

        def run_return(ctx: MsgContext) -> None:
            if value is None:
                code = 1
            else:
                result = value(ctx)
                if result is None:
                    code = -1
                elif isinstance(result, int):
                    code = result
                else:
                    code = 1
            ctx.return_values = [v(ctx) for v in extra]
            ctx.retcode = code
            ctx.returning = True  # a 0 stops the script once it reaches the caller (route_call / _finish)

        return run_return

    def stmt_Exit(self, node) -> Stmt:
        def run_exit(ctx: MsgContext) -> None:
            ctx.exit = True

        return run_exit

    def stmt_Drop(self, node) -> Stmt:
        def run_drop(ctx: MsgContext) -> None:
            ctx.exit = True
            ctx.drop = True

        return run_drop

    def stmt_Break(self, node) -> Stmt:
        def run_break(ctx: MsgContext) -> None:
            ctx.breaking = True

        return run_break

    def stmt_BareWord(self, node: ast.BareWord) -> None:
        self.error(node.pos, f"bare word {node.name}: command calls need '()'", "E305")
        return None

    # ---------------------------------------------------------------------------------- assignment
    def assign(self, node: ast.Assign) -> Callable[[MsgContext], int]:
        target = self.pvar(node.target)
        if target is None:
            return lambda ctx: -1
        if not target.writable:
            self.error(node.target.pos, f"${node.target.name} is read-only", "E411")
            return lambda ctx: -1
        value = self.expr(node.value)
        op = node.op
        pos = node.pos

        if op in ("=", ":="):
            def run_set(ctx: MsgContext) -> int:
                result = value(ctx)
                if ctx.exit:
                    return 0
                if isinstance(result, list):  # $(hdr(X)[*]) and friends: all values, comma-joined
                    result = ",".join(as_text(v) for v in result) if result else None
                try:
                    target.set(ctx, result, op)
                except ScriptError as exc:
                    ctx.log(-1, f"{pos.file}:{pos.line}: {exc}")
                    ctx.retcode = -1
                    return -1
                ctx.retcode = 1
                return 1

            return run_set

        arithmetic = op[0]

        def run_compound(ctx: MsgContext) -> int:
            current = target.get(ctx)
            operand = value(ctx)
            try:
                result = binary(arithmetic, current, operand)
            except ScriptError as exc:
                ctx.log(1, f"{pos.file}:{pos.line}: {exc}")
                ctx.retcode = -1
                return -1
            try:
                target.set(ctx, result, "=")
            except ScriptError as exc:
                ctx.log(-1, f"{pos.file}:{pos.line}: {exc}")
                ctx.retcode = -1
                return -1
            ctx.retcode = 1
            return 1

        return run_compound

    # ---------------------------------------------------------------------------------- conditions
    def cond(self, node) -> Cond:
        kind = type(node).__name__
        if kind == "Logic":
            left, right = self.cond(node.left), self.cond(node.right)
            if node.op == "&&":
                def run_and(ctx: MsgContext) -> int:
                    first = left(ctx)
                    if first <= 0 or ctx.exit:
                        return first if first != 0 else 0
                    return right(ctx)

                return run_and

            def run_or(ctx: MsgContext) -> int:
                first = left(ctx)
                if first > 0 or ctx.exit:
                    return first
                return right(ctx)

            return run_or
        if kind == "Not":
            inner = self.cond(node.operand)

            def run_not(ctx: MsgContext) -> int:
                result = inner(ctx)
                if result == ERROR or result == 0:
                    return result
                return FALSE if result > 0 else TRUE

            return run_not
        if kind == "Test":
            expr = self.expr(node.expr)
            return lambda ctx: truth(expr(ctx))
        if kind == "Truth":
            expr = self.expr(node.value)
            return lambda ctx: truth(expr(ctx))
        if kind == "Compare":
            return self.compare(node)
        if kind == "Assign":
            assign = self.assign(node)
            return assign
        # a call (function, route, async…) as a condition: its return code; any negative code is false (a
        # function's -2, e.g. save(), must not read as the ERROR of a failed comparison, false both ways)
        call = self.call(node)
        return lambda ctx: FALSE if isinstance(rc := call(ctx), int) and rc < 0 else rc

    def compare(self, node: ast.Compare) -> Cond:
        left = self.expr(node.left)
        op = node.op
        right_node = node.right
        pos = node.pos
        if op in ("=~", "!~"):
            if isinstance(right_node, ast.Str):
                try:
                    pattern = match_regex(right_node.value)
                except re.error as exc:
                    self.error(right_node.pos, f"bad regular expression: {exc}", "E408")
                    return lambda ctx: ERROR
                dynamic = None
            else:
                pattern = None
                dynamic = self.expr(right_node)

            def run_match(ctx: MsgContext) -> int:
                value = left(ctx)
                if value is None:
                    return FALSE
                regex = pattern
                if regex is None:
                    source = dynamic(ctx)
                    if source is None:
                        return ERROR
                    try:
                        regex = match_regex(str(source))
                    except re.error:
                        return ERROR
                found = regex.search(str(value)) is not None
                return TRUE if found == (op == "=~") else FALSE

            return run_match
        if isinstance(right_node, ast.IPLiteral):
            net = right_node.text

            def run_ip(ctx: MsgContext) -> int:
                value = left(ctx)
                if value is None:
                    return FALSE if op == "==" else TRUE
                found = ip_matches(value, net)
                return TRUE if found == (op == "==") else FALSE

            return run_ip
        right = self.expr(right_node)
        literal_int = isinstance(right_node, ast.Int)

        def run_compare(ctx: MsgContext) -> int:
            result = compare(op, left(ctx), right(ctx), literal_int)
            if result == ERROR:
                ctx.log(1, f"{pos.file}:{pos.line}: comparison of incompatible values")
            return result

        return run_compare

    # ---------------------------------------------------------------------------------- expressions
    def expr(self, node) -> Expr:
        kind = type(node).__name__
        if kind == "Int":
            value = node.value
            return lambda ctx: value
        if kind == "Str":
            return self.format(node)
        if kind == "FoldedStr":
            return self.format(ast.Str(node.value, pos=node.pos))
        if kind == "Null":
            return lambda ctx: None
        if kind == "IPLiteral":
            text = node.text
            return lambda ctx: text
        if kind == "Word":
            name = node.name
            return lambda ctx: name
        if kind == "PVar":
            ref = self.pvar(node)
            if ref is None:
                return lambda ctx: None

            def run_pvar(ctx: MsgContext) -> Value:
                return ref.get(ctx)

            return run_pvar
        if kind == "BinOp":
            left, right = self.expr(node.left), self.expr(node.right)
            op = node.op
            pos = node.pos
            literal_int = isinstance(node.right, ast.Int)

            def run_binop(ctx: MsgContext) -> Value:
                try:
                    return binary(op, left(ctx), right(ctx), literal_int)
                except ScriptError as exc:
                    ctx.log(1, f"{pos.file}:{pos.line}: {exc}")
                    return None

            return run_binop
        if kind == "BitNot":
            inner = self.expr(node.operand)

            def run_bitnot(ctx: MsgContext) -> Value:
                value = inner(ctx)
                return ~value if isinstance(value, int) else None

            return run_bitnot
        if kind == "Compare":
            cond = self.compare(node)
            return lambda ctx: 1 if cond(ctx) > 0 else 0
        if kind == "Concat":
            parts = tuple(self.expr(p) for p in node.parts)
            return lambda ctx: "".join("" if (v := p(ctx)) is None else str(v) for p in parts)
        # calls: their return code
        return self.call(node)

    def format(self, node: ast.Str) -> Expr:
        """A string literal as a format: its $pvs expanded per call ("$$" is "$")."""
        text = node.value
        if "$" not in text:
            return lambda ctx: text
        try:
            parts = parse_format(text, node.pos)
        except PVarSyntaxError as exc:
            self.error(node.pos, f"bad pseudo-variable in string: {exc}", "E501")
            return lambda ctx: text
        pieces: list[str | PVRef] = []
        for part in parts:
            if part.pvar is not None:
                ref = self.pvar(part.pvar, at=node.pos)
                pieces.append(ref if ref is not None else "")
            else:
                pieces.append(part.text)
        if all(isinstance(p, str) for p in pieces):
            joined = "".join(pieces)
            return lambda ctx: joined
        frozen = tuple(pieces)

        def run_format(ctx: MsgContext) -> str:
            out = []
            for piece in frozen:
                if isinstance(piece, str):
                    out.append(piece)
                else:
                    value = piece.get(ctx)
                    if isinstance(value, list):
                        value = ",".join(as_text(v) for v in value)
                    out.append(as_text(value))
            return "".join(out)

        return run_format

    def pvar(self, node: ast.PVar, at: ast.Pos | None = None) -> PVRef | None:
        try:
            return compile_pvar(node, self.bindings.pv_handler, self.transformation)
        except UnknownPseudoVariable as exc:
            self.error(at or node.pos, f"pseudo-variable ${exc.args[0]} is not implemented in opensips-py yet "
                                       "(or its module is not loaded)", "E501")
            return None

    def transformation(self, node: ast.Transformation):
        function = self.bindings.transform(node.name)
        if function is None:
            self.error(node.pos, f"transformation {{{node.name}}} is not implemented in opensips-py yet", "E502")
            return lambda ctx, value: value
        args = []
        for arg in node.args:
            if isinstance(arg, ast.PVar):
                ref = self.pvar(arg)
                args.append(ref.get if ref is not None else (lambda ctx: None))
            else:
                args.append(arg)
        frozen = tuple(args)

        def run_transform(ctx: MsgContext, value: Value) -> Value:
            values = [a(ctx) if callable(a) else a for a in frozen]
            try:
                return function(ctx, value, values)
            except (ValueError, TypeError, IndexError, ScriptError):
                return None

        return run_transform

    # ---------------------------------------------------------------------------------- calls
    def call(self, node) -> Callable[[MsgContext], int]:
        kind = type(node).__name__
        if kind == "RouteCall":
            return self.route_call(node)
        if kind == "Call":
            return self.function_call(node)
        if kind == "AssertCall":
            return self.assert_call(node)
        if kind == "AsyncCall":
            # opensips_py/script/async_engine.py: the function's async form suspends the request and the
            # resume route runs later, from the core's timer callback, on the saved context
            sync_call = self.function_call(node.call)
            start = self.function_call(node.call, form="async")
            resume = self.resume_body(node.resume_route, node.pos)
            return lambda ctx: async_engine.run_async(ctx, start, sync_call, resume)
        if kind == "LaunchCall":
            sync_call = self.function_call(node.call)
            start = self.function_call(node.call, form="async")
            report = self.resume_body(node.report_route, node.pos) if node.report_route else None
            text = self.expr(node.text) if node.text is not None else None
            return lambda ctx: async_engine.run_launch(ctx, start, sync_call, report, text)
        raise TypeError(kind)

    def assert_call(self, node: ast.AssertCall) -> Callable[[MsgContext], int]:
        cond = self.cond(node.cond)
        text = node.text.value if node.text is not None else ""
        pos = node.pos

        def run_assert(ctx: MsgContext) -> int:
            if cond(ctx) <= 0:
                ctx.log(-1, f"assertion failed at {pos.file}:{pos.line}: {text}")
                ctx.retcode = -1
                return -1
            ctx.retcode = 1
            return 1

        return run_assert

    def route_body(self, name: str, pos: ast.Pos) -> Callable[[MsgContext, list], int]:
        """A callable running route[name] as a sub-route (with parameters); resolved lazily so routes may
        call routes defined later (and themselves)."""
        key = ("route", name)
        if key not in self.script.routes:
            self.error(pos, f"called route [{name}] is not defined", "E401")
            return lambda ctx, args: -1
        script = self.script

        def run_sub(ctx: MsgContext, args: list) -> int:
            route = script.routes[key]
            if len(ctx.route_stack) >= MAX_ROUTE_DEPTH:
                ctx.log(-1, f"route [{name}]: too many nested routes ({MAX_ROUTE_DEPTH})")
                ctx.retcode = -1
                return -1
            saved_params = ctx.route_params
            ctx.route_params = args
            ctx.route_stack.append(f"route[{name}]")
            ctx.retcode = 1
            try:
                route.body(ctx)
            finally:
                ctx.route_stack.pop()
                ctx.route_params = saved_params
            ctx.returning = False
            ctx.breaking = False
            if ctx.exit:
                return 0
            code = ctx.retcode
            if route.dialect == "function" and code == 0:
                code = -1  # guide dialect: a function's return 0 is "false", not "stop the script"
            return code

        return run_sub

    def resume_body(self, name: str, pos: ast.Pos) -> Callable[[MsgContext, list], int]:
        """route[name] as the resume route of async() or the report route of launch(): a top route that
        starts with $rc already set (the async function's return code)."""
        key = ("route", name)
        if key not in self.script.routes:
            self.error(pos, f"called route [{name}] is not defined", "E401")
            return lambda ctx, args: -1
        script = self.script

        def run_resume(ctx: MsgContext, args: list) -> int:
            route = script.routes[key]
            ctx.route_params = args
            ctx.route_stack.append(f"route[{name}]")
            try:
                route.body(ctx)
            finally:
                ctx.route_stack.pop()
            ctx.returning = False
            ctx.breaking = False
            return 0 if ctx.exit else ctx.retcode

        return run_resume

    def route_call(self, node: ast.RouteCall) -> Callable[[MsgContext], int]:
        args = tuple(self.expr(a) if a is not None else (lambda ctx: None) for a in node.args)
        if isinstance(node.target, ast.PVar) or "$" in node.target:
            target = self.pvar(node.target) if isinstance(node.target, ast.PVar) else \
                self.format(ast.Str(node.target, pos=node.pos))
            script = self.script
            getter = target.get if isinstance(target, PVRef) else target

            def run_dynamic(ctx: MsgContext) -> int:
                name = getter(ctx) if getter is not None else None
                if name is None or ("route", str(name)) not in script.routes:
                    ctx.log(-1, f"route({name}): no such route")
                    ctx.retcode = -1
                    return -1
                body = self._dynamic_body(str(name))
                return self._finish(ctx, body(ctx, [a(ctx) for a in args]))

            return run_dynamic
        body = self.route_body(node.target, node.pos)

        def run_route(ctx: MsgContext) -> int:
            return self._finish(ctx, body(ctx, [a(ctx) for a in args]))

        return run_route

    def _dynamic_body(self, name: str):
        return self.route_body(name, ast.NOPOS)

    @staticmethod
    def _finish(ctx: MsgContext, code: int) -> int:
        ctx.retcode = code
        if code == 0:
            ctx.exit = True
        return code

    def function_call(self, node: ast.Call, form: str = "sync"):
        """A module or core function call: `ctx -> rc`. With form="async", the call of the function's
        asynchronous form (`async_<name>` of its module: returns an int or an async_engine.Pending), or None
        when it has none (async()/launch() then run the synchronous form)."""
        name = node.name
        if form == "async":
            return self._async_form_call(node)
        if name in ("xlog", "xdbg", "log", "error"):
            return self.log_call(node)
        sub = self._route_nodes.get(("route", name))
        if sub is not None and sub.dialect == "function":
            body = self.route_body(name, node.pos)
            args = tuple(self.expr(a) if a is not None else (lambda ctx: None) for a in node.args)
            return lambda ctx: self._finish(ctx, body(ctx, [a(ctx) for a in args]))
        bound = self.bindings.function(name, len(node.args))
        if bound is None:
            self.error(node.pos, f"unknown function {name}(): no loaded module exports it", "E301")
            return lambda ctx: -1
        entry, implementation = bound
        if implementation is None:
            if not entry.min_args <= len(node.args) <= entry.max_args:
                self.error(node.pos, f"{name}() takes {entry.min_args}–{entry.max_args} arguments, got "
                                     f"{len(node.args)}", "E302")
            else:
                self.error(node.pos, f"{name}() is not implemented in opensips-py yet", "E301")
            return lambda ctx: -1
        converters = tuple(self.argument(arg, spec, node)
                           for arg, spec in zip(list(node.args) + [None] * (len(entry.args) - len(node.args)),
                                                entry.args))
        impl = implementation
        pos = node.pos

        def run_function(ctx: MsgContext) -> int:
            try:
                values = [convert(ctx) for convert in converters]
                rc = impl(ctx, *values)
            except ScriptError as exc:
                ctx.log(-1, f"{pos.file}:{pos.line}: {name}(): {exc}")
                rc = -1
            except SIPParseError as exc:  # a header the function needed is malformed: it fails, as in OpenSIPS
                ctx.log(-1, f"{pos.file}:{pos.line}: {name}(): bad message: {exc}")
                rc = -1
            if rc is None:
                rc = 1
            ctx.retcode = rc
            if rc == 0:
                ctx.exit = True
            return rc

        return run_function

    def _async_form_call(self, node: ast.Call):
        name = node.name
        if self._route_nodes.get(("route", name)) is not None:
            return None
        bound = self.bindings.function(name, len(node.args))
        if bound is None or bound[1] is None:
            return None  # reported by the synchronous form's compilation
        entry, implementation = bound
        owner = getattr(implementation, "__self__", None)
        lookup = getattr(owner, "async_function", None)
        impl = lookup(name) if callable(lookup) else None
        if impl is None:
            return None
        mark = len(self.errors)  # the synchronous form reported any bad argument already
        converters = tuple(self.argument(arg, spec, node)
                           for arg, spec in zip(list(node.args) + [None] * (len(entry.args) - len(node.args)),
                                                entry.args))
        del self.errors[mark:]
        pos = node.pos

        def start_async(ctx: MsgContext):
            try:
                return impl(ctx, *[convert(ctx) for convert in converters])
            except (ScriptError, SIPParseError) as exc:
                ctx.log(-1, f"{pos.file}:{pos.line}: {name}(): {exc}")
                return -1

        return start_async

    def argument(self, arg, spec, node: ast.Call) -> Callable[[MsgContext], object]:
        """A converter turning one argument into what the implementation expects (by its exports kind)."""
        if arg is None:
            return lambda ctx: None
        kind = spec.kind
        if kind == ArgKind.VAR:
            if isinstance(arg, ast.Str) and arg.value.startswith("$"):
                from opensips_py.config.pvar import parse_pvar_token
                try:
                    arg = parse_pvar_token(arg.value, arg.pos)
                except PVarSyntaxError:
                    pass
            if not isinstance(arg, ast.PVar):
                self.error(node.pos, f"argument {spec.name} of {node.name}() must be a variable", "E303")
                return lambda ctx: None
            ref = self.pvar(arg)
            return lambda ctx: ref
        if kind == ArgKind.INT:
            if isinstance(arg, ast.Int):
                value = arg.value
                return lambda ctx: value
            if isinstance(arg, ast.Str) and arg.value.strip().lstrip("-").isdigit():
                value = int(arg.value)  # the guide dialect's quoted numbers: accepted (check warns)
                return lambda ctx: value
            getter = self.expr(arg)

            def as_int(ctx: MsgContext):
                value = getter(ctx)
                if isinstance(value, int):
                    return value
                try:
                    return int(str(value).strip())
                except (TypeError, ValueError):
                    raise ScriptError(f"argument {spec.name} is not an integer: {value!r}")

            return as_int
        if kind == ArgKind.REGEX:
            # mod_fix.c compiles REGEX parameters with REG_EXTENDED | REG_ICASE | REG_NEWLINE
            if isinstance(arg, ast.Str):
                try:
                    pattern = posix_regex(arg.value)
                except re.error as exc:
                    self.error(arg.pos, f"bad regular expression {arg.value!r}: {exc}", "E303")
                    return lambda ctx: None
                return lambda ctx: pattern
            getter = self.expr(arg)

            def dynamic_regex(ctx: MsgContext):
                try:
                    return posix_regex(str(getter(ctx)))
                except re.error as exc:
                    raise ScriptError(f"bad regular expression: {exc}")

            return dynamic_regex
        if spec.no_expand and isinstance(arg, (ast.Str, ast.FoldedStr)):
            value = arg.value
            return lambda ctx: value
        if kind in (ArgKind.FLAG, ArgKind.ROUTE) or spec.static:
            if isinstance(arg, (ast.Str, ast.FoldedStr)):
                value = arg.value
                return lambda ctx: value
            if isinstance(arg, ast.Int):
                text = str(arg.value)
                return lambda ctx: text
        getter = self.expr(arg)
        if kind == ArgKind.ANY:
            return getter

        def as_str(ctx: MsgContext):
            value = getter(ctx)
            return None if value is None else str(value)

        return as_str

    def log_call(self, node: ast.Call) -> Callable[[MsgContext], int]:
        from opensips_py.modules.core import XLOG_LEVELS
        args = node.args
        name = node.name
        level_of = None
        if name == "xlog" and len(args) == 2:
            level_arg = args[0]
            if isinstance(level_arg, ast.Str):
                level = _xlog_level(level_arg.value)
                level_of = lambda ctx: level  # noqa: E731
            else:
                getter = self.expr(level_arg)
                level_of = lambda ctx: _xlog_level(str(getter(ctx)))  # noqa: E731
            text = self.expr(args[1])
        elif name == "log" and len(args) == 2:
            level = args[0].value if isinstance(args[0], ast.Int) else 4
            level_of = lambda ctx: level  # noqa: E731
            text = self.expr(args[1])
        elif args:
            text = self.expr(args[-1])
        else:
            text = lambda ctx: ""  # noqa: E731
        default = {"xlog": XLOG_LEVELS["L_NOTICE"], "xdbg": XLOG_LEVELS["L_DBG"], "log": 4, "error": -1}[name]

        def run_log(ctx: MsgContext) -> int:
            level = level_of(ctx) if level_of is not None else default
            if level <= ctx.process.log_level:
                ctx.log(level, str(text(ctx)))
            ctx.retcode = 1
            return 1

        return run_log


def _xlog_level(text: str) -> int:
    """OpenSIPS decides an xlog level by the third character of "L_XXX"."""
    from opensips_py.modules.core import XLOG_LEVELS
    if text in XLOG_LEVELS:
        return XLOG_LEVELS[text]
    by_letter = {name[2]: value for name, value in XLOG_LEVELS.items()}
    if len(text) >= 3:
        return by_letter.get(text[2].upper(), XLOG_LEVELS["L_NOTICE"])
    return XLOG_LEVELS["L_NOTICE"]


def binary(op: str, left: Value, right: Value, right_is_literal_int: bool = False) -> Value:
    """Arithmetic, bitwise and string `+`, with OpenSIPS's typing rules (opensips-core.md §3.3): a string
    plus a $var holding an int concatenates (script ints carry a string form), a string plus an integer
    literal is an error."""
    if isinstance(left, str) and op == "+":
        if right is None:
            return left
        if right_is_literal_int:
            raise ScriptError("a string plus an integer literal (write the number inside the string)")
        return left + str(right)
    if not isinstance(left, int) or not isinstance(right, int):
        if isinstance(left, str) and isinstance(right, str) and op in "&|^" and len(left) == len(right):
            combine = {"&": lambda a, b: a & b, "|": lambda a, b: a | b, "^": lambda a, b: a ^ b}[op]
            return "".join(chr(combine(ord(a), ord(b))) for a, b in zip(left, right))
        raise ScriptError(f"unsupported operand type(s) for {op}: {type(left).__name__} and "
                          f"{type(right).__name__}")
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op in ("/", "%"):
        if right == 0:
            raise ScriptError("division by zero")
        quotient = abs(left) // abs(right) * (1 if (left >= 0) == (right >= 0) else -1)
        return quotient if op == "/" else left - right * quotient
    if op == "&":
        return left & right
    if op == "|":
        return left | right
    if op == "^":
        return left ^ right
    if op == "<<":
        return left << right
    if op == ">>":
        return left >> right
    raise ScriptError(f"unknown operator {op}")


def compile_script(config: ast.Config, bindings: Bindings) -> CompiledScript:
    """Compile every route of a config; raises StartupError listing every problem."""
    return Compiler(config, bindings).compile()


__all__ = ["Bindings", "CompiledScript", "Compiler", "StartupError", "compile_script", "truth", "compare",
           "binary", "ALL", "Function"]
