"""SIP requests and responses: parse lazily, read through cached typed views, edit with lumps, serialize.

Theory of operation (the OpenSIPS model):

1. `parse_message(data)` does only what every message needs: it frames the message (start line, header
   lines, body by Content-Length), parses the start line, and splits the headers into lines with their
   canonical key (`via`, `call-id`, …). Folded lines are joined, compact names mapped. Nothing else is
   parsed yet, so a message a proxy merely relays costs little.
2. A typed view (`msg.via`, `msg.from_`, `msg.cseq`, `msg.contacts`, …) parses its header the first time it
   is read and keeps the result (OpenSIPS's `hdr->parsed`). A malformed header raises `SIPParseError` then,
   with the reply code to send; `validate()` runs the checks a proxy does on receipt in one go.
3. Edits never touch the parsed message. They are recorded as *lumps* (`msg.lumps`: inserted, removed and
   replaced header lines, a new Request-URI, a new body) and applied by `serialize()`, which copies every
   untouched header line byte for byte. As in OpenSIPS, reads keep seeing the message as received;
   `apply_lumps()` gives a re-parsed message with the edits in place (OpenSIPS's `msg_apply_changes`).
   A transaction layer that forwards one request to several branches copies the lumps per branch
   (`msg.lumps.copy()`) and serializes each with `serialize(lumps=...)`.

Text handling: the header block is decoded as UTF-8 with `surrogateescape`, so any byte sequence round-trips
exactly and readable text (UTF-8 display names, reason phrases) comes out as real characters. Bodies stay
bytes.
"""
from __future__ import annotations

import re
from typing import Any, Callable
from opensips_py.sip.digest import Challenge, Credentials, parse_challenge, parse_credentials
from opensips_py.sip.errors import SIPParseError
from opensips_py.sip.headers import (
    Contact, CSeq, MediaType, NameAddr, Via, parse_contacts, parse_cseq, parse_delta_seconds,
    parse_media_type, parse_name_addr, parse_name_addr_list, parse_token_list, parse_uint, parse_via_list,
)
from opensips_py.sip.names import _CACHE as _KEY_CACHE, header_key
from opensips_py.sip.sdp import SessionDescription
from opensips_py.sip.uri import URI

__all__ = [
    "HeaderField", "KNOWN_METHODS", "Lumps", "MAX_MESSAGE_SIZE", "Message", "Request", "Response",
    "parse_message",
]

# The largest message we accept (OpenSIPS's BUF_SIZE); bigger ones get 513 Message Too Large.
MAX_MESSAGE_SIZE = 65535

KNOWN_METHODS = frozenset({
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY", "PUBLISH",
    "INFO", "REFER", "MESSAGE", "UPDATE",
})

# Headers that identify the transaction or dialog and so must appear once (RFC 4475 multi01). Content-Length
# is checked when framing; a repeated Content-Type is tolerated (first wins), as OpenSIPS does and as real
# UAs send it (corpus capture irontec_sngrep__tests_ipv6frag).
_SINGLE_VALUED = ("from", "to", "call-id", "cseq", "max-forwards")

_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_VERSION_RE = re.compile(r"[Ss][Ii][Pp]/([0-9]{1,3})\.([0-9]{1,3})")
_FOLD_RE = re.compile(r"[ \t]*\r?\n[ \t]+")
_CL_VALUE_RE = re.compile(r"[^:]*:[ \t]*")


