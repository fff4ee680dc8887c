"""The core pseudo-variables of OpenSIPS 3.6 (pvar.c `_pv_names_table`), plus the 3.2 names removed in 3.3.

Each `$name` is one getter registered with `@core_pv` (a thin wrapper over pvars.handler): `get(ctx, arg,
index)` reads the message through opensips_py.sip and the routing state of the MsgContext. What OpenSIPS
returns is kept (read in pvar.c, route.c, dset.c, parser/msg_parser.c of the 3.6 branch):

- null where the value is missing (no such header, a reply asked for its R-URI, an empty display name);
- ints where OpenSIPS's value is an int: $rs $cs $cl $ml $sp $rp $op $dp $Ts $Tsm $TS $pp $mi $ru_q
  $hdrcnt $socket_in(port) $msg.is_request $log_level, and the default port of a URI without one
  ($rp of `sip:a@b` is 5060, of `sips:a@b` 5061);
- a header that fails to parse reads as null (OpenSIPS logs and returns null), never an exception;
- `[*]` gives the list of every value (the compiler joins it with "," in strings); `[n]`/`[-1]` index it.

Writes follow the setters of pvar.c: `$ru`/`$rU`/`$rd`/`$rp` rewrite the current R-URI (`$rU = NULL` and
`$rp = NULL` remove the user/port; `$rd = NULL` is refused), `$du = NULL` resets the destination, `$dd`/`$dp`
need a `$du` to edit. A refused write logs an error (L_ERR) and changes nothing, as OpenSIPS does.
"""
from __future__ import annotations

import functools
import ipaddress
import itertools
import os
import re
import time
import weakref
from typing import Callable

from opensips_py.script.context import ListenSocket, MsgContext, Value
from opensips_py.script.pvars import ALL, handler, pick
from opensips_py.sip.errors import SIPParseError
from opensips_py.sip.headers import NameAddr, parse_name_addr, parse_name_addr_list, unquote
from opensips_py.sip.uri import URI

L_ERR = -1
_STARTUP_TIME = time.time()

# net/trans.c protos[]: the name and the default port of each transport.
DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061, "sctp": 5060, "ws": 80, "wss": 443, "ipsec": 5062,
                 "bin": 5555, "bins": 5556}


def core_pv(*names: str, setter: Callable | None = None):
    """Register a core PV getter whose malformed-header errors read as null (OpenSIPS: LM_ERR + null)."""

    def register(getter):
        @functools.wraps(getter)
        def safe(ctx: MsgContext, arg, index):
            try:
                return getter(ctx, arg, index)
            except SIPParseError:
                return None

        handler(*names, setter=setter)(safe)
        return getter

    return register


def _error(ctx: MsgContext, text: str) -> None:
    ctx.log(L_ERR, text)


def _pick(values: list[Value], index) -> Value | list[Value]:
    """pvars.pick(), with `[*]` over no value at all reading null (OpenSIPS prints <null>, not "")."""
    if index == ALL and not values:
        return None
    return pick(values, index)


# ------------------------------------------------------------------------------------------------ helpers

def _request(ctx: MsgContext):
    msg = ctx.msg
    return msg if msg is not None and msg.is_request else None


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


@functools.lru_cache(maxsize=2048)
def parse_uri_or_none(text: str) -> URI | None:
    """A parsed URI, or None when the text is not one (URIs are immutable, so the cache is shared)."""
    try:
        return URI(text)
    except SIPParseError:
        return None


def uri_proto(uri: URI) -> str:
    """parse_uri.h get_uri_port(): the transport parameter, else tls for sips:, else udp."""
    transport = uri.transport
    if transport:
        return transport
    return "tls" if uri.scheme == "sips" else "udp"


def uri_port(uri: URI) -> int:
    """The URI's port, or the default port of its transport (get_uri_port)."""
    if uri.port is not None:
        return uri.port
    return DEFAULT_PORTS.get(uri_proto(uri), 5060)


def _uri_part(uri: URI | None, part: str) -> Value:
    """pv_get_xuri_attr(): user / host / port / proto of a URI, null when missing."""
    if uri is None:
        return None
    if part == "user":
        return uri.user or None
    if part == "host":
        return uri.host or None
    if part == "port":
        return uri_port(uri)
    transport = uri.params.get("transport")
    return transport if transport else uri_proto(uri)


def raw_display(name_addr: NameAddr) -> str | None:
    """The display name as written, quotes included (what OpenSIPS's to_body.display holds)."""
    if not name_addr.bracketed:
        return None
    raw = name_addr.raw
    quoted = _QUOTED_DISPLAY.match(raw)
    if quoted:
        return quoted.group(1)
    text = raw[:raw.find("<")].strip()
    return text or None


_QUOTED_DISPLAY = re.compile(r'[ \t]*("(?:[^"\\]|\\[\s\S])*")')


def raw_params(name_addr: NameAddr) -> str | None:
    """The parameters after the URI as written, without the first ';' (null when none)."""
    raw = name_addr.raw
    if name_addr.bracketed:
        quoted = _QUOTED_DISPLAY.match(raw)
        start = raw.find("<", quoted.end() if quoted else 0)
        rest = raw[raw.find(">", start) + 1:]
    else:
        rest = raw[raw.find(name_addr.uri_text) + len(name_addr.uri_text):]
    rest = rest.strip(" \t")
    if rest.startswith(";"):
        rest = rest[1:].lstrip(" \t")
    return rest or None


