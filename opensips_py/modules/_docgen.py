"""Markdown reference pages generated from the exports tables, so the docs say what the tables say.

    python -m opensips_py.modules._docgen --all > docs/modules.md
"""
from __future__ import annotations

import sys

from opensips_py.modules import exports_of
from opensips_py.modules.exports import (
    VERSIONS, Arg, ArgKind, Function, ModuleExports, ModParam, RouteType, VersionSpan,
)

# Route letters in the order the reference documents use.
_ROUTE_LETTERS = (
    (RouteType.REQUEST, "R"), (RouteType.FAILURE, "F"), (RouteType.ONREPLY, "O"), (RouteType.BRANCH, "B"),
    (RouteType.ERROR, "E"), (RouteType.LOCAL, "L"), (RouteType.STARTUP, "S"), (RouteType.TIMER, "T"),
    (RouteType.EVENT, "V"),
)


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell (no column breaks, no HTML tags)."""
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _versions(span: VersionSpan) -> str:
    present = [v for v in VERSIONS if span.includes(v)]
    return "all" if len(present) == len(VERSIONS) else ", ".join(present)


def _routes(routes: RouteType) -> str:
    if routes == RouteType.ALL:
        return "ALL"
    return " ".join(letter for bit, letter in _ROUTE_LETTERS if routes & bit)


def _signature(function: Function) -> str:
    args = [f"[{arg.name}]" if arg.optional else arg.name for arg in function.args]
    return f"{function.name}({', '.join(args)})"


def _arg(arg: Arg) -> str:
    """`flags`: str, optional, one of a, o."""
    kind = arg.route_kind if arg.kind is ArgKind.ROUTE else arg.kind.value
    parts = [f"{_code(arg.name)}: {kind}"]
    if arg.optional:
        parts.append("optional")
    if arg.static:
        parts.append("static")
    if arg.choices:
        parts.append("one of " + " ".join(arg.choices))
    return ", ".join(parts)


def _default(param: ModParam) -> str:
    if param.default is None:
        return "unset"
    return _code(repr(param.default) if isinstance(param.default, str) else str(param.default))


def _available(table: ModuleExports, span: VersionSpan) -> str:
    return _versions(span) if table.opensips else "none (Kamailio)"


def _functions(table: ModuleExports) -> list[str]:
    lines = ["### Functions", "", "| Function | Arguments | Routes | Versions | Notes |", "|---|---|---|---|---|"]
    for function in table.functions:
        args = "; ".join(_arg(arg) for arg in function.args) or "–"
        notes = function.doc + (" Also in async()." if function.is_async else "")
        if function.renamed_to:
            notes += f" Renamed {function.renamed_to}."
        lines.append(
            f"| {_cell(_code(_signature(function)))} | {_cell(args)} | {_routes(function.routes)} | "
            f"{_available(table, function.versions)} | {_cell(notes.strip())} |"
        )
    return lines


def _params(table: ModuleExports) -> list[str]:
    lines = ["### Parameters", "", "| Parameter | Type | Default | Versions | Notes |", "|---|---|---|---|---|"]
    for param in table.params:
        kind = param.type.value + (", flag name" if param.flag_name else "")
        kind += ", repeatable" if param.repeatable else ""
        notes = param.doc + (f" Renamed {param.renamed_to}." if param.renamed_to else "")
        lines.append(
            f"| {_code(param.name)} | {kind} | {_cell(_default(param))} | {_available(table, param.versions)} | "
            f"{_cell(notes.strip())} |"
        )
    return lines


def _pvars(table: ModuleExports) -> list[str]:
    lines = ["### Pseudo-variables", "", "| Variable | Access | Versions | Notes |", "|---|---|---|---|"]
    for pvar in table.pvars:
        name = f"${pvar.name}(name)" if pvar.takes_arg else f"${pvar.name}"
        access = "read/write" if pvar.writable else "read"
        lines.append(f"| {_code(name)} | {access} | {_available(table, pvar.versions)} | {_cell(pvar.doc)} |")
    return lines


def _mi(table: ModuleExports) -> list[str]:
    lines = ["### MI commands", "", "| Name | 4.0 name | Parameters | Versions | Notes |", "|---|---|---|---|---|"]
    for command in table.mi:
        params = ", ".join(command.params) or "–"
        lines.append(
            f"| {_code(command.name)} | {_code(command.alias_4_0 or '')} | {_cell(params)} | "
            f"{_available(table, command.versions)} | {_cell(command.doc)} |"
        )
    return lines


def _deps(table: ModuleExports) -> list[str]:
    lines = ["### Dependencies", ""]
    for dep in table.deps:
        line = "- " + " or ".join(_code(name) for name in dep.any_of)
        if dep.when_param:
            line += f" when {_code(dep.when_param)} is set"
            if dep.unless_values:
                line += " to other than " + ", ".join(_code(str(v)) for v in dep.unless_values)
        if dep.doc:
            line += f". {dep.doc}"
        lines.append(line)
    return lines


def render_module_doc(exports: ModuleExports) -> str:
    """One module's page section: what it is, then a table per kind of export it has."""
    lines = [f"## {exports.name}", ""]
    if not exports.opensips:
        lines += [f"**Not an OpenSIPS module.** {exports.replacement or ''}".strip(), ""]
    if exports.doc:
        lines += [exports.doc, ""]
    if _versions(exports.versions) != "all":
        lines += [f"Versions: {_versions(exports.versions)}.", ""]
    sections = []
    if exports.functions:
        sections.append(_functions(exports))
    if exports.params:
        sections.append(_params(exports))
    if exports.pvars:
        sections.append(_pvars(exports))
    if exports.mi:
        sections.append(_mi(exports))
    if exports.stats:
        sections.append(["### Statistics", "", ", ".join(_code(name) for name in exports.stats)])
    if exports.deps:
        sections.append(_deps(exports))
    for section in sections:
        lines += section + [""]
    return "\n".join(lines)


def render_page(names: list[str]) -> str:
    """The page for several modules, with a header saying where it comes from."""
    from opensips_py.modules import known_modules
    args = "--all" if list(names) == list(known_modules()) else " ".join(names)
    header = [
        "# Module reference",
        "",
        "Generated from the exports tables (`opensips_py/modules/<module>.py`) by "
        f"`python -m opensips_py.modules._docgen {args}`; do not edit by hand.",
        "",
        "Routes: R request, F failure, O onreply, B branch, E error, L local, S startup, T timer, V event. "
        f"Versions: the OpenSIPS versions we track ({', '.join(VERSIONS)}) in which the entry exists. "
        "Argument kinds: str (a string or a $pv, formats expanded), int (an integer or a $pv; a quoted number "
        "is rejected), var (a writable $pv), regex, flag (a flag name), static (no $pv), and the route kind a "
        "route-name argument refers to.",
        "",
    ]
    body = []
    for name in names:
        table = exports_of(name)
        if table is None:
            raise SystemExit(f"no exports table for module {name!r}")
        body.append(render_module_doc(table))
    return "\n".join(header) + "\n" + "\n".join(body).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m opensips_py.modules._docgen --all | MODULE…", file=sys.stderr)
        return 2
    if argv == ["--all"]:
        from opensips_py.modules import known_modules
        argv = list(known_modules())
    sys.stdout.write(render_page(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
