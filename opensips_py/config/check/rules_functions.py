"""Function calls: E301–E303, E305–E308, V601/V603 for functions, P702 call sites, P704."""
from __future__ import annotations

import re
from dataclasses import dataclass

from opensips_py.config import ast
from opensips_py.config.check.context import Context, prefix_edit, span_edit, walk_nodes
from opensips_py.config.check.exports_index import exports_index
from opensips_py.config.diagnostics import Fix, Severity
from opensips_py.config.printer import Printer
from opensips_py.modules import core
from opensips_py.modules.exports import ArgKind, Function
from opensips_py.modules.kamailio import KAMAILIO_FUNCTIONS

# Kamailio names whose OpenSIPS function does exactly the same: --fix renames them.
EXACT_EQUIVALENTS = {"tm_check_trans": "t_check_trans", "t_is_canceled": "t_was_cancelled"}


@dataclass
class Problem:
    code: str
    pos: ast.Pos
    message: str
    hint: str | None = None
    fix: Fix | None = None


def check_calls(ctx: Context) -> None:
    for route in ctx.config.routes():
        for node in ctx.nodes_of(route):
            if isinstance(node, ast.Call):
                _check_call(ctx, node)
            elif isinstance(node, ast.AsyncCall):
                _check_async(ctx, node)
            elif isinstance(node, ast.BareWord):
                _bare_word(ctx, node)
            elif isinstance(node, ast.Concat):
                _concat(ctx, node)


def _concat(ctx: Context, node: ast.Concat) -> None:
    joined = Printer(portable=True).value(node)
    ctx.report("P704", node.pos, "'.' string concatenation is not OpenSIPS syntax",
               hint=f"write one string: {joined}", fix=Fix("join into one string", (span_edit(node.pos, joined),)))


def _bare_word(ctx: Context, node: ast.BareWord) -> None:
    fix = Fix("add ()", (prefix_edit(node.pos, len(node.name), node.name + "()"),))
    ctx.report("E305", node.pos, f"bare word {node.name}: command calls need '()'", hint=f"{node.name}();",
               fix=fix)


def _check_async(ctx: Context, node: ast.AsyncCall) -> None:
    offers = exports_index().functions.get(node.call.name, [])
    if offers and not any(o.item.is_async for o in offers):
        ctx.report("E308", node.call.pos, f"{node.call.name} has no asynchronous form: async() cannot run it",
                   hint="async() takes functions such as sleep, exec, rest_get, sql_query; call this one "
                        "directly")


def _check_call(ctx: Context, call: ast.Call) -> None:
    name = call.name
    if name in ("xlog", "xdbg", "log", "error"):
        _check_log_statement(ctx, call)
        return
    function_route = ctx.route("route", name)
    if function_route is not None and function_route.dialect == "function":
        _function_call(ctx, call)
        return
    index = exports_index()
    offers = [o for o in index.functions.get(name, []) if o.module == "core" or index.modules[o.module].opensips]
    if not offers:
        _unknown_function(ctx, call)
        return
    in_target = [o for o in offers if ctx.in_target(o.item.versions)]
    if not in_target:
        renamed = next((o.item.renamed_to for o in offers if o.item.renamed_to), None)
        fix = Fix(f"rename to {renamed}", (prefix_edit(call.pos, len(name), renamed),)) if renamed else None
        ctx.report("V601", call.pos, f"{name}() does not exist in OpenSIPS {ctx.target}",
                   hint=f"use {renamed}()" if renamed else None, fix=fix)
        return
    providers = sorted({o.module for o in in_target})
    usable = [o for o in in_target if o.module == "core" or ctx.is_loaded(o.module)]
    if not usable:
        module = providers[0]
        fix = ctx.insert_loadmodule_fix(module) if len(providers) == 1 else None
        names = " or ".join(f'"{p}.so"' for p in providers)
        ctx.report("E301", call.pos, f"unknown function {name}(): missing loadmodule {names}?",
                   hint=f"{name} is exported by {', '.join(providers)}", fix=fix)
        usable = in_target  # still check the arguments as if it were loaded
    _check_arguments(ctx, call, [o.item for o in usable],
                     [o.item for o in offers if o not in in_target and (o.module == "core" or ctx.is_loaded(o.module))])


def _function_call(ctx: Context, call: ast.Call) -> None:
    fix = Fix("call the route", (span_edit(call.pos, f"route({call.name})"),))
    ctx.report("P702", call.pos, f"{call.name}() calls a function block; OpenSIPS calls routes: route({call.name})",
               fix=fix)


