"""MI parameters: picking the command "recipe" that fits the call, and reading typed values, as OpenSIPS does.

An OpenSIPS MI command has one or more recipes, each a list of parameter names (mi/mi.c get_cmd_recipe):
`log_level` has (), ("level",) and ("level", "pid"). A call matches the recipe with as many parameters as it
sends; named parameters must then carry exactly the recipe's names, positional ones are taken in the
recipe's order (two recipes of the same length make a positional call ambiguous). Empty params, `{}` or
`[]`, are the same as no params at all.

Handlers of commands declared with recipes receive a dict {name: value} for the matched recipe. Values are
read with the getters below, which accept what OpenSIPS accepts (mi/item.c): a string parameter may come
as a JSON number, an integer one as a numeric string.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence, TypeVar

from opensips_py.mi.errors import (
    AMBIGUOUS_CALL, INVALID_PARAMS, PARAM_COUNT, PARAM_HANDLING, PARAM_NAMES, POSITIONAL_NOT_ALLOWED,
    SERVER_ERROR, MIError, invalid_params,
)

Recipe = tuple[str, ...]
Params = dict[str, Any] | list[Any] | None
F = TypeVar("F", bound=Callable[..., Any])


def recipes(*accepted: Sequence[str], named_only: bool = False) -> Callable[[F], F]:
    """Declare the parameter lists a command handler accepts; the dispatcher then matches the call against
    them and passes the handler a dict. `@recipes((), ("level",), ("level", "pid"))`."""

    def mark(handler: F) -> F:
        handler.mi_recipes = tuple(tuple(r) for r in accepted)  # type: ignore[attr-defined]
        handler.mi_named_only = named_only  # type: ignore[attr-defined]
        return handler

    return mark


def match_recipe(accepted: Sequence[Recipe], params: Params, named_only: bool = False) -> dict[str, Any]:
    """The call's parameters as {name: value} for the recipe they fit; MIError -32602 when none fits."""
    if not params:
        if any(len(r) == 0 for r in accepted):
            return {}
        raise invalid_params(PARAM_COUNT)
    if isinstance(params, list):
        if named_only:
            raise invalid_params(POSITIONAL_NOT_ALLOWED)
        fitting = [r for r in accepted if r and len(r) == len(params)]
        if len(fitting) > 1:
            raise invalid_params(AMBIGUOUS_CALL)
        if not fitting:
            raise invalid_params(PARAM_COUNT)
        return dict(zip(fitting[0], params))
    count_matched = False
    for recipe in accepted:
        if not recipe or len(recipe) != len(params):
            continue
        count_matched = True
        if all(name in params for name in recipe):
            return {name: params[name] for name in recipe}
    raise invalid_params(PARAM_NAMES if count_matched else PARAM_COUNT)


# ------------------------------------------------------------------------------------------------ getters

def _present(params: dict[str, Any], name: str) -> Any:
    if name not in params:
        # OpenSIPS: the call matched a recipe, so a missing name is the handler's own fault.
        raise MIError(SERVER_ERROR, details=PARAM_HANDLING)
    return params[name]


def get_str(params: dict[str, Any], name: str) -> str:
    """A string parameter; a JSON number is accepted and turned into its decimal text."""
    value = _present(params, name)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise invalid_params(f"Bad type for parameter '{name}'")
    if isinstance(value, float):
        return str(int(value))
    return str(value)


def get_int(params: dict[str, Any], name: str) -> int:
    """An integer parameter: a JSON number, or a string holding a signed decimal integer."""
    value = _present(params, name)
    if isinstance(value, bool):
        raise invalid_params(f"Bad type for parameter '{name}'")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in "+-" else text
        if digits.isdigit():
            return int(text)
    raise invalid_params(f"Bad type for parameter '{name}'")


def get_array(params: dict[str, Any], name: str) -> list[Any]:
    """An array parameter (get_statistics' "statistics"); an empty array is refused as OpenSIPS does."""
    value = _present(params, name)
    if not isinstance(value, list):
        raise invalid_params(f"Bad type for parameter '{name}'")
    if not value:
        raise invalid_params(f"Empty array in parameter '{name}'")
    return value


def get_str_array(params: dict[str, Any], name: str) -> list[str]:
    """An array of strings (numbers accepted as their text)."""
    items = get_array(params, name)
    out: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise MIError(INVALID_PARAMS, details=f"Bad type for array item in parameter '{name}'")
        out.append(str(item))
    return out
