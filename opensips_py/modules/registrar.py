"""registrar: REGISTER processing (RFC 3261 §10) into usrloc, and lookup() of registered contacts."""
from __future__ import annotations

from opensips_py.modules.exports import (
    ALL, B, F, L, O, R, Arg, ArgKind, Dependency, Function, ModParam, ModuleExports, ParamType, VersionSpan,
)

# 3.4+ save() flag names (lib/reg/save_flags.c). The last four take "=value" (max-contacts=5, …).
SAVE_FLAGS = (
    "memory-only", "no-reply", "socket-header", "path-strict", "path-lazy", "path-off", "path-received",
    "force-registration", "only-request-contacts", "max-contacts", "min-expires", "max-expires", "matching-mode",
)
# 3.4+ lookup() flag names (lib/reg/lookup.c). ua-filtering and max-ping-latency take "=value".
LOOKUP_FLAGS = (
    "method-filtering", "no-branches", "global", "sort-by-latency", "branch", "to-branches-only",
    "case-insensitive", "extended-regexp", "ua-filtering", "max-ping-latency",
)

EXPORTS = ModuleExports(
    name="registrar",
    doc="Registrar: save() stores the REGISTER's bindings in usrloc and replies through signaling; "
        "lookup() turns an AoR into the R-URI and branches.",
    functions=(
        Function(
            "save",
            (Arg("domain", static=True), Arg("flags", optional=True), Arg("aor", optional=True),
             Arg("ownership_tag", optional=True)),
            routes=R | O, versions=VersionSpan(until="3.4"),
            doc="3.2 flags are letters parsed per call: m r o s v f cN eN EN p0/p1/p2 M0/M1/M<param>; an "
                "unknown letter is ignored with a warning.",
        ),
        Function(
            "save",
            (Arg("domain", static=True), Arg("flags", optional=True, choices=SAVE_FLAGS),
             Arg("aor", optional=True), Arg("ownership_tag", optional=True)),
            routes=R | O, versions=VersionSpan(since="3.4"),
            doc="domain names the usrloc table (\"location\"). Flags: comma list of names, max-contacts=N, "
                "min-expires=N, max-expires=N, matching-mode=V; 3.2 letters are a start-up error. "
                "1 ok, -2 error (reply sent), -1 reply failed.",
        ),
        Function(
            "lookup", (Arg("domain", static=True), Arg("flags", optional=True), Arg("aor", optional=True)),
            routes=R | F | O, versions=VersionSpan(until="3.4"),
            doc="3.2 flags are letters: b B r m u/re/ i e g yN Y.",
        ),
        Function(
            "lookup",
            (Arg("domain", static=True), Arg("flags", optional=True, choices=LOOKUP_FLAGS),
             Arg("aor", optional=True)),
            routes=R | F | O, versions=VersionSpan(since="3.4"),
            doc="1 found; 2 only push-notification contacts; -1 none; -2 method not allowed; -3 error. "
                "ua-filtering=/re/ and max-ping-latency=N take values.",
        ),
        Function(
            "remove",
            (Arg("domain", static=True), Arg("aor"), Arg("contact", optional=True), Arg("next_hop", optional=True),
             Arg("sip_instance", optional=True)),
            routes=R | O, versions=VersionSpan(until="3.6"),
        ),
        Function(
            "remove",
            (Arg("domain", static=True), Arg("aor"), Arg("contact", optional=True), Arg("next_hop", optional=True),
             Arg("sip_instance", optional=True), Arg("bflag", ArgKind.FLAG, optional=True)),
            routes=R | O, versions=VersionSpan(since="3.6"),
            doc="bflag: a branch flag name (C: since 3.6).",
        ),
        Function(
            "remove_ip_port",
            (Arg("ip"), Arg("port", ArgKind.INT), Arg("domain", static=True), Arg("aor", optional=True)),
            routes=ALL, versions=VersionSpan(since="3.4"),
            doc="C: since 3.4 (the reference says 4.0).",
        ),
        Function(
            "is_registered", (Arg("domain", static=True), Arg("aor", optional=True)), routes=R | F | O | B | L,
        ),
        Function(
            "is_contact_registered",
            (Arg("domain", static=True), Arg("aor", optional=True), Arg("contact", optional=True),
             Arg("callid", optional=True)),
            routes=R | F | O | B | L,
        ),
        Function(
            "is_ip_registered",
            (Arg("domain", static=True), Arg("aor", optional=True), Arg("ip_var", ArgKind.VAR)),
            routes=R | F | O | B | L, versions=VersionSpan(until="3.4"),
        ),
        Function(
            "is_ip_registered",
            (Arg("domain", static=True), Arg("aor", optional=True), Arg("ip_var", ArgKind.VAR),
             Arg("port_var", ArgKind.VAR, optional=True)),
            routes=R | F | O | B | L, versions=VersionSpan(since="3.4"),
            doc="C: the port variable exists since 3.4 (the reference says 3.6).",
        ),
        Function("add_sock_hdr", (Arg("hdr_name"),), routes=R | F | O | B | L),
        Function(
            "pn_process_purr", (Arg("domain", static=True),), routes=ALL, is_async=True,
            doc="RFC 8599 PURR, for REGISTER requests. Exported only as an async command (acmd_export_t, "
                "which carries no route mask): callable only inside async().",
        ),
    ),
    params=(
        ModParam("default_expires", ParamType.INT, 3600),
        ModParam("min_expires", ParamType.INT, 60, doc="0 disables the check."),
        ModParam("max_expires", ParamType.INT, 0, doc="0 disables the check."),
        ModParam("default_q", ParamType.INT, None, doc="q x 1000; unset: no q."),
        ModParam("case_sensitive", ParamType.INT, 1),
        ModParam(
            "tcp_persistent_flag", ParamType.STR, None, flag_name=True,
            doc="A message flag name: keep the TCP connection for the registration's lifetime.",
        ),
        ModParam("realm_prefix", ParamType.STR, ""),
        ModParam("received_param", ParamType.STR, "received"),
        ModParam("received_avp", ParamType.STR, None, doc="An AVP spec; must match nathelper's."),
        ModParam("retry_after", ParamType.INT, 0),
        ModParam("sock_hdr_name", ParamType.STR, None),
        ModParam("mcontact_avp", ParamType.STR, None),
        ModParam("attr_avp", ParamType.STR, None),
        ModParam("gruu_secret", ParamType.STR, None, doc="Unset: the built-in \"0p3nS1pS\" is used."),
        ModParam("disable_gruu", ParamType.INT, 1),
        ModParam("max_contacts", ParamType.INT, 0),
        ModParam("max_username_len", ParamType.INT, 64),
        ModParam("max_domain_len", ParamType.INT, 64),
        ModParam("max_aor_len", ParamType.INT, 256),
        ModParam("max_contact_len", ParamType.INT, 255),
        ModParam(
            "allow_dup_cseq", ParamType.INT, 0, versions=VersionSpan(since="3.4", until="4.0"),
            doc="C: since 3.4.",
        ),
        ModParam("allow_dup_cseq", ParamType.INT, 1, versions=VersionSpan(since="4.0")),
        ModParam("expires_max_deviation", ParamType.INT, 0, versions=VersionSpan(since="3.4")),
        ModParam("pn_enable", ParamType.INT, 0),
        ModParam("pn_providers", ParamType.STR, None),
        ModParam("pn_ct_match_params", ParamType.STR, "pn-provider, pn-prid, pn-param"),
        ModParam("pn_pnsreg_interval", ParamType.INT, 130),
        ModParam("pn_trigger_interval", ParamType.INT, 120),
        ModParam("pn_skip_pn_interval", ParamType.INT, 0),
        ModParam("pn_refresh_timeout", ParamType.INT, 6),
        ModParam("pn_enable_purr", ParamType.INT, 0),
    ),
    stats=("max_expires", "max_contacts", "default_expire", "accepted_regs", "rejected_regs"),
    deps=(
        Dependency(("usrloc",), doc="DEP_ABORT."),
        Dependency(("signaling",), doc="DEP_ABORT: replies go through signaling."),
        Dependency(("tm",), when_param="pn_enable", unless_values=(0,)),
        Dependency(("event_routing",), when_param="pn_enable", unless_values=(0,)),
    ),
)
