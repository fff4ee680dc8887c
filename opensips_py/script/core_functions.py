"""The core functions of the script language that need no network (core_cmds.c, action.c, dset.c).

One method per core function, named like it, bound by the compiler through `opensips_py.modules.core.EXPORTS`.
forward() and send() are not here: they need the runtime, which provides them.

Where the state lives (what the runtime reads when it builds a request, a Via or a reply):

- R-URI: `ctx.new_uri` (None = the received one). Part rewrites (sethost(), strip()…) rebuild the current R-URI
  with `URI.replace`, as OpenSIPS's rewrite_ruri() does (parser/msg_parser.c); sethost()/sethostport() drop
  a `maddr` parameter like it.
- `$du`: `ctx.dst_uri`; the R-URI branch's q, path, socket and flags: `ctx.ruri_q`, `ctx.path`,
  `ctx.force_socket`, `ctx.branch_flags`; additional branches: `ctx.branches` (index 0 = the first added).
- `ctx.module_state["core"]`, a dict with these keys (absent = not asked for):
    "force_rport": True         force_rport() / set_via_handling("force-rport"): reply to the source port
                                 as if the top Via had `;rport` (RFC 3581).
    "add_local_rport": True     add_local_rport() / set_via_handling("add-local-rport"): put `;rport` in the
                                 Via we insert.
    "reply_to_via": True        set_via_handling("reply-to-via"): send replies to the Via sent-by.
    "tcp_alias_port": int       force_tcp_alias([port]) on a TCP-family message: reuse this connection for
                                 requests to the sender at that port (RFC 5923).
    "advertised_address": str   set_advertised_address(): host written in our Via/Record-Route instead of
                                 the socket's.
    "advertised_port": str      set_advertised_port(): port written there.
- serialize_branches() keeps its queue where OpenSIPS does, in the AVP `$avp(serial_branch)` (newest first, one
  JSON object per contact), so it follows the transaction into failure_route like any AVP.

The proxy core, when present (`ctx.process.core`), is read for `sockets` (ListenSocket list) and `aliases`
((proto, host, port) tuples, None for what `alias=` leaves out, or "[proto:]host[:port]" strings) by
is_myself() and force_send_socket().
"""
from __future__ import annotations

import ipaddress
import json
import re

from opensips_py.modules import core as core_exports
from opensips_py.modules.base import ModuleBase
from opensips_py.modules.exports import RouteType
from opensips_py.script.context import Branch, ListenSocket, MsgContext, ScriptError, Value
from opensips_py.sip import SIPParseError, URI

MAX_BRANCHES = 12  # config.h: the R-URI branch plus 11 added ones
SERIAL_AVP = "serial_branch"  # serialize.c SERIAL_AVP_ALIAS
_Q_RE = re.compile(r"(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)")
_PROTOS = ("udp", "tcp", "tls", "sctp", "ws", "wss", "hep_udp", "hep_tcp", "bin", "bins", "smpp", "msrp", "msrps")
_DEFAULT_PORT = 5060
VIA_HANDLING_KEYS = {"force-rport": "force_rport", "add-local-rport": "add_local_rport",
                     "reply-to-via": "reply_to_via"}


# ------------------------------------------------------------------------------------------------ R-URI rewriting

def current_ruri(ctx: MsgContext) -> URI | None:
    """The current R-URI parsed (new_uri or the received one), None when there is none or it is malformed."""
    text = ctx.ruri()
    if not text:
        return None
    try:
        return URI(text)
    except SIPParseError:
        return None


def rewrite_ruri(ctx: MsgContext, *, user: object = URI._KEEP, password: object = URI._KEEP,
                 host: str | None = None, port: object = URI._KEEP, drop_maddr: bool = False) -> int:
    """Rebuild the current R-URI with some parts changed into ctx.new_uri; 1, or -1 when either URI is bad.

    An empty user drops the userinfo, an empty port drops the port (rewrite_ruri() skips empty parts)."""
    uri = current_ruri(ctx)
    if uri is None or (not uri.is_sip and uri.scheme != "tel"):
        return -1
    if user is not URI._KEEP and not user:
        user = None
    if port is not URI._KEEP and port in ("", None):
        port = None
    try:
        if drop_maddr and "maddr" in uri.params:
            uri = uri.without_params("maddr")
        ctx.new_uri = uri.replace(user=user, password=password, host=host, port=port).raw
    except (SIPParseError, ValueError):
        return -1
    return 1