def _first_name_addr(msg, header: str) -> NameAddr | None:
    """The first name-addr of a header that may hold a comma list (P-Asserted-Identity, Diversion…)."""
    if msg is None:
        return None
    value = msg.header(header)
    if value is None:
        return None
    return parse_name_addr_list(value, header)[0]


def flag_list(flags) -> str:
    """flags.c bitmask_to_flag_list(): the names, space separated (ours in name order, numbers first)."""
    return " ".join(sorted(flags, key=lambda name: (not name.isdigit(), int(name) if name.isdigit() else 0,
                                                    name)))


def q_text(q: int | None) -> str:
    """qvalue.h q2str(): q*1000 as "1", "0", "0.5", "0.123"; unset as ""."""
    if q is None:
        return ""
    if q >= 1000:
        return "1"
    if q <= 0:
        return "0"
    return ("0." + f"{q:03d}").rstrip("0")


def _as_text(value: Value) -> str | None:
    return None if value is None else str(value)


def _as_int(value: Value) -> int | None:
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------------------------ R-URI

def _ruri(ctx: MsgContext) -> URI | None:
    if _request(ctx) is None:
        return None
    return parse_uri_or_none(ctx.ruri())


@core_pv("ru", "ruri", setter=lambda ctx, arg, index, value, op: _set_ruri(ctx, value))
def _get_ru(ctx: MsgContext, arg, index) -> Value:
    if _request(ctx) is None:
        return None
    return ctx.ruri()


def _set_ruri(ctx: MsgContext, value: Value) -> None:
    if value is None:
        _error(ctx, "str value required to set R-URI")
        return
    ctx.new_uri = str(value)


def _rewrite_ruri(ctx: MsgContext, what: str, **parts) -> None:
    """rewrite_ruri(): change one part of the current R-URI, keep the rest as written."""
    if _request(ctx) is None:
        _error(ctx, f"cannot set the R-URI {what} of a reply")
        return
    uri = parse_uri_or_none(ctx.ruri())
    if uri is None or not (uri.is_sip or uri.scheme == "tel"):
        _error(ctx, f"cannot set the R-URI {what}: bad R-URI {ctx.ruri()!r}")
        return
    try:
        ctx.new_uri = str(uri.replace(**parts))
    except (SIPParseError, ValueError) as exc:
        _error(ctx, f"failed to set R-URI {what}: {exc}")


def _set_ruri_user(ctx, arg, index, value, op) -> None:
    _rewrite_ruri(ctx, "user", user=_as_text(value) or None)


def _set_ruri_host(ctx, arg, index, value, op) -> None:
    if value is None or value == "":
        _error(ctx, "str value required to set R-URI hostname")
        return
    _rewrite_ruri(ctx, "hostname", host=str(value))


def _set_ruri_port(ctx, arg, index, value, op) -> None:
    text = _as_text(value)
    _rewrite_ruri(ctx, "port", port=text or None)


@core_pv("rU", "ruri.user", setter=_set_ruri_user)
def _get_ru_user(ctx, arg, index):
    return _uri_part(_ruri(ctx), "user")


@core_pv("rd", "ruri.domain", setter=_set_ruri_host)
def _get_ru_host(ctx, arg, index):
    return _uri_part(_ruri(ctx), "host")


@core_pv("rp", setter=_set_ruri_port)
def _get_ru_port(ctx, arg, index):
    return _uri_part(_ruri(ctx), "port")


@core_pv("rP")
def _get_ru_proto(ctx, arg, index):
    return _uri_part(_ruri(ctx), "proto")


def _set_ru_q(ctx, arg, index, value, op) -> None:
    q = _as_int(value) if value is not None else None
    if q is None:
        _error(ctx, "int value required to set r-uri queue value")
        return
    ctx.ruri_q = min(q, 1000)


@core_pv("ru_q", setter=_set_ru_q)
def _get_ru_q(ctx, arg, index):
    if _request(ctx) is None:
        return None
    return -1 if ctx.ruri_q is None else ctx.ruri_q


def _ouri(ctx: MsgContext) -> URI | None:
    msg = _request(ctx)
    return parse_uri_or_none(msg.ruri_text) if msg is not None else None


@core_pv("ou", "ouri")
def _get_ou(ctx, arg, index):
    msg = _request(ctx)
    return msg.ruri_text if msg is not None else None


@core_pv("oU")
def _get_ou_user(ctx, arg, index):
    return _uri_part(_ouri(ctx), "user")


@core_pv("od")
def _get_ou_host(ctx, arg, index):
    return _uri_part(_ouri(ctx), "host")


@core_pv("op")
def _get_ou_port(ctx, arg, index):
    return _uri_part(_ouri(ctx), "port")


@core_pv("oP")
def _get_ou_proto(ctx, arg, index):
    return _uri_part(_ouri(ctx), "proto")


# ------------------------------------------------------------------------------------------------ $du

def _set_du(ctx, arg, index, value, op) -> None:
    ctx.dst_uri = None if value is None else str(value)


