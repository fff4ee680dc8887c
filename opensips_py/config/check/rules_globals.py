"""Global parameters and sockets: E007, E101–E104, V601/V602 for parameters, P706."""
from __future__ import annotations

from opensips_py.config import ast
from opensips_py.config.check.context import Context, prefix_edit, span_edit
from opensips_py.config.diagnostics import Edit, Fix
from opensips_py.modules import core
from opensips_py.modules.exports import VERSIONS, GlobalKind, GlobalParam

_RENAMES_SAFE = {"children": "udp_workers", "tcp_children": "tcp_workers", "debug": "log_level",
                 "xlog_default_level": "xlog_print_level"}
_COMMAND_LINE = {"pkg_mem_size": "-M", "shm_mem_size": "-m"}


def _known(name: str, target: str | None) -> GlobalParam | None:
    versions = VERSIONS if target is None else (target,)
    for version in versions:
        found = core.global_param(name, version)
        if found is not None:
            return found
    return None


def _rename_fix(param: ast.GlobalParam, new: str) -> Fix:
    return Fix(f"rename {param.name} to {new}", (prefix_edit(param.name_pos, len(param.name), new),))


def check_empty(ctx: Context) -> None:
    if ctx.config.statements or ctx.source is None:
        return
    if any(d.code in ("E001", "E005") for d in ctx.diagnostics):
        return
    ctx.report("E007", ast.Pos(ctx.source.main_file, 1, 1, 1, 1), "empty config: no statement at all",
               hint="a minimal config loads proto_udp.so, declares socket = udp:IP:PORT and has a route { }")


def check_globals(ctx: Context) -> None:
    for stmt in ctx.config.statements:
        if isinstance(stmt, ast.GlobalParam):
            _check_one(ctx, stmt)


def _check_one(ctx: Context, param: ast.GlobalParam) -> None:
    name = param.name
    target = ctx.target
    known = _known(name, target)
    if known is None:
        anywhere = _known(name, None)
        if name in core.NOT_GLOBAL_PARAMS or anywhere is None:
            _unknown(ctx, param)
            return
        # exists in another tracked version, not in the target
        replacement = anywhere.renamed_to
        fix = _rename_fix(param, replacement) if replacement and replacement.isidentifier() else None
        ctx.report("V601", param.name_pos, f"'{name}' is not a global parameter of OpenSIPS {target}",
                   hint=f"use {replacement}" if replacement else None, fix=fix)
        return
    if target is not None and known.deprecated and known.deprecated.includes(target):
        replacement = known.renamed_to
        fix = _rename_fix(param, replacement) if replacement and replacement.isidentifier() else None
        ctx.report("V602", param.name_pos, f"'{name}' is deprecated in OpenSIPS {target}",
                   hint=f"use {replacement}" if replacement else None, fix=fix)
    if known.kind == GlobalKind.SOCKET:
        _check_socket(ctx, param)
    else:
        _check_kind(ctx, param, known)


def _unknown(ctx: Context, param: ast.GlobalParam) -> None:
    name = param.name
    hint = core.NOT_GLOBAL_PARAMS.get(name)
    fix = None
    if name in _RENAMES_SAFE:
        fix = _rename_fix(param, _RENAMES_SAFE[name])
        hint = hint or f"use {_RENAMES_SAFE[name]}"
    elif name in _COMMAND_LINE:
        value = param.value.value if isinstance(param.value, ast.Int) else "<MB>"
        fix = ctx.comment_out_fix(param, f"not a config parameter: start with {_COMMAND_LINE[name]} {value}")
    if hint and hint.split(" ", 1)[0].isidentifier() and hint.split(" ", 1)[0] not in ("give", "load", "no",
                                                                                       "removed"):
        hint = f"use {hint}"
    ctx.report("E101", param.name_pos, f"unknown global parameter '{name}'", hint=hint, fix=fix)


