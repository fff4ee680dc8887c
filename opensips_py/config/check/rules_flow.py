"""Statement-level flow: W404 unreachable code, W405 $var read before set, E407 break placement, E408
comparisons, E411 assignment targets."""
from __future__ import annotations

from opensips_py.config import ast
from opensips_py.config.check.context import Context, span_edit, walk_nodes
from opensips_py.config.check.exports_index import exports_index
from opensips_py.config.check.rules_routes import is_top_level, route_label
from opensips_py.config.diagnostics import Fix
from opensips_py.config.printer import Printer
from opensips_py.config.pvar import PVarSyntaxError, parse_format
from opensips_py.modules.exports import ArgKind

_TERMINATORS = (ast.Exit, ast.Drop, ast.Return, ast.Break)
_SWAP = {"==": "==", "!=": "!=", ">": "<", "<": ">", ">=": "<=", "<=": ">="}


# ------------------------------------------------------------------------------------------------ W404, E407

def check_blocks(ctx: Context) -> None:
    for route in ctx.config.routes():
        _block(ctx, route.body.stmts, in_loop=False)


def _terminates(stmt) -> bool:
    if isinstance(stmt, _TERMINATORS):
        return True
    if isinstance(stmt, ast.Block):
        return any(_terminates(s) for s in stmt.stmts)
    if isinstance(stmt, ast.If) and stmt.else_ is not None:
        return _terminates(stmt.then) and _terminates(stmt.else_)
    return False


def _block(ctx: Context, stmts: list, in_loop: bool) -> None:
    for i, stmt in enumerate(stmts):
        _stmt(ctx, stmt, in_loop)
        if _terminates(stmt) and i + 1 < len(stmts):
            rest = [s for s in stmts[i + 1:] if not isinstance(s, ast.Nop)]
            if rest:
                ended = type(stmt).__name__.lower() if isinstance(stmt, _TERMINATORS) else "the statement above"
                ctx.report("W404", rest[0].pos, f"unreachable: this never runs (after {ended})")
            break


def _stmt(ctx: Context, stmt, in_loop: bool) -> None:
    if isinstance(stmt, ast.Break) and not in_loop:
        ctx.report("E407", stmt.pos, "break outside switch, while or for",
                   hint="use exit or return to leave a route")
    elif isinstance(stmt, ast.Block):
        _block(ctx, stmt.stmts, in_loop)
    elif isinstance(stmt, ast.If):
        _block(ctx, [stmt.then], in_loop)
        if stmt.else_ is not None:
            _block(ctx, [stmt.else_], in_loop)
    elif isinstance(stmt, (ast.While, ast.ForEach)):
        _block(ctx, [stmt.body], True)
    elif isinstance(stmt, ast.Switch):
        for case in stmt.cases:
            _block(ctx, case.body, True)


# ------------------------------------------------------------------------------------------------ E408, E411

def check_expressions(ctx: Context) -> None:
    for route in ctx.config.routes():
        for node in ctx.nodes_of(route):
            if isinstance(node, ast.Compare):
                _compare(ctx, node)
            elif isinstance(node, ast.Assign):
                _assign(ctx, node)


def _compare(ctx: Context, node: ast.Compare) -> None:
    if isinstance(node.left, ast.PVar):
        if node.op in ("=~", "!~") and isinstance(node.right, ast.Int):
            ctx.report("E408", node.right.pos, f"{node.op} matches a regular expression: the right side is a "
                       "string or a $variable")
        return
    fix = None
    if isinstance(node.right, ast.PVar) and node.op in _SWAP:
        printer = Printer()
        text = f"{printer.value(node.right)} {_SWAP[node.op]} {printer.value(node.left)}"
        fix = Fix("swap the operands", (span_edit(node.pos, text),))
    ctx.report("E408", node.pos, "the left side of a comparison must be a $variable",
               hint="swap the operands" if fix else "compare a $variable with a value; arithmetic goes in [ … ]",
               fix=fix)


def _assign(ctx: Context, node: ast.Assign) -> None:
    target = node.target
    if not target.name:
        return
    offers = exports_index().pvars.get(target.name, [])
    if offers and not any(o.item.writable for o in offers):
        ctx.report("E411", target.pos, f"${target.name} is read-only", hint="assign to a $var(…) or $avp(…)")
    elif target.transforms:
        ctx.report("E411", target.pos, "an assignment target cannot have transformations")


# ------------------------------------------------------------------------------------------------ W405

