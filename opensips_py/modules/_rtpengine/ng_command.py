"""The ng dictionary OpenSIPS's rtpengine module sends: the flags string and the SIP message turned into it.

This follows OpenSIPS 4.0's modules/rtpengine/rtpengine.c (`parse_flags`, `rtpe_function_call_prepare`)
and rtpengine_bracket.c, token by token:

- the flags string is split on spaces; `key=value` splits at the first `=`, the value ends at the next
  space, or (4.0) at the `]` matching a leading `[`: such a value becomes a bencode list, or a dictionary
  when an `=` appears at its top level, with `..` standing for a space and `--` for `=` inside;
- a few words are the module's own (transport words, replace-*, rtcp-mux-*, in-iface/out-iface,
  internal/external, call-id, from-tag, to-tag, via-branch, received-from, address-family, repacketize,
  delete-delay, force-answer, directional); every other bare word is appended to the `flags` list and
  every other `key=value` becomes a string entry `key: value` for the daemon to interpret;
- call-id, from-tag and to-tag come from the message unless a flag gives them, and the tags are swapped
  when the message goes the other way (an answer in an ACK/PRACK, an offer in a reply);
- 3.6+/4.0 never send from-tag with delete (the whole call goes unless via-branch or to-tag narrow it).

Everything is a pure function of the flags text, the operation and a `MessageIds` view of the message,
so every row of the mapping is unit-tested without a network.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Callable

# ng commands (OpenSIPS's command_strings[])
OFFER = "offer"
ANSWER = "answer"
DELETE = "delete"
QUERY = "query"
START_RECORDING = "start recording"
STOP_RECORDING = "stop recording"
PAUSE_RECORDING = "pause recording"
START_MEDIA = "play media"
STOP_MEDIA = "stop media"
BLOCK_MEDIA = "block media"
UNBLOCK_MEDIA = "unblock media"
BLOCK_DTMF = "block DTMF"
UNBLOCK_DTMF = "unblock DTMF"
START_FORWARD = "start forwarding"
STOP_FORWARD = "stop forwarding"
PLAY_DTMF = "play DTMF"

# Commands that carry a from-tag only when the flags make them directional, and never a to-tag.
MEDIA_OPS = frozenset((START_MEDIA, STOP_MEDIA, BLOCK_MEDIA, UNBLOCK_MEDIA, BLOCK_DTMF, UNBLOCK_DTMF,
                       START_FORWARD, STOP_FORWARD))

# transport-protocol from the transport bits: 0x100 = set, low bits: 1 = SRTP (SAVP), 2 = feedback (F),
# 4 = UDP/TLS (DTLS); the index is `bits & 7` as in the C table.
TRANSPORTS = ("RTP/AVP", "RTP/SAVP", "RTP/AVPF", "RTP/SAVPF", "UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF")
_TRANSPORT_WORDS = {"RTP/AVP": 0x100, "RTP/AVPF": 0x102, "RTP/SAVP": 0x101, "RTP/SAVPF": 0x103,
                    "UDP/TLS/RTP/SAVP": 0x104, "UDP/TLS/RTP/SAVPF": 0x105}
_REPLACE_WORDS = {"replace-origin": "origin", "replace-session-connection": "session-connection",
                  "replace-username": "username", "replace-SDP-version": "SDP version",
                  "replace-zero-address": "zero address", "replace-session-name": "session name"}
_RTCP_MUX_WORDS = {"rtcp-mux-offer": "offer", "rtcp-mux-accept": "accept", "rtcp-mux-reject": "reject",
                   "rtcp-mux-demux": "demux", "rtcp-mux-require": "require"}

BRACKET_MAX_DEPTH = 8
BRACKET_MAX_LEN = 4096


class NgCommandError(Exception):
    """The command cannot be built; the text is what OpenSIPS logs ("can't get From tag", …)."""


# ------------------------------------------------------------------------------------------------ flags

@dataclass
class ParsedFlags:
    """What the flags string says, before the message is consulted (OpenSIPS's struct ng_flags_parse)."""

    op: str
    entries: dict[str, Any] = field(default_factory=dict)  # key=value entries for the daemon
    flags: list[str] = field(default_factory=list)  # bare words
    replace: list[str] | None = None  # None: the command takes no such list (not offer/answer)
    rtcp_mux: list[str] | None = None
    direction: list[str] | None = None
    transport: int = 0
    call_id: str | None = None
    from_tag: str | None = None
    to_tag: str | None = None
    to: bool = True  # send the to-tag (delete: only when the flags ask with `to-tag`)
    via: int = 0  # 1/2: branch of that Via, 3: "auto" (always fails), -1: extra_id_pv, 4: via-branch-param
    via_branch_param: str | None = None
    received_from: str | None = None
    directional: bool = False


def _split_tokens(text: str, brackets: bool):
    """(key, value or None) pairs of the flags string, as parse_flags() walks it."""
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] == " ":
            pos += 1
        start = pos
        while pos < n and text[pos] not in " =":
            pos += 1
        key = text[start:pos]
        value = None
        if pos < n and text[pos] == "=":
            value_start = pos + 1
            if brackets and value_start < n and text[value_start] == "[":
                depth = 0
                end = value_start
                closed = False
                while end < n:
                    if text[end] == "[":
                        depth += 1
                    elif text[end] == "]":
                        depth -= 1
                        if depth == 0:
                            end += 1
                            closed = True
                            break
                    end += 1
                if not closed:
                    raise NgCommandError(f"error processing flag `{key}' (value '{text[value_start:end]}'): "
                                         "unmatched bracket in flag value")
            else:
                end = text.find(" ", value_start)
                if end < 0:
                    end = n
            value = text[value_start:end]
            pos = end
        if not key:  # end of the string, or a token starting with '=' (the C stops there too)
            return
        yield key, value


