"""Transactions and the table that finds them (OpenSIPS h_table.h, t_lookup.c).

A `Transaction` is OpenSIPS's `struct cell`: the UAS side (the request we received, where replies go, the last
reply sent upstream) and the client branches (`ClientBranch`, OpenSIPS's `struct ua_client`).

Matching (RFC 3261 §17.2.3, §17.1.3), as t_lookup.c does it:
- a request whose top Via branch has the magic cookie matches the transaction whose request had the same
  branch, sent-by host, port and transport; an ACK looks only at INVITEs, a CANCEL never at CANCELs when
  looking for what it cancels, other requests only at their own method. An ACK that does not match that
  way but belongs, dialog-wise (Call-ID, CSeq number, From tag), to an INVITE answered 2xx is an end-to-end
  ACK of that INVITE;
- without the cookie (RFC 2543): Call-ID, CSeq, From, To (URI only for ACK and CANCEL), R-URI and top Via;
- a reply matches by the branch we put in our Via: `z9hG4bK<transaction id>.<branch index>`, and the CSeq
  method (or CANCEL, for the CANCEL we sent on an INVITE branch).
Transactions are kept by (Call-ID, CSeq number), OpenSIPS's hash entry, and by id for replies.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opensips_py.modules.tm.callbacks import CallbackList
from opensips_py.sip import SIPParseError

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.modules.tm.timers import TimerEntry
    from opensips_py.script.context import ListenSocket, ReceiveInfo
    from opensips_py.sip import Request, Response

MAGIC_COOKIE = "z9hG4bK"


class _Faked:
    """The reply of a branch that we made up ourselves (a 408 on timeout, a 487): OpenSIPS's FAKED_REPLY."""

    def __repr__(self) -> str:
        return "FAKED"


FAKED = _Faked()


class KillReason:
    """What the script did with a transaction (t_funcs.h kill_reason), bits of an int (plain ints: enum flags
    cost microseconds on the hot path): none means the script left it alone, and it is released."""

    NONE = 0
    REQ_FWDED = 1
    REQ_RPLD = 2
    REQ_RLSD = 4
    REQ_EXIST = 8


class ClientBranch:
    """One outgoing branch: the request sent, its destination and timers, the last reply it got."""

    __slots__ = ("index", "uri", "dst_uri", "path", "q", "flags", "socket", "proto", "host", "port",
                 "connection_id", "sent", "via_branch", "last_received", "reply", "on_reply", "retr_timer",
                 "retr_list", "fr_timer", "cancel", "cancel_timers", "to_cancel", "has_reply", "avps",
                 "attrs", "added_rr", "phony")

    def __init__(self, index: int, uri: str) -> None:
        self.index = index
        self.uri = uri
        self.dst_uri: str | None = None
        self.path: str | None = None
        self.q: int | None = None
        self.flags: set[str] = set()
        self.socket: ListenSocket | None = None
        self.proto = "udp"
        self.host = ""
        self.port = 0
        self.connection_id: int | None = None
        self.sent: bytes | None = None          # the request as sent (None: this branch never went out)
        self.via_branch = ""
        self.last_received = 0
        self.reply: Response | _Faked | None = None
        self.on_reply: str | None = None        # per-branch onreply_route (t_on_reply in a branch_route)
        self.retr_timer: TimerEntry | None = None
        self.retr_list = 0
        self.fr_timer: TimerEntry | None = None
        self.cancel: bytes | None = None        # the CANCEL we sent (b"" while being decided)
        self.cancel_timers: list[TimerEntry] = []
        self.to_cancel = False                  # CANCEL it as soon as it sends a provisional reply
        self.has_reply = False                  # T_UAC_HAS_RECV_REPLY: a reply came from the network
        self.avps: dict[str, list] = {}         # $bavp
        self.attrs: dict[str, Any] = {}
        self.added_rr = 0
        self.phony = False

    @property
    def is_pending(self) -> bool:
        return self.last_received < 200

    def __repr__(self) -> str:
        return f"<ClientBranch {self.index} {self.uri} last={self.last_received}>"