class _VarFlow:
    """Must-set analysis of $var names along every path of a top-level route, following route() calls.

    The state is the set of $var names assigned on every path so far (None: this point is unreachable).
    """

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.ever_set = self._ever_set()
        self._returns: list[list[set]] = []  # per sub-route call: the states at its `return`s

    def _ever_set(self) -> set[str]:
        names: set[str] = set()
        for node in self.ctx.all_nodes():
            if isinstance(node, ast.Call) and not exports_index().functions.get(node.name):
                names |= _vars_named_in(node)
            if isinstance(node, ast.Assign) and _var_name(node.target):
                names.add(_var_name(node.target))
            elif isinstance(node, ast.ForEach) and _var_name(node.var):
                names.add(_var_name(node.var))
            elif isinstance(node, ast.Call):
                names |= _output_vars(node)
        return names

    def run(self) -> None:
        for route in self.ctx.config.routes():
            if not is_top_level(route):
                continue
            if route.kind in ("branch_route", "failure_route", "onreply_route", "local_route"):
                # They run after the request route in the same message: only a $var set nowhere at all is
                # certainly stale there.
                for node in self.ctx.nodes_of(route):
                    if isinstance(node, ast.PVar) and _var_name(node) and _var_name(node) not in self.ever_set:
                        self._warn(node, route_label(route), never=True)
                continue
            self._stmts(route.body.stmts, set(), [route_label(route)], set())

    # statements --------------------------------------------------------------------------------------
    def _stmts(self, stmts: list, state, chain, active) -> set | None:
        for stmt in stmts:
            if state is None:
                return None
            state = self._stmt(stmt, state, chain, active)
        return state

    def _stmt(self, stmt, state: set, chain, active):
        if isinstance(stmt, ast.Block):
            return self._stmts(stmt.stmts, state, chain, active)
        if isinstance(stmt, ast.CallStmt):
            return self._expr(stmt.call, state, chain, active)
        if isinstance(stmt, ast.AssignStmt):
            return self._expr(stmt.assign, state, chain, active)
        if isinstance(stmt, ast.If):
            state = self._expr(stmt.cond, state, chain, active)
            if state is None:
                return None
            then = self._stmt(stmt.then, set(state), chain, active)
            other = self._stmt(stmt.else_, set(state), chain, active) if stmt.else_ is not None else state
            return _meet(then, other)
        if isinstance(stmt, ast.While):
            state = self._expr(stmt.cond, state, chain, active)
            if state is not None:
                self._stmt(stmt.body, set(state), chain, active)
            return state
        if isinstance(stmt, ast.ForEach):
            self._read(stmt.source, state, chain)
            inner = set(state)
            if _var_name(stmt.var):
                inner.add(_var_name(stmt.var))
            self._stmt(stmt.body, inner, chain, active)
            return state
        if isinstance(stmt, ast.Switch):
            self._read(stmt.subject, state, chain)
            result = None
            has_default = False
            for case in stmt.cases:
                has_default |= case.value is None
                out = self._stmts(case.body, set(state), chain, active)
                ends_in_break = case.body and isinstance(case.body[-1], ast.Break)
                result = _meet(result, out if out is not None or ends_in_break else None) if result is not None \
                    else out
            return _meet(result, state) if not has_default else (result if result is not None else state)
        if isinstance(stmt, ast.Return):
            for value in [stmt.value, *stmt.values]:
                if isinstance(value, ast.PVar):
                    self._read(value, state, chain)
            if self._returns:
                self._returns[-1].append(state)  # back to the caller with what holds here
            return None
        if isinstance(stmt, (ast.Exit, ast.Drop)):
            return None
        if isinstance(stmt, ast.Break):
            return state
        return state

    # expressions -------------------------------------------------------------------------------------
    def _expr(self, node, state: set, chain, active):
        if state is None:
            return None
        if isinstance(node, ast.Assign):
            state = self._expr(node.value, state, chain, active)
            if state is not None and _var_name(node.target):
                state = state | {_var_name(node.target)}
            return state
        if isinstance(node, ast.Logic):
            left = self._expr(node.left, state, chain, active)
            # the right side may not run: what it sets is not certain
            self._expr(node.right, set(left) if left is not None else set(state), chain, active)
            return left
        if isinstance(node, (ast.Not, ast.Test, ast.Truth)):
            inner = node.operand if isinstance(node, ast.Not) else (node.expr if isinstance(node, ast.Test)
                                                                     else node.value)
            return self._expr(inner, state, chain, active)
        if isinstance(node, (ast.Compare, ast.BinOp)):
            state = self._expr(node.left, state, chain, active)
            return self._expr(node.right, state, chain, active) if state is not None else None
        if isinstance(node, ast.BitNot):
            return self._expr(node.operand, state, chain, active)
        if isinstance(node, ast.PVar):
            self._read(node, state, chain)
            return state
        if isinstance(node, ast.Call):
            if not exports_index().functions.get(node.name) and self.ctx.route("route", node.name) is None:
                # a function we know nothing about may write any $var named in its arguments
                return state | _vars_named_in(node)
            outputs = _output_vars(node)
            output_slots = _output_slots(node)
            for i, arg in enumerate(node.args):
                if i in output_slots:
                    continue
                self._arg(arg, state, chain)
            sub = self.ctx.route("route", node.name)
            if sub is not None and sub.dialect == "function":
                state = self._call_route(sub, state, chain + [f"{node.name}()"], active)
            return state | outputs if state is not None else None
        if isinstance(node, ast.RouteCall):
            for arg in node.args:
                self._arg(arg, state, chain)
            if isinstance(node.target, str):
                sub = self.ctx.route("route", node.target)
                if sub is not None:
                    return self._call_route(sub, state, chain + [f"route({node.target})"], active)
            return state
        if isinstance(node, (ast.AsyncCall, ast.LaunchCall)):
            return self._expr(node.call, state, chain, active)
        if isinstance(node, ast.AssertCall):
            return self._expr(node.cond, state, chain, active)
        return state

    def _call_route(self, route: ast.Route, state: set, chain, active):
        key = route.name
        if key in active or len(chain) > 30:
            return state
        self._returns.append([])
        out = self._stmts(route.body.stmts, set(state), chain, active | {key})
        returns = self._returns.pop()
        # the caller continues from the end of the body and from every `return`
        result = out
        for returned in returns:
            result = _meet(result, returned)
        return result

    def _arg(self, arg, state: set, chain) -> None:
        if isinstance(arg, ast.PVar):
            self._read(arg, state, chain)
        elif isinstance(arg, ast.Str):
            self._read_format(arg, state, chain)
        elif isinstance(arg, ast.FoldedStr):
            for part in arg.parts:
                self._read_format(part, state, chain)
        elif isinstance(arg, ast.Concat):
            for part in arg.parts:
                self._arg(part, state, chain)

    def _read_format(self, string: ast.Str, state: set, chain) -> None:
        if "$var(" not in string.value:
            return
        try:
            parts = parse_format(string.value, string.pos)
        except PVarSyntaxError:
            return
        for part in parts:
            if part.pvar is not None:
                self._read(part.pvar, state, chain, at=string.pos)

    def _read(self, pvar: ast.PVar, state: set, chain, at: ast.Pos | None = None) -> None:
        name = _var_name(pvar)
        if name and name not in state:
            self._warn(pvar, " → ".join(chain), never=name not in self.ever_set, at=at)

    def _warn(self, pvar: ast.PVar, where: str, never: bool, at: ast.Pos | None = None) -> None:
        name = _var_name(pvar)
        if never:
            message = f"$var({name}) is read but never set anywhere"
        else:
            message = f"$var({name}) may be read before it is set (on a path through {where})"
        self.ctx.report("W405", at or pvar.pos, message,
                        hint="$var values persist between messages in a process: set it at the start of the "
                             "route (e.g. $var(" + name + ") = 0;)")


