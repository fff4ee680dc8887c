"""mi_script: run MI commands from the script (optionally async)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    Arg, ArgKind, Dependency, Function, ModParam, ModuleExports, ParamType,
)

EXPORTS = ModuleExports(
    name="mi_script",
    doc="mi() runs an MI command in the calling process and returns its JSON result.",
    functions=(
        Function(
            "mi",
            (Arg("command"), Arg("ret_var", ArgKind.VAR, optional=True),
             Arg("params_avp", ArgKind.VAR, optional=True), Arg("vals_avp", ArgKind.VAR, optional=True)),
            is_async=True,
            doc='Run "cmd [p1 p2 …]" (or named params from the two AVPs); the JSON result into ret_var.',
        ),
    ),
    params=(
        ModParam("pretty_printing", ParamType.INT, 0),
        ModParam("trace_destination", ParamType.STR, doc="A proto_hep `hep_id` name to trace MI calls to."),
        ModParam("trace_bwlist", ParamType.STR, doc='"w: cmd, …" or "b: cmd, …".'),
    ),
    deps=(
        Dependency(("proto_hep",), when_param="trace_destination", doc="Tracing goes through proto_hep."),
    ),
)

# ------------------------------------------------------------------------------------------------ implementation
# Behaviour read in modules/mi_script/mi_script.c (OpenSIPS 3.2–4.0): the command runs in the calling process
# through the MI registry (opensips_py/mi), with the JSON-RPC result printed compactly into ret_var.

import inspect as _inspect  # noqa: E402
import json as _json  # noqa: E402
from typing import Any  # noqa: E402

from opensips_py.mi import MIError  # noqa: E402
from opensips_py.mi.errors import METHOD_NOT_FOUND, SERVER_ERROR, AMBIGUOUS_METHOD  # noqa: E402
from opensips_py.mi.host import registry_of  # noqa: E402
from opensips_py.modules.base import ModuleBase  # noqa: E402
from opensips_py.script.pvars import ALL  # noqa: E402


def split_command(text: str) -> tuple[str, str]:
    """mi_script_get_method(): the method is what comes before the first space, the rest its parameters."""
    method, _, rest = text.partition(" ")
    return method.strip(), rest


def _avp_values(ctx, ref) -> list:
    """Every value of an AVP reference, newest first (search_first_avp's order)."""
    values = ref.handler.get(ctx, ref._arg(ctx), ALL)
    if values is None:
        return []
    return list(values) if isinstance(values, list) else [values]


def _param_value(value: Any) -> Any:
    """A value AVP as a JSON parameter: an int stays a number; "__array(a b c)" is an array of strings."""
    if isinstance(value, int):
        return value
    text = "" if value is None else str(value)
    if text.startswith("__array(") and text.endswith(")"):
        inner = text[len("__array("):-1]
        return inner.split(" ") if inner else [""]
    return text


def build_params(ctx, inline: str, names, values) -> dict | list | None:
    """mi_script_parse_request(): the JSON-RPC params from the command text or from the two AVPs."""
    if names is None and values is not None:  # only values given: used as the names (positional)
        names, values = values, None
    if names is None:
        tokens = [token for token in inline.split(" ") if token]
        return tokens or None
    keys = _avp_values(ctx, names)
    if values is None:
        return [str(k) for k in keys] or None
    vals = _avp_values(ctx, values)
    if len(vals) < len(keys):
        raise ValueError("missing attribute")
    return {str(key): _param_value(value) for key, value in zip(keys, vals)}


class Module(ModuleBase):
    exports = EXPORTS

    def init(self) -> None:
        self.pretty = bool(self.int_param("pretty_printing"))

    def _print(self, result: Any) -> str:
        if self.pretty:
            return _json.dumps(result, indent="\t", ensure_ascii=False)
        return _json.dumps(result, separators=(",", ":"), ensure_ascii=False)

    def mi(self, ctx, command: str, ret_var=None, params_avp=None, vals_avp=None) -> int:
        """Run an MI command: 1 on success (the result's JSON in ret_var), the negated error code on an MI
        error (its message in ret_var), -1 for an unknown command (ret_var untouched), -3 otherwise."""
        method, inline = split_command(command or "")
        registry = registry_of(self.core)
        try:
            cmd = registry.lookup(method)
        except MIError as exc:
            if exc.code in (METHOD_NOT_FOUND, AMBIGUOUS_METHOD):
                return -1
            raise
        try:
            params = build_params(ctx, inline, params_avp, vals_avp)
        except ValueError as exc:
            self.core.logger.error(f"mi({method}): {exc}", "mi_script")
            if ret_var is not None:
                ret_var.set(ctx, "could not parse script params!")
            return -2
        try:
            result = cmd.call(params)
            if _inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if callable(close):
                    close()
                raise MIError(SERVER_ERROR, "command answers asynchronously: not available from the script")
        except MIError as exc:
            if ret_var is not None:
                ret_var.set(ctx, exc.message)
            return -exc.code if exc.code > 0 else exc.code
        except Exception as exc:  # noqa: BLE001 - a handler bug: the script gets an error, the proxy goes on
            self.core.logger.error(f"mi({method}): {exc}", "mi_script")
            if ret_var is not None:
                ret_var.set(ctx, "failed to build MI response")
            return -3
        if ret_var is not None:
            ret_var.set(ctx, None if result is None else self._print(result))
        return 1
