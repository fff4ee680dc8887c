"""registrar: REGISTER processing (RFC 3261 §10) into usrloc, and lookup() of registered contacts."""
from __future__ import annotations

from opensips_py.modules.exports import (
    ALL, B, F, L, O, R, Arg, ArgKind, Dependency, Function, ModParam, ModuleExports, ParamType, VersionSpan,
)

# 3.4+ save() flag names (lib/reg/save_flags.c). The last four take "=value" (max-contacts=5, …).
SAVE_FLAGS = (
    "memory-only", "no-reply", "socket-header", "path-strict", "path-lazy", "path-off", "path-received",
    "force-registration", "only-request-contacts", "max-contacts", "min-expires", "max-expires", "matching-mode",
)
# 3.4+ lookup() flag names (lib/reg/lookup.c). ua-filtering and max-ping-latency take "=value".
LOOKUP_FLAGS = (
    "method-filtering", "no-branches", "global", "sort-by-latency", "branch", "to-branches-only",
    "case-insensitive", "extended-regexp", "ua-filtering", "max-ping-latency",
)

EXPORTS = ModuleExports(
    name="registrar",
    doc="Registrar: save() stores the REGISTER's bindings in usrloc and replies through signaling; "
        "lookup() turns an AoR into the R-URI and branches.",
    functions=(
        Function(
            "save",
            (Arg("domain", static=True), Arg("flags", optional=True), Arg("aor", optional=True),
             Arg("ownership_tag", optional=True)),
            routes=R | O, versions=VersionSpan(until="3.4"),
            doc="3.2 flags are letters parsed per call: m r o s v f cN eN EN p0/p1/p2 M0/M1/M<param>; an "
                "unknown letter is ignored with a warning.",
        ),
        Function(
            "save",
            (Arg("domain", static=True), Arg("flags", optional=True, choices=SAVE_FLAGS),
             Arg("aor", optional=True), Arg("ownership_tag", optional=True)),
            routes=R | O, versions=VersionSpan(since="3.4"),
            doc="domain names the usrloc table (\"location\"). Flags: comma list of names, max-contacts=N, "
                "min-expires=N, max-expires=N, matching-mode=V; 3.2 letters are a start-up error. "
                "1 ok, -2 error (reply sent), -1 reply failed.",
        ),
        Function(
            "lookup", (Arg("domain", static=True), Arg("flags", optional=True), Arg("aor", optional=True)),
            routes=R | F | O, versions=VersionSpan(until="3.4"),
            doc="3.2 flags are letters: b B r m u/re/ i e g yN Y.",
        ),
        Function(
            "lookup",
            (Arg("domain", static=True), Arg("flags", optional=True, choices=LOOKUP_FLAGS),
             Arg("aor", optional=True)),
            routes=R | F | O, versions=VersionSpan(since="3.4"),
            doc="1 found; 2 only push-notification contacts; -1 none; -2 method not allowed; -3 error. "
                "ua-filtering=/re/ and max-ping-latency=N take values.",
        ),
        Function(
            "remove",
            (Arg("domain", static=True), Arg("aor"), Arg("contact", optional=True), Arg("next_hop", optional=True),
             Arg("sip_instance", optional=True)),
            routes=R | O, versions=VersionSpan(until="3.6"),
        ),
        Function(
            "remove",
            (Arg("domain", static=True), Arg("aor"), Arg("contact", optional=True), Arg("next_hop", optional=True),
             Arg("sip_instance", optional=True), Arg("bflag", ArgKind.FLAG, optional=True)),
            routes=R | O, versions=VersionSpan(since="3.6"),
            doc="bflag: a branch flag name (C: since 3.6).",
        ),
        Function(
            "remove_ip_port",
            (Arg("ip"), Arg("port", ArgKind.INT), Arg("domain", static=True), Arg("aor", optional=True)),
            routes=ALL, versions=VersionSpan(since="3.4"),
            doc="C: since 3.4 (the reference says 4.0).",
        ),
        Function(
            "is_registered", (Arg("domain", static=True), Arg("aor", optional=True)), routes=R | F | O | B | L,
        ),
        Function(
            "is_contact_registered",
            (Arg("domain", static=True), Arg("aor", optional=True), Arg("contact", optional=True),
             Arg("callid", optional=True)),
            routes=R | F | O | B | L,
        ),
        Function(
            "is_ip_registered",
            (Arg("domain", static=True), Arg("aor", optional=True), Arg("ip_var", ArgKind.VAR)),
            routes=R | F | O | B | L, versions=VersionSpan(until="3.4"),
        ),
        Function(
            "is_ip_registered",
            (Arg("domain", static=True), Arg("aor", optional=True), Arg("ip_var", ArgKind.VAR),
             Arg("port_var", ArgKind.VAR, optional=True)),
            routes=R | F | O | B | L, versions=VersionSpan(since="3.4"),
            doc="C: the port variable exists since 3.4 (the reference says 3.6).",
        ),
        Function("add_sock_hdr", (Arg("hdr_name"),), routes=R | F | O | B | L),
        Function(
            "pn_process_purr", (Arg("domain", static=True),), routes=ALL, is_async=True,
            doc="RFC 8599 PURR, for REGISTER requests. Exported only as an async command (acmd_export_t, "
                "which carries no route mask): callable only inside async().",
        ),
    ),
    params=(
        ModParam("default_expires", ParamType.INT, 3600),
        ModParam("min_expires", ParamType.INT, 60, doc="0 disables the check."),
        ModParam("max_expires", ParamType.INT, 0, doc="0 disables the check."),
        ModParam("default_q", ParamType.INT, None, doc="q x 1000; unset: no q."),
        ModParam("case_sensitive", ParamType.INT, 1),
        ModParam(
            "tcp_persistent_flag", ParamType.STR, None, flag_name=True,
            doc="A message flag name: keep the TCP connection for the registration's lifetime.",
        ),
        ModParam("realm_prefix", ParamType.STR, ""),
        ModParam("received_param", ParamType.STR, "received"),
        ModParam("received_avp", ParamType.STR, None, doc="An AVP spec; must match nathelper's."),
        ModParam("retry_after", ParamType.INT, 0),
        ModParam("sock_hdr_name", ParamType.STR, None),
        ModParam("mcontact_avp", ParamType.STR, None),
        ModParam("attr_avp", ParamType.STR, None),
        ModParam("gruu_secret", ParamType.STR, None, doc="Unset: the built-in \"0p3nS1pS\" is used."),
        ModParam("disable_gruu", ParamType.INT, 1),
        ModParam("max_contacts", ParamType.INT, 0),
        ModParam("max_username_len", ParamType.INT, 64),
        ModParam("max_domain_len", ParamType.INT, 64),
        ModParam("max_aor_len", ParamType.INT, 256),
        ModParam("max_contact_len", ParamType.INT, 255),
        ModParam(
            "allow_dup_cseq", ParamType.INT, 0, versions=VersionSpan(since="3.4", until="4.0"),
            doc="C: since 3.4.",
        ),
        ModParam("allow_dup_cseq", ParamType.INT, 1, versions=VersionSpan(since="4.0")),
        ModParam("expires_max_deviation", ParamType.INT, 0, versions=VersionSpan(since="3.4")),
        ModParam("pn_enable", ParamType.INT, 0),
        ModParam("pn_providers", ParamType.STR, None),
        ModParam("pn_ct_match_params", ParamType.STR, "pn-provider, pn-prid, pn-param"),
        ModParam("pn_pnsreg_interval", ParamType.INT, 130),
        ModParam("pn_trigger_interval", ParamType.INT, 120),
        ModParam("pn_skip_pn_interval", ParamType.INT, 0),
        ModParam("pn_refresh_timeout", ParamType.INT, 6),
        ModParam("pn_enable_purr", ParamType.INT, 0),
    ),
    stats=("max_expires", "max_contacts", "default_expire", "accepted_regs", "rejected_regs"),
    deps=(
        Dependency(("usrloc",), doc="DEP_ABORT."),
        Dependency(("signaling",), doc="DEP_ABORT: replies go through signaling."),
        Dependency(("tm",), when_param="pn_enable", unless_values=(0,)),
        Dependency(("event_routing",), when_param="pn_enable", unless_values=(0,)),
    ),
)