class Transaction:
    """One transaction (OpenSIPS's `struct cell`). See docs/tm.md for what other modules may read."""

    __slots__ = ("tid", "label", "method", "is_invite", "is_local", "request", "rcv", "hash_key", "via_key",
                 "status", "uas_reply", "uas_dest", "local_to_tag", "relayed_branch", "branches",
                 "first_branch", "was_cancelled", "no_new_branches", "on_failure", "on_reply", "on_branch",
                 "avps", "flags", "fr_timeout", "fr_inv_timeout", "callbacks", "uas_retr_timer",
                 "uas_retr_list", "uas_fr_timer", "wait_timer", "deleted", "lumps", "new_uri", "dst_uri",
                 "path", "ruri_q", "branch_flags", "force_socket", "advertised", "local_rport", "force_rport",
                 "from_line", "to_line", "callid_line", "cseq_number", "extra_hdrs", "cancel_reason",
                 "t_flags", "data", "local_callback", "picked_branch", "created", "uas_ack_seen")

    def __init__(self, tid: str, label: int, method: str) -> None:
        self.tid = tid
        self.label = label
        self.method = method
        self.is_invite = method == "INVITE"
        self.is_local = False
        self.request: Request | None = None
        self.rcv: ReceiveInfo | None = None
        self.hash_key: tuple[str, str] = ("", "")
        self.via_key: tuple | None = None       # (branch after cookie, host, port, transport) of the request
        self.status = 0                         # uas.status: the last status sent upstream
        self.uas_reply: bytes | None = None     # the last reply sent upstream (for retransmission)
        self.uas_dest: tuple | None = None      # (proto, host, port, socket, connection id) of replies
        self.local_to_tag: str | None = None
        self.relayed_branch = -1                # -2: the last reply upstream was our own
        self.branches: list[ClientBranch] = []
        self.first_branch = 0
        self.was_cancelled = False
        self.no_new_branches = False
        self.on_failure: str | None = None
        self.on_reply: str | None = None
        self.on_branch: str | None = None
        self.avps: dict[str, list] = {}
        self.flags: set[str] = set()            # the request's message flags
        self.fr_timeout = 30.0
        self.fr_inv_timeout = 120.0
        self.callbacks: CallbackList | None = None
        self.uas_retr_timer: TimerEntry | None = None
        self.uas_retr_list = 0
        self.uas_fr_timer: TimerEntry | None = None
        self.wait_timer: TimerEntry | None = None
        self.deleted = False
        # the request's routing state as t_relay() saw it in the request route (the "cloned" request)
        self.lumps = None
        self.new_uri: str | None = None
        self.dst_uri: str | None = None
        self.path: str | None = None
        self.ruri_q: int | None = None
        self.branch_flags: set[str] = set()
        self.force_socket: ListenSocket | None = None
        self.advertised: tuple[str | None, int | None] = (None, None)
        self.local_rport = False
        self.force_rport = False
        # header lines for the CANCELs and ACKs we build (OpenSIPS keeps them in the cell)
        self.from_line = ""
        self.to_line = ""
        self.callid_line = ""
        self.cseq_number = ""
        self.extra_hdrs: list[str] = []         # t_add_hdrs()
        self.cancel_reason: str | None = None   # t_add_cancel_reason()
        self.t_flags: set[str] = set()          # t_relay flags kept on the transaction
        self.data: dict[str, Any] = {}
        self.local_callback = None
        self.picked_branch = -1
        self.created = 0.0
        self.uas_ack_seen = False

    @property
    def id(self) -> str:
        """$T_id: OpenSIPS prints "<label>.<hash>" in hex; ours is our id."""
        return self.tid

    def __repr__(self) -> str:
        return f"<Transaction {self.tid} {self.method} status={self.status} branches={len(self.branches)}>"


def via_key_of(msg: "Request") -> tuple | None:
    """The RFC 3261 matching key of a request's top Via: (branch after the cookie, host, port, transport),
    or None when the branch has no magic cookie (RFC 2543 matching then)."""
    via = msg.via1
    if via is None:
        return None
    branch = via.branch
    if not branch or len(branch) <= 7 or not branch.startswith(MAGIC_COOKIE):
        return None
    return (branch[7:], via.host.lower(), via.port, via.transport)


