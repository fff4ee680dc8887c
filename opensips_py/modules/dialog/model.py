"""The dialog model: states, the transition table, legs, dialogs and the table that finds them.

Theory of operation (OpenSIPS's dlg_hash.c, our shapes):

- A `Dialog` is one INVITE dialog as a proxy sees it: the caller leg (index 0) and the callee legs (1…), one
  per answered branch/To-tag. Leg fields are the ones OpenSIPS keeps (`struct dlg_leg`): the tag, the
  Contact (remote target), the route set towards that leg, the CSeq of the last request sent *to* that leg
  (`r_cseq`, what a BYE we generate must exceed), the socket the leg talks to.
- States are OpenSIPS's numbers (what `$DLG_status` and MI print): 1 unconfirmed, 2 early, 3 confirmed but
  not ACKed, 4 confirmed, 5 deleted. `next_state()` is the whole state machine as a table of
  (state, event) -> state, plus the two conditions OpenSIPS attaches to a BYE (it must come on the leg that
  sent the 2xx; an early BYE from the callee only marks the dialog).
- `DialogTable` numbers dialogs as OpenSIPS does: `h_entry` from a hash of the Call-ID, `h_id` from a
  counter per entry; the dialog id (`$DLG_did`, MI `ID`, the `did` Record-Route parameter) is
  "<h_entry hex>.<h_id hex>" and the database id is h_entry << 32 | h_id.

Everything here is plain data and pure functions: no timers, no SIP sending (module.py does that).
"""
from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.script.context import ListenSocket, Value

# ------------------------------------------------------------------------------------------------ states, events

UNCONFIRMED, EARLY, CONFIRMED_NA, CONFIRMED, DELETED = 1, 2, 3, 4, 5
STATE_NAMES = {UNCONFIRMED: "unconfirmed", EARLY: "early", CONFIRMED_NA: "confirmed_not_acked",
               CONFIRMED: "confirmed", DELETED: "deleted"}

EV_TDEL, EV_RPL1XX, EV_RPL2XX, EV_RPL3XX, EV_REQPRACK, EV_REQACK, EV_REQBYE, EV_REQ = 1, 2, 3, 4, 5, 6, 7, 8

DIR_NONE, DIR_DOWNSTREAM, DIR_UPSTREAM = 0, 1, 2
CALLER_LEG = 0

# dialog (module) flags, dlg_hash.h
FLAG_NEW = 1 << 0
FLAG_CHANGED = 1 << 1
FLAG_HASBYE = 1 << 2
FLAG_BYEONTIMEOUT = 1 << 3
FLAG_ISINIT = 1 << 4
FLAG_PING_CALLER = 1 << 5
FLAG_PING_CALLEE = 1 << 6
FLAG_FROM_DB = 1 << 7
FLAG_VP_CHANGED = 1 << 8
FLAG_DB_DELETED = 1 << 9
FLAG_CSEQ_ENFORCE = 1 << 10  # set by uac_auth(): the legs' CSeqs are ours to keep (last_gen_cseq from the 2xx)
FLAG_REINVITE_PING_CALLER = 1 << 11
FLAG_REINVITE_PING_CALLEE = 1 << 12
FLAG_END_ON_RACE_CONDITION = 1 << 15
FLAG_WAS_CANCELLED = 1 << 16
FLAG_RACE_CONDITION_OCCURRED = 1 << 17
FLAG_AUTOPRACK = 1 << 20

# create_dialog() flags: 3.x letters, 4.0 names (dlg_hash.h parse_create_dlg_flags / 4.0's flag list)
CREATE_FLAG_LETTERS = {
    "B": FLAG_BYEONTIMEOUT, "P": FLAG_PING_CALLER, "p": FLAG_PING_CALLEE, "R": FLAG_REINVITE_PING_CALLER,
    "r": FLAG_REINVITE_PING_CALLEE, "E": FLAG_END_ON_RACE_CONDITION,
}
CREATE_FLAG_NAMES = {
    "bye-on-timeout": FLAG_BYEONTIMEOUT, "options-ping-caller": FLAG_PING_CALLER,
    "options-ping-callee": FLAG_PING_CALLEE, "reinvite-ping-caller": FLAG_REINVITE_PING_CALLER,
    "reinvite-ping-callee": FLAG_REINVITE_PING_CALLEE, "end-on-race-condition": FLAG_END_ON_RACE_CONDITION,
    "auto-prack": FLAG_AUTOPRACK,  # 4.0: we PRACK reliable provisional replies on the caller's behalf
}
SCRIPT_SETTABLE = (FLAG_PING_CALLER | FLAG_PING_CALLEE | FLAG_BYEONTIMEOUT | FLAG_REINVITE_PING_CALLER
                   | FLAG_REINVITE_PING_CALLEE | FLAG_AUTOPRACK)

