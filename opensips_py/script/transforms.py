"""The core transformations of OpenSIPS 3.6 (transformations.c): `{s.len}`, `{uri.user}`, `{param.value,x}`…

`TRANSFORMS` maps a lower-case name to `fn(ctx, value, args) -> Value`; `args` are the transformation's
arguments, already evaluated (literal text, or the value of a `$pv` argument). The compiler looks names up
here once, at start-up. What every function keeps from OpenSIPS:

- null in, null out: a null value passes through untouched (also `{s.len}`: OpenSIPS returns before any
  work when the value is null);
- a failure (a bad URI, an index out of range, a malformed argument) gives null, never an exception;
- string functions work on the UTF-8 bytes, as the C code does (`{s.len}` of "é" is 2);
- the result type is OpenSIPS's: `{s.len}`, `{s.int}`, `{s.hex2dec}`, `{s.index}`, `{uri.port}`,
  `{via.port}`, `{param.count}`, `{param.exist}`, `{csv.count}`, `{nameaddr.len}` and the `ip.is*`
  tests give ints; some functions leave an int input unchanged, as OpenSIPS does (`{s.tolower}`,
  `{s.trim}`, `{s.b64encode}` of an int).

`{nameaddr.N.member}` (an index into a comma list of name-addrs, 3.4+) is resolved by `TRANSFORMS.get`.
`{s.eval}` and the `$pv`s in a `{re.subst}` replacement see only core pseudo-variables.
"""
from __future__ import annotations

import base64
import calendar
import functools
import hashlib
import hmac
import ipaddress
import re
import socket
import time
import zlib
from typing import Callable

from opensips_py.script.context import MsgContext, ScriptError, Value
from opensips_py.sip.errors import SIPParseError
from opensips_py.sip.headers import parse_name_addr_list, parse_via_list
from opensips_py.sip.uri import URI

TransformFn = Callable[[MsgContext, Value, list], Value]

# Everything a transformation may raise on bad input: each becomes a null result.
_FAILURES = (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError, OverflowError, SIPParseError,
             ScriptError, re.error, UnicodeError)


class TransformTable(dict):
    """name -> function; `get` also resolves the indexed form `nameaddr.<n>.<member>`."""

    def get(self, name: str, default=None):
        found = super().get(name)
        if found is not None:
            return found
        match = _NAMEADDR_INDEXED.fullmatch(name)
        if match is not None and match.group(2) in _NAMEADDR_MEMBERS:
            return _indexed_nameaddr(int(match.group(1)), match.group(2))
        return default


TRANSFORMS: TransformTable = TransformTable()


def transform(*names: str):
    """Register a transformation under its name(s); failures become null."""

    def register(fn: TransformFn) -> TransformFn:
        @functools.wraps(fn)
        def safe(ctx: MsgContext, value: Value, args: list) -> Value:
            if value is None:
                return None
            try:
                return fn(ctx, value, args)
            except _FAILURES:
                return None

        for name in names:
            TRANSFORMS[name] = safe
        return safe

    return register


# ------------------------------------------------------------------------------------------------ helpers

def _bytes(value: Value) -> bytes:
    return str(value).encode("utf-8", "surrogateescape")


