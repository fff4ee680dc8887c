"""What a module implementation looks like, and how the interpreter binds script calls to it.

A module file (`opensips_py/modules/sl.py`) keeps its `EXPORTS` table at the top and, once implemented, a
`class Module(ModuleBase)` below it. The interpreter builds one instance per process at start-up with the
module's modparams, calls `init()`, and binds each script call `f(…)` to the method of the same name:

    def sl_send_reply(self, ctx: MsgContext, code: int, reason: str) -> int

Arguments arrive converted by their exports kind (opensips_py.script.binding): INT → int, STR → str (the
format already expanded), FLAG/ROUTE → str, REGEX → a compiled pattern, VAR → a writable PVRef; an omitted
optional argument is None. The return code follows OpenSIPS: >0 true, <0 false, 0 stops the script.

A function of the table without a method is "not implemented yet": a config that calls it refuses to start
and says so (never a silent no-op).

Asynchronous forms (functions marked `is_async` in the table, usable in `async(f(…), route)` and
`launch(f(…), route)`): the method `async_<name>(self, ctx, …)` takes the same arguments as the synchronous one
and returns an int when the work completed at once, or an `opensips_py.script.async_engine.Pending` it
resumes later with `pending.resume(rc)` (from a timer of `core.add_timer()`, a reply…). Without that method,
async()/launch() run the synchronous form (docs/functions.md, "Asynchronous functions").
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from opensips_py.modules.exports import ModuleExports, ParamType

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.script.context import Value


class ModuleInitError(Exception):
    """A module cannot start with this config (bad parameter value, unreachable database…)."""


class ModuleBase:
    """Base of every module implementation.

    `params` holds every modparam setting of this module, in config order (repeatable parameters keep them
    all). `core` is the proxy core (sockets, timers, other modules). Subclasses add script functions as
    methods, and may provide `pvars()` and `stats()`.
    """

    exports: ModuleExports  # set by the subclass: the module's EXPORTS

    def __init__(self, core: Any, params: dict[str, list["Value"]]):
        self.core = core
        self.params = params

    # ---------------------------------------------------------------------------------- parameters
    def param(self, name: str) -> "Value":
        """The last setting of a modparam, or its default from the exports table."""
        values = self.params.get(name)
        if values:
            return values[-1]
        for spec in self.exports.params:
            if spec.name == name:
                return spec.default
        raise KeyError(f"{self.exports.name} has no parameter {name}")

    def int_param(self, name: str) -> int:
        value = self.param(name)
        if isinstance(value, str):
            try:
                return int(value, 0)
            except ValueError as exc:
                raise ModuleInitError(f"{self.exports.name}: parameter {name} must be an integer, got "
                                      f"{value!r}") from exc
        return int(value or 0)

    def db_url(self, name: str = "db_url") -> str | None:
        """A database URL parameter, or the core's db_default_url when the config leaves it unset: OpenSIPS
        modules fill their URL that way at start-up (init_db_url), so one global line serves them all."""
        value = self.param(name)
        if value:
            return str(value)
        settings = getattr(self.core, "settings", None)
        return getattr(settings, "db_default_url", None) or None

    def param_values(self, name: str) -> list["Value"]:
        """Every setting of a repeatable parameter, in order."""
        return list(self.params.get(name, []))

    # ---------------------------------------------------------------------------------- lifecycle
    def init(self) -> None:
        """Start-up, after every module is built (other modules are reachable through core)."""

    def destroy(self) -> None:
        """Shutdown."""

    # ---------------------------------------------------------------------------------- extras
    def pvars(self) -> dict[str, Any]:
        """Pseudo-variables this module implements: name -> PVHandler (opensips_py.script.pvars)."""
        return {}

    def stats(self) -> dict[str, int]:
        """Statistics by OpenSIPS name."""
        return {}

    def mi_commands(self) -> dict[str, Callable]:
        """Management commands this module implements: OpenSIPS name -> handler(params) -> JSON-able result.
        `params` is the JSON-RPC params (a dict of named params, or a list of positional ones); a handler
        raises opensips_py.mi.MIError(code, message) for an MI error reply."""
        return {}

    async def serve(self) -> None:
        """Long-running work of the live host (an MI listener, a pinger): started in the server's nursery
        after init(), cancelled at shutdown. The default does nothing and returns at once."""
        return None

    def function(self, name: str) -> Callable | None:
        """The implementation of script function `name`, or None when it is not implemented yet."""
        method = getattr(self, name, None)
        return method if callable(method) else None

    def async_function(self, name: str) -> Callable | None:
        """The asynchronous form of script function `name` (method `async_<name>`), or None."""
        method = getattr(self, f"async_{name}", None)
        return method if callable(method) else None


def param_type_ok(kind: ParamType, value: "Value") -> bool:
    if kind == ParamType.STR_OR_INT:
        return True
    return isinstance(value, int) if kind == ParamType.INT else isinstance(value, str)
