"""nathelper: NAT detection and traversal for signalling (Contact/SDP fixing, keepalive pings)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType,
    VersionSpan,
)

# 3.4+ names; 3.2 took the bit values (1, 2, 4, … in this order) as an integer mask.
NAT_UAC_TESTS = (
    "private-contact", "diff-ip-src-via", "private-via", "private-sdp", "diff-port-src-via",
    "diff-ip-src-contact", "diff-port-src-contact", "carrier-grade-nat",
)
FIX_NATED_SDP_FLAGS = (
    "add-dir-active", "rewrite-media-ip", "add-no-rtpproxy", "rewrite-origin-ip", "rewrite-null-ips",
)
_ROFBL = R | O | F | B | L

EXPORTS = ModuleExports(
    name="nathelper",
    doc="NAT helpers: detect a NATed UA, rewrite Contact/SDP to the source address, ping registered "
        "NATed contacts.",
    # The 3.4+ signatures come first: the interpreter binds a call to the first entry that fits, and the
    # implementation takes both forms (a name list, or the 3.2 integer mask as a number or digits).
    functions=(
        Function(
            "nat_uac_test", (Arg("flags", choices=NAT_UAC_TESTS),), routes=_ROFBL,
            versions=VersionSpan(since="3.4"), doc="True if any selected test hits.",
        ),
        Function(
            "nat_uac_test", (Arg("flags", ArgKind.INT),), routes=_ROFBL, versions=VersionSpan(until="3.4"),
            doc="3.2: bit mask (1 private Contact, 2 Via != source, 4 private Via, 8 private SDP, 16 port "
                "!= Via, 32 Contact != source, 64 Contact port, 128 RFC 6333).",
        ),
        Function(
            "fix_nated_contact", (Arg("uri_params", optional=True),), routes=R | O | B | L,
            versions=VersionSpan(until="4.0"),
        ),
        Function(
            "fix_nated_contact",
            (Arg("uri_params", optional=True), Arg("flags", optional=True, choices=("preserve-uri",))),
            routes=R | O | B | L, versions=VersionSpan(since="4.0"),
            doc="preserve-uri keeps the original host:port in ;org= for restore_nated_ruri().",
        ),
        Function(
            "restore_nated_ruri", (), routes=R | B | L, versions=VersionSpan(since="4.0"),
            doc="The closest OpenSIPS gets to Kamailio's handle_ruri_alias.",
        ),
        Function(
            "fix_nated_sdp",
            (Arg("flags", choices=FIX_NATED_SDP_FLAGS), Arg("ip", optional=True),
             Arg("sdp_lines", optional=True)),
            routes=_ROFBL, versions=VersionSpan(since="3.4"),
        ),
        Function(
            "fix_nated_sdp",
            (Arg("flags", ArgKind.INT), Arg("ip", optional=True), Arg("sdp_lines", optional=True)),
            routes=_ROFBL, versions=VersionSpan(until="3.4"),
            doc="3.2: bit mask (1 a=direction:active, 2 c=, 4 nortpproxy, 8 o=, 16 null IPs).",
        ),
        Function("fix_nated_register", (), routes=R, doc="Stores the source address in received_avp."),
        Function("add_rcv_param", (Arg("uri_flag", ArgKind.INT, optional=True),), routes=R),
    ),
    params=(
        ModParam("natping_interval", ParamType.INT, 0, doc="Seconds; > 0 needs usrloc."),
        ModParam("ping_nated_only", ParamType.INT, 0),
        ModParam("natping_partitions", ParamType.INT, 1),
        ModParam("natping_socket", ParamType.STR, None),
        ModParam("natping_tcp", ParamType.INT, 0),
        ModParam("received_avp", ParamType.STR, None, doc="An AVP spec; must match registrar's."),
        ModParam("force_socket", ParamType.STR, None),
        ModParam("sipping_bflag", ParamType.STR, None, flag_name=True, doc="A branch flag name, not a number."),
        ModParam("sipping_latency_flag", ParamType.STR, None, flag_name=True),
        ModParam("remove_on_timeout_bflag", ParamType.STR, None, flag_name=True),
        ModParam("sipping_ignore_rpl_codes", ParamType.STR, None),
        ModParam("sipping_from", ParamType.STR, None),
        ModParam("sipping_method", ParamType.STR, "OPTIONS"),
        ModParam("nortpproxy_str", ParamType.STR, "a=nortpproxy:yes"),
        ModParam("oldip_skip", ParamType.STR, None, doc="Letters c and/or o."),
        ModParam("ping_threshold", ParamType.INT, 3),
        ModParam("max_pings_lost", ParamType.INT, 3),
        ModParam("cluster_id", ParamType.INT, 0),
        ModParam("cluster_sharing_tag", ParamType.STR, None),
    ),
    mi=(
        MICommand(
            "nh_enable_ping", ("status",), versions=VersionSpan(until="4.0"),
            doc="status is optional. 4.0 kept no 3.x alias: nathelper:enable_ping.",
        ),
        MICommand("enable_ping", ("status",), versions=VersionSpan(since="4.0"), alias_4_0="nathelper:enable_ping"),
    ),
    deps=(
        Dependency(("usrloc",), when_param="natping_interval", unless_values=(0,)),
    ),
)


# ================================================================================================ implementation
# nathelper/nathelper.c and sip_pinger.h (3.6). Edits are lumps: the script keeps reading the message as it
# arrived ($ct after fix_nated_contact() is the original), the changes go out with the message.

import hashlib  # noqa: E402
import ipaddress  # noqa: E402
import itertools  # noqa: E402

from opensips_py.mi import recipes  # noqa: E402
from opensips_py.mi.params import get_int  # noqa: E402
from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.script.context import Send  # noqa: E402
from opensips_py.sip import URI, SIPParseError  # noqa: E402
from opensips_py.sip.headers import parse_contacts  # noqa: E402

# bits of the 3.2 masks, in NAT_UAC_TESTS / FIX_NATED_SDP_FLAGS order
NAT_UAC_BITS = {name: 1 << i for i, name in enumerate(NAT_UAC_TESTS)}
SDP_FLAG_BITS = {name: 1 << i for i, name in enumerate(FIX_NATED_SDP_FLAGS)}
C_1918, V_RCVD, V_1918, S_1918, RPORT, C_RCVD, C_RPORT, RFC_6333 = (1, 2, 4, 8, 16, 32, 64, 128)
ADD_ADIRECTION, FIX_MEDIP, ADD_ANORTPPROXY, FIX_ORGIP, FORCE_NULL_ADDR = 1, 2, 4, 8, 16

PRIVATE_NETS = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                       "100.64.0.0/10"))
RFC_6333_NET = ipaddress.ip_network("192.0.0.0/29")
UDP_PING = b"\x00\x00\x00\x00"  # the 4-byte keepalive of nh_timer()
CRLF_PING = b"\r\n\r\n"  # RFC 5626 §3.5.1, on stream connections


def flag_mask(value, bits: dict[str, int]) -> int:
    """A 3.2 integer mask, or a 3.4+ comma list of names, as one mask."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    mask = 0
    for name in text.split(","):
        name = name.strip()
        if name:
            mask |= bits.get(name, 0)
    return mask


