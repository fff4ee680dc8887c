"""siprec: SIP session recording (RFC 7866): fork the media of a call to a recording server (SRS)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    O, R, Arg, Dependency, Function, ModParam, ModuleExports, ParamType, PseudoVar, VersionSpan,
)

EXPORTS = ModuleExports(
    name="siprec",
    doc="Acts as the recording client: opens a B2B session to the SRS with the call's metadata and "
        "forked media. 3.2 forks media with rtpproxy; 3.3+ through rtp_relay (rtpproxy or rtpengine).",
    functions=(
        Function(
            "siprec_start_recording",
            (Arg("srs"), Arg("group", optional=True), Arg("caller", optional=True), Arg("callee", optional=True),
             Arg("rtpproxy_sock", optional=True), Arg("media_ip", optional=True), Arg("headers", optional=True)),
            routes=R | O, versions=VersionSpan(until="3.3"),
            doc="Start recording to the comma list of SRS URIs (3.2 form).",
        ),
        Function("siprec_start_recording", (Arg("srs"),), routes=R | O,
                 versions=VersionSpan(since="3.3", until="3.6"),
                 doc="Start recording; details go in $siprec fields first."),
        Function("siprec_start_recording", (Arg("srs"), Arg("instance", optional=True)), routes=R | O,
                 versions=VersionSpan(since="3.6"), doc="Start recording (one of several named instances)."),
        Function("siprec_pause_recording", (), versions=VersionSpan(since="3.3", until="3.6")),
        Function("siprec_resume_recording", (), versions=VersionSpan(since="3.3", until="3.6")),
        Function("siprec_pause_recording", (Arg("instance", optional=True),), versions=VersionSpan(since="3.6")),
        Function("siprec_resume_recording", (Arg("instance", optional=True),), versions=VersionSpan(since="3.6")),
        Function("siprec_stop_recording", (Arg("instance", optional=True),), versions=VersionSpan(since="3.6")),
        Function(
            "siprec_send_indialog",
            (Arg("hdrs", optional=True), Arg("body", optional=True), Arg("instance", optional=True)),
            versions=VersionSpan(since="3.6"), doc="Send an in-dialog request to the SRS.",
        ),
    ),
    params=(
        ModParam("media_port_min", ParamType.INT, 35000, versions=VersionSpan(until="3.3")),
        ModParam("media_port_max", ParamType.INT, 65000, versions=VersionSpan(until="3.3")),
        ModParam("skip_failover_codes", ParamType.STR, "",
                 doc="Regex of SRS reply codes that stop trying the next SRS."),
    ),
    pvars=(
        PseudoVar("siprec", writable=True, takes_arg=True, versions=VersionSpan(since="3.3"),
                  doc="$siprec(field): group, caller, callee, media_ip, headers, socket, … for the next start."),
    ),
    deps=(
        Dependency(("tm",)),
        Dependency(("dialog",)),
        Dependency(("b2b_entities",)),
        Dependency(("rtp_relay", "rtpproxy"),
                   doc="3.2 needs rtpproxy; 3.3 and later need rtp_relay (dependencies carry no version span, "
                       "so either satisfies this one)."),
    ),
)