def _set_dst_part(ctx: MsgContext, host: str | None = None, port: object = URI._KEEP) -> None:
    """msg_parser.c set_dst_host_port(): edit the host or port of an existing $du."""
    if not ctx.dst_uri:
        _error(ctx, "failure - null uri (set $du first)")
        return
    uri = parse_uri_or_none(ctx.dst_uri)
    if uri is None or not uri.is_sip:
        _error(ctx, f"bad uri <{ctx.dst_uri}>")
        return
    try:
        ctx.dst_uri = str(uri.replace(host=host, port=port))
    except (SIPParseError, ValueError) as exc:
        _error(ctx, f"failed to set the destination URI: {exc}")


def _set_dd(ctx, arg, index, value, op) -> None:
    if value is None or value == "":
        _error(ctx, "cannot set a null uri domain")
        return
    _set_dst_part(ctx, host=str(value))


def _set_dp(ctx, arg, index, value, op) -> None:
    _set_dst_part(ctx, port=_as_text(value) or None)


def _duri(ctx: MsgContext) -> URI | None:
    return parse_uri_or_none(ctx.dst_uri) if ctx.dst_uri else None


@core_pv("du", "duri", setter=_set_du)
def _get_du(ctx, arg, index):
    return ctx.dst_uri or None


@core_pv("dd", setter=_set_dd)
def _get_dd(ctx, arg, index):
    return _uri_part(_duri(ctx), "host")


@core_pv("dp", setter=_set_dp)
def _get_dp(ctx, arg, index):
    return _uri_part(_duri(ctx), "port")


@core_pv("dP")
def _get_dproto(ctx, arg, index):
    return _uri_part(_duri(ctx), "proto")


@core_pv("ds")
def _get_dset(ctx, arg, index):
    """dset.c print_dset(): `Contact: <ruri>;q=x, <branch>…` without the CRLF (the R-URI only if rewritten)."""
    items = []
    if ctx.new_uri is not None:
        items.append((ctx.new_uri, ctx.ruri_q))
    items.extend((branch.uri, branch.q) for branch in ctx.branches)
    if not items:
        return None
    return "Contact: " + ", ".join(f"<{uri}>" + (f";q={q_text(q)}" if q is not None else "")
                                   for uri, q in items)


@core_pv("path")
def _get_path(ctx, arg, index):
    """The path vector of the R-URI branch (set by lookup()), not the Path header."""
    return ctx.path or None


# ------------------------------------------------------------------------------------------------ From / To

def _from_to(ctx: MsgContext, which: str, part: str) -> Value:
    msg = ctx.msg
    if msg is None:
        return None
    body = msg.from_ if which == "from" else msg.to
    if body is None:
        return None
    if part == "uri":
        return body.uri_text
    if part == "tag":
        return body.tag or None
    if part == "name":
        return raw_display(body)
    uri = parse_uri_or_none(body.uri_text)
    if uri is None:
        return None
    return (uri.user if part == "user" else uri.host) or None


def _from_to_getter(which: str, part: str):
    return lambda ctx, arg, index: _from_to(ctx, which, part)


for _names, _which, _part in (
        (("fu", "from"), "from", "uri"), (("fU", "from.user"), "from", "user"),
        (("fd", "from.domain"), "from", "host"), (("fn",), "from", "name"), (("ft",), "from", "tag"),
        (("tu", "to"), "to", "uri"), (("tU", "to.user"), "to", "user"), (("td", "to.domain"), "to", "host"),
        (("tn",), "to", "name"), (("tt",), "to", "tag")):
    core_pv(*_names)(_from_to_getter(_which, _part))


# ------------------------------------------------------------------------------------------------ message

@core_pv("ci")
def _get_callid(ctx, arg, index):
    return ctx.msg.header("call-id") if ctx.msg is not None else None


@core_pv("cs")
def _get_cseq(ctx, arg, index):
    cseq = ctx.msg.cseq if ctx.msg is not None else None
    return cseq.number if cseq is not None else None


@core_pv("cl")
def _get_content_length(ctx, arg, index):
    return ctx.msg.content_length if ctx.msg is not None else None


@core_pv("rm")
def _get_method(ctx, arg, index):
    msg = ctx.msg
    if msg is None:
        return None
    if msg.is_request:
        return msg.method
    cseq = msg.cseq
    return cseq.method if cseq is not None else None


@core_pv("rs")
def _get_status(ctx, arg, index):
    msg = ctx.msg
    return msg.status if msg is not None and not msg.is_request else None


@core_pv("rr")
def _get_reason(ctx, arg, index):
    msg = ctx.msg
    return msg.reason if msg is not None and not msg.is_request else None


@core_pv("ml")
def _get_msg_len(ctx, arg, index):
    return len(ctx.msg.raw) if ctx.msg is not None else None


@core_pv("mb")
def _get_msg_buf(ctx, arg, index):
    return _text(ctx.msg.raw) if ctx.msg is not None else None


_MSG_IDS: "weakref.WeakKeyDictionary[object, int]" = weakref.WeakKeyDictionary()
_NEXT_MSG_ID = itertools.count(1)


@core_pv("mi")
def _get_msg_id(ctx, arg, index):
    """A per-process message counter, fixed for a message once read (OpenSIPS's msg->id)."""
    msg = ctx.msg
    if msg is None:
        return None
    found = _MSG_IDS.get(msg)
    if found is None:
        found = _MSG_IDS[msg] = next(_NEXT_MSG_ID)
    return found


@core_pv("ua")
def _get_user_agent(ctx, arg, index):
    return ctx.msg.header("user-agent") if ctx.msg is not None else None


