"""json: JSON documents in script variables ($json) with path access, linking and merge patches."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, S, T, V, Arg, ArgKind, Function, ModParam, ModuleExports, ParamType, PseudoVar,
    VersionSpan,
)

EXPORTS = ModuleExports(
    name="json",
    doc="$json(id/key[idx]/key) reads and writes into a JSON document held by the process; `:=` assigns "
        "parsed JSON, `=` a plain value; [] appends, negative indexes count from the end.",
    functions=(
        Function("json_link", (Arg("dest", ArgKind.VAR), Arg("source", ArgKind.VAR)),
                 routes=R | F | O | B | L | S | T | V,
                 doc="Make dest refer to source's object (no copy): changes show in both."),
        Function(
            "json_merge",
            (Arg("main_json_var"), Arg("patch_json_var"), Arg("output_var", ArgKind.VAR)),
            versions=VersionSpan(since="3.6"), doc="RFC 7386 merge patch of two JSON strings into output_var.",
        ),
    ),
    params=(
        ModParam("enable_long_quoting", ParamType.INT, 0, versions=VersionSpan(since="3.4"),
                 doc="Print integers beyond 2^53 as quoted strings."),
    ),
    pvars=(
        PseudoVar("json", writable=True, takes_arg=True, doc="$json(id[/path]): compact JSON for objects."),
        PseudoVar("json_compact", writable=True, takes_arg=True, doc="As $json, printed compactly."),
        PseudoVar("json_pretty", writable=True, takes_arg=True, doc="As $json, printed indented."),
        PseudoVar("json_compact_noescape", writable=True, takes_arg=True, versions=VersionSpan(since="4.0"),
                  doc="Compact, without escaping slashes."),
    ),
)

# ------------------------------------------------------------------------------------------------ implementation
# Behaviour read in modules/json/json.c of OpenSIPS 3.4–4.0 (json-c underneath): $json(id[/key][[idx]]…)
# names a document of the process and a path into it. Reading gives an integer or a string as such and
# anything else printed as json-c prints it (spaced for $json, plain for $json_compact, 2-space indented
# for $json_pretty, `/` escaped unless _noescape). `:=` parses its text as JSON, `=` stores the value as
# an integer or a string, `= NULL` deletes; a path must lead to an existing object/array (only the last
# key or index is created); `[]` appends, negative indexes count from the end. json_link makes two names
# share one object. Not here: variables inside the path ($json(doc/$var(k))), the [*] for-each iteration.

import json as _json  # noqa: E402
import re as _re  # noqa: E402

from opensips_py.modules.base import ModuleBase  # noqa: E402
from opensips_py.script.pvars import ALL, Handler  # noqa: E402

_APPEND = object()
_PATH = _re.compile(r"/([^/\[\]]+)|\[(-?\d*)\]")


def parse_json_name(text: str) -> tuple[str, list]:
    """'doc/a[0]/b[]' → ('doc', ['a', 0, 'b', _APPEND])."""
    match = _re.match(r"[^/\[\]]+", text or "")
    if match is None:
        raise ValueError(f"bad json name {text!r}")
    steps: list = []
    position = match.end()
    while position < len(text):
        step = _PATH.match(text, position)
        if step is None:
            raise ValueError(f"bad json path {text!r}")
        if step.group(1) is not None:
            steps.append(step.group(1))
        else:
            steps.append(_APPEND if step.group(2) == "" else int(step.group(2)))
        position = step.end()
    return match.group(0), steps


def _escape(text: str, slashes: bool) -> str:
    out = []
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "/" and slashes:
            out.append("\\/")
        elif ch in "\b\f\n\r\t":
            out.append({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif code < 0x20:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def to_json_string(value, spaced: bool = False, pretty: bool = False, escape_slash: bool = True,
                   level: int = 0) -> str:
    """json-c's json_object_to_json_string_ext() for the SPACED, PLAIN and PRETTY flags."""
    def inner(item):
        return to_json_string(item, spaced, pretty, escape_slash, level + 1)

    def indent(depth: int) -> str:
        return "  " * depth if pretty else ""

    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if any(c in text for c in ".eEn") else text + ".0"
    if isinstance(value, str):
        return '"' + _escape(value, escape_slash) + '"'
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            colon = '": ' if spaced else '":'
            parts.append((" " if spaced and not pretty else "") + indent(level + 1) + '"'
                         + _escape(str(key), escape_slash) + colon + inner(item))
        opening, closing = "{", "}"
    else:
        parts = [(" " if spaced and not pretty else "") + indent(level + 1) + inner(item) for item in value]
        opening, closing = "[", "]"
    text = opening + ("\n" if pretty else "") + ("," + ("\n" if pretty else "")).join(parts)
    if pretty:
        text += ("\n" if parts else "") + indent(level)
    return text + (" " + closing if spaced and not pretty else closing)