def parse_q(text: str | None) -> int | None:
    """A q value as text ("0.5") -> q*1000 (qvalue.c str2q); None for unset. Raises ScriptError when bad."""
    if text is None or text == "":
        return None
    if not _Q_RE.fullmatch(text.strip()):
        raise ScriptError(f"bad q value {text!r}")
    return round(float(text) * 1000)


# ------------------------------------------------------------------------------------------------ sockets

def split_socket(text: str) -> tuple[str | None, str, int | None]:
    """"[proto:]host[:port]" -> (proto, host, port) (socket_info.c parse_phostport)."""
    proto = None
    rest = text.strip()
    head, colon, tail = rest.partition(":")
    if colon and head.lower() in _PROTOS:
        proto, rest = head.lower(), tail
    port = None
    if rest.startswith("["):
        close = rest.find("]")
        host, after = rest[:close + 1], rest[close + 1:]
        if after.startswith(":") and after[1:].isdigit():
            port = int(after[1:])
    else:
        host, colon, digits = rest.rpartition(":")
        if not colon or not digits.isdigit() or ":" in host:
            host = rest
        else:
            port = int(digits)
    return proto, host, port


def _same_host(a: str, b: str | None) -> bool:
    if not b:
        return False
    a, b = a.strip("[]"), b.strip("[]")
    if a.lower() == b.lower():
        return True
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False


def _sockets(ctx: MsgContext) -> list[ListenSocket]:
    sockets = list(getattr(ctx.process.core, "sockets", None) or ())
    if not sockets and ctx.received is not None:
        sockets = [ctx.received.socket]
    return sockets


# ------------------------------------------------------------------------------------------------ the functions