def _unknown_function(ctx: Context, call: ast.Call) -> None:
    name = call.name
    if name in EXACT_EQUIVALENTS:
        new = EXACT_EQUIVALENTS[name]
        ctx.report("E301", call.pos, f"unknown function {name}(): it is Kamailio's name",
                   hint=f"OpenSIPS calls it {new}()",
                   fix=Fix(f"rename to {new}", (prefix_edit(call.pos, len(name), new),)))
        return
    if name in KAMAILIO_FUNCTIONS:
        ctx.report("E301", call.pos, f"unknown function {name}(): it is a Kamailio function",
                   hint=KAMAILIO_FUNCTIONS[name])
        return
    foreign = [o for o in exports_index().functions.get(name, []) if o.module != "core"]
    if foreign:
        table = exports_index().modules[foreign[0].module]
        ctx.report("E301", call.pos, f"unknown function {name}(): it belongs to {table.name}, which is not an "
                   "OpenSIPS module", hint=table.replacement or None)
        return
    hint = None
    import difflib
    close = difflib.get_close_matches(name, list(exports_index().functions), n=2, cutoff=0.8)
    if close:
        hint = "did you mean " + " or ".join(f"{c}()" for c in close) + "?"
    unchecked = ctx.unchecked_modules()
    if unchecked:
        ctx.report("E301", call.pos, f"unknown function {name}() (unless {', '.join(unchecked)} exports it: "
                   "opensips-py has no table for that)", hint=hint, severity=Severity.WARNING)
        return
    ctx.report("E301", call.pos, f"unknown function {name}()", hint=hint)


# ------------------------------------------------------------------------------------------------ arguments

def _check_arguments(ctx: Context, call: ast.Call, entries: list[Function], other_versions: list[Function]) -> None:
    results = [(entry, _problems(ctx, call, entry)) for entry in entries]
    if any(not problems for _, problems in results):
        return
    for entry in other_versions:
        if not _problems(ctx, call, entry):
            span = entry.versions
            when = (f"OpenSIPS {span.since} and later" if span.since and not span.until else
                    f"OpenSIPS before {span.until}" if span.until and not span.since else
                    f"OpenSIPS {span.since} to {span.until}")
            current = results[-1][0]
            ctx.report("V603", call.pos, f"{call.name}() is written as {when} wants it, not as OpenSIPS "
                       f"{ctx.target} does", hint=current.doc or None)
            return
    _, problems = results[-1]
    for problem in problems:
        ctx.report(problem.code, problem.pos, problem.message, hint=problem.hint, fix=problem.fix)


def _problems(ctx: Context, call: ast.Call, entry: Function) -> list[Problem]:
    args = call.args
    problems: list[Problem] = []
    if len(args) > entry.max_args:
        problems.append(Problem("E302", call.pos, f"{call.name}() takes at most {entry.max_args} argument"
                                f"{'s' if entry.max_args != 1 else ''}, got {len(args)}",
                                hint=_signature(call.name, entry)))
        return problems
    if len(args) < entry.min_args:
        problems.append(Problem("E302", call.pos, f"too few arguments for {call.name}(): needs at least "
                                f"{entry.min_args}, got {len(args)}", hint=_signature(call.name, entry)))
        return problems
    for i, (arg, spec) in enumerate(zip(args, entry.args)):
        if arg is None:
            if not spec.optional:
                problems.append(Problem("E302", call.pos, f"argument {i + 1} ({spec.name}) of {call.name}() "
                                        "is mandatory but empty", hint=_signature(call.name, entry)))
            continue
        problem = _check_arg(ctx, call, i, arg, spec)
        if problem:
            problems.append(problem)
    return problems


def _signature(name: str, entry: Function) -> str:
    parts = []
    for arg in entry.args:
        text = f"{arg.name}: {arg.kind.value}"
        parts.append(f"[{text}]" if arg.optional else text)
    return f"{name}({', '.join(parts)})"


