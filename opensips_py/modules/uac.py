"""uac: the proxy acting as a UAC: From/To rewriting with restore, and upstream digest authentication."""
from __future__ import annotations

from opensips_py.modules.auth import DIGEST_ALGORITHMS
from opensips_py.modules.exports import (
    B, F, R, Arg, ArgKind, Dependency, Function, ModParam, ModuleExports, ParamType, VersionSpan,
)

EXPORTS = ModuleExports(
    name="uac",
    doc="From/To replacement (restored in sequential requests and replies) and answering 401/407 "
        "challenges with uac_auth credentials.",
    functions=(
        Function(
            "uac_replace_from", (Arg("display", optional=True), Arg("uri")), routes=R | B | F,
            doc="\"\" display removes it; \"\" uri keeps the URI.",
        ),
        Function("uac_replace_to", (Arg("display", optional=True), Arg("uri")), routes=R | B | F),
        Function("uac_restore_from", (), routes=R | B | F, doc="For restore_mode=manual."),
        Function("uac_restore_to", (), routes=R | B | F),
        Function(
            "uac_auth", (Arg("algorithms", optional=True, choices=DIGEST_ALGORITHMS),), routes=R | B | F,
            doc="In failure_route on 401/407: adds credentials, increments CSeq. Needs uac_auth loaded "
                "(start-up error otherwise). C: the algorithms argument exists since 3.2.",
        ),
        Function(
            "uac_inc_cseq", (Arg("cseq", ArgKind.INT),), routes=R | B | F, versions=VersionSpan(since="3.6"),
            doc="C: since 3.6 (the reference says 4.0).",
        ),
    ),
    params=(
        ModParam("restore_mode", ParamType.STR, "auto", doc="none, manual or auto (the default when unset)."),
        ModParam("restore_passwd", ParamType.STR, ""),
        ModParam("rr_from_store_param", ParamType.STR, "vsf"),
        ModParam("rr_to_store_param", ParamType.STR, "vst"),
        ModParam("force_dialog", ParamType.INT, 0),
    ),
    deps=(
        Dependency(("tm",), doc="DEP_ABORT."),
        Dependency(("rr",), when_param="restore_mode", unless_values=("none",)),
    ),
)
