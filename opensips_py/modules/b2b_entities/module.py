"""b2b_entities: the server and client dialogs of the B2BUA, and the API b2b_logic drives them with.

What OpenSIPS's b2b_entities does (dlg.c, server.c, client.c), here:
- `server_new(ctx, …)`: the initial INVITE the script runs becomes a server entity inside a tm transaction
  (t_newtran); our replies to it go through tm with the entity key as To-tag.
- `client_new(info, …)`: a new INVITE sent with tm's t_uac, Call-ID = the entity key; its replies come back
  through a tm callback on the transaction.
- `before_request_route()` (OpenSIPS's b2b_prescript_f): an in-dialog request whose To-tag (server) or Call-ID
  (client) is an entity key is taken before the script: a tm transaction is made for it, glare is answered
  (491 when we have an INVITE out, 500 "Overlapping Requests" when one of the peer's is still open), then the
  entity's owner (b2b_logic) is notified; the main route does not run.
- `send_request()` / `send_reply()`: requests inside an entity's dialog (its own CSeq, route set, remote
  target and tags; the ACK of a 2xx is sent statelessly and again on each 2xx retransmission; a BYE of a
  client still ringing becomes a CANCEL) and replies to the request the peer has open on it.
"""
from __future__ import annotations

import hashlib
import random
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable

from opensips_py.modules.b2b_entities import EXPORTS
from opensips_py.modules.b2b_entities.dialog import CLIENT, SERVER, B2BDialog, State, generate_key, is_key
from opensips_py.modules.base import ModuleBase, ModuleInitError
from opensips_py.runtime.forward import BadDestination, parse_destination, target_of_uri
from opensips_py.script.context import Send
from opensips_py.sip import URI, SIPParseError

# notify kinds (B2B_REQUEST / B2B_REPLY) and flags (B2B_NOTIFY_FL_*)
REQUEST = 0
REPLY = 1
FL_TERM_BYE = 1     # a BYE came while a request of the peer was still open: it was answered here
FL_ACK_NEG = 2      # the ACK of a negative reply



@dataclass
class ClientInfo:
    """client_info_t: what the INVITE of a new client entity carries."""

    req_uri: str
    to_uri: str                  # name-addr or URI
    from_uri: str                # name-addr or URI (without tag)
    local_contact: str
    call_id: str | None = None   # None: the entity key
    from_tag: str | None = None
    cseq: int = 1
    body: bytes = b""
    content_type: str | None = None
    extra_headers: list[str] = field(default_factory=list)
    dst_uri: str | None = None   # outbound proxy / $du
    socket: Any = None
    method: str = "INVITE"
    max_forwards: int | None = None  # the received Max-Forwards; the INVITE carries one less (None: 70)


def name_addr(text: str, display: str | None = None) -> str:
    """`<uri>` (with a quoted display name) from a URI or a name-addr."""
    text = text.strip()
    if "<" in text:
        return text
    return (f'"{display}" ' if display else "") + f"<{text}>"


def local_contact_of(sock: Any, user: str | None = None) -> str:
    """get_local_contact(): sip:[user@]address:port[;transport=x] of a listening socket."""
    if sock is None:
        return "sip:127.0.0.1"
    host = sock.via_host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    uri = f"sip:{user + '@' if user else ''}{host}:{sock.via_port}"
    if sock.proto != "udp":
        uri += f";transport={sock.proto}"
    return uri


