"""loadmodule and modparam: E201–E206, V601 for modules and modparams, P705."""
from __future__ import annotations

import fnmatch
import re

from opensips_py.config import ast
from opensips_py.config.check.context import Context, span_edit
from opensips_py.config.check.exports_index import exports_index
from opensips_py.config.printer import Printer
from opensips_py.config.diagnostics import Fix
from opensips_py.modules import core
from opensips_py.modules.exports import Dependency, ModParam, ParamType, VersionSpan
from opensips_py.modules.names import OPENSIPS_MODULES
from opensips_py.modules.kamailio import KAMAILIO_MODULES
from opensips_py.modules.not_opensips import NOT_OPENSIPS_MODULES

_DB_SCHEMES = {"mysql": "db_mysql", "postgres": "db_postgres", "postgresql": "db_postgres", "sqlite": "db_sqlite",
               "text": "db_text", "flatstore": "db_flatstore", "virtual": "db_virtual", "unixodbc": "db_unixodbc",
               "oracle": "db_oracle", "berkeley": "db_berkeley", "http": "db_http"}
_PREFERRED = {"tls_openssl|tls_wolfssl": "tls_openssl", "sl|tm": "sl", "tm|sl": "sl"}


def check_modules(ctx: Context) -> None:
    seen: dict[str, ast.LoadModule] = {}
    index = exports_index()
    for stmt in ctx.config.statements:
        if not isinstance(stmt, ast.LoadModule):
            continue
        name = stmt.module
        if name in seen:
            if name in ("proto_udp", "proto_tcp"):
                continue  # static modules: OpenSIPS only warns
            first = seen[name]
            ctx.report("E202", stmt.pos, f"module {name} loaded twice (first at line {first.pos.line}): "
                       "OpenSIPS refuses to start", hint="remove the second loadmodule",
                       fix=ctx.comment_out_fix(stmt, f"duplicate of line {first.pos.line}"))
            continue
        seen[name] = stmt
        table = index.modules.get(name)
        if table is None:
            _unknown_module(ctx, stmt)
        elif not table.opensips:
            ctx.report("E201", stmt.path.pos, f"{name} is not an OpenSIPS module",
                       hint=table.replacement or table.doc or None)
        elif not ctx.in_target(table.versions):
            replacement = table.replacement
            ctx.report("V601", stmt.path.pos, f"module {name} does not exist in OpenSIPS {ctx.target}",
                       hint=f"use {replacement}" if replacement else None)


def _unknown_module(ctx: Context, stmt: ast.LoadModule) -> None:
    name = stmt.module
    if name in OPENSIPS_MODULES:
        since, until = OPENSIPS_MODULES[name]
        if ctx.target is not None and not VersionSpan(since, until).includes(ctx.target):
            ctx.report("V601", stmt.path.pos, f"module {name} does not exist in OpenSIPS {ctx.target}")
        else:
            ctx.report("N208", stmt.path.pos, f"{name} is not checked: opensips-py has no exports table for it",
                       hint="its parameters, functions and variables are taken on trust")
        return
    hint = NOT_OPENSIPS_MODULES.get(name)
    if hint is None and name in KAMAILIO_MODULES:
        hint = KAMAILIO_MODULES[name]
        message = f"{name} is a Kamailio module, not an OpenSIPS one"
    elif hint is not None:
        message = f"{name} is not an OpenSIPS module"
    else:
        message = f"unknown module {name}"
        hint = "opensips-py knows no such OpenSIPS module; check the name (docs/modules.md lists them)"
    ctx.report("E201", stmt.path.pos, message, hint=hint)


def _matching_modules(pattern: str, loaded: list[str]) -> list[str] | None:
    """Modules whose name matches modparam's first argument: an anchored, case-insensitive ERE."""
    try:
        regex = re.compile(f"^({pattern})$", re.IGNORECASE)
    except re.error:
        return None
    return [name for name in loaded if regex.match(name)]