# ping state of a leg (dlg_timer.h)
PING_SUCCESS, PING_PENDING, PING_FAIL = 0, 1, 2


def parse_create_flags(text: str | None) -> int:
    """create_dialog()'s flag string: a comma list of 4.0 names when it reads as one (an unknown name is an
    error: ValueError), else 3.x letters where unknown letters are skipped (as OpenSIPS 3.x does)."""
    if not text:
        return 0
    words = [w.strip() for w in text.split(",") if w.strip()]
    if "," in text or any(len(w) > 1 and "-" in w for w in words):
        flags = 0
        for word in words:
            if word.lower() not in CREATE_FLAG_NAMES:
                raise ValueError(f"unknown create_dialog flag {word!r}")
            flags |= CREATE_FLAG_NAMES[word.lower()]
        return flags
    flags = 0
    for letter in text:
        flags |= CREATE_FLAG_LETTERS.get(letter, 0)
    return flags


def exclusive_pings(flags: int) -> int:
    """Both ping kinds on one leg: re-INVITE wins (dialog.c w_create_dialog)."""
    if flags & FLAG_PING_CALLER and flags & FLAG_REINVITE_PING_CALLER:
        flags &= ~FLAG_PING_CALLER
    if flags & FLAG_PING_CALLEE and flags & FLAG_REINVITE_PING_CALLEE:
        flags &= ~FLAG_PING_CALLEE
    return flags


# The transition table (dlg_hash.c next_state_dlg): (event, state) -> new state. Pairs not listed leave the
# state as it is (OpenSIPS logs them as bogus events).
_TABLE: dict[tuple[int, int], int] = {
    (EV_TDEL, UNCONFIRMED): DELETED, (EV_TDEL, EARLY): DELETED,
    (EV_RPL1XX, UNCONFIRMED): EARLY, (EV_RPL1XX, EARLY): EARLY,
    (EV_RPL3XX, UNCONFIRMED): DELETED, (EV_RPL3XX, EARLY): DELETED,
    (EV_RPL2XX, UNCONFIRMED): CONFIRMED_NA, (EV_RPL2XX, EARLY): CONFIRMED_NA,
    (EV_RPL2XX, DELETED): CONFIRMED_NA,  # a 2xx racing a negative reply revives the dialog (not after a BYE)
    (EV_REQACK, CONFIRMED_NA): CONFIRMED,
    (EV_REQBYE, CONFIRMED_NA): DELETED, (EV_REQBYE, CONFIRMED): DELETED,
}


def next_state(dialog: "Dialog", event: int, direction: int, dst_leg: int) -> tuple[int, int]:
    """Run one event through the state machine; returns (old state, new state) and updates the dialog."""
    old = dialog.state
    new = _TABLE.get((event, old), old)
    if event == EV_RPL2XX and old == DELETED and dialog.flags & FLAG_HASBYE:
        new = old
    elif event == EV_REQBYE:
        if old in (CONFIRMED_NA, CONFIRMED):
            # to end the call, a BYE going downstream must go to the leg that sent the 2xx
            if direction == DIR_DOWNSTREAM and dst_leg != dialog.legs_200ok:
                new = old
            else:
                dialog.flags |= FLAG_HASBYE
        elif old in (UNCONFIRMED, EARLY) and dst_leg != CALLER_LEG:
            dialog.flags |= FLAG_HASBYE  # an early BYE from the caller is only noted
    dialog.state = new
    return old, new


# ------------------------------------------------------------------------------------------------ legs, dialogs

