"""dialog: call state tracking (RFC 3261 §12) with timeouts, flags, values, profiles and pings."""
from __future__ import annotations

from opensips_py.modules.exports import (
    ALL, B, F, L, O, R, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType,
    PseudoVar, VersionSpan,
)

# create_dialog() flags: letters up to 3.6 (unknown ones skipped), names in 4.0 (unknown ones rejected).
CREATE_DIALOG_LETTERS = ("B", "P", "p", "R", "r", "E")
CREATE_DIALOG_FLAGS = (
    "bye-on-timeout", "options-ping-caller", "options-ping-callee", "reinvite-ping-caller",
    "reinvite-ping-callee", "end-on-race-condition", "auto-prack",
)
MATCH_MODES = ("DID_ONLY", "DID_FALLBACK", "DID_NONE")
# The letter each 4.0 name replaced, for --fix (dlg_hash.h parse_create_dlg_flags, 3.6).
CREATE_DIALOG_LETTER_NAMES = {
    "B": "bye-on-timeout", "P": "options-ping-caller", "p": "options-ping-callee",
    "R": "reinvite-ping-caller", "r": "reinvite-ping-callee", "E": "end-on-race-condition",
}

_FLAG_ROUTES = R | F | O | B | L


def _column(name: str, default: str) -> ModParam:
    return ModParam(f"{name}_column", ParamType.STR, default, doc="Column name in the dialog table.")