def _check_kind(ctx: Context, param: ast.GlobalParam, known: GlobalParam) -> None:
    value = param.value
    kind = known.kind
    if kind in (GlobalKind.SPECIAL, GlobalKind.ALIAS):
        return
    if kind in (GlobalKind.INT, GlobalKind.BOOL, GlobalKind.SINT):
        if isinstance(value, ast.Int):
            if kind == GlobalKind.INT and value.value < 0:
                ctx.report("E102", param.value_pos, f"'{param.name}' takes a non-negative integer")
            return
        if value is None and param.name in core.AUTO_SCALING_PARAMS and param.items and \
                param.items[0][1] == "NUMBER":
            return
        fix = None
        if isinstance(value, ast.Str) and value.value.strip().lstrip("-").isdigit():
            fix = Fix("unquote the number", (span_edit(param.value_pos, value.value.strip()),))
        ctx.report("E102", param.value_pos, f"'{param.name}' takes an integer, not {_describe(value)}",
                   hint="write the number without quotes" if fix else None, fix=fix)
        return
    if kind == GlobalKind.STR:
        if isinstance(value, (ast.Str, ast.FoldedStr)):
            return
        ctx.report("E102", param.value_pos, f"'{param.name}' takes a quoted string, not {_describe(value)}",
                   hint=f'{param.name} = "…"')
        return
    if kind in (GlobalKind.ID, GlobalKind.STR_OR_ID):
        if isinstance(value, ast.Word) or (kind == GlobalKind.STR_OR_ID and isinstance(value, ast.Str)):
            return
        ctx.report("E102", param.value_pos, f"'{param.name}' takes a name, not {_describe(value)}")


def _describe(value) -> str:
    if isinstance(value, ast.Str):
        return f'the string "{value.value}"'
    if isinstance(value, ast.Int):
        return f"the number {value.raw or value.value}"
    if isinstance(value, ast.Word):
        return f"the word {value.name}"
    return "this value"


def _check_socket(ctx: Context, param: ast.GlobalParam) -> None:
    value = param.value
    if isinstance(value, ast.Str):
        ctx.report("E103", param.value_pos,
                   f"{param.name} must be a SIP listener proto:host[:port], not a quoted string",
                   hint="a unix socket for management is a module parameter: mi_fifo's fifo_name or "
                        "mi_datagram's socket_name")
        return
    if not isinstance(value, ast.SocketDef) or not value.host:
        ctx.report("E103", param.value_pos, f"malformed {param.name} definition",
                   hint="write proto:host[:port], e.g. socket = udp:127.0.0.1:5060")
        return
    proto = value.proto or "udp"
    if proto not in core.SOCKET_PROTOCOLS:
        ctx.report("E103", param.value_pos, f"unknown socket protocol '{proto}'",
                   hint="one of " + ", ".join(sorted(core.SOCKET_PROTOCOLS)))
        return
    if value.ports and not all(part.replace("-", "").isdigit() for part in value.ports.split(",")):
        ctx.report("E103", param.value_pos, f"bad port '{value.ports}' in {param.name}",
                   hint="a port, a list of ports or a range: 5060, 5060-5070")
    for option, option_value in value.options:
        if option == "advertise":
            _advertise(ctx, param)
            continue
        since = core.SOCKET_OPTIONS.get(option)
        if since is None:
            ctx.report("E103", param.value_pos, f"unknown socket option '{option}'",
                       hint="options: " + ", ".join(sorted(core.SOCKET_OPTIONS)))
        elif ctx.target is not None and tuple(map(int, since.split("."))) > tuple(map(int, ctx.target.split("."))):
            ctx.report("V601", param.value_pos, f"socket option '{option}' needs OpenSIPS {since} or later")
        elif option in core.SOCKET_OPTION_VALUES and not option_value:
            ctx.report("E103", param.value_pos, f"socket option '{option}' needs a value "
                       f"({core.SOCKET_OPTION_VALUES[option]})")
    module = core.SOCKET_PROTOCOLS[proto]
    if not ctx.is_loaded(module):
        ctx.report("E104", param.value_pos, f"{proto}: socket without loadmodule \"{module}.so\"",
                   hint=f'add loadmodule "{module}.so"', fix=ctx.insert_loadmodule_fix(module))


def _advertise(ctx: Context, param: ast.GlobalParam) -> None:
    for text, kind, (line, column) in param.items:
        if text == "advertise":
            edit = Edit(param.pos.file, (line, column), (line, column + len(text)), "as")
            ctx.report("P706", ast.Pos(param.pos.file, line, column, line, column + len(text)),
                       "'advertise' is not OpenSIPS syntax: the advertised address follows 'as'",
                       hint=f"{param.name} = proto:IP:PORT as PUBLIC_IP:PORT",
                       fix=Fix("replace advertise with as", (edit,)))