# ================================================================================================ implementation
#
# save() follows registrar/save.c and lib/reg (3.6): parse the REGISTER, compute the AoR, then either remove
# everything (Contact: *), report (no Contact), or insert/update/delete each binding, then reply through
# signaling with one Contact header listing every valid binding and its remaining seconds (reply.c).
# Errors set an "rerrno" whose code, reason and P-Registrar-Error text come from lib/reg/rerrno.c.

import re  # noqa: E402
import time as _time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.script.context import Branch  # noqa: E402
from opensips_py.script.core_functions import MAX_BRANCHES  # noqa: E402
from opensips_py.sip import URI, SIPParseError  # noqa: E402
from opensips_py.sip.uri import unescape  # noqa: E402

# rerrno: (code, P-Registrar-Error text)
R_FINE = (200, "No problem")
R_INTERNAL = (500, "Server Internal Error")
R_INV_CSEQ = (400, "Invalid CSeq number")
R_AOR_LEN = (500, "Address Of Record too long")
R_AOR_PARSE = (400, "Error while parsing AOR")
R_INV_Q = (400, "Invalid q param in contact")
R_PARSE = (400, "Message parse error")
R_TO_MISS = (400, "To header not found")
R_CID_MISS = (400, "Call-ID header not found")
R_CS_MISS = (400, "CSeq header not found")
R_PARSE_EXP = (400, "Expires parse error")
R_PARSE_CONT = (400, "Contact parse error")
R_STAR_EXP = (400, "* used in contact and expires is not zero")
R_STAR_CONT = (400, "* used in contact and more than 1 contact")
R_UNESCAPE = (400, "Error while unescaping username")
R_TOO_MANY = (503, "Too many registered contacts")
R_CONTACT_LEN = (400, "Contact/received too long")
R_CALLID_LEN = (400, "Callid too long")
R_PARSE_PATH = (400, "Path parse error")
R_PATH_UNSUP = (420, "No support for found Path indicated")
REASONS = {200: "OK", 400: "Bad Request", 420: "Bad Extension", 500: "Server Internal Error",
           503: "Service Unavailable"}

CALLID_MAX_SIZE = 255
UA_MAX_SIZE = 255
RECEIVED_MAX_SIZE = 255

# parser/msg_parser.h METHOD_* bits, as stored in the location table's `methods` column
METHOD_BITS = {"INVITE": 1, "CANCEL": 2, "ACK": 4, "BYE": 8, "INFO": 16, "OPTIONS": 32, "UPDATE": 64,
               "REGISTER": 128, "MESSAGE": 256, "SUBSCRIBE": 512, "NOTIFY": 1024, "PRACK": 2048, "REFER": 4096,
               "PUBLISH": 8192}
METHOD_OTHER = 16384
ALL_METHODS = 0xFFFFFFFF

# lookup() return codes (lib/reg/lookup.h)
LOOKUP_OK, LOOKUP_PN_SENT, LOOKUP_NO_RESULTS, LOOKUP_METHOD_UNSUP, LOOKUP_ERROR = 1, 2, -1, -2, -3