class Module(ModuleBase):
    """The entity tables and the API of b2b_entities (b2be_load.h)."""

    exports = EXPORTS

    def init(self) -> None:
        self.tm = self.core.modules.get("tm")
        if self.tm is None:
            raise ModuleInitError("b2b_entities: needs the tm module")
        self.prefix = str(self.param("b2b_key_prefix") or "B2B")
        self.req_route = str(self.param("script_req_route") or "") or None
        self.reply_route = str(self.param("script_reply_route") or "") or None
        self._missing_routes: set[str] = set()
        self.servers: dict[str, B2BDialog] = {}
        self.clients: dict[str, B2BDialog] = {}
        self._hash = 0

    # ---------------------------------------------------------------------------------- creation
    def _new_key(self) -> str:
        self._hash = (self._hash + 1) % 512
        return generate_key(self.prefix, self._hash)[0]

    def server_new(self, ctx: Any, local_contact: str, logic_key: str | None,
                   notify: Callable | None) -> B2BDialog | None:
        """server_new(): the current initial INVITE becomes a server entity (its tm transaction is made)."""
        msg = ctx.msg
        rc = self.tm.t_newtran(ctx)
        if rc < 1:
            self.core.logger.error("b2b_entities: cannot create the transaction of the initial request",
                                   "b2b_entities")
            return None
        t = self.tm.transaction(ctx)
        _keep(ctx)
        frm, to = msg.from_, msg.to
        contacts = msg.contacts
        target = contacts[0].uri_text if contacts else frm.uri_text
        key = self._new_key()
        dlg = B2BDialog(
            kind=SERVER, key=key, logic_key=logic_key, notify=notify, call_id=msg.call_id, local_tag=key,
            remote_tag=frm.tag, local_uri=_strip_tag(to.raw), remote_uri=_strip_tag(frm.raw),
            local_contact=local_contact, remote_target=target,
            route_set=[r.raw for r in msg.record_route], remote_cseq=msg.cseq.number, state=State.NEW,
            socket=ctx.received.socket if ctx.received else None, initial_t=t, created=self.core.now)
        if msg.method == "INVITE":
            dlg.uas_t = t
        self.servers[key] = dlg
        return dlg

    def client_new(self, info: ClientInfo, logic_key: str | None, notify: Callable | None) -> B2BDialog | None:
        """client_new(): send the initial request of a new client entity (t_uac)."""
        key = self._new_key()
        dlg = B2BDialog(
            kind=CLIENT, key=key, logic_key=logic_key, notify=notify, call_id=info.call_id or key,
            local_tag=info.from_tag or _tag_of(key), remote_tag=None, local_uri=name_addr(info.from_uri),
            remote_uri=name_addr(info.to_uri), local_contact=info.local_contact, remote_target=info.req_uri,
            local_cseq=info.cseq, state=State.NEW, socket=info.socket, next_hop=info.dst_uri,
            extra_headers=list(info.extra_headers), created=self.core.now)
        self.clients[key] = dlg
        t = self._send_uac(dlg, info.method, info.body, info.content_type, info.extra_headers, info.cseq,
                           initial=True, max_forwards=info.max_forwards)
        if t is None:
            del self.clients[key]
            return None
        dlg.initial_t = t
        return dlg

    def entity(self, kind: int, key: str) -> B2BDialog | None:
        return (self.servers if kind == SERVER else self.clients).get(key)

    def entity_delete(self, dlg: B2BDialog) -> None:
        """entity_delete(): forget the entity (its pending transactions finish on their own)."""
        table = self.servers if dlg.kind == SERVER else self.clients
        if table.get(dlg.key) is dlg:
            del table[dlg.key]
        dlg.state = State.DESTROYED
        dlg.notify = None

    # ---------------------------------------------------------------------------------- requests in
    def before_request_route(self, ctx: Any) -> bool:
        """b2b_prescript_f(): False when the request belonged to an entity (handled here, no script)."""
        msg = ctx.msg
        method = msg.method
        try:
            to_tag = msg.to.tag if msg.to is not None else None
            call_id = msg.call_id
        except SIPParseError:
            return True
        if method == "CANCEL":
            return self._cancel(ctx)
        if not to_tag or not self._for_us(msg):
            return True
        if is_key(to_tag, self.prefix):
            dlg = self.servers.get(to_tag)
            kind = SERVER
        elif is_key(call_id, self.prefix):
            dlg = self.clients.get(call_id)
            kind = CLIENT
        else:
            return True
        if dlg is not None and (dlg.call_id != call_id or (kind == CLIENT and dlg.local_tag != to_tag)):
            dlg = None
        if dlg is None:
            # for the B2B engine, but no such entity: 481 (BYE: 200; ACK: absorbed by tm)
            if method == "ACK":
                self.tm.t_newtran(ctx)
            elif method == "BYE":
                self.tm.t_reply(ctx, 200, "OK")
            else:
                self.tm.t_reply(ctx, 481, "Call/Transaction Does Not Exist")
            return False
        self._request(ctx, dlg)
        return False

    def _for_us(self, msg: Any) -> bool:
        """b2b_prescript_f()'s checks: at most two Route URIs, both ours, and (but for an ACK) an R-URI of
        ours; other requests are not for the B2B engine."""
        try:
            routes = msg.route
            if len(routes) > 2 or any(not self._is_myself(r.uri) for r in routes):
                return False
            return msg.method == "ACK" or self._is_myself(msg.ruri)
        except (SIPParseError, AttributeError):
            return False

    def _is_myself(self, uri: Any) -> bool:
        if not getattr(uri, "is_sip", False):
            return False
        return self.core.is_myself(uri.host, uri.port or (5061 if uri.scheme == "sips" else 5060),
                                   uri.transport)

    def _request(self, ctx: Any, dlg: B2BDialog) -> None:
        msg = ctx.msg
        method = msg.method
        flags = 0
        if method == "PRACK":
            self.tm.t_reply(ctx, 200, "OK")
            if self.req_route:
                self.run_route(self.req_route, ctx)
            return
        if dlg.state < State.CONFIRMED and method != "UPDATE":
            return  # "I can not accept requests if the state is not confirmed"
        if self.req_route:
            # the b2b_entities request route (logic_notify in b2b_prescript_f()), its edits applied
            self.run_route(self.req_route, ctx)
            msg = ctx.msg
        if method == "ACK":
            hop_t = self.tm.transaction(ctx)
            if hop_t is not None:
                # the hop-by-hop ACK of a negative reply of ours: tm releases the transaction
                self.tm.after_request_route(ctx)
                flags |= FL_ACK_NEG
                if dlg.uas_t is hop_t:
                    dlg.uas_t = None
            else:
                if dlg.state == State.ESTABLISHED:
                    return  # a retransmission
                from opensips_py.modules.tm.engine import tm_state
                e2e = tm_state(ctx).e2eack_t
                self.tm.t_newtran(ctx)  # absorbs the ACK of our 2xx, stops its retransmissions
                if dlg.uas_t is not None and (e2e is None or dlg.uas_t is e2e) and dlg.uas_t.method == "INVITE":
                    dlg.uas_t = None
        else:
            if self.tm.t_newtran(ctx) < 1:
                return  # a retransmission (answered by tm) or an error
            t = self.tm.transaction(ctx)
            _keep(ctx)
            try:
                cseq = msg.cseq.number
            except (SIPParseError, AttributeError):
                cseq = 0
            dlg.remote_cseq = max(dlg.remote_cseq, cseq)
            if method == "UPDATE":
                dlg.update_t = t  # its own transaction slot (dlg->update_tran): no glare check
            elif _pending(dlg.uac_t):
                # an INVITE of ours is still open on this dialog
                self.tm.t_reply_trans(t, 491, "Request Pending")
                return
            elif _pending(dlg.uas_t):
                if method != "BYE":
                    self.tm.t_reply_trans(t, 500, "Overlapping Requests",
                                          headers=[f"Retry-After: {random.randrange(10)}"])
                    return
                self.tm.t_reply_trans(t, 200, "OK")
                if dlg.uas_t.status < 200:
                    self.tm.t_reply_trans(dlg.uas_t, 487, "Request Terminated",
                                          to_tag=dlg.local_tag if dlg.kind == SERVER else None)
                dlg.uas_t = None
                flags |= FL_TERM_BYE
            else:
                dlg.uas_t = t
            if method == "INVITE":
                contacts = msg.contacts
                if contacts:
                    dlg.remote_target = contacts[0].uri_text
        _set_state(dlg, method)
        if dlg.notify is not None:
            dlg.notify(dlg, REQUEST, ctx, flags)

    def run_route(self, name: str, ctx: Any) -> None:
        """Run route[name] on a B2B message; what it changed in the message is applied (b2b_apply_lumps())."""
        script = self.core.script
        if script.route("route", name) is None:
            if name not in self._missing_routes:
                self._missing_routes.add(name)
                self.core.logger.error(f"b2b: route <{name}> does not exist", "b2b_entities")
            return
        try:
            script.run("route", name, ctx)
        except SIPParseError as exc:
            self.core.logger.error(f"b2b: route[{name}]: {exc}", "b2b_entities")
        except Exception as exc:  # noqa: BLE001 - a script error must not break the entity
            self.core._internal_error(exc, f"route[{name}]")
        ctx.exit = ctx.returning = ctx.drop = ctx.breaking = False
        msg = ctx.msg
        if msg is not None and msg.lumps:
            try:
                ctx.msg = msg.apply_lumps()
            except SIPParseError as exc:
                self.core.logger.error(f"b2b: the edits of route[{name}] break the message: {exc}",
                                       "b2b_entities")

    def _cancel(self, ctx: Any) -> bool:
        """A CANCEL of the initial INVITE of a server entity: 200 canceling, then the owner is told."""
        msg = ctx.msg
        invite = None
        layer = getattr(self.tm, "layer", None)
        if layer is not None:
            try:
                invite = layer.table.lookup_original(msg)
            except SIPParseError:
                invite = None
        if invite is None:
            return True
        for dlg in self.servers.values():
            if dlg.initial_t is invite:
                break
        else:
            return True
        if self.tm.t_newtran(ctx) < 1:
            return False
        self.tm.t_reply(ctx, 200, "canceling")
        if dlg.notify is not None:
            dlg.notify(dlg, REQUEST, ctx, 0)
        return False

    # ---------------------------------------------------------------------------------- replies in
    def _on_reply(self, dlg: B2BDialog, method: str, cseq: int) -> Callable:
        def callback(t: Any, p: Any) -> None:
            msg = p.reply
            if msg is None:
                if p.code < 200:
                    return
                self._reply(dlg, t, method, cseq, None, p.code)  # a timeout (faked 408)
                return
            from opensips_py.modules.tm import TMCB
            if p.type & TMCB.LOCAL_COMPLETED:
                return  # seen in RESPONSE_IN already
            self._reply(dlg, t, method, cseq, msg, msg.status)
        return callback

    def _reply(self, dlg: B2BDialog, t: Any, method: str, cseq: int, msg: Any, code: int) -> None:
        if dlg.state == State.DESTROYED:
            if method == "INVITE" and 200 <= code < 300 and msg is not None:
                self._ack_and_bye(dlg, msg, cseq)
            return
        if method == "INVITE":
            if 200 <= code < 300 and cseq == dlg.last_invite_cseq and dlg.ack is not None \
                    and dlg.state in (State.ESTABLISHED, State.CONFIRMED):
                self._resend_ack(dlg)
                return
            if code >= 200 and t.status >= 200 and t.data.get("b2b_final"):
                return  # a retransmitted final reply
            if code >= 200:
                t.data["b2b_final"] = True
                if dlg.uac_t is t:
                    dlg.uac_t = None
            if msg is not None and dlg.state < State.CONFIRMED and code > 100:
                self._learn_dialog(dlg, msg)
            if 100 < code < 200 and dlg.state < State.EARLY and msg is not None and msg.to.tag:
                dlg.state = State.EARLY
            if 100 < code < 200 and msg is not None and dlg.kind == CLIENT and msg.to.tag and _reliable(msg):
                self._prack(dlg, msg)
            elif 200 <= code < 300:
                if msg is not None and dlg.state < State.CONFIRMED:
                    self._learn_dialog(dlg, msg)
                dlg.state = State.CONFIRMED
                dlg.ack = None
            elif code >= 300:
                if dlg.state < State.CONFIRMED:
                    dlg.state = State.TERMINATED
                elif dlg.state == State.MODIFIED:
                    dlg.state = State.ESTABLISHED
        elif code >= 200 and t.data.get("b2b_final"):
            return
        elif code >= 200:
            t.data["b2b_final"] = True
        if code == 100:
            return
        if self.reply_route and msg is not None:
            from opensips_py.modules.exports import RouteType
            from opensips_py.script.context import MsgContext
            rctx = MsgContext(msg, RouteType.ONREPLY, self.core.process, reply_source(t))
            self.run_route(self.reply_route, rctx)
            msg = rctx.msg
        if dlg.notify is not None:
            dlg.notify(dlg, REPLY, (msg, method, code, t), 0)

    def _learn_dialog(self, dlg: B2BDialog, msg: Any) -> None:
        """The remote tag, target and route set of a client entity, from a reply with a To-tag."""
        if dlg.kind != CLIENT:
            return
        tag = msg.to.tag
        if not tag:
            return
        dlg.remote_tag = tag
        contacts = msg.contacts
        if contacts:
            dlg.remote_target = contacts[0].uri_text
        dlg.route_set = [r.raw for r in reversed(msg.record_route)]

    def _prack(self, dlg: B2BDialog, msg: Any) -> None:
        """A reliable provisional reply (Require: 100rel) is PRACKed here (passthru_prack=0, RFC 3262):
        `RAck: <RSeq> <CSeq of the INVITE>` in the early dialog of that reply."""
        rseq = (msg.header("RSeq") or "").strip()
        if not rseq:
            self.core.logger.error("b2b_entities: RSeq header not found", "b2b_entities")
            return
        dlg.local_cseq += 1
        self._send_uac(dlg, "PRACK", b"", None, [f"RAck: {rseq} {msg.header('CSeq').strip()}"], dlg.local_cseq,
                       no_notify=True)

    def _ack_and_bye(self, dlg: B2BDialog, msg: Any, cseq: int) -> None:
        """A 2xx for an entity already gone: ACK it and hang up, so the callee does not keep the call."""
        self._learn_dialog(dlg, msg)
        dlg.last_invite_cseq = cseq
        self._send_ack(dlg, b"", None)
        dlg.state = State.ESTABLISHED
        self._send_uac(dlg, "BYE", b"", None, [], None)
        dlg.state = State.DESTROYED

    # ---------------------------------------------------------------------------------- requests out
    def send_request(self, dlg: B2BDialog, method: str, body: bytes = b"", content_type: str | None = None,
                     extra_headers: list[str] | None = None, no_notify: bool = False,
                     max_forwards: int | None = None) -> int:
        """b2b_send_request(): 0 sent, -1 error. `no_notify`: its replies are not reported to the owner.
        `max_forwards`: the Max-Forwards of the request being passed on (ours carries one less)."""
        extra = list(extra_headers or [])
        if method == "ACK":
            self._send_ack(dlg, body, content_type, extra, max_forwards)
            dlg.state = State.ESTABLISHED
            return 0
        if dlg.kind == CLIENT and (method == "CANCEL" or method == "BYE" and dlg.state < State.CONFIRMED):
            return self._cancel_initial(dlg)
        if dlg.kind == SERVER and (method == "CANCEL" or method == "BYE" and dlg.state < State.CONFIRMED):
            # a server entity that never answered: end it with a 487 to its INVITE
            if dlg.initial_t is not None and dlg.initial_t.status < 200:
                self.tm.t_reply_trans(dlg.initial_t, 487, "Request Terminated", to_tag=dlg.key)
            dlg.state = State.TERMINATED
            return 0
        dlg.local_cseq += 1
        t = self._send_uac(dlg, method, body, content_type, extra, dlg.local_cseq, no_notify=no_notify,
                           max_forwards=max_forwards)
        if t is None:
            return -1
        if method == "BYE":
            dlg.state = State.TERMINATED
        return 0

    def _cancel_initial(self, dlg: B2BDialog) -> int:
        t = dlg.initial_t
        if t is None or t.status >= 200:
            return 0
        self.tm.t_cancel_trans(t, ['Reason: SIP;cause=487;text="ORIGINATOR_CANCEL"'])
        return 0

    def _send_uac(self, dlg: B2BDialog, method: str, body: bytes, content_type: str | None,
                  extra: list[str], cseq: int | None, initial: bool = False, no_notify: bool = False,
                  max_forwards: int | None = None) -> Any:
        from opensips_py.modules.tm import TMCB, LocalRequest
        frm, to = dlg.from_to()
        headers = [f"Route: {r}" for r in dlg.route_set]
        headers.append(f"Contact: <{dlg.local_contact}>")  # on every request, as b2b_send_req()
        headers.extend(h for h in (extra or []) if h)
        if body and not content_type:
            content_type = "application/sdp"
        number = cseq if cseq is not None else dlg.local_cseq
        req = LocalRequest(method=method, ruri=dlg.remote_target, from_=frm, to=to, call_id=dlg.call_id,
                           cseq=number, headers=headers, body=body or b"", content_type=content_type,
                           next_hop=dlg.next_hop if initial else None, socket=dlg.socket,
                           max_forwards=max_forwards - 1 if max_forwards and max_forwards > 0 else 70)
        t = self.tm.t_uac(req)
        if t is None:
            return None
        if not no_notify:
            self.tm.register_callback(TMCB.RESPONSE_IN | TMCB.LOCAL_COMPLETED, self._on_reply(dlg, method, number),
                                      t)
        if method == "INVITE":
            dlg.uac_t = t
            dlg.last_invite_cseq = number
            if dlg.state == State.ESTABLISHED:
                dlg.state = State.MODIFIED
        return t

    def _send_ack(self, dlg: B2BDialog, body: bytes, content_type: str | None,
                  extra: list[str] | None = None, max_forwards: int | None = None) -> None:
        """The ACK of a 2xx: a new transaction, sent statelessly (RFC 3261 §13.2.2.4)."""
        frm, to = dlg.from_to()
        try:
            target = self._next_hop(dlg)
        except (BadDestination, SIPParseError) as exc:
            self.core.logger.error(f"b2b_entities: cannot send ACK: {exc}", "b2b_entities")
            return
        ip = self.core.resolver.resolve(target.host)
        if ip is None:
            self.core.logger.error(f"b2b_entities: cannot resolve {target.host}", "b2b_entities")
            return
        sock = self.core.send_socket(target.proto, ip, dlg.socket)
        if sock is None:
            return
        branch = "z9hG4bK" + secrets.token_hex(8)
        lines = [f"ACK {dlg.remote_target} SIP/2.0",
                 f"Via: SIP/2.0/{target.proto.upper()} {sock.via_host}:{sock.via_port};branch={branch}",
                 f"From: {frm}", f"To: {to}", f"Call-ID: {dlg.call_id}", f"CSeq: {dlg.last_invite_cseq} ACK"]
        lines += [f"Route: {r}" for r in dlg.route_set]
        lines.append(f"Max-Forwards: {max_forwards - 1 if max_forwards and max_forwards > 0 else 70}")
        lines.append(f"Contact: <{dlg.local_contact}>")
        lines.extend(h for h in (extra or []) if h)
        if body:
            lines.append(f"Content-Type: {content_type or 'application/sdp'}")
        lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body
        dlg.ack = data
        dlg.ack_target = (target.proto, ip, target.effective_port, sock)
        self._send(data, dlg.ack_target)

    def _resend_ack(self, dlg: B2BDialog) -> None:
        if dlg.ack is not None and dlg.ack_target is not None:
            self._send(dlg.ack, dlg.ack_target)

    def _send(self, data: bytes, target: tuple) -> None:
        proto, ip, port, sock = target
        conn = self.core.connection_for(proto, ip, port) if proto != "udp" else None
        if self.core.processing:
            self.core.process.outbox.append(Send(data, proto, ip, port, sock, conn))
        else:
            self.core.call_soon(lambda now: self.core.process.outbox.append(Send(data, proto, ip, port, sock, conn)))

    def _next_hop(self, dlg: B2BDialog) -> Any:
        if dlg.route_set:
            first = URI(dlg.route_set[0].strip().lstrip("<").split(">")[0])
            if first.lr:
                return target_of_uri(first)
        if dlg.next_hop and dlg.state < State.ESTABLISHED and not dlg.remote_tag:
            return parse_destination(dlg.next_hop)
        return target_of_uri(URI(dlg.remote_target))

    # ---------------------------------------------------------------------------------- replies out
    def send_reply(self, dlg: B2BDialog, method: str, code: int, reason: str, body: bytes = b"",
                   content_type: str | None = None, extra_headers: list[str] | None = None,
                   contact: str | None = None) -> int:
        """b2b_send_reply(): a reply to the request the peer has open on this entity. 0 sent, -1 none.
        `contact`: the Contact URI to send instead of ours (a 3xx passed with pass-3xx-contact)."""
        t = dlg.update_t if method == "UPDATE" else dlg.uas_t
        if t is None or t.deleted or (t.method != method and not (method == "INVITE" and t is dlg.initial_t)):
            if dlg.initial_t is not None and method == "INVITE" and dlg.kind == SERVER \
                    and dlg.initial_t.status < 200:
                t = dlg.initial_t
            else:
                self.core.logger.error(f"b2b_entities: no {method} transaction to reply {code} on {dlg.key}",
                                       "b2b_entities")
                return -1
        if t.status >= 200:
            return -1
        headers: list[str] = []
        headers.extend(h for h in (extra_headers or []) if h)
        headers.append(f"Contact: <{contact or dlg.local_contact}>")  # on every reply, as _b2b_send_reply()
        if body and not content_type:
            content_type = "application/sdp"
        if body:
            headers.append(f"Content-Type: {content_type}")
        to_tag = dlg.key if dlg.kind == SERVER and t is dlg.initial_t and code > 100 else None
        rc = self.tm.t_reply_trans(t, code, reason, body=body or b"", headers=headers, to_tag=to_tag)
        if rc < 0:
            return -1
        if method == "INVITE":
            if code >= 200:
                dlg.last_invite_reply = code
            if t is dlg.initial_t:
                if 100 < code < 200 and dlg.state < State.EARLY:
                    dlg.state = State.EARLY
                elif 200 <= code < 300:
                    dlg.state = State.CONFIRMED
                elif code >= 300:
                    dlg.state = State.TERMINATED
                    dlg.uas_t = None
            elif code >= 300:
                dlg.uas_t = None
                if dlg.state == State.MODIFIED:
                    dlg.state = State.ESTABLISHED
            elif code >= 200:
                dlg.state = State.CONFIRMED
        elif code >= 200 and dlg.uas_t is t:
            dlg.uas_t = None
        elif code >= 200 and dlg.update_t is t:
            dlg.update_t = None
        return 0

    # ---------------------------------------------------------------------------------- MI
    def mi_commands(self) -> dict[str, Callable]:
        return {"b2be_list": self._mi_list, "b2b_entities:list": self._mi_list}

    def _mi_list(self, params: Any) -> list:
        """mi_b2be_list(): every server entity, then every client one (mi_print_b2be_dlg())."""
        out = []
        for table in (self.servers, self.clients):
            for dlg in table.values():
                out.append(_dlg_json(dlg))
        return out


