"""dialog's Module: the script functions, the hooks into tm and rr, timers, the database and MI.

How a call is followed (OpenSIPS's dlg_handlers.c, same order of operations):

1. The INVITE: create_dialog() builds the dialog (state 1) with the caller's leg, asks rr to add
   `;did=<id>` to our Record-Route and attaches to the request's transaction (now, or when t_relay() creates
   it: tm's global REQUEST_IN callback). A dialog the script created but never relayed statefully counts
   as failed when the route ends (dialog_cleanup).
2. The transaction's callbacks: each branch sent adds a callee leg (REQUEST_FWDED); each reply relayed up
   fills the leg it belongs to (tag, contact, route set from the 2xx: RESPONSE_FWDED) and moves the state
   (RESPONSE_PRE_OUT: 1xx early, 2xx confirmed with the lifetime timer started, >= 300 failed);
   TRANS_DELETED ends a dialog still unconfirmed.
3. Sequential requests are matched inside rr's loose_route() (its callback): by the `did` Route parameter,
   else by Call-ID and tags (dlg_match_mode). ACK confirms, BYE ends the dialog, anything else refreshes
   the CSeq towards its leg. When we generated requests ourselves (pings), the CSeq of relayed requests is
   shifted to stay above ours, and their replies are shifted back.
4. Lifetime: counted in whole timer ticks from the 2xx (dlg_timer.c, a 1 s tick): on expiry the
   dlg_on_timeout route runs (it may extend the dialog), then with bye-on-timeout ("B") a BYE goes to each
   leg (tm's t_uac), else the dialog just ends; both count in expired_dialogs.
"""
from __future__ import annotations

import heapq
import math
from typing import Any, Callable

from opensips_py.modules.base import ModuleBase, ModuleInitError
from opensips_py.modules.dialog import EXPORTS, model
from opensips_py.modules.dialog.mi import dialog_object, socket_text
from opensips_py.modules.dialog.model import (
    CALLER_LEG, CONFIRMED, CONFIRMED_NA, DELETED, DIR_DOWNSTREAM, DIR_UPSTREAM, EARLY, UNCONFIRMED,
    Dialog, DialogTable, Leg, next_state,
)
from opensips_py.modules.dialog.profiles import Profiles
from opensips_py.modules.exports import RouteType
from opensips_py.script.context import MsgContext
from opensips_py.script.pvars import Handler
from opensips_py.sip import URI, SIPParseError

MATCH_DID_ONLY, MATCH_DID_FALLBACK, MATCH_DID_NONE = 0, 1, 2
DB_NONE, DB_REALTIME, DB_DELAYED, DB_SHUTDOWN = 0, 1, 2, 3
STATS = ("active_dialogs", "early_dialogs", "processed_dialogs", "expired_dialogs", "failed_dialogs",
         "create_sent", "update_sent", "delete_sent", "create_recv", "update_recv", "delete_recv")
MAX_USER_FLAGS = 32


class DialogState:
    """What dialog keeps per message (OpenSIPS's processing-context slots): the current dialog, the
    $DLG_timeout set before it existed, the last destination leg, and callbacks waiting for the
    transaction the script has not created yet."""

    __slots__ = ("dialog", "timeout", "last_dst_leg", "pending", "created")

    def __init__(self) -> None:
        self.dialog: Dialog | None = None
        self.timeout = 0
        self.last_dst_leg = -1
        self.pending: list[tuple[int, Callable]] = []
        self.created: Dialog | None = None


def _state(ctx: MsgContext) -> DialogState:
    state = ctx.module_state.get("dialog")
    if state is None:
        state = ctx.module_state["dialog"] = DialogState()
    return state


def _contact_uri(msg) -> str:
    """The Contact URI when the message has exactly one (get_routing_info), else ""."""
    try:
        contacts = msg.contacts
    except SIPParseError:
        return ""
    if len(contacts) != 1 or contacts[0].is_star:
        return ""
    return contacts[0].uri_text


def _record_routes(msg) -> list[str]:
    try:
        return [value.raw for value in msg.record_route]
    except SIPParseError:
        return []