class RegistrarError(Exception):
    """save() failed with an rerrno (code, text)."""

    def __init__(self, rerr: tuple[int, str]) -> None:
        super().__init__(rerr[1])
        self.rerr = rerr


@dataclass
class SaveFlags:
    """save()'s flags (lib/reg/save_flags.c; 3.2 letters in registrar/reg_mod.c)."""

    names: set[str] = field(default_factory=set)  # memory-only, no-reply, path-*, force-registration, …
    max_contacts: int = 0
    min_expires: int = 0
    max_expires: int = 0
    match_mode: int | None = None  # None: usrloc's matching_mode
    match_params: tuple[str, ...] = ()

    @property
    def path(self) -> bool:
        return bool(self.names & {"path-strict", "path-lazy", "path-off", "path-received"})


@dataclass
class LookupFlags:
    names: set[str] = field(default_factory=set)
    ua_re: re.Pattern | None = None
    max_latency: int = 0


def methods_mask(names) -> int:
    mask = 0
    for name in names:
        mask |= METHOD_BITS.get(name.strip().strip('"').upper(), METHOD_OTHER)
    return mask


def _int(text: str) -> int:
    text = text.strip()
    if not text.isdigit():
        raise ValueError(text)
    return int(text)


class Module(ModuleBase):
    """registrar: save() / lookup() and the is_*registered() checks over usrloc."""

    exports = EXPORTS

    def init(self) -> None:
        modules = getattr(self.core, "modules", {})
        self.ul = modules.get("usrloc")
        if self.ul is None or not hasattr(self.ul, "register_domain"):
            raise ModuleInitError("registrar: needs the usrloc module loaded")
        self.signaling = modules.get("signaling")
        self.default_expires = self.int_param("default_expires")
        self.min_expires = self.int_param("min_expires")
        self.max_expires = self.int_param("max_expires")
        # reg_init_globals(): bring default/max expires in line with each other
        if self.max_expires and self.max_expires < self.min_expires:
            self.max_expires = self.min_expires
        if self.default_expires < self.min_expires:
            self.default_expires = self.min_expires
        if self.max_expires and self.default_expires > self.max_expires:
            self.default_expires = self.max_expires
        default_q = self.param("default_q")
        self.default_q = -1 if default_q is None else max(0, min(int(default_q), 1000))
        self.case_sensitive = bool(self.int_param("case_sensitive"))
        self.realm_prefix = str(self.param("realm_prefix") or "")
        self.received_param = str(self.param("received_param") or "received")
        self.received_avp = _avp_name(self.param("received_avp"))
        self.attr_avp = _avp_name(self.param("attr_avp"))
        self.retry_after = self.int_param("retry_after")
        self.sock_hdr_name = self.param("sock_hdr_name")
        self.max_contacts = self.int_param("max_contacts")
        self.max_username_len = self.int_param("max_username_len")
        self.max_domain_len = self.int_param("max_domain_len")
        self.max_aor_len = self.int_param("max_aor_len")
        self.max_contact_len = self.int_param("max_contact_len")
        self.allow_dup_cseq = bool(self.int_param("allow_dup_cseq")) if "allow_dup_cseq" in self.params else False
        self._stats = {"accepted_regs": 0, "rejected_regs": 0}
        self._save_flags: dict[str | None, SaveFlags] = {}
        self._lookup_flags: dict[str | None, LookupFlags] = {}
        self._sockets: dict[str, Any] = {}
        for sock in getattr(self.core, "sockets", []) or []:
            self._sockets[str(sock)] = sock
            if sock.advertised_host or sock.advertised_port:
                self._sockets[f"{sock.proto}:{sock.via_host}:{sock.via_port}"] = sock
        for name in self._domains_in_script():
            self.ul.register_domain(name)

    def _domains_in_script(self) -> list[str]:
        """The tables named by registrar calls (OpenSIPS registers them when fixing the calls up)."""
        config = getattr(self.core, "config", None)
        if config is None:
            return []
        from opensips_py.config import ast
        from opensips_py.config.check.context import walk_nodes
        names: list[str] = []
        calls = {"save", "lookup", "remove", "remove_ip_port", "is_registered", "is_contact_registered",
                 "is_ip_registered", "pn_process_purr"}
        for node in walk_nodes(config):
            if isinstance(node, ast.Call) and node.name in calls and node.args:
                arg = node.args[2] if node.name == "remove_ip_port" and len(node.args) > 2 else node.args[0]
                if isinstance(arg, (ast.Str, ast.FoldedStr)) and arg.value not in names:
                    names.append(arg.value)
        return names

    def _domain(self, name: str):
        domain = self.ul.domains.get(name)
        return domain if domain is not None else self.ul.register_domain(name)

    def stats(self) -> dict[str, int]:
        return {"max_expires": self.max_expires, "max_contacts": self.max_contacts,
                "default_expire": self.default_expires, **self._stats}

    # ---------------------------------------------------------------------------------- flags
    def save_flags(self, text: str | None) -> SaveFlags:
        """3.4+ names ("force-registration,max-contacts=2") or 3.2 letters ("fc2"): told apart by the text."""
        cached = self._save_flags.get(text)
        if cached is not None:
            return cached
        flags = SaveFlags(max_contacts=self.max_contacts, min_expires=self.min_expires,
                          max_expires=self.max_expires)
        tokens = [t.strip() for t in (text or "").split(",") if t.strip()]
        names = set(SAVE_FLAGS)
        if tokens and all(t.split("=", 1)[0].strip() in names for t in tokens):
            for token in tokens:
                name, _, value = (p.strip() for p in token.partition("="))
                try:
                    if name == "max-contacts":
                        flags.max_contacts = _int(value)
                    elif name == "min-expires":
                        flags.min_expires = _int(value)
                    elif name == "max-expires":
                        flags.max_expires = _int(value)
                    elif name == "matching-mode":
                        self._matching_mode(flags, value)
                    else:
                        flags.names.add(name)
                except ValueError:
                    self.core.logger.error(f"save(): {name} value {value!r} is not an integer", "registrar")
        elif tokens:
            self._save_letters(flags, "".join(tokens))
        if len(self._save_flags) < 1024:
            self._save_flags[text] = flags
        return flags

    @staticmethod
    def _matching_mode(flags: SaveFlags, value: str) -> None:
        if value.startswith("0"):
            flags.match_mode = 0
        elif value.startswith("1"):
            flags.match_mode = 1
        elif value.startswith("<") and value.endswith(">") and len(value) >= 3:
            flags.match_mode = 2
            flags.match_params = tuple(p.strip().lower() for p in value[1:-1].split(";") if p.strip())

    def _save_letters(self, flags: SaveFlags, text: str) -> None:
        letters = {"m": "memory-only", "r": "no-reply", "o": "only-request-contacts", "s": "socket-header",
                   "v": "path-received", "f": "force-registration"}
        i = 0
        while i < len(text):
            ch = text[i]
            i += 1
            if ch in letters:
                flags.names.add(letters[ch])
                if ch == "v":
                    flags.names.add("path-lazy") if not flags.path else None
            elif ch in "ceE":
                j = i
                while j < len(text) and text[j].isdigit():
                    j += 1
                value = int(text[i:j] or 0)
                i = j
                if ch == "c":
                    flags.max_contacts = value
                elif ch == "e":
                    flags.min_expires = value
                else:
                    flags.max_expires = value
            elif ch == "p" and i < len(text) and text[i] in "012":
                flags.names.add({"0": "path-off", "1": "path-lazy", "2": "path-strict"}[text[i]])
                i += 1
            elif ch == "M" and i < len(text):
                if text[i] in "01":
                    flags.match_mode = int(text[i])
                    i += 1
                elif text[i] == "<" and ">" in text[i:]:
                    end = text.index(">", i)
                    self._matching_mode(flags, text[i:end + 1])
                    i = end + 1
            else:
                self.core.logger.warning(f"save(): unknown flag {ch!r} ignored", "registrar")

    def lookup_flags(self, text: str | None) -> LookupFlags:
        cached = self._lookup_flags.get(text)
        if cached is not None:
            return cached
        flags = LookupFlags()
        tokens = [t.strip() for t in (text or "").split(",") if t.strip()]
        ua_pattern = None
        re_flags = 0
        if tokens and all(t.split("=", 1)[0].strip() in LOOKUP_FLAGS for t in tokens):
            for token in tokens:
                name, _, value = (p.strip() for p in token.partition("="))
                if name == "ua-filtering":
                    ua_pattern = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == "/" else value
                elif name == "max-ping-latency":
                    flags.max_latency = int(value) if value.isdigit() else 0
                elif name == "case-insensitive":
                    re_flags |= re.IGNORECASE
                elif name != "extended-regexp":
                    flags.names.add(name)
        elif tokens:
            text = "".join(tokens)
            letters = {"b": "no-branches", "B": "to-branches-only", "r": "branch", "m": "method-filtering",
                       "g": "global", "Y": "sort-by-latency"}
            i = 0
            while i < len(text):
                ch = text[i]
                i += 1
                if ch in letters:
                    flags.names.add(letters[ch])
                elif ch == "u" and i < len(text) and text[i] == "/" and "/" in text[i + 1:]:
                    end = text.index("/", i + 1)
                    ua_pattern = text[i + 1:end]
                    i = end + 1
                elif ch == "i":
                    re_flags |= re.IGNORECASE
                elif ch == "y":
                    j = i
                    while j < len(text) and text[j].isdigit():
                        j += 1
                    flags.max_latency = int(text[i:j] or 0)
                    i = j
        if ua_pattern is not None:
            try:
                flags.ua_re = re.compile(ua_pattern, re_flags)
                flags.names.add("ua-filtering")
            except re.error:
                self.core.logger.error(f"lookup(): bad ua-filtering regex {ua_pattern!r}", "registrar")
        if len(self._lookup_flags) < 1024:
            self._lookup_flags[text] = flags
        return flags

    # ---------------------------------------------------------------------------------- the AoR
    def extract_aor(self, uri_text: str) -> str:
        """lib/reg/sip_msg.c extract_aor(): user unescaped, [@domain minus realm_prefix], domain lowercased
        (the user too with case_sensitive=0)."""
        try:
            uri = URI(uri_text)
        except SIPParseError:
            raise RegistrarError(R_AOR_PARSE) from None
        user = uri.user or ""
        host = (uri.host or "").strip("[]") if uri.host and uri.host.startswith("[") else (uri.host or "")
        if len(user) + len(host) + 1 > self.max_aor_len or len(user) > self.max_username_len \
                or len(host) > self.max_domain_len:
            raise RegistrarError(R_AOR_LEN)
        try:
            user = unescape(user)
        except ValueError:
            raise RegistrarError(R_UNESCAPE) from None
        if self.ul.use_domain:
            if self.realm_prefix and len(self.realm_prefix) < len(host) and host.startswith(self.realm_prefix):
                host = host[len(self.realm_prefix):]
            host = uri.host if uri.host and uri.host.startswith("[") else host
            aor = f"{user}@{host.lower()}" if user else host.lower()
        else:
            aor = user
        if not self.case_sensitive:
            aor = aor.lower()
        return aor

    # ---------------------------------------------------------------------------------- save()
    def save(self, ctx, domain: str, flags: str | None = None, aor: str | None = None,
             ownership_tag: str | None = None) -> int:
        """1 saved and replied; -2 error (an error reply was sent); -1 the reply could not be sent."""
        msg = ctx.msg
        if msg is None:
            return -1
        if not msg.is_request:
            self.core.logger.error("save() in a reply route needs tm's transaction (not supported yet)",
                                   "registrar")
            return -1
        sflags = self.save_flags(flags)
        udomain = self._domain(domain)
        headers: list[str] = []
        try:
            self._save(ctx, udomain, sflags, aor, headers)
        except RegistrarError as error:
            self._stats["rejected_regs"] += 1
            if "no-reply" not in sflags.names:
                self._reply(ctx, error.rerr, headers)
            return -2
        self._stats["accepted_regs"] += 1
        if "no-reply" in sflags.names:
            return 1
        return 1 if self._reply(ctx, R_FINE, headers) > 0 else -1

    def _save(self, ctx, udomain, sflags: SaveFlags, aor_text: str | None, headers: list[str]) -> None:
        msg = ctx.msg
        # parse_reg_headers()
        try:
            if msg.to is None:
                raise RegistrarError(R_TO_MISS)
            if not msg.call_id:
                raise RegistrarError(R_CID_MISS)
            if msg.cseq is None:
                raise RegistrarError(R_CS_MISS)
        except SIPParseError:
            raise RegistrarError(R_PARSE) from None
        try:
            expires_hf = msg.expires
        except SIPParseError:
            raise RegistrarError(R_PARSE_EXP) from None
        try:
            contacts = msg.contacts
            star = msg.contact_star
        except SIPParseError:
            raise RegistrarError(R_PARSE_CONT) from None
        # check_contacts()
        if star:
            if expires_hf is None or expires_hf != 0:
                raise RegistrarError(R_STAR_EXP)
            if len(contacts) > 1 or msg.header_count("contact") > 1:
                raise RegistrarError(R_STAR_CONT)
        for contact in contacts:
            if len(contact.uri_text) > self.max_contact_len or \
                    len(contact.params.get("received") or "") > RECEIVED_MAX_SIZE:
                raise RegistrarError(R_CONTACT_LEN)
        now = int(ctx.now)
        aor = self.extract_aor(aor_text if aor_text else msg.to.uri_text)
        if not aor:
            raise RegistrarError(R_AOR_PARSE)
        ul = self.ul
        state = _SaveState(self, ctx, sflags, now, expires_hf)
        if star:
            ul.delete_record(udomain, aor, memory_only="memory-only" in sflags.names)
            return
        record = ul.get_record(udomain, aor)
        if not contacts:
            if record is not None:
                headers.extend(self._contact_header(ctx, record, now, sflags))
                ul.release_record(udomain, record) if ul.db_only else None
            return
        info = state.message_info()
        if record is None:
            record = self._insert_contacts(state, udomain, aor, contacts, info)
        else:
            try:
                self._update_contacts(state, udomain, record, contacts, info)
            except RegistrarError:
                headers.extend(self._contact_header(ctx, record, now, sflags))
                ul.release_record(udomain, record)
                raise
        if record is not None:
            headers.extend(self._contact_header(ctx, record, now, sflags))
            ul.release_record(udomain, record)
        headers.extend(state.path_headers())

    def _insert_contacts(self, state: "_SaveState", udomain, aor: str, contacts, info: dict):
        """insert_contacts(): a new AoR."""
        ul = self.ul
        sflags = state.flags
        record = None
        num = 0
        try:
            for contact in contacts:
                expires = state.contact_expires(contact)
                if expires == 0:
                    continue
                if sflags.max_contacts and num >= sflags.max_contacts:
                    if "force-registration" not in sflags.names:
                        raise RegistrarError(R_TOO_MANY)
                    ul.delete_contact(udomain, record, record.contacts[0])
                else:
                    num += 1
                if record is None:
                    record = ul.insert_record(udomain, aor)
                cinfo = state.contact_info(contact, expires, info)
                code, found = ul.get_contact(record, contact.uri_text, cinfo["callid"], cinfo["cseq"] + 1,
                                             sflags.match_mode, sflags.match_params)
                if found is None:
                    state.mark_request_contact(ul.insert_contact(udomain, record, contact.uri_text, cinfo))
                else:
                    ul.update_contact(udomain, record, found, cinfo)
                    state.mark_request_contact(found)
        except RegistrarError:
            if record is not None:
                ul.delete_record(udomain, aor)
            raise
        return record

    def _update_contacts(self, state: "_SaveState", udomain, record, contacts, info: dict) -> None:
        """update_contacts(): an AoR that exists."""
        ul = self.ul
        sflags = state.flags
        now = state.now
        num = sum(1 for c in record.contacts if c.valid(now)) if sflags.max_contacts else 0
        for contact in contacts:
            expires = state.contact_expires(contact)
            cseq = info["cseq"] + (1 if self.allow_dup_cseq else 0)
            code, found = ul.get_contact(record, contact.uri_text, info["callid"], cseq, sflags.match_mode,
                                         sflags.match_params)
            if code == -1:
                raise RegistrarError(R_INV_CSEQ)
            if code == -2:
                continue  # a retransmission of what we already have
            if found is None:
                if expires == 0:
                    continue
                while sflags.max_contacts and num >= sflags.max_contacts:
                    if "force-registration" not in sflags.names:
                        raise RegistrarError(R_TOO_MANY)
                    valid = [c for c in record.contacts if c.valid(now)]
                    if not valid:
                        raise RegistrarError(R_INTERNAL)
                    ul.delete_contact(udomain, record, valid[-1])
                    num -= 1
                cinfo = state.contact_info(contact, expires, info)
                state.mark_request_contact(ul.insert_contact(udomain, record, contact.uri_text, cinfo))
                num += 1
                continue
            if expires == 0:
                found.flags = found.flags | 1 if "memory-only" in sflags.names else found.flags & ~1
                ul.delete_contact(udomain, record, found)
                continue
            if not found.valid(now):
                num += 1
            while sflags.max_contacts and num > sflags.max_contacts:
                if "force-registration" not in sflags.names:
                    raise RegistrarError(R_TOO_MANY)
                valid = [c for c in record.contacts if c.valid(now) and c is not found]
                if not valid:
                    raise RegistrarError(R_INTERNAL)
                ul.delete_contact(udomain, record, valid[-1])
                num -= 1
            ul.update_contact(udomain, record, found, state.contact_info(contact, expires, info))
            state.mark_request_contact(found)

    def _contact_header(self, ctx, record, now: int, sflags: SaveFlags) -> list[str]:
        """reply.c build_contact(): one Contact header, every valid binding with its seconds left."""
        only_request = "only-request-contacts" in sflags.names
        marked = ctx.module_state.get("registrar", {}).get("request_contacts", ()) if only_request else ()
        parts: list[str] = []
        for c in record.contacts:
            if not c.valid(now) or (only_request and id(c) not in marked):
                continue
            text = f"<{c.uri}>"
            if c.q >= 0:
                from opensips_py.modules.usrloc import q_text
                text += f";q={q_text(c.q)}"
            text += f";expires={c.expires - now}"
            if c.received:
                text += f';{self.received_param}="{c.received}"'
            parts.append(text)
        return ["Contact: " + ", ".join(parts)] if parts else []

    def _reply(self, ctx, rerr: tuple[int, str], headers: list[str]) -> int:
        """reply.c send_reply(): the Contact list, Path, P-Registrar-Error (+ Retry-After), via signaling."""
        code, text = rerr
        lines = list(headers)
        if code != 200:
            lines.append(f"P-Registrar-Error: {text}")
            if 500 <= code < 600 and self.retry_after:
                lines.append(f"Retry-After: {self.retry_after}")
        if lines:
            ctx.module_state.setdefault("sl", {}).setdefault("reply_headers", []).extend(lines)
        reason = REASONS.get(code, "OK")
        signaling = self.signaling
        if signaling is None:
            self.core.logger.error("registrar: no signaling module to send the reply", "registrar")
            return -1
        return signaling.send_reply(ctx, code, reason)

    # ---------------------------------------------------------------------------------- lookup()
    def lookup(self, ctx, domain: str, flags: str | None = None, aor: str | None = None) -> int:
        """1 found (R-URI, $du, branches set); -1 no valid contact; -2 contacts exist but none takes the
        method (method-filtering); -3 error."""
        msg = ctx.msg
        if msg is None:
            return LOOKUP_ERROR
        lflags = self.lookup_flags(flags)
        udomain = self._domain(domain)
        try:
            if not msg.call_id:
                return LOOKUP_ERROR
        except SIPParseError:
            return LOOKUP_ERROR
        uris: list[str | None] = [aor if aor else (ctx.ruri() if msg.is_request else None)]
        if "branch" in lflags.names:
            uris += [b.uri for b in ctx.branches]
            ctx.branches = []
        if uris[0] is None:
            return LOOKUP_ERROR
        now = int(ctx.now)
        ruri_pushed = "to-branches-only" in lflags.names
        pushed_any = False
        ret = LOOKUP_NO_RESULTS
        single = "no-branches" in lflags.names
        method = msg.method if msg.is_request else None
        for uri in uris:
            try:
                key = self.extract_aor(uri)
            except RegistrarError:
                return LOOKUP_ERROR
            record = self.ul.get_record(udomain, key)
            if record is None:
                continue
            selected, ret = self._select(record, now, lflags, method, ret)
            for contact in selected:
                if self._push(ctx, contact, ruri_pushed) < 0:
                    return LOOKUP_ERROR
                pushed_any = True
                ruri_pushed = True
                if single:
                    break
            if self.ul.db_only:
                self.ul.release_record(udomain, record)
            if single and pushed_any:
                break
        if pushed_any:
            return LOOKUP_OK
        return ret

    @staticmethod
    def _select(record, now: int, lflags: LookupFlags, method: str | None, ret: int):
        selected = []
        for c in record.contacts:
            if not c.valid(now):
                continue
            if ret < 0:
                ret = LOOKUP_METHOD_UNSUP
            if "method-filtering" in lflags.names and method is not None and c.methods != ALL_METHODS \
                    and not c.methods & METHOD_BITS.get(method, METHOD_OTHER):
                continue
            if ret < 0 or ret == LOOKUP_METHOD_UNSUP:
                ret = LOOKUP_NO_RESULTS
            if lflags.ua_re is not None and not lflags.ua_re.search(c.user_agent or ""):
                continue
            if lflags.max_latency and c.latency > lflags.max_latency:
                continue
            ret = LOOKUP_OK
            selected.append(c)
        if "sort-by-latency" in lflags.names:
            selected.sort(key=lambda c: (c.latency == 0, c.latency))
        return selected, ret

    def _push(self, ctx, contact, ruri_pushed: bool) -> int:
        """push_branch(): the first contact becomes the R-URI ($du from Path or received, q, flags, socket),
        the others branches."""
        dst = None
        if contact.path:
            dst = _first_path_uri(contact.path)
        elif contact.received:
            dst = contact.received
        sock = self._sockets.get(contact.socket) if contact.socket else None
        q = None if contact.q < 0 else contact.q
        if not ruri_pushed:
            ctx.new_uri = contact.uri
            if contact.path:
                ctx.path = contact.path
            if dst:
                ctx.dst_uri = dst
            ctx.ruri_q = q
            ctx.branch_flags |= set(contact.cflags)
            if sock is not None:
                ctx.force_socket = sock
        else:
            if len(ctx.branches) >= MAX_BRANCHES - 1:
                self.core.logger.error("lookup(): max nr of branches exceeded", "registrar")
                return -1
            ctx.branches.append(Branch(contact.uri, dst, contact.path, q, set(contact.cflags), sock))
        if self.attr_avp and contact.attr is not None:
            ctx.avps.setdefault(self.attr_avp, []).insert(0, contact.attr)
        return 1

    # ---------------------------------------------------------------------------------- checks
    def _default_aor(self, ctx) -> str | None:
        msg = ctx.msg
        if msg is None:
            return None
        try:
            header = msg.to if msg.is_request and msg.method == "REGISTER" else msg.from_
        except SIPParseError:
            return None
        return header.uri_text if header is not None else None

    def is_registered(self, ctx, domain: str, aor: str | None = None) -> int:
        """1 when the AoR has at least one valid contact, -1 otherwise."""
        record, now = self._record_for(ctx, domain, aor)
        if record is None:
            return -1
        found = any(c.valid(now) for c in record.contacts)
        return 1 if found else -1

    def is_contact_registered(self, ctx, domain: str, aor: str | None = None, contact: str | None = None,
                              callid: str | None = None) -> int:
        record, now = self._record_for(ctx, domain, aor)
        if record is None:
            return -1
        wanted: list[str] = []
        if contact:
            wanted = [contact]
        elif not callid and ctx.msg is not None:
            try:
                wanted = [c.uri_text for c in ctx.msg.contacts]
            except SIPParseError:
                return -1
        for c in record.contacts:
            if not c.valid(now) or (callid and c.callid != callid):
                continue
            if not wanted or any(self.ul._match(_one(c), w, None, 0, ()) is not None for w in wanted):
                return 1
        return -1

    def is_ip_registered(self, ctx, domain: str, aor: str | None, ip_var, port_var=None) -> int:
        record, now = self._record_for(ctx, domain, aor)
        if record is None:
            return -1
        ips = ip_var.get(ctx)
        ips = ips if isinstance(ips, list) else [ips]
        port = port_var.get(ctx) if port_var is not None else None
        for c in record.contacts:
            if not c.valid(now):
                continue
            try:
                target = URI(c.received or c.uri)
            except SIPParseError:
                continue
            host = (target.host or "").strip("[]")
            if any(str(ip) == host for ip in ips if ip is not None) and \
                    (port is None or int(port) == (target.port or 5060)):
                return 1
        return -1

    def _record_for(self, ctx, domain: str, aor: str | None):
        uri = aor or self._default_aor(ctx)
        if not uri:
            return None, 0
        try:
            key = self.extract_aor(uri)
        except RegistrarError:
            return None, 0
        return self.ul.get_record(self._domain(domain), key), int(ctx.now)

    def remove(self, ctx, domain: str, aor: str, contact: str | None = None, next_hop: str | None = None,
               sip_instance: str | None = None, bflag: str | None = None) -> int:
        """Delete the AoR's bindings matching the given contact URI, next hop (host[:port] of the received
        address or the contact), +sip.instance and branch flag; 1 if any went, -1 otherwise."""
        udomain = self._domain(domain)
        try:
            key = self.extract_aor(aor)
        except RegistrarError:
            return -1
        record = self.ul.get_record(udomain, key)
        if record is None:
            return -1
        removed = 0
        for c in list(record.contacts):
            if contact and self.ul._match(_one(c), contact, None, 0, ()) is None:
                continue
            if sip_instance and (c.instance or "") != sip_instance:
                continue
            if bflag and bflag not in c.cflags:
                continue
            if next_hop and not _next_hop_matches(c, next_hop):
                continue
            self.ul.delete_contact(udomain, record, c)
            removed += 1
        self.ul.release_record(udomain, record)
        return 1 if removed else -1

    def remove_ip_port(self, ctx, ip: str, port: int, domain: str, aor: str | None = None) -> int:
        """Delete the bindings (of one AoR, or of all) whose received address, else contact address, is
        ip:port; 1 if any went, -1 otherwise."""
        udomain = self._domain(domain)
        if aor:
            try:
                keys = [self.extract_aor(aor)]
            except RegistrarError:
                return -1
        else:
            keys = list(udomain.records)
        removed = 0
        for key in keys:
            record = self.ul.get_record(udomain, key)
            if record is None:
                continue
            for c in list(record.contacts):
                if _next_hop_matches(c, f"{ip}:{port}"):
                    self.ul.delete_contact(udomain, record, c)
                    removed += 1
            self.ul.release_record(udomain, record)
        return 1 if removed else -1

    def add_sock_hdr(self, ctx, hdr_name: str) -> int:
        rcv = ctx.received
        if ctx.msg is None or rcv is None:
            return -1
        ctx.msg.add_header(hdr_name, f"{rcv.socket.proto}:{rcv.socket.host}:{rcv.socket.port}")
        return 1


