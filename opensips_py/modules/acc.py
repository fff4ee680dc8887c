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

# ------------------------------------------------------------------------------------------------ implementation
# Behaviour read in modules/acc/{acc_logic,acc}.c of OpenSIPS 3.4–4.0. do_accounting() arms a context for the
# request's transaction (tm callbacks: RESPONSE_OUT for the record, ON_FAILURE for missed calls). A final
# reply going upstream is accounted when it is a 2xx, or >= 300 with `failed`; an INVITE failing with
# `missed` is also written once to missed_calls (the first failed attempt). With `cdr`, an answered initial
# INVITE is not written at once: the record is written when the dialog ends (the final reply of its BYE),
# with the call's start time, duration, ms_duration, setuptime and created.
# Backends here: "log" (the proxy's log, OpenSIPS's line format) and "db" (any db_url); aaa/evi are refused
# at call time (not implemented). extra_fields: the $acc_extra(tag) values of the context, written after the
# core values to the log (";name=value") and to db columns (acc_extra.c, acc_vars.c); leg_fields are not
# implemented.

import time as _time  # noqa: E402
from dataclasses import dataclass as _dataclass, field as _field  # noqa: E402
from typing import Any as _Any  # noqa: E402

from opensips_py.db import DatabaseError, open_database  # noqa: E402
from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.sip import REASON_PHRASES, SIPParseError  # noqa: E402

ACC = "ACC: "
ANSWERED, MISSED, ENDED = ACC + "transaction answered: ", ACC + "call missed: ", ACC + "call ended: "
REQUEST = ACC + "request accounted: "
_BACKENDS = ("log", "db")


def _split(text: str | None, allowed: tuple[str, ...], what: str) -> set[str]:
    items = {part.strip().lower() for part in (text or "").split("|") if part.strip()}
    unknown = items - set(allowed)
    if unknown:
        raise ValueError(f"unknown accounting {what} {', '.join(sorted(unknown))}")
    return items


def parse_extra_fields(settings: list) -> dict[str, list[tuple[str, str]]]:
    """extra_fields settings ("db: fU -> src_user; attr") -> {backend: [(tag, column or log name)]}."""
    backends: dict[str, list[tuple[str, str]]] = {}
    for setting in settings:
        backend, sep, items = str(setting).partition(":")
        backend = backend.strip().lower()
        if not sep or backend not in ("log", "db", "aaa", "evi"):
            raise ModuleInitError(f"acc: extra_fields {setting!r}: expected 'log|db|aaa|evi: tag[->name]; …'")
        for item in items.split(";"):
            tag, arrow, name = item.partition("->")
            tag, name = tag.strip(), name.strip()
            if not tag or (arrow and not name):
                if item.strip():
                    raise ModuleInitError(f"acc: extra_fields {setting!r}: bad item {item.strip()!r}")
                continue
            backends.setdefault(backend, []).append((tag, name or tag))
    return backends


def _datetime(timestamp: float) -> str:
    """A DATETIME column value as OpenSIPS's db drivers write it (local time)."""
    return _time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(timestamp))


@_dataclass
class AccContext:
    """What do_accounting() armed for one transaction (OpenSIPS's acc_ctx_t)."""

    types: set[str] = _field(default_factory=set)
    flags: set[str] = _field(default_factory=set)
    table: str | None = None
    created: float = 0.0          # wall clock of the request, when `cdr` is on (else 0, as OpenSIPS)
    created_clock: float = 0.0    # the same moment on the proxy's clock (durations)
    missed_done: bool = False
    registered: bool = False
    extra: dict[str, str] = _field(default_factory=dict)  # $acc_extra(tag) values set so far


@_dataclass
class CallRecord:
    """An answered call waiting for its BYE (`cdr`): the INVITE's core values and the answer time."""

    context: AccContext
    core: dict[str, str]
    start: float                  # wall clock of the 200 OK
    start_clock: float