class cached_view:
    """Like functools.cached_property without its per-access lock (Python 3.11): parse once, then the value
    sits in the instance dict and later reads are plain attribute reads. A parse error is not cached."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = self.func(obj)
        obj.__dict__[self.name] = value
        return value


def _bad(detail: str) -> SIPParseError:
    return SIPParseError(400, "Bad Request", detail)


def _value_of(line: str) -> str:
    """The value of a header line: text after the first ':', folding turned into one SP, LWS trimmed."""
    value = line[line.find(":") + 1:]
    if "\n" in value:
        value = _FOLD_RE.sub(" ", value)
    return value.strip(" \t")


class HeaderField:
    """One header line as received: `name` as written, `key` (canonical lower-case full name), `value`
    (unfolded, trimmed) and `raw` (the exact text, folding included, without the final line end)."""

    __slots__ = ("index", "name", "key", "raw")

    def __init__(self, index: int, key: str, raw: str) -> None:
        self.index = index
        self.key = key
        self.raw = raw
        self.name = raw[:raw.find(":")].rstrip(" \t")

    @property
    def value(self) -> str:
        return _value_of(self.raw)

    def __repr__(self) -> str:
        return f"HeaderField({self.index}, {self.raw!r})"


class Lumps:
    """Pending edits of one message, anchored to the indexes of its original header lines.

    insert:   anchor index -> header lines to write before that header (anchor == header count: at the end)
    removed:  indexes of header lines left out
    replaced: index -> the line written instead
    new_uri:  the Request-URI to write (None: unchanged)
    body:     the body to write (None: unchanged); Content-Length is then rewritten to match
    """

    __slots__ = ("insert", "removed", "replaced", "new_uri", "body")

    def __init__(self) -> None:
        self.insert: dict[int, list[str]] = {}
        self.removed: set[int] = set()
        self.replaced: dict[int, str] = {}
        self.new_uri: str | None = None
        self.body: bytes | None = None

    def copy(self) -> Lumps:
        """An independent copy, for a branch that edits further (tm branch lumps)."""
        other = Lumps()
        other.insert = {k: list(v) for k, v in self.insert.items()}
        other.removed = set(self.removed)
        other.replaced = dict(self.replaced)
        other.new_uri = self.new_uri
        other.body = self.body
        return other

    def __bool__(self) -> bool:
        return bool(self.insert or self.removed or self.replaced or self.new_uri is not None
                    or self.body is not None)

    def __repr__(self) -> str:
        return (f"Lumps(insert={self.insert!r}, removed={sorted(self.removed)!r}, replaced={self.replaced!r}, "
                f"new_uri={self.new_uri!r}, body={None if self.body is None else len(self.body)!r})")


class Message:
    """What requests and responses share: headers, body, typed views, lumps and serialization."""

    is_request = False

    raw: bytes
    """The message bytes as received, start line to end of body (bytes after it in a datagram excluded)."""
    body: bytes
    version: str
    lumps: Lumps

    def __init__(self, raw: bytes, start_line: str, lines: list[str], keys: list[str],
                 index: dict[str, list[int]], body: bytes, eol: str) -> None:
        self.raw = raw
        self.start_line = start_line
        self._lines = lines
        self._keys = keys
        self._index = index
        self.body = body
        self._eol = eol
        self.lumps = Lumps()

    # -- generic header access ------------------------------------------------------------------------------

    @cached_view
    def headers(self) -> list[HeaderField]:
        """Every header line in order."""
        return [HeaderField(i, key, line) for i, (key, line) in enumerate(zip(self._keys, self._lines))]

    def header_fields(self, name: str) -> list[HeaderField]:
        """The header lines called `name` (any spelling or compact form), in order."""
        fields = self.headers
        return [fields[i] for i in self._index.get(header_key(name), ())]

    def header(self, name: str) -> str | None:
        """The value of the first `name` header (unfolded, trimmed), or None."""
        found = self._index.get(header_key(name))
        return _value_of(self._lines[found[0]]) if found else None

    def header_values(self, name: str) -> list[str]:
        """The values of every `name` header line, in order (one per line, commas not split)."""
        lines = self._lines
        return [_value_of(lines[i]) for i in self._index.get(header_key(name), ())]

    def has_header(self, name: str) -> bool:
        return header_key(name) in self._index

    def header_count(self, name: str) -> int:
        return len(self._index.get(header_key(name), ()))

    def _first(self, key: str) -> str | None:
        found = self._index.get(key)
        return _value_of(self._lines[found[0]]) if found else None

    def _all(self, key: str) -> list[str]:
        lines = self._lines
        return [_value_of(lines[i]) for i in self._index.get(key, ())]

    # -- typed views (parsed on first read, then cached) ----------------------------------------------------

    @cached_view
    def via(self) -> list[Via]:
        """Every Via value, top first, across all Via header lines."""
        vias: list[Via] = []
        for value in self._all("via"):
            vias.extend(parse_via_list(value))
        return vias

    @property
    def via1(self) -> Via | None:
        """The topmost Via (OpenSIPS's via1)."""
        vias = self.via
        return vias[0] if vias else None

    @property
    def via2(self) -> Via | None:
        vias = self.via
        return vias[1] if len(vias) > 1 else None

    @cached_view
    def from_(self) -> NameAddr | None:
        value = self._first("from")
        return parse_name_addr(value, "From") if value is not None else None

    @cached_view
    def to(self) -> NameAddr | None:
        value = self._first("to")
        return parse_name_addr(value, "To") if value is not None else None

    @cached_view
    def call_id(self) -> str | None:
        value = self._first("call-id")
        if value is not None and (not value or " " in value or "\t" in value):
            raise _bad(f"bad Call-ID {value!r}")
        return value

    @cached_view
    def cseq(self) -> CSeq | None:
        value = self._first("cseq")
        return parse_cseq(value) if value is not None else None

    @cached_view
    def max_forwards(self) -> int | None:
        """The Max-Forwards value as sent (leading zeros allowed; the maxfwd module clamps it)."""
        value = self._first("max-forwards")
        return parse_uint(value, "Max-Forwards") if value is not None else None

    @cached_view
    def contacts(self) -> list[Contact]:
        """Every Contact value across all Contact lines; a `*` is one Contact with is_star=True."""
        contacts: list[Contact] = []
        for value in self._all("contact"):
            contacts.extend(parse_contacts(value))
        if len(contacts) > 1 and any(c.is_star for c in contacts):
            raise _bad("Contact '*' mixed with other contacts")
        return contacts

    @property
    def contact_star(self) -> bool:
        """True for `Contact: *` (a REGISTER removing all bindings)."""
        contacts = self.contacts
        return len(contacts) == 1 and contacts[0].is_star

    def _name_addr_list(self, key: str, what: str) -> list[NameAddr]:
        items: list[NameAddr] = []
        for value in self._all(key):
            items.extend(parse_name_addr_list(value, what))
        return items

    @cached_view
    def route(self) -> list[NameAddr]:
        return self._name_addr_list("route", "Route")

    @cached_view
    def record_route(self) -> list[NameAddr]:
        return self._name_addr_list("record-route", "Record-Route")

    @cached_view
    def path(self) -> list[NameAddr]:
        return self._name_addr_list("path", "Path")

    @property
    def content_length(self) -> int | None:
        """The Content-Length header value (checked when the message was framed), None when absent."""
        value = self._first("content-length")
        return int(value) if value is not None else None

    @cached_view
    def content_type(self) -> MediaType | None:
        value = self._first("content-type")
        return parse_media_type(value) if value is not None else None

    @cached_view
    def expires(self) -> int | None:
        value = self._first("expires")
        return parse_delta_seconds(value) if value is not None else None

    @cached_view
    def authorization(self) -> list[Credentials]:
        return [parse_credentials(v) for v in self._all("authorization")]

    @cached_view
    def proxy_authorization(self) -> list[Credentials]:
        return [parse_credentials(v) for v in self._all("proxy-authorization")]

    @cached_view
    def www_authenticate(self) -> list[Challenge]:
        return [parse_challenge(v) for v in self._all("www-authenticate")]

    @cached_view
    def proxy_authenticate(self) -> list[Challenge]:
        return [parse_challenge(v) for v in self._all("proxy-authenticate")]

    def _tokens(self, key: str, what: str) -> list[str]:
        tokens: list[str] = []
        for value in self._all(key):
            tokens.extend(parse_token_list(value, what))
        return tokens

    @cached_view
    def supported(self) -> list[str]:
        return self._tokens("supported", "Supported")

    @cached_view
    def require(self) -> list[str]:
        return self._tokens("require", "Require")

    @cached_view
    def proxy_require(self) -> list[str]:
        return self._tokens("proxy-require", "Proxy-Require")

    @cached_view
    def unsupported(self) -> list[str]:
        return self._tokens("unsupported", "Unsupported")

    @cached_view
    def allow(self) -> list[str]:
        return self._tokens("allow", "Allow")

    @cached_view
    def sdp(self) -> SessionDescription | None:
        """The body as SDP when Content-Type is application/sdp and the body is not empty."""
        content_type = self.content_type
        if content_type is None or content_type.mime != "application/sdp" or not self.body:
            return None
        return SessionDescription.parse(self.body)

    def parse_all(self) -> None:
        """Parse every header this layer has a view for (OpenSIPS's parse_headers(HDR_EOH_F))."""
        self.via, self.from_, self.to, self.call_id, self.cseq, self.max_forwards  # noqa: B018
        self.contacts, self.route, self.record_route, self.path, self.content_type, self.expires  # noqa: B018
        self.authorization, self.proxy_authorization, self.www_authenticate, self.proxy_authenticate  # noqa
        self.supported, self.require, self.proxy_require, self.unsupported, self.allow  # noqa: B018

    def validate(self) -> None:
        """The checks a proxy makes before routing (RFC 3261 §8.2, §16.3 step 1); raises SIPParseError.

        Mandatory headers present (Via, From, To, Call-ID, CSeq); From, To, Call-ID, CSeq and Max-Forwards not
        repeated; every typed view parses.
        """
        missing = [name for name in ("via", "from", "to", "call-id", "cseq") if name not in self._index]
        if missing:
            raise _bad("missing " + ", ".join(missing))
        for key in _SINGLE_VALUED:
            if len(self._index.get(key, ())) > 1:
                raise _bad(f"more than one {key} header")
        self.parse_all()

    # -- editing (lumps) -------------------------------------------------------------------------------------

    def _anchor(self, name: str | None, first: bool, last: bool) -> int:
        count = len(self._lines)
        if name is None:
            return 0 if first else count
        found = self._index.get(header_key(name))
        if not found:
            return 0 if first else count
        return found[-1] + 1 if last else found[0]

    def add_header(self, name: str, value: str, *, first: bool = False, before: str | None = None,
                   after: str | None = None) -> None:
        """Write `name: value`: after the last header (default), before the first header (`first`), before
        the first `before` header, or after the last `after` header (falling back to first/last when absent).
        Like OpenSIPS's append_hf/insert_hf, reads of the message do not see it."""
        line = f"{name}: {value}"
        if before is not None:
            anchor = self._anchor(before, True, False)
        elif after is not None:
            anchor = self._anchor(after, False, True)
        else:
            anchor = 0 if first else len(self._lines)
        self.lumps.insert.setdefault(anchor, []).append(line)

    def remove_header(self, name: str) -> int:
        """Leave out every `name` header line; returns how many (OpenSIPS's remove_hf)."""
        found = self._index.get(header_key(name), ())
        self.lumps.removed.update(found)
        return len(found)

    def remove_field(self, index: int) -> None:
        """Leave out one header line (by `HeaderField.index`)."""
        if not 0 <= index < len(self._lines):
            raise IndexError(index)
        self.lumps.removed.add(index)

    def replace_field(self, index: int, value: str, name: str | None = None) -> None:
        """Write header line `index` with a new value (and name, default: as written)."""
        if not 0 <= index < len(self._lines):
            raise IndexError(index)
        line = self._lines[index]
        written = name if name is not None else line[:line.find(":")].rstrip(" \t")
        self.lumps.replaced[index] = f"{written}: {value}"

    def add_via(self, value: str) -> None:
        """Insert `Via: value` above the topmost Via (RFC 3261 §16.6 step 8)."""
        found = self._index.get("via")
        self.lumps.insert.setdefault(found[0] if found else 0, []).append(f"Via: {value}")

    def remove_top_via(self) -> None:
        """Drop the topmost Via value (a proxy forwarding a response, §16.7 step 3)."""
        found = self._index.get("via")
        if not found:
            raise _bad("no Via to remove")
        index = found[0]
        vias = parse_via_list(_value_of(self._lines[index]))
        if len(vias) == 1:
            self.lumps.removed.add(index)
            return
        value = _value_of(self._lines[index])
        rest = value[value.find(vias[0].raw) + len(vias[0].raw):].lstrip(" \t")
        self.replace_field(index, rest[1:].lstrip(" \t"))

    def set_body(self, body: bytes, content_type: str | None = None) -> None:
        """Write `body` instead (Content-Length follows); with `content_type`, set Content-Type too."""
        self.lumps.body = body
        if content_type is not None:
            found = self._index.get("content-type")
            if found:
                self.replace_field(found[0], content_type)
                for extra in found[1:]:
                    self.lumps.removed.add(extra)
            else:
                self.add_header("Content-Type", content_type)

    # -- serialization ----------------------------------------------------------------------------------------

    def _start_line(self, lumps: Lumps) -> str:
        return self.start_line

    def serialize(self, lumps: Lumps | None = None, *, ensure_content_length: bool = False) -> bytes:
        """The message with `lumps` (default: `self.lumps`) applied; untouched lines are copied exactly.

        ensure_content_length: add `Content-Length` when the message has none (needed on TCP/TLS/WS when
        relaying an RFC 2543-style UDP message).
        """
        if lumps is None:
            lumps = self.lumps
        cl_found = self._index.get("content-length")
        add_cl = ensure_content_length and not cl_found
        if not lumps and not add_cl:
            return self.raw
        body = lumps.body if lumps.body is not None else self.body
        replaced = lumps.replaced
        insert = lumps.insert
        if lumps.body is not None or add_cl:
            if cl_found:
                replaced = dict(replaced)
                line = self._lines[cl_found[0]]
                prefix = _CL_VALUE_RE.match(line).group()
                replaced[cl_found[0]] = f"{prefix}{len(body)}"
            else:
                insert = dict(insert)
                end = len(self._lines)
                insert[end] = [*insert.get(end, ()), f"Content-Length: {len(body)}"]
        removed = lumps.removed
        lines = self._lines
        out = [self._start_line(lumps)]
        previous = 0
        count = len(lines)
        for anchor in sorted(set(insert).union(removed, replaced)):
            if anchor > previous:
                out.extend(lines[previous:anchor])
            added = insert.get(anchor)
            if added:
                out.extend(added)
            if anchor < count and anchor not in removed:
                out.append(replaced.get(anchor, lines[anchor]))
            previous = anchor + 1
        if previous < count:
            out.extend(lines[previous:])
        eol = self._eol
        head = eol.join(out) + eol + eol
        return head.encode("utf-8", "surrogateescape") + body

    __bytes__ = serialize

    def apply_lumps(self) -> Message:
        """A new message parsed from `serialize()`: reads then see the edits (msg_apply_changes)."""
        return parse_message(self.serialize())


class Request(Message):
    """A SIP request: `method`, `ruri` (parsed on first read), `ruri_text` as written."""

    is_request = True

    def __init__(self, raw: bytes, start_line: str, lines: list[str], keys: list[str],
                 index: dict[str, list[int]], body: bytes, eol: str, method: str, ruri_text: str,
                 version: str) -> None:
        super().__init__(raw, start_line, lines, keys, index, body, eol)
        self.method = method
        self.ruri_text = ruri_text
        self.version = version

    @cached_view
    def ruri(self) -> URI:
        """The Request-URI as received (edits go to `set_ruri`)."""
        return URI(self.ruri_text)

    @property
    def effective_ruri(self) -> URI:
        """The Request-URI that will be sent: the rewritten one when set, else the received one (OpenSIPS's
        GET_RURI, what `$ru` reads)."""
        new = self.lumps.new_uri
        if new is None:
            return self.ruri
        cached = self.__dict__.get("_effective_ruri")
        if cached is None or cached.raw != new:
            cached = self.__dict__["_effective_ruri"] = URI(new)
        return cached

    def set_ruri(self, uri: str | URI) -> None:
        """Write this Request-URI when serializing (OpenSIPS's $ru / rewrite_uri)."""
        text = str(uri)
        if not text or " " in text or "\t" in text:
            raise ValueError(f"bad Request-URI {text!r}")
        self.lumps.new_uri = text

    def _start_line(self, lumps: Lumps) -> str:
        if lumps.new_uri is None:
            return self.start_line
        return f"{self.method} {lumps.new_uri} {self.version}"

    def validate(self) -> None:
        """Message checks plus: R-URI parses and carries no headers (RFC 4475 escruri), CSeq method matches
        the request method (400, or 501 for an unknown method as RFC 4475 mismatch02 suggests)."""
        super().validate()
        if self.ruri.headers:
            raise _bad("headers in the Request-URI")
        cseq = self.cseq
        if cseq is not None and cseq.method != self.method:
            if self.method in KNOWN_METHODS:
                raise _bad(f"CSeq method {cseq.method} does not match {self.method}")
            raise SIPParseError(501, "Not Implemented", f"unknown method {self.method} with CSeq {cseq.method}")

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.ruri_text}>"


