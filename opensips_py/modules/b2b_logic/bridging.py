"""Bridging of b2b_logic (bridging.c): b2b_bridge(), b2b_bridge_retry(), b2b_bridge_request(), the MI
b2b_bridge/b2b_trigger_scenario/b2b_terminate_call actions, and the replies that move a bridge on.

A bridge joins an entity of the session (the *old* one) with a new client: by default with late SDP (an
INVITE without SDP to the new one, its offer in a re-INVITE to the old one, the answer in the ACK), or under
the flags `no-late-sdp`, `hold`, a provisional media server, `notify` and `rollback-failed`. While it runs the
session's `bridge_entities` are [old, new] ([old, media server, new] with provisional media), and the
replies of these entities are handled here instead of being passed across.
"""
from __future__ import annotations

from typing import Any

from opensips_py.modules.b2b_entities.dialog import CLIENT, SERVER
from opensips_py.modules.b2b_logic.helpers import (
    avp_headers, bridge_flags, hold_sdp, max_duration_flag,
)
from opensips_py.modules.b2b_logic.records import (
    BRIDGED_STATE, BRIDGING_HOLD_STATE, BRIDGING_INIT_SDP_STATE, BRIDGING_STATE, BRIDGING_STATES, CANCEL_STATE,
    ENT_CONFIRMED, ENT_NEW, SDP_LATE, SDP_NORMAL, Entity, NewEntity, Tuple,
)
from opensips_py.script.context import MsgContext
from opensips_py.sip import SIPParseError

BRIDGE_FLAGS = ("notify", "rollback-failed", "hold", "no-late-sdp", "propagate-avps", "provmedia-extra-headers")
BRIDGE_RETRY_TIMEOUT = 2.1  # B2BL_BRIDGE_RETRY_TIMEOUT