def check_modparams(ctx: Context) -> None:
    loaded_so_far: list[str] = []
    all_loaded = [m.module for m in ctx.load_order]
    for stmt in ctx.config.statements:
        if isinstance(stmt, ast.LoadModule):
            loaded_so_far.append(stmt.module)
        elif isinstance(stmt, ast.ModParam):
            if stmt.module.value == "core":
                _core_modparam(ctx, stmt)
                continue
            matches = _matching_modules(stmt.module.value, loaded_so_far)
            if not matches:
                later = _matching_modules(stmt.module.value, all_loaded)
                if matches is None:
                    hint = "the module argument is a regular expression over module names; this one is invalid"
                elif later:
                    hint = f"move it below loadmodule \"{later[0]}.so\" (modparam sees only modules loaded above it)"
                elif ":" in stmt.module.value:
                    base = stmt.module.value.split(":", 1)[0]
                    hint = (f"there is no module:sub syntax; for tls_mgm domains use "
                            f"modparam(\"{base}\", \"server_domain\", \"name\") and \"[name]value\" in the "
                            f"per-domain parameters")
                else:
                    hint = f"add loadmodule \"{stmt.module.value}.so\" above it"
                ctx.report("E203", stmt.module.pos, f"no loaded module matches \"{stmt.module.value}\"", hint=hint)
                continue
            for module in matches:
                _check_param(ctx, stmt, module)


def _core_modparam(ctx: Context, stmt: ast.ModParam) -> None:
    name = stmt.param.value
    known = any(core.global_param(name, v) for v in ("3.2", "3.4", "3.6", "4.0"))
    fix = None
    if known and isinstance(stmt.value, (ast.Int, ast.Str)):
        value = Printer().value(stmt.value)
        fix = Fix(f"rewrite as the global parameter {name}", (span_edit(stmt.pos, f"{name} = {value}"),))
    ctx.report("P705", stmt.module.pos, "there is no module \"core\": core settings are global parameters",
               hint=f"write {name} = {Printer().value(stmt.value)}" if known else
               f"'{name}' is not a core parameter either", fix=fix)


def _check_param(ctx: Context, stmt: ast.ModParam, module: str) -> None:
    table = exports_index().modules.get(module)
    if table is None and module in OPENSIPS_MODULES:
        return  # a real module we have no table for: N208 said so at its loadmodule
    if table is None or not table.opensips:
        if stmt.module.value == module:
            hint = NOT_OPENSIPS_MODULES.get(module) or KAMAILIO_MODULES.get(module) or (
                table.replacement if table is not None else None)
            ctx.report("E201", stmt.module.pos, f"{module} is not an OpenSIPS module: this modparam sets nothing",
                       hint=hint)
        return
    name = stmt.param.value
    candidates = table.param(name)
    in_target = [p for p in candidates if ctx.in_target(p.versions)]
    if not in_target:
        renamed = next((p.renamed_to for p in candidates if p.renamed_to), None)
        fix = None
        if renamed:
            fix = Fix(f"rename {name} to {renamed}", (span_edit(stmt.param.pos, f'"{renamed}"'),))
        if candidates:
            ctx.report("V601", stmt.param.pos, f"{module} has no parameter {name} in OpenSIPS {ctx.target}",
                       hint=f"use \"{renamed}\"" if renamed else None, fix=fix)
        else:
            hint = _param_hint(module, name)
            ctx.report("E204", stmt.param.pos, f"module {module} has no parameter \"{name}\"", hint=hint)
        return
    _check_value(ctx, stmt, module, in_target)
    if module == "tls_mgm" and name in _tls_per_domain_params():
        _check_tls_domain(ctx, stmt)


def _tls_per_domain_params() -> set[str]:
    from opensips_py.modules import tls_mgm
    return {p.name for p in tls_mgm.EXPORTS.params if p.doc.endswith(tls_mgm._PER_DOMAIN)}


_DOMAIN_PREFIX = re.compile(r"^\[([^\]]+)\]")