def _leading_int(value: str) -> int:
    """strtol(value, NULL, 10): optional sign and digits at the start; 0 when there are none."""
    text = value.lstrip(" \t\n\r\f\v")
    end = 1 if text[:1] in ("+", "-") else 0
    while end < len(text) and text[end].isdigit():
        end += 1
    try:
        return int(text[:end])
    except ValueError:
        return 0


def _missing(key: str) -> NgCommandError:
    return NgCommandError(f"error processing flag `{key}': missing value")


def _invalid(key: str, value: str) -> NgCommandError:
    return NgCommandError(f"error processing flag `{key}' (value '{value}'): invalid value")


def parse_flags(text: str | None, op: str, *, brackets: bool = True, flags: list | None = None) -> ParsedFlags:
    """The flags string of a script call → ParsedFlags. `brackets`: 4.0's `key=[…]` values (3.6 stops a
    value at the first space). `flags`: an existing list the bare words are appended to."""
    parsed = ParsedFlags(op)
    if flags is not None:
        parsed.flags = flags
    if op in (OFFER, ANSWER):
        parsed.replace, parsed.rtcp_mux, parsed.direction = [], [], []
    parsed.to = op != DELETE
    if not text:
        return parsed
    in_iface: str | None = None
    out_iface: str | None = None
    for key, value in _split_tokens(text, brackets):
        if key == "RTP":
            parsed.transport = (parsed.transport | 0x100) & ~0x001
        elif key == "AVP":
            parsed.transport = (parsed.transport | 0x100) & ~0x002
        elif key == "SRTP":
            parsed.transport |= 0x101
        elif key == "AVPF":
            parsed.transport |= 0x102
        elif key in _TRANSPORT_WORDS:
            parsed.transport = _TRANSPORT_WORDS[key]
        elif key == "to-tag":
            if value is not None:
                parsed.to_tag = value
            parsed.to = True
        elif key == "callid" and value is not None:
            parsed.call_id = value
        elif key == "call-id":
            if value is None:
                raise _missing(key)
            parsed.call_id = value
        elif key in ("internal", "external"):
            if in_iface is not None:
                out_iface = key
            else:
                in_iface = key
        elif key == "in-iface":
            if value is None:
                raise _missing(key)
            in_iface = value
        elif key == "out-iface":
            if value is None:
                raise _missing(key)
            out_iface = value
        elif key == "from-tag":
            if value is None:
                raise _missing(key)
            parsed.from_tag = value
            parsed.directional = True
        elif key == "via-branch":
            if value is None:
                raise _missing(key)
            if value[:1] in ("1", "2"):  # only the first character counts in the C
                parsed.via = int(value[0])
            elif value == "auto":
                parsed.via = 3
            elif value == "extra":
                parsed.via = -1
            else:
                raise _invalid(key, value)
        elif key == "repacketize":
            if value is None:
                raise _missing(key)
            digits = len(value) - len(value.lstrip("0123456789"))
            packetize = int(value[:digits]) if digits else 0
            if not packetize:
                raise _invalid(key, value)
            parsed.entries["repacketize"] = packetize
        elif key == "directional":
            parsed.directional = True
            parsed.flags.append(key)
        elif key == "force-answer":
            if parsed.op != OFFER:
                raise NgCommandError("error processing flag `force-answer': cannot force answer in "
                                     "non-offer command")
            parsed.op = ANSWER
        elif key == "delete-delay":
            if value is None:
                raise _missing(key)
            parsed.entries["delete-delay"] = _leading_int(value)
        elif key == "media-address" and value is None:
            raise _missing(key)
        elif key == "received-from":
            if value is not None:
                parsed.received_from = value
        elif key in _REPLACE_WORDS:
            if parsed.replace is not None:  # offer/answer only; ignored for other commands
                parsed.replace.append(_REPLACE_WORDS[key])
        elif key == "address-family":
            if value is None:
                raise _missing(key)
            if value not in ("IP4", "IP6"):
                raise _invalid(key, value)
            parsed.entries["address family"] = value
        elif key in _RTCP_MUX_WORDS:
            if parsed.rtcp_mux is not None:
                parsed.rtcp_mux.append(_RTCP_MUX_WORDS[key])
        elif key == "via-branch-param":
            parsed.via = 4
            parsed.via_branch_param = value
        elif value is None:
            parsed.flags.append(key)
        elif brackets and len(value) >= 2 and value[0] == "[" and value[-1] == "]":
            item = parse_bracket_value(value[1:-1])
            if item is None:
                raise NgCommandError(f"error processing flag `{key}' (value '{value}'): failed to parse "
                                     "bracket value")
            parsed.entries[key] = item
        else:
            parsed.entries[key] = value
    if in_iface and out_iface:
        if parsed.direction is not None:  # offer/answer only
            parsed.direction += [in_iface, out_iface]
    elif in_iface:
        raise NgCommandError("in-iface value without out-iface")
    elif out_iface:
        raise NgCommandError("out-iface value without in-iface")
    return parsed


