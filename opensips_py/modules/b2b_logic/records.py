"""The records of b2b_logic: a session (tuple) and the entities it links (records.h)."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

# entity states (B2BL_ENT_*)
ENT_NEW = 0
ENT_EARLY = 1
ENT_CONFIRMED = 2
ENT_CANCELING = 3

# tuple states
INIT_STATE = 0
CANCEL_STATE = -2
BRIDGING_STATE = -3
BRIDGED_STATE = -4
BRIDGING_HOLD_STATE = -5
BRIDGING_INIT_SDP_STATE = -6
BRIDGING_STATES = (BRIDGING_STATE, BRIDGING_HOLD_STATE, BRIDGING_INIT_SDP_STATE)

TOP_HIDING = "top hiding"

SDP_NORMAL = 0
SDP_LATE = 1


@dataclass
class NewEntity:
    """An entity declared by b2b_server_new()/b2b_client_new(), created at init or bridge time."""

    kind: int                       # SERVER / CLIENT (b2b_entities.dialog)
    id: str
    dest_uri: str | None = None
    proxy: str | None = None
    from_dname: str | None = None
    adv_contact: str | None = None
    headers: list[str] = field(default_factory=list)


@dataclass(eq=False)
class Entity:
    """b2bl_entity_id_t: one entity of a session."""

    kind: int
    id: str | None
    dlg: Any = None                 # the b2b_entities dialog; None until a client is contacted
    peer: "Entity | None" = None
    no: int = 0
    state: int = ENT_NEW
    sdp_type: int = SDP_NORMAL
    in_sdp: bytes = b""
    out_sdp: bytes = b""
    disconnected: bool = False
    rejected: bool = False
    dest_uri: str | None = None
    proxy: str | None = None
    from_uri: str | None = None     # server: the caller's From; client: the From we sent (name-addrs)
    to_uri: str | None = None       # client: the To we sent
    from_dname: str | None = None
    adv_contact: str | None = None
    headers: list[str] = field(default_factory=list)
    reply_received: bool = False    # a final reply to the last request passed to it (ENTITY_FL_REPLY_RECEIVED)
    last_rcv_code: int = 0
    term_bye: bool = False          # it sent a BYE while one of its requests was open (ENTITY_FL_TERM_BYE)
    confirmed_once: bool = False    # a 2xx to its INVITE was seen (the session then lives max_duration)

    @property
    def key(self) -> str | None:
        return self.dlg.key if self.dlg is not None else None


_local_index = itertools.count(0)


@dataclass(eq=False)
class Tuple:
    """b2bl_tuple_t: one B2B session."""

    hash_index: int
    scenario: str
    req_route: str | None = None
    reply_route: str | None = None
    id: int = field(default_factory=lambda: next(_local_index))
    servers: list[Entity] = field(default_factory=list)
    clients: list[Entity] = field(default_factory=list)
    bridge_entities: list[Entity | None] = field(default_factory=lambda: [None, None, None])
    state: int = INIT_STATE
    bridge_flags: set[str] = field(default_factory=set)
    bridge_initiator: Entity | None = None
    refer_id: int = 0
    vals: dict[str, str] = field(default_factory=dict)
    to_del: bool = False
    lifetime: float = 0.0           # when the session expires (core clock), 0: never
    explicit_lifetime: int | None = None  # b2b_bridge()'s max_duration=N
    local_contact: str = ""
    late_bye_entity: Entity | None = None
    dropped: list[Entity] = field(default_factory=list)  # unlinked entities whose BYE is still going on
    extra_headers: list[str] = field(default_factory=list)  # passed headers of the initial INVITE

    @property
    def key(self) -> str:
        return f"{self.hash_index}.{self.id}"

    def entities(self) -> list[Entity]:
        return self.servers + self.clients

    def find_by_dlg(self, dlg: Any) -> Entity | None:
        for entity in self.entities():
            if entity.dlg is dlg:
                return entity
        return None

    def find_by_id(self, name: str) -> Entity | None:
        for entity in self.entities():
            if entity.id == name:
                return entity
        return None

    def remove(self, entity: Entity) -> None:
        for group in (self.servers, self.clients):
            if entity in group:
                group.remove(entity)
        for i, e in enumerate(self.bridge_entities):
            if e is entity:
                self.bridge_entities[i] = None
        for e in self.entities():
            if e.peer is entity:
                e.peer = None
