"""rtpengine: media anchoring through a Sipwise rtpengine daemon over the ng control protocol."""
from __future__ import annotations

from opensips_py.modules.exports import (
    ALL, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType, PseudoVar,
    VersionSpan,
)

# The common argument shapes: a flag string (space-separated tokens, key=value) and output variables.
_FLAGS = Arg("flags", optional=True)
_SOCK = Arg("sock_var", ArgKind.VAR, optional=True)
_SDP = Arg("sdp_var", ArgKind.VAR, optional=True)
_BODY = Arg("body", optional=True)
_OFFER_ARGS = (_FLAGS, _SOCK, _SDP, _BODY)


def _media_op(name: str, doc: str = "", **kwargs) -> Function:
    """A function taking ([flags], [sock_var]) — delete, recording, block/unblock, forwarding."""
    return Function(name, (_FLAGS, _SOCK), routes=ALL, doc=doc, **kwargs)


EXPORTS = ModuleExports(
    name="rtpengine",
    doc="rtpengine control: offer/answer/delete and media operations; SDP replaced in place unless an "
        "output variable is given. Flags go to the daemon as ng dictionary entries.",
    functions=(
        Function("rtpengine_offer", _OFFER_ARGS, routes=ALL, versions=VersionSpan(until="3.6")),
        Function(
            "rtpengine_offer", _OFFER_ARGS, routes=ALL, versions=VersionSpan(since="3.6"), is_async=True,
            doc="ng \"offer\". Also usable in async() since 3.6.",
        ),
        Function("rtpengine_answer", _OFFER_ARGS, routes=ALL, versions=VersionSpan(until="3.6")),
        Function(
            "rtpengine_answer", _OFFER_ARGS, routes=ALL, versions=VersionSpan(since="3.6"), is_async=True,
            doc="ng \"answer\"; on a request only ACK or PRACK.",
        ),
        Function(
            "rtpengine_manage", _OFFER_ARGS, routes=ALL,
            doc="offer/answer/delete chosen from the method, the direction and the SDP.",
        ),
        _media_op("rtpengine_delete", versions=VersionSpan(until="3.6")),
        _media_op("rtpengine_delete", "ng \"delete\".", versions=VersionSpan(since="3.6"), is_async=True),
        Function(
            "rtpengine_use_set", (Arg("setid", ArgKind.INT),), routes=ALL,
            doc="Selects the set for the following calls in this message context.",
        ),
        _media_op("rtpengine_start_recording"),
        _media_op("rtpengine_stop_recording"),
        _media_op("rtpengine_pause_recording", "C: since 3.6.", versions=VersionSpan(since="3.6")),
        Function(
            "rtpengine_play_media",
            (Arg("flags"), Arg("duration_var", ArgKind.VAR, optional=True), _SOCK), routes=ALL,
            doc="flags must carry file=, blob= or db-id=.",
        ),
        Function("rtpengine_stop_media", (_FLAGS, _SOCK), routes=ALL, versions=VersionSpan(until="3.6")),
        Function(
            "rtpengine_stop_media", (_FLAGS, _SOCK, Arg("last_frame_pos", ArgKind.VAR, optional=True)),
            routes=ALL, versions=VersionSpan(since="3.6"),
        ),
        _media_op("rtpengine_block_media"),
        _media_op("rtpengine_unblock_media"),
        _media_op("rtpengine_block_dtmf"),
        _media_op("rtpengine_unblock_dtmf"),
        _media_op("rtpengine_start_forwarding"),
        _media_op("rtpengine_stop_forwarding"),
        Function("rtpengine_play_dtmf", (Arg("code"), _FLAGS, _SOCK), routes=ALL, doc="code: 0-9 * # A-D."),
    ),
    params=(
        ModParam(
            "rtpengine_sock", ParamType.STR, None, repeatable=True,
            doc="\"[setid ==] url[=weight] url…\"; url udp:host:port, udp6:[v6]:port or unix:/path.",
        ),
        ModParam("rtpengine_disable_tout", ParamType.INT, 60, doc="Seconds a failed node stays disabled."),
        ModParam("rtpengine_retr", ParamType.INT, 5),
        ModParam(
            "rtpengine_tout", ParamType.INT, 1,
            doc="Seconds per try (Kamailio's rtpengine_tout_ms is in milliseconds; 500 here waits 500 s).",
        ),
        ModParam("rtpengine_timer_interval", ParamType.INT, 5, versions=VersionSpan(since="3.4")),
        ModParam("ping_enabled", ParamType.INT, 0, versions=VersionSpan(since="3.6")),
        ModParam("notification_sock", ParamType.STR, None),
        ModParam("extra_id_pv", ParamType.STR, None),
        ModParam("setid_avp", ParamType.STR, None),
        ModParam("error_pv", ParamType.STR, None, versions=VersionSpan(since="3.4")),
        ModParam(
            "extra_failover_error", ParamType.STR, None, repeatable=True, versions=VersionSpan(since="3.6"),
        ),
        ModParam("db_url", ParamType.STR, None),
        ModParam("db_table", ParamType.STR, "rtpengine"),
        ModParam("socket_column", ParamType.STR, "socket"),
        ModParam("set_column", ParamType.STR, "set_id"),
    ),
    pvars=(
        PseudoVar(
            "rtpstat", takes_arg=True,
            doc="Without a name: the totals line; with MOS/jitter/roundtrip/packetloss-*: an integer.",
        ),
        PseudoVar("rtpquery", doc="The ng query reply as JSON."),
    ),
    mi=(
        # 4.0 kept no 3.x alias for these three: only rtpengine:enable/show/reload (or the bare local name).
        MICommand("rtpengine_enable", ("url", "enable"), versions=VersionSpan(until="3.4")),
        MICommand(
            "rtpengine_enable", ("url", "enable", "setid"), versions=VersionSpan(since="3.4", until="4.0"),
            doc="4.0: rtpengine:enable.",
        ),
        MICommand(
            "enable", ("url", "enable", "setid"), versions=VersionSpan(since="4.0"), alias_4_0="rtpengine:enable",
            doc="enable: 0, 1, or 2 (probe).",
        ),
        MICommand("rtpengine_show", (), versions=VersionSpan(until="4.0"), doc="4.0: rtpengine:show."),
        MICommand("show", (), versions=VersionSpan(since="4.0"), alias_4_0="rtpengine:show"),
        MICommand("rtpengine_reload", (), versions=VersionSpan(until="3.4")),
        MICommand(
            "rtpengine_reload", ("type",), versions=VersionSpan(since="3.4", until="4.0"),
            doc="DB-provisioned sets only. 4.0: rtpengine:reload.",
        ),
        MICommand("reload", ("type",), versions=VersionSpan(since="4.0"), alias_4_0="rtpengine:reload"),
        MICommand("teardown", ("callid",), alias_4_0="rtpengine:teardown"),
    ),
    deps=(
        Dependency(("db_*",), when_param="db_url", doc="DEP_WARN in the C; the module cannot load sets without it."),
    ),
)