class Module(ModuleBase):
    """Dialog tracking (see the module docstring)."""

    exports = EXPORTS

    # ================================================================================== lifecycle
    def init(self) -> None:
        self.enable_stats = bool(self.int_param("enable_stats"))
        self.rr_param = str(self.param("rr_param") or "did")
        self.default_timeout = self.int_param("default_timeout")
        extra = self.param("dlg_extra_hdrs")
        self.extra_headers = [line for line in str(extra or "").replace("\r\n", "\n").split("\n") if line.strip()]
        self.match_mode = self.int_param("dlg_match_mode")
        self.options_ping_interval = max(1, self.int_param("options_ping_interval"))
        self.reinvite_ping_interval = max(1, self.int_param("reinvite_ping_interval"))
        self.race_condition_timeout = self.int_param("race_condition_timeout")
        self.delete_delay = self.int_param("delete_delay")
        self.db_mode = self.int_param("db_mode")
        self.db_update_period = max(1, self.int_param("db_update_period"))
        self.db_flush_values = bool(self.int_param("db_flush_vals_profiles"))
        self.auto_prack_hangup_on_failure = bool(self.int_param("auto_prack_hangup_on_failure"))
        self.auto_prack_fr_timeout = self.int_param("auto_prack_fr_timeout")
        self.table = DialogTable(self.int_param("hash_size"))
        self.profiles = Profiles()
        try:
            for spec in self.param_values("profiles_with_value"):
                self.profiles.declare(str(spec), True)
            for spec in self.param_values("profiles_no_value"):
                self.profiles.declare(str(spec), False)
        except ValueError as exc:
            raise ModuleInitError(f"dialog: {exc}") from exc
        self._stats = dict.fromkeys(STATS, 0)
        self._flag_names: list[str] = []  # dialog flag names (3.4+), by bit
        self._tick_base: float | None = None
        self._ticking = False
        self._buckets: dict[int, dict[Dialog, None]] = {}  # tick -> the dialogs whose lifetime ends then
        self._bucket_ticks: list[int] = []  # heap of the ticks that have (or had) a bucket
        self._options_pings: dict[Dialog, int] = {}  # dialog -> next ping tick
        self._reinvite_pings: dict[Dialog, int] = {}
        self._next_db_flush = 0
        self._db_deleted: list[Dialog] = []  # ended dialogs whose rows go at the next flush
        self._held_by_bye: set[Dialog] = set()  # ended dialogs kept listed until their BYE transaction goes
        self.modules = getattr(self.core, "modules", {}) or {}
        self.tm = self.modules.get("tm")
        self.rr = self.modules.get("rr")
        if self.rr is not None:
            self.rr.register_callback(self._on_route, 0)
        self.TMCB = None
        if self.tm is not None:
            from opensips_py.modules.tm.callbacks import TMCB
            self.TMCB = TMCB
        self._tm_hooked = False  # the global REQUEST_IN callback, registered at first use (tm may init later)
        self.store = None
        if self.db_mode != DB_NONE:
            self._open_database()

    def _open_database(self) -> None:
        from opensips_py.db import DatabaseError, open_database
        from opensips_py.modules.dialog.storage import COLUMN_PARAMS, DialogStore
        url = self.db_url()
        if not url:
            raise ModuleInitError("dialog: db_mode needs db_url")
        try:
            db = open_database(self.core, str(url), "dialog")
        except AttributeError:  # the driver module is loaded after us and not initialised yet
            from opensips_py.db.url import parse_db_url
            driver = self.modules.get(parse_db_url(str(url)).driver_module)
            if driver is None:
                raise
            driver.init()
            db = open_database(self.core, str(url), "dialog")
        except DatabaseError as exc:
            raise ModuleInitError(f"dialog: {exc}") from exc
        columns = {name: str(self.param(f"{name}_column")) for name in COLUMN_PARAMS}
        self.store = DialogStore(db, str(self.param("table_name")), columns)
        try:
            self.store.prepare()
            self._restore()
        except DatabaseError as exc:
            raise ModuleInitError(f"dialog: {exc}") from exc

    def destroy(self) -> None:
        if self.store is None:
            return
        try:
            if self.db_mode == DB_SHUTDOWN:
                self.store.delete_all()
                for dialog in self.table:
                    if dialog.state in (CONFIRMED_NA, CONFIRMED):
                        self._db_write(dialog, insert=True, shutdown=True)
            elif self.db_mode in (DB_DELAYED, DB_REALTIME):
                self._flush_db(force=True, shutdown=True)
        except Exception as exc:  # noqa: BLE001 - shutdown goes on
            self._log(-1, f"saving dialogs at shutdown failed: {exc}")

    # ================================================================================== helpers
    def _log(self, level: int, text: str) -> None:
        logger = getattr(self.core, "logger", None)
        if logger is not None:
            logger.log(level, text, "dialog")

    def _stat(self, name: str, delta: int = 1) -> None:
        self._stats[name] += delta

    def stats(self) -> dict[str, int]:
        return dict(self._stats) if self.enable_stats else {}

    @property
    def now(self) -> float:
        return float(getattr(self.core, "now", 0.0))

    def current_dialog(self, ctx: MsgContext | None) -> Dialog | None:
        """The dialog of this message: matched or created in this route, else the transaction's."""
        if ctx is None:
            return None
        state = ctx.module_state.get("dialog")
        if state is not None and state.dialog is not None:
            return state.dialog
        if self.tm is not None and ctx.msg is not None:
            try:
                t = self.tm.transaction(ctx)
            except Exception:  # noqa: BLE001 - tm's lookup on an odd message: no dialog
                t = None
            dialog = t.data.get("dialog") if t is not None else None
            if dialog is not None:
                _state(ctx).dialog = dialog
            return dialog
        return None

    # ---------------------------------------------------------------------------------- ticks (dlg_timer.c)
    def ticks(self, now: float | None = None) -> int:
        """Whole seconds of the dialog timer (OpenSIPS's get_ticks()), counted from its first use."""
        now = self.now if now is None else now
        if self._tick_base is None:
            self._tick_base = math.floor(now)
        return int(now - self._tick_base)

    def _ensure_ticking(self) -> None:
        if self._ticking or not hasattr(self.core, "add_timer"):
            return
        self._ticking = True
        tick = self.ticks()
        self.core.add_timer(self._tick_base + tick + 1, self._on_tick)

    def _on_tick(self, now: float) -> None:
        tick = self.ticks(now)
        self._expire_lifetimes(tick)
        if self._options_pings:
            self._ping_round(tick, reinvite=False)
        if self._reinvite_pings:
            self._ping_round(tick, reinvite=True)
        if self.db_mode == DB_DELAYED and tick >= self._next_db_flush:
            self._next_db_flush = tick + self.db_update_period
            self._flush_db()
        if len(self.table) or self._buckets or self._db_deleted:
            self.core.add_timer(self._tick_base + tick + 1, self._on_tick)
        else:
            self._ticking = False

    def _set_lifetime_timer(self, dialog: Dialog, seconds: int) -> None:
        """insert_dlg_timer()/update_dlg_timer(): expire `seconds` ticks from now. Dialogs wait in one bucket
        per tick (a dialog that ends early leaves its bucket, so nothing keeps it alive)."""
        self._remove_lifetime_timer(dialog)
        tick = self.ticks() + max(0, seconds)
        dialog.timeout_tick = tick
        bucket = self._buckets.get(tick)
        if bucket is None:
            bucket = self._buckets[tick] = {}
            heapq.heappush(self._bucket_ticks, tick)
        bucket[dialog] = None
        self._ensure_ticking()

    def _remove_lifetime_timer(self, dialog: Dialog) -> None:
        tick = dialog.timeout_tick
        if tick is None:
            return
        dialog.timeout_tick = None
        bucket = self._buckets.get(tick)
        if bucket is not None:
            bucket.pop(dialog, None)
            if not bucket:
                del self._buckets[tick]  # its tick stays in the heap and is skipped when due

    def _expire_lifetimes(self, tick: int) -> None:
        heap = self._bucket_ticks
        for _ in range(10_000_000):
            if not heap or heap[0] > tick:
                break
            bucket = self._buckets.pop(heapq.heappop(heap), None)
            for dialog in bucket or ():
                dialog.timeout_tick = None
                try:
                    self._lifetime_expired(dialog)
                except Exception as exc:  # noqa: BLE001
                    self._log(-1, f"dialog timeout handling failed for {dialog.callid}: {exc!r}")

    def timeout_at(self, dialog: Dialog) -> int:
        """The unix time the lifetime ends (MI `timeout`), 0 when not timing."""
        if dialog.timeout_tick is None:
            return 0
        return int(self.now) + dialog.timeout_tick - self.ticks()

    # ================================================================================== create_dialog
    def create_dialog(self, ctx: MsgContext, flags: str | None = None) -> int:
        """1 created (or already there: its flags are updated); -1 not an initial INVITE or malformed."""
        self._hook_tm()
        msg = ctx.msg
        if msg is None or not msg.is_request or msg.method != "INVITE":
            return -1
        try:
            to = msg.to
            from_ = msg.from_
            callid = (msg.call_id or "").strip()
            cseq = msg.cseq
        except SIPParseError:
            return -1
        if to is None or to.tag:
            return -1
        try:
            bits = model.exclusive_pings(model.parse_create_flags(flags))
        except ValueError as exc:
            self._log(-1, f"create_dialog(): {exc}")
            return -1
        state = _state(ctx)
        current = self.current_dialog(ctx)
        if current is not None:
            if bits:
                current.flags &= ~model.SCRIPT_SETTABLE
                current.flags |= bits
            return 1
        if from_ is None or not callid or not from_.tag or cseq is None:
            self._log(-1, "create_dialog(): invalid request: empty Call-ID or From tag")
            return -1
        dialog = self.table.create(callid, from_.uri_text, to.uri_text)
        dialog.flags |= bits
        records = _record_routes(msg)
        caller = Leg(from_.tag, _contact_uri(msg), ",".join(records), "0",
                     ctx.received.socket if ctx.received is not None else None)
        caller.inv_cseq = str(cseq.number)
        caller.in_sdp = msg.body if msg.body and msg.content_type is not None and \
            msg.content_type.mime == "application/sdp" else None
        dialog.legs.append(caller)
        dialog.from_rr_nb = len(records)
        state.dialog = state.created = dialog
        state.last_dst_leg = 1
        if self.match_mode != MATCH_DID_NONE and self.rr is not None:
            self.rr.add_rr_param(ctx, f";{self.rr_param}={dialog.did}")
        dialog.lifetime = state.timeout or self.default_timeout
        t = None
        if self.tm is not None:
            try:
                t = self.tm.transaction(ctx)
            except Exception:  # noqa: BLE001
                t = None
        if t is not None:
            self._attach(dialog, t)
        self._stat("processed_dialogs")
        self._ensure_ticking()
        return 1

    # ================================================================================== tm hooks
    def _hook_tm(self) -> None:
        if not self._tm_hooked and self.tm is not None:
            self._tm_hooked = True
            self.tm.register_callback(self.TMCB.REQUEST_IN, self._on_new_transaction)

    def _on_new_transaction(self, t, p) -> None:
        """TMCB.REQUEST_IN: a transaction was created for a request the script is routing."""
        ctx = p.ctx
        if ctx is None:
            return
        state = ctx.module_state.get("dialog")
        if state is None:
            return
        if state.created is not None and not state.created.flags & model.FLAG_ISINIT and \
                getattr(t, "method", "") == "INVITE":
            self._attach(state.created, t)
        if state.dialog is not None:
            t.data["dialog"] = state.dialog
        for types, fn in state.pending:
            self.tm.register_callback(types, fn, t)
        state.pending = []

    def _attach(self, dialog: Dialog, t) -> None:
        TMCB = self.TMCB
        t.data["dialog"] = dialog
        dialog.transaction = t
        dialog.flags |= model.FLAG_ISINIT
        types = (TMCB.REQUEST_FWDED | TMCB.RESPONSE_FWDED | TMCB.RESPONSE_PRE_OUT | TMCB.TRANS_CANCELLED
                 | TMCB.TRANS_DELETED)
        self.tm.register_callback(types, lambda tr, p: self._initial_event(dialog, tr, p), t)

    def _on_transaction(self, ctx: MsgContext, types: int, fn: Callable) -> None:
        """Register on the transaction of this request, now or when the script creates it."""
        if self.tm is None:
            return
        self._hook_tm()
        try:
            t = self.tm.transaction(ctx)
        except Exception:  # noqa: BLE001
            t = None
        if t is not None:
            self.tm.register_callback(types, fn, t)
        else:
            _state(ctx).pending.append((types, fn))

    def _initial_event(self, dialog: Dialog, t, p) -> None:
        TMCB = self.TMCB
        kind = p.type
        if kind & TMCB.REQUEST_FWDED:
            self._branch_out(dialog, t, p)
        elif kind & TMCB.RESPONSE_FWDED:
            if p.reply is not None:
                self.push_reply(dialog, p.reply, p.branch, t)
            if 100 < p.code < 200:  # a relayed provisional: early (tm's PRE_OUT may come for finals only)
                self._reply_event(dialog, p.code, p)
                if dialog.flags & model.FLAG_AUTOPRACK and p.reply is not None:
                    self._auto_prack(dialog, p.reply, t)
        elif kind & TMCB.RESPONSE_PRE_OUT:
            if p.code > 100:
                self._reply_event(dialog, p.code, p)
        elif kind & TMCB.TRANS_CANCELLED:
            dialog.flags |= model.FLAG_WAS_CANCELLED
            if dialog.flags & model.FLAG_END_ON_RACE_CONDITION and dialog.state >= CONFIRMED_NA:
                dialog.lifetime = self.race_condition_timeout
                dialog.flags |= model.FLAG_RACE_CONDITION_OCCURRED
                self._set_lifetime_timer(dialog, dialog.lifetime)
            else:
                dialog.end_reason = "Cancelled"
        elif kind & TMCB.TRANS_DELETED:
            dialog.transaction = None
            self._initial_reply_state(dialog, model.EV_TDEL, None)

    def _branch_out(self, dialog: Dialog, t, p) -> None:
        """A branch leaves: its callee leg (OpenSIPS pushes one per outgoing INVITE branch)."""
        for leg in dialog.legs[1:]:
            if leg.branch == p.branch and not leg.tag:
                return
        branch = t.branches[p.branch] if 0 <= p.branch < len(getattr(t, "branches", ())) else None
        leg = Leg(socket=getattr(branch, "socket", None), branch=p.branch)
        request = p.request
        if request is not None and request.body:
            leg.out_sdp = request.lumps.body if request.lumps.body is not None else request.body
        dialog.legs.append(leg)

    def push_reply(self, dialog: Dialog, reply, branch_index: int, t=None) -> int | None:
        """push_reply_in_dialog(): the callee leg of a reply to the initial INVITE (a new one for a new To-tag
        of the same branch: downstream forking), and its routing info from the 2xx. Returns the leg's index,
        None for a provisional reply without To-tag. Called for every relayed reply, and earlier from an
        onreply_route that PRACKs the reply (dlg_ensure_reply_leg)."""
        try:
            tag = reply.to.tag if reply.to is not None else None
        except SIPParseError:
            tag = None
        status = reply.status
        if not tag and status < 200:
            return None
        tag = tag or ""
        index = next((i for i in range(1, len(dialog.legs)) if dialog.legs[i].tag == tag and tag), None)
        if index is None:
            index = next((i for i in range(1, len(dialog.legs)) if dialog.legs[i].branch == branch_index), None)
            branches = getattr(t, "branches", ())
            branch = branches[branch_index] if 0 <= branch_index < len(branches) else None
            socket = getattr(branch, "socket", None)
            if index is None or dialog.legs[index].tag:
                # a leg for a new To-tag (downstream forking) or a branch we did not see leave
                base = dialog.legs[index] if index is not None else None
                leg = Leg(socket=socket, branch=branch_index)
                if base is not None:
                    leg.out_sdp = base.out_sdp
                    leg.socket = base.socket
                dialog.legs.append(leg)
                index = len(dialog.legs) - 1
            leg = dialog.legs[index]
            leg.tag = tag
            leg.r_cseq = dialog.caller.inv_cseq or "0"
            if socket is not None:
                leg.socket = socket
        leg = dialog.legs[index]
        if reply.body and reply.content_type is not None and reply.content_type.mime == "application/sdp":
            leg.in_sdp = reply.body
        if 200 <= status < 300 and dialog.legs_200ok != index:
            if not dialog.legs_200ok:
                dialog.legs_200ok = index
            try:
                number = reply.cseq.number
            except (SIPParseError, AttributeError):
                number = None
            if number is not None:
                if dialog.flags & model.FLAG_CSEQ_ENFORCE:
                    # uac_auth() renumbered the INVITE: requests towards this leg continue from its CSeq
                    primary = dialog.legs[dialog.legs_200ok]
                    primary.last_gen_cseq = max(primary.last_gen_cseq, number)
                received = int(dialog.caller.inv_cseq or 0)
                leg.ack_cseq = (received, number) if received != number else None
            leg.route_set = ",".join(self._route_towards_callee(dialog, reply))
            leg.contact = _contact_uri(reply)
        return index

    def _route_towards_callee(self, dialog: Dialog, reply) -> list[str]:
        """The route set towards the callee from a reply to the INVITE: its Record-Routes that come before the
        caller-side ones and ours, in reverse order (print_rr_body with skip)."""
        records = _record_routes(reply)
        keep = records[:max(0, len(records) - dialog.from_rr_nb)]
        while keep and self._is_ours(keep[-1]):
            keep.pop()
        return list(reversed(keep))

    def _is_ours(self, record_route: str) -> bool:
        text = record_route.strip()
        start, end = text.find("<"), text.find(">")
        uri_text = text[start + 1:end] if start >= 0 and end > start else text.split(";", 1)[0]
        try:
            uri = URI(uri_text)
        except SIPParseError:
            return False
        host = uri.maddr or uri.host
        if not host or not hasattr(self.core, "is_myself"):
            return False
        proto = uri.transport or ("tls" if uri.scheme == "sips" else "udp")
        port = uri.port if uri.port is not None else (5061 if proto == "tls" else 5060)
        return bool(self.core.is_myself(host, port, proto))

    def _reply_event(self, dialog: Dialog, code: int, p) -> None:
        event = model.EV_RPL1XX if code < 200 else model.EV_RPL2XX if code < 300 else model.EV_RPL3XX
        self._initial_reply_state(dialog, event, p)

    def _initial_reply_state(self, dialog: Dialog, event: int, p) -> None:
        """dlg_onreply(): the state machine for the replies of the initial INVITE and its end."""
        old, new = next_state(dialog, event, DIR_UPSTREAM, CALLER_LEG)
        if new == EARLY and old != EARLY:
            self._stat("early_dialogs")
            return
        if new == CONFIRMED_NA and old not in (CONFIRMED_NA, CONFIRMED):
            if old == DELETED:
                self.table.add(dialog)  # a 2xx racing the negative reply: back in the table
            if dialog.flags & model.FLAG_END_ON_RACE_CONDITION and \
                    dialog.flags & (model.FLAG_WAS_CANCELLED | model.FLAG_HASBYE):
                dialog.lifetime = self.race_condition_timeout
                dialog.flags |= model.FLAG_RACE_CONDITION_OCCURRED
            dialog.start_ts = int(self.now)
            self._set_lifetime_timer(dialog, dialog.lifetime)
            dialog.flags |= model.FLAG_NEW
            if self.db_mode == DB_REALTIME:
                self._db_write(dialog, insert=True)
            if dialog.rt_on_answer:
                self._run_dialog_route(dialog, dialog.rt_on_answer)
            if old == EARLY:
                self._stat("early_dialogs", -1)
            self._stat("active_dialogs")
            return
        if old != DELETED and new == DELETED:
            self.profiles.unlink_all(dialog)
            if old == EARLY:
                self._stat("early_dialogs", -1)
            self._stat("failed_dialogs")
            self.table.remove(dialog)

    # ================================================================================== after the script
    def after_request_route(self, ctx: MsgContext) -> None:
        """dialog_cleanup: a dialog created here that no transaction took is gone (and failed)."""
        state = ctx.module_state.get("dialog")
        if state is None or state.created is None:
            return
        dialog = state.created
        if not dialog.flags & model.FLAG_ISINIT and dialog.state == UNCONFIRMED:
            self._initial_reply_state(dialog, model.EV_TDEL, None)

    # ================================================================================== sequential requests
    def _on_route(self, ctx: MsgContext, params: str) -> None:
        """rr callback (dlg_onroute): match the request routed by loose_route() to its dialog."""
        state = _state(ctx)
        if state.dialog is not None:
            return
        self._match(ctx, self.match_mode, None)

    def _match(self, ctx: MsgContext, mode: int, did: str | None) -> bool:
        msg = ctx.msg
        try:
            to = msg.to
            from_ = msg.from_
            callid = (msg.call_id or "").strip()
        except SIPParseError:
            return False
        if to is None or not to.tag or from_ is None:
            return False
        ftag, ttag = from_.tag or "", to.tag or ""
        found: tuple[Dialog, int, int] | None = None
        if mode != MATCH_DID_NONE:
            value = did
            if value is None and self.rr is not None:
                value = self.rr.get_route_param(ctx, self.rr_param)
            if value is None:
                if mode == MATCH_DID_ONLY:
                    return False
            else:
                ids = model.parse_did(value)
                if ids is None:
                    self._log(-1, f"malformed route param [{value}]")
                    return False
                dialog = self.table.lookup(*ids)
                if dialog is not None:
                    matched = dialog.match(callid, ftag, ttag)
                    if matched is not None:
                        found = (dialog, matched[0], matched[1])
                    else:
                        self._log(1, f"tight matching failed for {msg.method} with callid='{callid}'")
                if found is None and mode == MATCH_DID_ONLY:
                    return False
        if found is None:
            found = self.table.find(callid, ftag, ttag)
            if found is None:
                return False
        dialog, direction, dst_leg = found
        self._sequential(ctx, dialog, direction, dst_leg)
        return True

    def _sequential(self, ctx: MsgContext, dialog: Dialog, direction: int, dst_leg: int) -> None:
        msg = ctx.msg
        method = msg.method
        event = {"PRACK": model.EV_REQPRACK, "ACK": model.EV_REQACK, "BYE": model.EV_REQBYE}.get(method,
                                                                                                model.EV_REQ)
        old, new = next_state(dialog, event, direction, dst_leg)
        state = _state(ctx)
        state.dialog = dialog
        state.last_dst_leg = dst_leg
        if self.tm is not None:
            try:
                t = self.tm.transaction(ctx)
            except Exception:  # noqa: BLE001
                t = None
            if t is not None:
                t.data["dialog"] = dialog
        leg = dialog.legs[dst_leg] if 0 <= dst_leg < len(dialog.legs) else None
        if new == DELETED and old == DELETED:
            # a request after the end (late BYE retransmission…): keep the CSeq shift
            if leg is not None and leg.last_gen_cseq and event != model.EV_REQACK:
                self._shift_cseq(ctx, dialog, leg, direction)
            return
        if event == model.EV_REQBYE and new == DELETED:
            if dialog.rt_on_hangup:
                self._run_dialog_route(dialog, dialog.rt_on_hangup)
            if not dialog.end_reason:
                dialog.end_reason = "Upstream BYE" if dst_leg == CALLER_LEG else "Downstream BYE"
            if leg is not None and leg.last_gen_cseq:
                self._shift_cseq(ctx, dialog, leg, direction)
            self._hold_for_bye_transaction(ctx, dialog)
            self._ended(dialog)
            return
        if event in (model.EV_REQ, model.EV_REQACK, model.EV_REQPRACK) and new in (CONFIRMED, CONFIRMED_NA):
            if state.timeout:
                dialog.lifetime = state.timeout
                self._set_lifetime_timer(dialog, dialog.lifetime)
            if event != model.EV_REQACK and leg is not None:
                self._new_cseq(msg, leg)
                if method in ("INVITE", "UPDATE"):
                    src = dialog.legs[dialog.other_leg(dst_leg)]
                    src.inv_cseq = str(msg.cseq.number)
                    if msg.body and method == "INVITE":
                        src.in_sdp = msg.body
                if leg.last_gen_cseq:
                    self._shift_cseq(ctx, dialog, leg, direction)
                if method in ("INVITE", "UPDATE") and self.TMCB is not None:
                    self._on_transaction(ctx, self.TMCB.RESPONSE_FWDED,
                                         lambda t, p, leg=leg: self._sequential_reply(leg, t, p))
                dialog.flags |= model.FLAG_CHANGED
                if self.db_mode == DB_REALTIME and dialog.state in (CONFIRMED_NA, CONFIRMED):
                    self._db_write(dialog)
            elif event == model.EV_REQACK and leg is not None and leg.ack_cseq is not None:
                received, sent = leg.ack_cseq
                if msg.cseq.number == received:
                    self._rewrite_cseq(msg, sent)
        if event in (model.EV_REQPRACK, model.EV_REQ, model.EV_REQBYE) and new == EARLY and leg is not None:
            self._new_cseq(msg, leg)
        if new == CONFIRMED and old == CONFIRMED_NA:
            dialog.flags |= model.FLAG_CHANGED
            if self.db_mode == DB_REALTIME:
                self._db_write(dialog)
            if dialog.flags & (model.FLAG_PING_CALLER | model.FLAG_PING_CALLEE):
                for index in (CALLER_LEG, dialog.callee_index):
                    dialog.legs[index].ping = model.PING_SUCCESS
                self._options_pings[dialog] = self.ticks() + self.options_ping_interval
                self._ensure_ticking()
            if dialog.flags & (model.FLAG_REINVITE_PING_CALLER | model.FLAG_REINVITE_PING_CALLEE):
                for index in (CALLER_LEG, dialog.callee_index):
                    dialog.legs[index].reinvite_ping = model.PING_SUCCESS
                self._reinvite_pings[dialog] = self.ticks() + self.reinvite_ping_interval
                self._ensure_ticking()

    @staticmethod
    def _sequential_reply(leg: Leg, t, p) -> None:
        """A relayed reply to a re-INVITE/UPDATE towards `leg` (dlg_update_*_rpl_contact): a 401/407 means
        the request comes again with a CSeq one higher, so our counter for that leg moves on too; the 2xx of
        an INVITE tells the CSeq its ACK must carry towards the leg (as the INVITE left us, uac_auth() or our
        pings having renumbered it)."""
        code, reply = p.code, p.reply
        if reply is None:
            return
        if code in (401, 407) and leg.last_gen_cseq:
            leg.last_gen_cseq += 1
        elif 200 <= code < 300 and t.method == "INVITE" and t.request is not None:
            try:
                received, sent = t.request.cseq.number, reply.cseq.number
            except (SIPParseError, AttributeError):
                return
            leg.ack_cseq = (received, sent) if received != sent else None

    @staticmethod
    def _new_cseq(msg, leg: Leg) -> None:
        try:
            number = str(msg.cseq.number)
        except (SIPParseError, AttributeError):
            return
        leg.prev_cseq = leg.r_cseq
        leg.r_cseq = number

    @staticmethod
    def _rewrite_cseq(msg, number: int) -> None:
        """update_msg_cseq(): the CSeq number of the message as it leaves (a lump; reads keep the original)."""
        fields = msg.header_fields("cseq")
        if not fields:
            return
        method = msg.cseq.method
        msg.replace_field(fields[0].index, f"{number} {method}")

    def _shift_cseq(self, ctx: MsgContext, dialog: Dialog, leg: Leg, direction: int) -> None:
        """We generated requests towards this leg (pings): relay this one above them, and give its replies
        back their original CSeq (dlg_onroute + fix_final_cseq / dlg_seq_*_onreply_mod_cseq)."""
        msg = ctx.msg
        original = msg.cseq.number
        leg.last_gen_cseq += 1
        self._rewrite_cseq(msg, leg.last_gen_cseq)
        if self.TMCB is None:
            return

        def restore(t, p) -> None:
            reply = p.reply
            if reply is not None:
                fields = reply.header_fields("cseq")
                if fields:
                    reply.replace_field(fields[0].index, f"{original} {reply.cseq.method}")

        self._on_transaction(ctx, self.TMCB.RESPONSE_FWDED, restore)

    def _ended(self, dialog: Dialog) -> None:
        """The dialog reached DELETED by a BYE (seen or sent by us): the bookkeeping of dlg_onroute /
        dual_bye_event."""
        self.profiles.unlink_all(dialog)
        self._remove_lifetime_timer(dialog)
        self._options_pings.pop(dialog, None)
        self._reinvite_pings.pop(dialog, None)
        self._stat("active_dialogs", -1)
        self._drop(dialog)

    def _drop(self, dialog: Dialog) -> None:
        """A deleted dialog leaves the table now, or at the next database flush (db_mode 2, as OpenSIPS
        keeps it referenced until its row is gone), or after delete_delay."""
        if self.db_mode == DB_REALTIME and dialog.flags & model.FLAG_NEW == 0:
            self._db_delete(dialog)
        if self.db_mode == DB_DELAYED:
            self._db_deleted.append(dialog)
            self._ensure_ticking()
            return
        delay = dialog.del_delay or self.delete_delay
        if delay and hasattr(self.core, "add_timer"):
            self.core.add_timer(self.now + delay, lambda now: self.table.remove(dialog))
            return
        if dialog in self._held_by_bye:
            return  # the BYE's transaction lets it go (_hold_for_bye_transaction)
        self.table.remove(dialog)

    def _hold_for_bye_transaction(self, ctx: MsgContext, dialog: Dialog) -> None:
        """The BYE's transaction keeps the ended dialog (state 5, still listed by dlg_list) until it is
        deleted, wt_timer after its final reply: OpenSIPS's dlg_set_tm_dialog_ctx() references the dialog
        from the transaction and unreferences it at TMCB_TRANS_DELETED (dlg_handlers.c). Without a
        transaction (the BYE relayed statelessly) only the processing context held it: it goes once the
        request is done. Hook added for SIPssert stir-shaken/01, which reads the dialog just after the BYE."""
        if self.TMCB is None or not hasattr(self.core, "add_timer"):
            return
        self._held_by_bye.add(dialog)
        entry = (self.TMCB.TRANS_DELETED, lambda t, p: self._release_held(dialog))
        self._on_transaction(ctx, *entry)
        state = _state(ctx)

        def without_transaction(now) -> None:
            if any(pending is entry[1] for _, pending in state.pending):
                state.pending = [p for p in state.pending if p[1] is not entry[1]]
                self._release_held(dialog)

        self.core.add_timer(self.now, without_transaction)

    def _release_held(self, dialog: Dialog) -> None:
        if dialog in self._held_by_bye:
            self._held_by_bye.discard(dialog)
            if not (dialog.del_delay or self.delete_delay):
                self.table.remove(dialog)

    # ================================================================================== ending dialogs
    def _lifetime_expired(self, dialog: Dialog) -> None:
        """dlg_ontimeout()."""
        if dialog.rt_on_timeout and dialog.state < DELETED:
            self._run_dialog_route(dialog, dialog.rt_on_timeout)
            if dialog.timeout_tick is not None:  # the route set $DLG_timeout: the dialog lives on
                return
        if dialog.flags & model.FLAG_BYEONTIMEOUT and dialog.state in (CONFIRMED_NA, CONFIRMED):
            dialog.end_reason = "SIP Race Condition" if dialog.flags & model.FLAG_RACE_CONDITION_OCCURRED \
                else "Lifetime Timeout"
            self.end_dialog(dialog)
            self._stat("expired_dialogs")
            return
        old, new = next_state(dialog, model.EV_REQBYE, DIR_DOWNSTREAM, dialog.legs_200ok)
        if new == DELETED and old != DELETED:
            self._stat("expired_dialogs")
            self._ended(dialog)

    def end_dialog(self, dialog: Dialog, extra_headers: list[str] | None = None) -> int:
        """dlg_end_dlg(): BYE to both legs of a confirmed dialog, CANCEL of the INVITE for an early one.
        0 when the requests went out, -1 otherwise."""
        if dialog.state in (UNCONFIRMED, EARLY):
            t = dialog.transaction
            if t is None or self.tm is None:
                self._log(-1, "the initial transaction does not exist any more")
                return -1
            if self.tm.t_cancel_trans(t) < 0:  # (OpenSIPS adds no extra headers to these CANCELs)
                self._log(-1, "failed to send the CANCELs")
                return -1
            return 0
        if dialog.state == DELETED:
            return -1
        headers = [*self.extra_headers, *(extra_headers or [])]
        failed = 0
        callee = dialog.callee_index
        for dst, src in ((CALLER_LEG, callee), (callee, CALLER_LEG)):
            if self._send_bye(dialog, dst, src, headers) < 0:
                failed += 1
        for _ in range(failed):  # a BYE that could not go counts as answered (dlg_send_dual_bye)
            self._bye_answered(dialog)
        return -1 if failed else 0

    def end_dialog_soon(self, dialog: Dialog, extra_headers: list[str] | None = None) -> None:
        """dlg_end_dlg() from outside a message (MI): OpenSIPS hands the job to a SIP worker (ipc_dispatch_rpc);
        here the core runs it at once in a timer turn (core.call_soon), whose sends the host delivers."""
        call_soon = getattr(self.core, "call_soon", None)
        if call_soon is None:
            self.end_dialog(dialog, extra_headers)
            return
        call_soon(lambda now: self.end_dialog(dialog, extra_headers))

    def _leg_request(self, dialog: Dialog, dst: int, src: int, method: str, cseq: int, headers: list[str],
                     body: bytes = b"", content_type: str | None = None, *, contact: str | None = None,
                     routes: list[str] | None = None, fr_timeout: float | None = None):
        """The in-dialog request towards leg `dst` (tm's t_request_within on OpenSIPS's dlg_t). `contact` and
        `routes` replace the leg's remote target and route set (a PRACK takes them from the reply it
        acknowledges: the leg is still early and has neither)."""
        from opensips_py.modules.tm.messages import LocalRequest
        leg = dialog.legs[dst]
        contact = contact or leg.contact
        if not contact:
            raise ValueError("no contact available for the leg")
        remote_uri, local_uri = (dialog.from_uri, dialog.to_uri) if dst == CALLER_LEG else \
            (dialog.to_uri, dialog.from_uri)
        routes = leg.route_uris if routes is None else routes
        ruri = contact
        route_lines: list[str] = []
        if routes:
            if ";lr" in routes[0].lower():
                route_lines = [f"Route: {', '.join(f'<{r}>' for r in routes)}"]
            else:  # RFC 3261 §12.2.1.1: a strict first hop takes the R-URI, the contact goes last
                ruri = routes[0]
                route_lines = [f"Route: {', '.join(f'<{r}>' for r in [*routes[1:], contact])}"]
        return LocalRequest(method=method, ruri=ruri, from_=f"<{local_uri}>;tag={dialog.legs[src].tag}",
                            to=f"<{remote_uri}>;tag={leg.tag}", call_id=dialog.callid, cseq=cseq,
                            headers=[*route_lines, *headers], body=body, content_type=content_type,
                            socket=leg.socket, fr_timeout=fr_timeout)

    def _send_bye(self, dialog: Dialog, dst: int, src: int, headers: list[str]) -> int:
        if self.tm is None or not callable(getattr(self.tm, "t_uac", None)):
            self._log(-1, "cannot send BYE: tm has no t_uac")
            return -1
        leg = dialog.legs[dst]
        if leg.last_gen_cseq:  # build_dlg_t: after pings, one above the last generated (tm adds one more)
            leg.last_gen_cseq += 1
            cseq = leg.last_gen_cseq + 1
        else:
            try:
                cseq = int(leg.r_cseq) + 1
            except ValueError:
                self._log(-1, "invalid cseq")
                return -1
        try:
            request = self._leg_request(dialog, dst, src, "BYE", cseq, headers)
        except ValueError as exc:
            self._log(-1, f"failed to create the BYE: {exc}")
            return -1

        def answered(t, p) -> None:
            if p.code >= 200:
                self._bye_answered(dialog)

        t = self.tm.t_uac(request, callback=answered)
        if t is None:
            return -1
        t.data["dialog"] = dialog
        return 0

    def _bye_answered(self, dialog: Dialog) -> None:
        """dual_bye_event(): the first final reply to our BYEs ends the dialog."""
        old, new = next_state(dialog, model.EV_REQBYE, DIR_DOWNSTREAM, dialog.legs_200ok)
        if new == DELETED and old != DELETED:
            if dialog.rt_on_hangup:
                self._run_dialog_route(dialog, dialog.rt_on_hangup)
            self._ended(dialog)

    # ---------------------------------------------------------------------------------- pings
    def _ping_round(self, tick: int, reinvite: bool) -> None:
        """dlg_options_routine / dlg_reinvite_routine: end dialogs whose ping failed, ping those due."""
        table = self._reinvite_pings if reinvite else self._options_pings
        interval = self.reinvite_ping_interval if reinvite else self.options_ping_interval
        caller_flag = model.FLAG_REINVITE_PING_CALLER if reinvite else model.FLAG_PING_CALLER
        callee_flag = model.FLAG_REINVITE_PING_CALLEE if reinvite else model.FLAG_PING_CALLEE
        attr = "reinvite_ping" if reinvite else "ping"
        kind = "ReINVITE Ping Timeout" if reinvite else "Ping Timeout"
        for dialog, due in list(table.items()):
            if dialog.state == DELETED:
                del table[dialog]
                continue
            callee = dialog.callee_index
            caller_failed = dialog.flags & caller_flag and getattr(dialog.legs[CALLER_LEG], attr) == model.PING_FAIL
            callee_failed = dialog.flags & callee_flag and getattr(dialog.legs[callee], attr) == model.PING_FAIL
            if caller_failed or callee_failed:
                del table[dialog]
                dialog.end_reason = f"Caller {kind}" if caller_failed else f"Callee {kind}"
                self.end_dialog(dialog)
                continue
            if due > tick:
                continue
            for flag, dst, src in ((caller_flag, CALLER_LEG, callee), (callee_flag, callee, CALLER_LEG)):
                if dialog.flags & flag and getattr(dialog.legs[dst], attr) == model.PING_SUCCESS:
                    self._send_ping(dialog, dst, src, reinvite)
            table[dialog] = tick + interval

    def _send_ping(self, dialog: Dialog, dst: int, src: int, reinvite: bool) -> None:
        """OPTIONS, or a re-INVITE with the SDP last sent to that leg (dlg_timer.c); 408/481 or no answer
        marks the leg failed, which ends the dialog at the next round."""
        leg = dialog.legs[dst]
        attr = "reinvite_ping" if reinvite else "ping"

        def answered(t, p) -> None:
            if p.code >= 200:
                failed = p.reply is None or p.code in (408, 481)
                setattr(leg, attr, model.PING_FAIL if failed else model.PING_SUCCESS)

        setattr(leg, attr, model.PING_PENDING)
        body = (leg.out_sdp or dialog.legs[src].in_sdp or b"") if reinvite else b""
        if not self.send_request(dialog, dst, src, "INVITE" if reinvite else "OPTIONS", body,
                                 "application/sdp" if reinvite else None, on_reply=answered, contact=reinvite):
            setattr(leg, attr, model.PING_FAIL)

    def _send_ack(self, dialog: Dialog, dst: int, src: int, cseq: int) -> None:
        """The ACK of our re-INVITE ping's 2xx: a request of its own, sent without a transaction (RFC 3261
        §13.2.2.4), to the first loose Route or the contact, from the leg's socket."""
        import secrets

        from opensips_py.modules.tm.messages import build_local_request
        from opensips_py.runtime.forward import STREAM_PROTOCOLS, BadDestination, target_of_uri, via_host_text
        from opensips_py.script.context import Send
        try:
            request = self._leg_request(dialog, dst, src, "ACK", cseq, [])
            routes = dialog.legs[dst].route_uris
            first = URI(routes[0]) if routes and ";lr" in routes[0].lower() else URI(request.ruri)
            target = target_of_uri(first)
        except (ValueError, SIPParseError, BadDestination) as exc:
            self._log(-1, f"cannot send the ACK of a re-INVITE ping: {exc}")
            return
        core = self.core
        ip = core.resolver.resolve(target.host)
        sock = core.send_socket(target.proto, ip, request.socket) if ip is not None else None
        if sock is None:
            self._log(-1, f"cannot send the ACK of a re-INVITE ping to {target.host}")
            return
        via = f"SIP/2.0/{target.proto.upper()} {via_host_text(sock.via_host)}:{sock.via_port};branch=z9hG4bK" \
              f"{secrets.token_hex(8)}"
        data = build_local_request(request, via, dialog.callid, cseq,
                                   server_signature=bool(getattr(core.settings, "server_signature", True)))
        port = target.effective_port
        conn = core.connection_for(target.proto, ip, port) if target.proto in STREAM_PROTOCOLS else None
        core.process.outbox.append(Send(data, target.proto, ip, port, sock, conn))

    # ================================================================================== dialog routes
    def _run_dialog_route(self, dialog: Dialog, name: str) -> None:
        """dlg_on_answer/timeout/hangup: run route[name] with this dialog as the current one."""
        script = getattr(self.core, "script", None)
        process = getattr(self.core, "process", None)
        if script is None or process is None:
            return
        ctx = MsgContext(None, RouteType.REQUEST, process)
        _state(ctx).dialog = dialog
        try:
            script.run("route", name, ctx)
        except Exception as exc:  # noqa: BLE001
            self._log(-1, f"route[{name}] for dialog {dialog.did} failed: {exc!r}")

    def dlg_on_answer(self, ctx: MsgContext, route: str | None = None) -> int:
        return self._set_route(ctx, "rt_on_answer", route)

    def dlg_on_timeout(self, ctx: MsgContext, route: str | None = None) -> int:
        return self._set_route(ctx, "rt_on_timeout", route)

    def dlg_on_hangup(self, ctx: MsgContext, route: str | None = None) -> int:
        return self._set_route(ctx, "rt_on_hangup", route)

    def _set_route(self, ctx: MsgContext, attr: str, route: str | None) -> int:
        dialog = self.current_dialog(ctx)
        if dialog is None:
            return -1
        setattr(dialog, attr, route or None)
        dialog.flags |= model.FLAG_VP_CHANGED
        return 1

    # ================================================================================== database
    def _script_flags_text(self, dialog: Dialog) -> str | None:
        names = self.flag_list(dialog.user_flags)
        return names or None

    def _db_write(self, dialog: Dialog, insert: bool = False, shutdown: bool = False) -> None:
        if self.store is None:
            return
        from opensips_py.db import DatabaseError
        try:
            kwargs = {"expiry": self.timeout_at(dialog), "script_flags": self._script_flags_text(dialog),
                      "with_values": shutdown or self.db_flush_values}
            if insert or dialog.flags & model.FLAG_NEW:
                self.store.insert(dialog, **kwargs)
            else:
                self.store.update(dialog, **kwargs)
            dialog.flags &= ~(model.FLAG_NEW | model.FLAG_CHANGED | model.FLAG_VP_CHANGED)
        except DatabaseError as exc:
            self._log(-1, f"could not save dialog {dialog.did} in the database: {exc}")

    def _db_delete(self, dialog: Dialog) -> None:
        if self.store is None:
            return
        from opensips_py.db import DatabaseError
        try:
            self.store.delete(dialog)
        except DatabaseError as exc:
            self._log(-1, f"could not remove dialog {dialog.did} from the database: {exc}")

    def _flush_db(self, force: bool = False, shutdown: bool = False) -> None:
        """db_mode 2 (dialog_update_db): insert the new confirmed dialogs, update the changed ones, remove
        the ended ones (which then leave memory too)."""
        deleted, self._db_deleted = self._db_deleted, []
        for dialog in deleted:
            if not dialog.flags & model.FLAG_NEW:
                self._db_delete(dialog)
            self.table.remove(dialog)
        for dialog in list(self.table):
            if dialog.state not in (CONFIRMED_NA, CONFIRMED):
                continue
            if dialog.flags & (model.FLAG_NEW | model.FLAG_CHANGED | model.FLAG_VP_CHANGED) or force:
                self._db_write(dialog, shutdown=shutdown)

    def _restore(self) -> None:
        """Load the dialogs stored by a previous run (load_dialog_info_from_db)."""
        sockets = {socket_text(s): s for s in getattr(self.core, "sockets", ())}
        now = int(self.now)
        for dialog, expiry, script_flags in self.store.load(lambda text: sockets.get(text)):
            if self.table.lookup(dialog.h_entry, dialog.h_id) is not None:
                continue
            dialog.flags |= model.FLAG_FROM_DB
            if script_flags:
                dialog.user_flags = self.flags_from_list(str(script_flags))
            self.table.add(dialog)
            if dialog.profiles:
                restored = dialog.profiles
                dialog.profiles = None
                for name, value in restored:
                    profile = self.profiles.get(name)
                    if profile is not None:
                        self.profiles.link(dialog, profile, value)
            dialog.lifetime = max(0, expiry - now) if expiry else 0
            self._set_lifetime_timer(dialog, dialog.lifetime)
            self._stat("active_dialogs")
            if dialog.state == CONFIRMED:
                if dialog.flags & (model.FLAG_PING_CALLER | model.FLAG_PING_CALLEE):
                    self._options_pings[dialog] = self.ticks() + self.options_ping_interval
                if dialog.flags & (model.FLAG_REINVITE_PING_CALLER | model.FLAG_REINVITE_PING_CALLEE):
                    self._reinvite_pings[dialog] = self.ticks() + self.reinvite_ping_interval

    # ================================================================================== flags, values
    def _flag_bit(self, flag: int | str) -> int | None:
        if isinstance(flag, int):
            return flag if 0 <= flag < MAX_USER_FLAGS else None
        name = str(flag).strip()
        if name.isdigit():
            return int(name) if int(name) < MAX_USER_FLAGS else None
        if name not in self._flag_names:
            if len(self._flag_names) >= MAX_USER_FLAGS:
                return None
            self._flag_names.append(name)
        return self._flag_names.index(name)

    def flag_list(self, mask: int) -> str:
        """4.0's $DLG_flags / MI user_flags: the names of the set flags, space-separated."""
        names = []
        for bit in range(MAX_USER_FLAGS):
            if mask & (1 << bit):
                names.append(self._flag_names[bit] if bit < len(self._flag_names) else str(bit))
        return " ".join(names)

    def flags_from_list(self, text: str) -> int:
        mask = 0
        for word in text.replace(",", " ").split():
            bit = self._flag_bit(word)
            if bit is not None:
                mask |= 1 << bit
        return mask

    def set_dlg_flag(self, ctx: MsgContext, flag) -> int:
        dialog = self.current_dialog(ctx)
        bit = self._flag_bit(flag)
        if dialog is None or bit is None:
            return -1
        dialog.user_flags |= 1 << bit
        dialog.flags |= model.FLAG_VP_CHANGED
        return 1

    def reset_dlg_flag(self, ctx: MsgContext, flag) -> int:
        dialog = self.current_dialog(ctx)
        bit = self._flag_bit(flag)
        if dialog is None or bit is None:
            return -1
        dialog.user_flags &= ~(1 << bit)
        return 1

    def is_dlg_flag_set(self, ctx: MsgContext, flag) -> int:
        dialog = self.current_dialog(ctx)
        bit = self._flag_bit(flag)
        if dialog is None or bit is None:
            return -1
        return 1 if dialog.user_flags & (1 << bit) else -1

    def test_and_set_dlg_flag(self, ctx: MsgContext, flag, value: int) -> int:
        """If the flag equals `value` (0/1), flip it and return 1; else -1 (-2 without a dialog)."""
        dialog = self.current_dialog(ctx)
        bit = self._flag_bit(flag)
        if dialog is None or bit is None:
            return -2
        mask = 1 << bit
        current = 1 if dialog.user_flags & mask else 0
        if current != (1 if value else 0):
            return -1
        dialog.user_flags ^= mask
        return 1

    def store_value(self, dialog: Dialog, name: str, value) -> None:
        if value is None:
            if dialog.vals:
                dialog.vals.pop(name, None)
        else:
            if dialog.vals is None:
                dialog.vals = {}
            dialog.vals[name] = value
        dialog.flags |= model.FLAG_VP_CHANGED

    def store_dlg_value(self, ctx: MsgContext, name: str, value) -> int:
        dialog = self.current_dialog(ctx)
        if dialog is None:
            return -1
        if hasattr(value, "get") and not isinstance(value, (str, int)):
            value = value.get(ctx)
        if value is None or not isinstance(value, (str, int)):
            return -1
        self.store_value(dialog, name, value)
        return 1

    def fetch_dlg_value(self, ctx: MsgContext, name: str, result) -> int:
        dialog = self.current_dialog(ctx)
        if dialog is None or not dialog.vals or name not in dialog.vals:
            return -1
        result.set(ctx, dialog.vals[name])
        return 1

    # ================================================================================== profiles
    def _profile(self, name: str):
        profile = self.profiles.get(name)
        if profile is None:
            self._log(-1, f"profile <{name}> not defined")
        return profile

    def set_dlg_profile(self, ctx: MsgContext, profile: str, value: str | None = None,
                        clear_values: int | None = None) -> int:
        found = self._profile(profile)
        dialog = self.current_dialog(ctx)
        if found is None or dialog is None:
            return -1
        if found.has_value:
            if value is None:
                return -1
            if clear_values:
                self.profiles.unlink(dialog, found, None, all_values=True)
            self.profiles.link(dialog, found, value)
        else:
            self.profiles.link(dialog, found, None)
        dialog.flags |= model.FLAG_VP_CHANGED
        return 1

    def unset_dlg_profile(self, ctx: MsgContext, profile: str, value: str | None = None) -> int:
        found = self._profile(profile)
        dialog = self.current_dialog(ctx)
        if found is None or dialog is None:
            return -1
        removed = self.profiles.unlink(dialog, found, value, all_values=found.has_value and value is None)
        if removed:
            dialog.flags |= model.FLAG_VP_CHANGED
        return 1 if removed else -1

    def is_in_profile(self, ctx: MsgContext, profile: str, value: str | None = None) -> int:
        found = self._profile(profile)
        dialog = self.current_dialog(ctx)
        if found is None or dialog is None:
            return -1
        return 1 if self.profiles.contains(dialog, found, value if found.has_value else None) else -1

    def get_profile_size(self, ctx: MsgContext, profile: str, value: str | None, size) -> int:
        found = self._profile(profile)
        if found is None:
            return -1
        size.set(ctx, found.size(value if found.has_value else None))
        return 1

    # ================================================================================== other functions
    def match_dialog(self, ctx: MsgContext, mode: str | None = None) -> int:
        """1 when the request belongs to a dialog (already matched, or matched now); -1 otherwise."""
        if self.current_dialog(ctx) is not None:
            return 1
        selected = {"DID_ONLY": MATCH_DID_ONLY, "DID_FALLBACK": MATCH_DID_FALLBACK,
                    "DID_NONE": MATCH_DID_NONE}.get((mode or "").upper(), self.match_mode)
        msg = ctx.msg
        if msg is None or not msg.is_request:
            return -1
        did = None
        if selected != MATCH_DID_NONE:
            # without loose_route() (no Route for us), the did may sit in the R-URI (dialog.c api_match_dialog)
            try:
                did = msg.effective_ruri.params.get(self.rr_param) if ctx.new_uri is None else \
                    URI(ctx.new_uri).params.get(self.rr_param)
            except SIPParseError:
                did = None
        return 1 if self._match(ctx, selected, did) else -1

    def validate_dialog(self, ctx: MsgContext) -> int:
        """1 valid; -1 bad CSeq; -2 bad remote target; -3 bad route set; -4 no dialog / other."""
        dialog = self.current_dialog(ctx)
        state = ctx.module_state.get("dialog")
        if dialog is None or state is None or not 0 <= state.last_dst_leg < len(dialog.legs):
            return -4
        msg = ctx.msg
        leg = dialog.legs[state.last_dst_leg]
        try:
            number = msg.cseq.number
        except (SIPParseError, AttributeError):
            return -4
        if msg.method == "ACK":
            src = dialog.legs[dialog.other_leg(state.last_dst_leg)]
            if str(number) != (src.inv_cseq or ""):
                return -1
        else:
            previous = leg.prev_cseq if leg.prev_cseq is not None else leg.r_cseq
            if number <= int(previous or 0):
                return -1
        if self.rr is None or dialog.state <= EARLY:
            return 1
        if leg.contact and URI(ctx.ruri()) != URI(leg.contact):
            return -2
        try:
            remaining = [value.uri_text for value in msg.route]
        except SIPParseError:
            return -4
        own = len([value for value in remaining if self._is_ours(f"<{value}>")])
        remaining = remaining[own:]
        if [URI(r) for r in remaining] != [URI(r) for r in leg.route_uris]:
            return -3
        return 1

    def fix_route_dialog(self, ctx: MsgContext) -> int:
        """Route the request by what the dialog knows of its destination leg: the contact as R-URI, the
        stored route set as Route headers (and $du its first hop)."""
        dialog = self.current_dialog(ctx)
        state = ctx.module_state.get("dialog")
        if dialog is None or state is None or not 0 <= state.last_dst_leg < len(dialog.legs):
            return -1
        leg = dialog.legs[state.last_dst_leg]
        if not leg.contact:
            return -1
        msg = ctx.msg
        msg.remove_header("route")
        routes = leg.route_uris
        if routes:
            msg.add_header("Route", ", ".join(f"<{r}>" for r in routes), first=True)
            ctx.dst_uri = routes[0]
        ctx.new_uri = leg.contact
        return 1

    def set_dlg_sharing_tag(self, ctx: MsgContext, tag_name: str) -> int:
        dialog = self.current_dialog(ctx)
        if dialog is None:
            return -1
        dialog.sharing_tag = tag_name
        return 1

    def load_dialog_ctx(self, ctx: MsgContext, dialog: str, id_type: str | None = None,
                        active_only: int | None = None) -> int:
        """Make another dialog the current one (by Call-ID, or by did with id_type "did")."""
        if (id_type or "callid") == "did":
            found = self.table.by_did(dialog)
        else:
            same = self.table.by_callid(dialog)
            found = same[0] if same else None
        if found is None or (active_only and found.state == DELETED):
            return -1
        state = _state(ctx)
        state.dialog = found
        return 1

    def unload_dialog_ctx(self, ctx: MsgContext) -> int:
        state = ctx.module_state.get("dialog")
        if state is not None:
            state.dialog = None
        return 1

    # ---------------------------------------------------------------------------------- searching dialogs
    @staticmethod
    def _plain(ctx: MsgContext, value) -> Any:
        return value.get(ctx) if hasattr(value, "get") and not isinstance(value, (str, int)) else value

    def _active(self):
        return [d for d in self.table if d.state <= CONFIRMED]

    @staticmethod
    def _has_value(dialog: Dialog, name: str, value) -> bool:
        """check_dlg_value(): the value exists with the same type and content."""
        if not dialog.vals or name not in dialog.vals:
            return False
        stored = dialog.vals[name]
        return type(stored) is type(value) and stored == value

    def get_dialog_info(self, ctx: MsgContext, attr: str, avp, key: str, key_val, number) -> int:
        """For each ongoing dialog whose value `key` equals `key_val`, push its value `attr` into `avp`;
        `number` gets how many; returns that number, -1 when none (dialog.c w_get_dlg_info)."""
        wanted = self._plain(ctx, key_val)
        found = 0
        for dialog in self._active():
            if not self._has_value(dialog, key, wanted):
                continue
            if attr not in (dialog.vals or {}):
                return -1
            avp.set(ctx, dialog.vals[attr])
            found += 1
        if not found:
            return -1
        number.set(ctx, found)
        return found

    def get_dialog_vals(self, ctx: MsgContext, names, vals, callid: str) -> int:
        """Every value of the dialog with this Call-ID: names into one AVP, values into the other."""
        same = self.table.by_callid(callid)
        if not same:
            return -1
        for name, value in (same[0].vals or {}).items():
            names.set(ctx, name)
            vals.set(ctx, value)
        return 1

    def get_dialogs_by_val(self, ctx: MsgContext, name: str, value, out_avp, out_dlg_no) -> int:
        """The JSON (with context) of each ongoing dialog whose value `name` equals `value`; the count."""
        import json
        wanted = self._plain(ctx, value)
        dialogs = [d for d in self._active() if self._has_value(d, name, wanted)]
        for dialog in dialogs:
            out_avp.set(ctx, json.dumps(self.mi_dialog(dialog, True)))
        if not dialogs:
            return -1
        out_dlg_no.set(ctx, len(dialogs))
        return len(dialogs)

    def get_dialogs_by_profile(self, ctx: MsgContext, name: str, value: str | None, out_avp, out_dlg_no) -> int:
        """The JSON of every dialog in the profile (with that value) into the output AVP; the count."""
        import json
        profile = self._profile(name)
        if profile is None:
            return -1
        dialogs = [d for d in self.profiles.dialogs(profile, value if profile.has_value else None)
                   if d.state <= CONFIRMED]
        for dialog in dialogs:
            out_avp.set(ctx, json.dumps(self.mi_dialog(dialog, True)))
        if not dialogs:
            return -1
        out_dlg_no.set(ctx, len(dialogs))
        return len(dialogs)

    def dlg_send_sequential(self, ctx: MsgContext, method: str, leg: str, body: str | None = None,
                            content_type: str | None = None, headers: str | None = None) -> int:
        """Send an in-dialog request of our own to the caller or the callee (send_indialog_request). A PRACK
        from an onreply_route acknowledges the reliable provisional reply being handled (its RSeq in our RAck)
        on the early leg that reply belongs to, made now if needed (4.0's dlg_ensure_reply_leg). 1 sent;
        -1 otherwise, -2 for a PRACK of a reply without RSeq."""
        dialog = self.current_dialog(ctx)
        if dialog is None:
            self._log(1, "no current dialog found")
            return -1
        method = (method or "INVITE").upper()
        extra = [line for line in (headers or "").replace("\r\n", "\n").split("\n") if line.strip()]
        payload = (body or "").encode("utf-8", "surrogateescape")
        msg = ctx.msg
        if method == "PRACK":
            rack = self.prack_rack(msg)
            if isinstance(rack, int):
                return rack
            extra.append(rack)
            if msg is not None and not msg.is_request:
                dst = CALLER_LEG
                if leg != "caller":
                    tm_state = ctx.module_state.get("tm")
                    branch = getattr(tm_state, "branch", -1)
                    t = self.tm.transaction(ctx) if self.tm is not None else None
                    dst = self.push_reply(dialog, msg, branch, t) or dialog.callee_index
                    if dst == CALLER_LEG:
                        return -1
                return 1 if self.send_prack(dialog, msg, dst, payload, content_type, extra,
                                            self.tm.transaction(ctx) if self.tm is not None else None) else -1
        dst = CALLER_LEG if leg == "caller" else dialog.callee_index
        if leg != "caller" and dst == CALLER_LEG:
            self._log(-1, f"cannot send {method}: the dialog has no callee leg yet")
            return -1
        src = dialog.other_leg(dst)
        return 1 if self.send_request(dialog, dst, src, method, payload, content_type, extra) else -1

    # ---------------------------------------------------------------------------------- PRACK (4.0)
    @staticmethod
    def prack_rack(msg) -> str | int:
        """dlg_prepare_prack_headers(): "RAck: <RSeq> <CSeq number> INVITE" for a provisional reply to an
        INVITE; -1 for a message that is not one (no CSeq, another method), -2 when it has no RSeq (not
        sent reliably)."""
        try:
            cseq = msg.cseq if msg is not None else None
        except SIPParseError:
            cseq = None
        if cseq is None or cseq.method != "INVITE":
            return -1
        rseq = (msg.header("rseq") or "").strip()
        if not rseq:
            return -2
        return f"RAck: {rseq} {cseq.number} INVITE"

    def _auto_prack(self, dialog: Dialog, reply, t) -> None:
        """dlg_auto_prack(): with the auto-prack flag, we PRACK each reliable provisional reply (101-199 with
        an RSeq) towards the leg that sent it."""
        if not 100 < reply.status < 200:
            return
        rack = self.prack_rack(reply)
        if rack == -2:
            return
        if isinstance(rack, int) or not self.send_prack(dialog, reply, dialog.callee_index, b"", None, [rack], t):
            self._log(-1, f"failed to send an automatic PRACK for dialog {dialog.did}")

    def _prack_leg(self, dialog: Dialog, reply, dst: int) -> int:
        """dlg_get_prack_leg(): the callee leg whose tag the reply carries, else `dst`."""
        try:
            tag = reply.to.tag if reply.to is not None else None
        except SIPParseError:
            tag = None
        if tag:
            for index in range(1, len(dialog.legs)):
                if dialog.legs[index].tag == tag:
                    return index
        return dst

    def send_prack(self, dialog: Dialog, reply, dst: int, body: bytes, content_type: str | None,
                   extra: list[str], invite_t=None) -> bool:
        """send_prack_indialog_request(): the PRACK of a provisional reply, inside the early dialog it opened:
        R-URI the reply's Contact, route set from its Record-Routes, To-tag its tag, CSeq one above the
        reply's (then one above our last towards that leg), sent with `auto_prack_fr_timeout`. When it fails
        (>= 300 or no answer) and `auto_prack_hangup_on_failure` is set, the INVITE is answered 502 Bad Gateway
        with that leg's To-tag (tm cancels the branch)."""
        if self.tm is None or not callable(getattr(self.tm, "t_uac", None)):
            return False
        dst = self._prack_leg(dialog, reply, dst)
        leg = dialog.legs[dst]
        try:
            number = reply.cseq.number
            remote_tag = reply.to.tag
        except (SIPParseError, AttributeError):
            self._log(-1, "bad provisional reply or missing CSeq/To")
            return False
        contact = _contact_uri(reply)
        if not contact:
            self._log(-1, "no contact available in provisional reply")
            return False
        if leg.last_gen_cseq == 0:
            leg.last_gen_cseq = number + 1
        else:
            leg.last_gen_cseq += 1
        cseq = leg.last_gen_cseq
        src = dialog.other_leg(dst)
        headers = [f"Contact: <{dialog.legs[src].contact}>"] if dialog.legs[src].contact else []
        routes = self._route_towards_callee(dialog, reply) if dst != CALLER_LEG else None
        saved_tag = leg.tag
        leg.tag = remote_tag or leg.tag
        try:
            request = self._leg_request(dialog, dst, src, "PRACK", cseq, [*headers, *extra], body, content_type,
                                        contact=contact, routes=[r.strip().strip("<>") for r in routes]
                                        if routes is not None else None,
                                        fr_timeout=float(self.auto_prack_fr_timeout))
        except ValueError as exc:
            self._log(-1, f"cannot send PRACK in dialog {dialog.did}: {exc}")
            return False
        finally:
            leg.tag = saved_tag

        def answered(t, p) -> None:
            if p.code < 300:
                return
            if not self.auto_prack_hangup_on_failure:
                self._log(4, f"PRACK failed with {p.code}; auto_prack_hangup_on_failure is off")
                return
            if invite_t is not None and self.tm.t_reply_trans(invite_t, 502, "Bad Gateway", to_tag=remote_tag) < 0:
                self._log(-1, "failed to send 502 on the INVITE transaction after the PRACK failed")

        request.data["dialog"] = dialog  # the dialog is current in local_route ($DLG_*), as in OpenSIPS
        return self.tm.t_uac(request, callback=answered) is not None

    def send_request(self, dialog: Dialog, dst: int, src: int, method: str, body: bytes = b"",
                     content_type: str | None = None, extra: list[str] | None = None,
                     on_reply: Callable | None = None, contact: bool = True) -> bool:
        """send_leg_msg(): a request towards leg `dst` with a CSeq above what that leg has seen, the other
        party's Contact, and an ACK of our own for a 2xx to an INVITE."""
        if self.tm is None or not callable(getattr(self.tm, "t_uac", None)):
            return False
        leg = dialog.legs[dst]
        if leg.last_gen_cseq == 0:
            try:
                base = int(leg.r_cseq)
            except ValueError:
                return False
            leg.last_gen_cseq = base + 1
        else:
            leg.last_gen_cseq += 1
        cseq = leg.last_gen_cseq
        headers = [f"Contact: <{dialog.legs[src].contact}>"] if contact and dialog.legs[src].contact else []
        headers += extra or []
        try:
            request = self._leg_request(dialog, dst, src, method, cseq, headers, body, content_type)
        except ValueError as exc:
            self._log(-1, f"cannot send {method} in dialog {dialog.did}: {exc}")
            return False

        def answered(t, p) -> None:
            if method == "INVITE" and 200 <= p.code < 300 and p.reply is not None:
                self._send_ack(dialog, dst, src, cseq)
            if on_reply is not None:
                on_reply(t, p)

        request.data["dialog"] = dialog  # the dialog is current in local_route ($DLG_*), as in OpenSIPS
        return self.tm.t_uac(request, callback=answered) is not None

    # ================================================================================== pseudo-variables
    def pvars(self) -> dict[str, Handler]:
        def dialog_of(ctx) -> Dialog | None:
            return self.current_dialog(ctx)

        def count(ctx, arg, index):
            return self._stats["active_dialogs"]

        def lifetime(ctx, arg, index):
            dialog = dialog_of(ctx)
            if dialog is None:
                return None
            return int(self.now) - dialog.start_ts if dialog.state > EARLY else 0

        def status(ctx, arg, index):
            dialog = dialog_of(ctx)
            return dialog.state if dialog is not None else None

        def direction(ctx, arg, index):
            dialog = dialog_of(ctx)
            state = ctx.module_state.get("dialog")
            if dialog is None or state is None or state.last_dst_leg < 0:
                return None
            return "upstream" if state.last_dst_leg == CALLER_LEG else "downstream"

        def flags_get(ctx, arg, index):
            dialog = dialog_of(ctx)
            return self.flag_list(dialog.user_flags) if dialog is not None else None

        def flags_set(ctx, arg, index, value, op):
            dialog = dialog_of(ctx)
            if dialog is None:
                return
            if value is None:
                dialog.user_flags = 0
            elif isinstance(value, int):
                dialog.user_flags = value
            else:
                dialog.user_flags = self.flags_from_list(value)

        def did(ctx, arg, index):
            dialog = dialog_of(ctx)
            return dialog.did if dialog is not None else None

        def end_reason(ctx, arg, index):
            dialog = dialog_of(ctx)
            return dialog.end_reason if dialog is not None else None

        def timeout_get(ctx, arg, index):
            dialog = dialog_of(ctx)
            if dialog is not None:
                if dialog.state == DELETED:
                    return 0
                if dialog.state < CONFIRMED_NA:
                    return dialog.lifetime
                return dialog.timeout_tick - self.ticks() if dialog.timeout_tick is not None else 0
            state = ctx.module_state.get("dialog")
            return state.timeout if state is not None and state.timeout else None

        def timeout_set(ctx, arg, index, value, op):
            try:
                seconds = int(value)
            except (TypeError, ValueError):
                self._log(-1, "assigning a non-int value to $DLG_timeout")
                return
            if seconds < 0:
                return
            dialog = dialog_of(ctx)
            if dialog is None:
                _state(ctx).timeout = seconds
                return
            if dialog.flags & model.FLAG_END_ON_RACE_CONDITION and dialog.flags & model.FLAG_WAS_CANCELLED:
                return
            dialog.lifetime = seconds
            dialog.flags |= model.FLAG_CHANGED
            if dialog.state in (CONFIRMED_NA, CONFIRMED):
                self._set_lifetime_timer(dialog, seconds)
                if self.db_mode == DB_REALTIME:
                    self._db_write(dialog)

        def del_delay_get(ctx, arg, index):
            dialog = dialog_of(ctx)
            return (dialog.del_delay or self.delete_delay) if dialog is not None else None

        def del_delay_set(ctx, arg, index, value, op):
            dialog = dialog_of(ctx)
            try:
                seconds = int(value)
            except (TypeError, ValueError):
                return
            if dialog is not None and seconds >= 0:
                dialog.del_delay = seconds

        def as_json(ctx, arg, index, with_context=False):
            import json
            dialog = dialog_of(ctx)
            return json.dumps(self.mi_dialog(dialog, with_context)) if dialog is not None else None

        def dlg_val_get(ctx, arg, index):
            dialog = dialog_of(ctx)
            if dialog is None or not dialog.vals:
                return None
            return dialog.vals.get(arg)

        def dlg_val_set(ctx, arg, index, value, op):
            dialog = dialog_of(ctx)
            if dialog is None:
                return
            self.store_value(dialog, arg, value if value != "" else None)

        return {
            "DLG_count": Handler("DLG_count", count),
            "DLG_lifetime": Handler("DLG_lifetime", lifetime),
            "DLG_status": Handler("DLG_status", status),
            "DLG_dir": Handler("DLG_dir", direction),
            "DLG_flags": Handler("DLG_flags", flags_get, flags_set),
            "DLG_did": Handler("DLG_did", did),
            "DLG_end_reason": Handler("DLG_end_reason", end_reason),
            "DLG_timeout": Handler("DLG_timeout", timeout_get, timeout_set),
            "DLG_json": Handler("DLG_json", as_json),
            "DLG_ctx_json": Handler("DLG_ctx_json", lambda ctx, arg, index: as_json(ctx, arg, index, True)),
            "DLG_del_delay": Handler("DLG_del_delay", del_delay_get, del_delay_set),
            "dlg_val": Handler("dlg_val", dlg_val_get, dlg_val_set),
        }

    # ================================================================================== MI
    def mi_dialog(self, dialog: Dialog, with_context: bool) -> dict[str, Any]:
        return dialog_object(dialog, now=self.now, timeout_at=self.timeout_at,
                             user_flags=self.flag_list(dialog.user_flags), with_context=with_context)

    def mi_commands(self) -> dict[str, Callable]:
        from opensips_py.modules.dialog.mi_commands import commands
        return commands(self)


__all__ = ["Module", "DialogState"]
