"""How dialogs look over MI and in $DLG_json (dlg_hash.c internal_mi_print_dlg), and the value/profile text
formats of the dialog table (dlg_db_handler.c write_pair/read_pair).

One dialog is an object with OpenSIPS's keys in OpenSIPS's order:

    {"ID": "<h_entry hex>.<h_id hex>", "db_id": "<h_entry << 32 | h_id>", "state": 4, "user_flags": "",
     "timestart": unix, "datestart": "Y-m-d H:M:S" (when started), "timeout": unix expiry or 0,
     "dateout": … (when timing), "callid", "from_uri", "to_uri",
     "caller_tag", "caller_contact", "callee_cseq", "caller_route_set", "caller_bind_addr",
     "caller_sdp"?, "caller_sent_sdp"?,
     "CALLEES": [{"callee_tag", "callee_contact", "caller_cseq", "callee_route_set",
                  "callee_bind_addr" (or null), "callee_sdp"?, "callee_sent_sdp"?}],
     "context": {"values": [{name: value}], "profiles": [{profile: value}]}   (dlg_list_ctx only)}

`callee_cseq` on the caller's side is OpenSIPS's own naming: the CSeq of the last request towards the caller.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.modules.dialog.model import Dialog


def _date(ts: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value or ""


def socket_text(sock) -> str | None:
    """OpenSIPS's sock_str: "udp:127.0.0.1:5060"."""
    return f"{sock.proto}:{sock.host}:{sock.port}" if sock is not None else None


def escape_value(text: str) -> str:
    """Non-printable bytes as \\b \\t \\n \\f \\r \\xHH (how MI prints string dialog values)."""
    out = []
    for char in text:
        code = ord(char)
        if code < 0x20 or code >= 0x7F:
            special = {0x8: "\\b", 0x9: "\\t", 0xA: "\\n", 0xC: "\\f", 0xD: "\\r"}.get(code)
            if special:
                out.append(special)
            else:
                for byte in char.encode("utf-8", "surrogateescape"):
                    out.append(f"\\x{byte:02x}")
        else:
            out.append(char)
    return "".join(out)


def dialog_object(dialog: "Dialog", *, now: float, timeout_at: Callable[["Dialog"], int],
                  user_flags: str, with_context: bool) -> dict[str, Any]:
    """One dialog as MI's dlg_list / dlg_list_ctx and $DLG_json print it."""
    obj: dict[str, Any] = {"ID": dialog.did, "db_id": str(dialog.db_id), "state": dialog.state,
                           "user_flags": user_flags, "timestart": dialog.start_ts}
    if dialog.start_ts:
        obj["datestart"] = _date(dialog.start_ts)
    expiry = timeout_at(dialog)
    obj["timeout"] = expiry
    if expiry:
        obj["dateout"] = _date(expiry)
    obj["callid"] = dialog.callid
    obj["from_uri"] = dialog.from_uri
    obj["to_uri"] = dialog.to_uri
    if dialog.legs:
        caller = dialog.legs[0]
        obj["caller_tag"] = caller.tag
        obj["caller_contact"] = caller.contact
        obj["callee_cseq"] = caller.r_cseq
        obj["caller_route_set"] = caller.route_set
        obj["caller_bind_addr"] = socket_text(caller.socket)
        if caller.in_sdp:
            obj["caller_sdp"] = _text(caller.in_sdp)
        if caller.out_sdp:
            obj["caller_sent_sdp"] = _text(caller.out_sdp)
    callees = []
    for leg in dialog.legs[1:]:
        item: dict[str, Any] = {"callee_tag": leg.tag, "callee_contact": leg.contact, "caller_cseq": leg.r_cseq,
                                "callee_route_set": leg.route_set, "callee_bind_addr": socket_text(leg.socket)}
        if leg.in_sdp:
            item["callee_sdp"] = _text(leg.in_sdp)
        if leg.out_sdp:
            item["callee_sent_sdp"] = _text(leg.out_sdp)
        callees.append(item)
    obj["CALLEES"] = callees
    if with_context:
        context: dict[str, Any] = {}
        if dialog.vals:
            context["values"] = [{name: escape_value(value) if isinstance(value, str) else value}
                                 for name, value in dialog.vals.items()]
        if dialog.profiles:
            context["profiles"] = [{name: value or ""} for name, value in dialog.profiles]
        obj["context"] = context
    return obj


# ------------------------------------------------------------------------------------------------ name#type#value|

VAL_STR, VAL_INT = 1, 2


def _escape_pair(text: str) -> str:
    return "".join("\\" + c if c in "|#\\" else c for c in text)


def write_pairs(items: list[tuple[str, Any]]) -> str:
    """`name#1#text|name#2#42|` (strings type 1, integers type 2; | # \\ escaped with a backslash)."""
    out = []
    for name, value in items:
        if isinstance(value, int):
            out.append(f"{_escape_pair(name)}#{VAL_INT}#{value}|")
        else:
            out.append(f"{_escape_pair(name)}#{VAL_STR}#{_escape_pair(value or '')}|")
    return "".join(out)


def read_pairs(text: str) -> list[tuple[str, Any]]:
    """The inverse of write_pairs(); malformed pairs are skipped, as OpenSIPS's read_pair() does."""
    items: list[tuple[str, Any]] = []
    fields: list[str] = []
    current: list[str] = []
    position = 0
    length = len(text)
    while position < length:
        char = text[position]
        if char == "\\" and position + 1 < length:
            current.append(text[position + 1])
            position += 2
            continue
        if char == "#":
            fields.append("".join(current))
            current = []
        elif char == "|":
            fields.append("".join(current))
            current = []
            if len(fields) == 3 and fields[0] and fields[1] in ("1", "2"):
                if fields[1] == "2":
                    try:
                        items.append((fields[0], int(fields[2])))
                    except ValueError:
                        pass
                else:
                    items.append((fields[0], fields[2]))
            fields = []
        else:
            current.append(char)
        position += 1
    return items
