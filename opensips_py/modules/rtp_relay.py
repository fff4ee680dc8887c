"""rtp_relay: engage media anchoring once per call; offers, answers and deletes follow automatically."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, R, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType, PseudoVar,
    VersionSpan,
)

EXPORTS = ModuleExports(
    name="rtp_relay",
    doc="Engine-agnostic media relaying (rtpengine, rtpproxy, or script routes since 3.6) driven by the "
        "dialog or b2b_logic state.",
    functions=(
        Function(
            "rtp_relay_engage", (Arg("engine"), Arg("set", ArgKind.INT, optional=True)), routes=R | F | B,
            doc="engine: a loaded engine module (\"rtpengine\", \"rtpproxy\") or \"route\" (3.6+); checked at "
                "start-up.",
        ),
    ),
    params=(
        ModParam("route_offer", ParamType.STR, "rtp_relay_offer", versions=VersionSpan(since="3.6")),
        ModParam("route_answer", ParamType.STR, "rtp_relay_answer", versions=VersionSpan(since="3.6")),
        ModParam("route_delete", ParamType.STR, "rtp_relay_delete", versions=VersionSpan(since="3.6")),
        ModParam("route_copy_offer", ParamType.STR, "rtp_relay_copy_offer", versions=VersionSpan(since="3.6")),
        ModParam("route_copy_answer", ParamType.STR, "rtp_relay_copy_answer", versions=VersionSpan(since="3.6")),
        ModParam("route_copy_delete", ParamType.STR, "rtp_relay_copy_delete", versions=VersionSpan(since="3.6")),
    ),
    pvars=(
        PseudoVar(
            "rtp_relay", writable=True, takes_arg=True,
            doc="Flags of the current peer; keys flags, peer, ip, type, iface, body, delete, disabled; "
                "indexed by branch.",
        ),
        PseudoVar("rtp_relay_peer", writable=True, takes_arg=True, doc="The same keys, for the other peer."),
        PseudoVar(
            "rtp_relay_ctx", writable=True, takes_arg=True, versions=VersionSpan(since="3.4"),
            doc="callid, from_tag, to_tag, flags, delete. C: since 3.4.",
        ),
    ),
    mi=(
        MICommand("rtp_relay_list", ("engine", "set", "node"), alias_4_0="rtp_relay:list"),
        MICommand(
            "rtp_relay_update", ("engine", "set", "node", "new_set", "new_node"), alias_4_0="rtp_relay:update",
            doc="Asynchronous: re-offers and re-INVITEs both sides.",
        ),
        MICommand(
            "rtp_relay_update_callid", ("callid", "flags", "engine", "set", "node"),
            alias_4_0="rtp_relay:update_callid",
        ),
    ),
    deps=(
        Dependency(("tm",), doc="DEP_ABORT since 3.4 (3.2 reached it through dialog)."),
        Dependency(
            ("dialog", "b2b_logic"),
            doc="DEP_SILENT in the C (3.2: dialog DEP_ABORT); start-up fails when neither is loaded.",
        ),
    ),
)