def _dlg_json(dlg: B2BDialog) -> dict:
    # OpenSIPS keeps caller/callee sides: for a server the caller is the peer, for a client we are the caller
    if dlg.kind == SERVER:
        from_na, to_na, from_tag, to_tag = dlg.remote_uri, dlg.local_uri, dlg.remote_tag, dlg.local_tag
        cseq = {"caller": dlg.remote_cseq, "callee": dlg.local_cseq}
        contact = {"caller": dlg.remote_target, "callee": dlg.local_contact}
    else:
        from_na, to_na, from_tag, to_tag = dlg.local_uri, dlg.remote_uri, dlg.local_tag, dlg.remote_tag
        cseq = {"caller": dlg.local_cseq, "callee": dlg.remote_cseq}
        contact = {"caller": dlg.local_contact, "callee": dlg.remote_target}
    item: dict[str, Any] = {
        "dlg": int(dlg.key.split(".")[2]) if dlg.key.count(".") >= 2 else 0, "logic_key": dlg.logic_key or "",
        "mod_name": "b2b_logic" if dlg.logic_key else "", "state": int(dlg.state),
        "last_invite_cseq": dlg.last_invite_cseq, "db_flag": 0}
    if dlg.last_invite_reply:
        item["last_reply_code"] = dlg.last_invite_reply
    if dlg.kind == CLIENT:
        item["ruri"] = dlg.remote_target
    item.update({"callid": dlg.call_id, "from": _display(from_na), "from_uri": _uri_of(from_na),
                 "from_tag": from_tag or "", "to": _display(to_na), "to_uri": _uri_of(to_na),
                 "to_tag": to_tag or "", "cseq": cseq})
    if dlg.route_set:
        item["route_set"] = {"caller" if dlg.kind == SERVER else "callee": ", ".join(dlg.route_set)}
    item["contact"] = contact
    if dlg.socket is not None:
        item["send_sock"] = str(dlg.socket)
    if _pending(dlg.uac_t):
        item["tm_tran"] = "uac"
    elif _pending(dlg.uas_t):
        item["tm_tran"] = "uas"
    return item


