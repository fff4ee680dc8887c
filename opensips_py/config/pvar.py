"""Pseudo-variable specs and format strings, read the way OpenSIPS's pv_parse_spec() / pv_parse_format() do.

A spec is `$name`, `$name(inner)`, `$(name(inner)[index]{tr}{tr}…)`, with an optional `<context>` after the
`$` or `$(`. The name runs over `[A-Za-z0-9_.]` and stops at the first other character, so in a format string
"$fu." names the variable "fu." — which OpenSIPS rejects as unknown, and so do we.

Format strings (function string arguments, xlog) are text with specs in it; `$$` is a literal `$`.
"""
from __future__ import annotations

from dataclasses import dataclass

from opensips_py.config.ast import NOPOS, Pos, PVar, Transformation

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")

# Transformations whose last argument may itself contain commas: only the first N commas split.
_ARG_SPLITS = {"re.subst": 0, "s.select": 1, "s.index": 1, "s.rindex": 1, "s.fill.left": 1,
               "s.fill.right": 1, "s.xor": 0, "s.sha1_hmac": 0, "s.sha256_hmac": 0}


class PVarSyntaxError(ValueError):
    """A malformed pseudo-variable; `offset` is where in the text it went wrong."""

    def __init__(self, message: str, offset: int = 0):
        super().__init__(message)
        self.offset = offset


@dataclass
class FormatPart:
    """A piece of a format string: literal text, or a pseudo-variable at `offset` in the string value."""

    text: str | None = None
    pvar: PVar | None = None
    offset: int = 0


def _balanced(text: str, start: int, open_ch: str, close_ch: str) -> int:
    """Index of the `close_ch` matching the `open_ch` just before `start`; -1 when unbalanced."""
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        if ch == open_ch:
            depth += 1
        elif ch == close_ch:
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def _inner(text: str, pos: Pos) -> str | PVar:
    """The inside of `(…)` or `[…]`, or a transformation argument: a nested spec when it is one `$…` (blanks
    around it allowed, as OpenSIPS skips them: `{param.value, $var(x)}`), else the text as written."""
    stripped = text.strip()
    if stripped.startswith("$") and len(stripped) > 1:
        try:
            spec, end = parse_spec(stripped, 0, pos)
            if end == len(stripped):
                return spec
        except PVarSyntaxError:
            pass
    return text


def _split_args(name: str, body: str) -> list[str]:
    """Split a transformation's argument text on commas outside parentheses/brackets/braces."""
    limit = _ARG_SPLITS.get(name)
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in body:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0 and (limit is None or len(parts) < limit):
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _transforms(text: str, start: int, pos: Pos) -> tuple[list[Transformation], int]:
    """Parse `{…}{…}` from `start`; returns the transformations and the index after the last `}`."""
    result: list[Transformation] = []
    i = start
    while i < len(text) and text[i] == "{":
        end = _balanced(text, i + 1, "{", "}")
        if end < 0:
            raise PVarSyntaxError("unterminated transformation '{'", i)
        body = text[i + 1:end]
        name, _, rest = body.partition(",")
        name = name.strip()
        if not name:
            raise PVarSyntaxError("empty transformation '{}'", i)
        args: list[str | PVar] = []
        if _:
            args = [_inner(arg, pos) for arg in _split_args(name, rest)]
        result.append(Transformation(name, args, pos=pos))
        i = end + 1
    return result, i


def parse_spec(text: str, start: int = 0, pos: Pos = NOPOS, in_format: bool = False) -> tuple[PVar, int]:
    """Parse one spec beginning with `$` at `start`; returns it and the index just after it.

    Raises PVarSyntaxError for what OpenSIPS would reject as malformed (not for unknown names: those are the
    checker's business). In a format string (in_format) a `{…}` after a short form is literal text.
    """
    if text.startswith("$msg:len", start):
        return PVar("ml", text="$msg:len", pos=pos, dialect="msg_len"), start + 8
    i = start + 1
    long_form = i < len(text) and text[i] == "("
    if long_form:
        i += 1
    context = None
    if i < len(text) and text[i] == "<":
        close = text.find(">", i)
        if close < 0:
            raise PVarSyntaxError("expected '>' to end the context", i)
        context = text[i + 1:close]
        i = close + 1
    name_start = i
    while i < len(text) and text[i] in _NAME_CHARS:
        i += 1
    name = text[name_start:i]
    if not name:
        raise PVarSyntaxError("expected a variable name after '$'", start)
    arg: str | PVar | None = None
    index: int | str | PVar | None = None
    transforms: list[Transformation] = []
    if i < len(text) and text[i] == "(":
        end = _balanced(text, i + 1, "(", ")")
        if end < 0:
            raise PVarSyntaxError(f"unbalanced '(' in ${name}(", i)
        if end == i + 1:
            raise PVarSyntaxError(f"${name}() needs a name inside the parentheses", i)
        arg = _inner(text[i + 1:end], pos)
        i = end + 1
    short_transforms = False
    if long_form:
        if i < len(text) and text[i] == "[":
            end = _balanced(text, i + 1, "[", "]")
            if end < 0:
                raise PVarSyntaxError("unbalanced '[' in index", i)
            raw = text[i + 1:end]
            if not raw:
                raise PVarSyntaxError("empty index '[]'", i)
            index = _index(raw, pos)
            i = end + 1
        transforms, i = _transforms(text, i, pos)
        if i >= len(text) or text[i] != ")":
            raise PVarSyntaxError(f"expected ')' to end $({name}…", i)
        i += 1
    elif not in_format and i < len(text) and text[i] == "{":
        # `$ru{uri.user}` outside a string: OpenSIPS silently ignores the `{…}`.
        transforms, i = _transforms(text, i, pos)
        short_transforms = True
    spec = PVar(name, arg, index, transforms, context, long_form, short_transforms, text[start:i], pos)
    return spec, i


def _index(raw: str, pos: Pos) -> int | str | PVar:
    raw = raw.strip()
    if raw.lstrip("-").isdigit():
        return int(raw)
    if raw in ("*", "append"):
        return raw
    inner = _inner(raw, pos)
    return inner


def parse_pvar_token(text: str, pos: Pos = NOPOS) -> PVar:
    """Parse a whole PVAR token from the grammar."""
    spec, end = parse_spec(text, 0, pos)
    if end != len(text):
        raise PVarSyntaxError(f"unexpected {text[end:]!r} after {text[:end]}", end)
    return spec


def parse_format(value: str, pos: Pos = NOPOS) -> list[FormatPart]:
    """Split a format string into literal text and pseudo-variables (`$$` -> `$`)."""
    parts: list[FormatPart] = []
    literal: list[str] = []
    i = 0
    while i < len(value):
        dollar = value.find("$", i)
        if dollar < 0:
            literal.append(value[i:])
            break
        literal.append(value[i:dollar])
        if value.startswith("$$", dollar):
            literal.append("$")
            i = dollar + 2
            continue
        spec, end = parse_spec(value, dollar, pos, in_format=True)
        if literal:
            parts.append(FormatPart(text="".join(literal)))
            literal = []
        spec.text = value[dollar:end]
        parts.append(FormatPart(pvar=spec, offset=dollar))
        i = end
    if literal and "".join(literal):
        parts.append(FormatPart(text="".join(literal)))
    return parts


def has_pvars(value: str) -> bool:
    """True when a string would be expanded as a format (it holds a `$` that is not `$$`)."""
    return "$" in value.replace("$$", "")
