"""presence's Module: handle_publish(), handle_subscribe(), NOTIFY sending, the timers and MI.

Where the state lives (as OpenSIPS's presence with fallback2db=0):
- Published state: the presentity table (one row per ETag), with an in-memory index of which presentities
  exist (`phtable`: (uri, event) -> {etag: etag_count}) so a SUBSCRIBE for nobody needs no query.
- Subscriptions: in memory (subscriptions.SubscriptionTable), written to active_watchers every
  db_update_period; read back and the table emptied at start-up.
- Authorization decisions of packages that need them (presence): the watchers table, emptied at start-up.

Facts from modules/presence/{publish,presentity,subscribe,notify,hash,utils_func}.c (3.4).
"""
from __future__ import annotations

import os
import time as _time
from typing import Any, Callable

from opensips_py.modules.base import ModuleBase, ModuleInitError
from opensips_py.modules.presence import EXPORTS
from opensips_py.modules.presence import tables  # noqa: F401  (registers the table schemas)
from opensips_py.modules.presence.events import (
    KNOWN_EVENTS, PUBL_TYPE, WINFO_TYPE, EventList, EventPackage, parse_event,
)
from opensips_py.modules.presence.subscriptions import (
    ACTIVE, INSERTDB, NO_UPDATEDB, PENDING, STATUS_NAMES, TERMINATED, UPDATEDB, Subscription,
    SubscriptionTable, from_row, to_row,
)
from opensips_py.sip import SIPParseError, parse_uri

BAD_EVENT = 489
R_400, R_481, R_489, R_500 = "Bad request", "Subscription does not exist", "Bad Event", "Server Internal Error"
R_412 = "Conditional request failed"
DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "sctp": 5060, "ws": 80, "tls": 5061, "wss": 443}