def _unescape(token: str) -> str:
    """Inside brackets `--` stands for `=` and `..` for a space."""
    if "--" not in token and ".." not in token:
        return token
    out, i, n = [], 0, len(token)
    while i < n:
        pair = token[i:i + 2]
        if pair == "--":
            out.append("=")
            i += 2
        elif pair == "..":
            out.append(" ")
            i += 2
        else:
            out.append(token[i])
            i += 1
    return "".join(out)


def _matching_bracket(text: str, start: int) -> int | None:
    """Index just past the `]` matching the `[` at `start`; None when unmatched."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "[":
            depth += 1
        elif text[i] == "]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def parse_bracket_value(text: str, depth: int = 0) -> list | dict | None:
    """The inside of `[…]`: a list of words (and nested brackets), or a dictionary when an `=` appears at
    the top level; None when malformed (stray `]`, unmatched `[`, too deep, too long)."""
    if depth > BRACKET_MAX_DEPTH or len(text) > BRACKET_MAX_LEN:
        return None
    level = 0
    is_dict = False
    for char in text:
        if char == "[":
            level += 1
        elif char == "]":
            level -= 1
            if level < 0:
                return None
        elif char == "=" and level == 0:
            is_dict = True
            break
    container: list | dict = {} if is_dict else []
    pos, n = 0, len(text)
    while pos < n:
        while pos < n and text[pos] == " ":
            pos += 1
        if pos >= n:
            break
        if is_dict:
            key_start = pos
            while pos < n and text[pos] not in "= ":
                pos += 1
            key = text[key_start:pos]
            if not key or pos >= n or text[pos] != "=":
                while pos < n and text[pos] != " ":  # a word without '=' in a dictionary is skipped
                    pos += 1
                continue
            pos += 1
            if pos < n and text[pos] == "[":
                end = _matching_bracket(text, pos)
                if end is None:
                    return None
                item = parse_bracket_value(text[pos + 1:end - 1], depth + 1)
                pos = end
            else:
                value_start = pos
                while pos < n and text[pos] != " ":
                    pos += 1
                if pos == value_start:
                    continue
                item = _unescape(text[value_start:pos])
            if item is None:
                return None
            container[key] = item  # type: ignore[index]
        else:
            if text[pos] == "[":
                end = _matching_bracket(text, pos)
                if end is None:
                    return None
                item = parse_bracket_value(text[pos + 1:end - 1], depth + 1)
                pos = end
            else:
                value_start = pos
                while pos < n and text[pos] != " ":
                    pos += 1
                item = _unescape(text[value_start:pos])
            if item is None:
                return None
            container.append(item)  # type: ignore[union-attr]
    return container


# ------------------------------------------------------------------------------------------------ the message

@dataclass(frozen=True)
class MessageIds:
    """What the command takes from the SIP message: ids, direction, Via branches and the source address."""

    call_id: str | None
    from_tag: str | None
    to_tag: str | None
    is_request: bool
    source_ip: str | None = None
    via_branches: tuple[str | None, str | None] = (None, None)  # the branch of Via 1 and Via 2


@dataclass(frozen=True)
class NgCommand:
    """A command ready to send: its ng name (force-answer may have turned an offer into "answer"), the
    dictionary, and the Call-ID that picks the node."""

    op: str
    document: dict[str, Any]
    call_id: str


def _received_from(ip_text: str) -> list[str]:
    address = ipaddress.ip_address(ip_text.strip("[]"))
    return ["IP4" if address.version == 4 else "IP6", str(address)]


def build_command(op: str, flags_text: str | None, ids: MessageIds | None, *, sdp: str | None = None,
                  extra: dict[str, Any] | None = None, extra_id: Callable[[], str | None] | None = None,
                  brackets: bool = True) -> NgCommand:
    """The whole ng command for `op` (rtpe_function_call_prepare). `extra`: entries the caller already
    has (play DTMF's code; rtp_relay's ids), which win over the message's. `extra_id`: the extra_id_pv
    value for `via-branch=extra`, None when that parameter is not set. Raises NgCommandError."""
    document: dict[str, Any] = dict(extra or {})
    existing_flags = document.get("flags") if isinstance(document.get("flags"), list) else None
    callid_exist = bool(document.get("call-id"))
    from_tag_exist = bool(document.get("from-tag"))
    to_tag_exist = bool(document.get("to-tag"))
    if op in (OFFER, ANSWER):
        document["sdp"] = sdp if sdp is not None else ""
    parsed = parse_flags(flags_text, op, brackets=brackets, flags=existing_flags)
    op = parsed.op
    document.update(parsed.entries)

    # the Call-ID the node choice hashes; an `extra` call-id stays in the document even when a flag names
    # another one (the C keeps the existing entry and only hashes the flag's)
    call_id = parsed.call_id or (document.get("call-id") if callid_exist else None) or \
        (ids.call_id if ids is not None else None)
    if not call_id:
        raise NgCommandError("can't get Call-Id field")
    to_tag = parsed.to_tag or (document.get("to-tag") if to_tag_exist else None) or \
        (ids.to_tag if ids is not None else None)
    from_tag = parsed.from_tag or (document.get("from-tag") if from_tag_exist else None) or \
        (ids.from_tag if ids is not None else None)
    if not from_tag:
        raise NgCommandError("can't get From tag")

    if parsed.direction:
        document["direction"] = parsed.direction
    if existing_flags is None and parsed.flags:
        document["flags"] = parsed.flags
    if parsed.replace:
        document["replace"] = parsed.replace
    if parsed.transport & 0x100:
        index = parsed.transport & 0x007
        if index >= len(TRANSPORTS):
            raise NgCommandError("no transport protocol for this combination of transport flags")
        document["transport-protocol"] = TRANSPORTS[index]
    if parsed.rtcp_mux:
        document["rtcp-mux"] = parsed.rtcp_mux
    if not callid_exist:
        document["call-id"] = call_id

    if parsed.via:
        branch: str | None = None
        if parsed.via in (1, 2) and ids is not None:
            branch = ids.via_branches[parsed.via - 1]
        elif parsed.via == -1 and extra_id is not None:
            branch = extra_id()
        elif parsed.via == 4:
            branch = parsed.via_branch_param
        if not branch:  # "auto" (3) always ends here: OpenSIPS never resolves it
            raise NgCommandError("can't get Via branch/extra ID")
        document["via-branch"] = branch

    if ids is not None:
        source = parsed.received_from or ids.source_ip
        try:
            document["received-from"] = _received_from(source) if source else []
        except ValueError:
            if parsed.received_from:
                raise NgCommandError("received-from value is not an IP") from None
            document["received-from"] = ["?", source]
    else:
        document["received-from"] = []

    _add_tags(document, op, parsed, ids, from_tag, to_tag, from_tag_exist, to_tag_exist, extra is not None)
    document["command"] = op
    return NgCommand(op, document, call_id)


def _add_tags(document: dict[str, Any], op: str, parsed: ParsedFlags, ids: MessageIds | None, from_tag: str,
              to_tag: str | None, from_tag_exist: bool, to_tag_exist: bool, has_extra: bool) -> None:
    """from-tag/to-tag as OpenSIPS picks them: the message's own direction for requests (except answers)
    and for answers/deletes in replies; swapped otherwise (an answer in ACK/PRACK, an offer in a 200 to a
    late-offer INVITE, a query from a reply)."""
    if op in MEDIA_OPS:
        if parsed.directional and not from_tag_exist:
            document["from-tag"] = from_tag
        return
    is_request = ids.is_request if ids is not None else False
    same_direction = parsed.directional or (ids is not None and (
        (is_request and op != ANSWER) or (not is_request and op in (DELETE, ANSWER))))
    if same_direction:
        if not from_tag_exist and op != DELETE:  # 3.6+/4.0: delete never names the from-tag
            document["from-tag"] = from_tag
        if op not in (START_MEDIA, STOP_MEDIA) and parsed.to and to_tag and not to_tag_exist \
                and not has_extra:
            document["to-tag"] = to_tag
        return
    if not to_tag:
        raise NgCommandError("No to-tag present")
    if not from_tag_exist:
        document["from-tag"] = to_tag
    if not to_tag_exist and not has_extra:
        document["to-tag"] = from_tag