EXPORTS = ModuleExports(
    name="dialog",
    doc="Dialog tracking. Sequential requests are matched inside rr's loose_route() (Route param \"did\").",
    functions=(
        Function(
            "create_dialog", (Arg("flags", optional=True, choices=CREATE_DIALOG_LETTERS),),
            routes=R, versions=VersionSpan(until="4.0"),
            doc="Flags are letters (B P p R r E); unknown letters are skipped.",
        ),
        Function(
            "create_dialog", (Arg("flags", optional=True, choices=CREATE_DIALOG_FLAGS),),
            routes=R, versions=VersionSpan(since="4.0"),
            doc="Flags are a comma list of names; an unknown name is an error.",
        ),
        Function("match_dialog", (Arg("mode", optional=True, choices=MATCH_MODES),), routes=R),
        Function("validate_dialog", (), routes=R),
        Function("fix_route_dialog", (), routes=R),
        Function(
            "set_dlg_profile",
            (Arg("profile"), Arg("value", optional=True), Arg("clear_values", ArgKind.INT, optional=True)),
            routes=R | F | O | B, versions=VersionSpan(since="3.4"),
        ),
        Function(
            "set_dlg_profile", (Arg("profile"), Arg("value", optional=True)), routes=R | F | O | B,
            versions=VersionSpan(until="3.4"),
        ),
        Function("unset_dlg_profile", (Arg("profile"), Arg("value", optional=True)), routes=R | F | O | B),
        Function("is_in_profile", (Arg("profile"), Arg("value", optional=True)), routes=R | F | O | B),
        Function(
            "get_profile_size", (Arg("profile"), Arg("value", optional=True), Arg("size", ArgKind.VAR)),
            routes=ALL, doc="C: every route type in 3.2 too.",
        ),
        Function(
            "set_dlg_flag", (Arg("flag", ArgKind.FLAG, static=True),), routes=_FLAG_ROUTES,
            versions=VersionSpan(since="3.4"), doc="A dialog flag name.",
        ),
        Function(
            "set_dlg_flag", (Arg("flag", ArgKind.INT),), routes=_FLAG_ROUTES, versions=VersionSpan(until="3.4"),
            doc="3.2: flag index 0..31.",
        ),
        Function(
            "reset_dlg_flag", (Arg("flag", ArgKind.FLAG, static=True),), routes=_FLAG_ROUTES,
            versions=VersionSpan(since="3.4"),
        ),
        Function(
            "reset_dlg_flag", (Arg("flag", ArgKind.INT),), routes=_FLAG_ROUTES, versions=VersionSpan(until="3.4"),
        ),
        Function(
            "is_dlg_flag_set", (Arg("flag", ArgKind.FLAG, static=True),), routes=_FLAG_ROUTES,
            versions=VersionSpan(since="3.4"),
        ),
        Function(
            "is_dlg_flag_set", (Arg("flag", ArgKind.INT),), routes=_FLAG_ROUTES, versions=VersionSpan(until="3.4"),
        ),
        Function(
            "test_and_set_dlg_flag", (Arg("flag", ArgKind.FLAG, static=True), Arg("value", ArgKind.INT)),
            routes=_FLAG_ROUTES, versions=VersionSpan(since="3.4"),
            doc="If the flag equals value, flip it and return 1.",
        ),
        Function(
            "test_and_set_dlg_flag", (Arg("flag", ArgKind.INT), Arg("value", ArgKind.INT)), routes=_FLAG_ROUTES,
            versions=VersionSpan(until="3.4"),
        ),
        Function(
            "store_dlg_value", (Arg("name"), Arg("value", ArgKind.VAR)), routes=_FLAG_ROUTES,
            versions=VersionSpan(since="3.4"),
            doc="C: since 3.4 the value must be a variable (CMD_PARAM_VAR), not a string.",
        ),
        Function(
            "store_dlg_value", (Arg("name"), Arg("value")), routes=_FLAG_ROUTES, versions=VersionSpan(until="3.4"),
        ),
        Function("fetch_dlg_value", (Arg("name"), Arg("value", ArgKind.VAR)), routes=_FLAG_ROUTES),
        Function(
            "get_dialog_info",
            (Arg("attr"), Arg("avp", ArgKind.VAR), Arg("key"), Arg("key_val", ArgKind.VAR),
             Arg("number", ArgKind.VAR)),
            routes=ALL, versions=VersionSpan(since="3.4"),
        ),
        Function(
            "get_dialog_info",
            (Arg("attr"), Arg("avp", ArgKind.VAR), Arg("key"), Arg("key_val"), Arg("number", ArgKind.VAR)),
            routes=ALL, versions=VersionSpan(until="3.4"),
        ),
        Function(
            "get_dialog_vals", (Arg("names", ArgKind.VAR), Arg("vals", ArgKind.VAR), Arg("callid")), routes=ALL,
        ),
        Function(
            "get_dialogs_by_val",
            (Arg("name"), Arg("value", ArgKind.VAR), Arg("out_avp", ArgKind.VAR), Arg("out_dlg_no", ArgKind.VAR)),
            routes=ALL, versions=VersionSpan(since="3.4"),
        ),
        Function(
            "get_dialogs_by_val",
            (Arg("name"), Arg("value"), Arg("out_avp", ArgKind.VAR), Arg("out_dlg_no", ArgKind.VAR)),
            routes=ALL, versions=VersionSpan(until="3.4"),
        ),
        Function(
            "get_dialogs_by_profile",
            (Arg("name"), Arg("value", optional=True), Arg("out_avp", ArgKind.VAR),
             Arg("out_dlg_no", ArgKind.VAR)),
            routes=ALL,
        ),
        Function(
            "load_dialog_ctx",
            (Arg("dialog"), Arg("id_type", optional=True, choices=("callid", "did")),
             Arg("active_only", ArgKind.INT, optional=True)),
            routes=ALL, versions=VersionSpan(since="4.0"),
        ),
        Function(
            "load_dialog_ctx", (Arg("dialog"), Arg("id_type", optional=True, choices=("callid", "did"))),
            routes=ALL, versions=VersionSpan(until="4.0"),
        ),
        Function("unload_dialog_ctx", (), routes=ALL),
        Function(
            "dlg_on_answer", (Arg("route", ArgKind.ROUTE, optional=True, route_kind="route"),),
            routes=R | F | O | B, doc="The name of a plain route[…].",
        ),
        Function(
            "dlg_on_timeout", (Arg("route", ArgKind.ROUTE, optional=True, route_kind="route"),),
            routes=R | F | O | B,
        ),
        Function(
            "dlg_on_hangup", (Arg("route", ArgKind.ROUTE, optional=True, route_kind="route"),),
            routes=R | F | O | B,
        ),
        Function(
            "dlg_send_sequential",
            (Arg("method"), Arg("leg", choices=("caller", "callee")), Arg("body", optional=True),
             Arg("content_type", optional=True), Arg("headers", optional=True)),
            routes=ALL,
        ),
        Function(
            "dlg_inc_cseq", (Arg("tag", optional=True), Arg("inc", ArgKind.INT, optional=True)),
            routes=_FLAG_ROUTES, versions=VersionSpan(since="3.6"),
            doc="C: since 3.6 (the reference says 4.0).",
        ),
        Function("set_dlg_sharing_tag", (Arg("tag_name"),), routes=R),
    ),
    params=(
        ModParam("enable_stats", ParamType.INT, 1),
        ModParam("hash_size", ParamType.INT, 4096),
        ModParam("log_profile_hash_size", ParamType.INT, 4),
        ModParam("rr_param", ParamType.STR, "did"),
        ModParam("default_timeout", ParamType.INT, 43200),
        ModParam("dlg_extra_hdrs", ParamType.STR, None),
        ModParam("dlg_match_mode", ParamType.INT, 1, doc="0 DID_ONLY, 1 DID_FALLBACK, 2 DID_NONE."),
        ModParam("delete_delay", ParamType.INT, 0, versions=VersionSpan(since="3.4")),
        ModParam("options_ping_interval", ParamType.INT, 30),
        ModParam("reinvite_ping_interval", ParamType.INT, 300),
        ModParam("race_condition_timeout", ParamType.INT, 5),
        ModParam("db_url", ParamType.STR, None),
        ModParam("db_mode", ParamType.INT, 0, doc="0 none, 1 realtime, 2 delayed, 3 at shutdown."),
        ModParam("db_update_period", ParamType.INT, 60),
        ModParam("table_name", ParamType.STR, "dialog"),
        ModParam("db_flush_vals_profiles", ParamType.INT, 0),
        ModParam("timer_bulk_del_no", ParamType.INT, 1),
        ModParam(
            "profiles_with_value", ParamType.STR, None, repeatable=True,
            doc="\";\"-separated names; suffix /b shares through clusterer, /s through cachedb.",
        ),
        ModParam("profiles_no_value", ParamType.STR, None, repeatable=True),
        ModParam("cachedb_url", ParamType.STR, None),
        ModParam("profile_value_prefix", ParamType.STR, "dlg_val_"),
        ModParam("profile_no_value_prefix", ParamType.STR, "dlg_noval_"),
        ModParam("profile_size_prefix", ParamType.STR, "dlg_size_"),
        ModParam("profile_timeout", ParamType.INT, 86400),
        ModParam("dialog_replication_cluster", ParamType.INT, 0),
        ModParam("profile_replication_cluster", ParamType.INT, 0),
        ModParam("replicate_profiles_timer", ParamType.INT, 10, versions=VersionSpan(until="3.4")),
        ModParam("replicate_profiles_timer", ParamType.INT, 200, versions=VersionSpan(since="3.4"),
                 doc="Milliseconds."),
        ModParam("replicate_profiles_check", ParamType.INT, 10),
        ModParam("replicate_profiles_buffer", ParamType.INT, 1400),
        ModParam("replicate_profiles_expire", ParamType.INT, 10),
        ModParam("cluster_auto_sync", ParamType.INT, 1),
        ModParam("auto_prack_hangup_on_failure", ParamType.INT, 0, versions=VersionSpan(since="4.0")),
        ModParam("auto_prack_fr_timeout", ParamType.INT, 3, versions=VersionSpan(since="4.0")),
        _column("dlg_id", "dlg_id"),
        _column("call_id", "callid"),
        _column("from_uri", "from_uri"),
        _column("from_tag", "from_tag"),
        _column("to_uri", "to_uri"),
        _column("to_tag", "to_tag"),
        _column("state", "state"),
        _column("start_time", "start_time"),
        _column("timeout", "timeout"),
        _column("to_cseq", "callee_cseq"),
        _column("from_cseq", "caller_cseq"),
        _column("to_route", "callee_route_set"),
        _column("from_route", "caller_route_set"),
        _column("to_contact", "callee_contact"),
        _column("from_contact", "caller_contact"),
        _column("to_sock", "callee_sock"),
        _column("from_sock", "caller_sock"),
        _column("profiles", "profiles"),
        _column("vars", "vars"),
        _column("sflags", "script_flags"),
        _column("mflags", "module_flags"),
        _column("flags", "flags"),
    ),
    pvars=(
        PseudoVar("DLG_count"),
        PseudoVar("DLG_lifetime"),
        PseudoVar("DLG_status", doc="1 unconfirmed .. 5 deleted; NULL without a dialog."),
        PseudoVar("DLG_dir"),
        PseudoVar("DLG_flags", writable=True),
        PseudoVar("DLG_did"),
        PseudoVar("DLG_end_reason"),
        PseudoVar("DLG_timeout", writable=True),
        PseudoVar("DLG_json"),
        PseudoVar("DLG_ctx_json"),
        PseudoVar("DLG_del_delay", writable=True, versions=VersionSpan(since="3.4")),
        PseudoVar("dlg_val", writable=True, takes_arg=True),
    ),
    mi=(
        MICommand(
            "dlg_list", ("callid", "from_tag", "index", "counter"), alias_4_0="dialog:list",
            doc="No parameter, callid[, from_tag], or index and counter.",
        ),
        MICommand("dlg_list_ctx", ("callid", "from_tag", "index", "counter"), alias_4_0="dialog:list_ctx"),
        MICommand("dlg_end_dlg", ("dialog_id", "extra_hdrs"), alias_4_0="dialog:end_dlg"),
        MICommand("dlg_db_sync", (), alias_4_0="dialog:db_sync"),
        MICommand("dlg_restore_db", (), alias_4_0="dialog:restore_db"),
        MICommand("dlg_cluster_sync", ("sharing_tag",), alias_4_0="dialog:cluster_sync"),
        MICommand("profile_get_size", ("profile", "value"), alias_4_0="dialog:profile_get_size"),
        MICommand("profile_list_dlgs", ("profile", "value"), alias_4_0="dialog:profile_list_dlgs"),
        MICommand("profile_get_values", ("profile",), alias_4_0="dialog:profile_get_values"),
        MICommand("list_all_profiles", (), alias_4_0="dialog:list_all_profiles"),
        MICommand("profile_end_dlgs", ("profile", "value"), alias_4_0="dialog:profile_end_dlgs"),
        MICommand("dlg_push_var", ("dlg_val_name", "dlg_val_value", "DID"), alias_4_0="dialog:push_var"),
        MICommand("dlg_send_sequential", ("callid", "method", "body", "mode"), versions=VersionSpan(until="3.6")),
        MICommand(
            "dlg_send_sequential", ("callid", "method", "body", "mode", "headers"),
            versions=VersionSpan(since="3.6"), alias_4_0="dialog:send_sequential",
        ),
        MICommand(
            "dlg_set_profile", ("dlg_id", "profile", "value", "clear_values"), versions=VersionSpan(since="3.6"),
            alias_4_0="dialog:set_profile",
        ),
        MICommand(
            "dlg_unset_profile", ("dlg_id", "profile", "value"), versions=VersionSpan(since="3.6"),
            alias_4_0="dialog:unset_profile",
        ),
    ),
    stats=(
        "active_dialogs", "early_dialogs", "processed_dialogs", "expired_dialogs", "failed_dialogs",
        "create_sent", "update_sent", "delete_sent", "create_recv", "update_recv", "delete_recv",
    ),
    deps=(
        Dependency(("tm",), doc="DEP_ABORT."),
        Dependency(("db_*",), when_param="db_mode", unless_values=(0,), doc="db_mode 1..3 needs an SQL module."),
        Dependency(("cachedb_*",), when_param="cachedb_url"),
        Dependency(("clusterer",), when_param="dialog_replication_cluster", unless_values=(0,)),
        Dependency(("clusterer",), when_param="profile_replication_cluster", unless_values=(0,)),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation
# model.py (states, legs, the table), profiles.py, mi.py/mi_commands.py, storage.py (the dialog table) and
# module.py (script functions, tm/rr hooks, timers): see docs/dialog.md.

from opensips_py.modules.dialog.module import Module  # noqa: E402,F401
