"""Small helpers of b2b_logic: reading what a message or a flag string carries."""
from __future__ import annotations

import re
from typing import Any

from opensips_py.script.context import MsgContext
from opensips_py.script.pvars import ALL
from opensips_py.sip import SIPParseError


def max_duration_flag(flags: str | None) -> int | None:
    """max_duration=N of b2b_bridge()."""
    for part in (flags or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "max_duration" and value.strip().isdigit():
            return int(value)
    return None


def bridge_flags(text: str | None) -> set[str]:
    flags = set()
    for part in (text or "").split(","):
        name = part.strip()
        if not name:
            continue
        if name.startswith("max_duration="):
            continue
        flags.add(name)
    return flags


def hold_sdp(sdp: bytes) -> bytes:
    """sdp_get_hold_body(): every stream made `a=inactive` (its direction replaced, or the line added at the
    end of the stream); empty when every stream is inactive already (nothing to change)."""
    if not sdp:
        return b""
    text = sdp.decode("utf-8", "surrogateescape")
    eol = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(eol)
    if lines and lines[-1] == "":
        lines.pop()
    first_m = next((i for i, line in enumerate(lines) if line.startswith("m=")), len(lines))
    out = lines[:first_m]
    streams: list[list[str]] = []
    for line in lines[first_m:]:
        if line.startswith("m="):
            streams.append([line])
        else:
            streams[-1].append(line)
    active = 0
    for stream in streams:
        modes = [i for i, line in enumerate(stream) if line in ("a=sendrecv", "a=sendonly", "a=recvonly",
                                                                "a=inactive")]
        if modes and stream[modes[0]] == "a=inactive":
            out.extend(stream)
            continue
        active += 1
        if modes:
            stream[modes[0]] = "a=inactive"
        else:
            stream.append("a=inactive")
        out.extend(stream)
    if not active:
        return b""
    return (eol.join(out) + eol).encode("utf-8", "surrogateescape")


def avp_headers(ctx: MsgContext, names: Any, values: Any) -> list[str]:
    """Extra header lines from two AVPs, every value of each: header names and their bodies, paired in the
    AVPs' order (b2b_scenario_hdrs())."""
    if names is None:
        return []

    def every(ref: Any) -> list:
        if ref is None:
            return []
        found = ref.handler.get(ref._target(ctx), ref._arg(ctx), ALL)
        return found if isinstance(found, list) else [found]
    return [f"{n}: {v}" for n, v in zip(every(names), every(values)) if n is not None and v is not None]


def setup_timeout(flags: str | None, default: int) -> int:
    """setup-timeout=N of b2b_init_request(), else b2bl_th_init_timeout."""
    for part in (flags or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "setup-timeout" and value.strip().isdigit():
            return int(value)
    return default


def init_flags(text: str | None) -> set[str]:
    """b2b_init_request() flags by name (setup-timeout=N counts as setup-timeout)."""
    return {part.strip().split("=", 1)[0] for part in (text or "").split(",") if part.strip()}


def no_tag(raw: str) -> str:
    return re.sub(r";\s*tag\s*=\s*[^;>\s]*", "", raw).strip()


def text_of(value: Any) -> str:
    return "" if value is None else str(value)


def first_socket(core: Any) -> Any:
    return core.sockets[0] if getattr(core, "sockets", None) else None


def max_forwards_of(msg: Any) -> int | None:
    """b2b_msg_get_maxfwd(): the Max-Forwards as received (the request we send carries one less)."""
    try:
        return msg.max_forwards
    except SIPParseError:
        return None


def from_of(msg: Any) -> str:
    """The From of our INVITE: the caller's display name and URI, no parameters (b2b_msg_get_from())."""
    frm = msg.from_
    return (f'"{frm.display_name}" ' if frm.display_name else "") + f"<{frm.uri_text}>"


def to_of(ctx: MsgContext, msg: Any, preserve_to: bool) -> str:
    """The To of the top hiding INVITE (b2b_msg_get_to()): the To URI with preserve-to, else
    sip:user@host[:port] of the R-URI."""
    if preserve_to:
        return f"<{msg.to.uri_text}>"
    from opensips_py.sip import URI
    try:
        ruri = URI(ctx.new_uri) if ctx.new_uri else msg.ruri
    except SIPParseError:
        return f"<{msg.to.uri_text}>"
    user = f"{ruri.user}@" if ruri.user else ""
    port = f":{ruri.port}" if ruri.port else ""
    return f"<sip:{user}{ruri.host}{port}>"
