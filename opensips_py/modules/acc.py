"""acc: transaction and call accounting (CDRs) to syslog, a database, AAA or events."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, R, Arg, Dependency, Function, ModParam, ModuleExports, ParamType, PseudoVar,
)

_ROUTES = R | F | B | L
_TYPES = ("log", "db", "aaa", "evi")
_FLAGS = ("cdr", "missed", "failed")


def _column(name: str, default: str) -> ModParam:
    return ModParam(f"acc_{name}_column", ParamType.STR, default, doc="Column name in the acc tables.")


EXPORTS = ModuleExports(
    name="acc",
    doc="Accounting is armed per transaction by do_accounting(); the record is written when the transaction "
        "completes (a 2xx, or a final reply >= 300 with the `failed` flag; `missed` records the failed "
        "branches). With `cdr` (needs dialog loaded) one record per call is written at BYE, with duration "
        "and setup time.",
    functions=(
        Function(
            "do_accounting",
            (Arg("type", choices=_TYPES), Arg("flags", optional=True, choices=_FLAGS),
             Arg("table", optional=True)),
            routes=_ROUTES,
            doc='Arm accounting: type is a "|" list of log, db, aaa, evi; flags a "|" list of cdr, missed, '
                "failed; table overrides the db table. Calls add up.",
        ),
        Function(
            "drop_accounting",
            (Arg("type", optional=True, choices=_TYPES), Arg("flags", optional=True, choices=_FLAGS)),
            routes=_ROUTES, doc="Disarm what do_accounting armed (all of it without arguments).",
        ),
        Function("acc_log_request", (Arg("comment"),), routes=_ROUTES,
                 doc='Log the current request now; comment is "code reason" as the status.'),
        Function("acc_db_request", (Arg("comment"), Arg("table")), routes=_ROUTES,
                 doc="Write the current request to a db table now."),
        Function("acc_aaa_request", (Arg("comment"),), routes=_ROUTES, doc="Send the request to AAA now."),
        Function("acc_evi_request", (Arg("comment"),), routes=_ROUTES, doc="Raise E_ACC_EVENT for it now."),
        Function("acc_new_leg", (), routes=_ROUTES, doc="Start a new set of $acc_leg values (a new leg)."),
        Function("acc_load_ctx_from_dlg", (),
                 doc="Load the accounting context stored in the dialog (to change it from a later route)."),
        Function("acc_unload_ctx_from_dlg", (), doc="Release the context loaded by acc_load_ctx_from_dlg."),
    ),
    params=(
        ModParam("early_media", ParamType.INT, 0, doc="Also account 183 replies with SDP."),
        ModParam("report_cancels", ParamType.INT, 0, doc="Also account CANCELed transactions (487)."),
        ModParam("detect_direction", ParamType.INT, 0,
                 doc="Swap From/To for requests going back to the caller (needs rr)."),
        ModParam("extra_fields", ParamType.STR, repeatable=True,
                 doc='"backend: tag[->name]; …" ($acc_extra tags to write; backend log, db, aaa or evi).'),
        ModParam("leg_fields", ParamType.STR, repeatable=True,
                 doc='"backend: tag[->name]; …" (per-leg $acc_leg tags to write).'),
        ModParam("log_level", ParamType.INT, 2, doc="Syslog level of log records (2 = L_NOTICE)."),
        ModParam("log_facility", ParamType.STR, "LOG_DAEMON", doc="Syslog facility of log records."),
        ModParam("aaa_url", ParamType.STR, doc="AAA backend (needs an aaa_* module such as aaa_radius)."),
        ModParam("service_type", ParamType.INT, -1, doc="AAA Service-Type value."),
        ModParam("db_url", ParamType.STR, doc="Database for `db` accounting."),
        ModParam("db_table_acc", ParamType.STR, "acc"),
        ModParam("db_table_missed_calls", ParamType.STR, "missed_calls"),
        ModParam("db_table_avp", ParamType.STR, doc="Unused by the code (kept for old configs)."),
        _column("method", "method"),
        _column("from_tag", "from_tag"),
        _column("to_tag", "to_tag"),
        _column("callid", "callid"),
        _column("sip_code", "sip_code"),
        _column("sip_reason", "sip_reason"),
        _column("time", "time"),
    ),
    pvars=(
        PseudoVar("acc_extra", writable=True, takes_arg=True, doc="$acc_extra(tag): an extra_fields value."),
        PseudoVar("acc_leg", writable=True, takes_arg=True,
                  doc="$(acc_leg(tag)[idx]): a leg_fields value of leg idx (default the current leg)."),
        PseudoVar("acc_current_leg", doc="Index of the current leg."),
    ),
    deps=(
        Dependency(("tm",), doc="Declared DEP_ABORT."),
        Dependency(("db_*",), when_param="db_url"),
        Dependency(("aaa_*",), when_param="aaa_url", doc="Declared DEP_WARN; the first AAA call fails without."),
        Dependency(("rr",), when_param="detect_direction", unless_values=(0,)),
    ),
)
