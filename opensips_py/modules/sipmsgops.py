"""sipmsgops: header, body, URI and SDP codec/stream operations on the current SIP message.

Header edits go to the message's lumps (append_hf → an inserted line, remove_hf → a removed line), so later
reads in the script still see the message as received (OpenSIPS lumps semantics). The SDP helpers (codec_*,
stream_delete) work on the body as it will be sent — the received one, or the one an earlier edit produced —
and replace it, so a codec_delete() followed by codec_move_up() sees the first one's result, as the codec
lumps of codecs.c do. Replies built locally (sl, tm, registrar, auth) read what append_to_reply(),
append_body_to_reply() and append_time() leave in ctx.module_state["sl"]:

    "reply_headers": list[str]   header lines, without line ends, in order
    "reply_body": str            the body (append_body_to_reply: the last one wins)
"""
from __future__ import annotations

import email.utils
import fnmatch
import json
import re
import string

from opensips_py.modules.base import ModuleBase
from opensips_py.modules.exports import (
    B, E, F, L, O, R, Arg, ArgKind, Function, ModuleExports, VersionSpan,
)
from opensips_py.modules.textops import as_posix, line_end_of
from opensips_py.script.context import MsgContext, ScriptError
from opensips_py.sip import SIPParseError, URI
from opensips_py.sip.names import COMPACT_FORMS
from opensips_py.sip.sdp import MediaDescription, SessionDescription
from opensips_py.sip.uri import USER_SAFE

_ROFBL = R | O | F | B | L
PRIVACY_VALUES = ("none", "id", "header", "session", "user", "critical")
# sipmsg_validate() letters, either case (unknown ones are ignored).
VALIDATE_FLAGS = ("s", "S", "h", "H", "m", "M", "r", "R", "t", "T", "f", "F", "c", "C")


def _codec(name: str) -> Function:
    return Function(name, (Arg("name"), Arg("clock", optional=True)), routes=_ROFBL)


def _codec_re(name: str) -> Function:
    return Function(name, (Arg("regexp", ArgKind.REGEX),), routes=_ROFBL)


EXPORTS = ModuleExports(
    name="sipmsgops",
    doc="SIP message operations (OpenSIPS's home for what Kamailio splits over textops, siputils and "
        "sdpops). Edits are lumps applied on send.",
    functions=(
        Function("append_hf", (Arg("txt"), Arg("hdr_anchor", optional=True)), routes=_ROFBL,
                 doc="txt includes the CRLF."),
        Function("insert_hf", (Arg("txt"), Arg("hdr", optional=True)), routes=_ROFBL),
        Function("remove_hf", (Arg("hname"),), routes=_ROFBL, doc="1 if at least one was removed."),
        Function("remove_hf_re", (Arg("hname_expr", ArgKind.REGEX),), routes=_ROFBL),
        Function("remove_hf_glob", (Arg("hname_pattern"),), routes=_ROFBL),
        Function("is_present_hf", (Arg("hf_name"),), routes=_ROFBL, doc="Compact forms match (f = From)."),
        Function("append_to_reply", (Arg("txt"),), routes=R | F | B | E,
                 doc="Headers for the next locally generated reply."),
        Function(
            "append_body_to_reply", (Arg("txt"),), routes=R | F | B | E, versions=VersionSpan(since="3.6"),
            doc="C: since 3.6 (the reference says 4.0).",
        ),
        Function("append_urihf", (Arg("prefix"), Arg("suffix")), routes=R | F | B),
        Function("append_time", (), routes=R | F | B | L, doc="Date: for the next local reply."),
        Function("is_method", (Arg("name"),), routes=_ROFBL, doc="\"A|B\" list; on replies the CSeq method."),
        Function("has_totag", (), routes=_ROFBL),
        Function("has_body", (Arg("mime", optional=True),), routes=_ROFBL),
        Function("has_body_part", (Arg("mime", optional=True),), routes=_ROFBL),
        Function(
            "remove_body_part", (Arg("mime", optional=True), Arg("revert", optional=True)), routes=_ROFBL,
        ),
        Function("add_body_part", (Arg("body"), Arg("mime"), Arg("headers", optional=True)), routes=_ROFBL),
        Function(
            "get_updated_body_part", (Arg("mime", optional=True), Arg("variable", ArgKind.VAR)), routes=_ROFBL,
            versions=VersionSpan(since="3.4"), doc="C: since 3.4 (the reference says 4.0).",
        ),
        Function("is_privacy", (Arg("privacy_type", choices=PRIVACY_VALUES),), routes=_ROFBL),
        _codec("codec_exists"),
        _codec("codec_delete"),
        _codec("codec_move_up"),
        _codec("codec_move_down"),
        _codec_re("codec_exists_re"),
        _codec_re("codec_delete_re"),
        _codec_re("codec_delete_except_re"),
        _codec_re("codec_move_up_re"),
        _codec_re("codec_move_down_re"),
        Function("stream_exists", (Arg("regexp", ArgKind.REGEX),), routes=_ROFBL, versions=VersionSpan(until="3.4")),
        Function(
            "stream_exists", (Arg("regexp", ArgKind.REGEX), Arg("regexp2", ArgKind.REGEX, optional=True)),
            routes=_ROFBL, versions=VersionSpan(since="3.4"),
            doc="Media and (C: since 3.4, the reference says 3.6) transport regexps.",
        ),
        Function("stream_delete", (Arg("regexp", ArgKind.REGEX),), routes=_ROFBL, versions=VersionSpan(until="3.4")),
        Function(
            "stream_delete", (Arg("regexp", ArgKind.REGEX), Arg("regexp2", ArgKind.REGEX, optional=True)),
            routes=_ROFBL, versions=VersionSpan(since="3.4"),
        ),
        Function("is_audio_on_hold", (), routes=_ROFBL, doc="> 0 (the hold type) when an audio stream is held."),
        Function(
            "sipmsg_validate",
            (Arg("flags", optional=True, choices=VALIDATE_FLAGS), Arg("result_pvar", ArgKind.VAR, optional=True)),
            routes=R | O | F | B, doc="flags: a string of letters choosing extra checks.",
        ),
        Function("change_reply_status", (Arg("code", ArgKind.INT), Arg("reason")), routes=O),
        Function("list_hdr_has_option", (Arg("hdr_name"), Arg("option")), routes=_ROFBL),
        Function("list_hdr_add_option", (Arg("hdr_name"), Arg("option")), routes=_ROFBL),
        Function("list_hdr_remove_option", (Arg("hdr_name"), Arg("option")), routes=_ROFBL),
        Function(
            "ruri_has_param", (Arg("param"), Arg("value", optional=True)), routes=R | F | B | L,
            doc="C: R, F, B, L in 3.2 too.",
        ),
        Function("ruri_add_param", (Arg("param"),), routes=R | F | B | L),
        Function("ruri_del_param", (Arg("param"),), routes=R | F | B | L),
        Function("ruri_tel2sip", (), routes=R | F | B | L),
        Function("is_uri_user_e164", (Arg("uri"),), routes=R | F | L),
        Function(
            "get_glob_headers_values",
            (Arg("hdr_name_glob"), Arg("hdr_names_avp", ArgKind.VAR), Arg("hdr_vals_avp", ArgKind.VAR)),
            routes=_ROFBL, versions=VersionSpan(since="3.4"), doc="C: since 3.4 (the reference says 4.0).",
        ),
        Function(
            "sip_to_json", (Arg("out_var", ArgKind.VAR),), routes=_ROFBL, versions=VersionSpan(since="3.6"),
            doc="C: since 3.6 (the reference says 4.0).",
        ),
    ),
)