def _check_arg(ctx: Context, call: ast.Call, i: int, arg, spec) -> Problem | None:
    where = f"argument {i + 1} ({spec.name}) of {call.name}()"
    kind = spec.kind
    if isinstance(arg, ast.Word):
        return Problem("E303", arg.pos, f"{where}: bare word {arg.name}", hint=f'quote it: "{arg.name}"',
                       fix=Fix("quote it", (span_edit(arg.pos, f'"{arg.name}"'),)))
    if isinstance(arg, ast.Concat):
        return None  # P704 says it; the joined string is checked as a string
    if kind == ArgKind.INT:
        if isinstance(arg, (ast.Int, ast.PVar)):
            return None
        if isinstance(arg, ast.Str) and arg.value.strip().lstrip("-").isdigit():
            return Problem("E303", arg.pos, f"{where} is an integer, not the string \"{arg.value}\"",
                           hint=f"write {arg.value.strip()} without quotes",
                           fix=Fix("unquote the number", (span_edit(arg.pos, arg.value.strip()),)))
        return Problem("E303", arg.pos, f"{where} must be an integer or a $variable")
    if kind == ArgKind.VAR:
        if isinstance(arg, ast.PVar) and _writable(arg):
            return None
        if isinstance(arg, ast.Str) and arg.value.startswith("$"):
            return None  # "$var(x)": OpenSIPS parses the string as the variable
        return Problem("E303", arg.pos, f"{where} must be a writable variable ($var(x), $avp(y)…)")
    if kind == ArgKind.ANY:
        return None
    # string-like kinds: STR, FLAG, REGEX, ROUTE
    if isinstance(arg, ast.Int):
        text = arg.raw or str(arg.value)
        return Problem("E303", arg.pos, f"{where} is a string, not the integer {text}",
                       hint=f'quote it: "{text}"' + (" (3.x flags are names)" if kind == ArgKind.FLAG else ""),
                       fix=Fix("quote it", (span_edit(arg.pos, f'"{text}"'),)))
    if isinstance(arg, ast.Null):
        return Problem("E303", arg.pos, f"{where} cannot be NULL")
    if isinstance(arg, ast.PVar) and (spec.static and not spec.no_expand or kind in (ArgKind.FLAG, ArgKind.ROUTE)):
        return Problem("E303", arg.pos, f"{where} must be a literal string (it is fixed at start-up)")
    if isinstance(arg, (ast.Str, ast.FoldedStr)):
        value = arg.value
        if spec.choices:
            known = {c.split("=", 1)[0].lower() for c in spec.choices}
            bad = [w.strip() for w in re.split(r"[,|]", value)
                   if w.strip() and w.strip().split("=", 1)[0].lower() not in known]
            if spec.choices and all(len(c) == 1 for c in spec.choices):  # letter flags: "Bp"
                bad = [c for c in value if c not in spec.choices and c not in ", "]
            if bad and "$" not in value:
                return Problem("E306", arg.pos, f"{where}: unknown flag{'s' if len(bad) > 1 else ''} "
                               f"{', '.join(bad)}", hint="known: " + ", ".join(spec.choices))
        if kind == ArgKind.ROUTE and spec.route_kind:
            if ctx.route(spec.route_kind, value) is None:
                return Problem("E307", arg.pos, f"{where}: no {spec.route_kind}[{value}] is defined",
                               hint=f"define {spec.route_kind}[{value}] {{ … }}")
    return None


def _writable(pvar: ast.PVar) -> bool:
    offers = exports_index().pvars.get(pvar.name, [])
    return any(o.item.writable for o in offers) and not pvar.transforms


# ------------------------------------------------------------------------------------------------ log statements

def _check_log_statement(ctx: Context, call: ast.Call) -> None:
    name, args = call.name, call.args
    limits = {"xlog": (1, 2), "xdbg": (1, 1), "log": (1, 2), "error": (2, 2)}
    low, high = limits[name]
    if not low <= len(args) <= high:
        ctx.report("E302", call.pos, f"{name}() takes {low if low == high else f'{low} or {high}'} "
                   f"argument{'s' if high > 1 else ''}, got {len(args)}")
        return
    if name == "xlog" and len(args) == 2:
        level = args[0]
        if isinstance(level, ast.Str) and not _xlog_level_ok(level.value):
            ctx.report("E306", level.pos, f"unknown xlog level \"{level.value}\"",
                       hint="one of " + ", ".join(core.XLOG_LEVELS))
        elif not isinstance(level, (ast.Str, ast.PVar)):
            ctx.report("E303", call.pos, "the xlog level is a string (\"L_INFO\") or a $variable")
    if name == "log" and len(args) == 2 and not isinstance(args[0], ast.Int):
        ctx.report("E303", call.pos, "the log() level is an integer")
    text = args[-1]
    if not isinstance(text, (ast.Str, ast.FoldedStr, ast.Concat)):
        ctx.report("E303", call.pos, f"the {name}() text must be a string literal",
                   hint=f'{name}("… $var(x) …") expands variables inside the string')


def _xlog_level_ok(level: str) -> bool:
    """OpenSIPS decides the level by the third character of "L_XXX" (route.c)."""
    if level in core.XLOG_LEVELS:
        return True
    if len(level) >= 3 and level.startswith("L_"):
        return level[2].upper() in {name[2] for name in core.XLOG_LEVELS}
    return False
