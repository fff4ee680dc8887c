"""topology_hiding: strip Via/Record-Route/Route and rewrite Contact so each side sees only this proxy."""
from __future__ import annotations

from opensips_py.modules.exports import (
    R, Arg, Dependency, Function, ModParam, ModuleExports, ParamType, PseudoVar, VersionSpan,
)

EXPORTS = ModuleExports(
    name="topology_hiding",
    doc="Called on the initial INVITE. Works with dialog (state kept there; the Contact carries a dialog id) "
        "or without (the hidden headers are encoded into a Contact parameter). Sequential requests carry no "
        "Route headers any more, so they must be matched with topology_hiding_match() instead of "
        "loose_route().",
    functions=(
        Function("topology_hiding", (Arg("flags", optional=True),), routes=R, versions=VersionSpan(until="3.6"),
                 doc="flags letters: U keep the Contact username, D dialog id in the Contact username, "
                     "C encode the Call-ID (dialog only)."),
        Function(
            "topology_hiding", (Arg("flags", optional=True), Arg("contact_users", optional=True)),
            routes=R, versions=VersionSpan(since="3.6"),
            doc='flags letters: U, D, C, a/A (keep the Contact first advertised to caller/callee); '
                'contact_users "caller_user[/callee_user]" sets the Contact usernames per leg.',
        ),
        Function("topology_hiding_match", (Arg("dlg_match_mode", optional=True),), routes=R,
                 doc="Match and restore a sequential request; dlg_match_mode as dialog's match_dialog()."),
    ),
    params=(
        ModParam("force_dialog", ParamType.INT, 0, doc="Create a dialog when none exists (needs dialog)."),
        ModParam("th_passed_contact_uri_params", ParamType.STR,
                 doc="Contact URI params copied into our Contact (';'-separated)."),
        ModParam("th_passed_contact_params", ParamType.STR, doc="Contact header params copied (';'-separated)."),
        ModParam("th_callid_passwd", ParamType.STR, "OpenSIPS", doc="Key for Call-ID encoding (C flag)."),
        ModParam("th_callid_prefix", ParamType.STR, "DLGCH_", doc="Prefix of encoded Call-IDs."),
        ModParam("th_contact_encode_passwd", ParamType.STR, "ToPoCtPaSS",
                 doc="Key for the encoded Contact parameter (no-dialog mode)."),
        ModParam("th_contact_encode_param", ParamType.STR, "thinfo",
                 doc="Name of the Contact parameter holding the encoded headers."),
        ModParam("th_contact_encode_scheme", ParamType.STR, "base64", doc='"base64" or "base32".'),
        ModParam("th_contact_caller_username_var", ParamType.STR, "_th_contact_caller_username_var_",
                 versions=VersionSpan(since="3.6"), doc="Dialog variable keeping the caller's Contact user."),
        ModParam("th_contact_callee_username_var", ParamType.STR, "_th_contact_callee_username_var_",
                 versions=VersionSpan(since="3.6"), doc="Dialog variable keeping the callee's Contact user."),
        ModParam("th_callid_loop_protection", ParamType.INT, 0, versions=VersionSpan(since="4.0"),
                 doc="Refuse to encode a Call-ID that already carries th_callid_prefix."),
    ),
    pvars=(
        PseudoVar("TH_callee_callid", doc="The Call-ID seen by the callee when the C flag encodes it."),
    ),
    deps=(
        Dependency(("tm",), doc="Declared DEP_ABORT."),
        Dependency(("dialog",), when_param="force_dialog", unless_values=(0,)),
    ),
)

# ------------------------------------------------------------------------------------------------ implementation
# Behaviour read in modules/topology_hiding/{topology_hiding,topo_hiding_logic}.c of OpenSIPS 3.2–3.6 (see
# docs/topology-hiding.md). Edits are lumps on the messages: the Contact we write depends on the socket the
# message leaves from (SUBST_SND_ALL), so on requests it is a send-time line finished per branch; on relayed
# replies it is written for the socket that sends them upstream.

import base64 as _base64  # noqa: E402
import struct as _struct  # noqa: E402
import weakref as _weakref  # noqa: E402
from dataclasses import dataclass as _dataclass, field as _field  # noqa: E402
from typing import Any, Callable  # noqa: E402

from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.runtime.forward import via_with_received  # noqa: E402
from opensips_py.runtime.send_lumps import Outgoing, SendTimeLine  # noqa: E402
from opensips_py.script.pvars import Handler  # noqa: E402
from opensips_py.sip import URI, SIPParseError  # noqa: E402
from opensips_py.sip.headers import parse_name_addr_list  # noqa: E402

