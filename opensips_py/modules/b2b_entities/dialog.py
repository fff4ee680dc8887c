"""One B2B entity: a SIP dialog the B2BUA holds on one side of a call (modules/b2b_entities/dlg.h).

A **server** entity is the UAS of a dialog a peer started (the initial INVITE reached the script): our To-tag
is the entity key. A **client** entity is the UAC of a dialog we started: its Call-ID is the entity key. The
key is `<prefix>.<hash>.<local index>.<time>.<random>` (b2b_generate_key()), so an in-dialog request finds
its entity from the To-tag (server) or the Call-ID (client) before the script runs.
"""
from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Callable

SERVER = 0  # B2B_SERVER
CLIENT = 1  # B2B_CLIENT


class State(IntEnum):
    """b2b_state in dlg.h (the numbers b2be_list prints)."""

    UNDEFINED = 0
    NEW = 1
    NEW_AUTH = 2
    EARLY = 3
    CONFIRMED = 4      # 2xx sent/received, ACK not yet
    ESTABLISHED = 5
    MODIFIED = 6       # a re-INVITE is in progress
    DESTROYED = 7
    TERMINATED = 8


_local_ids = itertools.count(1)


def generate_key(prefix: str, hash_index: int) -> tuple[str, int]:
    """A new entity key and its local index (b2b_generate_key(): prefix.hash.local.timestamp.random)."""
    local = next(_local_ids)
    return f"{prefix}.{hash_index}.{local}.{int(time.time())}.{random.randrange(1 << 31)}", local


def is_key(text: str | None, prefix: str) -> bool:
    """Does `text` have the b2b key shape (b2b_parse_key(): prefix '.' int '.' int '.' …)?"""
    if not text or not text.startswith(prefix + "."):
        return False
    parts = text[len(prefix) + 1:].split(".")
    return len(parts) >= 3 and parts[0].isdigit() and parts[1].isdigit()


@dataclass
class B2BDialog:
    """A b2b_dlg_t: the dialog state of one entity, plus the transactions in progress on it."""

    kind: int                       # SERVER or CLIENT
    key: str
    logic_key: str | None
    notify: Callable[..., Any] | None  # b2b_logic's callback: notify(dialog, kind, message, flags)
    call_id: str
    local_tag: str
    remote_tag: str | None
    local_uri: str                  # our name-addr, without tag ("Alice" <sip:alice@a.example>)
    remote_uri: str
    local_contact: str              # the URI we advertise in Contact
    remote_target: str              # the R-URI of our in-dialog requests
    route_set: list[str] = field(default_factory=list)  # Route values, in the order we send them
    local_cseq: int = 1
    remote_cseq: int = 0
    state: State = State.NEW
    socket: Any = None              # the ListenSocket we talk to the peer from
    next_hop: str | None = None     # outbound proxy of the initial INVITE (client)
    initial_t: Any = None           # tm transaction of the initial INVITE (server: UAS; client: UAC)
    uas_t: Any = None               # the request received on this dialog that we have not answered yet
    uac_t: Any = None               # an INVITE we sent on this dialog, without final reply yet
    update_t: Any = None            # an UPDATE of the peer not answered yet (its own slot, no glare check)
    last_invite_cseq: int = 0       # the CSeq of our last INVITE (its ACK carries it)
    ack: bytes | None = None        # the last ACK we sent for a 2xx (sent again on a 2xx retransmission)
    ack_target: tuple | None = None
    last_invite_reply: int = 0      # the last final status we sent to an INVITE of the peer
    extra_headers: list[str] = field(default_factory=list)
    param: Any = None
    created: float = 0.0

    @property
    def is_server(self) -> bool:
        return self.kind == SERVER

    def from_to(self) -> tuple[str, str]:
        """From and To of a request we send in this dialog."""
        to = self.remote_uri + (f";tag={self.remote_tag}" if self.remote_tag else "")
        return f"{self.local_uri};tag={self.local_tag}", to