class _SaveState:
    """What one save() call computes once: the message-wide contact info (pack_ci with a message)."""

    def __init__(self, reg: Module, ctx, flags: SaveFlags, now: int, expires_hf: int | None) -> None:
        self.reg = reg
        self.ctx = ctx
        self.flags = flags
        self.now = now
        self.expires_hf = expires_hf
        self.path: str | None = None
        self._received: str | None | bool = False
        self._allow: int | None = None

    def contact_expires(self, contact) -> int:
        """calc_contact_expires(): Contact ;expires, else Expires, else default_expires; 0 removes; other
        values clamped to [min, max] (never a 423). Returns an absolute time or 0."""
        reg, now = self.reg, self.now
        value = contact.params.get("expires")
        if value:
            try:
                seconds = _int(value)
            except ValueError:
                seconds = reg.default_expires
            expires = now + seconds if seconds else 0
        elif self.expires_hf is not None:
            expires = now + self.expires_hf if self.expires_hf else 0
        else:
            expires = now + reg.default_expires
        if expires and expires - now < self.flags.min_expires:
            expires = now + self.flags.min_expires
        if expires and self.flags.max_expires and expires - now > self.flags.max_expires:
            expires = now + self.flags.max_expires
        return expires

    def message_info(self) -> dict[str, Any]:
        msg = self.ctx.msg
        callid = msg.call_id.rstrip()
        if len(callid) > CALLID_MAX_SIZE:
            raise RegistrarError(R_CALLID_LEN)
        ua = msg.header("user-agent")
        info: dict[str, Any] = {
            "callid": callid, "cseq": msg.cseq.number,
            "user_agent": ua if ua and len(ua) < UA_MAX_SIZE else "n/a",
            "socket": _socket_text(self.ctx.received), "last_modified": float(self.ctx.now),
            "flags": 1 if "memory-only" in self.flags.names else 0,
            "cflags": tuple(sorted(self.ctx.branch_flags)),
        }
        if self.flags.path:
            try:
                paths = msg.path
            except SIPParseError:
                raise RegistrarError(R_PARSE_PATH) from None
            if paths:
                self.path = ",".join(p.raw for p in paths)
                info["path"] = self.path
                self.ctx.path = self.path
                if "path-received" in self.flags.names:
                    received = paths[0].uri.params.get("received")
                    if received:
                        info["received"] = _unquote(received)
                        nat = self.reg.ul.nat_bflag
                        if nat:
                            info["cflags"] = tuple(sorted({*info["cflags"], str(nat)}))
        return info

    def contact_info(self, contact, expires: int, base: dict[str, Any]) -> dict[str, Any]:
        """pack_ci() for one contact: q, expires, methods, +sip.instance, received, attr."""
        info = dict(base)
        q = contact.params.get("q")
        if q is None:
            info["q"] = self.reg.default_q
        else:
            try:
                value = float(q)
            except ValueError:
                raise RegistrarError(R_INV_Q) from None
            if not 0 <= value <= 1 or not q.strip():
                raise RegistrarError(R_INV_Q)
            info["q"] = int(round(value * 1000))
        info["expires"] = expires
        methods = contact.params.get("methods")
        if methods is not None:
            info["methods"] = methods_mask(_unquote(methods).split(","))
        else:
            if self._allow is None:
                try:
                    allow = self.ctx.msg.allow
                except SIPParseError:
                    allow = []
                self._allow = methods_mask(allow) if allow else ALL_METHODS
            info["methods"] = self._allow
        instance = contact.params.get("+sip.instance")
        info["instance"] = _unquote(instance) if instance else None
        info["reg_id"] = contact.params.get("reg-id")
        if not info.get("received"):
            received = contact.params.get("received")
            if received:
                info["received"] = _unquote(received)
            else:
                if self._received is False:
                    avp = self.reg.received_avp
                    values = self.ctx.avps.get(avp) if avp else None
                    value = values[0] if values else None
                    if value is not None and len(str(value)) > RECEIVED_MAX_SIZE:
                        raise RegistrarError(R_CONTACT_LEN)
                    self._received = str(value) if value not in (None, "") else None
                info["received"] = self._received
        if self.reg.attr_avp:
            values = self.ctx.avps.get(self.reg.attr_avp)
            info["attr"] = str(values[0]) if values else None
        return info

    def mark_request_contact(self, contact) -> None:
        state = self.ctx.module_state.setdefault("registrar", {})
        state.setdefault("request_contacts", set()).add(id(contact))

    def path_headers(self) -> list[str]:
        """send_reply(): echo Path per path-off/lazy/strict and Supported: path (420 when strict and absent)."""
        flags = self.flags
        if not self.path or "path-off" in flags.names:
            return []
        try:
            supported = "path" in [s.lower() for s in self.ctx.msg.supported]
        except SIPParseError:
            supported = False
        if supported:
            return [f"Path: {self.path}"]
        if "path-strict" in flags.names:
            raise RegistrarError(R_PATH_UNSUP)
        return []


