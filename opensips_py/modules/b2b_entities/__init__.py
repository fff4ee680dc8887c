"""b2b_entities: the UAS/UAC dialog entities a back-to-back user agent is built from."""
from __future__ import annotations

from opensips_py.modules.exports import (
    R, V, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType, VersionSpan,
)

EXPORTS = ModuleExports(
    name="b2b_entities",
    doc="Server (UAS) and client (UAC) entities with their own dialog state, driven by b2b_logic or, since "
        "3.4, directly from the script as UA sessions (ua_session_*; events E_UA_SESSION). Without uac_auth "
        "it only warns, and cannot answer authentication challenges.",
    functions=(
        Function(
            "ua_session_server_init",
            (Arg("key", ArgKind.VAR, optional=True), Arg("flags", optional=True)),
            routes=R, versions=VersionSpan(since="3.4", until="3.6"),
            doc="Answer the initial INVITE as a UA session; the session key into key.",
        ),
        Function(
            "ua_session_server_init",
            (Arg("key", ArgKind.VAR, optional=True), Arg("flags", optional=True),
             Arg("extra_params", optional=True)),
            routes=R, versions=VersionSpan(since="3.6"),
            doc="Answer the initial INVITE as a UA session; the session key into key.",
        ),
        Function(
            "ua_session_update",
            (Arg("key"), Arg("method"), Arg("body", optional=True), Arg("extra_headers", optional=True),
             Arg("content_type", optional=True)),
            routes=R | V, versions=VersionSpan(since="3.4"), doc="Send an in-dialog request in the session.",
        ),
        Function(
            "ua_session_reply",
            (Arg("key"), Arg("method"), Arg("code", ArgKind.INT), Arg("reason", optional=True),
             Arg("body", optional=True), Arg("extra_headers", optional=True), Arg("content_type", optional=True)),
            routes=R | V, versions=VersionSpan(since="3.4"), doc="Reply to a request received in the session.",
        ),
        Function("ua_session_terminate", (Arg("key"), Arg("extra_headers", optional=True)), routes=R,
                 versions=VersionSpan(since="3.4"), doc="End the session (BYE or CANCEL as the state needs)."),
    ),
    params=(
        ModParam("server_hsize", ParamType.INT, 9, doc="2^n buckets of the server entity table."),
        ModParam("client_hsize", ParamType.INT, 9, doc="2^n buckets of the client entity table."),
        ModParam("script_req_route", ParamType.STR, doc="Route run for requests received by entities."),
        ModParam("script_reply_route", ParamType.STR, doc="Route run for replies received by entities."),
        ModParam("db_url", ParamType.STR, doc="Persist entities (db_mode)."),
        ModParam("db_table", ParamType.STR, "b2b_entities"),
        ModParam("db_mode", ParamType.INT, 2, doc="0 none, 1 write-through, 2 write-back."),
        ModParam("update_period", ParamType.INT, 100, doc="Seconds between write-back flushes."),
        ModParam("b2b_key_prefix", ParamType.STR, "B2B", doc="Prefix of generated Call-IDs and keys."),
        ModParam("cluster_id", ParamType.INT, 0, doc="Replicate entities in this cluster."),
        ModParam("cachedb_url", ParamType.STR, versions=VersionSpan(since="3.3"),
                 doc="Persist entities in a cachedb instead of SQL."),
        ModParam("cachedb_key_prefix", ParamType.STR, "b2be$", versions=VersionSpan(since="3.3")),
        ModParam("passthru_prack", ParamType.INT, 0, versions=VersionSpan(since="3.3"),
                 doc="Pass PRACKs through instead of answering them locally."),
        ModParam("advertised_contact", ParamType.STR, versions=VersionSpan(since="3.4"),
                 doc="Contact of UA sessions."),
        ModParam("ua_default_timeout", ParamType.INT, 43200, versions=VersionSpan(since="3.4"),
                 doc="Seconds a UA session may last."),
    ),
    mi=(
        MICommand("b2be_list", (), alias_4_0="b2b_entities:list"),
        MICommand("ua_session_client_start",
                  ("ruri", "to", "from", "proxy", "body", "extra_headers", "flags", "socket", "content_type"),
                  versions=VersionSpan(since="3.4"), alias_4_0="b2b_entities:ua_session_client_start",
                  doc="Start a UAC session; ruri, to and from are required."),
        MICommand("ua_session_update", ("key", "method", "body", "extra_headers", "content_type"),
                  versions=VersionSpan(since="3.4"), alias_4_0="b2b_entities:ua_session_update"),
        MICommand("ua_session_reply",
                  ("key", "method", "code", "reason", "body", "extra_headers", "content_type"),
                  versions=VersionSpan(since="3.4"), alias_4_0="b2b_entities:ua_session_reply"),
        MICommand("ua_session_terminate", ("key", "extra_headers"), versions=VersionSpan(since="3.4"),
                  alias_4_0="b2b_entities:ua_session_terminate"),
        MICommand("ua_session_list", ("key",), versions=VersionSpan(since="3.4"),
                  alias_4_0="b2b_entities:ua_session_list", doc="One session (key) or all."),
    ),
    deps=(
        Dependency(("tm",), doc="Declared DEP_ABORT."),
        Dependency(("db_*",), when_param="db_url"),
        Dependency(("cachedb_*",), when_param="cachedb_url"),
        Dependency(("clusterer",), when_param="cluster_id", unless_values=(0,)),
    ),
)

# ------------------------------------------------------------------------------------------------ implementation
# dialog.py (the entity: one SIP dialog of the B2BUA) and module.py (the tables, the request/reply handling,
# the API b2b_logic uses): see docs/b2b.md. The ua_session_* functions and MI commands are not implemented.

from opensips_py.modules.b2b_entities.module import Module  # noqa: E402,F401
