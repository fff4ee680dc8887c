"""exec: run external commands from the script (blocking only when their output is wanted)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    F, L, O, R, S, T, V, Arg, ArgKind, Function, ModParam, ModuleExports, ParamType,
)

EXPORTS = ModuleExports(
    name="exec",
    doc="exec() starts /bin/sh -c command. Without stdout/stderr variables it does not wait; inside "
        "async() it suspends the message instead of blocking the process.",
    functions=(
        Function(
            "exec",
            (Arg("command"), Arg("stdin", optional=True), Arg("stdout", ArgKind.VAR, optional=True),
             Arg("stderr", ArgKind.VAR, optional=True), Arg("envavp", ArgKind.VAR, optional=True)),
            routes=R | F | O | L | S | T | V, is_async=True,
            doc="envavp values become OSIPS_EXEC_0, OSIPS_EXEC_1, … in the command's environment.",
        ),
    ),
    params=(
        ModParam("time_to_kill", ParamType.INT, 0, doc="Seconds before a running command is killed (0: never)."),
        ModParam("setvars", ParamType.INT, 0, doc="Export SIP message fields as environment variables."),
    ),
)