def _uri_of(name_addr: str) -> str:
    return name_addr[name_addr.find("<") + 1:name_addr.find(">")] if "<" in name_addr else name_addr


def _display(name_addr: str) -> str:
    return name_addr[:name_addr.find("<")].strip() if "<" in name_addr else ""


def reply_source(t: Any) -> Any:
    """Where a reply to our request came from, as far as tm knows it: the branch's peer and socket."""
    from opensips_py.script.context import ReceiveInfo
    branch = t.branches[0] if t is not None and t.branches else None
    if branch is None or branch.socket is None:
        return None
    return ReceiveInfo(branch.socket, branch.host, branch.port, branch.proto, branch.connection_id)


def _reliable(msg: Any) -> bool:
    """Does the reply require 100rel (a reliable provisional)?"""
    try:
        return any(token.lower() == "100rel" for token in msg.require)
    except SIPParseError:
        return False


def _keep(ctx: Any) -> None:
    """t_setkr(REQ_FWDED): the transaction is answered later, tm must not release it after the script."""
    from opensips_py.modules.tm.transaction import KillReason
    state = ctx.module_state.get("tm")
    if state is not None:
        state.kr |= KillReason.REQ_FWDED


def _pending(t: Any) -> bool:
    return t is not None and not t.deleted and t.status < 200


def _set_state(dlg: B2BDialog, method: str) -> None:
    """set_dlg_state()."""
    if method == "INVITE" and dlg.state != State.NEW_AUTH:
        dlg.state = State.MODIFIED
    elif method == "ACK":
        if dlg.state == State.CONFIRMED:
            dlg.state = State.ESTABLISHED
    elif method in ("BYE", "CANCEL"):
        dlg.state = State.TERMINATED


def _strip_tag(raw: str) -> str:
    """A From/To value without its tag parameter."""
    return re.sub(r";\s*tag\s*=\s*[^;>\s]*", "", raw).strip()


def _tag_of(key: str) -> str:
    return hashlib.md5(key.encode()).hexdigest()[:16]
