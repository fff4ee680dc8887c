"""The MI command registry: every command of the core and of the loaded modules, by OpenSIPS name.

Names: each command has its 3.x name (`ul_dump`, `get_statistics`), which is what `which` lists, and the
4.0 namespaced name `module:command` (`usrloc:dump`, `statistics:get`, `core:ps`) resolves to it too, as do
4.0's bare local names (`dump`) when only one module has them (mi/mi.c lookup_mi_cmd, 4.0). A local name
that several modules share is "ambiguous" (-32001, with the candidate names in "data").

A command is a handler plus, optionally, its recipes (opensips_py.mi.params). Handlers with recipes get a
dict of the matched parameters; handlers without get the raw JSON-RPC params ({} when absent), as
ModuleBase.mi_commands() promises. A handler returns a JSON-able result, may return an awaitable (the
transport awaits it), and raises MIError for an error reply.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from opensips_py.mi.errors import AMBIGUOUS_METHOD, METHOD_NOT_FOUND, MIError
from opensips_py.mi.params import Params, Recipe, match_recipe

Handler = Callable[[Any], Any]


@dataclass
class MICommand:
    """One registered command."""

    name: str                      # the 3.x name: what `which` lists
    handler: Handler
    module: str = "core"           # OpenSIPS module (group) name: "core", "statistics", "usrloc"…
    recipes: tuple[Recipe, ...] | None = None
    named_only: bool = False
    aliases: tuple[str, ...] = ()  # other names that resolve to it (4.0 "usrloc:dump")
    doc: str = ""

    def call(self, params: Params) -> Any:
        """Run the handler: its result, or an awaitable of it. Raises MIError."""
        if self.recipes is not None:
            return self.handler(match_recipe(self.recipes, params, self.named_only))
        return self.handler(params if params else {})


@dataclass
class MIRegistry:
    """Commands by name; lookups follow OpenSIPS 3.x names first, then 4.0 names and aliases."""

    commands: dict[str, MICommand] = field(default_factory=dict)
    _aliases: dict[str, list[MICommand]] = field(default_factory=dict)

    def add(self, command: MICommand) -> MICommand:
        if command.name in self.commands:
            raise ValueError(f"MI command {command.name} already registered")
        self.commands[command.name] = command
        local = command.name.split(":", 1)[-1]
        names = set(command.aliases) or {f"{command.module}:{local}"}
        for alias in names - {command.name}:
            self._aliases.setdefault(alias, []).append(command)
        return command

    def register(self, name: str, handler: Handler, module: str = "core", *, alias_4_0: str | None = None,
                 doc: str = "") -> MICommand:
        """Register a handler; recipes come from its @recipes marks when it has them."""
        aliases = (alias_4_0,) if alias_4_0 else ()
        return self.add(MICommand(
            name=name, handler=handler, module=module, recipes=getattr(handler, "mi_recipes", None),
            named_only=getattr(handler, "mi_named_only", False), aliases=aliases,
            doc=doc or (inspect.getdoc(handler) or "").split("\n")[0]))

    def register_module(self, module: Any) -> None:
        """Register a module instance's mi_commands(), with the 4.0 names of its exports table."""
        table = getattr(module, "exports", None)
        group = getattr(table, "name", "core")
        alias_by_name = {c.name: c.alias_4_0 for c in getattr(table, "mi", ()) if c.alias_4_0}
        docs = {c.name: c.doc for c in getattr(table, "mi", ())}
        for name, handler in module.mi_commands().items():
            # a handler may name its 4.0 alias itself when the table's 4.0 entry is a separate command
            # (rtpengine_show -> rtpengine:show)
            alias = alias_by_name.get(name) or getattr(handler, "mi_alias_4_0", None)
            self.register(name, handler, group, alias_4_0=alias, doc=docs.get(name, ""))

    def lookup(self, name: str) -> MICommand:
        """The command for a method name; MIError -32601 (not found) or -32001 (ambiguous)."""
        command = self.commands.get(name)
        if command is not None:
            return command
        matches = self._aliases.get(name, [])
        if ":" not in name:
            # 4.0 local names: the part after "module:" of a namespaced alias
            matches = matches + [c for alias, cs in self._aliases.items() if ":" in alias
                                 and alias.split(":", 1)[1] == name for c in cs]
        unique = list(dict.fromkeys(id(c) for c in matches))
        if len(unique) == 1:
            return matches[0]
        if len(unique) > 1:
            names = ", ".join(dict.fromkeys(f"{c.module}:{c.name.split(':', 1)[-1]}" for c in matches))
            raise MIError(AMBIGUOUS_METHOD, details=f"supported names: {names}")
        raise MIError(METHOD_NOT_FOUND)

    def names(self) -> list[str]:
        return list(self.commands)

    def execute(self, name: str, params: Params = None) -> Any:
        """Look up and call; returns the result or an awaitable of it."""
        return self.lookup(name).call(params)


async def resolve(result: Any) -> Any:
    """Await a handler's result when it is awaitable."""
    if inspect.isawaitable(result):
        return await result
    return result


__all__ = ["MICommand", "MIRegistry", "Handler", "resolve", "Awaitable"]