class Bridging:
    """The bridging part of b2b_logic's Module (a mixin: it uses the session helpers of module.py)."""

    def b2b_bridge(self, ctx: MsgContext, entity1: str, entity2: str, provmedia_uri: str | None = None,
                   flags: str | None = None) -> int:
        route = self._current(ctx, "b2b_bridge")
        if route is None:
            return -1
        tup: Tuple = route["tuple"]
        entity: Entity = route["entity"]
        tup.bridge_flags = bridge_flags(flags)
        unknown = tup.bridge_flags - set(BRIDGE_FLAGS)
        if unknown:
            self._log_error(f"b2b_bridge(): unknown flags {', '.join(sorted(unknown))}")
            return -1
        pending: list[NewEntity] = self._state(ctx).get("new", [])
        if not pending:
            self._log_error("at least one new client entity required for bridging")
            return -1
        old, new1 = self._ent_to_bridge(tup, entity, route.get("peer"), entity1, pending)
        old2, new2 = self._ent_to_bridge(tup, entity, route.get("peer"), entity2, pending)
        if old is None and new1 is None or old2 is None and new2 is None:
            self._log_error(f"failed to get the entities to bridge: {entity1}, {entity2}")
            return -1
        old_entity = old or old2
        new_spec = new2 if old is not None else new1
        if new_spec is None:
            self._log_error("at least one new client entity required for bridging")
            return -1
        try:
            tup.refer_id = ctx.msg.cseq.number
        except (SIPParseError, AttributeError):
            tup.refer_id = 0
        if "notify" in tup.bridge_flags and entity is not None:
            self._send_bridge_notify(tup, entity, None, 0)
        if self._bridge(tup, old_entity, new_spec, provmedia_uri) < 0:
            return -1
        tup.explicit_lifetime = max_duration_flag(flags)
        self._set_lifetime(tup, tup.explicit_lifetime or 0)
        tup.bridge_initiator = entity
        self._state(ctx).pop("new", None)
        return 1

    def _ent_to_bridge(self, tup: Tuple, cur: Entity, peer: Entity | None, name: str,
                       pending: list[NewEntity]) -> tuple[Entity | None, NewEntity | None]:
        if name == "this":
            return cur, None
        if name == "peer":
            return (peer if peer in tup.entities() else None), None
        found = tup.find_by_id(name)
        if found is not None:
            return found, None
        for spec in pending:
            if spec.kind == CLIENT and spec.id == name:
                return None, spec
        return None, None

    @staticmethod
    def _placeholder(spec: NewEntity | None, dest: str | None = None) -> Entity:
        """An entity not contacted yet (b2bl_create_new_entity() without a key)."""
        if spec is None:
            return Entity(CLIENT, None, dest_uri=dest)
        return Entity(CLIENT, spec.id, dest_uri=spec.dest_uri, proxy=spec.proxy, from_dname=spec.from_dname,
                      adv_contact=spec.adv_contact, headers=list(spec.headers))

    def _bridge(self, tup: Tuple, old: Entity, spec: NewEntity, provmedia: str | None) -> int:
        """b2bl_bridge() with an old entity."""
        new = self._placeholder(spec)
        tup.bridge_entities[0] = old
        tup.bridge_entities[2] = None
        if "hold" in tup.bridge_flags:
            hold = hold_sdp(old.out_sdp)
            tup.bridge_entities[1] = new
            if provmedia:
                tup.bridge_entities[2] = new
                tup.bridge_entities[1] = self._placeholder(None, provmedia)
            if hold:
                self._start_old(tup, old, hold)
            tup.state = BRIDGING_HOLD_STATE
            if not hold:
                # already on hold: go on as if the hold re-INVITE was answered
                return self._after_hold(tup, old)
            return 0
        if provmedia:
            tup.bridge_entities[1] = new
            tup.bridge_entities[2] = new
            tup.bridge_entities[1] = self._placeholder(None, provmedia)
            self._start_old(tup, old, None)
            tup.state = BRIDGING_STATE
            return 0
        if "no-late-sdp" in tup.bridge_flags:
            if self._start_new(tup, old, new, old.in_sdp) is None:
                return -1
            tup.state = BRIDGING_INIT_SDP_STATE
            return 0
        if self._start_new(tup, old, new, None) is None:
            return -1
        tup.state = BRIDGING_STATE
        return 0

    def _start_old(self, tup: Tuple, old: Entity, body: bytes | None) -> None:
        """bridging_start_old_ent(): re-INVITE the old entity (without SDP: it makes the offer)."""
        self.ent.send_request(old.dlg, "INVITE", body or b"", "application/sdp" if body else None,
                              list(old.headers))
        old.state = ENT_NEW
        old.sdp_type = SDP_NORMAL if body else SDP_LATE

    def _new_client(self, tup: Tuple, peer: Entity, new: Entity, body: bytes | None) -> Entity | None:
        """bridging_new_client(): INVITE the new entity, From taken from its future peer."""
        if peer.kind == CLIENT:
            from_uri = getattr(peer, "to_uri", None) or f"<{peer.dest_uri}>"
        else:
            from_uri = peer.from_uri or "<sip:anonymous@anonymous.invalid>"
        if new.from_dname:
            uri = from_uri[from_uri.find("<") + 1:from_uri.find(">")] if "<" in from_uri else from_uri
            from_uri = f'"{new.from_dname}" <{uri}>'
        sock = peer.dlg.socket if peer.dlg is not None else None
        entity = self._client_entity(
            None, tup, new.id, req_uri=new.dest_uri, to_uri=f"<{new.dest_uri}>", from_uri=from_uri,
            body=body or b"", content_type="application/sdp" if body else None, cseq=1, dst_uri=new.proxy,
            sock=sock, headers=tup.extra_headers + list(new.headers), adv_contact=new.adv_contact)
        if entity is None:
            return None
        entity.sdp_type = SDP_NORMAL if body else SDP_LATE
        return entity

    def _start_new(self, tup: Tuple, old: Entity, new: Entity, body: bytes | None,
                   replace: bool = False) -> Entity | None:
        """bridging_start_new_ent()."""
        entity = self._new_client(tup, old, new, body)
        if entity is None:
            return None
        if replace:
            tup.remove(new)
        entity.no = 1
        entity.peer = old
        if old.peer is None:
            old.peer = entity
        tup.bridge_entities[1] = entity
        return entity

    def _after_hold(self, tup: Tuple, b0: Entity) -> int:
        b1 = tup.bridge_entities[1]
        renew = "no-late-sdp" in tup.bridge_flags
        if tup.bridge_entities[2] is not None:
            self._start_old(tup, b0, None)
            tup.state = BRIDGING_STATE
        elif renew:
            if self._start_new(tup, b0, b1, b0.in_sdp, replace=True) is None:
                return -1
            tup.state = BRIDGING_INIT_SDP_STATE
        else:
            if self._start_new(tup, b0, b1, None, replace=True) is None:
                return -1
            tup.state = BRIDGING_STATE
        return 0

    def _entity_no(self, tup: Tuple, entity: Entity) -> int:
        for i, e in enumerate(tup.bridge_entities):
            if e is entity:
                return i
        return -1

    def _ack(self, entity: Entity, body: bytes = b"") -> None:
        if entity is not None and entity.dlg is not None:
            self.ent.send_request(entity.dlg, "ACK", body, "application/sdp" if body else None)

    def _bridge_200ok(self, tup: Tuple, entity: Entity, msg: Any, body: bytes) -> int:
        """process_bridge_200OK()."""
        b0, b1 = tup.bridge_entities[0], tup.bridge_entities[1]
        if b0 is None:
            self._mark_todel(tup)
            return -1
        no = self._entity_no(tup, entity)
        if no < 0:
            self._log_error("bridging: a 2xx from an entity not in the bridge")
            return -1
        extra = self._extra_headers(msg) if msg is not None else []
        if tup.state == BRIDGING_HOLD_STATE:
            if no != 0:
                return -1
            b0.state = ENT_CONFIRMED
            self._ack(b0)
            return self._after_hold(tup, b0)
        if tup.state == BRIDGING_INIT_SDP_STATE:
            if no != 1:
                return -1
            b1.state = ENT_CONFIRMED
            self._ack(b1)
            b1.in_sdp = body
            self._start_old(tup, b0, None)
            tup.state = BRIDGING_STATE
            return 0
        if no == 0:
            if b0.sdp_type == SDP_NORMAL:
                # the second 200 OK: the answer goes to the new entity in its ACK
                b0.state = ENT_CONFIRMED
                if b1 is not None and b1.dlg is not None:
                    self.ent.send_request(b1.dlg, "ACK", body, "application/sdp" if body else None, extra)
                self._ack(b0)
                b0.in_sdp = body
                if b1 is not None:
                    b1.out_sdp = body
                    b1.peer, b0.peer = b0, b1
                tup.state = BRIDGED_STATE
                return 0
            # the first 200 OK (the old entity made an offer)
            if b1 is None:
                return -1
            if b1.dlg is not None and b1.state < ENT_CONFIRMED:
                self._log_error("a retransmission of the reply from the first leg")
                return -1
            b0.state = ENT_CONFIRMED
            if b1.kind == CLIENT and b1.dlg is None:
                new = self._new_client(tup, b0, b1, body)
                if new is None:
                    return -1
                tup.remove(b1)
                new.no = 1
                tup.bridge_entities[1] = b1 = new
            else:
                self.ent.send_request(b1.dlg, "INVITE", body, "application/sdp" if body else None, extra)
                b1.sdp_type = SDP_NORMAL
                b1.state = ENT_NEW
            b1.peer, b0.peer = b0, b1
            if tup.bridge_entities[2] is None:
                b0.in_sdp = body
                b1.out_sdp = body
            return 0
        if no == 1:
            if b1.sdp_type == SDP_LATE:
                # the new entity made the offer: re-INVITE the old one with it
                b1.state = ENT_CONFIRMED
                self.ent.send_request(b0.dlg, "INVITE", body, "application/sdp" if body else None,
                                      list(b0.headers))
                b0.state = ENT_NEW
                b0.sdp_type = SDP_NORMAL
                b1.in_sdp = body
                b0.out_sdp = body
                b1.peer, b0.peer = b0, b1
                return 0
            b1.state = ENT_CONFIRMED
            self._ack(b0, body if b0.sdp_type == SDP_LATE else b"")
            self._ack(b1)
            b1.peer, b0.peer = b0, b1
            if tup.bridge_entities[2] is None:
                b1.in_sdp = body
                b0.out_sdp = body
                tup.state = BRIDGED_STATE
                tup.bridge_flags.discard("pending-sdp")
            else:
                send = b0.in_sdp if "no-late-sdp" in tup.bridge_flags else None
                new = self._new_client(tup, b0, tup.bridge_entities[2], send)
                if new is None:
                    return -1
                new.no = 1
                tup.remove(tup.bridge_entities[2])
                tup.bridge_entities[2] = new
            return 0
        # a 2xx from the final destination, after the provisional media
        self._end_dialog(tup, b1)
        b0.sdp_type = SDP_NORMAL
        self.ent.send_request(b0.dlg, "INVITE", body, "application/sdp" if body else None, list(b0.headers))
        b0.state = ENT_NEW
        b0.out_sdp = body
        final = tup.bridge_entities[2]
        tup.bridge_entities[1] = b0
        tup.bridge_entities[0] = final
        tup.bridge_entities[2] = None
        final.peer, b0.peer = b0, final
        return 0

    def _bridge_491(self, tup: Tuple) -> bool:
        """A 491 from the new entity while renewing its SDP: it is very likely re-INVITing itself to lock the
        codecs, so the old entity gets its ACK (with the new one's SDP) and the renegotiation is tried again
        2.1 s later unless an SDP exchange completes meanwhile (b2bl_push_bridge_retry())."""
        b0, b1 = tup.bridge_entities[0], tup.bridge_entities[1]
        if b0 is None or b1 is None or b0.dlg is None:
            return False
        self._ack(b0, b1.in_sdp)
        tup.bridge_flags.add("pending-sdp")
        tup.state = BRIDGED_STATE

        def retry(now: float) -> None:
            if self.tuples.get(tup.key) is not tup or "pending-sdp" not in tup.bridge_flags:
                return
            b0, b1 = tup.bridge_entities[0], tup.bridge_entities[1]
            if b0 is None or b1 is None or b0.dlg is None:
                return
            b1.state = ENT_CONFIRMED
            self._start_old(tup, b0, None)
            tup.state = BRIDGING_STATE
        self.core.add_timer(self.core.now + BRIDGE_RETRY_TIMEOUT, retry)
        return True

    def _bridge_negreply(self, tup: Tuple, entity: Entity) -> int:
        """process_bridge_negreply() + process_bridge_dialog_end(): 1 keeps the session."""
        no = self._entity_no(tup, entity)
        if no < 0:
            self._log_error("bridging: a negative reply from an entity not in the bridge")
            return -1
        if no == 0:
            tup.state = CANCEL_STATE
        return self._bridge_dialog_end(tup, no, entity)

    def _bridge_dialog_end(self, tup: Tuple, no: int, entity: Entity | None) -> int:
        be = tup.bridge_entities
        rollback = "rollback-failed" in tup.bridge_flags
        initiator = tup.bridge_initiator
        if no == 0:
            self._end_dialog(tup, be[1])
            self._end_dialog(tup, be[2])
            self._end_dialog(tup, initiator)
            self._mark_todel(tup)
            return 0
        if no == 1:
            if be[2] is not None:
                # the provisional media server failed: contact the real destination anyway
                self._delete_entity(tup, entity)
                body = be[0].in_sdp if "no-late-sdp" in tup.bridge_flags else None
                new = self._new_client(tup, be[0], be[2], body)
                if new is None:
                    return -1
                new.no = 1
                tup.remove(be[2])
                be[1] = None
                be[2] = new
                return 1
            if rollback and initiator is not None and initiator.peer is not None:
                self._delete_entity(tup, entity)
                be[1] = be[0]
                be[0] = initiator
                be[1].peer, be[0].peer = be[0], be[1]
                tup.state = BRIDGED_STATE
                tup.bridge_initiator = None
                return 1
            self._end_dialog(tup, be[0])
            self._mark_todel(tup)
            return 0
        if no == 2:
            if rollback and initiator is not None and initiator.peer is not None:
                self._delete_entity(tup, entity)
                self._end_dialog(tup, be[1])
                be[2] = None
                be[1] = be[0]
                be[0] = initiator
                be[1].peer, be[0].peer = be[0], be[1]
                self._start_old(tup, be[0], None)
                tup.state = BRIDGING_STATE
                tup.bridge_initiator = None
                return 1
            self._end_dialog(tup, be[0])
            self._end_dialog(tup, be[1])
            self._mark_todel(tup)
            return 0
        self._end_dialog(tup, be[0])
        self._end_dialog(tup, be[1])
        self._end_dialog(tup, be[2])
        self._mark_todel(tup)
        return 0

    def _bridge_bye(self, tup: Tuple, entity: Entity) -> None:
        """process_bridge_bye(): a BYE while bridging."""
        if "rollback-failed" in tup.bridge_flags and tup.bridge_initiator is entity:
            no = 3
        else:
            no = self._entity_no(tup, entity)
        self.ent.send_reply(entity.dlg, "BYE", 200, "OK")
        if no >= 0:
            self._bridge_dialog_end(tup, no, entity)
        if tup.to_del and entity.peer is None:
            self._delete_tuple(tup)

    def _send_bridge_notify(self, tup: Tuple, entity: Entity, msg: Any, code: int) -> None:
        """send_bridge_notify(): RFC 3515 NOTIFY with a message/sipfrag body to the REFER sender."""
        if entity is None or entity.dlg is None:
            return
        event = f"Event: refer;id={tup.refer_id}" if tup.refer_id else "Event: refer"
        if msg is None and code == 0:
            body = b"SIP/2.0 100 Trying"
            state = "active;expires=60"
        else:
            reason = msg.reason if msg is not None else "Request Timeout"
            body = f"SIP/2.0 {code} {reason}".encode("utf-8", "surrogateescape")
            state = "terminated;reason=noresource"
        self.ent.send_request(entity.dlg, "NOTIFY", body, "message/sipfrag",
                              [event, f"Subscription-State: {state}"], no_notify=True)

    def b2b_bridge_retry(self, ctx: MsgContext, new_entity: str) -> int:
        route = self._current(ctx, "b2b_bridge_retry", ("reply",))
        if route is None:
            return -1
        tup: Tuple = route["tuple"]
        entity: Entity = route["entity"]
        if route["method"] != "INVITE" or route["code"] <= 300:
            self._log_error("b2b_bridge_retry() is for negative replies to INVITE")
            return -1
        if entity is not tup.bridge_entities[1]:
            self._log_error("b2b_bridge_retry() is for negative replies of the second entity")
            return -1
        pending: list[NewEntity] = self._state(ctx).get("new", [])
        spec = pending[0] if pending else None
        if spec is None or spec.id != new_entity:
            self._log_error(f"unknown client entity {new_entity}")
            return -1
        if tup.state not in BRIDGING_STATES:
            self._log_error(f"cannot retry the bridge in state {tup.state}")
            return -1
        self._delete_entity(tup, entity)
        if self._start_new(tup, tup.bridge_entities[0], self._placeholder(spec), None) is None:
            return -1
        tup.state = BRIDGING_STATE
        self._state(ctx).pop("new", None)
        return 1

    def b2b_bridge_request(self, ctx: MsgContext, b2bl_key: str, entity_no: int, adv_contact: str | None = None,
                           flags: str | None = None) -> int:
        """b2bl_bridge_msg(): the current initial INVITE becomes a server entity of an existing session and is
        bridged with its entity `entity_no` (re-INVITEd with this INVITE's SDP); the other entity gets a BYE,
        or with `late_bye` only once the new pair is up (old_entity_term_delay seconds after the ACK)."""
        msg = ctx.msg
        if msg is None or not msg.is_request or msg.method != "INVITE":
            self._log_error("b2b_bridge_request() needs an initial INVITE")
            return -1
        tup = self.find_tuple(b2bl_key or "")
        if tup is None:
            self._log_error(f"no session {b2bl_key}")
            return -1
        tup.vals.update(self._state(ctx).pop("vals", {}))
        if entity_no not in (0, 1):
            self._log_error(f"entity_no can only be 0 or 1, got {entity_no}")
            self._mark_todel(tup)
            return -1
        bridging = tup.bridge_entities[entity_no]
        old = tup.bridge_entities[1 - entity_no]
        if bridging is None or bridging.disconnected or old is None or bridging.state != ENT_CONFIRMED:
            self._log_error("cannot bridge the requested entity")
            self._mark_todel(tup)
            return -1
        names = bridge_flags(flags)
        if names - {"late_bye"}:
            self._log_error(f"b2b_bridge_request(): unknown flags {', '.join(sorted(names - {'late_bye'}))}")
            return -1
        late_bye = "late_bye" in names
        if late_bye:
            tup.bridge_flags = {"late_bye"}
            tup.late_bye_entity = old
            old.peer = None
        else:
            tup.bridge_entities[1 - entity_no] = None
            tup.remove(old)
            self._end_dialog(tup, old)
            if old.dlg is not None:
                tup.dropped.append(old)
        sock = ctx.force_socket or (ctx.received.socket if ctx.received else None)
        contact = adv_contact or self._local_contact(sock, msg.to.uri_text, ctx)
        dlg = self.ent.server_new(ctx, contact, tup.key, self._notify)
        if dlg is None:
            self._mark_todel(tup)
            return -1
        body = msg.body or b""
        entity = Entity(SERVER, None, dlg, in_sdp=body, from_uri=self._from_of(ctx), dest_uri=msg.to.uri_text)
        tup.servers.append(entity)
        entity.peer, bridging.peer = bridging, entity
        bridging.no, entity.no = 0, 1
        if body:
            bridging.out_sdp = body
        self.ent.send_request(bridging.dlg, "INVITE" if bridging.state == ENT_CONFIRMED else "UPDATE", body,
                              self._content_type(msg) if body else None, list(bridging.headers))
        bridging.sdp_type = SDP_NORMAL
        bridging.state = ENT_NEW
        tup.bridge_entities[0], tup.bridge_entities[1] = bridging, entity
        tup.explicit_lifetime = None
        self._set_lifetime(tup, self.int_param("max_duration"))
        self._state(ctx)["tuple"] = tup
        return 1

    # ================================================================================== MI actions
    def find_tuple(self, key: str) -> Tuple | None:
        """A session by its b2b_logic key, or by "callid;from-tag;to-tag" of one of its entities."""
        tup = self.tuples.get(key)
        if tup is not None or ";" not in key:
            return tup
        callid, _, tags = key.partition(";")
        ftag, _, ttag = tags.partition(";")
        for tup in self.tuples.values():
            for entity in tup.entities():
                dlg = entity.dlg
                if dlg is not None and dlg.call_id == callid and {ftag, ttag} == {dlg.local_tag, dlg.remote_tag}:
                    return tup
        return None

    def mi_bridge(self, key: str, new_uri: str, entity_no: int, prov_media: str | None) -> int:
        """mi_b2b_bridge()."""
        tup = self.find_tuple(key)
        if tup is None:
            self._log_error(f"no session {key}")
            return -1
        bridging = tup.bridge_entities[entity_no]
        old = tup.bridge_entities[1 - entity_no]
        if bridging is None or bridging.disconnected or old is None:
            self._log_error("cannot bridge the requested entity")
            self._mark_todel(tup)
            return -1
        if bridging.state != ENT_CONFIRMED:
            self._log_error(f"wrong state for entity {bridging.key}")
            self._mark_todel(tup)
            return -1
        if old.disconnected:
            if old.dlg is not None:
                self.ent.send_reply(old.dlg, "BYE", 200, "OK")
        else:
            old.disconnected = True
            if old.dlg is not None:
                self.ent.send_request(old.dlg, "BYE")
        if old.peer is not None and old.peer.peer is old:
            old.peer.peer = None
        old.peer = None
        tup.remove(old)
        if old.dlg is not None:
            tup.dropped.append(old)
        tup.bridge_entities[0] = bridging
        new = self._placeholder(None, new_uri)
        if prov_media:
            tup.bridge_entities[1] = self._placeholder(None, prov_media)
            tup.bridge_entities[2] = new
            bridging.state = ENT_NEW
            bridging.sdp_type = SDP_LATE
            self.ent.send_request(bridging.dlg, "INVITE")
        elif self._start_new(tup, bridging, new, None) is None:
            self._mark_todel(tup)
            return -1
        tup.state = BRIDGING_STATE
        return 0

    def trigger_scenario(self, scenario: str, first: tuple | NewEntity, second: tuple | NewEntity,
                         values: dict[str, str], notify_entity: Entity | None = None) -> Tuple | None:
        """b2bl_init_extern(): a session that calls two new client entities: the first gets an INVITE
        without SDP, its offer goes to the second, the answer back in the first one's ACK. `notify_entity`
        (b2b_trigger_scenario()'s "n"): it gets the RFC 3515 NOTIFYs of the outcome and is kept."""
        tup = self._new_tuple(scenario, self.req_route, self.reply_route)
        tup.vals.update(values)
        specs = [e if isinstance(e, NewEntity) else NewEntity(CLIENT, e[0], dest_uri=e[1], from_dname=e[2])
                 for e in (first, second)]
        p1, p2 = self._placeholder(specs[0]), self._placeholder(specs[1])
        if notify_entity is not None:
            tup.bridge_initiator = notify_entity
            self._send_bridge_notify(tup, notify_entity, None, 0)
        entity = self._new_client(tup, p2, p1, None)
        if entity is None:
            self._delete_tuple(tup)
            return None
        entity.peer = p2
        tup.bridge_entities[0], tup.bridge_entities[1] = entity, p2
        tup.state = BRIDGING_STATE
        tup.bridge_flags = {"no-old-ent"}
        if notify_entity is not None:
            tup.bridge_flags |= {"notify", "keep-initiator"}
        self._set_lifetime(tup, 60)
        return tup

    def b2b_trigger_scenario(self, ctx: MsgContext, scenario: str, params: str | None, peer1: str,
                             extra_headers_peer1=None, extra_headers_contents_peer1=None, peer2: str = "",
                             extra_headers_peer2=None, extra_headers_contents_peer2=None) -> int:
        """script_trigger_scenario(): peers as "id,uri[,proxy[,display name]]"; params "n[,session key[,
        party]]" sends the NOTIFYs to the current entity, or to entity 0/1 of the session named."""
        specs = []
        for text, names, values in ((peer1, extra_headers_peer1, extra_headers_contents_peer1),
                                    (peer2, extra_headers_peer2, extra_headers_contents_peer2)):
            parts = [p.strip() for p in (text or "").split(",")]
            if len(parts) < 2 or not parts[0] or not parts[1]:
                self._log_error(f"b2b_trigger_scenario(): bad entity {text!r} (id,uri[,proxy[,display]])")
                return -1
            specs.append(NewEntity(CLIENT, parts[0], dest_uri=parts[1],
                                   proxy=parts[2] if len(parts) > 2 and parts[2] else None,
                                   from_dname=parts[3] if len(parts) > 3 and parts[3] else None,
                                   headers=avp_headers(ctx, names, values)))
        notify_entity = None
        fields = [p.strip() for p in (params or "").split(",")]
        if fields[0].startswith("n"):
            if len(fields) > 1 and fields[1]:
                other = self.find_tuple(fields[1])
                party = 1 if len(fields) > 2 and fields[2].startswith("1") else 0
                target = other.bridge_entities[party] if other is not None else None
                if target is None or target.disconnected:
                    self._log_error(f"b2b_trigger_scenario(): cannot notify entity {party} of {fields[1]}")
                else:
                    notify_entity = target
            else:
                route = self._route_ctx(ctx)
                notify_entity = route["entity"] if route is not None else None
        return 1 if self.trigger_scenario(scenario, specs[0], specs[1], {}, notify_entity) is not None else -1

    def terminate_call(self, key: str) -> int:
        """b2bl_terminate_call(): BYE (or CANCEL) to every entity, the session deleted later."""
        tup = self.find_tuple(key)
        if tup is None:
            return -1
        for entity in tup.entities():
            self._end_dialog(tup, entity)
        self._mark_todel(tup)
        return 0