def _meet(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _var_name(pvar) -> str | None:
    if isinstance(pvar, ast.PVar) and pvar.name == "var" and isinstance(pvar.arg, str):
        return pvar.arg
    return None


def _output_slots(call: ast.Call) -> set[int]:
    """Argument positions that every form of the function uses as output variables."""
    slots: set[int] | None = None
    for offer in exports_index().functions.get(call.name, []):
        mine = {i for i, spec in enumerate(offer.item.args) if spec.kind == ArgKind.VAR}
        slots = mine if slots is None else slots & mine
    return slots or set()


def _output_vars(call: ast.Call) -> set[str]:
    """$var names a call writes (its VAR arguments)."""
    offers = exports_index().functions.get(call.name, [])
    names: set[str] = set()
    for offer in offers:
        for arg, spec in zip(call.args, offer.item.args):
            if spec.kind != ArgKind.VAR:
                continue
            if _var_name(arg):
                names.add(_var_name(arg))
            elif isinstance(arg, ast.Str) and arg.value.startswith("$var("):
                names.add(arg.value[5:].split(")", 1)[0])
    return names


def _vars_named_in(call: ast.Call) -> set[str]:
    names: set[str] = set()
    for node in walk_nodes(call.args):
        if _var_name(node):
            names.add(_var_name(node))
        elif isinstance(node, ast.Str) and "$var(" in node.value:
            try:
                names |= {_var_name(p.pvar) for p in parse_format(node.value) if p.pvar and _var_name(p.pvar)}
            except PVarSyntaxError:
                pass
    return names


def check_var_flow(ctx: Context) -> None:
    _VarFlow(ctx).run()