def _socket_text(rcv) -> str | None:
    if rcv is None:
        return None
    sock = rcv.socket
    if sock.advertised_host or sock.advertised_port:
        return f"{sock.proto}:{sock.via_host}:{sock.via_port}"
    return f"{sock.proto}:{sock.host}:{sock.port}"


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _avp_name(spec) -> str | None:
    """'$avp(rcv)' -> 'rcv' (the key of ctx.avps)."""
    if not spec:
        return None
    text = str(spec).strip()
    if text.startswith("$avp(") and text.endswith(")"):
        return text[5:-1]
    return text.lstrip("$")


def _first_path_uri(path: str) -> str | None:
    """get_path_dst_uri(): the URI of the first Path entry."""
    first = path.split(",", 1)[0].strip()
    if "<" in first and ">" in first:
        return first[first.index("<") + 1:first.index(">")]
    return first.split(";", 1)[0] or None


def _one(contact):
    """A one-contact record view for URI matching."""
    from opensips_py.modules.usrloc import Record
    record = Record(contact.aor)
    record.contacts = [contact]
    return record


def _next_hop_matches(contact, next_hop: str) -> bool:
    host, _, port = next_hop.partition(":")
    try:
        target = URI(contact.received or contact.uri)
    except SIPParseError:
        return False
    return (target.host or "").strip("[]") == host.strip("[]") and (not port or str(target.port or 5060) == port)