# dialog mod-flag values of OpenSIPS (dlg_hash.h): also what the encoded Contact carries as "flags"
TOPOH_ONGOING, TOPOH_KEEP_USER, TOPOH_HIDE_CALLID, TOPOH_DID_IN_USER = 1 << 1, 1 << 2, 1 << 3, 1 << 4
TOPOH_KEEP_ADV_A, TOPOH_KEEP_ADV_B = 1 << 5, 1 << 6
_FLAG_LETTERS = {"U": TOPOH_KEEP_USER, "C": TOPOH_HIDE_CALLID, "D": TOPOH_DID_IN_USER, "a": TOPOH_KEEP_ADV_A,
                 "A": TOPOH_KEEP_ADV_B}
CALLER_LEG = 0
_SKIP_CALLID_METHODS = frozenset({"REGISTER", "PUBLISH", "SUBSCRIBE"})

# OpenSIPS's word64 (base64 with "+." and '-' padding) and word32 (base32 with '-' padding), ut.c
_W64 = bytes.maketrans(b"+/=", b"+.-")
_W64_BACK = bytes.maketrans(b"+.-", b"+/=")


def word64encode(data: bytes) -> str:
    return _base64.b64encode(data).translate(_W64).decode("ascii")


def word64decode(text: str) -> bytes:
    return _base64.b64decode(text.encode("ascii", "replace").translate(_W64_BACK), validate=False)


def word32encode(data: bytes) -> str:
    return _base64.b32encode(data).decode("ascii").replace("=", "-")


def word32decode(text: str) -> bytes:
    return _base64.b32decode(text.replace("-", "=").encode("ascii", "replace"))


def xor(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % len(key)] for i, b in enumerate(data)) if key else data


def encode_callid(callid: str, prefix: str, passwd: str) -> str:
    """dlg_th_encode_callid(): prefix + word64(Call-ID xor password)."""
    return prefix + word64encode(xor(callid.encode("utf-8", "surrogateescape"), passwd.encode()))


def decode_callid(encoded: str, prefix: str, passwd: str) -> str | None:
    if not encoded.startswith(prefix) or len(encoded) <= len(prefix):
        return None
    try:
        raw = word64decode(encoded[len(prefix):])
    except ValueError:
        return None
    return xor(raw, passwd.encode()).decode("utf-8", "surrogateescape")


def pack_contact_info(routes: str, contact: str, flags: int, socket: str, passwd: str, scheme: str) -> str:
    """build_encoded_contact_suffix(): route set, Contact URI, flags and the socket, each behind its length
    (a native short), xor-ed with the password and word64/word32 encoded."""
    plain = b""
    for part in (routes, contact, str(flags), socket):
        data = part.encode("utf-8", "surrogateescape")
        if len(data) > 0x7FFF:
            raise ValueError("too long for an encoded contact")
        plain += _struct.pack("=h", len(data)) + data
    data = xor(plain, passwd.encode())
    return word64encode(data) if scheme == "base64" else word32encode(data)


def unpack_contact_info(text: str, passwd: str, scheme: str) -> tuple[str, str, int, str] | None:
    """The four fields of a thinfo value, or None when it does not decode."""
    try:
        data = xor(word64decode(text) if scheme == "base64" else word32decode(text), passwd.encode())
    except ValueError:
        return None
    parts: list[str] = []
    offset = 0
    for _ in range(4):
        if offset + 2 > len(data):
            return None
        (length,) = _struct.unpack_from("=h", data, offset)
        offset += 2
        if length < 0 or offset + length > len(data):
            return None
        parts.append(data[offset:offset + length].decode("utf-8", "surrogateescape"))
        offset += length
    try:
        flags = int(parts[2] or "0")
    except ValueError:
        flags = 0
    return parts[0], parts[1], flags, parts[3]


def socket_address(sock, advertised_host: str | None = None, advertised_port: int | None = None) -> str:
    """SUBST_SND_ALL (msg_translator.c): the address, `:port` unless it is the socket's own 5060, and
    `;transport=` for anything but UDP."""
    host = advertised_host or sock.via_host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = advertised_port or sock.advertised_port or sock.port
    text = host
    if port != 5060 or advertised_port or sock.advertised_port:
        text += f":{port}"
    if sock.proto != "udp":
        text += f";transport={sock.proto}"
    return text