class Leg:
    """One side of the dialog (OpenSIPS struct dlg_leg)."""

    __slots__ = ("tag", "contact", "route_set", "r_cseq", "prev_cseq", "inv_cseq", "last_gen_cseq", "ack_cseq",
                 "socket", "branch", "in_sdp", "out_sdp", "ping", "reinvite_ping")

    def __init__(self, tag: str = "", contact: str = "", route_set: str = "", r_cseq: str = "0",
                 socket: "ListenSocket | None" = None, branch: int = -1) -> None:
        self.tag = tag
        self.contact = contact
        self.route_set = route_set  # the Route URIs towards this leg, "<uri>, <uri>" as OpenSIPS prints them
        self.r_cseq = r_cseq  # CSeq of the last request sent to this leg
        self.prev_cseq: str | None = None
        self.inv_cseq: str | None = None  # caller leg: the CSeq of the INVITE
        self.last_gen_cseq = 0  # CSeq we generated towards this leg (pings), 0 = none yet
        # (CSeq of the last INVITE towards this leg as received, as sent) when they differ: its ACK is
        # renumbered the same way (OpenSIPS's cseq_maps)
        self.ack_cseq: tuple[int, int] | None = None
        self.socket = socket
        self.branch = branch
        self.in_sdp: bytes | None = None  # the SDP this leg sent
        self.out_sdp: bytes | None = None  # the SDP sent to this leg
        self.ping = PING_SUCCESS
        self.reinvite_ping = PING_SUCCESS

    @property
    def route_uris(self) -> list[str]:
        return [part.strip().strip("<>") for part in self.route_set.split(",")] if self.route_set else []


class Dialog:
    """One dialog. Fields are OpenSIPS's struct dlg_cell's, kept small (10,000 of them must fit in 60 MB)."""

    __slots__ = ("h_entry", "h_id", "state", "callid", "from_uri", "to_uri", "legs", "legs_200ok", "flags",
                 "user_flags", "start_ts", "lifetime", "timeout_tick", "vals", "profiles", "end_reason",
                 "rt_on_answer", "rt_on_timeout", "rt_on_hangup", "from_rr_nb", "transaction", "del_delay",
                 "sharing_tag", "__weakref__")

    def __init__(self, h_entry: int, h_id: int, callid: str, from_uri: str, to_uri: str) -> None:
        self.h_entry = h_entry
        self.h_id = h_id
        self.state = UNCONFIRMED
        self.callid = callid
        self.from_uri = from_uri
        self.to_uri = to_uri
        self.legs: list[Leg] = []
        self.legs_200ok = 0
        self.flags = 0
        self.user_flags = 0
        self.start_ts = 0
        self.lifetime = 0
        self.timeout_tick: int | None = None  # the timer tick at which the lifetime ends (None: not timing)
        self.vals: dict[str, "Value"] | None = None
        self.profiles: list[tuple[str, str | None]] | None = None
        self.end_reason: str | None = None
        self.rt_on_answer: str | None = None
        self.rt_on_timeout: str | None = None
        self.rt_on_hangup: str | None = None
        self.from_rr_nb = 0
        self.transaction = None  # the initial INVITE transaction (MI end of an early dialog cancels it)
        self.del_delay = 0
        self.sharing_tag: str | None = None

    @property
    def did(self) -> str:
        return f"{self.h_entry:x}.{self.h_id:x}"

    @property
    def db_id(self) -> int:
        return (self.h_entry << 32) + self.h_id

    @property
    def caller(self) -> Leg:
        return self.legs[CALLER_LEG]

    @property
    def callee_index(self) -> int:
        """The callee leg that matters: the one that sent the 2xx, else the last one (callee_idx())."""
        if self.legs_200ok:
            return self.legs_200ok
        return len(self.legs) - 1 if len(self.legs) > 1 else CALLER_LEG

    @property
    def callee(self) -> Leg | None:
        index = self.callee_index
        return self.legs[index] if index else None

    def other_leg(self, leg: int) -> int:
        return self.callee_index if leg == CALLER_LEG else CALLER_LEG

    def match(self, callid: str, from_tag: str, to_tag: str) -> tuple[int, int] | None:
        """(direction, destination leg) when a request with these identifiers belongs to this dialog
        (dlg_hash.h match_dialog): From-tag = caller's tag is downstream, To-tag = caller's tag upstream;
        the other tag must be one of the callee legs' tags (or empty while no callee leg exists)."""
        if callid != self.callid or not self.legs:
            return None
        caller_tag = self.legs[CALLER_LEG].tag
        if from_tag == caller_tag:
            direction, tag, dst = DIR_DOWNSTREAM, to_tag, -1
        elif to_tag == caller_tag:
            direction, tag, dst = DIR_UPSTREAM, from_tag, CALLER_LEG
        else:
            return None
        if len(self.legs) > 1:
            for index in range(1, len(self.legs)):
                if self.legs[index].tag == tag:
                    return direction, (index if dst == -1 else dst)
            return None
        return (direction, dst) if not tag else None


