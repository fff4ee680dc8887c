"""nathelper: NAT detection and traversal for signalling (Contact/SDP fixing, keepalive pings)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType,
    VersionSpan,
)

# 3.4+ names; 3.2 took the bit values (1, 2, 4, … in this order) as an integer mask.
NAT_UAC_TESTS = (
    "private-contact", "diff-ip-src-via", "private-via", "private-sdp", "diff-port-src-via",
    "diff-ip-src-contact", "diff-port-src-contact", "carrier-grade-nat",
)
FIX_NATED_SDP_FLAGS = (
    "add-dir-active", "rewrite-media-ip", "add-no-rtpproxy", "rewrite-origin-ip", "rewrite-null-ips",
)
_ROFBL = R | O | F | B | L

EXPORTS = ModuleExports(
    name="nathelper",
    doc="NAT helpers: detect a NATed UA, rewrite Contact/SDP to the source address, ping registered "
        "NATed contacts.",
    functions=(
        Function(
            "nat_uac_test", (Arg("flags", ArgKind.INT),), routes=_ROFBL, versions=VersionSpan(until="3.4"),
            doc="3.2: bit mask (1 private Contact, 2 Via != source, 4 private Via, 8 private SDP, 16 port "
                "!= Via, 32 Contact != source, 64 Contact port, 128 RFC 6333).",
        ),
        Function(
            "nat_uac_test", (Arg("flags", choices=NAT_UAC_TESTS),), routes=_ROFBL,
            versions=VersionSpan(since="3.4"), doc="True if any selected test hits.",
        ),
        Function(
            "fix_nated_contact", (Arg("uri_params", optional=True),), routes=R | O | B | L,
            versions=VersionSpan(until="4.0"),
        ),
        Function(
            "fix_nated_contact",
            (Arg("uri_params", optional=True), Arg("flags", optional=True, choices=("preserve-uri",))),
            routes=R | O | B | L, versions=VersionSpan(since="4.0"),
            doc="preserve-uri keeps the original host:port in ;org= for restore_nated_ruri().",
        ),
        Function(
            "restore_nated_ruri", (), routes=R | B | L, versions=VersionSpan(since="4.0"),
            doc="The closest OpenSIPS gets to Kamailio's handle_ruri_alias.",
        ),
        Function(
            "fix_nated_sdp",
            (Arg("flags", ArgKind.INT), Arg("ip", optional=True), Arg("sdp_lines", optional=True)),
            routes=_ROFBL, versions=VersionSpan(until="3.4"),
            doc="3.2: bit mask (1 a=direction:active, 2 c=, 4 nortpproxy, 8 o=, 16 null IPs).",
        ),
        Function(
            "fix_nated_sdp",
            (Arg("flags", choices=FIX_NATED_SDP_FLAGS), Arg("ip", optional=True),
             Arg("sdp_lines", optional=True)),
            routes=_ROFBL, versions=VersionSpan(since="3.4"),
        ),
        Function("fix_nated_register", (), routes=R, doc="Stores the source address in received_avp."),
        Function("add_rcv_param", (Arg("uri_flag", ArgKind.INT, optional=True),), routes=R),
    ),
    params=(
        ModParam("natping_interval", ParamType.INT, 0, doc="Seconds; > 0 needs usrloc."),
        ModParam("ping_nated_only", ParamType.INT, 0),
        ModParam("natping_partitions", ParamType.INT, 1),
        ModParam("natping_socket", ParamType.STR, None),
        ModParam("natping_tcp", ParamType.INT, 0),
        ModParam("received_avp", ParamType.STR, None, doc="An AVP spec; must match registrar's."),
        ModParam("force_socket", ParamType.STR, None),
        ModParam("sipping_bflag", ParamType.STR, None, flag_name=True, doc="A branch flag name, not a number."),
        ModParam("sipping_latency_flag", ParamType.STR, None, flag_name=True),
        ModParam("remove_on_timeout_bflag", ParamType.STR, None, flag_name=True),
        ModParam("sipping_ignore_rpl_codes", ParamType.STR, None),
        ModParam("sipping_from", ParamType.STR, None),
        ModParam("sipping_method", ParamType.STR, "OPTIONS"),
        ModParam("nortpproxy_str", ParamType.STR, "a=nortpproxy:yes"),
        ModParam("oldip_skip", ParamType.STR, None, doc="Letters c and/or o."),
        ModParam("ping_threshold", ParamType.INT, 3),
        ModParam("max_pings_lost", ParamType.INT, 3),
        ModParam("cluster_id", ParamType.INT, 0),
        ModParam("cluster_sharing_tag", ParamType.STR, None),
    ),
    mi=(
        MICommand(
            "nh_enable_ping", ("status",), versions=VersionSpan(until="4.0"),
            doc="status is optional. 4.0 kept no 3.x alias: nathelper:enable_ping.",
        ),
        MICommand("enable_ping", ("status",), versions=VersionSpan(since="4.0"), alias_4_0="nathelper:enable_ping"),
    ),
    deps=(
        Dependency(("usrloc",), when_param="natping_interval", unless_values=(0,)),
    ),
)
