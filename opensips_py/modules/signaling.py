"""signaling: one reply function that answers statefully when a transaction exists, else statelessly."""
from __future__ import annotations

from opensips_py.modules.exports import (
    E, F, R, Arg, ArgKind, Dependency, Function, ModuleExports, PseudoVar,
)

EXPORTS = ModuleExports(
    name="signaling",
    doc="send_reply(): t_reply when tm has a transaction, sl_send_reply otherwise. Registrar and auth "
        "reply through it.",
    functions=(
        Function(
            "send_reply", (Arg("code", ArgKind.INT), Arg("reason")), routes=R | F | E,
            doc="A quoted code (\"200\") is rejected: the code is an integer.",
        ),
    ),
    pvars=(
        PseudoVar("sig_local_totag", doc="The To-tag the next local reply will carry."),
    ),
    deps=(
        # Both are DEP_SILENT in the C; mod_init fails when neither is loaded.
        Dependency(("tm", "sl"), doc="At least one of tm or sl must be loaded."),
    ),
)