# ------------------------------------------------------------------------------------------------ header names

# Header types OpenSIPS's parser knows (parser/hf.h); other names are HDR_OTHER, matched by name. Only these
# one-letter compact forms are recognised (parse_hname2.c): "r", "s"… are plain names there.
_KNOWN_TYPES = frozenset((
    "via", "to", "from", "cseq", "call-id", "contact", "max-forwards", "route", "record-route", "path",
    "content-type", "content-length", "authorization", "expires", "proxy-authorization", "supported",
    "proxy-require", "unsupported", "allow", "event", "accept", "accept-language", "organization", "priority",
    "subject", "user-agent", "accept-disposition", "content-disposition", "diversion", "remote-party-id",
    "refer-to", "session-expires", "min-se", "p-preferred-identity", "p-asserted-identity", "privacy",
    "retry-after", "call-info", "www-authenticate", "proxy-authenticate", "min-expires", "feature-caps",
    "replaces", "security-client", "security-server", "security-verify",
))
_COMPACT = frozenset("tvfimlkcox")
KNOWN_METHODS = frozenset(("INVITE", "CANCEL", "ACK", "BYE", "INFO", "OPTIONS", "UPDATE", "REGISTER", "MESSAGE",
                           "SUBSCRIBE", "NOTIFY", "PRACK", "REFER", "PUBLISH"))
_CONTACT_METHODS = frozenset(("INVITE", "REGISTER", "UPDATE", "SUBSCRIBE", "REFER"))
_LIST_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")


def _hdr_key(name: str) -> str:
    lower = name.strip().lower()
    if len(lower) == 1 and lower in _COMPACT:
        return COMPACT_FORMS[lower].lower()
    return lower


def _header_matcher(name: str, exact_case: bool = False):
    """A test on HeaderField for a name as a script gives it: by type for headers OpenSIPS knows (any
    spelling, compact forms), by name for the others (case-insensitive, or exact as add_hf_helper does)."""
    key = _hdr_key(name)
    if key in _KNOWN_TYPES:
        return lambda field: _hdr_key(field.name) == key
    wanted = name.strip()
    if exact_case:
        return lambda field: _hdr_key(field.name) not in _KNOWN_TYPES and field.name == wanted
    return lambda field: _hdr_key(field.name) not in _KNOWN_TYPES and field.name.lower() == key