def is_private(host: str, rfc_6333: bool = False) -> bool:
    """ip_addr_is_1918(): RFC 1918 and RFC 6598 (100.64/10) addresses, 192.0.0.0/29 with RFC 6333."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if address.version != 4:
        return False
    return any(address in net for net in PRIVATE_NETS) or (rfc_6333 and address in RFC_6333_NET)


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.strip("[]")) == ipaddress.ip_address(b.strip("[]"))
    except ValueError:
        return a.strip("[]").lower() == b.strip("[]").lower()


def received_uri(rcv) -> str:
    """create_rcv_uri(): sip:<source ip>:<source port>[;transport=<proto>] (no transport for UDP)."""
    host = f"[{rcv.src_host}]" if ":" in rcv.src_host else rcv.src_host
    proto = "" if rcv.proto == "udp" else f";transport={rcv.proto}"
    return f"sip:{host}:{rcv.src_port}{proto}"


class Module(ModuleBase):
    """nathelper: NAT tests, Contact/SDP fixing, received for registrar, keepalive pings of usrloc contacts."""

    exports = EXPORTS

    def init(self) -> None:
        self.natping_interval = self.int_param("natping_interval")
        self.ping_nated_only = bool(self.int_param("ping_nated_only"))
        self.natping_tcp = bool(self.int_param("natping_tcp"))
        self.sipping_bflag = self.param("sipping_bflag")
        self.sipping_from = str(self.param("sipping_from") or "")
        self.sipping_method = str(self.param("sipping_method") or "OPTIONS")
        self.nortpproxy = str(self.param("nortpproxy_str") or "").rstrip("\r\n")
        oldip_skip = str(self.param("oldip_skip") or "")
        self.skip_old = {kind for kind in "co" if kind in oldip_skip}
        from opensips_py.modules.registrar import _avp_name
        self.received_avp = _avp_name(self.param("received_avp"))
        self.enabled = True
        self._armed = False
        self.pings_sent = 0
        self._seq = itertools.count(1)
        self.ul = None
        if self.sipping_bflag and not self.sipping_from:
            raise ModuleInitError("nathelper: sipping_bflag needs sipping_from")
        if self.natping_interval > 0:
            self.ul = getattr(self.core, "modules", {}).get("usrloc")
            if self.ul is None or not hasattr(self.ul, "iter_contacts"):
                raise ModuleInitError("nathelper: natping_interval needs the usrloc module")
            self.core.add_timer(0.0, self._natping_timer)

    # ---------------------------------------------------------------------------------- nat_uac_test()
    def nat_uac_test(self, ctx, flags) -> int:
        """True (1) when any selected test holds, else -1."""
        msg, rcv = ctx.msg, ctx.received
        if msg is None or rcv is None:
            return -1
        tests = flag_mask(flags, NAT_UAC_BITS)
        rfc_6333 = bool(tests & RFC_6333)
        try:
            via = msg.via1
            if tests & RPORT and rcv.src_port != (via.port or 5060):
                return 1
            if tests & V_RCVD and (via.received is not None or not _same_ip(via.host, rcv.src_host)):
                return 1
            contacts = msg.contacts if tests & (C_1918 | C_RCVD | C_RPORT) else []
            uris = [c.uri for c in contacts if not c.is_star]
            if tests & C_1918 and any(is_private(u.host or "", rfc_6333) for u in uris):
                return 1
            if tests & S_1918 and self._sdp_private(msg, rfc_6333):
                return 1
            if tests & V_1918 and is_private(via.host, rfc_6333):
                return 1
            if tests & C_RCVD and any(not _same_ip(u.host or "", rcv.src_host) for u in uris):
                return 1
            if tests & C_RPORT and any((u.port or (5061 if u.scheme == "sips" else 5060)) != rcv.src_port
                                       for u in uris):
                return 1
        except SIPParseError:
            return -1
        return -1

    @staticmethod
    def _sdp_private(msg, rfc_6333: bool) -> bool:
        sdp = msg.sdp
        if sdp is None:
            return False
        connections = [sdp.connection] + [m.connection for m in sdp.media]
        return any(c is not None and is_private(c.host, rfc_6333) for c in connections)

    # ---------------------------------------------------------------------------------- Contact rewriting
    def _state(self, ctx) -> dict:
        return ctx.module_state.setdefault("nathelper", {})

    def _rewrite_contacts(self, ctx, change) -> int:
        """Apply `change(contact) -> new text` to every Contact value, one lump per Contact line."""
        msg = ctx.msg
        fields = msg.header_fields("contact")
        if not fields:
            return -1
        for field in fields:
            value = field.raw[field.raw.index(":") + 1:].strip()
            try:
                contacts = parse_contacts(value)
            except SIPParseError:
                return -1
            if any(c.is_star for c in contacts):
                return -1
            parts = [change(c) for c in contacts]
            if any(p is None for p in parts):
                return -1
            msg.replace_field(field.index, ", ".join(parts))
        return 1

    def fix_nated_contact(self, ctx, uri_params: str | None = None, flags: str | None = None) -> int:
        """Every Contact URI gets the source IP:port (other URI parts kept); uri_params go after the port;
        preserve-uri (4.0) keeps the old host:port in ;org=. A second call on a message fails (-1)."""
        msg, rcv = ctx.msg, ctx.received
        if msg is None or rcv is None:
            return -1
        state = self._state(ctx)
        if state.get("contact_fixed"):
            self.core.logger.error("fix_nated_contact(): second attempt to change the Contact", "nathelper")
            return -1
        host = f"[{rcv.src_host}]" if ":" in rcv.src_host else rcv.src_host
        preserve = bool(flags and "preserve-uri" in str(flags))

        def change(contact):
            try:
                uri = contact.uri
            except SIPParseError:
                return None
            extra = uri_params or ""
            if preserve:
                import base64
                extra += ";org=" + base64.b64encode((uri.hostport or "").encode()).decode()
            new_uri = uri.replace(host=host, port=rcv.src_port)
            text = str(new_uri.raw)
            if extra:
                if new_uri.params_text or new_uri.headers_text:
                    cut = len(text) - len(new_uri.params_text or "") - len(new_uri.headers_text or "")
                    text = text[:cut] + extra + text[cut:]
                else:
                    text += extra
            raw = contact.raw
            start = raw.find(contact.uri_text)
            if start < 0:
                return None
            if not contact.bracketed and (uri_params or preserve):
                return raw[:start] + f"<{text}>" + raw[start + len(contact.uri_text):]
            return raw[:start] + text + raw[start + len(contact.uri_text):]

        result = self._rewrite_contacts(ctx, change)
        if result > 0:
            state["contact_fixed"] = True
        return result

    def restore_nated_ruri(self, ctx) -> int:
        """4.0: an R-URI with ;org= gets its original host:port back; $du keeps where it pointed."""
        import base64
        try:
            uri = URI(ctx.ruri())
        except SIPParseError:
            return -1
        org = uri.params.get("org")
        if not org:
            return -1
        try:
            hostport = base64.b64decode(org).decode()
        except (ValueError, UnicodeDecodeError):
            return -1
        ctx.dst_uri = str(uri.without_params("org").raw)
        host, _, port = hostport.rpartition(":") if not hostport.endswith("]") else (hostport, "", "")
        if not host:
            host, port = hostport, ""
        ctx.new_uri = str(uri.without_params("org").replace(host=host, port=int(port) if port else None).raw)
        return 1

    def add_rcv_param(self, ctx, uri_flag: int | None = None) -> int:
        """;received="sip:ip:port[;transport=x]" on every Contact: a header parameter, or a URI parameter
        when uri_flag > 0."""
        msg, rcv = ctx.msg, ctx.received
        if msg is None or rcv is None:
            return -1
        param = f';received="{received_uri(rcv)}"'
        in_uri = bool(uri_flag and uri_flag > 0)

        def change(contact):
            raw = contact.raw
            if not in_uri:
                return raw + param
            start = raw.find(contact.uri_text)
            if start < 0:
                return None
            end = start + len(contact.uri_text)
            if not contact.bracketed:
                return raw[:start] + f"<{contact.uri_text}{param}>" + raw[end:]
            return raw[:end] + param + raw[end:]

        return self._rewrite_contacts(ctx, change)

    def fix_nated_register(self, ctx) -> int:
        """The source address as a URI into received_avp, for registrar to store as `received`."""
        rcv = ctx.received
        if ctx.msg is None or rcv is None:
            return -1
        if self.received_avp:
            ctx.avps.setdefault(self.received_avp, []).insert(0, received_uri(rcv))
        return 1

    # ---------------------------------------------------------------------------------- SDP
    def fix_nated_sdp(self, ctx, flags, ip: str | None = None, sdp_lines: str | None = None) -> int:
        """c=/o= to the source address (or `ip`), a=direction:active, the nortpproxy line, extra lines; the old
        addresses stay as a=oldcip:/a=oldoip: unless oldip_skip says not. 0.0.0.0 (hold) is kept unless
        rewrite-null-ips."""
        msg, rcv = ctx.msg, ctx.received
        if msg is None or rcv is None:
            return -1
        mask = flag_mask(flags, SDP_FLAG_BITS)
        try:
            sdp = msg.sdp
        except SIPParseError:
            return -1
        if sdp is None:
            self.core.logger.error("fix_nated_sdp(): no SDP body", "nathelper")
            return -1
        from opensips_py.sip.sdp import SessionDescription
        sdp = SessionDescription.parse(msg.lumps.body if msg.lumps.body is not None else msg.body)
        new_ip = ip or rcv.src_host
        family = "IP6" if ":" in new_ip else "IP4"
        if mask & (ADD_ADIRECTION | ADD_ANORTPPROXY) or sdp_lines:
            if mask & ADD_ADIRECTION:
                sdp.add_attribute("direction", "active")
            if mask & ADD_ANORTPPROXY and self.nortpproxy.startswith("a="):
                name, _, value = self.nortpproxy[2:].partition(":")
                sdp.add_attribute(name, value or None)
        for kind, letter, old_attr in (("o", FIX_ORGIP, "oldoip"), ("c", FIX_MEDIP, "oldcip")):
            if not mask & letter:
                continue
            for section in [sdp, *sdp.media]:
                for i, line in enumerate(list(section.lines)):
                    if line.type != kind:
                        continue
                    fields = line.value.split()
                    addr_at = 5 if kind == "o" else 2
                    if len(fields) <= addr_at:
                        continue
                    old = fields[addr_at].split("/", 1)[0]
                    if old in ("0.0.0.0", "::") and not mask & FORCE_NULL_ADDR:
                        continue
                    if old == new_ip:
                        continue
                    fields[addr_at - 1] = family
                    fields[addr_at] = new_ip
                    section.lines[i] = type(line)(line.type, " ".join(fields), line.eol)
                    if kind not in self.skip_old:
                        section.add_attribute(old_attr + ("6" if ":" in old else ""), old)
        body = sdp.serialize()
        if sdp_lines:
            body = body + sdp_lines.encode() if isinstance(body, bytes) else body + sdp_lines
        msg.set_body(body if isinstance(body, bytes) else body.encode())
        return 1

    # ---------------------------------------------------------------------------------- pinging
    def _natping_timer(self, now: float) -> None:
        """The first call (at start-up) only arms the timer: the first pings go out one interval later."""
        try:
            if self._armed and self.enabled:
                self.ping_contacts(now)
            self._armed = True
        finally:
            self.core.add_timer(now + self.natping_interval, self._natping_timer)

    def ping_contacts(self, now: float) -> int:
        """nh_timer(): one keepalive per (NATed) contact: an OPTIONS (sipping_bflag) or 4 zero bytes over
        UDP (a CRLF CRLF over a stream connection, with natping_tcp). Returns how many were sent."""
        nat = self.ul.nat_bflag
        registrar = getattr(self.core, "modules", {}).get("registrar")
        sockets = getattr(registrar, "_sockets", {}) if registrar is not None else {}
        sent = 0
        for _, _, contact in self.ul.iter_contacts():
            if not contact.valid(now):
                continue
            if self.ping_nated_only and (not nat or str(nat) not in contact.cflags):
                continue
            try:
                target = URI(contact.received or contact.uri)
            except SIPParseError:
                continue
            proto = (target.transport or ("tls" if target.scheme == "sips" else "udp")).lower()
            if proto != "udp" and not self.natping_tcp:
                continue
            host = (target.maddr or target.host or "").strip("[]")
            ip = self.core.resolver.resolve(host) if hasattr(self.core, "resolver") else host
            if not ip:
                continue
            port = target.port or (5061 if proto == "tls" else 5060)
            sock = sockets.get(contact.socket) if contact.socket else None
            if sock is None or sock.proto != proto:
                sock = self.core.send_socket(proto, ip)
            if sock is None:
                continue
            conn = self.core.connection_for(proto, ip, port) if proto != "udp" else None
            if proto != "udp" and conn is None:
                continue  # a keepalive never opens a connection
            if self.sipping_bflag and str(self.sipping_bflag) in contact.cflags:
                data = self.options_ping(contact, sock, proto)
            else:
                data = UDP_PING if proto == "udp" else CRLF_PING
            self.core.process.outbox.append(Send(data, proto, ip, port, sock, conn))
            sent += 1
        self.pings_sent += sent
        return sent

    def options_ping(self, contact, sock, proto: str) -> bytes:
        """sip_pinger.h build_sipping(): a stateless request from sipping_from to the contact."""
        n = next(self._seq)
        host, port = sock.via_host, sock.via_port
        branch = "z9hG4bK" + hashlib.md5(f"{contact.uri}{n}".encode(), usedforsecurity=False).hexdigest()[:16]
        lines = [f"{self.sipping_method} {contact.uri} SIP/2.0",
                 f"Via: SIP/2.0/{proto.upper()} {host}:{port};branch={branch}"]
        if contact.path:
            lines.append(f"Route: {contact.path}")
        lines += [f"From: <{self.sipping_from}>;tag={n:08x}", f"To: <{contact.uri}>",
                  f"Call-ID: opensips-py-ping-{n:08x}@{host}", f"CSeq: 1 {self.sipping_method}",
                  "Max-Forwards: 70", "Content-Length: 0"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    # ---------------------------------------------------------------------------------- MI
    def mi_commands(self) -> dict:
        @recipes((), ("status",))
        def enable_ping(params):
            if "status" in params:
                self.enabled = bool(get_int(params, "status"))
                return "OK"
            return {"Status": int(self.enabled)}

        return {"nh_enable_ping": enable_ping, "enable_ping": enable_ping}