@core_pv("msg.is_request")
def _get_is_request(ctx, arg, index):
    return 1 if ctx.is_request else 0


@core_pv("msg.type")
def _get_msg_type(ctx, arg, index):
    return "request" if ctx.is_request else "reply"


# ------------------------------------------------------------------------------------------------ headers

@core_pv("hdr")
def _get_hdr(ctx, arg, index):
    """Every line of that header (compact forms match), one value per line as OpenSIPS keeps them."""
    if ctx.msg is None or not arg:
        return None
    return _pick(ctx.msg.header_values(arg), index)


@core_pv("hdrcnt")
def _get_hdrcnt(ctx, arg, index):
    if ctx.msg is None or not arg:
        return None
    return ctx.msg.header_count(arg)


@core_pv("hdr_name")
def _get_hdr_name(ctx, arg, index):
    if ctx.msg is None:
        return None
    return _pick([field.name for field in ctx.msg.headers], index)


# ------------------------------------------------------------------------------------------------ Contact

_CONTACT_FIELDS = ("name", "uri", "q", "expires", "methods", "received", "params")


def _contact_field(contact, field: str | None) -> Value:
    if contact.is_star:
        return "*" if field is None else None
    if field is None:
        return contact.raw
    if field == "name":
        return raw_display(contact)
    if field == "uri":
        return contact.uri_text
    if field == "params":
        return raw_params(contact)
    return strip_quotes(contact.params.get(field)) or None


def strip_quotes(value: str | None) -> str | None:
    """A parameter body without its surrounding quotes (parse_param.c keeps the inside as is)."""
    if value is not None and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


def _contacts(ctx: MsgContext, field: str | None, index):
    if ctx.msg is None:
        return None
    values = [_contact_field(c, field) for c in ctx.msg.contacts]
    return _pick(values, index)


@core_pv("ct")
def _get_contact(ctx, arg, index):
    return _contacts(ctx, None, index)


@core_pv("ct.fields")
def _get_contact_field(ctx, arg, index):
    field = (arg or "").lower()
    if field not in _CONTACT_FIELDS:
        return None
    return _contacts(ctx, field, index)


# ------------------------------------------------------------------------------------------------ body

_PART_SPLIT = re.compile(r"\r?\n\r?\n")


def body_parts(msg) -> list[tuple[str | None, str]]:
    """The body as (mime, text) parts: every part of a multipart body (RFC 2046), else the body itself."""
    body = _text(msg.body)
    if not body:
        return []
    content_type = msg.content_type
    if content_type is None or content_type.type != "multipart":
        return [(content_type.mime if content_type else None, body)]
    boundary = unquote(content_type.params.get("boundary"))
    if not boundary:
        return [(content_type.mime, body)]
    delimiter = "--" + boundary
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith("--"):
            break
        chunk = chunk[2:] if chunk.startswith("\r\n") else chunk.lstrip("\n")
        if chunk.endswith("\r\n"):  # the CRLF before a delimiter belongs to the delimiter
            chunk = chunk[:-2]
        elif chunk.endswith("\n"):
            chunk = chunk[:-1]
        head, found, text = _split_part(chunk)
        mime = "text/plain"
        for line in head.splitlines():
            name, _, value = line.partition(":")
            if name.strip().lower() in ("content-type", "c"):
                mime = value.split(";")[0].strip().lower()
        parts.append((mime, text if found else chunk))
    return parts


def _split_part(chunk: str) -> tuple[str, bool, str]:
    if chunk.startswith("\r\n") or chunk.startswith("\n"):
        return "", True, chunk.lstrip("\r").lstrip("\n")
    match = _PART_SPLIT.search(chunk)
    if match is None:
        return chunk, False, ""
    return chunk[:match.start()], True, chunk[match.end():]


@core_pv("rb")
def _get_body(ctx, arg, index):
    """$rb: the whole body; $(rb[n]) part n; $rb(mime) the first part of that type, $(rb(mime)[n]) the n-th."""
    msg = ctx.msg
    if msg is None:
        return None
    if not arg and (index is None or index == ALL):
        return _text(msg.body) or None
    parts = body_parts(msg)
    if arg:
        mime = arg.strip().lower()
        parts = [part for part in parts if part[0] == mime]
        if index == ALL:
            index = None
    return _pick([text for _, text in parts], index)


@core_pv("cT")
def _get_content_type(ctx, arg, index):
    """$cT the Content-Type header; $(cT[n]) the type of body part n; $(cT[*]) the header then every part's."""
    msg = ctx.msg
    if msg is None:
        return None
    header = msg.header("content-type")
    if index is None:
        return header
    if index == ALL:
        if header is None:
            return None
        return [header] + [mime or "" for mime, _ in body_parts(msg)]
    return _pick([mime for mime, _ in body_parts(msg)], index)


# ------------------------------------------------------------------------------------------------ identities

def _identity(header: str, part: str):
    def get(ctx, arg, index):
        body = _first_name_addr(ctx.msg, header)
        if body is None:
            return None
        if part == "uri":
            return body.uri_text
        if part == "name":
            return raw_display(body)
        uri = parse_uri_or_none(body.uri_text)
        if uri is None:
            return None
        return (uri.user if part == "user" else uri.host) or None

    return get


