"""aaa_diameter: a Diameter client/server (freeDiameter) for AAA and custom Diameter requests."""
from __future__ import annotations

from opensips_py.modules.exports import (
    V, Arg, ArgKind, Function, MICommand, ModParam, ModuleExports, ParamType, VersionSpan,
)

_SEND_REQUEST_ARGS = (Arg("app_id", ArgKind.INT), Arg("cmd_code", ArgKind.INT), Arg("avps_json"),
                      Arg("rpl_avps_pv", ArgKind.VAR, optional=True))

EXPORTS = ModuleExports(
    name="aaa_diameter",
    doc="Provides the AAA API (aaa_url \"diameter:freeDiameter.conf\") to auth_aaa, acc, group…, and since "
        "3.3 script functions to send Diameter requests (AVPs as JSON); requests received raise E_DM_REQUEST.",
    functions=(
        Function("dm_send_request", _SEND_REQUEST_ARGS, versions=VersionSpan(since="3.3", until="3.5"),
                 doc="Send a request; the answer's AVPs as JSON into rpl_avps_pv."),
        Function("dm_send_request", _SEND_REQUEST_ARGS, versions=VersionSpan(since="3.5"), is_async=True,
                 doc="Send a request; the answer's AVPs as JSON into rpl_avps_pv."),
        Function("dm_send_answer", (Arg("avps_json"), Arg("is_error", ArgKind.INT, optional=True)), routes=V,
                 versions=VersionSpan(since="3.5"), doc="Answer the request of the E_DM_REQUEST event."),
    ),
    params=(
        ModParam("fd_log_level", ParamType.INT, 3, doc="freeDiameter log level (0 annoying … 6 fatal)."),
        ModParam("realm", ParamType.STR, "diameter.test", doc="Destination-Realm of requests."),
        ModParam("peer_identity", ParamType.STR, "server", doc="Destination-Host of requests."),
        ModParam("answer_timeout", ParamType.INT, 2000, versions=VersionSpan(since="3.3"),
                 doc="Milliseconds to wait for an answer."),
        ModParam("aaa_url", ParamType.STR, versions=VersionSpan(since="3.4"),
                 doc='"diameter:/path/freeDiameter.conf[;extra-avps-file:/path]".'),
        ModParam("max_json_log_size", ParamType.INT, 512, versions=VersionSpan(since="4.0")),
    ),
    mi=(
        MICommand("fd_log_level", ("log_level",), alias_4_0="aaa_diameter:fd_log_level",
                  doc="Change the freeDiameter log level."),
    ),
)
