"""Pseudo-variables and transformations, in code and inside format strings: E501–E503, W504, V601, P703."""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from opensips_py.config import ast
from opensips_py.config.check.context import Context, span_edit, walk_nodes
from opensips_py.config.check.exports_index import exports_index
from opensips_py.config.diagnostics import Fix, Severity
from opensips_py.config.printer import Printer
from opensips_py.config.pvar import PVarSyntaxError, parse_format
from opensips_py.modules import core

# Argument kinds whose string literals are formats (expanded per call).
_FORMAT_FREE_FUNCTIONS = frozenset()


def check_pvars(ctx: Context) -> None:
    for route in ctx.config.routes():
        for node in ctx.nodes_of(route):
            if isinstance(node, ast.PVar):
                _check(ctx, node, in_string=None)
            elif isinstance(node, ast.Call):
                for string in _format_strings(node):
                    _check_format(ctx, string)


def _format_strings(call: ast.Call) -> Iterator[ast.Str]:
    static = _static_positions(call.name, len(call.args))
    for i, arg in enumerate(call.args):
        if i in static:
            continue
        if isinstance(arg, ast.Str):
            yield arg
        elif isinstance(arg, ast.FoldedStr):
            yield from arg.parts
        elif isinstance(arg, ast.Concat):
            yield from (p for p in arg.parts if isinstance(p, ast.Str))


def _static_positions(name: str, count: int) -> set[int]:
    """Argument positions that are never expanded (static strings, flag and route names)."""
    if name in ("xlog", "xdbg", "log", "error"):
        return {0} if name == "xlog" and count == 2 else set()
    offers = exports_index().functions.get(name, [])
    positions: set[int] | None = None
    for offer in offers:
        mine = {i for i, a in enumerate(offer.item.args)
                if a.static or a.no_expand or a.kind.value in ("flag", "route")}
        positions = mine if positions is None else positions & mine
    return positions or set()


def _check_format(ctx: Context, string: ast.Str) -> None:
    if "$" not in string.value.replace("$$", ""):
        return
    try:
        parts = parse_format(string.value, string.pos)
    except PVarSyntaxError as exc:
        ctx.report("E501", string.pos, f"malformed pseudo-variable in string: {exc}",
                   hint="write $$ for a literal '$'")
        return
    for part in parts:
        if part.pvar is not None:
            _check(ctx, part.pvar, in_string=string)


def _replace_in_string(string: ast.Str, old: str, new: str) -> Fix | None:
    raw = string.raw
    if not raw or old not in raw:
        return None
    return Fix(f"replace {old} with {new}", (span_edit(string.pos, raw.replace(old, new)),))


def _check(ctx: Context, pvar: ast.PVar, in_string: ast.Str | None) -> None:
    if not pvar.name:
        return  # malformed: the parser said so
    where = pvar.pos if in_string is None else in_string.pos
    if pvar.dialect == "msg_len":
        fix = Fix("use $ml", (span_edit(pvar.pos, "$ml"),)) if in_string is None else \
            _replace_in_string(in_string, "$msg:len", "$ml")
        ctx.report("P703", where, "$msg:len is not an OpenSIPS variable", hint="the message length is $ml", fix=fix)
        return
    offers = exports_index().pvars.get(pvar.name, [])
    if not offers:
        _unknown(ctx, pvar, where)
    else:
        _known(ctx, pvar, offers, where, in_string)
    for nested in _nested(pvar):
        _check(ctx, nested, in_string)
    for tr in pvar.transforms:
        _check_transformation(ctx, tr, where)
    if pvar.short_transforms and in_string is None:
        long_form = Printer().pvar(ast.PVar(pvar.name, pvar.arg, None, pvar.transforms, pvar.context,
                                            long_form=True))
        ctx.report("W504", pvar.pos, f"OpenSIPS ignores the transformation in {pvar.text}: it reads plain "
                   f"${pvar.name}", hint=f"write {long_form}",
                   fix=Fix("use the long form", (span_edit(pvar.pos, long_form),)))


def _nested(pvar: ast.PVar) -> Iterator[ast.PVar]:
    if isinstance(pvar.arg, ast.PVar):
        yield pvar.arg
    if isinstance(pvar.index, ast.PVar):
        yield pvar.index
    for tr in pvar.transforms:
        for arg in tr.args:
            if isinstance(arg, ast.PVar):
                yield arg