def _str(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _arg(args: list, position: int) -> Value:
    if position >= len(args) or args[position] is None:
        raise ValueError(f"missing argument {position + 1}")
    return args[position]


def _int_arg(args: list, position: int) -> int:
    value = _arg(args, position)
    return value if isinstance(value, int) else int(str(value).strip())


def _str_arg(args: list, position: int, keep_inner_space: bool = False) -> str:
    """A text argument. transformations.c tr_parse_sparam() skips the blanks before it and (except for
    `fill` pads and `re.subst`) ends it at a blank: `{param.value, tgrp}` names `tgrp`."""
    text = str(_arg(args, position)).lstrip(" \t\r\n")
    if not keep_inner_space:
        text = text.split(None, 1)[0] if text.strip() else ""
    if not text:
        raise ValueError(f"empty argument {position + 1}")
    return text


def _int32(number: int) -> int:
    """Wrap to a C int, as OpenSIPS's conversions do."""
    number &= 0xFFFFFFFF
    return number - (1 << 32) if number >= 1 << 31 else number


def str2sint(text: str) -> tuple[int, bool]:
    """ut.h str2sint(): an optional sign then digits; stops at the first other character.
    Returns (value, whole text was a number)."""
    if not text:
        return 0, False
    sign, i = 1, 0
    if text[0] in "+-":
        sign, i = (-1 if text[0] == "-" else 1), 1
    number = 0
    for i in range(i, len(text)):
        char = text[i]
        if not "0" <= char <= "9":
            return _int32(sign * number), False
        number = number * 10 + ord(char) - 48
    return _int32(sign * number), True


# ------------------------------------------------------------------------------------------------ s.

@transform("s.len")
def s_len(ctx, value, args):
    return len(_bytes(value))


@transform("s.int")
def s_int(ctx, value, args):
    if isinstance(value, int):
        return value
    return str2sint(value)[0]


@transform("s.md5")
def s_md5(ctx, value, args):
    return hashlib.md5(_bytes(value)).hexdigest()


def _sha(name: str, keyed: bool) -> TransformFn:
    def digest(ctx, value, args):
        data = _bytes(value)
        if keyed:
            return hmac.new(_bytes(_str_arg(args, 0)), data, name).hexdigest()
        return hashlib.new(name, data).hexdigest()

    return digest


for _sha_name in ("sha1", "sha224", "sha256", "sha384", "sha512"):
    transform(f"s.{_sha_name}")(_sha(_sha_name, False))
    transform(f"s.{_sha_name}_hmac")(_sha(_sha_name, True))


@transform("s.crc32")
def s_crc32(ctx, value, args):
    # crc.c crc32_uint(): the CRC-32 register without the final inversion, printed unsigned.
    return str(zlib.crc32(_bytes(value)) ^ 0xFFFFFFFF)


@transform("s.encode.hexa")
def s_encode_hexa(ctx, value, args):
    return _bytes(value).hex()


@transform("s.decode.hexa")
def s_decode_hexa(ctx, value, args):
    text = str(value)
    even = text[:len(text) // 2 * 2]  # a trailing odd digit is ignored, as in the C loop
    if not re.fullmatch(r"[0-9A-Fa-f]*", even):
        return None
    return _str(bytes.fromhex(even))


@transform("s.hex2dec")
def s_hex2dec(ctx, value, args):
    if isinstance(value, int):
        return value
    if not re.fullmatch(r"[0-9A-Fa-f]*", value):
        return None
    return _int32(int(value, 16)) if value else 0


@transform("s.dec2hex")
def s_dec2hex(ctx, value, args):
    if not isinstance(value, int):
        value, whole = str2sint(value)
        if not whole:
            return None
    return format(value & 0xFFFFFFFF, "x")


@transform("s.date2unix")
def s_date2unix(ctx, value, args):
    """An RFC 1123 date in GMT (a Date header) -> Unix seconds, as text."""
    if not isinstance(value, str):
        return None
    parsed = time.strptime(value.strip(), "%a, %d %b %Y %H:%M:%S GMT")
    return str(calendar.timegm(parsed))


_COMMON_ESCAPES = {"'": "\\'", '"': '\\"', "\\": "\\\\", "\0": "\\0"}
_COMMON_UNESCAPES = {"'": "'", '"': '"', "\\": "\\", "0": "\0"}


@transform("s.escape.common")
def s_escape_common(ctx, value, args):
    return "".join(_COMMON_ESCAPES.get(char, char) for char in str(value))


@transform("s.unescape.common")
def s_unescape_common(ctx, value, args):
    text, out, i = str(value), [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in _COMMON_UNESCAPES:
            out.append(_COMMON_UNESCAPES[text[i + 1]])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


# strcommon.c: what escape_user/escape_param leave alone (parse_uri.h is_username_char; RFC 3261 §25.1).
_USER_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$&'()*+,-./;=?_~")
_PARAM_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()[]/:&+$")


def _escape(value: Value, keep: frozenset) -> str | None:
    out = []
    for byte in _bytes(value):
        if byte < 32 or byte > 126:
            return None  # OpenSIPS refuses non-printable and non-ASCII input
        out.append(chr(byte) if byte in keep else f"%{byte:02x}")
    return "".join(out)


def _unescape(value: Value) -> str | None:
    data, out, i = _bytes(value), bytearray(), 0
    while i < len(data):
        byte = data[i]
        if byte == 0x25:  # '%'
            pair = data[i + 1:i + 3]
            if len(pair) != 2 or not all(chr(c) in "0123456789abcdefABCDEF" for c in pair):
                return None
            code = int(pair, 16)
            if code < 32 or code > 126:
                return None
            out.append(code)
            i += 3
            continue
        out.append(byte)
        i += 1
    return _str(bytes(out))


transform("s.escape.user")(lambda ctx, value, args: _escape(value, _USER_CHARS))
transform("s.escape.param")(lambda ctx, value, args: _escape(value, _PARAM_CHARS))
transform("s.unescape.user", "s.unescape.param")(lambda ctx, value, args: _unescape(value))


@transform("s.substr")
def s_substr(ctx, value, args):
    data = _bytes(value)
    start, length = _int_arg(args, 0), _int_arg(args, 1)
    if start < 0:
        if -start > len(data):
            return None
        start += len(data)
    if start >= len(data):
        return None
    if length < 1:
        length = len(data) + length - start
    return _str(data[start:start + max(length, 0)])


@transform("s.select")
def s_select(ctx, value, args):
    """The idx-th field split by the first character of sep; a negative idx counts from the end."""
    index = _int_arg(args, 0)
    separator = str(_arg(args, 1))[0]  # the character right after the comma, blanks included
    fields = str(value).split(separator)
    if index < 0:
        index += len(fields)
    if not 0 <= index < len(fields):
        return None
    return fields[index]


@transform("s.tolower")
def s_tolower(ctx, value, args):
    if isinstance(value, int):
        return value
    return value.translate(_LOWER)


@transform("s.toupper")
def s_toupper(ctx, value, args):
    if isinstance(value, int):
        return value
    return value.translate(_UPPER)


_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _index_start(args: list, length: int, default: int) -> int:
    if len(args) < 2 or args[1] is None:
        return default
    start = _int_arg(args, 1)
    if start < 0:  # wraps: -2 and -12 are the same start on a 10-byte string
        start = (-start) % length if length else 0
        start = length - start if start else 0
    return start


@transform("s.index")
def s_index(ctx, value, args):
    data, needle = _bytes(value), _bytes(_str_arg(args, 0))
    start = _index_start(args, len(data), 0)
    if start >= len(data) or len(needle) > len(data) - start:
        return None
    found = data.find(needle, start)
    return found if found >= 0 else None


@transform("s.rindex")
def s_rindex(ctx, value, args):
    data, needle = _bytes(value), _bytes(_str_arg(args, 0))
    if len(needle) > len(data):
        return None
    start = min(_index_start(args, len(data), len(data) - 1), len(data) - 1)
    start = min(start, len(data) - len(needle))
    found = data.rfind(needle, 0, start + len(needle))
    return found if found >= 0 else None


def _fill(value: Value, args: list, left: bool) -> Value:
    pad, width = _bytes(_str_arg(args, 0, keep_inner_space=True)), _int_arg(args, 1)
    data = _bytes(value)
    missing = width - len(data)
    if missing < 0:
        return value
    if left:
        head = pad[len(pad) - missing % len(pad):] if missing % len(pad) else b""
        return _str(head + pad * (missing // len(pad)) + data)
    return _str(data + (pad * (missing // len(pad) + 1))[:missing])


transform("s.fill.left")(lambda ctx, value, args: _fill(value, args, True))
transform("s.fill.right")(lambda ctx, value, args: _fill(value, args, False))


@transform("s.width")
def s_width(ctx, value, args):
    width = _int_arg(args, 0)
    if width <= 0:
        return None
    data = _bytes(value)
    return _str(data[:width] if width <= len(data) else data + b" " * (width - len(data)))


@transform("s.b64encode")
def s_b64encode(ctx, value, args):
    if isinstance(value, int):
        return value
    return base64.b64encode(_bytes(value)).decode("ascii")


@transform("s.b64decode")
def s_b64decode(ctx, value, args):
    if isinstance(value, int):
        return value
    text = re.sub(r"[^A-Za-z0-9+/=]", "", value).rstrip("=")
    text += "=" * (-len(text) % 4)
    return _str(base64.b64decode(text))


@transform("s.xor")
def s_xor(ctx, value, args):
    data, secret = _bytes(value), _bytes(_str_arg(args, 0))
    return _str(bytes(byte ^ secret[i % len(secret)] for i, byte in enumerate(data)))


_TRIM = " \t\r\n"


@transform("s.trim")
def s_trim(ctx, value, args):
    return value if isinstance(value, int) else value.strip(_TRIM)


@transform("s.trimr")
def s_trimr(ctx, value, args):
    return value if isinstance(value, int) else value.rstrip(_TRIM)


@transform("s.triml")
def s_triml(ctx, value, args):
    return value if isinstance(value, int) else value.lstrip(_TRIM)


@transform("s.reverse")
def s_reverse(ctx, value, args):
    return _str(_bytes(value)[::-1])


@transform("s.eval")
def s_eval(ctx, value, args):
    """Expand the value as a format string (its $pvs evaluated now)."""
    return runtime_format(str(value))(ctx)


# ------------------------------------------------------------------------------------------------ runtime formats

@functools.lru_cache(maxsize=512)
def runtime_format(text: str) -> Callable[[MsgContext], str]:
    """A format string compiled against the core pseudo-variables (for {s.eval} and {re.subst})."""
    from opensips_py.config import ast
    from opensips_py.config.pvar import parse_format
    from opensips_py.script.pvars import CORE_HANDLERS, compile_pvar

    def compile_transform(node: ast.Transformation):
        function = TRANSFORMS.get(node.name.lower())
        if function is None:
            raise ValueError(f"unknown transformation {node.name}")
        getters = tuple(compile_pvar(a, CORE_HANDLERS.get, compile_transform).get if isinstance(a, ast.PVar)
                        else (lambda ctx, a=a: a) for a in node.args)
        return lambda ctx, value: function(ctx, value, [g(ctx) for g in getters])

    pieces = []
    for part in parse_format(text):
        if part.pvar is None:
            pieces.append(part.text)
            continue
        try:
            pieces.append(compile_pvar(part.pvar, CORE_HANDLERS.get, compile_transform))
        except LookupError as exc:
            raise ValueError(f"unknown pseudo-variable {exc}") from None

    def render(ctx: MsgContext) -> str:
        out = []
        for piece in pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            value = piece.get(ctx)
            if isinstance(value, list):
                value = ",".join("<null>" if v is None else str(v) for v in value)
            out.append("<null>" if value is None else str(value))
        return "".join(out)

    return render


# ------------------------------------------------------------------------------------------------ uri.

@functools.lru_cache(maxsize=1024)
def _parse_uri(text: str) -> URI:
    uri = URI(text)
    if not uri.is_sip and uri.scheme not in ("tel", "tels"):
        raise ValueError(f"not a SIP URI: {text!r}")
    return uri


def _uri(value: Value) -> URI:
    if not isinstance(value, str) or not value:
        raise ValueError("a URI transformation needs a non-empty string")
    return _parse_uri(value)


def _uri_param(name: str) -> TransformFn:
    def get(ctx, value, args):
        found = _uri(value).params.get(name)
        return found or None

    return get


transform("uri.user")(lambda ctx, value, args: _uri(value).user or None)
transform("uri.host", "uri.domain")(lambda ctx, value, args: _uri(value).host or None)
transform("uri.passwd")(lambda ctx, value, args: _uri(value).password or None)
transform("uri.port")(lambda ctx, value, args: _uri(value).port)
transform("uri.params")(lambda ctx, value, args: _uri(value).params_text[1:] or None)
transform("uri.headers")(lambda ctx, value, args: _uri(value).headers_text[1:] or None)
for _member, _param in (("transport", "transport"), ("ttl", "ttl"), ("uparam", "user"), ("maddr", "maddr"),
                        ("method", "method"), ("lr", "lr"), ("r2", "r2")):
    transform(f"uri.{_member}")(_uri_param(_param))


@transform("uri.param")
def uri_param(ctx, value, args):
    params = _uri(value).params
    name = _str_arg(args, 0).lower()
    if name not in params:
        return None
    return params[name] or ""


@transform("uri.schema")
def uri_schema(ctx, value, args):
    _uri(value)
    return value[:value.index(":")]


# ------------------------------------------------------------------------------------------------ param.

def parse_params(text: str) -> list[tuple[str, str | None]]:
    """parser/parse_param.c parse_params(): `a=1;b;c="x y"` -> [(name, body)], bodies unquoted; a leading
    ';' gives an empty first name; a ',' or '>' ends the list; a trailing ';' is an error."""
    params: list[tuple[str, str | None]] = []
    i, n = 0, len(text)
    while True:
        start = i
        while i < n and text[i] not in " \t\r\n;,=":
            i += 1
        name = text[start:i]
        while i < n and text[i] in " \t\r\n":
            i += 1
        body = None
        if i < n and text[i] == "=":
            i += 1
            while i < n and text[i] in " \t\r\n":
                i += 1
            if i >= n:
                raise ValueError("parameter body missing")
            if text[i] == '"':
                end = text.find('"', i + 1)
                if end < 0:
                    raise ValueError("unterminated quoted parameter")
                body, i = text[i + 1:end], end + 1
            else:
                start = i
                while i < n and text[i] not in " \t\r\n,;":
                    i += 1
                body = text[start:i]
            while i < n and text[i] in " \t\r\n":
                i += 1
        params.append((name, body))
        if i >= n or text[i] in ",>":
            return params
        if text[i] != ";":
            raise ValueError(f"';' expected in parameters, found {text[i]!r}")
        i += 1
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            raise ValueError("parameter name missing after ';'")


def _params(value: Value) -> list[tuple[str, str | None]]:
    if not isinstance(value, str) or not value:
        raise ValueError("a param transformation needs a non-empty string")
    return _cached_params(value)


@functools.lru_cache(maxsize=1024)
def _cached_params(text: str) -> list[tuple[str, str | None]]:
    return parse_params(text)


def _pick_param(params: list, position: int) -> tuple[str, str | None] | None:
    if position < 0:
        position += len(params)
    return params[position] if 0 <= position < len(params) else None


@transform("param.value")
def param_value(ctx, value, args):
    name = _str_arg(args, 0).lower()
    for found, body in _params(value):
        if found.lower() == name:
            return body or ""
    return None


@transform("param.exist", "param.exists")
def param_exist(ctx, value, args):
    name = _str_arg(args, 0).lower()
    return 1 if any(found.lower() == name for found, _ in _params(value)) else 0


@transform("param.valueat")
def param_valueat(ctx, value, args):
    found = _pick_param(_params(value), _int_arg(args, 0))
    return None if found is None else (found[1] or "")


@transform("param.name")
def param_name(ctx, value, args):
    found = _pick_param(_params(value), _int_arg(args, 0))
    return None if found is None else found[0]


@transform("param.count")
def param_count(ctx, value, args):
    return len(_params(value))


# ------------------------------------------------------------------------------------------------ nameaddr.

_NAMEADDR_MEMBERS = ("uri", "len", "name", "param", "params")
_NAMEADDR_INDEXED = re.compile(r"nameaddr\.(-?[0-9]+)\.([a-z]+)")


@functools.lru_cache(maxsize=512)
def _parse_nameaddrs(text: str):
    return parse_name_addr_list(text, "name-addr")


def _nameaddr_member(value: Value, args: list, member: str, position: int = 0) -> Value:
    from opensips_py.script.pv_core import raw_display, raw_params
    if not isinstance(value, str) or not value:
        return None
    bodies = _parse_nameaddrs(value.strip())
    if position < 0:
        position += len(bodies)
    if not 0 <= position < len(bodies):
        return None
    body = bodies[position]
    if member == "uri":
        return body.uri_text or None
    if member == "len":
        return len(_bytes(body.raw))
    if member == "name":
        return raw_display(body)
    if member == "params":
        return raw_params(body)
    found = body.params.get(_str_arg(args, 0).lower())
    if found is None:
        return None
    if len(found) >= 2 and found[0] == '"' and found[-1] == '"':
        found = found[1:-1]
    return found or None


def _nameaddr(member: str) -> TransformFn:
    return lambda ctx, value, args: _nameaddr_member(value, args, member)


for _member in _NAMEADDR_MEMBERS:
    transform(f"nameaddr.{_member}")(_nameaddr(_member))


@functools.lru_cache(maxsize=64)
def _indexed_nameaddr(position: int, member: str) -> TransformFn:
    """`{nameaddr.1.uri}`: a member of the n-th name-addr of a comma list (3.4+)."""
    def run(ctx, value, args):
        return _nameaddr_member(value, args, member, position)

    return transform()(run)


# ------------------------------------------------------------------------------------------------ via.

@functools.lru_cache(maxsize=512)
def _parse_via(text: str):
    return parse_via_list(text)[0]


def _via(value: Value):
    if not isinstance(value, str) or len(value) <= 2:
        raise ValueError("a via transformation needs a Via body")
    return _parse_via(value.strip())


def _via_params_text(via) -> str | None:
    return via.raw[via.params_offset:].lstrip(" \t;").lstrip(" \t") or None


transform("via.name")(lambda ctx, value, args: _via(value).protocol or None)
transform("via.version")(lambda ctx, value, args: _via(value).version or None)
transform("via.transport")(lambda ctx, value, args: _via(value).transport or None)
transform("via.host", "via.domain")(lambda ctx, value, args: _via(value).host or None)
transform("via.port")(lambda ctx, value, args: _via(value).port)
transform("via.params")(lambda ctx, value, args: _via_params_text(_via(value)))
transform("via.comment")(lambda ctx, value, args: _via(value) and None)
transform("via.branch")(lambda ctx, value, args: _via(value).params.get("branch") or None)
transform("via.received")(lambda ctx, value, args: _via(value).params.get("received") or None)
transform("via.rport")(lambda ctx, value, args: _via(value).params.get("rport") or None)


@transform("via.param")
def via_param(ctx, value, args):
    params = _via(value).params
    name = _str_arg(args, 0).lower()
    if name not in params:
        return None
    return params[name] or ""


# ------------------------------------------------------------------------------------------------ csv.

def parse_csv(text: str) -> list[str]:
    """lib/csv.c RFC 4180 parsing: quoted fields with "" escapes; control characters are an error."""
    if text.endswith("\r\n"):
        text = text[:-2]
    fields: list[str] = []
    i, n = 0, len(text)
    if any(not 0x20 <= ord(char) <= 0x7E for char in text):
        raise ValueError("invalid CSV string")
    while True:
        if i < n and text[i] == '"':
            out, j = [], i + 1
            while True:
                if j >= n:
                    raise ValueError("unterminated quoted CSV field")
                if text[j] == '"':
                    if j + 1 < n and text[j + 1] == '"':
                        out.append('"')
                        j += 2
                        continue
                    break
                out.append(text[j])
                j += 1
            fields.append("".join(out))
            i = j + 1
            if i >= n:
                return fields
            if text[i] != ",":
                raise ValueError("a quoted CSV field must end at a comma")
            i += 1
            continue
        comma = text.find(",", i)
        if comma < 0:
            fields.append(text[i:])
            return fields
        fields.append(text[i:comma])
        i = comma + 1


@functools.lru_cache(maxsize=256)
def _cached_csv(text: str) -> tuple[str, ...]:
    return tuple(parse_csv(text))


def _csv(value: Value) -> tuple[str, ...]:
    if not isinstance(value, str) or not value:
        raise ValueError("a csv transformation needs a non-empty string")
    return _cached_csv(value)


transform("csv.count")(lambda ctx, value, args: len(_csv(value)))


@transform("csv.value")
def csv_value(ctx, value, args):
    fields = _csv(value)
    position = _int_arg(args, 0)
    if position < 0:
        position += len(fields)
    return fields[position] if 0 <= position < len(fields) else None


# ------------------------------------------------------------------------------------------------ sdp.

def _sdp_lines(text: str) -> list[str]:
    return re.split(r"\r?\n", text)


@transform("sdp.line")
def sdp_line(ctx, value, args):
    """`{sdp.line,a,1}`: the second `a=` line, prefix included."""
    if not isinstance(value, str):
        return None
    kind = _str_arg(args, 0)[0]
    position = _int_arg(args, 1) if len(args) > 1 else 0
    if position < 0:
        return None
    found = [line for line in _sdp_lines(value) if line.startswith(kind + "=")]
    return found[position] if position < len(found) else None


def _sdp_streams(text: str) -> tuple[str, list[str]]:
    """The session part and each `m=` section, line ends kept."""
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=\n))m=", text)]
    if not starts:
        return text, []
    bounds = starts + [len(text)]
    return text[:starts[0]], [text[bounds[i]:bounds[i + 1]] for i in range(len(starts))]


def _stream_matches(args: list, streams: list[str]) -> list[int]:
    selector = _arg(args, 0)
    if not isinstance(selector, int):
        number, whole = str2sint(str(selector))
        selector = number if whole else str(selector)
    if isinstance(selector, int):
        position = selector + len(streams) if selector < 0 else selector
        return [position] if 0 <= position < len(streams) else []
    media = selector.lower()
    return [i for i, stream in enumerate(streams) if stream[2:].split(" ", 1)[0].lower() == media]


@transform("sdp.stream")
def sdp_stream(ctx, value, args):
    """`{sdp.stream,1}` / `{sdp.stream,video}`: one media section, from its m= line to the next."""
    if not isinstance(value, str):
        return None
    _, streams = _sdp_streams(value)
    found = _stream_matches(args, streams)
    return streams[found[0]] if found else None


@transform("sdp.stream-delete")
def sdp_stream_delete(ctx, value, args):
    """The SDP without that stream (by index), or without every stream of that media type."""
    if not isinstance(value, str):
        return None
    session, streams = _sdp_streams(value)
    found = _stream_matches(args, streams)
    if not found:
        return None
    return session + "".join(s for i, s in enumerate(streams) if i not in found)


# ------------------------------------------------------------------------------------------------ ip.

def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """str2ip()/str2ip6(): a dotted IPv4, or an IPv6 (brackets allowed)."""
    try:
        return ipaddress.ip_address(text[1:-1] if text.startswith("[") and text.endswith("]") else text)
    except ValueError:
        return None


def _ip_text(value: Value) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("an ip transformation needs a non-empty string")
    return value


def _binary_ip(value: Value) -> bytes:
    data = _ip_text(value).encode("latin-1")
    if len(data) not in (4, 16):
        raise ValueError("binary IP address expected")
    return data


@transform("ip.pton")
def ip_pton(ctx, value, args):
    """The packed address as a string of byte-characters (latin-1), as OpenSIPS's binary str."""
    address = _ip(_ip_text(value))
    return address.packed.decode("latin-1") if address is not None else None


@transform("ip.ntop")
def ip_ntop(ctx, value, args):
    return str(ipaddress.ip_address(_binary_ip(value)))


@transform("ip.family")
def ip_family(ctx, value, args):
    return "INET" if len(_binary_ip(value)) == 4 else "INET6"


transform("ip.isip")(lambda ctx, value, args: 1 if _ip(str(value)) is not None else 0)
transform("ip.isip4")(lambda ctx, value, args: 1 if isinstance(_ip(str(value)), ipaddress.IPv4Address) else 0)
transform("ip.isip6")(lambda ctx, value, args: 1 if isinstance(_ip(str(value)), ipaddress.IPv6Address) else 0)


@transform("ip.resolve")
def ip_resolve(ctx, value, args):
    """The first address the system resolver gives for a name (null when it gives none)."""
    try:
        infos = socket.getaddrinfo(_ip_text(value), None, type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        return None
    return infos[0][4][0] if infos else None


@transform("ip.matches")
def ip_matches(ctx, value, args):
    address = _ip(_ip_text(value))
    network_text = _str_arg(args, 0)
    base, slash, bits = network_text.partition("/")
    network_address = _ip(base)
    if address is None or not slash or network_address is None or not bits.isdigit():
        return None
    if int(bits) > network_address.max_prefixlen or address.version != network_address.version:
        return None
    network = ipaddress.ip_network(f"{network_address}/{bits}", strict=False)
    return 1 if address in network else 0


# ip_addr.c ip_addr_is_1918(): RFC 1918, RFC 6598 (CGN) and loopback, IPv4 only.
_PRIVATE_NETS = tuple(ipaddress.ip_network(n) for n in
                      ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8"))


@transform("ip.isprivate")
def ip_isprivate(ctx, value, args):
    address = _ip(str(value))
    if not isinstance(address, ipaddress.IPv4Address):
        return 0
    return 1 if any(address in net for net in _PRIVATE_NETS) else 0


# ------------------------------------------------------------------------------------------------ re.

_POSIX_CLASSES = {"[:digit:]": "0-9", "[:alpha:]": "A-Za-z", "[:alnum:]": "A-Za-z0-9", "[:upper:]": "A-Z",
                  "[:lower:]": "a-z", "[:space:]": r" \t\r\n\v\f", "[:blank:]": r" \t", "[:punct:]":
                  r"!-/:-@\[-`{-~", "[:xdigit:]": "0-9A-Fa-f", "[:print:]": r" -~", "[:graph:]": r"!-~",
                  "[:cntrl:]": r"\x00-\x1f\x7f"}


def posix_to_python(pattern: str) -> str:
    """A POSIX extended regex in Python syntax (character classes; the rest is shared)."""
    for name, chars in _POSIX_CLASSES.items():
        pattern = pattern.replace(name, chars)
    return pattern


_RURI = object()  # `\u` in a replacement


class Subst:
    """re.c subst_parser(): `/regex/replacement/flags` with any separator; flags i (ignore case),
    s (`.` and anchors span newlines), g (every match). The replacement knows \\0-\\9, \\n \\r \\t \\\\,
    \\$, \\u (the R-URI) and $pvs."""

    def __init__(self, text: str):
        if len(text) < 3 or text[0] == "\\":
            raise ValueError(f"bad subst expression {text!r}")
        sep = text[0]
        i = 1
        while i < len(text) and not (text[i] == sep and text[i - 1] != "\\"):
            i += 1
        if i >= len(text) - 1:
            raise ValueError(f"no separator in {text!r}")
        regex, i = text[1:i], i + 1
        self.parts: list = []
        literal: list[str] = []
        escapes = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t", "$": "$"}
        while True:
            if i >= len(text):
                raise ValueError(f"missing separator in {text!r}")
            char = text[i]
            if char == sep:
                break
            if char == "\\" and i + 1 < len(text):
                nxt = text[i + 1]
                if nxt.isdigit() or nxt == "u":
                    self._flush(literal)
                    self.parts.append(int(nxt) if nxt.isdigit() else _RURI)
                else:
                    literal.append(escapes.get(nxt, nxt))
                i += 2
                continue
            if char == "$":
                from opensips_py.config.pvar import parse_spec
                spec, end = parse_spec(text[:text.rfind(sep)], i, in_format=True)
                self._flush(literal)
                self.parts.append(runtime_format(text[i:end]))
                i = end
                continue
            literal.append(char)
            i += 1
        self._flush(literal)
        flags = re.MULTILINE
        self.replace_all = False
        for flag in text[i + 1:]:
            if flag == "i":
                flags |= re.IGNORECASE
            elif flag == "s":
                flags = (flags & ~re.MULTILINE) | re.DOTALL
            elif flag == "g":
                self.replace_all = True
            else:
                raise ValueError(f"unknown flag {flag} in {text!r}")
        self.regex = re.compile(posix_to_python(regex), flags)

    def _flush(self, literal: list[str]) -> None:
        if literal:
            self.parts.append("".join(literal))
            literal.clear()

    def apply(self, ctx: MsgContext, subject: str) -> str | None:
        """The subject with the match(es) replaced; None when nothing matched."""
        count = 0 if self.replace_all else 1
        matched = False

        def replace(match: re.Match) -> str:
            nonlocal matched
            matched = True
            out = []
            for part in self.parts:
                if isinstance(part, str):
                    out.append(part)
                elif isinstance(part, int):
                    out.append((match.group(part) or "") if part <= self.regex.groups else "")
                elif part is _RURI:
                    out.append(ctx.ruri())
                else:
                    out.append(part(ctx))
            return "".join(out)

        result = self.regex.sub(replace, subject, count=count)
        return result if matched else None


@functools.lru_cache(maxsize=256)
def compile_subst(text: str) -> Subst:
    return Subst(text.replace("\\}", "}").replace("\\{", "{"))


@transform("re.subst")
def re_subst(ctx, value, args):
    """`{re.subst,/re/repl/flags}`: the value with the match replaced; unchanged when nothing matches."""
    if not isinstance(value, str) or not value:
        return None
    result = compile_subst(_str_arg(args, 0, keep_inner_space=True)).apply(ctx, value)
    return value if result is None else result


__all__ = ["TRANSFORMS", "TransformTable", "compile_subst", "parse_csv", "parse_params", "posix_to_python",
           "runtime_format", "str2sint", "transform"]