class ContactLine(SendTimeLine):
    """`Contact: <sip:[user@]ADDRESS[suffix]>[header params]`, ADDRESS being the sending socket's."""

    def __new__(cls, name: str, user: str, suffix: str, hdr_params: str, stand_in) -> "ContactLine":
        address = socket_address(stand_in) if stand_in is not None else ""
        self = super().__new__(cls, cls.render(name, user, address, suffix, hdr_params))
        self.name, self.user, self.suffix, self.hdr_params = name, user, suffix, hdr_params
        return self

    @staticmethod
    def render(name: str, user: str, address: str, suffix: str, hdr_params: str) -> str:
        return f"{name}: <sip:{user + '@' if user else ''}{address}{suffix}>{hdr_params}"

    def finish(self, out: Outgoing) -> list[str]:
        address = socket_address(out.socket, out.advertised_host, out.advertised_port)
        return [self.render(self.name, self.user, address, self.suffix, self.hdr_params)]


@_dataclass
class HiddenDialog:
    """What topology hiding keeps per dialog (OpenSIPS: the dialog's mod flags and its two variables)."""

    flags: int
    caller_user: str = ""   # the Contact username advertised to the caller
    callee_user: str = ""   # … to the callee
    advertised: dict[int, str] = _field(default_factory=dict)  # leg -> the Contact first advertised to it


@_dataclass
class _MsgState:
    pending: list[Callable] = _field(default_factory=list)  # RESPONSE_FWDED callbacks for the coming transaction
    sequential_done: bool = False


def _parse_users(text: str | None) -> tuple[str, str]:
    """fixup_th_params(): "user" for both legs, or "/caller_user[/callee_user]"."""
    text = (text or "").strip()
    if not text:
        return "", ""
    if not text.startswith("/"):
        return text, text
    caller, _, callee = text[1:].partition("/")
    return caller.strip(), callee.strip()