core_pv("ai")(_identity("P-Asserted-Identity", "uri"))
core_pv("pu")(_identity("P-Preferred-Identity", "uri"))
core_pv("pU")(_identity("P-Preferred-Identity", "user"))
core_pv("pd")(_identity("P-Preferred-Identity", "host"))
core_pv("pn")(_identity("P-Preferred-Identity", "name"))
core_pv("re")(_identity("Remote-Party-ID", "uri"))


@core_pv("rt")
def _get_refer_to(ctx, arg, index):
    value = ctx.msg.header("refer-to") if ctx.msg is not None else None
    return parse_name_addr(value, "Refer-To").uri_text if value is not None else None


def _diversion(param: str | None):
    def get(ctx, arg, index):
        body = _first_name_addr(ctx.msg, "Diversion")
        if body is None:
            return None
        if param is None:
            return body.uri_text
        return strip_quotes(body.params.get(param)) or None

    return get


core_pv("di")(_diversion(None))
core_pv("dir")(_diversion("reason"))
core_pv("dip")(_diversion("privacy"))


# ------------------------------------------------------------------------------------------------ credentials

def credentials(msg):
    """The credentials $au… read: the first Proxy-Authorization, else the first Authorization (none for
    ACK and CANCEL, which are never challenged)."""
    if msg is None or not msg.is_request or msg.method in ("ACK", "CANCEL"):
        return None
    found = msg.proxy_authorization or msg.authorization
    return found[0] if found else None


def _auth(field: str):
    def get(ctx, arg, index):
        cred = credentials(ctx.msg)
        if cred is None:
            return None
        if field in ("user", "domain", "whole"):
            username = cred.username or ""
            user, at, domain = username.partition("@")
            value = {"user": user, "domain": domain if at else "", "whole": username}[field]
        else:
            value = cred.params.get(field)
        return value or None

    return get


for _names, _field in ((("au",), "user"), (("ad",), "domain"), (("aU",), "whole"), (("ar",), "realm"),
                       (("adu",), "uri"), (("an", "auth.nonce"), "nonce"), (("auth.resp",), "response"),
                       (("auth.cnonce",), "cnonce"), (("auth.opaque",), "opaque"),
                       (("auth.alg",), "algorithm"), (("auth.qop",), "qop"), (("auth.nc",), "nc")):
    core_pv(*_names)(_auth(_field))


def _challenge(field: str):
    def get(ctx, arg, index):
        msg = ctx.msg
        if msg is None or msg.is_request or msg.status not in (401, 407):
            return None
        found = msg.www_authenticate if msg.status == 401 else msg.proxy_authenticate
        if not found:
            return None
        if field == "algorithm":
            return found[0].algorithm
        return found[0].params.get(field)

    return get


for _field in ("algorithm", "realm", "nonce", "opaque", "qop", "ik", "ck"):
    core_pv(f"challenge.{_field}")(_challenge(_field))


@core_pv("Au")
def _get_acc_username(ctx, arg, index):
    """The accounting user: user@host of the From URI (credentials count only once authorized, which
    the auth module records; without it this is the From identity, as in OpenSIPS before www_authorize)."""
    body = ctx.msg.from_ if ctx.msg is not None else None
    if body is None:
        return None
    uri = parse_uri_or_none(body.uri_text)
    if uri is None:
        return None
    return f"{uri.user or ''}@{uri.host or ''}"


# ------------------------------------------------------------------------------------------------ network

@core_pv("si", "src_ip")
def _get_src_ip(ctx, arg, index):
    return ctx.received.src_host if ctx.received is not None else None


@core_pv("sp")
def _get_src_port(ctx, arg, index):
    return ctx.received.src_port if ctx.received is not None else None


_SOCKET_FIELDS = ("ip", "port", "proto", "advertised_ip", "advertised_port", "tag", "anycast", "af")


def address_family(host: str) -> str | None:
    try:
        return "INET6" if ipaddress.ip_address(host.strip("[]")).version == 6 else "INET"
    except ValueError:
        return None


def socket_field(sock: ListenSocket | None, field: str | None) -> Value:
    """pvar.c get_socket_field(): the whole `proto:ip:port` or one field of a listening socket."""
    if sock is None:
        return None
    if field is None or field == "forced":
        return str(sock)
    if field == "ip":
        return sock.host
    if field == "port":
        return sock.port
    if field == "proto":
        return sock.proto
    if field == "advertised_ip":
        return sock.advertised_host
    if field == "advertised_port":
        return sock.advertised_port
    if field == "tag":
        return sock.tag
    if field == "anycast":
        return 0
    if field == "af":
        return address_family(sock.host)
    return None


def _receiving_socket(ctx: MsgContext) -> ListenSocket | None:
    return ctx.received.socket if ctx.received is not None else None


@core_pv("socket_in")
def _get_socket_in(ctx, arg, index):
    field = arg.lower() if arg else None
    if field is not None and field not in _SOCKET_FIELDS:
        return None
    return socket_field(_receiving_socket(ctx), field)


_SOCKET_TEXT = re.compile(r"(?:([A-Za-z_]+):)?(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::([0-9]{1,5}))?")