def _text_lines(text: str) -> list[str]:
    """Header text as a script writes it ("A: 1\\r\\nB: 2\\r\\n") -> its lines without line ends."""
    lines = re.split(r"\r\n|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _list_tokens(value: str) -> list[tuple[int, int]] | None:
    """parse_list_hdr(): the (start, end) of each comma-separated token, None when it is not such a list."""
    tokens: list[tuple[int, int]] = []
    pos, n = 0, len(value)
    while pos < n:
        while pos < n and value[pos].isspace():
            pos += 1
        if pos == n:
            return None
        match = _LIST_TOKEN.match(value, pos)
        if match is None:
            return None
        start, pos = match.start(), match.end()
        while pos < n and value[pos].isspace():
            pos += 1
        if pos == n or value[pos] == ",":
            tokens.append((start, match.end()))
        if pos < n and value[pos] == ",":
            pos += 1
    return tokens


# ------------------------------------------------------------------------------------------------ bodies

def body_parts(content_type, body: bytes) -> list[tuple[str, bytes]]:
    """(mime, content) of each body part: the parts of a multipart body, else the body itself (a part
    without Content-Type is text/plain, RFC 2046 §5.1)."""
    if content_type is None:
        return [("", body)]
    boundary = content_type.params.get("boundary") if content_type.type == "multipart" else None
    if not boundary:
        return [(content_type.mime, body)]
    delimiter = b"--" + boundary.strip('"').encode()
    parts: list[tuple[str, bytes]] = []
    for segment in body.split(delimiter)[1:]:
        if segment.startswith(b"--"):
            break
        segment = segment[2:] if segment.startswith(b"\r\n") else segment.lstrip(b"\n")
        segment = segment[:-2] if segment.endswith(b"\r\n") else segment.rstrip(b"\n")
        if segment.startswith(b"\r\n") or segment.startswith(b"\n"):
            head, content = b"", segment.lstrip(b"\r").lstrip(b"\n")
        else:
            head, sep, content = segment.partition(b"\r\n\r\n")
            if not sep:
                head, sep, content = segment.partition(b"\n\n")
        mime = "text/plain"
        for line in head.decode("utf-8", "surrogateescape").splitlines():
            name, colon, value = line.partition(":")
            if colon and _hdr_key(name) == "content-type":
                mime = value.split(";", 1)[0].strip().lower()
        parts.append((mime, content))
    return parts


def current_body(msg) -> bytes:
    """The body as it will be sent: an earlier edit's, or the received one."""
    return msg.lumps.body if msg.lumps.body is not None else msg.body


# ------------------------------------------------------------------------------------------------ SDP codecs

# codecs.c's table of static payload types (its own clock rates: CelB at 8000, t38 without one).
_STATIC_CODECS = (
    ("0", "PCMU", "8000"), ("3", "GSM", "8000"), ("4", "G723", "8000"), ("5", "DVI4", "8000"),
    ("6", "DVI4", "16000"), ("7", "LPC", "8000"), ("8", "PCMA", "8000"), ("9", "G722", "8000"),
    ("10", "L16", "44100"), ("11", "L16", "44100"), ("12", "QCELP", "8000"), ("13", "CN", "8000"),
    ("14", "MPA", "90000"), ("15", "G728", "8000"), ("16", "DVI4", "11025"), ("17", "DVI4", "22050"),
    ("18", "G729", "8000"), ("25", "CelB", "8000"), ("26", "JPEG", "90000"), ("28", "nv", "90000"),
    ("31", "H261", "90000"), ("32", "MPV", "90000"), ("33", "MP2T", "90000"), ("34", "H263", "90000"),
    ("t38", "t38", ""),
)
# a= lines the SDP parser takes for itself; the other "a=name:<pt> value" lines belong to payload <pt>.
_STREAM_ATTRS = frozenset(("rtpmap", "fmtp", "ptime", "rtcp", "accept-types", "accept-wrapped-types", "max-size",
                           "path", "sendrecv", "sendonly", "recvonly", "inactive"))
FIND, DELETE, MOVE_UP, MOVE_DOWN = "find", "delete", "up", "down"


def _attr(line) -> tuple[str, str] | None:
    if line.type != "a":
        return None
    name, colon, value = line.value.partition(":")
    return (name.lower(), value) if colon else None


def _payload_attrs(md: MediaDescription) -> tuple[dict[str, tuple[str, str | None]], dict[str, str]]:
    """pt -> (encoding, clock) from a=rtpmap (the last one wins, as set_sdp_payload_attr), and
    pt -> the RTX payload linked to it by `a=fmtp:<rtx> apt=<pt>`."""
    rtpmap: dict[str, tuple[str, str | None]] = {}
    linked: dict[str, str] = {}
    for line in md.lines[1:]:
        attr = _attr(line)
        if attr is None:
            continue
        name, value = attr
        pt, _, rest = value.strip().partition(" ")
        if name == "rtpmap":
            encoding, slash, clock = rest.strip().partition("/")
            rtpmap[pt] = (encoding, clock.split("/", 1)[0] if slash else None)
        elif name == "fmtp" and "apt=" in rest:
            target = rest.split("apt=", 1)[1].split(";", 1)[0].strip()
            linked[target] = pt
    return rtpmap, linked


def _drop_payload_lines(md: MediaDescription, pt: str) -> None:
    """Delete a payload's rtpmap, fmtp and own attribute lines (`a=rtcp-fb:<pt> nack`…)."""
    kept = [md.lines[0]]
    for line in md.lines[1:]:
        attr = _attr(line)
        if attr is not None:
            name, value = attr
            first, space, rest = value.strip().partition(" ")
            if first == pt and (name in ("rtpmap", "fmtp") or (name not in _STREAM_ATTRS and space
                                                                 and rest.strip())):
                continue
        kept.append(line)
    md.lines[:] = kept


def _stream_codecs(md: MediaDescription, matches, op: str, clock_given: bool) -> tuple[int, bool]:
    """codecs.c stream_process() on one m= section: (1 if a codec matched else 0, whether it changed).
    Payloads with an rtpmap are tried in reverse m= order (the parser's list order), then the static
    table; a match only counts while its number is still on the m= line."""
    current = md.formats
    if not current:
        return -1, False  # every payload was deleted: the stream is gone
    rtpmap, linked = _payload_attrs(md)
    candidates = [(pt, *rtpmap[pt], False) for pt in reversed(current) if pt in rtpmap]
    candidates += [(pt, encoding, clock, True) for pt, encoding, clock in _STATIC_CODECS]
    moved: list[str] = []
    found, changed = 0, False
    for pt, encoding, clock, is_static in candidates:
        if not encoding or (clock is None and clock_given) or not matches(encoding, clock):
            continue
        if pt not in current:
            continue
        if op == FIND:
            return 1, False
        if op == DELETE and not is_static:
            _drop_payload_lines(md, pt)
            rtx = linked.get(pt)
            if rtx is not None:
                _drop_payload_lines(md, rtx)
                if rtx in current:
                    current.remove(rtx)
        current.remove(pt)
        if op in (MOVE_UP, MOVE_DOWN):
            moved.append(pt)
        found, changed = 1, True
    if not changed:
        return found, False
    if op == MOVE_UP:
        current = moved + current
    elif op == MOVE_DOWN:
        current = current + moved
    md.formats = current
    if not current:
        md.port = 0  # no payload left: the stream is disabled
    return found, True


def _hold_type(md: MediaDescription, session: SessionDescription) -> int:
    """sdp.c: 2 (RFC 3264) for a=sendonly/inactive in the stream, 1 (RFC 2543) for c=0.0.0.0, else 0."""
    if md.formats:
        for line in md.lines[1:]:
            if line.type == "a" and line.value.strip().lower() in ("sendonly", "inactive"):
                return 2
    try:
        connection = md.connection or session.connection
    except SIPParseError:
        return 0
    return 1 if connection is not None and connection.address == "0.0.0.0" else 0


# ------------------------------------------------------------------------------------------------ validation

def _check_hostname(host: str | None) -> bool:
    """sipmsgops.c check_hostname()."""
    if not host:
        return False
    if not (host[0].isalnum() or host[0] == "["):
        return False
    for i in range(1, len(host) - 1):
        c = host[i]
        if not (c.isalnum() or c in "-:"):
            if c != ".":
                return False
            if host[i - 1] == ".":
                return False
    end = host[-1]
    return end.isalnum() or end in ".]"


def _username_ok(user: str | None) -> bool:
    """parse_uri.h is_username_str(): unreserved, user-unreserved and %HH escapes."""
    if not user:
        return True
    i = 0
    while i < len(user):
        c = user[i]
        if c == "%":
            if i + 3 > len(user) or not all(h in string.hexdigits for h in user[i + 1:i + 3]):
                return False
            i += 3
            continue
        if not (c.isascii() and (c.isalnum() or c in USER_SAFE)):
            return False
        i += 1
    return True


def _validate_contacts(msg, method: str) -> tuple[int, str]:
    if method not in _CONTACT_METHODS:
        return 0, ""
    if not msg.has_header("contact"):
        return -14, "SIP message doesn't have 'Contact' header"
    try:
        contacts = msg.contacts
        for contact in contacts:
            if not contact.is_star:
                uri = contact.uri
                if uri.is_sip and not uri.host:
                    raise SIPParseError(400, "Bad Request", "no host")
    except SIPParseError:
        return -26, "failed to parse 'Contact' header"
    if any(c.is_star for c in contacts):
        if method != "REGISTER":
            return -30, "'Contact' header for SIP message contains '*' only valid for REGISTER request"
        if not msg.is_request:
            return -30, "'Contact' header for REGISTER reply contains '*' only valid for REGISTER request"
        try:
            expires = msg.expires
        except SIPParseError:
            expires = None
        if expires is None:
            return -30, "failed to parse 'Expires' header"
        if expires != 0:
            return -30, "'Expires' header greater than 0 for REGISTER 'Contact' header with '*' value"
    return 0, ""


def _check_uri_of(view, codes: tuple[int, int, int], name: str) -> tuple[int, str]:
    parse_code, domain_code, user_code = codes
    try:
        uri = view.uri
    except (SIPParseError, AttributeError):
        return parse_code, f"failed to parse '{name}' header"
    if uri.is_sip and not _check_hostname(uri.host):
        return domain_code, f"invalid domain for '{name}' header"
    if not _username_ok(uri.user):
        return user_code, f"invalid username for '{name}' header"
    return 0, ""


def validate_message(ctx: MsgContext, flags: str) -> tuple[int, str]:
    """sipmsg_validate(): 1, or the (negative) sip_validation_failures code and its reason."""
    msg = ctx.msg
    if msg is None:
        return -1, "no message object"
    wanted = set(flags.lower())
    try:
        msg.via, msg.cseq, msg.to, msg.from_, msg.call_id  # noqa: B018 - parse them
    except SIPParseError:
        return -2, "message parsing failed"
    if not msg.has_header("call-id"):
        return -3, "message doesn't have callid"
    proto = ctx.received.proto.lower() if ctx.received is not None else "udp"
    if proto != "udp" and msg.content_length is None:
        return -4, f"message doesn't have Content Length header for proto {proto}"
    is_cancel = msg.is_request and msg.method == "CANCEL"
    try:
        content_type = msg.content_type
    except SIPParseError:
        content_type = None
    if not is_cancel and msg.body and "s" in wanted and content_type is not None \
            and content_type.mime == "application/sdp":
        try:
            sdp = SessionDescription.parse(msg.body)
            for md in sdp.media:
                md.port, md.proto  # noqa: B018
                if (md.connection or sdp.connection) is None:
                    raise SIPParseError(400, "Bad Request", "no c= line")
        except SIPParseError:
            return -6, "failed to parse SDP message"
    for header, code in (("cseq", -7), ("from", -8), ("to", -9), ("via", -10)):
        if not msg.has_header(header):
            return code, ""
    if "t" in wanted:
        code, reason = _check_uri_of(msg.to, (-22, -23, -29), "To")
        if code:
            return code, reason
    if "f" in wanted:
        code, reason = _check_uri_of(msg.from_, (-24, -25, -28), "From")
        if code:
            return code, reason
    if msg.is_request:
        if "r" in wanted:
            try:
                uri = URI(ctx.ruri())
            except SIPParseError:
                return -11, "failed to parse R-URI"
            if not _check_hostname(uri.host):
                return -12, "invalid domain for R-URI"
            if not _username_ok(uri.user):
                return -27, "invalid username for R-URI"
        if "m" not in wanted and not msg.has_header("max-forwards"):
            return -13, ""
        if "c" in wanted:
            code, reason = _validate_contacts(msg, msg.method)
            if code:
                return code, reason
        if msg.method != "REGISTER" and msg.has_header("path"):
            return -15, "PATH header supported only for REGISTERs"
        method = msg.method
    else:
        method = msg.cseq.method if msg.cseq is not None else ""
        if method != "CANCEL":
            required = {405: ("allow", -16), 407: ("proxy-authenticate", -18), 420: ("unsupported", -19),
                        401: ("www-authenticate", -20)}
            if msg.status == 423 and method == "REGISTER":
                required[423] = ("min-expires", -17)
            header, code = required.get(msg.status, (None, 0))
            if header is not None and not msg.has_header(header):
                return code, ""
        if "c" in wanted and 199 < msg.status < 400:
            code, reason = _validate_contacts(msg, method)
            if code:
                return code, reason
    if method != "CANCEL" and msg.body and not msg.has_header("content-type"):
        return -21, ""
    if "h" in wanted:
        try:
            msg.parse_all()
            for uri_view in (msg.to, msg.from_):
                if uri_view is not None:
                    uri_view.uri  # noqa: B018
        except SIPParseError:
            return -2, "failed to parse headers"
    return 1, ""


# ------------------------------------------------------------------------------------------------ the module

class Module(ModuleBase):
    """sipmsgops's script functions (modules/sipmsgops/*.c), with its return codes."""

    exports = EXPORTS

    # -- adding and removing headers ----------------------------------------------------------------------
    @staticmethod
    def _insert(ctx: MsgContext, anchor: int, text: str) -> int:
        if text:
            eol = line_end_of(ctx.msg)
            if text.endswith(eol):
                text = text[:-len(eol)]
            elif text.endswith("\n"):
                text = text[:-1]
            ctx.msg.lumps.insert.setdefault(anchor, []).append(text)
        return 1

    @staticmethod
    def _first(msg, name: str, exact_case: bool = False):
        matches = _header_matcher(name, exact_case)
        return next((field for field in msg.headers if matches(field)), None)

    def append_hf(self, ctx: MsgContext, txt: str, hdr_anchor: str | None = None) -> int:
        """After the last header, or after the first `hdr_anchor` header (the end when there is none)."""
        if ctx.msg is None:
            return -1
        field = self._first(ctx.msg, hdr_anchor, exact_case=True) if hdr_anchor else None
        return self._insert(ctx, field.index + 1 if field is not None else len(ctx.msg.headers), txt)

    def insert_hf(self, ctx: MsgContext, txt: str, hdr: str | None = None) -> int:
        """Before the first header, or before the first `hdr` header (the top when there is none)."""
        if ctx.msg is None:
            return -1
        field = self._first(ctx.msg, hdr, exact_case=True) if hdr else None
        return self._insert(ctx, field.index if field is not None else 0, txt)

    def append_urihf(self, ctx: MsgContext, prefix: str, suffix: str) -> int:
        """A header line of prefix + the received R-URI + suffix, after the last header."""
        if not ctx.is_request:
            return -1
        return self._insert(ctx, len(ctx.msg.headers), f"{prefix}{ctx.msg.ruri_text}{suffix}")

    def _remove_where(self, ctx: MsgContext, matches) -> int:
        """Remove every matching header line not removed yet; 1 if at least one went, else -1."""
        if ctx.msg is None:
            return -1
        removed = ctx.msg.lumps.removed
        count = 0
        for field in ctx.msg.headers:
            if field.index not in removed and matches(field):
                removed.add(field.index)
                count += 1
        return 1 if count else -1

    def remove_hf(self, ctx: MsgContext, hname: str) -> int:
        return self._remove_where(ctx, _header_matcher(hname))

    def remove_hf_re(self, ctx: MsgContext, hname_expr: re.Pattern) -> int:
        regex = as_posix(hname_expr)
        return self._remove_where(ctx, lambda field: regex.search(field.name) is not None)

    def remove_hf_glob(self, ctx: MsgContext, hname_pattern: str) -> int:
        pattern = hname_pattern.lower()
        return self._remove_where(ctx, lambda field: fnmatch.fnmatchcase(field.name.lower(), pattern))

    def is_present_hf(self, ctx: MsgContext, hf_name: str) -> int:
        if ctx.msg is None:
            return -1
        return 1 if self._first(ctx.msg, hf_name) is not None else -1

    def get_glob_headers_values(self, ctx: MsgContext, hdr_name_glob: str, hdr_names_avp, hdr_vals_avp) -> int:
        """Push the name and value of every header matching the glob (case-insensitive) into two AVPs."""
        if ctx.msg is None or hdr_names_avp.name != "avp" or hdr_vals_avp.name != "avp":
            return -1
        pattern = hdr_name_glob.lower()
        count = 0
        for field in ctx.msg.headers:
            if fnmatch.fnmatchcase(field.name.lower(), pattern):
                hdr_names_avp.set(ctx, field.name, "=")
                hdr_vals_avp.set(ctx, field.value, "=")
                count += 1
        return 1 if count else -1

    # -- comma-list headers (list_hdr.c) ----------------------------------------------------------------
    def _list_state(self, ctx: MsgContext) -> dict[int, str | None]:
        state = ctx.module_state.setdefault("sipmsgops", {})
        if state.get("msg") is not ctx.msg:
            state.clear()
            state["msg"] = ctx.msg
        return state.setdefault("list_hdr", {})

    def list_hdr_has_option(self, ctx: MsgContext, hdr_name: str, option: str) -> int:
        """In any header of that name, as received."""
        if ctx.msg is None:
            return -1
        matches = _header_matcher(hdr_name)
        for field in ctx.msg.headers:
            if not matches(field):
                continue
            value = field.value
            tokens = _list_tokens(value)
            if tokens is None:
                return -1
            if any(value[s:e].lower() == option.lower() for s, e in tokens):
                return 1
        return -1

    def list_hdr_add_option(self, ctx: MsgContext, hdr_name: str, option: str) -> int:
        """Add the option at the end of the first header of that name (as edited so far); -1 without one."""
        if ctx.msg is None:
            return -1
        field = self._first(ctx.msg, hdr_name)
        if field is None:
            return -1
        state = self._list_state(ctx)
        value = state.get(field.index, field.value)
        if value is None:
            new = option
            ctx.msg.lumps.removed.discard(field.index)
        else:
            tokens = _list_tokens(value)
            if tokens is None:
                return -1
            end = tokens[-1][1] if tokens else len(value)
            new = value[:end] + ("," if tokens else " ") + option + value[end:]
        state[field.index] = new
        ctx.msg.replace_field(field.index, new)
        return 1

    def list_hdr_remove_option(self, ctx: MsgContext, hdr_name: str, option: str) -> int:
        """Remove the option from every header of that name; a header left empty goes. 1 if one was found."""
        if ctx.msg is None:
            return -1
        matches = _header_matcher(hdr_name)
        state = self._list_state(ctx)
        removed = 0
        for field in ctx.msg.headers:
            if not matches(field):
                continue
            value = state.get(field.index, field.value)
            if value is None:
                continue
            tokens = _list_tokens(value)
            if tokens is None:
                return -1
            for k, (start, end) in enumerate(tokens):
                if value[start:end].lower() != option.lower():
                    continue
                if len(tokens) == 1:
                    state[field.index] = None
                    ctx.msg.lumps.replaced.pop(field.index, None)
                    ctx.msg.lumps.removed.add(field.index)
                else:
                    if k == len(tokens) - 1:
                        new = value[:tokens[k - 1][1]] + value[end:]
                    else:
                        new = value[:start] + value[tokens[k + 1][0]:]
                    state[field.index] = new
                    ctx.msg.replace_field(field.index, new)
                removed += 1
                break
        return 1 if removed else -1

    # -- what local replies carry ---------------------------------------------------------------------
    @staticmethod
    def _reply_state(ctx: MsgContext) -> dict:
        return ctx.module_state.setdefault("sl", {})

    def append_to_reply(self, ctx: MsgContext, txt: str) -> int:
        if txt:
            self._reply_state(ctx).setdefault("reply_headers", []).extend(_text_lines(txt))
        return 1

    def append_body_to_reply(self, ctx: MsgContext, txt: str) -> int:
        self._reply_state(ctx)["reply_body"] = txt or ""
        return 1

    def append_time(self, ctx: MsgContext) -> int:
        """`Date:` (RFC 1123, GMT) of now for the next local reply."""
        date = email.utils.formatdate(ctx.now, usegmt=True)
        self._reply_state(ctx).setdefault("reply_headers", []).append(f"Date: {date}")
        return 1

    # -- tests on the message -----------------------------------------------------------------------------
    def is_method(self, ctx: MsgContext, name: str) -> int:
        """Known methods compare by id (the method as written must be the upper-case name); a single
        unknown name compares case-insensitively with an unknown method. Replies: the CSeq method."""
        if ctx.msg is None:
            return -1
        names = [part.strip() for part in re.split(r"[|,]", name or "") if part.strip()]
        if not names:
            raise ScriptError("empty method name")
        wanted = {n.upper() for n in names}
        if len(names) > 1 and not wanted <= KNOWN_METHODS:
            raise ScriptError(f"unknown method in list [{name}] - must be only defined methods")
        if ctx.msg.is_request:
            method = ctx.msg.method
        else:
            try:
                cseq = ctx.msg.cseq
            except SIPParseError:
                return -1
            if cseq is None:
                return -1
            method = cseq.method
        if wanted <= KNOWN_METHODS:
            return 1 if method in wanted else -1
        return 1 if method not in KNOWN_METHODS and method.lower() == names[0].lower() else -1

    def has_totag(self, ctx: MsgContext) -> int:
        try:
            to = ctx.msg.to if ctx.msg is not None else None
        except SIPParseError:
            return -1
        return 1 if to is not None and to.tag else -1

    def has_body(self, ctx: MsgContext, mime: str | None = None) -> int:
        """A non-empty body (3.2's rule: 3.4+ answers 1 for any UDP message without a mime argument);
        with a mime, a multipart type matches Content-Type, any other a part of the body."""
        msg = ctx.msg
        if msg is None or not msg.body:
            return -1
        if not mime:
            return 1
        wanted = mime.strip().lower()
        try:
            content_type = msg.content_type
        except SIPParseError:
            return -1
        if wanted.startswith("multipart/"):
            return 1 if content_type is not None and content_type.mime == wanted else -1
        return 1 if any(part_mime == wanted for part_mime, _ in body_parts(content_type, msg.body)) else -1

    has_body_part = has_body  # one C function for both

    def is_privacy(self, ctx: MsgContext, privacy_type: str) -> int:
        """The Privacy header (RFC 3323) holds that value; -1 without one or with an unknown value."""
        if ctx.msg is None:
            return -1
        values: set[str] = set()
        for value in ctx.msg.header_values("privacy"):
            for token in value.split(";"):
                token = token.strip().lower()
                if token not in PRIVACY_VALUES:
                    return -1
                values.add(token)
        return 1 if privacy_type.lower() in values else -1

    def is_uri_user_e164(self, ctx: MsgContext, uri: str) -> int:
        """The user part is '+' and 2 to 15 digits."""
        if not uri:
            return -1
        try:
            user = URI(uri).user or ""
        except SIPParseError:
            return -1
        return 1 if 2 < len(user) < 17 and user[0] == "+" and user[1:].isdigit() and user[1:].isascii() else -1

    # -- R-URI parameters (uri.c) -------------------------------------------------------------------------
    @staticmethod
    def _ruri(ctx: MsgContext) -> URI | None:
        from opensips_py.script.core_functions import current_ruri
        uri = current_ruri(ctx) if ctx.is_request else None
        return uri if uri is not None and (uri.is_sip or uri.scheme == "tel") else None

    def ruri_has_param(self, ctx: MsgContext, param: str, value: str | None = None) -> int:
        """The first parameter of that name (case-sensitive) decides: its value must equal `value`, or it
        must have none when no value is given."""
        uri = self._ruri(ctx)
        if uri is None:
            return -1
        for item in uri.params_text.split(";")[1:]:
            name, eq, body = item.strip().partition("=")
            if name.strip() != param:
                continue
            if value is not None:
                return 1 if body.strip() == value else -1
            return 1 if not body.strip() else -1
        return -1

    def ruri_add_param(self, ctx: MsgContext, param: str) -> int:
        if not param:
            return 1
        uri = self._ruri(ctx)
        if uri is None:
            return -1
        if not uri.headers_text:
            ctx.new_uri = f"{ctx.ruri()};{param}"
            return 1
        ctx.new_uri = uri.replace(params=f"{uri.params_text};{param}").raw
        return 1

    def ruri_del_param(self, ctx: MsgContext, param: str) -> int:
        if not param:
            return 1
        uri = self._ruri(ctx)
        if uri is None or not uri.params_text:
            return -1
        items = uri.params_text.split(";")[1:]
        for k, item in enumerate(items):
            if item.partition("=")[0] == param:
                kept = items[:k] + items[k + 1:]
                try:
                    ctx.new_uri = uri.replace(params="".join(";" + i for i in kept)).raw
                except (SIPParseError, ValueError):
                    return -1
                return 1
        return -1

    def ruri_tel2sip(self, ctx: MsgContext) -> int:
        """tel:N -> sip:N@<From host>;user=phone (tel parameters stay after the number, as uri.c writes
        them); 1 also when the R-URI is not a tel URI."""
        if not ctx.is_request:
            return -1
        ruri = ctx.ruri()
        if len(ruri) < 4 or ruri[:4].lower() != "tel:":
            return 1
        try:
            from_uri = ctx.msg.from_.uri
        except (SIPParseError, AttributeError):
            return -1
        ctx.new_uri = f"sip:{ruri[4:]}@{from_uri.host or ''};user=phone"
        return 1

    # -- bodies -------------------------------------------------------------------------------------------
    def get_updated_body_part(self, ctx: MsgContext, mime: str | None, variable) -> int:
        """The body as it will be sent (or its first part of that mime) into the variable; -2 when no part
        has that mime, -1 without a body."""
        if ctx.msg is None:
            return -1
        body = current_body(ctx.msg)
        if not body:
            return -1
        content = body
        if mime:
            try:
                content_type = ctx.msg.content_type
            except SIPParseError:
                return -1
            found = [part for part_mime, part in body_parts(content_type, body) if part_mime == mime.lower()]
            if not found:
                return -2
            content = found[0]
        variable.set(ctx, content.decode("utf-8", "surrogateescape"), "=")
        return 1

    def sip_to_json(self, ctx: MsgContext, out_var) -> int:
        """{"first_line", "headers": {name: [values]}, "body"} as compact JSON (3.6)."""
        msg = ctx.msg
        if msg is None:
            return -1
        headers: dict[str, list[str]] = {}
        for field in msg.headers:
            headers.setdefault(field.name, []).append(field.value)
        document: dict[str, object] = {"first_line": msg.start_line + line_end_of(msg), "headers": headers}
        if msg.body:
            document["body"] = msg.body.decode("utf-8", "surrogateescape")
        out_var.set(ctx, json.dumps(document, separators=(",", ":"), ensure_ascii=False), "=")
        return 1

    # -- SDP codecs and streams (codecs.c) ----------------------------------------------------------------
    @staticmethod
    def _sdp_to_edit(ctx: MsgContext) -> SessionDescription | None:
        msg = ctx.msg
        if msg is None:
            return None
        try:
            content_type = msg.content_type
        except SIPParseError:
            return None
        body = current_body(msg)
        if content_type is None or content_type.mime != "application/sdp" or not body:
            return None
        return SessionDescription.parse(body)

    def _codecs(self, ctx: MsgContext, matches, op: str, clock_given: bool = False) -> int:
        sdp = self._sdp_to_edit(ctx)
        if sdp is None:
            return -1
        result, changed = -1, False
        try:
            for md in sdp.media:
                found, edited = _stream_codecs(md, matches, op, clock_given)
                if found == 1:
                    result = 1
                changed |= edited
        except SIPParseError:
            return -1
        if changed:
            ctx.msg.set_body(sdp.serialize())
        return result

    @staticmethod
    def _by_name(name: str, clock: str | None, check_clock: bool):
        def matches(encoding: str, codec_clock: str | None) -> bool:
            if encoding.lower() != name.lower():
                return False
            return not check_clock or clock is None or (codec_clock or "").lower() == clock.lower()
        return matches

    @staticmethod
    def _by_regex(pattern: re.Pattern, complement: bool = False):
        regex = as_posix(pattern)
        return lambda encoding, clock: (regex.search(encoding) is not None) != complement

    def codec_exists(self, ctx: MsgContext, name: str, clock: str | None = None) -> int:
        """By name only (a clock only skips payloads that have none, as codec_find() does)."""
        return self._codecs(ctx, self._by_name(name, clock, False), FIND, clock is not None)

    def codec_delete(self, ctx: MsgContext, name: str, clock: str | None = None) -> int:
        return self._codecs(ctx, self._by_name(name, clock, True), DELETE, clock is not None)

    def codec_move_up(self, ctx: MsgContext, name: str, clock: str | None = None) -> int:
        return self._codecs(ctx, self._by_name(name, clock, True), MOVE_UP, clock is not None)

    def codec_move_down(self, ctx: MsgContext, name: str, clock: str | None = None) -> int:
        return self._codecs(ctx, self._by_name(name, clock, True), MOVE_DOWN, clock is not None)

    def codec_exists_re(self, ctx: MsgContext, regexp: re.Pattern) -> int:
        return self._codecs(ctx, self._by_regex(regexp), FIND)

    def codec_delete_re(self, ctx: MsgContext, regexp: re.Pattern) -> int:
        return self._codecs(ctx, self._by_regex(regexp), DELETE)

    def codec_delete_except_re(self, ctx: MsgContext, regexp: re.Pattern) -> int:
        return self._codecs(ctx, self._by_regex(regexp, complement=True), DELETE)

    def codec_move_up_re(self, ctx: MsgContext, regexp: re.Pattern) -> int:
        return self._codecs(ctx, self._by_regex(regexp), MOVE_UP)

    def codec_move_down_re(self, ctx: MsgContext, regexp: re.Pattern) -> int:
        return self._codecs(ctx, self._by_regex(regexp), MOVE_DOWN)

    def _matching_stream(self, ctx: MsgContext, regexp: re.Pattern, regexp2: re.Pattern | None) -> int | None:
        """Index of the first received m= stream whose media (and transport) match."""
        try:
            sdp = ctx.msg.sdp if ctx.msg is not None else None
        except SIPParseError:
            return None
        if sdp is None:
            return None
        media_re = as_posix(regexp)
        transport_re = as_posix(regexp2) if regexp2 is not None else None
        for index, md in enumerate(sdp.media):
            try:
                if media_re.search(md.media) and (transport_re is None or transport_re.search(md.proto)):
                    return index
            except SIPParseError:
                continue
        return None

    def stream_exists(self, ctx: MsgContext, regexp: re.Pattern, regexp2: re.Pattern | None = None) -> int:
        return 1 if self._matching_stream(ctx, regexp, regexp2) is not None else -1

    def stream_delete(self, ctx: MsgContext, regexp: re.Pattern, regexp2: re.Pattern | None = None) -> int:
        """Delete the first matching stream (its whole m= section); -1 when that stream is already gone."""
        index = self._matching_stream(ctx, regexp, regexp2)
        if index is None:
            return -1
        state = ctx.module_state.setdefault("sipmsgops", {})
        if state.get("msg") is not ctx.msg:
            state.clear()
            state["msg"] = ctx.msg
        deleted: set[int] = state.setdefault("deleted_streams", set())
        sdp = self._sdp_to_edit(ctx)
        if index in deleted or sdp is None:
            return -1
        position = index - sum(1 for d in deleted if d < index)
        if position >= len(sdp.media) or not sdp.media[position].formats:
            return -1
        del sdp.media[position]
        deleted.add(index)
        ctx.msg.set_body(sdp.serialize())
        return 1

    def is_audio_on_hold(self, ctx: MsgContext) -> int:
        """The hold type of the first held audio stream: 2 (a=sendonly/inactive), 1 (c=0.0.0.0); else -1."""
        try:
            sdp = ctx.msg.sdp if ctx.msg is not None else None
        except SIPParseError:
            return -1
        if sdp is None:
            return -1
        for md in sdp.media:
            try:
                if md.media == "audio":
                    hold = _hold_type(md, sdp)
                    if hold:
                        return hold
            except SIPParseError:
                continue
        return -1

    # -- validation ---------------------------------------------------------------------------------------
    def sipmsg_validate(self, ctx: MsgContext, flags: str | None = None, result_pvar=None) -> int:
        """1 when the message passes; else the negative code of sipmsgops.c (-3 no Call-ID, -13 no
        Max-Forwards…), with its reason text in result_pvar when given."""
        code, reason = validate_message(ctx, flags or "")
        if code < 0 and result_pvar is not None:
            result_pvar.set(ctx, reason, "=")
        return code