class Module(ModuleBase):
    exports = EXPORTS

    # ================================================================================== lifecycle
    def init(self) -> None:
        self.force_dialog = bool(self.int_param("force_dialog"))
        self.uri_params = [p for p in str(self.param("th_passed_contact_uri_params") or "").split(";") if p]
        self.hdr_params = [p for p in str(self.param("th_passed_contact_params") or "").split(";") if p]
        self.callid_passwd = str(self.param("th_callid_passwd") or "")
        self.callid_prefix = str(self.param("th_callid_prefix") or "")
        self.ct_passwd = str(self.param("th_contact_encode_passwd") or "")
        self.ct_param = str(self.param("th_contact_encode_param") or "thinfo")
        self.scheme = str(self.param("th_contact_encode_scheme") or "base64")
        if self.scheme not in ("base64", "base32"):
            raise ModuleInitError("topology_hiding: unsupported value for 'th_contact_encode_scheme': use "
                                  "'base64' or 'base32'")
        self.caller_var = str(self.param("th_contact_caller_username_var") or "_th_contact_caller_username_var_")
        self.callee_var = str(self.param("th_contact_callee_username_var") or "_th_contact_callee_username_var_")
        modules = getattr(self.core, "modules", {}) or {}
        self.tm = modules.get("tm")
        self.dialog = modules.get("dialog")
        self.rr = modules.get("rr")
        if self.tm is None:
            raise ModuleInitError("topology_hiding: the tm module is required")
        if self.force_dialog and self.dialog is None:
            raise ModuleInitError("topology_hiding: cannot force dialog: dialog module not loaded")
        from opensips_py.modules.tm.callbacks import TMCB
        self.TMCB = TMCB
        self.tm.register_callback(TMCB.REQUEST_IN, self._on_new_transaction)
        if self.dialog is not None and self.rr is not None:
            # after dialog's own rr callback (priority 0) matched the request: OpenSIPS's DLGCB_REQ_WITHIN
            self.rr.register_callback(self._on_loose_route, 10)
        self.hidden: _weakref.WeakKeyDictionary = _weakref.WeakKeyDictionary()

    def _log(self, level: int, text: str) -> None:
        logger = getattr(self.core, "logger", None)
        if logger is None:
            return
        {-1: logger.error, 1: logger.warning}.get(level, logger.info)(text, "topology_hiding")

    # ================================================================================== per-message state
    @staticmethod
    def _state(ctx) -> _MsgState:
        state = ctx.module_state.get("topology_hiding")
        if state is None:
            state = ctx.module_state["topology_hiding"] = _MsgState()
        return state

    def _on_reply_relayed(self, ctx, fn: Callable) -> None:
        """TMCB_RESPONSE_FWDED on this request's transaction, now or when the script creates it."""
        try:
            t = self.tm.transaction(ctx)
        except Exception:  # noqa: BLE001 - tm's lookup on an odd message: wait for t_relay()
            t = None
        if t is not None and t.request is ctx.msg:
            self.tm.register_callback(self.TMCB.RESPONSE_FWDED, fn, t)
        else:
            self._state(ctx).pending.append(fn)

    def _on_new_transaction(self, t, p) -> None:
        ctx = p.ctx
        state = ctx.module_state.get("topology_hiding") if ctx is not None else None
        if state is None or not state.pending:
            return
        for fn in state.pending:
            self.tm.register_callback(self.TMCB.RESPONSE_FWDED, fn, t)
        state.pending = []

    # ================================================================================== message edits
    @staticmethod
    def _delete_vias(msg) -> None:
        for field in msg.header_fields("via"):
            msg.lumps.removed.add(field.index)

    @staticmethod
    def _delete_record_routes(msg) -> None:
        """The Record-Route headers of the message and those the script added (record_route())."""
        for field in msg.header_fields("record-route"):
            msg.lumps.removed.add(field.index)
        for anchor, lines in list(msg.lumps.insert.items()):
            kept = [line for line in lines if line.partition(":")[0].strip().lower() != "record-route"]
            if len(kept) != len(lines):
                msg.lumps.insert[anchor] = kept

    def _contact(self, msg):
        """(the Contact header field, its single contact) or (None, None)."""
        fields = msg.header_fields("contact")
        if not fields:
            return None, None
        try:
            contacts = msg.contacts
        except SIPParseError:
            return fields[0], None
        if len(contacts) != 1 or contacts[0].is_star:
            return fields[0], None
        return fields[0], contacts[0]

    def _passed_params(self, contact) -> tuple[str, str]:
        """th_passed_contact_uri_params / th_passed_contact_params found in the contact, as text."""
        uri_part, hdr_part = "", ""
        if contact is None:
            return uri_part, hdr_part
        if self.uri_params:
            try:
                params = URI(contact.uri_text).params
            except SIPParseError:
                params = {}
            for name in self.uri_params:
                if name.lower() in params:
                    value = params[name.lower()]
                    uri_part += f";{name}" + (f"={value}" if value else "")
        for name in self.hdr_params:
            if name.lower() in contact.params:
                value = contact.params[name.lower()]
                uri_part_value = f"={value}" if value else ""
                hdr_part += f";{name}{uri_part_value}"
        return uri_part, hdr_part

    @staticmethod
    def _contact_user(contact) -> str:
        if contact is None:
            return ""
        try:
            return URI(contact.uri_text).user or ""
        except SIPParseError:
            return ""

    def _replace_contact(self, msg, user: str, suffix: str, sock, contact, *, send_time: bool) -> None:
        """delete_existing_contact() + the new one: a send-time line on requests, final text on replies."""
        field = msg.header_fields("contact")[0]
        uri_part, hdr_part = self._passed_params(contact)
        msg.lumps.removed.add(field.index)
        lines = msg.lumps.insert.setdefault(field.index, [])
        if send_time:
            lines.append(ContactLine(field.name, user, suffix + uri_part, hdr_part, sock))
        else:
            address = socket_address(sock) if sock is not None else ""
            lines.append(ContactLine.render(field.name, user, address, suffix + uri_part, hdr_part))

    def _restore_vias(self, reply, request, rcv, force_rport: bool) -> None:
        """restore_vias_from_req(): the request's Via lines on top of the reply (received/rport added to the
        first when the sender asked for rport or force_rport() was called)."""
        fields = request.header_fields("via")
        lines: list[str] = []
        for position, field in enumerate(fields):
            if position == 0 and rcv is not None:
                via = request.via1
                if via is not None and (force_rport or via.has_rport):
                    value = field.value.replace(via.raw, via_with_received(via, rcv.src_host, rcv.src_port), 1)
                    lines.append(f"{field.name}: {value}")
                    continue
            lines.append(field.raw)
        if lines:
            reply.lumps.insert.setdefault(0, []).extend(lines)

    @staticmethod
    def _print_record_routes(msg, reverse: bool) -> str:
        try:
            values = [value.raw for value in msg.record_route]
        except SIPParseError:
            return ""
        return ", ".join(reversed(values) if reverse else values)

    # ================================================================================== topology_hiding()
    def topology_hiding(self, ctx, flags: str | None = None, contact_users: str | None = None) -> int:
        msg = ctx.msg
        if msg is None or not msg.is_request:
            return -1
        try:
            to = msg.to
        except SIPParseError:
            to = None
        if to is None:
            self._log(-1, "no To")
            return -1
        if to.tag:
            self._log(1, "SCRIPT ERROR - trying to initialize topology hiding for sequential request")
            return -1
        bits = 0
        for letter in flags or "":
            bits |= _FLAG_LETTERS.get(letter, 0)
        caller_user, callee_user = _parse_users(contact_users)
        dialog = self.dialog.current_dialog(ctx) if self.dialog is not None else None
        if dialog is None and self.force_dialog:
            if self.dialog.create_dialog(ctx) < 0:
                self._log(-1, "Failed to create dialog")
                return -1
            dialog = self.dialog.current_dialog(ctx)
        try:
            msg.parse_all()
        except SIPParseError as exc:
            self._log(-1, f"Failed to parse the request: {exc}")
            return -1
        if dialog is None:
            return self._hide_without_dialog(ctx, bits, caller_user, callee_user)
        return self._hide_with_dialog(ctx, dialog, bits, caller_user, callee_user)

    # ---------------------------------------------------------------------------------- without dialog
    def _encoded_suffix(self, msg, routes: str | None, flags: int, contact, socket) -> str:
        if routes is None:
            routes = self._print_record_routes(msg, reverse=not msg.is_request)
        info = pack_contact_info(routes, contact.uri_text if contact is not None else "", flags,
                                 str(socket) if socket is not None else "", self.ct_passwd, self.scheme)
        return f";{self.ct_param}={info}"

    def _encode_contact(self, msg, flags: int, routes: str | None, user: str, socket, send_sock,
                        send_time: bool) -> bool:
        """topo_no_dlg_encode_contact(): our address with the hidden data in a Contact parameter."""
        field, contact = self._contact(msg)
        if field is None:
            return True
        if contact is None:
            self._log(-1, "bad Contact HDR")
            return False
        if not user and flags & TOPOH_KEEP_USER:
            user = self._contact_user(contact)
        try:
            suffix = self._encoded_suffix(msg, routes, flags, contact, socket)
        except ValueError as exc:
            self._log(-1, f"Failed to encode contact header: {exc}")
            return False
        self._replace_contact(msg, user, suffix, send_sock, contact, send_time=send_time)
        return True

    def _hide_without_dialog(self, ctx, flags: int, caller_user: str, callee_user: str) -> int:
        msg = ctx.msg
        self._delete_record_routes(msg)
        self._delete_vias(msg)
        rcv_sock = ctx.received.socket if ctx.received is not None else None
        if not self._encode_contact(msg, flags, None, callee_user, rcv_sock, rcv_sock, True):
            return -1
        if flags & TOPOH_HIDE_CALLID:
            self._log(1, "Cannot hide callid when dialog support is not engaged!")
        if flags & TOPOH_DID_IN_USER:
            self._log(1, "Cannot store DID in user when dialog support is not engaged!")
        keep_user = flags & TOPOH_KEEP_USER
        self._on_reply_relayed(ctx, lambda t, p: self._no_dialog_reply(t, p, keep_user, caller_user, None, True))
        return 1

    def _no_dialog_reply(self, t, p, flags: int, user: str, routes: str | None, pass_rr: bool) -> None:
        """_th_no_dlg_onreply(): the reply leaves upstream with the caller's Vias, our encoded Contact."""
        reply, request = p.reply, p.request
        if reply is None or request is None:
            return
        try:
            reply.parse_all()
        except SIPParseError as exc:
            self._log(-1, f"Failed to parse reply: {exc}")
            return
        self._delete_record_routes(reply)
        self._delete_vias(reply)
        if not 300 <= reply.status < 400:
            branch = t.branches[p.branch] if 0 <= p.branch < len(t.branches) else None
            self._encode_contact(reply, flags, routes, user, getattr(branch, "socket", None),
                                 self._upstream_socket(t), False)
        self._restore_vias(reply, request, t.rcv, bool(getattr(t, "force_rport", False)))
        if pass_rr:
            routes_text = self._print_record_routes(request, reverse=False)
            if routes_text:
                reply.lumps.insert.setdefault(0, []).append(f"Record-Route: {routes_text}")

    @staticmethod
    def _upstream_socket(t):
        dest = getattr(t, "uas_dest", None)
        if dest and dest[3] is not None:
            return dest[3]
        rcv = getattr(t, "rcv", None)
        return rcv.socket if rcv is not None else None

    # ---------------------------------------------------------------------------------- with dialog
    def _hide_with_dialog(self, ctx, dialog, flags: int, caller_user: str, callee_user: str) -> int:
        hidden = self.hidden.get(dialog)
        if hidden is not None:
            hidden.flags |= flags
            return 1
        hidden = self.hidden[dialog] = HiddenDialog(TOPOH_ONGOING | flags, caller_user, callee_user)
        if caller_user:
            self.dialog.store_value(dialog, self.caller_var, caller_user)
        if callee_user:
            self.dialog.store_value(dialog, self.callee_var, callee_user)
        msg = ctx.msg
        self._delete_record_routes(msg)
        self._delete_vias(msg)
        self._dialog_contact(msg, dialog, hidden, -1, callee_user, ctx.received.socket if ctx.received else None,
                             send_time=True)
        if flags & TOPOH_HIDE_CALLID:
            self._set_callid(msg, encode_callid(dialog.callid, self.callid_prefix, self.callid_passwd))
        self._on_reply_relayed(ctx, lambda t, p: self._dialog_reply(t, p, dialog, True, upstream=True))
        return 1

    def _dialog_contact(self, msg, dialog, hidden: HiddenDialog, adv_leg: int, user: str, sock, *,
                        send_time: bool) -> None:
        """topo_dlg_replace_contact(): `<sip:[user@]ADDRESS;did=…>` (or the did in the username with D),
        or the Contact first advertised to that leg (a/A flags)."""
        field, contact = self._contact(msg)
        if field is None:
            return
        if adv_leg >= 0 and adv_leg in hidden.advertised:
            msg.lumps.removed.add(field.index)
            msg.lumps.insert.setdefault(field.index, []).append(f"{field.name}: {hidden.advertised[adv_leg]}")
            return
        if not user and hidden.flags & TOPOH_KEEP_USER:
            user = self._contact_user(contact)
        rr_param = getattr(self.dialog, "rr_param", "did")
        if hidden.flags & TOPOH_DID_IN_USER:
            user = f"{user or 'X'}.{rr_param}.{dialog.did}"
            suffix = ""
        else:
            suffix = f";{rr_param}={dialog.did}"
        self._replace_contact(msg, user, suffix, sock, contact, send_time=send_time)

    def _remember_advertised(self, hidden: HiddenDialog, leg: int, msg) -> None:
        """a/A: the Contact advertised to a leg the first time, kept for the whole dialog."""
        if leg in hidden.advertised:
            return
        if not hidden.flags & (TOPOH_KEEP_ADV_A if leg == CALLER_LEG else TOPOH_KEEP_ADV_B):
            return
        field = msg.header_fields("contact")
        if not field:
            return
        for line in msg.lumps.insert.get(field[0].index, ()):
            if not isinstance(line, SendTimeLine) and line.partition(":")[0].strip().lower() in ("contact", "m"):
                hidden.advertised[leg] = line.partition(":")[2].strip()

    def _dialog_reply(self, t, p, dialog, initial: bool, upstream: bool) -> None:
        """dlg_th_onreply(): a reply relayed within a hidden dialog."""
        reply, request = p.reply, p.request
        hidden = self.hidden.get(dialog)
        if reply is None or request is None or hidden is None:
            return
        try:
            reply.parse_all()
        except SIPParseError as exc:
            self._log(-1, f"Failed to parse reply: {exc}")
            return
        dst_leg = CALLER_LEG if upstream else dialog.callee_index
        adv_leg = -1
        if not initial and hidden.flags & (TOPOH_KEEP_ADV_A if upstream else TOPOH_KEEP_ADV_B):
            adv_leg = dst_leg
        if not (initial and upstream and 300 <= reply.status < 400):
            var = self.caller_var if dst_leg == CALLER_LEG else self.callee_var
            user = str((dialog.vals or {}).get(var) or "")
            self._dialog_contact(reply, dialog, hidden, adv_leg, user, self._upstream_socket(t), send_time=False)
            if initial and 200 <= reply.status < 300:
                self._remember_advertised(hidden, dst_leg, reply)
        self._delete_record_routes(reply)
        self._delete_vias(reply)
        self._restore_vias(reply, request, t.rcv, bool(getattr(t, "force_rport", False)))
        leg = dialog.legs[dst_leg] if 0 <= dst_leg < len(dialog.legs) else None
        if initial and upstream and leg is not None and leg.route_set:
            reply.lumps.insert.setdefault(0, []).append(f"Record-Route: {leg.route_set}")
        if hidden.flags & TOPOH_HIDE_CALLID:
            self._fix_reply_callid(reply, dialog, upstream)

    # ---------------------------------------------------------------------------------- Call-ID (C flag)
    @staticmethod
    def _set_callid(msg, callid: str) -> None:
        fields = msg.header_fields("call-id")
        if fields:
            msg.replace_field(fields[0].index, callid)

    def _fix_reply_callid(self, reply, dialog, upstream: bool) -> None:
        """topo_callid_pre_raw/post_raw for a relayed reply: towards the caller the original Call-ID,
        towards the callee the encoded one."""
        callid = reply.call_id or ""
        if upstream:
            decoded = decode_callid(callid.strip(), self.callid_prefix, self.callid_passwd)
            if decoded is not None:
                self._set_callid(reply, decoded)
        elif not callid.strip().startswith(self.callid_prefix):
            self._set_callid(reply, encode_callid(dialog.callid, self.callid_prefix, self.callid_passwd))

    def before_request_route(self, ctx) -> bool:
        """topo_callid_pre_raw() for requests: a sequential request carrying an encoded Call-ID is routed
        with the original one (the script, dialog matching and tm all see the caller's Call-ID)."""
        msg = ctx.msg
        prefix = self.callid_prefix
        try:
            callid = msg.call_id
            if not callid or not callid.strip().startswith(prefix) or msg.to is None or not msg.to.tag:
                return True
            cseq = msg.cseq
        except SIPParseError:
            return True
        if cseq is None or cseq.method in _SKIP_CALLID_METHODS:
            return True
        decoded = decode_callid(callid.strip(), prefix, self.callid_passwd)
        if decoded is None:
            return True
        saved = msg.lumps
        msg.lumps = saved.copy()
        try:
            self._set_callid(msg, decoded)
            ctx.msg = msg.apply_lumps()
        except SIPParseError:
            pass
        finally:
            msg.lumps = saved
        return True

    # ================================================================================== sequential requests
    def topology_hiding_match(self, ctx, mode: str | None = None) -> int:
        msg = ctx.msg
        if msg is None or not msg.is_request:
            return -1
        if self.dialog is not None:
            if self._match_dialog(ctx, mode) > 0:
                dialog = self.dialog.current_dialog(ctx)
                if dialog is not None and dialog in self.hidden:
                    self._sequential_in_dialog(ctx, dialog)
                return 1
        info = self._thinfo(ctx)
        if info is None:
            return -1
        return self._sequential_without_dialog(ctx, info)

    def _own_ruri(self, ctx) -> URI | None:
        """The R-URI when it is ours and the request has no Route header (the topology hiding case)."""
        msg = ctx.msg
        try:
            uri = URI(ctx.ruri())
            if msg.header_fields("route"):
                return None
        except SIPParseError:
            return None
        host = uri.maddr or uri.host
        if not host:
            return None
        proto = (uri.transport or "udp").lower()
        port = uri.port if uri.port is not None else (5061 if proto == "tls" else 5060)
        if not self.core.is_myself(host.strip("[]"), port, None):
            return None
        return uri

    def _match_dialog(self, ctx, mode: str | None) -> int:
        """dialog's match_dialog(), plus the did in the R-URI username ("user.did.<did>", the D flag),
        which OpenSIPS's api_match_dialog also reads."""
        rc = self.dialog.match_dialog(ctx, mode)
        if rc > 0:
            return rc
        uri = self._own_ruri(ctx)
        rr_param = getattr(self.dialog, "rr_param", "did")
        marker = f".{rr_param}."
        user = (uri.user or "") if uri is not None else ""
        if marker not in user:
            return rc
        did = user.split(marker, 1)[1]
        saved = ctx.new_uri
        ctx.new_uri = f"sip:{uri.hostport};{rr_param}={did}"  # match_dialog() reads the did from the R-URI
        try:
            return self.dialog.match_dialog(ctx, mode)
        finally:
            ctx.new_uri = saved

    def _on_loose_route(self, ctx, params: str) -> None:
        """rr callback after dialog's: a request loose_route() routed into a hidden dialog."""
        dialog = self.dialog.current_dialog(ctx)
        if dialog is not None and dialog in self.hidden:
            self._sequential_in_dialog(ctx, dialog)

    def _sequential_in_dialog(self, ctx, dialog) -> None:
        """topo_dlg_onroute(): route by the dialog, hide what came, advertise ourselves."""
        state = self._state(ctx)
        if state.sequential_done:
            return
        state.sequential_done = True
        hidden = self.hidden[dialog]
        msg = ctx.msg
        try:
            msg.parse_all()
        except SIPParseError as exc:
            self._log(-1, f"Failed to parse the request: {exc}")
            return
        self._delete_vias(msg)
        self._delete_record_routes(msg)
        if self.dialog.fix_route_dialog(ctx) < 0:
            self._log(-1, "Failed to fix the SIP request according to dialog info")
            return
        dlg_state = ctx.module_state.get("dialog")
        leg = getattr(dlg_state, "last_dst_leg", -1)
        leg = CALLER_LEG if leg < 0 else leg
        upstream = leg == CALLER_LEG
        if 0 <= leg < len(dialog.legs) and dialog.legs[leg].socket is not None:
            ctx.force_socket = dialog.legs[leg].socket
        adv_leg = leg if hidden.flags & (TOPOH_KEEP_ADV_A if upstream else TOPOH_KEEP_ADV_B) else -1
        user = hidden.caller_user if upstream else hidden.callee_user
        self._dialog_contact(msg, dialog, hidden, adv_leg, user, ctx.received.socket if ctx.received else None,
                             send_time=True)
        if hidden.flags & TOPOH_HIDE_CALLID and not upstream:
            self._set_callid(msg, encode_callid(dialog.callid, self.callid_prefix, self.callid_passwd))
        # the reply of a request going upstream comes back downstream, and the other way round
        self._on_reply_relayed(ctx, lambda t, p: self._dialog_reply(t, p, dialog, False, upstream=not upstream))

    def _thinfo(self, ctx) -> str | None:
        uri = self._own_ruri(ctx)
        if uri is None:
            return None
        value = uri.params.get(self.ct_param.lower())
        return value or None

    def _sequential_without_dialog(self, ctx, info: str) -> int:
        """topo_no_dlg_seq_handling(): the route set, target and socket come back from our Contact."""
        msg = ctx.msg
        try:
            msg.parse_all()
        except SIPParseError as exc:
            self._log(-1, f"Failed to parse the request: {exc}")
            return -1
        decoded = unpack_contact_info(info, self.ct_passwd, self.scheme)
        if decoded is None:
            self._log(-1, "bad encoded contact")
            return -1
        routes, contact, flags, bind = decoded
        self._delete_vias(msg)
        for field in msg.header_fields("record-route"):
            msg.lumps.removed.add(field.index)
        route_uris: list[str] = []
        if routes:
            try:
                route_uris = [value.uri_text for value in parse_name_addr_list(routes, "Route")]
            except SIPParseError:
                self._log(-1, "failed parsing route set")
                return -1
        strict = False
        if route_uris:
            try:
                strict = not URI(route_uris[0]).lr
            except SIPParseError:
                self._log(-1, "Failed to parse SIP uri")
                return -1
        ctx.dst_uri = None
        msg.remove_header("route")
        passed_routes = ""
        if not strict:
            if contact:
                ctx.new_uri = contact
            if routes:
                msg.add_header("Route", routes, first=True)
                ctx.dst_uri = route_uris[0]
                passed_routes = routes
        else:
            ctx.new_uri = route_uris[0]
            rest = [f"<{uri}>" for uri in route_uris[1:]]
            if contact:
                rest.append(f"<{contact}>")
            if rest:
                msg.add_header("Route", ", ".join(rest), first=True)
            if len(route_uris) > 1:
                passed_routes = ", ".join(f"<{uri}>" for uri in route_uris[1:])
        keep_user = flags & TOPOH_KEEP_USER
        self._on_reply_relayed(ctx, lambda t, p: self._no_dialog_reply(t, p, keep_user, "", passed_routes or None,
                                                                         False))
        if bind:
            sock = next((s for s in getattr(self.core, "sockets", ()) if str(s) == bind), None)
            if sock is None:
                self._log(1, f"non-local socket <{bind}>...ignoring")
            ctx.force_socket = sock
        rcv_sock = ctx.received.socket if ctx.received is not None else None
        if not self._encode_contact(msg, flags, None, "", rcv_sock, rcv_sock, True):
            return -1
        return 1

    # ================================================================================== $TH_callee_callid
    def pvars(self) -> dict[str, Handler]:
        def callee_callid(ctx, arg, index):
            dialog = self.dialog.current_dialog(ctx) if self.dialog is not None else None
            hidden = self.hidden.get(dialog) if dialog is not None else None
            if hidden is None or not hidden.flags & TOPOH_HIDE_CALLID:
                return None
            return encode_callid(dialog.callid, self.callid_prefix, self.callid_passwd)

        return {"TH_callee_callid": Handler("TH_callee_callid", callee_callid)}

    def hidden_dialog(self, dialog) -> Any:
        """The topology hiding state of a dialog (None when it is not hidden): for tests and other modules."""
        return self.hidden.get(dialog)