def find_socket(ctx: MsgContext, text: str) -> ListenSocket | None:
    """socket_info.c parse_sock_info(): `[proto:]host[:port]` matched against our listening sockets
    (ctx.process.core.sockets when the runtime has them; otherwise the socket described)."""
    match = _SOCKET_TEXT.fullmatch(text.strip())
    if match is None:
        return None
    proto = (match.group(1) or "udp").lower()
    host = match.group(2)
    port = int(match.group(3)) if match.group(3) else None
    sockets = getattr(getattr(ctx.process, "core", None), "sockets", None)
    if sockets is None:
        return ListenSocket(proto, host, port or DEFAULT_PORTS.get(proto, 5060))
    bare = host.strip("[]").lower()
    for sock in sockets:
        if sock.proto != proto or (port is not None and sock.port != port):
            continue
        names = {sock.host.strip("[]").lower()}
        if sock.advertised_host:
            names.add(sock.advertised_host.strip("[]").lower())
        if bare in names or _same_address(bare, names):
            return sock
    return None


def _same_address(host: str, names: set[str]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    for name in names:
        try:
            if ipaddress.ip_address(name) == address:
                return True
        except ValueError:
            continue
    return False


def _set_force_socket(ctx, arg, index, value, op) -> None:
    """$socket_out / $fs = "udp:ip:port": force the sending socket; NULL clears it; an unknown socket is
    ignored with a warning (pvar.c pv_set_force_sock)."""
    if value is None:
        ctx.force_socket = None
        return
    text = str(value)
    if not text:
        _error(ctx, "str value required to set the force send sock")
        return
    sock = find_socket(ctx, text)
    if sock is None:
        ctx.log(1, f"no socket found to match [{text}]")
        return
    ctx.force_socket = sock


@core_pv("socket_out", setter=_set_force_socket)
def _get_socket_out(ctx, arg, index):
    field = arg.lower() if arg else None
    if field is not None and field not in _SOCKET_FIELDS and field != "forced":
        return None
    if field == "forced" and ctx.force_socket is None:
        return None
    return socket_field(ctx.force_socket or _receiving_socket(ctx), field)


# 3.2 names, removed in 3.3 (a 3.2 config may use them).
@core_pv("fs", setter=_set_force_socket)
def _get_forced_socket(ctx, arg, index):
    return str(ctx.force_socket) if ctx.force_socket is not None else None


@core_pv("Ri")
def _get_rcv_ip(ctx, arg, index):
    return socket_field(_receiving_socket(ctx), "ip")


@core_pv("Rp")
def _get_rcv_port(ctx, arg, index):
    return socket_field(_receiving_socket(ctx), "port")


@core_pv("proto", "pr")
def _get_rcv_proto(ctx, arg, index):
    return ctx.received.proto if ctx.received is not None else None


@core_pv("af")
def _get_src_af(ctx, arg, index):
    return address_family(ctx.received.src_host) if ctx.received is not None else None


# ------------------------------------------------------------------------------------------------ flags

@core_pv("mf")
def _get_msg_flags(ctx, arg, index):
    return flag_list(ctx.flags)


@core_pv("bf")
def _get_branch_flags(ctx, arg, index):
    return flag_list(ctx.branch_flags)


def _set_msg_flag(ctx, arg, index, value, op) -> None:
    if not isinstance(value, int) or not arg:
        _error(ctx, "input for $msg.flag() found not to be an integer")
        return
    if value:
        ctx.flags.add(arg)
    else:
        ctx.flags.discard(arg)


@core_pv("msg.flag", setter=_set_msg_flag)
def _get_msg_flag(ctx, arg, index):
    return 1 if arg in ctx.flags else 0


# ------------------------------------------------------------------------------------------------ branches

# The destination set (OpenSIPS dset): branch 0 is the R-URI branch (ctx's own fields), branch i > 0 is
# ctx.branches[i - 1]. $msg.branch.* index all of them and default to the last one; the older $branch
# indexes only ctx.branches and defaults to the first.
_BRANCH_FIELDS = ("uri", "duri", "q", "path", "flags", "socket")


def _ruri_branch_attrs(ctx: MsgContext) -> dict:
    return ctx.module_state.setdefault("core", {}).setdefault("ruri_branch_attrs", {})


def _branch_field(ctx: MsgContext, position: int, field: str) -> Value:
    """pvar.c get_msg_branch_field(): one field of branch `position` (0 = the R-URI branch)."""
    if position == 0:
        if field == "uri":
            return ctx.ruri() if _request(ctx) else None
        if field == "duri":
            return ctx.dst_uri or None
        if field == "path":
            return ctx.path or None
        if field == "q":
            return q_text(ctx.ruri_q)
        if field == "flags":
            return flag_list(ctx.branch_flags)
        return str(ctx.force_socket) if ctx.force_socket is not None else None
    branch = ctx.branches[position - 1]
    if field == "uri":
        return branch.uri
    if field == "duri":
        return branch.dst_uri or None
    if field == "path":
        return branch.path or None
    if field == "q":
        return q_text(branch.q)
    if field == "flags":
        return flag_list(branch.flags)
    return str(branch.socket) if branch.socket is not None else None


def _msg_branch_position(ctx: MsgContext, index, default_last: bool = True) -> int | None:
    size = len(ctx.branches) + 1
    if index is None:
        return size - 1 if default_last else 0
    if not isinstance(index, int):
        return None
    position = index + size if index < 0 else index
    return position if 0 <= position < size else None


def _msg_branch_getter(field: str):
    def get(ctx, arg, index):
        if index == ALL:
            return [_branch_field(ctx, i, field) for i in range(len(ctx.branches) + 1)]
        position = _msg_branch_position(ctx, index)
        return None if position is None else _branch_field(ctx, position, field)

    return get


def _set_branch_field(ctx: MsgContext, position: int, field: str, value: Value) -> None:
    """pvar.c _int_pv_set_branch_fields(): write one field; on branch 0 it is the R-URI/$du/… itself."""
    if field == "uri":
        if value is None or value == "":
            _error(ctx, "str value required to set the branch URI")
            return
        if position == 0:
            ctx.new_uri = str(value)
        else:
            ctx.branches[position - 1].uri = str(value)
        return
    if field == "q":
        q = None if value is None else _as_int(value)
        if value is not None and q is None:
            _error(ctx, "INT value required to set the branch Q")
            return
        if position == 0:
            ctx.ruri_q = q
        else:
            ctx.branches[position - 1].q = q
        return
    if field == "flags":
        names = set(str(value).split()) if value is not None else set()
        if position == 0:
            ctx.branch_flags = names
        else:
            ctx.branches[position - 1].flags = names
        return
    if field == "socket":
        sock = None
        if value is not None:
            sock = find_socket(ctx, str(value))
            if sock is None:
                _error(ctx, f"no socket found to match [{value}]")
                return
        if position == 0:
            ctx.force_socket = sock
        else:
            ctx.branches[position - 1].socket = sock
        return
    text = _as_text(value)
    attr = {"duri": ("dst_uri", "dst_uri"), "path": ("path", "path")}[field]
    if position == 0:
        setattr(ctx, attr[0], text)
    else:
        setattr(ctx.branches[position - 1], attr[1], text)


def _msg_branch_setter(field: str):
    def set_(ctx, arg, index, value, op):
        if not ctx.is_request:
            _error(ctx, "branches exist only for requests")
            return
        if index == ALL:
            _error(ctx, "SCRIPT BUG - * not allowed in branch assignment")
            return
        position = _msg_branch_position(ctx, index)
        if position is None:
            _error(ctx, f"inexisting branch assignment [{index}]")
            return
        _set_branch_field(ctx, position, field, value)

    return set_


for _field in _BRANCH_FIELDS:
    core_pv(f"msg.branch.{_field}", setter=_msg_branch_setter(_field))(_msg_branch_getter(_field))


def _append_branch(ctx, arg, index, value, op) -> None:
    """`$msg.branch = uri` / `$branch = uri`: append a branch with that URI (pv_set_msg_branch)."""
    from opensips_py.script.context import Branch
    if value is None or value == "":
        _error(ctx, "str value required to create a new branch")
        return
    ctx.branches.append(Branch(str(value)))


def _branch_getter(ctx, arg, index):
    """$branch / $branch(field): the added branches only (ctx.branches), first by default."""
    field = (arg or "uri").lower()
    if field not in _BRANCH_FIELDS or not ctx.branches:
        return None
    values = [_branch_field(ctx, i + 1, field) for i in range(len(ctx.branches))]
    return _pick(values, index)


def _branch_setter(ctx, arg, index, value, op) -> None:
    """`$branch = uri` appends; `$(branch(field)[i]) = v` sets a field of an added branch."""
    if not arg:
        _append_branch(ctx, arg, index, value, op)
        return
    field = arg.lower()
    if field not in _BRANCH_FIELDS or index == ALL:
        _error(ctx, f"bad branch assignment $branch({arg})")
        return
    size = len(ctx.branches)
    position = 0 if index is None else (index + size if isinstance(index, int) and index < 0 else index)
    if not isinstance(position, int) or not 0 <= position < size:
        _error(ctx, f"inexisting branch assignment [{size}/{index}]")
        return
    _set_branch_field(ctx, position + 1, field, value)


core_pv("branch", setter=_branch_setter)(_branch_getter)


@core_pv("msg.branch", setter=_append_branch)
def _get_msg_branch(ctx, arg, index):
    return _msg_branch_getter("uri")(ctx, arg, index)


@core_pv("msg.branch.last_idx")
def _get_last_branch_index(ctx, arg, index):
    return len(ctx.branches)


def _branch_flag_set(ctx, arg, index, value, op) -> None:
    if not isinstance(value, int) or not arg:
        _error(ctx, "input for $branch.flag() found not to be an integer")
        return
    if index == ALL:
        _error(ctx, "SCRIPT BUG - * not allowed in branch flag assignment")
        return
    position = _msg_branch_position(ctx, index)
    if position is None:
        _error(ctx, f"inexisting branch flag assignment [{index}]")
        return
    flags = ctx.branch_flags if position == 0 else ctx.branches[position - 1].flags
    if value:
        flags.add(arg)
    else:
        flags.discard(arg)


@core_pv("msg.branch.flag", "branch.flag", setter=_branch_flag_set)
def _branch_flag_get(ctx, arg, index):
    """A branch flag: by default of the R-URI branch (0); OpenSIPS reads with the same index rules."""
    if index == ALL:
        return None
    position = _msg_branch_position(ctx, index, default_last=False)
    if position is None:
        return None
    flags = ctx.branch_flags if position == 0 else ctx.branches[position - 1].flags
    return 1 if arg in flags else 0


def _branch_attrs(ctx: MsgContext, position: int) -> dict:
    return _ruri_branch_attrs(ctx) if position == 0 else ctx.branches[position - 1].attrs


def _set_branch_attr(ctx, arg, index, value, op) -> None:
    if not ctx.is_request or index == ALL:
        _error(ctx, "bad branch attribute assignment")
        return
    position = _msg_branch_position(ctx, index)
    if position is None or not arg:
        _error(ctx, f"inexisting branch assignment [{index}]")
        return
    _branch_attrs(ctx, position)[arg] = value


@core_pv("msg.branch.attr", setter=_set_branch_attr)
def _get_branch_attr(ctx, arg, index):
    if index == ALL or not arg:
        return None
    position = _msg_branch_position(ctx, index)
    if position is None:
        return None
    return _branch_attrs(ctx, position).get(arg)


# ------------------------------------------------------------------------------------------------ script

def _route_frames(ctx: MsgContext) -> list[tuple[str, str | None]]:
    """ctx.route_stack ("route", "route[name]", "failure_route[x]") as (kind, name), outermost first."""
    frames = []
    for entry in ctx.route_stack:
        kind, bracket, rest = entry.partition("[")
        frames.append((kind, rest[:-1] if bracket else None))
    return frames


def _route_position(frames: list, index) -> int | None:
    """$route's index counts from the current (innermost) route: [0] current, [-1] the top route."""
    if not isinstance(index, int):
        index = 0
    size = len(frames)
    if index < 0:
        index += size
    if not 0 <= index < size:
        return None
    return size - index - 1


@core_pv("route")
def _get_route(ctx, arg, index):
    frames = _route_frames(ctx)
    if index == ALL:
        return " > ".join(ctx.route_stack) if frames else None
    position = _route_position(frames, index)
    return None if position is None else ctx.route_stack[position]


@core_pv("route.name")
def _get_route_name(ctx, arg, index):
    frames = _route_frames(ctx)
    position = None if index == ALL else _route_position(frames, index)
    if position is None:
        return None
    return frames[position][1] or ""


@core_pv("route.type")
def _get_route_type(ctx, arg, index):
    frames = _route_frames(ctx)
    position = None if index == ALL else _route_position(frames, index)
    if position is None:
        return None
    return frames[position][0] if position == 0 else "route"


@core_pv("rT")
def _get_top_route_type(ctx, arg, index):
    frames = _route_frames(ctx)
    return frames[0][0] if frames else None


@core_pv("return")
def _get_return_value(ctx, arg, index):
    position = _as_int(arg)
    if position is None or not 0 <= position < len(ctx.return_values):
        return None
    return ctx.return_values[position]


def _error_field(field: str):
    """$err.*: the details the runtime leaves in ctx.module_state["core"]["error"] before error_route."""
    def get(ctx, arg, index):
        error = (ctx.module_state.get("core") or {}).get("error") or {}
        return error.get(field)
    return get


for _name in ("err.class", "err.level", "err.info", "err.rcode", "err.rreason"):
    core_pv(_name)(_error_field(_name[4:]))


def _set_log_level(ctx, arg, index, value, op) -> None:
    """$log_level/$xlog_level = n sets this process's level; = NULL restores the configured one."""
    process = ctx.process
    if value is None:
        process.log_level = process.default_log_level
        return
    if not isinstance(value, int):
        _error(ctx, "input for $log_level found not to be an integer")
        return
    process.log_level = value


@core_pv("log_level", "xlog_level", setter=_set_log_level)
def _get_log_level(ctx, arg, index):
    return ctx.process.log_level


# ------------------------------------------------------------------------------------------------ time, misc

@core_pv("Ts")
def _get_time_s(ctx, arg, index):
    return int(ctx.now)


@core_pv("Tsm")
def _get_time_us(ctx, arg, index):
    return int(round((ctx.now % 1) * 1_000_000)) % 1_000_000


@core_pv("Tf")
def _get_time_text(ctx, arg, index):
    return time.ctime(ctx.now)


@core_pv("TS")
def _get_startup_time(ctx, arg, index):
    started = getattr(getattr(ctx.process, "core", None), "start_time", None)
    return int(started if started is not None else _STARTUP_TIME)


@core_pv("time")
def _get_formatted_time(ctx, arg, index):
    if not arg:
        return None
    return time.strftime(arg, time.localtime(ctx.now)) or None


@core_pv("pp")
def _get_pid(ctx, arg, index):
    return os.getpid()


@core_pv("argv")
def _get_argv(ctx, arg, index):
    values = getattr(getattr(ctx.process, "core", None), "argv", None) or {}
    return values.get(arg)


_COLORS = {"x": 9, "s": 0, "r": 1, "g": 2, "y": 3, "b": 4, "p": 5, "c": 6, "w": 7}


@core_pv("C")
def _get_color(ctx, arg, index):
    """xlog.c pv_get_color(): an ANSI escape, only with `xlog_force_color` (else the empty string)."""
    if not getattr(getattr(ctx.process, "core", None), "xlog_force_color", False):
        return ""
    if not arg or len(arg) != 2:
        return None
    fg, bg = arg[0], arg[1]
    if fg.lower() not in _COLORS or bg not in _COLORS:
        return None
    bold = "1" if fg.isupper() else "0"
    return f"\033[{bold};3{_COLORS[fg.lower()]};4{_COLORS[bg]}m"


__all__ = ["DEFAULT_PORTS", "body_parts", "core_pv", "credentials", "find_socket", "flag_list",
           "parse_uri_or_none", "q_text", "raw_display", "raw_params", "socket_field", "strip_quotes", "uri_port",
           "uri_proto"]
