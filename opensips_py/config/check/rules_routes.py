"""Routes: the route call graph and what depends on it — E304, E401, E402, W403, E406, N409, E410, P701, P702."""
from __future__ import annotations

from collections.abc import Iterator

from opensips_py.config import ast
from opensips_py.config.check.context import ROUTE_TYPE_OF_KIND, Context, prefix_edit, span_edit, walk_nodes
from opensips_py.config.check.exports_index import exports_index
from opensips_py.config.diagnostics import Edit, Fix
from opensips_py.modules import core
from opensips_py.modules.exports import VERSIONS, RouteType

_TYPE_NAMES = {RouteType.REQUEST: "request route", RouteType.FAILURE: "failure_route",
               RouteType.ONREPLY: "onreply_route", RouteType.BRANCH: "branch_route", RouteType.ERROR: "error_route",
               RouteType.LOCAL: "local_route", RouteType.STARTUP: "startup_route", RouteType.TIMER: "timer_route",
               RouteType.EVENT: "event_route"}


def route_label(route: ast.Route) -> str:
    if route.dialect == "function":
        return f"function {route.name}()"
    if route.dialect == "request_route":
        return "request_route"
    return f"{route.kind}[{route.name}]" if route.name is not None else route.kind


def is_top_level(route: ast.Route) -> bool:
    """Routes the core runs by itself (everything but named sub-routes)."""
    return not (route.kind == "route" and route.name not in (None, "0"))


def _static_target(call: ast.RouteCall) -> str | None:
    if isinstance(call.target, str) and "$" not in call.target:
        return call.target
    return None


def route_calls(nodes) -> Iterator[tuple[str, ast.Pos, object]]:
    """(route name, position, node) for every static route reference among nodes: route(x), async resume
    routes, launch report routes."""
    for child in nodes:
        if isinstance(child, ast.RouteCall):
            name = _static_target(child)
            if name is not None:
                yield name, child.pos, child
        elif isinstance(child, ast.AsyncCall):
            yield child.resume_route, child.pos, child
        elif isinstance(child, ast.LaunchCall) and child.report_route:
            yield child.report_route, child.pos, child


def _function_calls(ctx: Context, nodes) -> Iterator[ast.Call]:
    for child in nodes:
        if isinstance(child, ast.Call):
            route = ctx.route("route", child.name)
            if route is not None and route.dialect == "function":
                yield child


def check_definitions(ctx: Context) -> None:
    seen: dict[tuple[str, str | None], ast.Route] = {}
    words = core.RESERVED_WORDS if ctx.target is None else core.reserved_words(ctx.target)
    for route in ctx.config.routes():
        key = (route.kind, None if route.kind == "route" and route.name in (None, "0") else route.name)
        if key in seen:
            first = seen[key]
            what = "the main route" if key == ("route", None) else route_label(route)
            ctx.report("E402", route.pos, f"{what} is defined twice (first at {first.pos.file}:{first.pos.line})",
                       hint="OpenSIPS keeps the last definition: merge the two blocks")
        else:
            seen[key] = route
        if route.kind in ("failure_route", "branch_route") and route.name is None:
            ctx.report("E406", route.pos, f"{route.kind} needs a name: {route.kind}[name] {{ … }}",
                       hint="it is armed by name with t_on_failure(\"name\") / t_on_branch(\"name\")")
        if route.kind == "timer_route" and route.interval is None:
            ctx.report("E406", route.pos, "timer_route needs an interval: timer_route[name, seconds]")
        if route.kind != "timer_route" and route.interval is not None:
            ctx.report("E406", route.pos, f"only timer_route takes an interval, not {route.kind}")
        if route.kind == "onreply_route" and route.name == "0":
            ctx.report("N409", route.name_pos, "onreply_route[0] is the reply route named \"0\", not the global one",
                       hint="the global reply route is written onreply_route { … }")
        if route.name is not None and route.name in words and _unquoted(ctx, route.name_pos):
            ctx.report("E410", route.name_pos, f"'{route.name}' is a reserved word in OpenSIPS",
                       hint=f'quote it: {route.kind}["{route.name}"] and route("{route.name}")')
        if route.dialect == "request_route":
            ctx.report("P701", route.pos, "request_route is Kamailio's name for the main route",
                       hint="OpenSIPS writes route { … }",
                       fix=Fix("rename to route", (prefix_edit(route.pos, len("request_route"), "route"),)))
        elif route.dialect == "function":
            _function_block(ctx, route)
    for node in ctx.all_nodes():
        if isinstance(node, ast.RouteCall):
            name = _static_target(node)
            if name is not None and name in words and _unquoted(ctx, node.target_pos):
                ctx.report("E410", node.target_pos, f"'{name}' is a reserved word in OpenSIPS",
                           hint=f'quote it: route("{name}")')


def _unquoted(ctx: Context, pos: ast.Pos) -> bool:
    if ctx.source is None or pos.line == 0:
        return True
    line = ctx.source.source_line(pos.file, pos.line)
    return not line[pos.column - 1:pos.column].startswith(('"', "'"))