class Response(Message):
    """A SIP response: `status` (100-699) and `reason`."""

    def __init__(self, raw: bytes, start_line: str, lines: list[str], keys: list[str],
                 index: dict[str, list[int]], body: bytes, eol: str, status: int, reason: str,
                 version: str) -> None:
        super().__init__(raw, start_line, lines, keys, index, body, eol)
        self.status = status
        self.reason = reason
        self.version = version

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


def _check_version(version: str) -> None:
    if version == "SIP/2.0":
        return
    match = _VERSION_RE.fullmatch(version)
    if match is None:
        raise _bad(f"bad SIP version {version!r}")
    if (int(match.group(1)), int(match.group(2))) != (2, 0):
        raise SIPParseError(505, "Version Not Supported", f"SIP version {version}")


def _unfold(lines: list[str], eol: str) -> list[str]:
    """Join continuation lines (starting with SP/HTAB) to the line before them, keeping their text."""
    out: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            if len(out) < 2:
                raise _bad("continuation line where a header was expected")
            out[-1] = out[-1] + eol + line
        else:
            out.append(line)
    return out


def parse_message(data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> Request | Response:
    """Parse one message from a UDP datagram or a WebSocket message (or a frame from `StreamFramer`).

    Bytes after the Content-Length body are ignored (RFC 3261 §18.3, RFC 4475 dblreq). Without a
    Content-Length, the body is the rest of the data (RFC 2543 style UDP). Raises SIPParseError: 513 when
    the data exceeds max_size, 505 for another SIP version, 400 for anything else that is malformed.
    """
    size = len(data)
    if size > max_size:
        raise SIPParseError(513, "Message Too Large", f"{size} bytes")
    start = 0
    while data.startswith(b"\r\n", start):          # RFC 3261 §7.5: ignore CRLFs before the start line
        start += 2
    end = data.find(b"\r\n\r\n", start)
    eol = "\r\n"
    if end >= 0:
        body_start = end + 4
    else:
        end = data.find(b"\n\n", start)
        if end >= 0 and b"\r" not in data[start:end]:
            eol, body_start = "\n", end + 2
        elif data.endswith(b"\r\n") and size - start > 2:
            end, body_start = size - 2, size        # datagram ends after the last header, no blank line
        else:
            raise _bad("no end of header section")
    text = data[start:end].decode("utf-8", "surrogateescape")
    lines = text.split(eol)
    if eol == "\r\n" and text.count("\n") != len(lines) - 1:
        raise _bad("bare LF inside the header section")
    if (eol + " ") in text or (eol + "\t") in text:
        lines = _unfold(lines, eol)
    first = lines[0]
    del lines[0]

    keys: list[str] = []
    index: dict[str, list[int]] = {}
    cache = _KEY_CACHE
    for i, line in enumerate(lines):
        colon = line.find(":")
        if colon <= 0:
            raise _bad(f"header line without a name: {line[:40]!r}")
        name = line[:colon]
        key = cache.get(name) or header_key(name)
        keys.append(key)
        found = index.get(key)
        if found is None:
            index[key] = [i]
        else:
            found.append(i)

    found = index.get("content-length")
    if found is None:
        body = data[body_start:]
    else:
        if len(found) > 1:
            raise _bad("more than one Content-Length")
        value = _value_of(lines[found[0]])
        if not value.isascii() or not value.isdigit() or len(value) > 10:
            raise _bad(f"bad Content-Length {value!r}")
        length = int(value)
        if body_start + length > size:
            raise _bad(f"Content-Length {length} larger than the {size - body_start} body bytes received")
        body = data[body_start:body_start + length]
    raw = data[start:body_start + len(body)] if start or body_start + len(body) != size else data

    if first[:4].upper() == "SIP/":
        parts = first.split(" ", 2)
        _check_version(parts[0])
        if len(parts) < 2 or len(parts[1]) != 3 or not parts[1].isascii() or not parts[1].isdigit():
            raise _bad(f"bad status line {first[:60]!r}")
        status = int(parts[1])
        if status < 100:
            raise _bad(f"bad status code {status}")
        return Response(raw, first, lines, keys, index, body, eol, status, parts[2] if len(parts) > 2 else "",
                        parts[0])
    parts = first.split(" ")
    if len(parts) != 3:
        raise _bad(f"bad request line {first[:80]!r}")
    method, ruri_text, version = parts
    if method not in KNOWN_METHODS and not _TOKEN_RE.fullmatch(method):
        raise _bad(f"bad method {method[:40]!r}")
    _check_version(version)
    if not ruri_text or "<" in ruri_text or ">" in ruri_text or ":" not in ruri_text:
        raise _bad(f"bad Request-URI {ruri_text[:80]!r}")
    return Request(raw, first, lines, keys, index, body, eol, method, ruri_text, version)