# ------------------------------------------------------------------------------------------------ the table

def parse_did(text: str) -> tuple[int, int] | None:
    """"<hex>.<hex>" -> (h_entry, h_id); None when malformed (dlg_handlers.c parse_dlg_did)."""
    entry, dot, ident = text.partition(".")
    if not dot:
        return None
    try:
        return int(entry, 16), int(ident, 16)
    except ValueError:
        return None


class DialogTable:
    """Every dialog of the process, by (h_entry, h_id) and by Call-ID."""

    def __init__(self, size: int = 4096) -> None:
        self.size = max(1, size)
        self._by_id: dict[tuple[int, int], Dialog] = {}
        self._by_callid: dict[str, list[Dialog]] = {}
        self._next_id: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Dialog]:
        """In (h_entry, h_id) order, as OpenSIPS walks its hash table for MI listings."""
        return iter(sorted(self._by_id.values(), key=lambda d: (d.h_entry, d.h_id)))

    def entry_of(self, callid: str) -> int:
        return zlib.crc32(callid.encode("utf-8", "surrogateescape")) % self.size

    def create(self, callid: str, from_uri: str, to_uri: str) -> Dialog:
        h_entry = self.entry_of(callid)
        h_id = self._next_id.get(h_entry, 0) + 1
        self._next_id[h_entry] = h_id
        dialog = Dialog(h_entry, h_id, callid, from_uri, to_uri)
        self.add(dialog)
        return dialog

    def add(self, dialog: Dialog) -> None:
        """Link a dialog (new, or restored from the database with its own ids)."""
        self._by_id[(dialog.h_entry, dialog.h_id)] = dialog
        self._by_callid.setdefault(dialog.callid, []).append(dialog)
        if dialog.h_id > self._next_id.get(dialog.h_entry, 0):
            self._next_id[dialog.h_entry] = dialog.h_id

    def remove(self, dialog: Dialog) -> None:
        if self._by_id.pop((dialog.h_entry, dialog.h_id), None) is None:
            return
        same = self._by_callid.get(dialog.callid)
        if same is not None:
            try:
                same.remove(dialog)
            except ValueError:
                pass
            if not same:
                del self._by_callid[dialog.callid]

    def lookup(self, h_entry: int, h_id: int) -> Dialog | None:
        return self._by_id.get((h_entry, h_id))

    def by_did(self, did: str) -> Dialog | None:
        ids = parse_did(did)
        return self.lookup(*ids) if ids is not None else None

    def by_callid(self, callid: str) -> list[Dialog]:
        return list(self._by_callid.get(callid, ()))

    def find(self, callid: str, from_tag: str, to_tag: str) -> tuple[Dialog, int, int] | None:
        """SIP-wise matching (get_dlg): the dialog, the direction and the destination leg."""
        for dialog in self._by_callid.get(callid, ()):
            found = dialog.match(callid, from_tag, to_tag)
            if found is not None:
                return dialog, found[0], found[1]
        return None

    def by_dialog_id(self, text: str) -> Dialog | None:
        """MI's dialog_id: a numeric database id, a DID, or a Call-ID (get_dlg_by_dialog_id)."""
        if text.isdigit():
            number = int(text)
            found = self.lookup(number >> 32, number & 0xFFFFFFFF)
            if found is not None:
                return found
        found = self.by_did(text) if "." in text else None
        if found is not None:
            return found
        same = self._by_callid.get(text)
        return same[0] if same else None
