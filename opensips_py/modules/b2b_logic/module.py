"""b2b_logic: B2B sessions over b2b_entities (logic.c, bridging.c, b2b_logic.c of OpenSIPS 3.4/3.6).

A session (records.Tuple) links entities: a server entity made from the initial INVITE and client entities
we call out to. `b2b_init_request("top hiding")` is the built-in scenario (one client towards $ru, every
request and reply passed across, our Contact and key in place of the peers' topology); any other id is a
script scenario built from b2b_server_new()/b2b_client_new() whose in-dialog requests run the request route
(b2b_init_request's req_route, else the `script_req_route` modparam) and whose replies run the reply route
when there is one (there b2b_handle_reply() does the default work). b2b_bridge() re-connects an entity with
a new client: late-SDP by default (INVITE without SDP to the new one, its offer in a re-INVITE to the old
one, the answer in the ACK), `no-late-sdp` (the old SDP offered to the new one first), `hold`, a provisional
media server, `notify` (RFC 3515 NOTIFYs to the REFER sender) and `rollback-failed`.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from opensips_py.modules.b2b_entities.dialog import CLIENT, SERVER
from opensips_py.modules.b2b_entities.module import (
    FL_ACK_NEG, FL_TERM_BYE, REQUEST, ClientInfo, local_contact_of, reply_source,
)
from opensips_py.modules.b2b_logic import EXPORTS
from opensips_py.modules.b2b_logic.bridging import Bridging
from opensips_py.modules.b2b_logic.helpers import (
    avp_headers, first_socket, from_of, init_flags, max_forwards_of, setup_timeout, text_of, to_of,
)
from opensips_py.modules.b2b_logic.records import (
    BRIDGED_STATE, BRIDGING_STATES, CANCEL_STATE, ENT_CANCELING, ENT_CONFIRMED, TOP_HIDING, Entity, NewEntity,
    Tuple,
)
from opensips_py.modules.base import ModuleBase, ModuleInitError
from opensips_py.modules.exports import RouteType
from opensips_py.script.context import MsgContext
from opensips_py.script.pvars import Handler
from opensips_py.sip import SIPParseError

# headers passed from a request/reply to the peer's (b2b_extra_headers() in records.c), besides Content-Type
PASSED_HEADERS = ("supported", "allow", "proxy-require", "session-expires", "min-se", "event", "require",
                  "rseq", "subscription-state")
TODEL_LIFETIME = 30.0


class Module(Bridging, ModuleBase):
    """b2b_logic: script functions, PVs, MI, and the callbacks b2b_entities calls for requests and replies."""

    exports = EXPORTS

    def init(self) -> None:
        self.ent = self.core.modules.get("b2b_entities")
        if self.ent is None:
            raise ModuleInitError("b2b_logic: needs the b2b_entities module")
        self.tuples: dict[str, Tuple] = {}
        self.server_address = self.param("server_address") or None
        self.req_route = self.param("script_req_route") or None
        self.reply_route = self.param("script_reply_route") or None
        self.contact_user = bool(self.int_param("contact_user"))
        self.term_delay = self.int_param("old_entity_term_delay")
        custom = self.param("custom_headers") or ""
        self.custom_headers = [h.strip().lower() for h in str(custom).split(";") if h.strip()]
        regexp = self.param("custom_headers_regexp")
        self.custom_re = re.compile(str(regexp)) if regexp else None
        self.init_callid_hdr = str(self.param("init_callid_hdr") or "") or None
        self.from_spec = self._compile_spec(self.param("b2bl_from_spec_param"), "b2bl_from_spec_param")
        self.server_address_fmt = self._compile_format(self.server_address, "server_address")
        self._hash = 0

    def _compile_spec(self, text: Any, what: str) -> Any:
        """A pseudo-variable named by a modparam (read per call): core variables first, then the modules'."""
        if not text:
            return None
        import opensips_py.script.pv_core  # noqa: F401  (registers the core variables)
        from opensips_py.config.pvar import PVarSyntaxError, parse_pvar_token
        from opensips_py.script.pvars import CORE_HANDLERS, UnknownPseudoVariable, compile_pvar

        def resolve(name: str):
            found = CORE_HANDLERS.get(name)
            for module in [self, *getattr(self.core, "modules", {}).values()]:
                if found is not None:
                    break
                found = module.pvars().get(name)
            return found
        try:
            node = parse_pvar_token(str(text)) if str(text).startswith("$") else None
            if node is None:
                raise PVarSyntaxError(str(text))
            return compile_pvar(node, resolve, lambda transformation: (lambda ctx, value: value))
        except (PVarSyntaxError, UnknownPseudoVariable) as exc:
            raise ModuleInitError(f"b2b_logic: bad pseudo-variable in {what}: {text!r}") from exc

    def _compile_format(self, text: Any, what: str) -> list | None:
        """A modparam format with pseudo-variables, as parts (text or PVRef); None when it has none."""
        from opensips_py.config.pvar import PVarSyntaxError, has_pvars, parse_format
        if not text or not has_pvars(str(text)):
            return None
        try:
            parts = parse_format(str(text))
        except PVarSyntaxError as exc:
            raise ModuleInitError(f"b2b_logic: bad format in {what}: {text!r}") from exc
        return [part.text if part.pvar is None else self._compile_spec(part.pvar.text, what) for part in parts]

    def _from_of(self, ctx: MsgContext) -> str:
        """get_b2bl_from(): the From of the client legs from `b2bl_from_spec_param` when it holds a name-addr,
        else the caller's display name and URI (b2b_msg_get_from())."""
        if self.from_spec is not None:
            value = self.from_spec.get(ctx)
            if isinstance(value, str) and value.strip():
                from opensips_py.sip.headers import parse_name_addr
                try:
                    found = parse_name_addr(value.strip(), "From")
                except SIPParseError:
                    self._log_error(f"failed to parse the b2bl_from value {value!r}")
                else:
                    return (f'"{found.display_name}" ' if found.display_name else "") + f"<{found.uri_text}>"
        return from_of(ctx.msg)

    # ================================================================================== helpers
    @staticmethod
    def _state(ctx: MsgContext) -> dict:
        return ctx.module_state.setdefault("b2b_logic", {})

    def _route_ctx(self, ctx: MsgContext) -> dict | None:
        return ctx.module_state.get("b2b_logic", {}).get("route")

    def _log_error(self, text: str) -> None:
        self.core.logger.error(f"b2b_logic: {text}", "b2b_logic")

    def _extra_headers(self, msg: Any) -> list[str]:
        """The header lines passed on to the peer (b2b_extra_headers(); a request's Refer-To too, as
        b2b_logic_notify() adds it), and `init_callid_hdr: <Call-ID>` when that parameter is set."""
        lines = []
        refer = msg.is_request and msg.method == "REFER"
        for hf in msg.headers:
            key = hf.key if isinstance(hf.key, str) else str(hf.key)
            name = hf.name.lower()
            if key in PASSED_HEADERS or name in PASSED_HEADERS or name in self.custom_headers or \
                    (self.custom_re is not None and self.custom_re.search(hf.name)) or \
                    refer and name in ("refer-to", "r"):
                lines.append(f"{hf.name}: {hf.value}")
        if self.init_callid_hdr and msg.call_id:
            lines.append(f"{self.init_callid_hdr}: {msg.call_id}")
        return lines

    @staticmethod
    def _content_type(msg: Any) -> str | None:
        try:
            value = msg.header("Content-Type")
        except SIPParseError:
            return None
        return value

    def _local_contact(self, sock: Any, from_uri: str | None, ctx: MsgContext | None = None) -> str:
        """b2b_get_local_contact(): server_address (a format: expanded on the current message; without one,
        the socket's address), else the socket's address."""
        if self.server_address_fmt is not None:
            if ctx is not None:
                return "".join(part if isinstance(part, str) else text_of(part.get(ctx))
                               for part in self.server_address_fmt)
            return local_contact_of(sock)
        if self.server_address:
            return str(self.server_address)
        user = None
        if self.contact_user and from_uri:
            m = re.search(r"sips?:([^@;>]+)@", from_uri)
            user = m.group(1) if m else None
        return local_contact_of(sock, user)

    def _new_tuple(self, scenario: str, req_route: str | None, reply_route: str | None) -> Tuple:
        self._hash = (self._hash + 1) % 1024
        t = Tuple(hash_index=self._hash, scenario=scenario, req_route=req_route, reply_route=reply_route)
        self.tuples[t.key] = t
        return t

    # ================================================================================== session start
    def b2b_server_new(self, ctx: MsgContext, id: str, adv_contact: str | None = None, extra_hdrs=None,
                       extra_hdr_bodies=None) -> int:
        return self._entity_new(ctx, NewEntity(SERVER, id, adv_contact=adv_contact,
                                               headers=avp_headers(ctx, extra_hdrs, extra_hdr_bodies)))

    def b2b_client_new(self, ctx: MsgContext, id: str, dest_uri: str, proxy: str | None = None,
                       from_dname: str | None = None, adv_contact: str | None = None, extra_hdrs=None,
                       extra_hdr_bodies=None, flags: str | None = None) -> int:
        if flags:
            self._log_error(f"b2b_client_new(): flags not supported: {flags}")
            return -1
        uri = (dest_uri or "").strip()
        if uri.startswith("<") and ">" in uri:
            uri = uri[1:uri.index(">")]
        if not uri:
            self._log_error("b2b_client_new(): empty destination URI")
            return -1
        return self._entity_new(ctx, NewEntity(CLIENT, id, dest_uri=uri, proxy=proxy or None,
                                               from_dname=from_dname, adv_contact=adv_contact,
                                               headers=avp_headers(ctx, extra_hdrs, extra_hdr_bodies)))

    def _entity_new(self, ctx: MsgContext, new: NewEntity) -> int:
        pending = self._state(ctx).setdefault("new", [])
        if len(pending) >= 2:
            self._log_error("only two new entities can be created at once")
            return -1
        pending.append(new)
        return 1

    def b2b_init_request(self, ctx: MsgContext, id: str, flags: str | None = None, req_route: str | None = None,
                         reply_route: str | None = None, init_sdp_body: str | None = None,
                         init_sdp_ctype: str | None = None) -> int:
        msg = ctx.msg
        if msg is None or not msg.is_request or msg.method != "INVITE":
            self._log_error("a scenario must be initialized on INVITE")
            return -1
        state = self._state(ctx)
        if state.get("tuple") is not None:
            self._log_error("b2b_init_request() called twice for this request")
            return -1
        names = init_flags(flags)
        unsupported = names - {"preserve-to", "setup-timeout"}
        if unsupported:
            self._log_error(f"b2b_init_request(): flags not supported: {', '.join(sorted(unsupported))}")
            return -1
        if id == TOP_HIDING:
            tup = self._init_top_hiding(ctx, req_route or self.req_route, reply_route or self.reply_route,
                                        "preserve-to" in names)
        else:
            tup = self._init_scenario(ctx, id, req_route or self.req_route, reply_route or self.reply_route)
        if tup is None:
            return -1
        timeout = setup_timeout(flags, self.int_param("b2bl_th_init_timeout"))
        self._set_lifetime(tup, timeout if timeout else self.int_param("max_duration"))
        state["tuple"] = tup
        state.pop("new", None)
        return 1

    def _server_entity(self, ctx: MsgContext, tup: Tuple, ent_id: str | None, adv: str | None) -> Entity | None:
        msg = ctx.msg
        sock = ctx.force_socket or (ctx.received.socket if ctx.received else None)
        tup.local_contact = adv or self._local_contact(sock, msg.from_.uri_text, ctx)
        dlg = self.ent.server_new(ctx, tup.local_contact, tup.key, self._notify)
        if dlg is None:
            return None
        entity = Entity(SERVER, ent_id, dlg, in_sdp=msg.body or b"", from_uri=self._from_of(ctx),
                        dest_uri=msg.to.uri_text)
        tup.servers.append(entity)
        return entity

    def _client_entity(self, ctx: MsgContext | None, tup: Tuple, ent_id: str | None, *, req_uri: str, to_uri: str,
                       from_uri: str, body: bytes, content_type: str | None, cseq: int, dst_uri: str | None,
                       sock: Any, headers: list[str], adv_contact: str | None,
                       max_forwards: int | None = None) -> Entity | None:
        if adv_contact:
            contact = adv_contact
        elif sock is not None or self.server_address or not tup.local_contact:
            contact = self._local_contact(sock if sock is not None else first_socket(self.core), from_uri, ctx)
        else:
            contact = tup.local_contact
        info = ClientInfo(req_uri=req_uri, to_uri=to_uri, from_uri=from_uri, local_contact=contact, cseq=cseq,
                          body=body, content_type=content_type if body else None, extra_headers=headers,
                          dst_uri=dst_uri, socket=sock, max_forwards=max_forwards)
        dlg = self.ent.client_new(info, tup.key, self._notify)
        if dlg is None:
            return None
        entity = Entity(CLIENT, ent_id, dlg, out_sdp=body, dest_uri=req_uri, from_uri=from_uri, to_uri=to_uri,
                        headers=list(headers))
        tup.clients.append(entity)
        return entity

    def _init_top_hiding(self, ctx: MsgContext, req_route: str | None, reply_route: str | None,
                         preserve_to: bool = False) -> Tuple | None:
        msg = ctx.msg
        tup = self._new_tuple(TOP_HIDING, req_route, reply_route)
        tup.vals.update(self._state(ctx).pop("vals", {}))
        tup.extra_headers = self._extra_headers(msg)
        server = self._server_entity(ctx, tup, None, None)
        if server is None:
            del self.tuples[tup.key]
            return None
        ruri = ctx.new_uri or msg.ruri_text
        sock = ctx.force_socket or (ctx.received.socket if ctx.received else None)
        client = self._client_entity(
            ctx, tup, None, req_uri=ruri, to_uri=to_of(ctx, msg, preserve_to), from_uri=self._from_of(ctx),
            body=msg.body or b"", content_type=self._content_type(msg), cseq=msg.cseq.number,
            dst_uri=ctx.dst_uri, sock=sock, headers=self._extra_headers(msg), adv_contact=None,
            max_forwards=max_forwards_of(msg))
        if client is None:
            self._delete_tuple(tup)
            return None
        client.no = 1
        client.peer, server.peer = server, client
        tup.bridge_entities[0], tup.bridge_entities[1] = server, client
        return tup

    def _init_scenario(self, ctx: MsgContext, scenario: str, req_route: str | None,
                       reply_route: str | None) -> Tuple | None:
        msg = ctx.msg
        pending: list[NewEntity] = self._state(ctx).get("new", [])
        servers = [e for e in pending if e.kind == SERVER]
        clients = [e for e in pending if e.kind == CLIENT]
        if not servers or not clients:
            self._log_error("a server and a client entity are needed to start a scenario")
            return None
        tup = self._new_tuple(scenario, req_route, reply_route)
        tup.vals.update(self._state(ctx).pop("vals", {}))
        tup.extra_headers = self._extra_headers(msg)
        server = self._server_entity(ctx, tup, servers[0].id, servers[0].adv_contact)
        if server is None:
            del self.tuples[tup.key]
            return None
        spec = clients[0]
        sock = ctx.force_socket or (ctx.received.socket if ctx.received else None)
        from_uri = self._from_of(ctx)
        if spec.from_dname:
            from_uri = f'"{spec.from_dname}" <{msg.from_.uri_text}>'
        client = self._client_entity(
            ctx, tup, spec.id, req_uri=spec.dest_uri, to_uri=f"<{spec.dest_uri}>", from_uri=from_uri,
            body=msg.body or b"", content_type=self._content_type(msg), cseq=msg.cseq.number, dst_uri=spec.proxy,
            sock=sock, headers=self._extra_headers(msg) + spec.headers, adv_contact=spec.adv_contact,
            max_forwards=max_forwards_of(msg))
        if client is None:
            self._delete_tuple(tup)
            return None
        client.no = 1
        client.peer, server.peer = server, client
        tup.bridge_entities[0], tup.bridge_entities[1] = server, client
        return tup

    # ================================================================================== entity events
    def _notify(self, dlg: Any, kind: int, payload: Any, flags: int) -> None:
        tup = self.tuples.get(dlg.logic_key or "")
        if tup is None:
            return
        entity = tup.find_by_dlg(dlg)
        if entity is None:
            return
        if kind == REQUEST:
            self._notify_request(tup, entity, payload, flags)
        else:
            msg, method, code, t = payload
            if code >= 200:
                entity.reply_received, entity.last_rcv_code = True, code
            if entity.disconnected:
                # b2b_logic_notify_reply(): the last reply of an entity we ended; it goes, and the session
                # with it when it was the last one of a session being deleted
                self._delete_entity(tup, entity)
                if tup.to_del and not tup.servers and not tup.clients:
                    self._delete_tuple(tup)
                return
            if method == "INVITE" and 200 <= code < 300 and dlg.kind == CLIENT and not entity.confirmed_once:
                # b2b_add_dlginfo(): a connected call lives max_duration (or the bridge's max_duration=)
                entity.confirmed_once = True
                if tup.explicit_lifetime is None:
                    self._set_lifetime(tup, self.int_param("max_duration"))
            self._notify_reply(tup, entity, msg, method, code, t)

    def _notify_request(self, tup: Tuple, entity: Entity, ctx: MsgContext, flags: int) -> None:
        msg = ctx.msg
        method = msg.method
        peer = entity.peer
        if tup.to_del:
            if method == "ACK":
                pass
            elif method == "BYE":
                if not flags & FL_TERM_BYE:
                    self.ent.send_reply(entity.dlg, "BYE", 200, "OK")
            else:
                self.ent.send_reply(entity.dlg, method, 400, "Not Acceptable")
            self._delete_tuple(tup)
            return
        if method == "BYE":
            if flags & FL_TERM_BYE:
                # answered by b2b_entities while a request of this entity was open: once the peer has its
                # final reply to what we passed, it is ACKed (2xx) and ended
                entity.term_bye = True
                if peer is not None and not peer.disconnected and peer.reply_received:
                    self._ack_and_term(peer, peer.last_rcv_code)
                    self._mark_todel(tup)
                return
            if entity.disconnected:
                self.ent.send_reply(entity.dlg, "BYE", 200, "OK")
                return
            entity.disconnected = True
            if tup.state in BRIDGING_STATES:
                self._bridge_bye(tup, entity)
                return
        elif method == "CANCEL":
            entity.state = ENT_CANCELING
        elif method == "INVITE":
            entity.in_sdp = msg.body or b""
            if peer is not None:
                peer.out_sdp = msg.body or b""
        elif method == "ACK":
            if flags & FL_ACK_NEG:
                return
            if tup.state == BRIDGED_STATE and tup.late_bye_entity is not None:
                old, tup.late_bye_entity = tup.late_bye_entity, None
                self._terminate_later(tup, old)
        route = tup.req_route
        if not route or tup.scenario == TOP_HIDING:
            self._pass_request(tup, entity, ctx)
            return
        state = self._state(ctx)
        state["route"] = {"kind": "request", "tuple": tup, "entity": entity, "peer": peer, "ctx": ctx}
        self._run_route(route, ctx)
        state.pop("route", None)

    def _run_route(self, name: str, ctx: MsgContext) -> None:
        self.ent.run_route(name, ctx)

    def _pass_request(self, tup: Tuple, entity: Entity, ctx: MsgContext) -> int:
        msg = ctx.msg
        method = msg.method
        peer = entity.peer
        if method == "CANCEL":
            tup.state = CANCEL_STATE
        elif method == "BYE":
            if peer is None or peer.dlg is None:
                self.ent.send_reply(entity.dlg, "BYE", 200, "OK")
                self._delete_tuple(tup)
                return 0
            self._mark_todel(tup)
        if peer is not None and peer.dlg is not None:
            body = msg.body or b""
            self.ent.send_request(peer.dlg, method, body, self._content_type(msg) if body else None,
                                  self._extra_headers(msg), max_forwards=max_forwards_of(msg))
            if method != "ACK":
                peer.reply_received = False
        return 0

    def _notify_reply(self, tup: Tuple, entity: Entity, msg: Any, method: str, code: int, t: Any = None) -> None:
        route = tup.reply_route
        if not route or tup.scenario == TOP_HIDING or msg is None:
            self._handle_reply(tup, entity, msg, method, code)
            return
        ctx = MsgContext(msg, RouteType.ONREPLY, self.core.process, reply_source(t))
        state = self._state(ctx)
        state["route"] = {"kind": "reply", "tuple": tup, "entity": entity, "peer": entity.peer, "ctx": ctx,
                          "method": method, "code": code}
        self._run_route(route, ctx)

    def _send_reply_to_peer(self, peer: Entity, msg: Any, method: str, code: int, pass_contact: bool = False) -> int:
        if peer is None or peer.dlg is None:
            return -1
        if msg is None:
            return self.ent.send_reply(peer.dlg, method, code, "Request Timeout" if code == 408 else "Error")
        body = msg.body or b""
        contact = None
        if pass_contact and 300 <= code < 400 and msg.contacts:
            contact = msg.contacts[0].uri_text
        return self.ent.send_reply(peer.dlg, method, code, msg.reason, body,
                                   self._content_type(msg) if body else None, self._extra_headers(msg), contact)

    def _handle_reply(self, tup: Tuple, entity: Entity, msg: Any, method: str, code: int,
                      pass_contact: bool = False) -> int:
        """_b2b_handle_reply(); `pass_contact`: a 3xx keeps its Contact (pass-3xx-contact)."""
        peer = entity.peer
        body = (msg.body or b"") if msg is not None else b""
        if tup.state in BRIDGING_STATES:
            if method != "INVITE":
                if method == "BYE" or method == "NOTIFY":
                    return 0
                self._log_error(f"a {method} reply while bridging")
                return -1
            last = tup.bridge_entities[2] or tup.bridge_entities[1]
            if code >= 200 and entity is last and tup.bridge_initiator is not None:
                if "notify" in tup.bridge_flags:
                    self._send_bridge_notify(tup, tup.bridge_initiator, msg, code)
                if (200 <= code < 300 or "rollback-failed" not in tup.bridge_flags) and \
                        "keep-initiator" not in tup.bridge_flags:
                    self._end_dialog(tup, tup.bridge_initiator)
                    tup.bridge_initiator = None
            if code >= 300:
                if "no-late-sdp" in tup.bridge_flags and code == 491 and self._bridge_491(tup):
                    return 0
                entity.rejected = True
                if self._bridge_negreply(tup, entity) == 1:
                    return 0
                if entity.peer is None or entity.peer.dlg is None:
                    self._delete_tuple(tup)
                return 0
            if code < 200:
                return 0
            self._bridge_200ok(tup, entity, msg, body)
            return 0
        if peer is None:
            return 0
        if peer.term_bye:
            if not entity.disconnected:
                self._ack_and_term(entity, code)
                self._mark_todel(tup)
            return 0
        # as SEND_REPLY_TO_PEER_OR_GOTO_DONE: when the peer has no such request open, nothing more is done
        if method == "BYE":
            if self._send_reply_to_peer(peer, msg, method, code, pass_contact) == 0:
                self._delete_tuple(tup)
            return 0
        if method in ("INVITE", "UPDATE"):
            if entity.state != ENT_CONFIRMED:
                if code >= 300:
                    if self._send_reply_to_peer(peer, msg, method, code, pass_contact) == 0:
                        self._mark_todel(tup)
                elif code >= 200:
                    entity.in_sdp = body
                    peer.out_sdp = body
                    tup.state = BRIDGED_STATE
                    entity.state = peer.state = ENT_CONFIRMED
                    self._send_reply_to_peer(peer, msg, method, code, pass_contact)
                else:
                    self._send_reply_to_peer(peer, msg, method, code, pass_contact)
            else:
                if 200 <= code < 300:
                    entity.in_sdp = body
                    peer.out_sdp = body
                    tup.bridge_flags.discard("pending-sdp")
                self._send_reply_to_peer(peer, msg, method, code, pass_contact)
            return 0
        self._send_reply_to_peer(peer, msg, method, code, pass_contact)
        return 0

    # ================================================================================== deletion
    def _mark_todel(self, tup: Tuple) -> None:
        """b2b_mark_todel(): the session goes 30 s later unless its last messages end it sooner."""
        tup.to_del = True
        tup.state = CANCEL_STATE
        self._set_lifetime(tup, TODEL_LIFETIME)

    def _set_lifetime(self, tup: Tuple, seconds: float) -> None:
        """The session expires `seconds` from now (0: never); checked by a timer as b2bl_clean() does."""
        if seconds <= 0:
            tup.lifetime = 0.0
            return
        tup.lifetime = self.core.now + seconds
        self.core.add_timer(tup.lifetime, lambda now: self._expire(tup, now))

    def _expire(self, tup: Tuple, now: float) -> None:
        """b2bl_clean(): an expired session ends its two bridged entities (BYE; 408 to a caller not answered
        yet, 487 when it was cancelling) and is deleted."""
        if self.tuples.get(tup.key) is not tup or not tup.lifetime or now + 1e-6 < tup.lifetime:
            return
        b0, b1 = tup.bridge_entities[0], tup.bridge_entities[1]
        if b0 is not None and b1 is not None and not tup.to_del:
            for entity in (b0, b1):
                if not entity.disconnected:
                    self._term_entity(entity)
        self._delete_tuple(tup)

    def _term_entity(self, entity: Entity) -> None:
        if entity.dlg is None:
            return
        if entity.kind == SERVER and entity.state != ENT_CONFIRMED:
            if entity.state == ENT_CANCELING:
                self.ent.send_reply(entity.dlg, "INVITE", 487, "Request Terminated")
            else:
                self.ent.send_reply(entity.dlg, "INVITE", 408, "Request Timeout")
        else:
            self.ent.send_request(entity.dlg, "BYE")
        entity.disconnected = True

    def _delete_tuple(self, tup: Tuple) -> None:
        for entity in tup.entities() + tup.dropped:
            if entity.dlg is not None:
                self.ent.entity_delete(entity.dlg)
        tup.servers.clear()
        tup.clients.clear()
        if self.tuples.get(tup.key) is tup:
            del self.tuples[tup.key]

    def _delete_entity(self, tup: Tuple, entity: Entity) -> None:
        if entity.dlg is not None:
            self.ent.entity_delete(entity.dlg)
        tup.remove(entity)

    def _end_dialog(self, tup: Tuple, entity: Entity | None) -> None:
        """b2b_end_dialog(): BYE (or CANCEL when not answered yet) to an entity, once."""
        if entity is None:
            return
        if entity.dlg is None:
            tup.remove(entity)
            return
        if entity.disconnected or entity.rejected:
            return
        self.ent.send_request(entity.dlg, "BYE" if entity.state == ENT_CONFIRMED else "CANCEL")
        entity.disconnected = True

    def _ack_and_term(self, entity: Entity, code: int) -> None:
        """ack_and_term_entity(): ACK a 2xx, then BYE."""
        if entity.dlg is not None:
            if 200 <= code < 300:
                self.ent.send_request(entity.dlg, "ACK")
            self.ent.send_request(entity.dlg, "BYE")
        entity.disconnected = True

    def _terminate_later(self, tup: Tuple, entity: Entity) -> None:
        """late_bye: the replaced entity gets its BYE now, or old_entity_term_delay seconds later."""
        tup.remove(entity)

        def bye(now: float | None = None) -> None:
            if entity.dlg is not None and not entity.disconnected:
                self.ent.send_request(entity.dlg, "BYE")
                entity.disconnected = True
                self.ent.entity_delete(entity.dlg)
        if self.term_delay > 0:
            self.core.add_timer(self.core.now + self.term_delay, bye)
        else:
            bye()

    # ================================================================================== script functions (routes)
    def _current(self, ctx: MsgContext, name: str, kinds: tuple[str, ...] = ("request",)) -> dict | None:
        route = self._route_ctx(ctx)
        if route is None or route["kind"] not in kinds:
            what = " or ".join(kinds)
            self._log_error(f"{name}() can only be used from the b2b_logic {what} routes")
            return None
        if self.tuples.get(route["tuple"].key) is not route["tuple"]:
            self._log_error("B2B logic record not found")
            return None
        return route

    def b2b_pass_request(self, ctx: MsgContext) -> int:
        route = self._current(ctx, "b2b_pass_request")
        if route is None:
            return -1
        entity = route["entity"]
        if entity not in route["tuple"].entities():
            return -1
        return 1 if self._pass_request(route["tuple"], entity, ctx) >= 0 else -1

    def b2b_handle_reply(self, ctx: MsgContext, flags: str | None = None) -> int:
        route = self._current(ctx, "b2b_handle_reply", ("reply",))
        if route is None:
            return -1
        entity = route["entity"]
        if entity not in route["tuple"].entities():
            return -1
        names = {f.strip() for f in (flags or "").split(",") if f.strip()}
        unknown = names - {"pass-3xx-contact"}
        if unknown:
            self._log_error(f"b2b_handle_reply(): unknown flags {', '.join(sorted(unknown))}")
            return -1
        return 1 if self._handle_reply(route["tuple"], entity, ctx.msg, route["method"], route["code"],
                                       "pass-3xx-contact" in names) >= 0 else -1

    def b2b_send_reply(self, ctx: MsgContext, code: int, reason: str, headers: str | None = None,
                       body: str | None = None) -> int:
        route = self._current(ctx, "b2b_send_reply")
        if route is None:
            return -1
        entity = route["entity"]
        lines = [line for line in (headers or "").replace("\r\n", "\n").split("\n") if line.strip()]
        ctype = None
        for line in lines:
            if line.lower().startswith("content-type:"):
                ctype = line.split(":", 1)[1].strip()
        lines = [line for line in lines if not line.lower().startswith("content-type:")]
        raw = (body or "").encode("utf-8", "surrogateescape")
        self.ent.send_reply(entity.dlg, ctx.msg.method, code, reason, raw, ctype, lines)
        return 1

    def b2b_delete_entity(self, ctx: MsgContext) -> int:
        route = self._current(ctx, "b2b_delete_entity")
        if route is None:
            return -1
        entity = route["entity"]
        if entity.peer is not None:
            entity.peer.peer = None
        self._delete_entity(route["tuple"], entity)
        return 1

    def b2b_end_dlg_leg(self, ctx: MsgContext) -> int:
        route = self._current(ctx, "b2b_end_dlg_leg", ("request", "reply"))
        if route is None:
            return -1
        entity = route["entity"]
        entity.disconnected = True
        if entity.dlg is not None:
            self.ent.send_request(entity.dlg, "BYE")
        if entity.peer is not None:
            entity.peer.peer = None
        entity.peer = None
        return 1

    # ================================================================================== PVs
    def _tuple_of(self, ctx: MsgContext) -> Tuple | None:
        state = ctx.module_state.get("b2b_logic")
        if not state:
            return None
        route = state.get("route")
        if route is not None:
            tup = route["tuple"]
            return tup if self.tuples.get(tup.key) is tup else None
        return state.get("tuple")

    def pvars(self) -> dict[str, Handler]:
        def key(ctx, arg, index):
            tup = self._tuple_of(ctx)
            return tup.key if tup is not None else None

        def scenario(ctx, arg, index):
            tup = self._tuple_of(ctx)
            return tup.scenario if tup is not None else None

        def entity(ctx, arg, index):
            tup = self._tuple_of(ctx)
            if tup is None:
                return None
            current = [e for e in tup.bridge_entities[:2] if e is not None]
            if index is None:
                # pv_get_entity(): the current entity among the two bridged ones, by its key in the b2b
                # routes, by the message's Call-ID elsewhere
                route = self._route_ctx(ctx)
                if route is not None:
                    ent = route["entity"] if route["entity"] in current else None
                else:
                    call_id = ctx.msg.call_id if ctx.msg is not None else None
                    ent = next((e for e in current if e.dlg is not None and e.dlg.call_id == call_id), None)
            else:
                try:
                    ent = tup.bridge_entities[int(index)] if int(index) in (0, 1) else None
                except (TypeError, ValueError):
                    ent = None
            if ent is None:
                return None
            field = (arg or "key").strip()
            dlg = ent.dlg
            if field == "key":
                return ent.key
            if field == "id":
                return ent.id
            if dlg is None:
                return None
            if field == "callid":
                return dlg.call_id
            # the entity's dlginfo: fromtag is the peer's tag, totag ours (for servers and clients alike)
            if field == "fromtag":
                return dlg.remote_tag
            if field == "totag":
                return dlg.local_tag
            return None

        def ctx_get(ctx, arg, index):
            tup = self._tuple_of(ctx)
            vals = tup.vals if tup is not None else self._state(ctx).get("vals", {})
            return vals.get(arg or "")

        def ctx_set(ctx, arg, index, value, op):
            tup = self._tuple_of(ctx)
            vals = tup.vals if tup is not None else self._state(ctx).setdefault("vals", {})
            if value is None:
                vals.pop(arg or "", None)
            else:
                vals[arg or ""] = str(value)

        return {"b2b_logic.key": Handler("b2b_logic.key", key),
                "b2b_logic.scenario": Handler("b2b_logic.scenario", scenario),
                "b2b_logic.entity": Handler("b2b_logic.entity", entity),
                "b2b_logic.ctx": Handler("b2b_logic.ctx", ctx_get, ctx_set)}

    # ================================================================================== MI
    def mi_commands(self) -> dict[str, Callable]:
        from opensips_py.modules.b2b_logic.mi import mi_commands
        return mi_commands(self)