def _check_tls_domain(ctx: Context, stmt: ast.ModParam) -> None:
    value = stmt.value.value if isinstance(stmt.value, (ast.Str, ast.FoldedStr)) else str(
        getattr(stmt.value, "value", ""))
    declared = {str(v) for name in ("server_domain", "client_domain")
                for v in _modparam_values(ctx, "tls_mgm", name) if v is not None}
    match = _DOMAIN_PREFIX.match(value)
    if match is None:
        example = next(iter(sorted(declared)), "default")
        ctx.report("E207", stmt.value.pos, f"tls_mgm \"{stmt.param.value}\" needs a \"[domain]\" prefix",
                   hint=(f'declare a domain with modparam("tls_mgm", "server_domain", "{example}") and write '
                         f'"[{example}]{value}"'))
    elif match.group(1) not in declared:
        ctx.report("E207", stmt.value.pos, f"tls_mgm domain [{match.group(1)}] is not declared",
                   hint=f'add modparam("tls_mgm", "server_domain", "{match.group(1)}") (or client_domain) '
                        "before it")


_PARAM_HINTS = {
    ("dialog", "cluster_replicate_dialogs"): 'the parameter is "dialog_replication_cluster" (the id of a '
                                             "clusterer cluster)",
    ("dialog", "dlg_timeout"): 'no maximum lifetime parameter: "default_timeout" sets the dialog timeout '
                               "(per call: $DLG_timeout)",
    ("tls_mgm", "tls_ciphers"): 'the parameter is "ciphers_list" ("[domain]CIPHERS" in 3.x)',
    ("tls_mgm", "tls_max_allowed_version"): 'tls_method takes a range: "[domain]TLSv1_2-TLSv1_3"',
    ("tls_mgm", "tls_min_allowed_version"): 'tls_method takes a range: "[domain]TLSv1_2-" (1.2 and up)',
    ("tls_mgm", "tls_domain"): 'declare domains with modparam("tls_mgm", "server_domain", "name") or '
                               '"client_domain", then prefix their settings with "[name]"',
    ("proto_wss", "wss_keepalive"): "no such parameter: keep-alives are the core's tcp_keepalive/tcp_keepidle "
                                    "(and the client's own WebSocket pings)",
    ("registrar", "accept_j_header"): "no such parameter in any OpenSIPS registrar: remove it",
    ("rtpengine", "queued_requests_limit"): "a Kamailio rtpengine parameter; OpenSIPS's rtpengine has none: "
                                            "remove it",
    ("rtp_relay", "engines"): 'rtp_relay has no engine list: choose the engine per call with '
                              'rtp_relay_engage("rtpengine"), and set rtpengine_sock in the rtpengine module',
    ("clusterer", "my_seed_node_id"): "no such parameter: a seed node is marked by the \"seed\" flag of its "
                                      "row in the clusterer table (or my_node_info's flags)",
}


def _param_hint(module: str, name: str) -> str:
    if (module, name) in _PARAM_HINTS:
        return _PARAM_HINTS[(module, name)]
    params = sorted({p.name for p in exports_index().modules[module].params})
    close = [p for p in params if _similar(p, name)]
    if close:
        return "did you mean " + " or ".join(f"\"{p}\"" for p in close[:3]) + "?"
    return f"OpenSIPS refuses to start with an unknown parameter; docs/modules.md lists {module}'s parameters"


def _similar(a: str, b: str) -> bool:
    import difflib
    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.75


