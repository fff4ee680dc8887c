"""Pseudo-variables at run time: one handler per name, compiled references, indexes and transformations.

A handler implements one `$name` (core ones are registered here with @handler; modules return theirs from
`ModuleBase.pvars()`):

    get(ctx, arg, index) -> Value | list[Value]
        arg: the evaluated inner name ($hdr(Via) -> "Via"), or None
        index: None (no index: the handler's default, usually the first value), an int (0-based; negative
        counts from the end), or ALL ("[*]": return every value as a list)
    set(ctx, arg, index, value, op)   (writable variables only)
        op: "=" (for AVPs: push a new value), ":=" (replace all values), or APPEND ("[append]")

`compile_pvar()` turns an AST PVar into a `PVRef` whose `get(ctx)`/`set(ctx, value, op)` do everything per
message: evaluate a dynamic inner name or index, select the indexed value, run the transformations, pick the
<request>/<reply> context. Nothing is parsed per message.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from opensips_py.config import ast
from opensips_py.script.context import MsgContext, ScriptError, Value

ALL = "*"
APPEND = "append"


class PVHandler(Protocol):
    def get(self, ctx: MsgContext, arg: str | None, index) -> Value | list[Value]: ...


@dataclass
class Handler:
    """A pseudo-variable implementation from two functions (setter optional)."""

    name: str
    getter: Callable[[MsgContext, str | None, object], Value | list[Value]]
    setter: Callable[[MsgContext, str | None, object, Value, str], None] | None = None

    def get(self, ctx: MsgContext, arg: str | None, index) -> Value | list[Value]:
        return self.getter(ctx, arg, index)

    def set(self, ctx: MsgContext, arg: str | None, index, value: Value, op: str) -> None:
        if self.setter is None:
            raise ScriptError(f"${self.name} is read-only")
        self.setter(ctx, arg, index, value, op)

    @property
    def writable(self) -> bool:
        return self.setter is not None


CORE_HANDLERS: dict[str, Handler] = {}


def handler(*names: str, setter: Callable | None = None):
    """Register a core pseudo-variable getter (and optional setter) under one or more names."""

    def register(getter):
        for name in names:
            CORE_HANDLERS[name] = Handler(name, getter, setter)
        return getter

    return register


def pick(values: list[Value], index) -> Value | list[Value]:
    """Apply an index to a list of values the way OpenSIPS does: first by default, [n] from 0, [-1] last."""
    if index == ALL:
        return values
    if not values:
        return None
    if index is None:
        return values[0]
    try:
        return values[index]
    except (IndexError, TypeError):
        return None


# ------------------------------------------------------------------------------------------------ references

Transform = Callable[[MsgContext, Value], Value]


@dataclass
class PVRef:
    """A compiled `$…` reference."""

    name: str
    handler: Handler
    arg: str | Callable[[MsgContext], Value] | None = None
    index: object = None  # None, int, ALL, APPEND, or a callable giving an int
    transforms: tuple[Transform, ...] = ()
    context: str | None = None  # "request" / "reply"
    text: str = ""

    def _arg(self, ctx: MsgContext) -> str | None:
        arg = self.arg
        if callable(arg):
            value = arg(ctx)
            return None if value is None else str(value)
        return arg

    def _index(self, ctx: MsgContext):
        index = self.index
        if callable(index):
            value = index(ctx)
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
        return index

    def _target(self, ctx: MsgContext) -> MsgContext:
        if self.context is None:
            return ctx
        other = ctx.request if self.context == "request" else ctx.reply
        if other is None:
            return ctx
        view = MsgContext(other, ctx.route_type, ctx.process, ctx.received)
        view.module_state = ctx.module_state
        return view

    def get(self, ctx: MsgContext) -> Value | list[Value]:
        value = self.handler.get(self._target(ctx), self._arg(ctx), self._index(ctx))
        for transform in self.transforms:
            if isinstance(value, list):
                value = [transform(ctx, v) for v in value]
            else:
                value = transform(ctx, value)
        return value

    def set(self, ctx: MsgContext, value: Value, op: str = "=") -> None:
        self.handler.set(ctx, self._arg(ctx), self._index(ctx), value, op)

    @property
    def writable(self) -> bool:
        return self.handler.writable


class UnknownPseudoVariable(LookupError):
    pass


def compile_pvar(node: ast.PVar, resolve: Callable[[str], Handler | None],
                 compile_transform: Callable[[ast.Transformation], Transform]) -> PVRef:
    """AST PVar -> PVRef. `resolve(name)` finds the handler (core or a loaded module's)."""
    found = resolve(node.name)
    if found is None:
        raise UnknownPseudoVariable(node.name)
    arg: str | Callable | None = None
    if isinstance(node.arg, ast.PVar):
        inner = compile_pvar(node.arg, resolve, compile_transform)
        arg = inner.get
    else:
        arg = node.arg
    index: object = None
    if isinstance(node.index, ast.PVar):
        inner_index = compile_pvar(node.index, resolve, compile_transform)
        index = inner_index.get
    elif node.index is not None:
        index = node.index
    transforms = tuple(compile_transform(t) for t in node.transforms) if not node.short_transforms else ()
    return PVRef(node.name, found, arg, index, transforms, node.context, node.text)


# ------------------------------------------------------------------------------------------------ $var, $avp

def _var_get(ctx: MsgContext, arg, index):
    return ctx.process.vars.get(arg)


def _var_set(ctx: MsgContext, arg, index, value: Value, op: str) -> None:
    # OpenSIPS: `$var(x) = NULL` makes it null; = and := both overwrite a script var.
    ctx.process.vars[arg] = value


handler("var", setter=_var_set)(_var_get)


def _avp_get(ctx: MsgContext, arg, index):
    return pick(ctx.avps.get(arg, []), index)


def _avp_set(ctx: MsgContext, arg, index, value: Value, op: str) -> None:
    """AVPs are stacks, newest first: `=` pushes, `:=` replaces all, `= NULL` pops the newest (`[*]`: all),
    `[i] =` overwrites one, `[append] =` adds at the bottom."""
    stack = ctx.avps.setdefault(arg, [])
    if op == ":=":
        stack.clear()
        if value is not None:
            stack.append(value)
        return
    if index == APPEND:
        if value is not None:
            stack.append(value)
        return
    if value is None:
        if index == ALL:
            stack.clear()
        elif isinstance(index, int):
            if -len(stack) <= index < len(stack):
                del stack[index]
        elif stack:
            stack.pop(0)
        return
    if isinstance(index, int):
        if -len(stack) <= index < len(stack):
            stack[index] = value
        return
    stack.insert(0, value)


handler("avp", setter=_avp_set)(_avp_get)


@handler("rc", "retcode")
def _rc(ctx: MsgContext, arg, index):
    return ctx.retcode


@handler("param")
def _param(ctx: MsgContext, arg, index):
    try:
        position = int(arg)
    except (TypeError, ValueError):
        return None
    if 1 <= position <= len(ctx.route_params):
        return ctx.route_params[position - 1]
    return None
