"""Hypothesis strategies for SIP messages, shared by tests/sip and benchmarks/sip (the long fuzz run).

`sip_messages()` draws well-formed requests and responses with the quirks parsers get wrong: odd spacing
around ':', compact and oddly cased names, folded unknown headers, quoted display names with escapes,
several Via values per line, binary bodies. Each comes with the values a parser must find in it.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Bounded for CI: a modest number of examples, each with a deadline (the machine is shared and slow).
CI_SETTINGS = settings(max_examples=120, deadline=timedelta(milliseconds=800),
                       suppress_health_check=[HealthCheck.too_slow])

TOKEN_CHARS = string.ascii_letters + string.digits + "-.!%*_+`'~"
ALNUM = string.ascii_letters + string.digits

tokens = st.text(TOKEN_CHARS, min_size=1, max_size=10)
labels = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=8)
hostnames = st.lists(labels, min_size=1, max_size=3).map(".".join)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ipv6 = st.lists(st.integers(0, 0xFFFF), min_size=8, max_size=8).map(
    lambda g: "[" + ":".join(f"{x:x}" for x in g) + "]")
hosts = st.one_of(hostnames, ipv4, ipv6)
ports = st.one_of(st.none(), st.integers(1, 65535))
users = st.text(ALNUM + "-_.!~*'()&=+$,", min_size=1, max_size=10)
uri_params = st.lists(st.tuples(st.text(ALNUM + "-_", min_size=1, max_size=6),
                                st.one_of(st.none(), st.text(ALNUM + "-_.", min_size=1, max_size=6))),
                      max_size=3)
# Header values of unknown headers: printable text without CR/LF, trimmed (that is what a parser returns).
free_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FF, blacklist_characters="\x7f"),
                    max_size=30).map(lambda s: " ".join(s.split()))
separators = st.sampled_from([":", ": ", " : ", ":   ", "\t:\t"])


@st.composite
def sip_uris(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["sip", "sips"]))
    user = draw(st.one_of(st.none(), users))
    host = draw(hosts)
    port = draw(ports)
    params = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in draw(uri_params))
    userinfo = f"{user}@" if user else ""
    hostport = f"{host}:{port}" if port is not None else host
    return f"{scheme}:{userinfo}{hostport}{params}"


@st.composite
def display_names(draw: st.DrawFn) -> tuple[str, str | None]:
    """(as written, as a parser returns it)."""
    kind = draw(st.sampled_from(["none", "tokens", "quoted"]))
    if kind == "none":
        return "", None
    if kind == "tokens":
        words = draw(st.lists(tokens, min_size=1, max_size=3))
        return " ".join(words) + " ", " ".join(words)
    text = draw(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x24F), max_size=12))
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}" ', text


@st.composite
def name_addrs(draw: st.DrawFn, tag: str | None = None) -> tuple[str, str | None]:
    written, display = draw(display_names())
    uri = draw(sip_uris())
    params = "".join(f";{k}={v}" for k, v in draw(st.lists(st.tuples(labels, tokens), max_size=2))
                     if k != "tag")
    tag_text = f";tag={tag}" if tag else ""
    return f"{written}<{uri}>{params}{tag_text}", display


@st.composite
def vias(draw: st.DrawFn, branch: str) -> str:
    transport = draw(st.sampled_from(["UDP", "TCP", "TLS", "WS", "WSS", "SCTP"]))
    host = draw(hosts)
    port = draw(ports)
    sent_by = f"{host}:{port}" if port is not None else host
    extra = draw(st.sampled_from(["", ";rport", ";received=192.0.2.1", ";rport=5060;alias"]))
    return f"SIP/2.0/{transport} {sent_by};branch={branch}{extra}"


def _spell(draw: st.DrawFn, name: str, compact: str | None) -> str:
    choice = draw(st.sampled_from(["as is", "lower", "upper", "compact"]))
    if choice == "compact" and compact:
        return compact
    return {"lower": name.lower(), "upper": name.upper()}.get(choice, name)


@dataclass
class GeneratedMessage:
    """A drawn message and what a parser must read from it."""

    data: bytes
    is_request: bool
    method: str
    branches: list[str]
    from_tag: str
    from_display: str | None
    call_id: str
    cseq: int
    unknown: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""


@st.composite
def sip_messages(draw: st.DrawFn) -> GeneratedMessage:
    is_request = draw(st.booleans())
    method = draw(st.one_of(st.sampled_from(["INVITE", "REGISTER", "OPTIONS", "BYE", "MESSAGE"]), tokens))
    if is_request:
        start = f"{method} {draw(sip_uris())} SIP/2.0"
    else:
        start = f"SIP/2.0 {draw(st.integers(100, 699))} {draw(free_text)}"
    branches = draw(st.lists(tokens.map(lambda t: "z9hG4bK" + t), min_size=1, max_size=3))
    from_tag = draw(tokens)
    from_value, from_display = draw(name_addrs(tag=from_tag))
    to_value, _ = draw(name_addrs(tag=draw(st.one_of(st.none(), tokens))))
    call_id = draw(tokens) + draw(st.sampled_from(["", "@" + draw(hostnames)]))
    cseq = draw(st.integers(0, 2**32 - 1))
    lines: list[str] = []
    lines.append(_spell(draw, "From", "f") + draw(separators) + from_value)
    lines.append(_spell(draw, "To", "t") + draw(separators) + to_value)
    lines.append(_spell(draw, "Call-ID", "i") + draw(separators) + call_id)
    lines.append("CSeq" + draw(separators) + f"{cseq} {method}")
    if draw(st.booleans()):
        lines.append("Max-Forwards" + draw(separators) + str(draw(st.integers(0, 255))))
    extra: list[tuple[str, str]] = []                                # (name, value) of unknown headers
    for _ in range(draw(st.integers(0, 4))):
        name = "X-" + draw(tokens)
        value = draw(free_text)
        written = value
        if " " in value and draw(st.booleans()):                   # fold at a space
            cut = value.index(" ")
            written = value[:cut] + "\r\n" + draw(st.sampled_from([" ", "\t", "   "])) + value[cut + 1:]
        lines.append(name + draw(separators) + written)
        extra.append((name, value))
    order = draw(st.permutations(range(len(lines))))
    known = len(lines) - len(extra)
    lines = [lines[i] for i in order]
    unknown: dict[str, list[str]] = {}
    for i in order:
        if i >= known:
            name, value = extra[i - known]
            unknown.setdefault(name.lower(), []).append(value)
    # Via values, in order, as one block: all in one line (comma-separated) or one line each.
    via_values = [draw(vias(b)) for b in branches]
    if draw(st.booleans()):
        via_lines = [_spell(draw, "Via", "v") + draw(separators) + " , ".join(via_values)]
    else:
        via_lines = [_spell(draw, "Via", "v") + draw(separators) + v for v in via_values]
    at = draw(st.integers(0, len(lines)))
    lines[at:at] = via_lines
    body = draw(st.binary(max_size=120))
    lines.append(_spell(draw, "Content-Length", "l") + draw(separators) + str(len(body)))
    data = ("\r\n".join([start, *lines]) + "\r\n\r\n").encode("utf-8") + body
    return GeneratedMessage(data, is_request, method, branches, from_tag, from_display, call_id, cseq,
                            unknown, body)


@st.composite
def mutated_messages(draw: st.DrawFn) -> bytes:
    """A well-formed message with a few random byte edits: reaches deep into the parser's error paths."""
    data = bytearray(draw(sip_messages()).data)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        if action == "replace" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = draw(st.sampled_from([b";", b",", b"\"", b"<", b">", b"\r\n", b" ", b":",
                                                             b"\\", b"%", b"@", b"\x00", b"\xff"]))
        else:
            del data[position:position + draw(st.integers(1, 8))]
    return bytes(data)