class ReplyError(Exception):
    """An error answered to the request (send_error_reply) with this code and reason."""

    def __init__(self, code: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.reason = code, reason


def uandd_to_uri(user: str, domain: str) -> str:
    return f"sip:{user}@{domain}" if user else f"sip:{domain}"


def local_contact(sock, user: str) -> str:
    """get_local_contact(): sip:user@ip[:port][;transport=x] of the socket (advertised address if any)."""
    if sock is None:
        return f"sip:{user}@127.0.0.1" if user else "sip:127.0.0.1"
    host = sock.via_host
    port = sock.via_port
    text = "sip:" + (f"{user}@" if user else "") + host
    if port and port != DEFAULT_PORTS.get(sock.proto, 5060):
        text += f":{port}"
    if sock.proto != "udp":
        text += f";transport={sock.proto}"
    return text


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return "" if value is None else str(value)


def _bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return bytes(value)


class Module(ModuleBase):
    exports = EXPORTS

    # ================================================================================== start-up
    def init(self) -> None:
        modules = getattr(self.core, "modules", {}) or {}
        self.tm = modules.get("tm")
        self.sl = modules.get("sl")
        self.signaling = modules.get("signaling")
        self.events = EventList()
        self.subs = SubscriptionTable()
        self.phtable: dict[tuple[str, str], dict[str, int]] = {}
        self.counter = 0
        self.pid = os.getpid()
        self.startup_time = int(self._now())
        self.expires_offset = max(0, self.int_param("expires_offset"))
        self.max_expires_subscribe = self.int_param("max_expires_subscribe")
        if self.max_expires_subscribe <= 0:
            self.max_expires_subscribe = 3600
        self.max_expires_publish = self.int_param("max_expires_publish")
        if self.max_expires_publish <= 0:
            self.max_expires_publish = 3600
        self.contact_user = _text(self.param("contact_user"))
        self.fallback2db = self.int_param("fallback2db")
        self.end_sub_on_timeout = self.int_param("end_sub_on_timeout")
        self.notify_offline_body = self.int_param("notify_offline_body")
        self.clean_period = self.int_param("clean_period")
        self.db_update_period = self.int_param("db_update_period")
        self.waiting_subs_time = (self.int_param("waiting_subs_daysno") or 3) * 24 * 3600
        self.presentity_table = _text(self.param("presentity_table"))
        self.active_watchers_table = _text(self.param("active_watchers_table"))
        self.watchers_table = _text(self.param("watchers_table"))
        self.notifies_sent = 0
        self.db = None
        url = self.db_url()
        self.library_mode = not url
        if self.library_mode:  # OpenSIPS: "presence module used for library purpose only"
            return
        if self.signaling is None or self.tm is None:
            raise ModuleInitError("presence: needs the signaling and tm modules loaded")
        from opensips_py.db import DatabaseError, open_database
        try:
            self.db = open_database(self.core, str(url), "presence")
            standard = {"presentity": self.presentity_table, "active_watchers": self.active_watchers_table,
                        "watchers": self.watchers_table}
            self.db.ensure_tables([t for t in standard if standard[t] == t])
            self.db.check_version(self.presentity_table, 5)
            self.db.check_version(self.active_watchers_table, 12)
            self.db.check_version(self.watchers_table, 4)
            self._restore_subscriptions()
            self._restore_presentities()
            self.db.delete(self.watchers_table)
        except DatabaseError as exc:
            raise ModuleInitError(f"presence: {exc}") from exc
        if self.clean_period > 0:
            self.core.add_timer(0.0, lambda now: self.core.add_timer(now + self.clean_period,
                                                                     self._presentity_clean_tick))
        if self.db_update_period > 0:
            self.core.add_timer(0.0, lambda now: self.core.add_timer(now + self.db_update_period,
                                                                     self._db_update_tick))

    def _restore_subscriptions(self) -> None:
        """restore_db_subs(): unexpired active_watchers rows into memory, then the table is emptied (the
        rows come back at the next sync, marked new)."""
        restored = []
        for row in self.db.query(self.active_watchers_table):
            subs = from_row(row)
            subs.db_flag = INSERTDB
            self.subs.insert(subs)
            restored.append(subs)
        if not self.fallback2db:
            self.db.delete(self.active_watchers_table)

        def drop_expired(now: float) -> None:
            """Rows already expired are not restored (the core's clock is known from its first timer)."""
            for subs in restored:
                if subs.expires <= now and self.subs.get(*subs.key) is subs:
                    del self.subs.by_key[subs.key]

        self.core.add_timer(0.0, drop_expired)

    def _restore_presentities(self) -> None:
        """pres_htable_restore(): which publications exist (expired ones go at the next clean tick)."""
        for row in self.db.query(self.presentity_table, ["username", "domain", "event", "etag", "expires"]):
            key = (uandd_to_uri(_text(row["username"]), _text(row["domain"])), _text(row["event"]))
            self.phtable.setdefault(key, {})[_text(row["etag"])] = 1

    def add_event(self, event: EventPackage) -> None:
        """pres_add_event() of the presence API: event packages come from presence_xml and the like."""
        self.events.add(event)

    def _now(self) -> float:
        now = getattr(self.core, "now", 0.0)
        return now if now else _time.time()

    def _log(self, level: int, text: str) -> None:
        self.core.logger.log(level, text, "presence")

    # ================================================================================== replies
    def _reply(self, ctx, code: int, reason: str, headers: list[str] = ()) -> int:
        if headers:
            ctx.module_state.setdefault("sl", {}).setdefault("reply_headers", []).extend(headers)
        return self.signaling.send_reply(ctx, code, reason)

    def _error_reply(self, ctx, code: int, reason: str) -> None:
        """send_error_reply(): a 489 lists the packages we serve in Allow-Events."""
        headers = [f"Allow-Events: {', '.join(self.events.names())}"] if code == BAD_EVENT else []
        if self._reply(ctx, code, reason, headers) < 0:
            self._log(-1, f"failed to send {code} {reason} reply")

    def _to_tag(self, ctx) -> str:
        """sigb.gen_totag(): the To-tag our reply to this request carries."""
        if self.tm is not None and self.tm.has_transaction(ctx):
            tag = self.tm.local_to_tag(ctx)
            if tag:
                return tag
        return self.sl.to_tag(ctx.msg) if self.sl is not None else f"{os.getpid():x}"

    def _event_of(self, ctx) -> tuple[EventPackage, Any]:
        parsed = parse_event(ctx.msg.header("Event"))
        if parsed is None:
            self._log(-1, "Missing Event header")
            raise ReplyError(BAD_EVENT, R_489, "missing Event header")
        if parsed.name not in KNOWN_EVENTS:
            self._log(-1, f"unrecognized value [{parsed.text}] in Event header")
            raise ReplyError(BAD_EVENT, R_489, "unknown event")
        event = self.events.get(parsed.key)
        if event is None:
            self._log(-1, f"un-registered support for known event [{parsed.text}]")
            raise ReplyError(BAD_EVENT, R_489, "unregistered event")
        return event, parsed

    @staticmethod
    def _expires(msg, default: int, maximum: int) -> int:
        value = msg.header("Expires")
        if value is not None and value.strip():
            try:
                lexpire = msg.expires
            except SIPParseError as exc:
                raise ReplyError(400, R_400, "cannot parse Expires header") from exc
        else:
            lexpire = default
        return min(int(lexpire), maximum)

    # ================================================================================== PUBLISH
    def _new_etag(self, count: int) -> str:
        """generate_ETag(): prefix.startup.pid.counter.count."""
        return f"a.{self.startup_time}.{self.pid}.{self.counter}.{count}"

    def handle_publish(self, ctx, sender_uri: str | None = None) -> int:
        """Store the PUBLISHed state, reply, NOTIFY the watchers. 1 done (also after a 412), -1 error;
        a reply goes out in every case."""
        if self.library_mode:
            self._log(-1, "handle_publish() needs db_url (the module runs in library mode)")
            return -1
        self.counter += 1
        msg = ctx.msg
        sent = [False]
        try:
            msg.parse_all()
            event, _parsed = self._event_of(ctx)
            lexpire = self._expires(msg, event.default_expires, self.max_expires_publish)
            try:
                ruri = parse_uri(ctx.ruri())
            except SIPParseError as exc:
                raise ReplyError(400, R_400, "parsing Request URI") from exc
            user, domain = ruri.user or "", ruri.host
            if_match = msg.header("SIP-If-Match")
            etag_new = if_match is None
            etag = self._new_etag(0) if etag_new else if_match.strip()
            if msg.header("Content-Length") is None and ctx.received is not None \
                    and ctx.received.proto != "udp":
                raise ReplyError(400, R_400, "no Content-Length header found")
            body = msg.body or b""
            if not body and etag_new and event.mandatory_body:
                raise ReplyError(400, R_400, "No E-Tag and no body found")
            if not event.content_type:
                body = b""
            sender = None
            if sender_uri:
                try:
                    parse_uri(sender_uri)
                except SIPParseError as exc:
                    raise ReplyError(400, R_400, "bad sender SIP address") from exc
                sender = sender_uri
            if event.check_publish is not None and body:
                refused = event.check_publish(body)
                if refused is not None:
                    self._reply(ctx, *refused)
                    sent[0] = True
                    raise ReplyError(500, R_500, "in event specific publish handling")
            self._update_presentity(ctx, event, user, domain, etag, etag_new, lexpire, body, sender, sent)
            return 1
        except ReplyError as err:
            self._log(-1, str(err))
            if not sent[0]:
                self._error_reply(ctx, err.code, err.reason)
            return -1
        except SIPParseError as exc:
            self._log(-1, f"parsing headers: {exc}")
            if not sent[0]:
                self._error_reply(ctx, 400, R_400)
            return -1

    def _send_200_publish(self, ctx, lexpire: int, etag: str, sent: list[bool]) -> None:
        """publ_send200ok(): Expires (less expires_offset) and SIP-ETag."""
        expires = 0 if lexpire < self.expires_offset else lexpire - self.expires_offset
        if self._reply(ctx, 200, "OK", [f"Expires: {expires}", f"SIP-ETag: {etag}"]) < 0:
            raise ReplyError(500, R_500, "sending 200OK")
        sent[0] = True

    def _update_presentity(self, ctx, event: EventPackage, user: str, domain: str, etag: str, etag_new: bool,
                           lexpire: int, body: bytes, sender: str | None, sent: list[bool]) -> None:
        pres_uri = uandd_to_uri(user, domain)
        now = int(self._now())
        key = (pres_uri, event.name)
        where = {"domain": domain, "username": user, "event": event.name}
        if etag_new:
            self._send_200_publish(ctx, lexpire, etag, sent)
            self.phtable.setdefault(key, {})[etag] = 1
            try:
                self.db.insert(self.presentity_table, {
                    **where, "etag": etag, "expires": lexpire + now, "sender": sender or "",
                    "body": body, "received_time": now})
            except Exception as exc:
                raise ReplyError(500, R_500, f"inserting new record in database: {exc}") from exc
            self.publ_notify(pres_uri, event, body or None, None, sender)
            return
        etags = self.phtable.get(key, {})
        if etag not in etags:
            rows = self.db.query(self.presentity_table, ["etag"], {**where, "etag": etag})
            if not rows:
                self._log(-1, f"No E_Tag match [{etag}]")
                self._reply(ctx, 412, R_412)
                sent[0] = True
                return
            self._log(3, f"*** found in db but not in htable [{etag}]")
        if lexpire == 0:
            etags.pop(etag, None)
            if not etags:
                self.phtable.pop(key, None)
            self._send_200_publish(ctx, lexpire, etag, sent)
            self.publ_notify(pres_uri, event, body or None, etag, None)
            self.db.delete(self.presentity_table, {**where, "etag": etag})
            self.publ_notify(pres_uri, event, None, None, None)
            return
        count = etags.get(etag, 0)
        new_etag = self._new_etag(count)
        etags.pop(etag, None)
        etags[new_etag] = count + 1
        self.phtable[key] = etags
        values: dict[str, Any] = {"etag": new_etag, "expires": lexpire + now, "received_time": now,
                                  "sender": sender or ""}
        if body:
            values["body"] = body
        self.db.update(self.presentity_table, values, {**where, "etag": etag})
        self._send_200_publish(ctx, lexpire, new_etag, sent)
        if not body:
            return
        self.publ_notify(pres_uri, event, body, None, sender)

    # ================================================================================== notify bodies
    def _presentity_bodies(self, user: str, domain: str, event: EventPackage) -> list[dict[str, Any]]:
        return self.db.query(self.presentity_table, ["body", "extra_hdrs", "expires", "etag"],
                             {"domain": domain, "username": user, "event": event.name}, order_by="received_time")

    def notify_body(self, pres_uri: str, event: EventPackage, etag: str | None = None,
                    publ_body: bytes | None = None) -> bytes | None:
        """get_p_notify_body(): the state of a presentity for a package, aggregated over its publications
        (the one with `etag` rendered offline and, when given, replaced by `publ_body`)."""
        try:
            uri = parse_uri(pres_uri)
        except SIPParseError:
            return None
        user, domain = uri.user or "", uri.host
        rows: list[dict[str, Any]] = []
        if etag is not None or (pres_uri, event.name) in self.phtable or self.fallback2db:
            rows = self._presentity_bodies(user, domain, event)
        if not rows:
            if event.aggregate is not None:
                body = event.aggregate(user, domain, [], -1)
                if body:
                    return body
            if event.build_empty is not None:
                return event.build_empty(pres_uri)
            return None
        if event.aggregate is None:
            body = _bytes(rows[-1]["body"])
            return body or None
        bodies = [_bytes(r["body"]) for r in rows]
        offline = -1
        if etag is not None:
            for i, row in enumerate(rows):
                if _text(row["etag"]) == etag:
                    offline = i
        if etag is not None and publ_body and offline >= 0:
            bodies[offline] = publ_body
        return event.aggregate(user, domain, bodies, offline)

    # ================================================================================== NOTIFY
    def _active_watchers(self, pres_uri: str, event: EventPackage, sender: str | None) -> list[Subscription]:
        """get_subs_dialog(): copies of the active subscriptions, expires made relative."""
        now = int(self._now())
        found = []
        for subs in self.subs.watching(pres_uri, event.name):
            if subs.expires < now or subs.status != ACTIVE or subs.reason:
                continue
            if sender and sender == subs.contact:
                continue
            found.append(subs.copy(expires=subs.expires - now))
        return found

    def publ_notify(self, pres_uri: str, event: EventPackage, body: bytes | None, offline_etag: str | None,
                    sender: str | None) -> None:
        watchers = self._active_watchers(pres_uri, event, sender)
        if not watchers:
            return
        notify_body = None
        if event.aggregate is not None:
            notify_body = self.notify_body(pres_uri, event, offline_etag, body)
        for subs in watchers:
            self.notify(subs, notify_body or body, from_publish=True)

    def query_db_notify(self, pres_uri: str, event: EventPackage, watcher: Subscription | None) -> None:
        """NOTIFY every watcher of (pres_uri, event) with the current state (winfo: with `watcher`)."""
        watchers = self._active_watchers(pres_uri, event, None)
        if not watchers:
            return
        body = self.notify_body(pres_uri, event) if event.type & PUBL_TYPE else None
        for subs in watchers:
            self.notify(subs, body, watcher=watcher)

    def notify(self, subs: Subscription, body: bytes | None, *, force_null_body: bool = False,
               from_publish: bool = False, watcher: Subscription | None = None) -> int:
        """notify(): take the next local CSeq and version from the stored subscription, then send."""
        if subs.expires != 0 and subs.status != TERMINATED:
            stored = self.subs.get(*subs.key)
            if stored is not None:
                subs.local_cseq = stored.local_cseq
                stored.local_cseq += 1
                subs.version = stored.version
                stored.version += 1
                stored.status = subs.status
                stored.contact = subs.contact or stored.contact
                if stored.db_flag == NO_UPDATEDB:
                    stored.db_flag = UPDATEDB
        if subs.reason == "polite-block" and subs.status == ACTIVE:
            force_null_body = True
        return self.send_notify(subs, body, force_null_body=force_null_body, from_publish=from_publish,
                                watcher=watcher)

    def send_notify(self, subs: Subscription, n_body: bytes | None, *, force_null_body: bool = False,
                    from_publish: bool = False, watcher: Subscription | None = None) -> int:
        """send_notify_request(): the body this watcher may see, the headers, and tm's request within the
        subscription dialog."""
        event = self.events.get(subs.event)
        if event is None:
            self._log(-1, f"no event package {subs.event} for a NOTIFY")
            return -1
        body: bytes | None = None
        if not force_null_body:
            if n_body and subs.status == ACTIVE:
                body = n_body
                if event.req_auth and subs.rules_doc is not None and event.apply_auth is not None:
                    body = event.apply_auth(n_body, subs) or n_body
            elif subs.status in (TERMINATED, PENDING):
                body = None
            elif event.type & WINFO_TYPE:
                body = self.winfo_body(subs, watcher)
            else:
                body = n_body if from_publish and n_body else self.notify_body(subs.pres_uri, event)
                if body and event.req_auth and subs.rules_doc is not None and event.apply_auth is not None:
                    body = event.apply_auth(body, subs) or body
        if subs.expires <= 0:
            subs.expires = 0
            subs.status = TERMINATED
            subs.reason = "timeout"
        return self._send_notify_request(subs, event, body)

    def _headers(self, subs: Subscription, event: EventPackage) -> list[str]:
        """build_str_hdr(): Event (with its id), our Contact, Subscription-State."""
        lexpire = max(0, subs.expires - self.expires_offset)
        status = STATUS_NAMES.get(subs.status, "pending")
        state = f"{status};reason={subs.reason}" if subs.status == TERMINATED else f"{status};expires={lexpire}"
        event_line = f"Event: {event.name}" + (f";id={subs.event_id}" if subs.event_id else "")
        return [event_line, f"Contact: <{subs.local_contact}>", f"Subscription-State: {state}"]

    def _socket(self, text: str):
        for sock in getattr(self.core, "sockets", ()):
            if f"{sock.proto}:{sock.host}:{sock.port}" == text:
                return sock
        return None

    def _send_notify_request(self, subs: Subscription, event: EventPackage, body: bytes | None) -> int:
        from opensips_py.modules.tm import LocalRequest
        routes = [r.strip() for r in _split_routes(subs.record_route)]
        remote_uri = uandd_to_uri(subs.from_user, subs.from_domain)
        target = subs.contact or remote_uri
        ruri, route_lines = target, []
        if routes:
            if ";lr" in routes[0].lower():
                route_lines = ["Route: " + ", ".join(routes)]
            else:  # a strict first hop becomes the R-URI, the remote target goes last (RFC 3261 §12.2.1.1)
                ruri = routes[0].strip("<>")
                route_lines = ["Route: " + ", ".join([*routes[1:], f"<{target}>"])]
        request = LocalRequest(
            method="NOTIFY", ruri=ruri,
            from_=f"<{uandd_to_uri(subs.to_user, subs.to_domain)}>;tag={subs.to_tag}",
            to=f"<{remote_uri}>;tag={subs.from_tag}", call_id=subs.callid, cseq=subs.local_cseq + 1,
            headers=[*route_lines, *self._headers(subs, event)], body=body or b"",
            content_type=event.content_type if body else None, socket=self._socket(subs.socket_info))
        pres_uri, event_name, to_tag = subs.pres_uri, event.name, subs.to_tag

        def on_final(t, p) -> None:  # p_tm_callback()
            if p.code == 481 or (self.end_sub_on_timeout and p.code == 408):
                self.subs.delete_by_to_tag(pres_uri, event_name, to_tag)
                self._delete_db_subs(pres_uri, event_name, to_tag)
            if p.code != 200:
                self._log(1, f"completed with status [{p.code}] and to_tag [{to_tag}]")

        t = self.tm.t_uac(request, callback=on_final)
        if t is None:
            self._log(-1, "tmb.t_request_within failed")
            return -1
        self.notifies_sent += 1
        self._log(3, f"NOTIFY {remote_uri} on behalf of {uandd_to_uri(subs.to_user, subs.to_domain)} for event "
                     f"{event.name}, to_tag={subs.to_tag}, cseq={subs.local_cseq + 1}")
        return 0

    def _delete_db_subs(self, pres_uri: str, event: str, to_tag: str) -> None:
        try:
            self.db.delete(self.active_watchers_table, {"presentity_uri": pres_uri, "event": event,
                                                        "to_tag": to_tag})
        except Exception as exc:  # the database is optional for the SIP side
            self._log(-1, f"deleting subscription record from database: {exc}")

    # ================================================================================== SUBSCRIBE
    def handle_subscribe(self, ctx, force_active: int | None = None, sharing_tag: str | None = None) -> int:
        """Accept, refresh or end a subscription; reply 200/202 and NOTIFY. 1 done, -1 error (replied)."""
        if self.library_mode:
            self._log(-1, "handle_subscribe() needs db_url (the module runs in library mode)")
            return -1
        self.counter += 1
        msg = ctx.msg
        try:
            msg.parse_all()
            event, parsed = self._event_of(ctx)
            subs, init_req = self._dialog_info(ctx, event, parsed)
            if init_req:
                try:
                    ruri = parse_uri(ctx.ruri())
                except SIPParseError as exc:
                    raise ReplyError(400, R_400, "failed to parse R-URI") from exc
                subs.pres_uri = uandd_to_uri(ruri.user or "", ruri.host)
                if not event.req_auth or force_active == 1:
                    subs.status = ACTIVE
                else:
                    self._authorize(subs, event)
            else:
                self._stored_info(subs)
            if subs.status not in STATUS_NAMES:
                raise ReplyError(500, R_500, "wrong status")
        except ReplyError as err:
            self._log(-1, str(err))
            self._error_reply(ctx, err.code, err.reason)
            return -1
        except SIPParseError as exc:
            self._log(-1, f"parsing headers: {exc}")
            self._error_reply(ctx, 400, R_400)
            return -1
        if sharing_tag:
            subs.sharing_tag = sharing_tag
        return 1 if self._update_subscription(ctx, subs, event, init_req) == 0 else -1

    def _dialog_info(self, ctx, event: EventPackage, parsed) -> tuple[Subscription, bool]:
        """extract_sdialog_info()."""
        msg = ctx.msg
        lexpire = self._expires(msg, event.default_expires, self.max_expires_subscribe)
        to, from_ = msg.to, msg.from_
        if to is None:
            raise ReplyError(400, R_400, "bad request or missing TO hdr")
        if from_ is None:
            raise ReplyError(400, R_400, "cannot find 'from' header")
        to_uri, from_uri = to.uri, from_.uri
        init_req = not to.tag
        if msg.call_id is None or msg.cseq is None:
            raise ReplyError(400, R_400, "cannot parse callid/cseq header")
        contacts = msg.contacts
        if not contacts or contacts[0].is_star:
            raise ReplyError(400, R_400, "cannot parse contact header")
        if not from_.tag:
            raise ReplyError(400, R_400, "no from tag value present")
        record_route = ""
        if init_req and msg.record_route:
            record_route = ", ".join(r.raw if r.raw.startswith("<") else f"<{r.uri_text}>"
                                     for r in msg.record_route)
        sock = ctx.received.socket if ctx.received is not None else None
        return Subscription(
            pres_uri="", event=event.name, to_user=to_uri.user or "", to_domain=to_uri.host,
            from_user=from_uri.user or "", from_domain=from_uri.host, event_id=parsed.event_id,
            to_tag=to.tag or "", from_tag=from_.tag, callid=msg.call_id, remote_cseq=msg.cseq.number,
            contact=contacts[0].uri_text, record_route=record_route, expires=lexpire,
            socket_info=f"{sock.proto}:{sock.host}:{sock.port}" if sock is not None else "",
            local_contact=local_contact(sock, self.contact_user), body=msg.body or b""), init_req

    def _stored_info(self, subs: Subscription) -> None:
        """get_stored_info(): an in-dialog SUBSCRIBE takes over what we keep of its subscription."""
        stored = self.subs.get(subs.callid, subs.to_tag, subs.from_tag)
        if stored is None and self.fallback2db:
            rows = self.db.query(self.active_watchers_table, where={
                "callid": subs.callid, "to_tag": subs.to_tag, "from_tag": subs.from_tag})
            stored = from_row(rows[0]) if rows else None
        if stored is None:
            raise ReplyError(481, R_481, "record not found in hash_table")
        subs.pres_uri = stored.pres_uri
        subs.version = stored.version
        subs.status = stored.status
        subs.reason = stored.reason
        subs.record_route = stored.record_route
        subs.local_cseq = stored.local_cseq
        subs.sharing_tag = stored.sharing_tag
        if subs.remote_cseq <= stored.remote_cseq:
            raise ReplyError(400, R_400, f"wrong sequence number;received: {subs.remote_cseq} - stored: "
                                         f"{stored.remote_cseq}")

    def _authorize(self, subs: Subscription, event: EventPackage) -> None:
        """get_db_subs_auth(), else subs_process_insert_status(): the watchers table remembers the
        decision of the package's rules for this watcher."""
        where = {"presentity_uri": subs.pres_uri, "watcher_username": subs.from_user,
                 "watcher_domain": subs.from_domain, "event": event.name}
        rows = self.db.query(self.watchers_table, ["status", "reason"], where)
        if rows:
            subs.status = int(rows[0]["status"])
            subs.reason = _text(rows[0]["reason"])
            return
        subs.status, subs.reason = PENDING, ""
        try:
            uri = parse_uri(subs.pres_uri)
        except SIPParseError as exc:
            raise ReplyError(500, R_500, "parsing uri") from exc
        if event.rules_document is not None:
            subs.rules_doc = event.rules_document(uri.user or "", uri.host)
        if event.auth_status is not None:
            event.auth_status(subs)
        if subs.status not in STATUS_NAMES:
            raise ReplyError(500, R_500, f"wrong status= {subs.status}")
        self.db.insert(self.watchers_table, {**where, "status": subs.status, "reason": subs.reason or None,
                                             "inserted_time": int(self._now())})

    def _send_2xx(self, ctx, code: int, lexpire: int, contact: str) -> None:
        if self._reply(ctx, code, "OK", [f"Expires: {max(0, lexpire)}", f"Contact: <{contact}>"]) < 0:
            raise ReplyError(500, R_500, f"sending {code} OK")

    def _update_subscription(self, ctx, subs: Subscription, event: EventPackage, init_req: bool) -> int:
        """update_subscription(): store, answer, then NOTIFY (and the .winfo watchers)."""
        code = 202 if event.type & PUBL_TYPE and subs.status == PENDING else 200
        now = int(self._now())
        try:
            if not init_req:
                if subs.expires == 0:
                    self._delete_db_subs(subs.pres_uri, event.name, subs.to_tag)
                    gone = self.subs.delete(*subs.key)
                    if gone is not None:
                        subs.local_cseq = gone.local_cseq
                    self._send_2xx(ctx, code, 0, subs.local_contact)
                else:
                    subs.expires += self.expires_offset
                    stored = self.subs.get(*subs.key)
                    if stored is None and not self.fallback2db:
                        raise ReplyError(500, R_500, "updating subscription record in hash table failed")
                    if stored is not None:
                        stored.expires = subs.expires + now
                        stored.remote_cseq = subs.remote_cseq
                        stored.contact = subs.contact
                        stored.status = subs.status
                        if stored.db_flag == NO_UPDATEDB:
                            stored.db_flag = UPDATEDB
                    if self.fallback2db:
                        self.db.update(self.active_watchers_table, {
                            "expires": subs.expires + now, "remote_cseq": subs.remote_cseq,
                            "contact": subs.contact}, {"callid": subs.callid, "to_tag": subs.to_tag,
                                                       "from_tag": subs.from_tag})
                    self._send_2xx(ctx, code, subs.expires, subs.local_contact)
            else:
                subs.to_tag = self._to_tag(ctx)
                if subs.expires != 0:
                    if self.subs.get(*subs.key) is not None:
                        raise ReplyError(500, R_500, "subscription overlapping detected, rejecting")
                    subs.expires += self.expires_offset
                    stored = subs.copy(expires=subs.expires + now, rules_doc=None, body=b"",
                                       db_flag=NO_UPDATEDB if self.fallback2db else INSERTDB)
                    self.subs.insert(stored)
                    if self.fallback2db:
                        self.db.insert(self.active_watchers_table, to_row(stored))
                self._send_2xx(ctx, code, subs.expires, subs.local_contact)
        except ReplyError as err:
            self._log(-1, str(err))
            self._error_reply(ctx, 500, R_500)
            return -1
        if event.type & PUBL_TYPE and event.wipeer is not None:
            self.query_db_notify(subs.pres_uri, event.wipeer, subs if subs.expires else None)
        if self.notify(subs, None) < 0:
            self._log(-1, "Failed to send notify request")
            return -1
        return 0

    # ================================================================================== watcher info
    def winfo_body(self, subs: Subscription, watcher: Subscription | None) -> bytes:
        """get_wi_notify_body(): the watchers of the presentity (partial when one changed)."""
        event = self.events.get(subs.event)
        peer = event.wipeer if event is not None else None
        builder = event.winfo_body if event is not None else None
        if peer is None or builder is None:
            return b""
        if watcher is not None:
            watchers = [watcher]
            full = False
        else:
            now = int(self._now())
            watchers = [s for s in self.subs.watching(subs.pres_uri, peer.name) if s.expires >= now]
            known = {(w.from_user, w.from_domain) for w in watchers}
            for row in self.db.query(self.watchers_table, where={"presentity_uri": subs.pres_uri,
                                                                 "event": peer.name}):
                if (_text(row["watcher_username"]), _text(row["watcher_domain"])) in known:
                    continue
                watchers.append(Subscription(
                    pres_uri=subs.pres_uri, event=peer.name, from_user=_text(row["watcher_username"]),
                    from_domain=_text(row["watcher_domain"]), status=int(row["status"]),
                    reason=_text(row["reason"]), callid=f"{row['id']}"))
            full = True
        return builder(subs.pres_uri, peer.name, watchers, subs.version, full)

    # ================================================================================== timers
    def _presentity_clean_tick(self, now: float) -> None:
        try:
            self.presentity_clean(int(now))
        finally:
            self.core.add_timer(now + self.clean_period, self._presentity_clean_tick)

    def presentity_clean(self, now: int) -> None:
        """msg_presentity_clean(): expired publications notify their watchers offline and leave; rows
        older than three periods are deleted."""
        rows = self.db.query(self.presentity_table, ["username", "domain", "etag", "event"],
                             [("expires", "<", now)])
        for row in rows:
            event = self.events.get(_text(row["event"]))
            if event is None:
                continue
            pres_uri = uandd_to_uri(_text(row["username"]), _text(row["domain"]))
            etag = _text(row["etag"])
            if etag in self.phtable.get((pres_uri, event.name), {}):
                self.publ_notify(pres_uri, event, None, etag, None)
                etags = self.phtable[(pres_uri, event.name)]
                etags.pop(etag, None)
                if not etags:
                    self.phtable.pop((pres_uri, event.name), None)
        self.db.delete(self.presentity_table, [("expires", "<", now - 3 * max(self.clean_period, 0))])
        self.db.delete(self.watchers_table, [("inserted_time", "<", now - self.waiting_subs_time),
                                             ("status", "=", PENDING)])

    def _db_update_tick(self, now: float) -> None:
        try:
            self.update_db_subs(int(now))
        finally:
            self.core.add_timer(now + self.db_update_period, self._db_update_tick)

    def update_db_subs(self, now: int) -> None:
        """timer_db_update(): expired subscriptions get their terminated NOTIFY and go; the others are
        written to active_watchers (new ones inserted, changed ones updated)."""
        for subs in self.subs:
            if subs.expires >= now:
                continue
            event = self.events.get(subs.event)
            if event is not None and event.mandatory_timeout_notification:
                ended = subs.copy(status=TERMINATED, reason="timeout", expires=0)
                self.send_notify(ended, None, force_null_body=True)
            self.subs.delete(*subs.key)
        if self.fallback2db:
            return
        for subs in self.subs.deleted:
            self._delete_db_subs(subs.pres_uri, subs.event, subs.to_tag)
        self.subs.deleted.clear()
        for subs in self.subs:
            try:
                if subs.db_flag & INSERTDB:
                    self.db.replace(self.active_watchers_table, to_row(subs),
                                    ["presentity_uri", "callid", "to_tag", "from_tag"])
                elif subs.db_flag & UPDATEDB:
                    self.db.update(self.active_watchers_table, {
                        "expires": subs.expires, "remote_cseq": subs.remote_cseq, "local_cseq": subs.local_cseq,
                        "version": subs.version, "status": subs.status, "reason": subs.reason or None,
                        "contact": subs.contact}, {"presentity_uri": subs.pres_uri, "callid": subs.callid,
                                                   "to_tag": subs.to_tag, "from_tag": subs.from_tag})
            except Exception as exc:
                self._log(-1, f"updating active_watchers: {exc}")
                continue
            subs.db_flag = NO_UPDATEDB

    def destroy(self) -> None:
        """Shutdown: the subscriptions go to the database (OpenSIPS's destroy runs timer_db_update)."""
        if self.db is not None and not self.library_mode:
            try:
                self.update_db_subs(int(self._now()))
            except Exception as exc:  # shutting down: report, do not raise
                self._log(-1, f"saving subscriptions at shutdown: {exc}")

    # ================================================================================== MI
    def mi_commands(self) -> dict[str, Callable]:
        if self.library_mode:
            return {}
        from opensips_py.modules.presence.mi import commands
        return commands(self)


def _split_routes(text: str) -> list[str]:
    """"<a>, <b;lr>" -> ["<a>", "<b;lr>"] (commas inside <> belong to the URI)."""
    parts, depth, current = [], 0, []
    for char in text or "":
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


__all__ = ["Module", "ReplyError", "local_contact", "uandd_to_uri"]