class CoreFunctions(ModuleBase):
    """The network-free core functions (opensips-core.md §6). Return codes as core_cmds.c."""

    exports = core_exports.EXPORTS

    # -- message and branch flags (flags.c, dset.c) ---------------------------------------------------------------
    def setflag(self, ctx: MsgContext, flag: str) -> int:
        ctx.flags.add(flag)
        return 1

    def resetflag(self, ctx: MsgContext, flag: str) -> int:
        ctx.flags.discard(flag)
        return 1

    def isflagset(self, ctx: MsgContext, flag: str) -> int:
        return 1 if flag in ctx.flags else -1

    @staticmethod
    def _branch_flags(ctx: MsgContext, index: int | None) -> set[str] | None:
        """Branch 0 is the R-URI branch; n is the n-th added branch (dset.c get_ptr_bflags)."""
        if not index:
            return ctx.branch_flags
        if 0 < index <= len(ctx.branches):
            return ctx.branches[index - 1].flags
        return None

    def setbflag(self, ctx: MsgContext, flag: str, branch_idx: int | None = None) -> int:
        flags = self._branch_flags(ctx, branch_idx)
        if flags is None:
            return -1
        flags.add(flag)
        return 1

    def resetbflag(self, ctx: MsgContext, flag: str, branch_idx: int | None = None) -> int:
        flags = self._branch_flags(ctx, branch_idx)
        if flags is None:
            return -1
        flags.discard(flag)
        return 1

    def isbflagset(self, ctx: MsgContext, flag: str, branch_idx: int | None = None) -> int:
        flags = self._branch_flags(ctx, branch_idx)
        return 1 if flags is not None and flag in flags else -1

    # -- R-URI --------------------------------------------------------------------------------------------------
    def seturi(self, ctx: MsgContext, uri: str) -> int:
        ctx.new_uri = uri
        return 1

    def sethost(self, ctx: MsgContext, host: str) -> int:
        return rewrite_ruri(ctx, host=host, drop_maddr=True)

    def sethostport(self, ctx: MsgContext, hostport: str) -> int:
        return rewrite_ruri(ctx, host=hostport, port=None, drop_maddr=True)

    def setuser(self, ctx: MsgContext, user: str) -> int:
        return rewrite_ruri(ctx, user=user)

    def setuserpass(self, ctx: MsgContext, password: str) -> int:
        """The whole userinfo ("user:password") replaces user and password (RW_RURI_USERPASS)."""
        return rewrite_ruri(ctx, user=password, password=None)

    def setport(self, ctx: MsgContext, port: str) -> int:
        return rewrite_ruri(ctx, port=port)

    def prefix(self, ctx: MsgContext, prefix: str) -> int:
        uri = current_ruri(ctx)
        if uri is None:
            return -1
        return rewrite_ruri(ctx, user=prefix + (uri.user or ""))

    def strip(self, ctx: MsgContext, count: int) -> int:
        uri = current_ruri(ctx)
        if uri is None:
            return -1
        return rewrite_ruri(ctx, user=(uri.user or "")[max(count, 0):])

    def strip_tail(self, ctx: MsgContext, count: int) -> int:
        uri = current_ruri(ctx)
        if uri is None:
            return -1
        user = uri.user or ""
        return rewrite_ruri(ctx, user=user[:max(len(user) - max(count, 0), 0)])

    def revert_uri(self, ctx: MsgContext) -> int:
        ctx.new_uri = None
        return 1

    # -- destination URI ------------------------------------------------------------------------------------------
    def setdsturi(self, ctx: MsgContext, uri: str) -> int:
        ctx.dst_uri = uri
        return 1

    def resetdsturi(self, ctx: MsgContext) -> int:
        ctx.dst_uri = None
        return 1

    def isdsturiset(self, ctx: MsgContext) -> int:
        return 1 if ctx.dst_uri else -1

    # -- branches (dset.c, core_cmds.c) -----------------------------------------------------------------------
    @staticmethod
    def _append(ctx: MsgContext, branch: Branch) -> int:
        if len(ctx.branches) >= MAX_BRANCHES - 1:
            ctx.log(-1, "max nr of branches exceeded")
            return -1
        ctx.branches.append(branch)
        return 1

    def append_branch(self, ctx: MsgContext, uri: str | None = None, q: str | None = None) -> int:
        """Without a URI, the R-URI branch moves into a new branch: its $du, path, q, socket and flags go
        with it and are reset on the message. With a URI, those are copied, q is the given one."""
        qvalue = parse_q(q)
        if not uri:
            branch = Branch(ctx.ruri(), ctx.dst_uri, ctx.path, qvalue if qvalue is not None else ctx.ruri_q,
                            set(ctx.branch_flags), ctx.force_socket)
            rc = self._append(ctx, branch)
            ctx.force_socket = None
            ctx.branch_flags = set()
            ctx.ruri_q = None
            ctx.dst_uri = None
            ctx.path = None
            return rc
        return self._append(ctx, Branch(uri, ctx.dst_uri, ctx.path, qvalue, set(ctx.branch_flags),
                                        ctx.force_socket))

    append_branch_old = append_branch

    def append_msg_branch(self, ctx: MsgContext, uri: str, q: str | None = None, flags: str | None = None) -> int:
        if not uri:
            return -1
        qvalue = parse_q(q)
        if flags and "inherite" in (f.strip().lower() for f in flags.split(",")):
            return self._append(ctx, Branch(uri, ctx.dst_uri, ctx.path,
                                            qvalue if qvalue is not None else ctx.ruri_q,
                                            set(ctx.branch_flags), ctx.force_socket))
        return self._append(ctx, Branch(uri, q=qvalue))

    def remove_branch(self, ctx: MsgContext, branch_idx: int) -> int:
        if 0 <= branch_idx < len(ctx.branches):
            del ctx.branches[branch_idx]
            return 1
        return -1

    remove_msg_branch = remove_branch

    @staticmethod
    def _ruri_branch(ctx: MsgContext) -> Branch:
        return Branch(ctx.ruri(), ctx.dst_uri, ctx.path, ctx.ruri_q, set(ctx.branch_flags), ctx.force_socket)

    @staticmethod
    def _load_ruri_branch(ctx: MsgContext, branch: Branch) -> None:
        ctx.new_uri = branch.uri
        ctx.dst_uri = branch.dst_uri
        ctx.path = branch.path
        ctx.ruri_q = branch.q
        ctx.force_socket = branch.socket
        ctx.branch_flags = set(branch.flags)

    def move_msg_branch(self, ctx: MsgContext, src_idx: int | None = None, dst_idx: int | None = None,
                        keep: str | None = None) -> int:
        """Copy branch src over dst (-1 or omitted = the R-URI branch); the source goes unless "keep".
        As dset.c: a source at index 0 is never removed (it checks src_idx > 0)."""
        src = -1 if src_idx is None or src_idx < 0 else src_idx
        dst = -1 if dst_idx is None or dst_idx < 0 else dst_idx
        if src == dst:
            return 1
        if src >= len(ctx.branches) or dst >= len(ctx.branches) or not ctx.branches:
            return -1
        if dst >= 0:
            source = ctx.branches[src] if src >= 0 else self._ruri_branch(ctx)
            ctx.branches[dst] = Branch(source.uri, source.dst_uri, source.path, source.q, set(source.flags),
                                       source.socket, dict(source.attrs))
        elif src >= 0:
            self._load_ruri_branch(ctx, ctx.branches[src])
        if not (keep and keep.lower() == "keep") and src > 0:
            del ctx.branches[src]
        return 1

    def swap_msg_branches(self, ctx: MsgContext, idx_a: int | None = None, idx_b: int | None = None) -> int:
        a = -1 if idx_a is None or idx_a < 0 else idx_a
        b = -1 if idx_b is None or idx_b < 0 else idx_b
        if a == b:
            return 1
        if not ctx.branches or a >= len(ctx.branches) or b >= len(ctx.branches):
            return -1
        first = ctx.branches[a] if a >= 0 else self._ruri_branch(ctx)
        second = ctx.branches[b] if b >= 0 else self._ruri_branch(ctx)
        for index, branch in ((a, second), (b, first)):
            if index >= 0:
                ctx.branches[index] = branch
            else:
                self._load_ruri_branch(ctx, branch)
        return 1

    def serialize_branches(self, ctx: MsgContext, clear: int, keep_order: int | None = None) -> int:
        """Queue the R-URI branch and the added ones in $avp(serial_branch) for serial forking by q
        (serialize.c): next_branches() then loads the highest-q group (or, with keep_order, one branch at a
        time in the order they were added). Nothing is queued when there are no branches or all share the
        R-URI's q (without keep_order); the return is 1 either way."""
        if not ctx.branches:
            return 1
        if not keep_order and all(b.q == ctx.ruri_q for b in ctx.branches):
            return 1
        ruri = self._ruri_branch(ctx)
        contacts: list[Branch] = [ruri]  # ascending q; equal q: a later branch goes before
        for branch in ctx.branches:
            if keep_order:
                contacts.insert(0, branch)
                continue
            position = len(contacts)
            for i, other in enumerate(contacts):
                if not _q_order(other.q) < _q_order(branch.q):
                    position = i
                    break
            contacts.insert(position, branch)
        # Q_FLAG marks the last contact of a priority class, as next_branches() meets them (highest q first)
        marked = [False] + [bool(keep_order) or _q_order(contacts[i].q) < _q_order(contacts[i + 1].q)
                            for i in range(len(contacts) - 1)]
        stack = ctx.avps.setdefault(SERIAL_AVP, [])
        if clear:
            stack.clear()
        for branch, last_of_class in zip(contacts, marked):
            stack.insert(0, _encode_contact(branch, last_of_class))
        ctx.branches.clear()
        return 1

    def next_branches(self, ctx: MsgContext) -> int:
        """Load the next priority class from $avp(serial_branch): the first contact becomes the R-URI branch,
        the rest added branches. 1 when more classes remain, 2 when this was the last, -1 when none is left
        or outside request/failure routes."""
        if ctx.route_type not in (RouteType.REQUEST, RouteType.FAILURE):
            return -1
        stack = ctx.avps.get(SERIAL_AVP)
        if not stack:
            return -1
        first, last_of_class = _decode_contact(stack.pop(0), ctx)
        self._load_ruri_branch(ctx, first)
        while not last_of_class and stack:
            branch, last_of_class = _decode_contact(stack.pop(0), ctx)
            if self._append(ctx, branch) < 0:
                return -1
        return 1 if stack else 2

    # -- variables ----------------------------------------------------------------------------------------------
    def pv_printf(self, ctx: MsgContext, var, format: str) -> int:
        if var is None or not var.writable:
            return -1
        var.set(ctx, format, "=")
        return 1

    def get_timestamp(self, ctx: MsgContext, sec, usec) -> int:
        now = ctx.now
        seconds = int(now)
        sec.set(ctx, seconds, "=")
        usec.set(ctx, int(round((now - seconds) * 1_000_000)) % 1_000_000, "=")
        return 1

    def construct_uri(self, ctx: MsgContext, proto: str, user: str | None, domain: str, port: str | None,
                      extra: str | None, result) -> int:
        """proto:[user@]domain[:port][;extra] into the variable. As OpenSIPS, a missing proto or domain
        leaves the variable alone and still returns 1."""
        if not proto or not domain:
            return 1
        uri = f"{proto}:{user + '@' if user else ''}{domain}{':' + port if port else ''}" \
              f"{';' + extra if extra else ''}"
        result.set(ctx, uri, "=")
        return 1

    def avp_print(self, ctx: MsgContext) -> int:
        ctx.log(2, "----------- All AVPs in this context --------")
        for name, values in ctx.avps.items():
            for value in values:
                ctx.log(2, f"    name=<{name}> {'val_int' if isinstance(value, int) else 'val_str'}=<{value}>")
        ctx.log(2, "---------------- END ALL AVPs ---------------")
        return 1

    # -- Via and socket handling ----------------------------------------------------------------------------
    @staticmethod
    def _core_state(ctx: MsgContext) -> dict:
        return ctx.module_state.setdefault("core", {})

    def force_rport(self, ctx: MsgContext) -> int:
        self._core_state(ctx)["force_rport"] = True
        return 1

    def add_local_rport(self, ctx: MsgContext) -> int:
        self._core_state(ctx)["add_local_rport"] = True
        return 1

    def force_tcp_alias(self, ctx: MsgContext, port: int | None = None) -> int:
        """Only on a TCP-family message; the port defaults to the top Via's."""
        if ctx.received is None or ctx.received.proto.lower() not in ("tcp", "tls", "ws", "wss", "sctp"):
            return 1
        if port is None:
            via = ctx.msg.via1 if ctx.msg is not None else None
            port = via.port if via is not None and via.port else _DEFAULT_PORT
        self._core_state(ctx)["tcp_alias_port"] = port
        return 1

    def set_via_handling(self, ctx: MsgContext, flags: str) -> int:
        for word in (w.strip().lower() for w in flags.split(",")):
            if word in VIA_HANDLING_KEYS:
                self._core_state(ctx)[VIA_HANDLING_KEYS[word]] = True
            elif word == "force-tcp-alias":
                self.force_tcp_alias(ctx)
        return 1

    def set_advertised_address(self, ctx: MsgContext, address: str) -> int:
        self._core_state(ctx)["advertised_address"] = address
        return 1

    def set_advertised_port(self, ctx: MsgContext, port: str) -> int:
        self._core_state(ctx)["advertised_port"] = port
        return 1

    def force_send_socket(self, ctx: MsgContext, socket: str) -> int:
        """The socket must be one we listen on (an omitted port or proto matches any). Without a proxy core
        (unit tests) the socket is taken as written."""
        proto, host, port = split_socket(socket)
        known = list(getattr(ctx.process.core, "sockets", None) or ())
        if not known:
            ctx.force_socket = ListenSocket(proto or "udp", host, port or _DEFAULT_PORT)
            return 1
        for candidate in known:
            if proto and candidate.proto != proto:
                continue
            if port and candidate.port != port:
                continue
            if _same_host(host, candidate.host):
                ctx.force_socket = candidate
                return 1
        ctx.log(-1, f"bad force_send_socket argument: {socket} (opensips-py doesn't listen on it)")
        return -1

    def is_myself(self, ctx: MsgContext, host: str, port: int | None = None) -> int:
        """check_self(): host[:port] against our sockets (name, advertised name) and the aliases; port 0
        or omitted matches any port."""
        port = port or 0
        for sock in _sockets(ctx):
            if port and port not in (sock.port, sock.advertised_port):
                continue
            if _same_host(host, sock.host) or _same_host(host, sock.advertised_host):
                return 1
        for alias in getattr(ctx.process.core, "aliases", None) or ():
            _, alias_host, alias_port = split_socket(alias) if isinstance(alias, str) else alias
            if port and alias_port and alias_port != port:
                continue
            if _same_host(host, alias_host):
                return 1
        return -1