class TransactionTable:
    """Every live transaction, by (Call-ID, CSeq number) and by id."""

    def __init__(self) -> None:
        self.by_hash: dict[tuple[str, str], list[Transaction]] = {}
        self.by_tid: dict[str, Transaction] = {}

    def __len__(self) -> int:
        return len(self.by_tid)

    def insert(self, t: Transaction) -> None:
        self.by_tid[t.tid] = t
        bucket = self.by_hash.get(t.hash_key)
        if bucket is None:
            self.by_hash[t.hash_key] = [t]
        else:
            bucket.append(t)

    def remove(self, t: Transaction) -> None:
        self.by_tid.pop(t.tid, None)
        bucket = self.by_hash.get(t.hash_key)
        if bucket is not None:
            try:
                bucket.remove(t)
            except ValueError:
                pass
            if not bucket:
                del self.by_hash[t.hash_key]

    # ---------------------------------------------------------------------------------- requests
    @staticmethod
    def hash_key(msg: "Request") -> tuple[str, str]:
        cseq = msg.cseq
        return (msg.call_id or "", str(cseq.number) if cseq is not None else "")

    def lookup_request(self, msg: "Request") -> tuple[int, Transaction | None]:
        """t_lookup_request(): (1, t) a transaction of this request (a retransmission, or the INVITE a
        hop-by-hop ACK belongs to); (-2, t) an end-to-end ACK of INVITE t; (-1, None) none."""
        bucket = self.by_hash.get(self.hash_key(msg))
        if not bucket:
            return -1, None
        method = msg.method
        is_ack = method == "ACK"
        key = via_key_of(msg)
        if key is not None:
            e2e = None
            for t in bucket:
                if t.is_local or t.request is None:
                    continue
                if (t.method != "INVITE") if is_ack else (t.method != method):
                    continue
                if is_ack and e2e is None and 200 <= t.status < 300:
                    if _ack_matches(t, msg):
                        e2e = t
                    continue
                if t.via_key == key:
                    return 1, t
            return (-2, e2e) if e2e is not None else (-1, None)
        return self._lookup_2543(bucket, msg, is_ack)

    def _lookup_2543(self, bucket: list[Transaction], msg: "Request", is_ack: bool) -> tuple[int, Transaction | None]:
        method = msg.method
        for t in bucket:
            req = t.request
            if req is None:
                continue
            if not is_ack:
                if t.method != method:
                    continue
                if not (_same(req, msg, "from") and _same(req, msg, "to") and _same(req, msg, "cseq")
                        and req.ruri_text == msg.ruri_text and _same_top_via(req, msg)):
                    continue
                return 1, t
            if t.method != "INVITE" or not (t.status >= 300 or (not t.branches and t.status >= 200)):
                continue
            if not (_same(req, msg, "from") and _to_uri(req) == _to_uri(msg)):
                continue
            if t.status < 300:
                if _to_tag(msg) == t.local_to_tag:
                    return -2, t
                continue
            if req.ruri_text != msg.ruri_text or not _same_top_via(req, msg):
                continue
            return 1, t
        return -1, None

    def lookup_original(self, msg: "Request") -> Transaction | None:
        """t_lookupOriginalT(): the transaction a CANCEL cancels (never a CANCEL transaction)."""
        bucket = self.by_hash.get(self.hash_key(msg))
        if not bucket:
            return None
        key = via_key_of(msg)
        for t in bucket:
            if t.is_local or t.request is None or t.method == "CANCEL":
                continue
            if key is not None:
                if t.via_key == key:
                    return t
                continue
            req = t.request
            if _same(req, msg, "from") and _to_uri(req) == _to_uri(msg) and req.ruri_text == msg.ruri_text \
                    and _same_top_via(req, msg):
                return t
        return None

    # ---------------------------------------------------------------------------------- replies
    def match_reply(self, reply: "Response") -> tuple[Transaction | None, int]:
        """t_reply_matching(): (t, branch index) by our Via branch and the CSeq method, or (None, -1)."""
        via = reply.via1
        branch = via.branch if via is not None else None
        if not branch or not branch.startswith(MAGIC_COOKIE):
            return None, -1
        tid, dot, index_text = branch[7:].rpartition(".")
        if not dot:
            return None, -1
        t = self.by_tid.get(tid)
        if t is None or not index_text.isdigit():
            return None, -1
        index = int(index_text)
        if index >= len(t.branches):
            return None, -1
        cseq = reply.cseq
        method = cseq.method if cseq is not None else ""
        if method != t.method and not (method == "CANCEL" and t.is_invite and t.branches[index].cancel is not None):
            return None, -1
        return t, index


def _ack_matches(t: Transaction, ack: "Request") -> bool:
    """ack_matching(): Call-ID and CSeq number are equal by the bucket; the From tag must be too. A proxied
    INVITE takes any To-tag (each 2xx may have its own); one we answered ourselves needs ours."""
    try:
        ours = t.request.from_
        theirs = ack.from_
    except SIPParseError:
        return False
    if ours is None or theirs is None or ours.tag != theirs.tag:
        return False
    if t.relayed_branch != -2:
        return True
    return _to_tag(ack) == t.local_to_tag


def _same(a: "Request", b: "Request", name: str) -> bool:
    return (a.header(name) or "") == (b.header(name) or "")


def _same_top_via(a: "Request", b: "Request") -> bool:
    va, vb = a.header_values("via"), b.header_values("via")
    return (va[0].split(",")[0].strip() if va else "") == (vb[0].split(",")[0].strip() if vb else "")


def _to_uri(msg: "Request") -> str:
    try:
        to = msg.to
    except SIPParseError:
        return ""
    return to.uri_text if to is not None else ""


def _to_tag(msg: "Request") -> str | None:
    try:
        to = msg.to
    except SIPParseError:
        return None
    return to.tag if to is not None else None


__all__ = ["Transaction", "ClientBranch", "TransactionTable", "FAKED", "KillReason", "MAGIC_COOKIE",
           "via_key_of"]