def _unknown(ctx: Context, pvar: ast.PVar, where: ast.Pos) -> None:
    name = pvar.name
    hint = core.NOT_PSEUDO_VARIABLES.get(name)
    if hint:
        hint = f"use {hint}"
    elif name.endswith(".") and exports_index().pvars.get(name.rstrip(".")):
        hint = f"OpenSIPS reads the '.' as part of the name: write $({name.rstrip('.')}) before a dot"
    else:
        close = difflib.get_close_matches(name, list(exports_index().pvars), n=2, cutoff=0.75)
        if close:
            hint = "did you mean " + " or ".join(f"${c}" for c in close) + "?"
    unchecked = ctx.unchecked_modules()
    if unchecked:
        ctx.report("E501", where, f"unknown pseudo-variable ${name} (unless {', '.join(unchecked)} exports it: "
                   "opensips-py has no table for that)", hint=hint, severity=Severity.WARNING)
        return
    ctx.report("E501", where, f"unknown pseudo-variable ${name}", hint=hint)


def _known(ctx: Context, pvar: ast.PVar, offers: list, where: ast.Pos, in_string: ast.Str | None) -> None:
    name = pvar.name
    in_target = [o for o in offers if ctx.in_target(o.item.versions)]
    if not in_target:
        renamed = next((o.item.renamed_to for o in offers if o.item.renamed_to), None)
        fix = None
        if renamed:
            text = pvar.text or f"${name}"
            fix = Fix(f"use {renamed}", (span_edit(pvar.pos, renamed),)) if in_string is None else \
                _replace_in_string(in_string, text, renamed)
        ctx.report("V601", where, f"${name} does not exist in OpenSIPS {ctx.target}",
                   hint=f"use {renamed}" if renamed else None, fix=fix)
        return
    takes_arg = any(o.item.takes_arg for o in in_target)
    # only the core's table says exactly which variables have a bare form too
    bare_ok = any(not o.item.takes_arg for o in in_target) or name in core.PV_ARG_OPTIONAL or any(
        o.module != "core" for o in in_target)
    if pvar.arg is None and not bare_ok:
        ctx.report("E501", where, f"${name} needs an argument: ${name}(…)")
        return
    if pvar.arg is not None and not takes_arg:
        ctx.report("E501", where, f"${name} takes no argument")
        return
    modules = {o.module for o in in_target}
    if "core" not in modules and not any(ctx.is_loaded(m) for m in modules):
        names = " or ".join(f'"{m}.so"' for m in sorted(modules))
        ctx.report("E503", where, f"${name} needs loadmodule {names}",
                   fix=ctx.insert_loadmodule_fix(sorted(modules)[0]) if len(modules) == 1 else None)


_INDEXED_NAMEADDR = re.compile(r"^nameaddr\.\d+\.", re.IGNORECASE)


def _check_transformation(ctx: Context, tr: ast.Transformation, where: ast.Pos) -> None:
    # 3.4+: {nameaddr.N.member} picks the N-th name-addr of a list
    name = _INDEXED_NAMEADDR.sub("nameaddr.", tr.name)
    offers = exports_index().transformations.get(name.lower(), [])
    if not offers:
        close = difflib.get_close_matches(tr.name.lower(), list(exports_index().transformations), n=2, cutoff=0.7)
        ctx.report("E502", where, f"unknown transformation {{{tr.name}}}",
                   hint=("did you mean " + " or ".join("{" + c + "}" for c in close) + "?") if close else None)
        return
    in_target = [o for o in offers if ctx.in_target(o.item.versions)]
    if not in_target:
        ctx.report("V601", where, f"transformation {{{tr.name}}} does not exist in OpenSIPS {ctx.target}")
        return
    count = len(tr.args)
    if not any(o.item.min_args <= count <= o.item.max_args for o in in_target):
        item = in_target[0].item
        expected = str(item.min_args) if item.min_args == item.max_args else f"{item.min_args}–{item.max_args}"
        ctx.report("E502", where, f"transformation {{{tr.name}}} takes {expected} argument(s), got {count}")
        return
    modules = {o.module for o in in_target}
    if "core" not in modules and not any(ctx.is_loaded(m) for m in modules):
        ctx.report("E503", where, f"transformation {{{tr.name}}} needs loadmodule "
                   + " or ".join(f'"{m}.so"' for m in sorted(modules)))
