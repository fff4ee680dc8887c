"""b2b_logic: back-to-back user agent scenarios (topology hiding, bridging, call transfer) on b2b_entities."""
from __future__ import annotations

from opensips_py.modules.exports import (
    R, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType, PseudoVar,
    VersionSpan,
)

_ROUTE = ArgKind.ROUTE

EXPORTS = ModuleExports(
    name="b2b_logic",
    doc="b2b_init_request() turns an initial INVITE into a B2B session (the built-in top hiding scenario or "
        "one built from script with b2b_server_new/b2b_client_new); its requests and replies then run the "
        "req_route/reply_route given there, where b2b_pass_request/b2b_handle_reply forward them.",
    functions=(
        Function(
            "b2b_init_request",
            (Arg("id"), Arg("flags", optional=True), Arg("req_route", _ROUTE, optional=True, route_kind="route"),
             Arg("reply_route", _ROUTE, optional=True, route_kind="route"),
             Arg("init_sdp_body", optional=True), Arg("init_sdp_ctype", optional=True)),
            routes=R, versions=VersionSpan(until="3.4"),
            doc='Start a B2B session: id "top hiding" or a scenario id (entities from b2b_server_new/…).',
        ),
        Function(
            "b2b_init_request",
            (Arg("id"), Arg("flags", optional=True), Arg("req_route", _ROUTE, optional=True, route_kind="route"),
             Arg("reply_route", _ROUTE, optional=True, route_kind="route")),
            routes=R, versions=VersionSpan(since="3.4"),
            doc='Start a B2B session: id "top hiding" or a scenario id (entities from b2b_server_new/…).',
        ),
        Function(
            "b2b_server_new",
            (Arg("id"), Arg("adv_contact", optional=True), Arg("extra_hdrs", ArgKind.VAR, optional=True),
             Arg("extra_hdr_bodies", ArgKind.VAR, optional=True)),
            routes=R, doc="Declare the server entity of the scenario being built.",
        ),
        Function(
            "b2b_client_new",
            (Arg("id"), Arg("dest_uri"), Arg("proxy", optional=True), Arg("from_dname", optional=True),
             Arg("adv_contact", optional=True), Arg("extra_hdrs", ArgKind.VAR, optional=True),
             Arg("extra_hdr_bodies", ArgKind.VAR, optional=True)),
            routes=R, versions=VersionSpan(until="4.0"), doc="Declare a client entity towards dest_uri.",
        ),
        Function(
            "b2b_client_new",
            (Arg("id"), Arg("dest_uri"), Arg("proxy", optional=True), Arg("from_dname", optional=True),
             Arg("adv_contact", optional=True), Arg("extra_hdrs", ArgKind.VAR, optional=True),
             Arg("extra_hdr_bodies", ArgKind.VAR, optional=True), Arg("flags", optional=True)),
            routes=R, versions=VersionSpan(since="4.0"), doc="Declare a client entity towards dest_uri.",
        ),
        Function("b2b_handle_reply", (), routes=R, versions=VersionSpan(until="3.6"),
                 doc="In the reply route: forward the reply to the peer."),
        Function("b2b_handle_reply", (Arg("flags", optional=True),), routes=R, versions=VersionSpan(since="3.6"),
                 doc="In the reply route: forward the reply to the peer."),
        Function("b2b_pass_request", (), routes=R, doc="In the request route: forward the request to the peer."),
        Function("b2b_delete_entity", (), routes=R, doc="Drop the entity the current request belongs to."),
        Function("b2b_end_dlg_leg", (), routes=R, doc="End the leg the current request belongs to."),
        Function("b2b_send_reply", (Arg("code", ArgKind.INT), Arg("reason")), routes=R,
                 versions=VersionSpan(until="3.3"), doc="Reply to a request received by an entity."),
        Function(
            "b2b_send_reply",
            (Arg("code", ArgKind.INT), Arg("reason"), Arg("headers", optional=True), Arg("body", optional=True)),
            routes=R, versions=VersionSpan(since="3.3"), doc="Reply to a request received by an entity.",
        ),
        Function(
            "b2b_bridge",
            (Arg("entity1"), Arg("entity2"), Arg("provmedia_uri", optional=True), Arg("flags", optional=True)),
            routes=R, doc="Bridge two entities of the session (re-INVITE them towards each other).",
        ),
        Function("b2b_bridge_retry", (Arg("new_entity"),), routes=R, versions=VersionSpan(since="3.4"),
                 doc="After a failed bridge, try another entity."),
        Function(
            "b2b_bridge_request",
            (Arg("b2bl_key"), Arg("entity_no", ArgKind.INT), Arg("adv_contact", optional=True)),
            routes=R, versions=VersionSpan(until="3.5"),
            doc="Bridge the current initial INVITE with an entity of an existing session.",
        ),
        Function(
            "b2b_bridge_request",
            (Arg("b2bl_key"), Arg("entity_no", ArgKind.INT), Arg("adv_contact", optional=True),
             Arg("flags", optional=True)),
            routes=R, versions=VersionSpan(since="3.5"),
            doc="Bridge the current initial INVITE with an entity of an existing session.",
        ),
        Function(
            "b2b_trigger_scenario",
            (Arg("scenario"), Arg("params", optional=True), Arg("peer1"),
             Arg("extra_headers_peer1", ArgKind.VAR, optional=True),
             Arg("extra_headers_contents_peer1", ArgKind.VAR, optional=True), Arg("peer2"),
             Arg("extra_headers_peer2", ArgKind.VAR, optional=True),
             Arg("extra_headers_contents_peer2", ArgKind.VAR, optional=True)),
            routes=R, versions=VersionSpan(since="3.3"), doc="Start a session that calls out to two peers.",
        ),
    ),
    params=(
        ModParam("hash_size", ParamType.INT, 10, doc="2^n buckets of the session table."),
        ModParam("cleanup_period", ParamType.INT, 100, doc="Seconds between sweeps of ended sessions."),
        ModParam("update_period", ParamType.INT, 100, doc="Seconds between write-back flushes."),
        ModParam("script_req_route", ParamType.STR, doc="Default route for requests of B2B sessions."),
        ModParam("script_reply_route", ParamType.STR, doc="Default route for replies of B2B sessions."),
        ModParam("custom_headers", ParamType.STR, doc='Headers copied between legs ("H1;H2").'),
        ModParam("custom_headers_regexp", ParamType.STR, doc="Regex of headers copied between legs."),
        ModParam("use_init_sdp", ParamType.INT, 0, versions=VersionSpan(until="3.4")),
        ModParam("contact_user", ParamType.INT, 0, doc="Put the peer's user in our Contact."),
        ModParam("db_url", ParamType.STR),
        ModParam("db_table", ParamType.STR, "b2b_logic"),
        ModParam("db_mode", ParamType.INT, 2, doc="0 none, 1 write-through, 2 write-back."),
        ModParam("max_duration", ParamType.INT, 43200, doc="Seconds a session may last."),
        ModParam("b2bl_from_spec_param", ParamType.STR, doc="Pseudo-variable giving the From of client legs."),
        ModParam("server_address", ParamType.STR, doc="Contact address of the B2BUA."),
        ModParam("init_callid_hdr", ParamType.STR, doc="Header carrying the original Call-ID to the callee."),
        ModParam("b2bl_th_init_timeout", ParamType.INT, 60, doc="Seconds a top-hiding session may ring."),
        ModParam("cachedb_url", ParamType.STR, versions=VersionSpan(since="3.3")),
        ModParam("cachedb_key_prefix", ParamType.STR, "b2bl$", versions=VersionSpan(since="3.3")),
        ModParam("b2bl_early_update", ParamType.INT, 0, versions=VersionSpan(since="3.3"),
                 doc="Bridge dialogs already in early state."),
        ModParam("old_entity_term_delay", ParamType.INT, 0, versions=VersionSpan(since="3.5"),
                 doc="Seconds before the replaced entity gets its BYE."),
        ModParam("custom_contact_header_params", ParamType.STR, versions=VersionSpan(since="4.0")),
    ),
    pvars=(
        PseudoVar("b2b_logic.key", doc="Key of the current session."),
        PseudoVar("b2b_logic.scenario", doc="Scenario of the current session."),
        PseudoVar("b2b_logic.entity", takes_arg=True, doc="$b2b_logic.entity(id|key|…): an entity field."),
        PseudoVar("b2b_logic.ctx", writable=True, takes_arg=True, doc="$b2b_logic.ctx(name): session storage."),
        PseudoVar("b2b_logic.peer", takes_arg=True, versions=VersionSpan(since="4.0")),
    ),
    mi=(
        MICommand("b2b_trigger_scenario", ("scenario_id", "entity1", "entity2", "context"),
                  alias_4_0="b2b_logic:trigger_scenario", doc="context is optional."),
        MICommand("b2b_bridge", ("dialog_id", "new_uri", "flag", "prov_media_uri"), alias_4_0="b2b_logic:bridge",
                  doc="flag and prov_media_uri are optional."),
        MICommand("b2b_list", (), alias_4_0="b2b_logic:list"),
        MICommand("b2b_terminate_call", ("key",), alias_4_0="b2b_logic:terminate_call"),
    ),
    deps=(
        Dependency(("b2b_entities",), doc="Declared DEP_ABORT."),
        Dependency(("db_*",), when_param="db_url"),
        Dependency(("cachedb_*",), when_param="cachedb_url"),
    ),
)

# ------------------------------------------------------------------------------------------------ implementation
# records.py (sessions and their entities), module.py (sessions, script functions, PVs, the entity callbacks),
# bridging.py (b2b_bridge and the other bridge actions), helpers.py, mi.py: see docs/b2b.md.

from opensips_py.modules.b2b_logic.module import Module  # noqa: E402,F401