def _function_block(ctx: Context, route: ast.Route) -> None:
    edits = [Edit(route.pos.file, (route.pos.line, route.pos.column), (route.body.pos.line, route.body.pos.column),
                  f"route[{route.name}] ")]
    for node in ctx.nodes_of(route):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Int) and node.value.value == 0:
            edits.append(span_edit(node.value.pos, "-1"))
    ctx.report("P702", route.pos, f"'function {route.name}()' is not OpenSIPS syntax: OpenSIPS has routes",
               hint=f"route[{route.name}] {{ … }} called as route({route.name}); in a route, return 0 stops the "
                    "whole script, so return -1 for false",
               fix=Fix("turn the function into a route", tuple(edits)))


def check_references(ctx: Context) -> None:
    """E401 undefined routes, W403 routes nobody uses."""
    called: set[str] = set()
    dynamic = False
    for route in ctx.config.routes():
        nodes = ctx.nodes_of(route)
        for name, pos, node in route_calls(nodes):
            called.add(name)
            if ctx.route("route", name) is None:
                ctx.report("E401", pos, f"route[{name}] is not defined",
                           hint="OpenSIPS only finds this at start-up (\"called route is not defined\")")
        for call in _function_calls(ctx, nodes):
            called.add(call.name)
        for node in nodes:
            if isinstance(node, ast.RouteCall) and _static_target(node) is None:
                dynamic = True
    strings = ctx.strings_anywhere()
    for route in ctx.config.routes():
        if route.name is None or route.kind in ("timer_route", "event_route", "startup_route", "local_route",
                                                "error_route"):
            continue
        if route.kind == "route":
            if route.name == "0" or dynamic or route.name in called or route.name in strings:
                continue
            ctx.report("W403", route.pos, f"{route_label(route)} is never called")
        elif route.name not in strings:
            arming = {"failure_route": "t_on_failure", "branch_route": "t_on_branch",
                      "onreply_route": "t_on_reply"}.get(route.kind, "")
            ctx.report("W403", route.pos, f"{route_label(route)} is never armed",
                       hint=f'{arming}("{route.name}") arms it' if arming else None)


def check_route_types(ctx: Context) -> None:
    """E304: every function reached from a top-level route must allow that route's type."""
    visited: set = set()
    for route in ctx.config.routes():
        if not is_top_level(route):
            continue
        route_type = ROUTE_TYPE_OF_KIND[route.kind]
        _walk_route(ctx, route, route_type, [route_label(route)], visited)
    if ctx.target is not None:
        # OpenSIPS parses every route[...] as a request route, whoever calls it.
        for route in ctx.config.routes():
            if not is_top_level(route):
                for call in _calls(ctx.nodes_of(route)):
                    allowed = _allowed(ctx, call.name)
                    if allowed is not None and not allowed & RouteType.REQUEST:
                        ctx.report("E304", call.pos, f"{call.name}() cannot be used in {route_label(route)}: "
                                   "OpenSIPS checks every route[...] as a request route",
                                   hint=f"{call.name}() is allowed in {_type_list(allowed)} only; call it "
                                        "directly there")


def _calls(nodes) -> Iterator[ast.Call]:
    for child in nodes:
        if isinstance(child, ast.Call):
            yield child
        elif isinstance(child, ast.AsyncCall):
            yield child.call


def _allowed(ctx: Context, name: str) -> RouteType | None:
    offers = [o for o in exports_index().functions.get(name, []) if ctx.in_target(o.item.versions)]
    if not offers:
        return None
    mask = RouteType(0)
    for offer in offers:
        mask |= offer.item.routes
    return mask


def _walk_route(ctx: Context, route: ast.Route, route_type: RouteType, chain: list[str], visiting: set) -> None:
    key = (route.kind, route.name, route_type)
    if key in visiting:
        return  # already walked for this route type (the first chain found is the one reported)
    visiting.add(key)
    nodes = ctx.nodes_of(route)
    for call in _calls(nodes):
        allowed = _allowed(ctx, call.name)
        if allowed is not None and not allowed & route_type:
            via = " → ".join(chain)
            ctx.report("E304", call.pos, f"{call.name}() cannot be used in a {_TYPE_NAMES[route_type]} "
                       f"(reached from {via})", hint=f"{call.name}() is allowed in {_type_list(allowed)}")
    for name, _, node in route_calls(nodes):
        sub = ctx.route("route", name)
        if sub is not None:
            _walk_route(ctx, sub, route_type, chain + [f"route({name})"], visiting)
    for call in _function_calls(ctx, nodes):
        sub = ctx.route("route", call.name)
        _walk_route(ctx, sub, route_type, chain + [f"{call.name}()"], visiting)


def _type_list(mask: RouteType) -> str:
    if mask == RouteType.ALL:
        return "every route"
    return ", ".join(name for bit, name in _TYPE_NAMES.items() if mask & bit)


__all__ = ["check_definitions", "check_references", "check_route_types", "route_label", "is_top_level",
           "route_calls", "VERSIONS"]
