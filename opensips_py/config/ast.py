"""The typed syntax tree of an opensips.cfg.

Dataclass nodes, one per language construct, each with the place it came from (`pos`: file, line, column and
the end of its span). Positions and the guide-dialect marker do not take part in equality, so two parses of
the same config compare equal whatever their layout (the printer round-trip relies on this).

`dialect` is set on nodes written in the design guide's dialect (Kamailio-like constructs OpenSIPS rejects but
opensips-py runs): "request_route", "function", "msg_len", "concat", "advertise", "core_modparam".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class Pos:
    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __repr__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NOPOS = Pos("", 0, 0, 0, 0)


def _pos() -> Pos:
    return field(default=NOPOS, compare=False, repr=False)


def _dialect() -> str | None:
    return field(default=None, compare=False)


# ---------------------------------------------------------------------------------------------- values

@dataclass
class Str:
    """A string literal. `value` has escapes applied ("…" strings); `raw` is the source text with quotes."""

    value: str
    raw: str = field(default="", compare=False)
    pos: Pos = _pos()


@dataclass
class Int:
    """An integer literal (also yes/no/true/false… → 1/0). `raw` keeps how it was written."""

    value: int
    raw: str = field(default="", compare=False)
    pos: Pos = _pos()


@dataclass
class Null:
    pos: Pos = _pos()


@dataclass
class IPLiteral:
    """An IPv4/IPv6 address or network (`10.0.0.0/8`) on the right of ==/!=."""

    text: str
    pos: Pos = _pos()


@dataclass
class Word:
    """A bare word where OpenSIPS wants a literal (`setflag(NAT)`, `$rm == INVITE`): kept for a clear error."""

    name: str
    pos: Pos = _pos()


@dataclass
class Transformation:
    """`{class.name,arg,…}`; args are literal text or nested pseudo-variables."""

    name: str
    args: list[Union[str, "PVar"]]
    pos: Pos = _pos()


@dataclass
class PVar:
    """A pseudo-variable reference: `$name`, `$name(arg)`, `$(name(arg)[index]{tr}…)`, `$(<ctx>name)`.

    arg and index may contain nested pseudo-variables (`$(avp(x)[$var(i)])`), hence the unions.
    `long_form` is True for `$( … )`. `short_transforms` records `{…}` written after a short form, which
    OpenSIPS silently ignores.
    """

    name: str
    arg: Union[str, "PVar", None] = None
    index: Union[int, str, "PVar", None] = None
    transforms: list[Transformation] = field(default_factory=list)
    context: str | None = None
    long_form: bool = False
    short_transforms: bool = False
    text: str = field(default="", compare=False)
    pos: Pos = _pos()
    dialect: str | None = _dialect()


@dataclass
class Concat:
    """Guide dialect: `"a" . $var(b) . "c"` in a function argument."""

    parts: list[Union[Str, PVar]]
    pos: Pos = _pos()
    dialect: str | None = _dialect()


@dataclass
class FoldedStr:
    """Adjacent string literals ("a" "b"), folded into one (modparam values, xlog arguments)."""

    parts: list[Str]
    pos: Pos = _pos()

    @property
    def value(self) -> str:
        return "".join(part.value for part in self.parts)


# ---------------------------------------------------------------------------------------------- expressions

@dataclass
class BinOp:
    """Arithmetic/bitwise/string `+` in an assignment or a `[ … ]` test."""

    op: str
    left: "Expr"
    right: "Expr"
    pos: Pos = _pos()


@dataclass
class BitNot:
    operand: "Expr"
    pos: Pos = _pos()


@dataclass
class Compare:
    """`left op right`, op one of == != =~ !~ > < >= <=. OpenSIPS needs a pseudo-variable on the left."""

    op: str
    left: "Expr"
    right: "Expr"
    pos: Pos = _pos()


@dataclass
class Logic:
    """`&&`/`||` (also `and`/`or`): one precedence level, left associative."""

    op: str
    left: "Cond"
    right: "Cond"
    pos: Pos = _pos()


@dataclass
class Not:
    operand: "Cond"
    pos: Pos = _pos()


@dataclass
class Test:
    """`[ expr ]`: the truth of an arithmetic expression."""

    expr: "Expr"
    pos: Pos = _pos()


@dataclass
class Truth:
    """A bare pseudo-variable or number used as a condition."""

    value: Union[PVar, Int]
    pos: Pos = _pos()


# ---------------------------------------------------------------------------------------------- calls

Arg = Union[Str, FoldedStr, Int, PVar, Null, IPLiteral, Word, Concat, None]


@dataclass
class Call:
    """A function call `name(args…)`; an empty slot is None (`f(, "x")`)."""

    name: str
    args: list[Arg]
    pos: Pos = _pos()
    dialect: str | None = _dialect()


@dataclass
class RouteCall:
    """`route(name, args…)`; `target` is a name (str) or a pseudo-variable (dynamic)."""

    target: Union[str, PVar]
    args: list[Arg]
    target_pos: Pos = field(default=NOPOS, compare=False, repr=False)
    pos: Pos = _pos()


@dataclass
class AsyncCall:
    """`async(func(…), resume_route[, timeout])`."""

    call: Call
    resume_route: str
    timeout: int | None = None
    pos: Pos = _pos()


@dataclass
class LaunchCall:
    """`launch(func(…)[, report_route[, "text"]])`."""

    call: Call
    report_route: str | None = None
    text: Arg = None
    pos: Pos = _pos()


@dataclass
class AssertCall:
    cond: "Cond"
    text: Str | None = None
    pos: Pos = _pos()


AnyCall = Union[Call, RouteCall, AsyncCall, LaunchCall, AssertCall]


@dataclass
class Assign:
    target: PVar
    op: str
    value: "Expr"
    pos: Pos = _pos()


Expr = Union[Str, Int, Null, IPLiteral, PVar, BinOp, BitNot, Compare, Call, RouteCall, AsyncCall, LaunchCall,
             AssertCall]
Cond = Union[Logic, Not, Test, Compare, Truth, Call, RouteCall, AsyncCall, LaunchCall, AssertCall, Assign]


# ---------------------------------------------------------------------------------------------- statements

@dataclass
class Block:
    stmts: list["Stmt"]
    pos: Pos = _pos()


@dataclass
class CallStmt:
    call: AnyCall
    pos: Pos = _pos()


@dataclass
class AssignStmt:
    assign: Assign
    pos: Pos = _pos()


@dataclass
class If:
    cond: Cond
    then: "Stmt"
    else_: Union["Stmt", None] = None
    pos: Pos = _pos()


@dataclass
class While:
    cond: Cond
    body: "Stmt"
    pos: Pos = _pos()


@dataclass
class ForEach:
    var: PVar
    source: PVar
    body: "Stmt"
    pos: Pos = _pos()


@dataclass
class Case:
    """One `case value:` (value None = `default:`) and the statements up to the next label."""

    value: Union[Int, Str, None]
    body: list["Stmt"]
    pos: Pos = _pos()


@dataclass
class Switch:
    subject: PVar
    cases: list[Case]
    pos: Pos = _pos()


@dataclass
class Return:
    """`return`, `return(n)`, `return $pv`, and 3.6's `return(code, v1, …)` (values beyond the first)."""

    value: Union[Int, PVar, Str, Null, None] = None
    values: list[Union[Int, PVar, Str, Null, None]] = field(default_factory=list)
    parens: bool = field(default=False, compare=False)
    pos: Pos = _pos()