def _check_value(ctx: Context, stmt: ast.ModParam, module: str, params: list[ModParam]) -> None:
    value = stmt.value
    types = {p.type for p in params}
    flag_name = any(p.flag_name for p in params)
    if isinstance(value, ast.Word):
        ctx.report("E205", value.pos, f"bare word {value.name} as a modparam value", hint=f'quote it: "{value.name}"',
                   fix=Fix("quote it", (span_edit(value.pos, f'"{value.name}"'),)))
        return
    is_int = isinstance(value, ast.Int)
    if ParamType.STR_OR_INT in types:
        return
    if is_int and ParamType.INT not in types:
        what = "a flag name (string)" if flag_name else "a string"
        fix = Fix("quote it", (span_edit(value.pos, f'"{value.raw or value.value}"'),))
        ctx.report("E205", value.pos, f"{module} parameter \"{stmt.param.value}\" takes {what}, not an integer",
                   hint=(f'3.x flags are names: modparam("{module}", "{stmt.param.value}", "NAT") and '
                         f'setbflag("NAT")' if flag_name else f'quote it: "{value.raw or value.value}"'), fix=fix)
    elif not is_int and ParamType.STR not in types:
        text = value.value if isinstance(value, (ast.Str, ast.FoldedStr)) else ""
        fix = None
        if text.strip().lstrip("-").isdigit():
            fix = Fix("unquote the number", (span_edit(value.pos, text.strip()),))
        ctx.report("E205", value.pos, f"{module} parameter \"{stmt.param.value}\" takes an integer",
                   hint="write the number without quotes" if fix else None, fix=fix)


# ------------------------------------------------------------------------------------------------ dependencies

def _modparam_values(ctx: Context, module: str, param: str) -> list:
    values = []
    for stmt in ctx.config.statements:
        if isinstance(stmt, ast.ModParam) and stmt.param.value == param:
            matches = _matching_modules(stmt.module.value, [module])
            if matches:
                value = stmt.value
                values.append(value.value if isinstance(value, (ast.Int, ast.Str, ast.FoldedStr)) else None)
    return values


def _satisfied(ctx: Context, dep: Dependency) -> bool:
    loaded = list(ctx.loaded)
    return any(fnmatch.fnmatch(name, pattern) for pattern in dep.any_of for name in loaded)


def _applies(ctx: Context, module: str, dep: Dependency) -> bool:
    if dep.when_param is None:
        return True
    values = _modparam_values(ctx, module, dep.when_param)
    if not values:
        return False
    return any(v not in dep.unless_values and str(v) not in {str(u) for u in dep.unless_values} for v in values)


def check_dependencies(ctx: Context) -> None:
    index = exports_index()
    for name, stmt in ctx.loaded.items():
        table = index.modules.get(name)
        if table is None or not table.opensips or not ctx.in_target(table.versions):
            continue
        for dep in table.deps:
            if not _applies(ctx, name, dep) or _satisfied(ctx, dep):
                continue
            candidate = _candidate(ctx, name, dep)
            wanted = " or ".join(dep.any_of).replace("*", "…")
            why = f" (because {dep.when_param} is set)" if dep.when_param else ""
            fix = ctx.insert_loadmodule_fix(candidate) if candidate else None
            ctx.report("E206", stmt.pos, f"module {name} needs {wanted} loaded{why}",
                       hint=f'add loadmodule "{candidate}.so"' if candidate else dep.doc or None, fix=fix)


def _candidate(ctx: Context, module: str, dep: Dependency) -> str | None:
    """The one module --fix may add for a dependency, when there is an obvious one."""
    if dep.any_of == ("db_*",):
        urls = [v for v in _modparam_values(ctx, module, "db_url") if isinstance(v, str)]
        urls += [v for v in _global_db_urls(ctx)]
        for url in urls:
            scheme = url.split(":", 1)[0].lower()
            if scheme in _DB_SCHEMES:
                return _DB_SCHEMES[scheme]
        return None
    if any("*" in pattern for pattern in dep.any_of):
        return None
    if len(dep.any_of) == 1:
        return dep.any_of[0]
    return _PREFERRED.get("|".join(dep.any_of))


def _global_db_urls(ctx: Context) -> list[str]:
    return [s.value.value for s in ctx.config.statements
            if isinstance(s, ast.GlobalParam) and s.name == "db_default_url" and isinstance(s.value, ast.Str)]