# ------------------------------------------------------------------------------------------------ serial AVP

def _q_order(q: int | None) -> int:
    """Q_UNSPECIFIED is -1 in OpenSIPS: it sorts below every explicit q."""
    return -1 if q is None else q


def _encode_contact(branch: Branch, last_of_class: bool) -> str:
    socket = str(branch.socket) if branch.socket is not None else None
    return json.dumps({"uri": branch.uri, "dst_uri": branch.dst_uri, "path": branch.path, "q": branch.q,
                       "flags": sorted(branch.flags), "socket": socket, "last": last_of_class},
                      separators=(",", ":"))


def _decode_contact(value: Value, ctx: MsgContext) -> tuple[Branch, bool]:
    data = json.loads(str(value))
    socket = None
    if data.get("socket"):
        proto, host, port = split_socket(data["socket"])
        socket = next((s for s in _sockets(ctx) if str(s) == data["socket"]), None) or \
            ListenSocket(proto or "udp", host, port or _DEFAULT_PORT)
    branch = Branch(data["uri"], data.get("dst_uri"), data.get("path"), data.get("q"), set(data.get("flags", ())),
                    socket)
    return branch, bool(data.get("last"))


__all__ = ["CoreFunctions", "current_ruri", "parse_q", "rewrite_ruri", "split_socket"]