class Module(ModuleBase):
    exports = EXPORTS

    def init(self) -> None:
        modules = getattr(self.core, "modules", {})
        self.tm = modules.get("tm")
        if self.tm is None:
            raise ModuleInitError("acc: cannot load the tm API (loadmodule \"tm.so\")")
        self.dialog = modules.get("dialog")
        self.log_level = self.int_param("log_level")
        self.early_media = bool(self.int_param("early_media"))
        self.report_cancels = bool(self.int_param("report_cancels"))
        self.table_acc = str(self.param("db_table_acc"))
        self.table_missed = str(self.param("db_table_missed_calls"))
        self.columns = {key: str(self.param(f"acc_{key}_column")) for key in
                        ("method", "from_tag", "to_tag", "callid", "sip_code", "sip_reason", "time")}
        self.db = None
        url = self.db_url()
        if url:
            try:
                self.db = open_database(self.core, str(url), "acc")
            except (DatabaseError, ValueError) as exc:
                raise ModuleInitError(f"acc: {exc}") from exc
        self.cdr_enabled = False
        self.extra_fields = parse_extra_fields(self.param_values("extra_fields"))
        self.extra_tags = {tag for fields in self.extra_fields.values() for tag, _ in fields}
        self.calls: dict[_Any, CallRecord] = {}  # dialog -> its answered call (cdr)
        self._hooked = False

    def _hook(self) -> None:
        """tm may initialise after us: the global callbacks are registered at the first use."""
        if not self._hooked:
            from opensips_py.modules.tm import TMCB
            self.TMCB = TMCB
            self.tm.register_callback(TMCB.REQUEST_IN, self._on_new_transaction)
            self._hooked = True

    def _log(self, level: int, text: str) -> None:
        self.core.logger.log(level, text, module="acc")

    @property
    def _clock(self) -> float:
        return float(getattr(self.core, "now", 0.0) or 0.0)

    # ---------------------------------------------------------------------------------- script functions
    def do_accounting(self, ctx, types: str, flags: str | None = None, table: str | None = None) -> int:
        """1 armed; -1 error (an unknown or unsupported type/flag)."""
        msg = ctx.msg
        if msg is None or not msg.is_request:
            return -1
        try:
            kinds = _split(types, ("log", "db", "aaa", "evi"), "type")
            extra = _split(flags, ("cdr", "missed", "failed"), "flag")
        except ValueError as exc:
            self._log(-1, f"do_accounting(): {exc}")
            return -1
        unsupported = kinds - set(_BACKENDS)
        if unsupported:
            self._log(-1, f"do_accounting(): {', '.join(sorted(unsupported))} accounting is not supported by "
                          "opensips-py")
            return -1
        if "db" in kinds and self.db is None:
            self._log(-1, "do_accounting(): db accounting needs the acc db_url")
            return -1
        if msg.method == "CANCEL" and not self.report_cancels:
            self._log(1, "do_accounting() called on CANCEL but 'report_cancels' modparam not set - no "
                         "accounting will be done for this transaction!")
            return 1
        self._hook()
        context = self._context(ctx)
        first_cdr = "cdr" in extra and "cdr" not in context.flags
        context.types |= kinds
        context.flags |= extra
        if "db" in kinds and (table or not context.table):
            context.table = table or self.table_acc
        if first_cdr:
            self.cdr_enabled = True
            if not self._has_to_tag(msg):
                context.created, context.created_clock = _time.time(), self._clock
                if msg.method == "INVITE":
                    if self.dialog is None:
                        self._log(-1, "do_accounting(): cdr accounting needs the dialog module")
                        return -1
                    self.dialog.create_dialog(ctx)
        if not context.registered and self.tm.has_transaction(ctx):
            t = self.tm.transaction(ctx)
            if t is not None:
                self._watch(t, context)
        return 1

    @staticmethod
    def _context(ctx) -> AccContext:
        """The request's accounting context, made at first use (do_accounting or $acc_extra, as
        init_acc_ctx in OpenSIPS)."""
        context: AccContext | None = ctx.module_state.get("acc")
        if context is None:
            context = ctx.module_state["acc"] = AccContext()
        return context

    def pvars(self) -> dict:
        from opensips_py.script.pvars import Handler

        def get_extra(ctx, tag, index):
            if tag not in self.extra_tags:
                self._log(-1, f"$acc_extra({tag}): tag not declared in extra_fields")
                return None
            return self._context(ctx).extra.get(tag)

        def set_extra(ctx, tag, index, value, op):
            if tag not in self.extra_tags:
                self._log(-1, f"$acc_extra({tag}): tag not declared in extra_fields")
                return
            extra = self._context(ctx).extra
            if value is None:
                extra.pop(tag, None)
            else:
                extra[tag] = str(value)

        return {"acc_extra": Handler("acc_extra", get_extra, set_extra)}

    def _extra_pairs(self, backend: str, context: AccContext | None) -> list[tuple[str, str | None]]:
        """The extra_fields of a backend with the context's values (None for a value never set)."""
        if context is None:
            return []
        return [(name, context.extra.get(tag)) for tag, name in self.extra_fields.get(backend, ())]

    def drop_accounting(self, ctx, types: str | None = None, flags: str | None = None) -> int:
        context: AccContext | None = ctx.module_state.get("acc")
        if context is None:
            self._log(-1, "do_accounting() not used! This function resets flags in do_accounting()!")
            return -1
        if types is None and flags is None:
            context.types.clear()
            context.flags.clear()
            return 1
        try:
            kinds = _split(types, ("log", "db", "aaa", "evi"), "type") if types else set(context.types)
            extra = _split(flags, ("cdr", "missed", "failed"), "flag") if flags else set()
        except ValueError as exc:
            self._log(-1, f"drop_accounting(): {exc}")
            return -1
        if flags:
            context.flags -= extra
        else:
            context.types -= kinds
        return 1

    def acc_log_request(self, ctx, comment: str) -> int:
        code, reason = self._comment(comment)
        self._write_log(REQUEST, self._core_values(ctx.msg, None, code, reason), ctx.module_state.get("acc"))
        return 1

    def acc_db_request(self, ctx, comment: str, table: str) -> int:
        if self.db is None:
            self._log(-1, "acc_db_request(): no db_url")
            return -1
        code, reason = self._comment(comment)
        context = ctx.module_state.get("acc")
        return 1 if self._write_db(table, self._core_values(ctx.msg, None, code, reason), context) else -1

    @staticmethod
    def _comment(comment: str) -> tuple[str, str]:
        code, _, reason = comment.strip().partition(" ")
        if len(code) == 3 and code.isdigit():
            return code, reason.strip()
        return "", comment.strip()

    # ---------------------------------------------------------------------------------- tm callbacks
    def _on_new_transaction(self, t, p) -> None:
        context = p.ctx.module_state.get("acc") if p.ctx is not None else None
        if context is not None and not context.registered:
            self._watch(t, context)
        if t.method == "BYE" and self.calls:
            self.tm.register_callback(self.TMCB.RESPONSE_OUT, self._bye_answered(self._clock, _time.time()), t)

    def _watch(self, t, context: AccContext) -> None:
        context.registered = True
        t.data["acc"] = context
        self.tm.register_callback(self.TMCB.RESPONSE_OUT | self.TMCB.LOCAL_COMPLETED | self.TMCB.ON_FAILURE,
                                  self._on_transaction, t)

    def _on_transaction(self, t, p) -> None:
        context: AccContext = t.data.get("acc")
        if context is None or not (context.types or context.flags):
            return
        if p.type & self.TMCB.ON_FAILURE:
            self._missed(t, p, context)
            return
        self._reply_out(t, p, context)

    def _missed(self, t, p, context: AccContext) -> None:
        """on_missed(): the first failed attempt of an INVITE, once."""
        if context.missed_done or "missed" not in context.flags or t.method != "INVITE":
            return
        context.missed_done = True
        values = self._core_values(p.request or t.request, p.reply, str(p.code), self._reason(p), t)
        if "log" in context.types:
            self._write_log(MISSED, values, context)
        if "db" in context.types:
            self._write_db(self.table_missed, values, context, missed=True)

    def _reply_out(self, t, p, context: AccContext) -> None:
        code = p.code
        if t.method == "INVITE" and code >= 300:
            self._missed(t, p, context)
        if code >= 300 and "failed" not in context.flags:
            return
        if code < 200 and not (self.early_media and p.reply is not None and p.reply.body):
            return
        request = p.request or t.request
        values = self._core_values(request, p.reply, str(code), self._reason(p), t)
        dialog = t.data.get("dialog")
        if (t.method == "INVITE" and "cdr" in context.flags and 200 <= code < 300 and dialog is not None
                and request is not None and not self._has_to_tag(request)):
            self.calls[dialog] = CallRecord(context, values, _time.time(), self._clock)
            return
        if "log" in context.types:
            self._write_log(ANSWERED, values, context)
        if "db" in context.types:
            self._write_db(context.table or self.table_acc, values, context)

    def _bye_answered(self, bye_clock: float, bye_time: float):
        def answered(t, p) -> None:
            dialog = t.data.get("dialog")
            record = self.calls.pop(dialog, None) if dialog is not None else None
            if record is None:
                return
            ms_duration = max(0, int(round((bye_clock - record.start_clock) * 1000)))
            duration = -(-ms_duration // 1000)  # ceil, as acc.c
            setuptime = int(record.start - record.context.created) if record.context.created else 0
            if "log" in record.context.types:
                text = (f"{ENDED}created={int(record.context.created)};call_start_time={int(record.start)};"
                        f"duration={duration};ms_duration={ms_duration};setuptime={setuptime}"
                        + "".join(f";{k}={v}" for k, v in self._log_pairs(record.core))
                        + "".join(f";{k}={v or ''}" for k, v in self._extra_pairs("log", record.context)))
                self._log(self.log_level, text)
            if "db" in record.context.types:
                row = self._db_row(record.core, record.start)
                row.update(self._extra_pairs("db", record.context))
                row.update({"duration": duration, "ms_duration": ms_duration, "setuptime": setuptime,
                            "created": _datetime(record.context.created) if record.context.created else None})
                self._insert(record.context.table or self.table_acc, row)
        return answered

    # ---------------------------------------------------------------------------------- records
    @staticmethod
    def _has_to_tag(msg) -> bool:
        try:
            return bool(msg.to and msg.to.tag)
        except SIPParseError:
            return False

    @staticmethod
    def _reason(p) -> str:
        if p.reply is not None and getattr(p.reply, "reason", None):
            return p.reply.reason
        return REASON_PHRASES.get(p.code, "")

    @staticmethod
    def _core_values(request, reply, code: str, reason: str, t=None) -> dict[str, str]:
        """method, from_tag, to_tag (the reply's, else our local one), callid, sip_code, sip_reason."""
        def safe(fn, default=""):
            try:
                return fn() or default
            except (SIPParseError, AttributeError):
                return default
        to_tag = safe(lambda: reply.to.tag) if reply is not None else ""
        if not to_tag and t is not None:
            to_tag = getattr(t, "local_to_tag", None) or safe(lambda: request.to.tag)
        return {"method": safe(lambda: request.method), "from_tag": safe(lambda: request.from_.tag),
                "to_tag": to_tag or "", "callid": safe(lambda: request.call_id.strip()),
                "sip_code": code, "sip_reason": reason}

    @staticmethod
    def _log_pairs(values: dict[str, str]) -> list[tuple[str, str]]:
        names = {"method": "method", "from_tag": "from_tag", "to_tag": "to_tag", "callid": "call_id",
                 "sip_code": "code", "sip_reason": "reason"}
        return [(names[k], v) for k, v in values.items()]

    def _write_log(self, text: str, values: dict[str, str], context: AccContext | None) -> None:
        now = int(_time.time())
        head = f"{text}timestamp={now}"
        if context is not None:
            created = int(context.created)
            head += f";created={created};setuptime={now - created}"
        self._log(self.log_level, head + "".join(f";{k}={v}" for k, v in self._log_pairs(values))
                  + "".join(f";{k}={v or ''}" for k, v in self._extra_pairs("log", context)))

    def _db_row(self, values: dict[str, str], when: float) -> dict[str, _Any]:
        row = {self.columns[k]: v for k, v in values.items()}
        row[self.columns["time"]] = _datetime(when)
        return row

    def _write_db(self, table: str, values: dict[str, str], context: AccContext | None,
                  missed: bool = False) -> bool:
        now = _time.time()
        row = self._db_row(values, now)
        row.update(self._extra_pairs("db", context))
        if self.cdr_enabled and context is not None:
            created = context.created
            row["setuptime"] = int(now - created) if created else 0
            row["created"] = _datetime(created) if created else None
            if not missed:
                row["duration"] = 0
                row["ms_duration"] = 0
        return self._insert(table, row)

    def _insert(self, table: str, row: dict[str, _Any]) -> bool:
        try:
            self.db.insert(table, row)
            return True
        except DatabaseError as exc:
            self._log(-1, f"failed to insert into database table {table}: {exc}")
            return False