class Module(ModuleBase):
    exports = EXPORTS

    def init(self) -> None:
        self.documents: dict[str, object] = {}
        self.long_quoting = bool(self.int_param("enable_long_quoting"))

    # ---------------------------------------------------------------------------------- paths
    def _walk(self, name: str, steps: list, parent: bool):
        """The value at the path (or its container and last step with parent=True); KeyError if absent."""
        if name not in self.documents:
            raise KeyError(name)
        current = self.documents[name]
        walk = steps[:-1] if parent else steps
        for step in walk:
            if isinstance(step, str):
                if not isinstance(current, dict) or step not in current:
                    raise KeyError(step)
                current = current[step]
            elif step is _APPEND:
                raise KeyError("[]")
            else:
                if not isinstance(current, list) or not -len(current) <= step < len(current):
                    raise KeyError(step)
                current = current[step]
        return (current, steps[-1]) if parent else current

    def _read(self, arg, index, spaced: bool, pretty: bool, escape_slash: bool):
        try:
            name, steps = parse_json_name(arg or "")
            value = self._walk(name, steps, parent=False)
        except (KeyError, ValueError):
            return None
        if isinstance(index, int):
            if isinstance(value, list):
                if not -len(value) <= index < len(value):
                    return None
                value = value[index]
            elif isinstance(value, dict):
                values = list(value.values())
                if not 0 <= index < len(values):
                    return None
                value = values[index]
            else:
                return None
        elif index == ALL:
            return None
        if isinstance(value, bool) or value is None or isinstance(value, (dict, list, float)):
            return to_json_string(value, spaced, pretty, escape_slash)
        if isinstance(value, int):
            if self.long_quoting and not -2**31 <= value < 2**31:
                return str(value)
            return value
        return value

    def _write(self, ctx, arg, value, op: str) -> None:
        try:
            name, steps = parse_json_name(arg or "")
        except ValueError as exc:
            self.core.logger.log(-1, str(exc), module="json")
            return
        if value is not None and op == ":=":
            try:
                new = _json.loads(str(value))
            except ValueError as exc:
                self.core.logger.log(-1, f"Error parsing json: {exc}", module="json")
                self._store(name, steps, None)
                return
        else:
            new = value if value is None or isinstance(value, int) else str(value)
        self._store(name, steps, new)

    def _store(self, name: str, steps: list, new) -> None:
        if not steps:
            if new is None:
                self.documents.pop(name, None)
            else:
                self.documents[name] = new
            return
        if name not in self.documents:
            self.core.logger.log(-1, "Object is not initialized yet", module="json")
            return
        try:
            container, last = self._walk(name, steps, parent=True)
        except KeyError:
            self.core.logger.log(2, "Could not find object with that path", module="json")
            return
        if isinstance(last, str):
            if not isinstance(container, dict):
                return
            if new is None:
                container.pop(last, None)
            else:
                container[last] = new
        elif isinstance(container, list):
            if last is _APPEND:
                if new is None:
                    self.core.logger.log(-1, "Invalid parameter for deletion", module="json")
                    return
                container.append(new)
            elif -len(container) <= last < len(container):
                if new is None:
                    del container[last]
                else:
                    container[last] = new
            else:
                self.core.logger.log(-1, f"Attempting to replace at invalid index in array:{last}", module="json")

    def pvars(self) -> dict:
        def reader(spaced: bool, pretty: bool, escape_slash: bool):
            return lambda ctx, arg, index: self._read(arg, index, spaced, pretty, escape_slash)

        def writer(ctx, arg, index, value, op):
            self._write(ctx, arg, value, op)

        return {"json": Handler("json", reader(True, False, True), writer),
                "json_compact": Handler("json_compact", reader(False, False, True), writer),
                "json_pretty": Handler("json_pretty", reader(False, True, True), writer),
                "json_compact_noescape": Handler("json_compact_noescape", reader(False, False, False), writer)}

    # ---------------------------------------------------------------------------------- functions
    def json_link(self, ctx, dest, source) -> int:
        """dest names the same object as source (no copy)."""
        try:
            name, steps = parse_json_name(source._arg(ctx) or "")
            target = self._walk(name, steps, parent=False)
            dest_name, dest_steps = parse_json_name(dest._arg(ctx) or "")
        except KeyError:
            self.core.logger.log(-1, "Variable not found, or no object with that path", module="json")
            return -1
        except ValueError as exc:
            self.core.logger.log(-1, str(exc), module="json")
            return -1
        self._store(dest_name, dest_steps, target)
        return 1

    def json_merge(self, ctx, main_json_var: str, patch_json_var: str, output_var) -> int:
        """RFC 7386 merge patch; the result printed minified."""
        try:
            main, patch = _json.loads(main_json_var), _json.loads(patch_json_var)
        except ValueError:
            self.core.logger.log(-1, "Failed to parse a param", module="json")
            return -1
        output_var.set(ctx, _json.dumps(merge_patch(main, patch), separators=(",", ":"), ensure_ascii=False))
        return 1


def merge_patch(target, patch):
    """RFC 7386 §2."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