@dataclass
class Exit:
    pos: Pos = _pos()


@dataclass
class Drop:
    pos: Pos = _pos()


@dataclass
class Break:
    pos: Pos = _pos()


@dataclass
class Nop:
    pos: Pos = _pos()


@dataclass
class BareWord:
    """A word used as a statement (`t_check_trans;`): OpenSIPS wants `t_check_trans();`."""

    name: str
    pos: Pos = _pos()


Stmt = Union[Block, CallStmt, AssignStmt, If, While, ForEach, Switch, Return, Exit, Drop, Break, Nop, BareWord]


# ---------------------------------------------------------------------------------------------- top level

@dataclass
class SocketDef:
    """`proto:host[:ports]` with its options (`as host:port`, `use_workers N`, `anycast`, `tag x`…)."""

    proto: str | None
    host: str
    ports: str | None = None
    options: list[tuple[str, str | None]] = field(default_factory=list)
    pos: Pos = _pos()


GlobalValue = Union[Int, Str, FoldedStr, Word, IPLiteral, SocketDef, list]


@dataclass
class GlobalParam:
    """`name = value`. `items` keeps the value's raw tokens (text, kind, (line, column)) for parameters with
    their own syntax; `value` is the interpretation: Int, Str, Word, a SocketDef, or None when it takes several
    items."""

    name: str
    value: GlobalValue | None
    items: list[tuple[str, str, tuple[int, int]]] = field(default_factory=list, compare=False)
    name_pos: Pos = field(default=NOPOS, compare=False, repr=False)
    value_pos: Pos = field(default=NOPOS, compare=False, repr=False)
    pos: Pos = _pos()
    dialect: str | None = _dialect()


@dataclass
class LoadModule:
    path: Str
    pos: Pos = _pos()

    @property
    def module(self) -> str:
        base = self.path.value.rsplit("/", 1)[-1]
        return base[:-3] if base.endswith(".so") else base


@dataclass
class ModParam:
    module: Str
    param: Str
    value: Union[Str, FoldedStr, Int, Word]
    pos: Pos = _pos()
    dialect: str | None = _dialect()


ROUTE_KINDS = ("route", "branch_route", "failure_route", "onreply_route", "local_route", "startup_route",
               "timer_route", "event_route", "error_route")


@dataclass
class Route:
    """A route block. kind is one of ROUTE_KINDS; name None for the unnamed form (`route {}`,
    `onreply_route {}`…); `interval` for timer_route[name, seconds].

    Guide dialect: `request_route {}` is kind "route", name None, dialect "request_route"; `function f() {}`
    is kind "route", name "f", dialect "function".
    """

    kind: str
    name: str | None
    body: Block
    interval: int | None = None
    name_pos: Pos = field(default=NOPOS, compare=False, repr=False)
    pos: Pos = _pos()
    dialect: str | None = _dialect()

    @property
    def is_main(self) -> bool:
        return self.kind == "route" and self.name in (None, "0")


TopLevel = Union[GlobalParam, LoadModule, ModParam, Route]


@dataclass
class Config:
    statements: list[TopLevel]
    pos: Pos = _pos()

    def routes(self, kind: str | None = None) -> list[Route]:
        return [s for s in self.statements if isinstance(s, Route) and (kind is None or s.kind == kind)]
