"""tm's management commands (OpenSIPS modules/tm/mi.c): t_uac_dlg, t_uac_cancel, t_reply, t_hash.

t_uac_dlg sends a request of ours and answers when its final reply arrives (OpenSIPS answers asynchronously
too): the handler returns an awaitable the MI transport awaits. The result is {"Status": "<code> <reason>",
"Message": "<the reply's headers and body>"} (a timeout: {"Status": "408 Request Timeout"}). OpenSIPS adds
"RURI", "Next-hop" and "Routes" for a 2xx that confirms a dialog; we do not.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from opensips_py.mi import MIError
from opensips_py.mi.params import get_int, get_str, recipes
from opensips_py.modules.tm.messages import LocalRequest
from opensips_py.sip import REASON_PHRASES, SIPParseError, parse_message

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.modules.tm.engine import TransactionLayer

# headers t_uac writes itself: the ones given are taken apart instead of copied
_OWN = frozenset({"from", "to", "call-id", "cseq", "via", "max-forwards", "content-length", "content-type"})


def _headers(text: str) -> list[str]:
    """The headers parameter: CRLF-separated lines, "\\r\\n" written out also accepted (unescape_crlf)."""
    text = text.replace("\\r\\n", "\r\n").replace("\\n", "\n")
    return [line.rstrip("\r") for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def _parse_headers(lines: list[str]):
    """The header lines parsed as a message, to read From/To/Call-ID/CSeq with the SIP layer's views."""
    data = ("OPTIONS sip:mi@localhost SIP/2.0\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
    try:
        return parse_message(data)
    except SIPParseError as exc:
        raise MIError(400, "Bad headers") from exc


def mi_commands(layer: "TransactionLayer") -> dict[str, Callable]:
    core = layer.core

    def uac_dlg(params: dict[str, Any]):
        method = get_str(params, "method")
        ruri = get_str(params, "ruri")
        lines = _headers(get_str(params, "headers"))
        msg = _parse_headers(lines)
        try:
            from_, to = msg.from_, msg.to
            cseq = msg.cseq
        except SIPParseError as exc:
            raise MIError(400, "Bad headers") from exc
        if from_ is None or to is None:
            raise MIError(400, "From/To header missing")
        if cseq is not None and cseq.method != method:
            raise MIError(400, "CSeq method mismatch")
        body = params.get("body")
        content_type = msg.header("content-type")
        if body and not content_type:
            raise MIError(400, "Content-Type missing")
        socket = None
        if params.get("socket"):
            wanted = str(params["socket"])
            socket = next((s for s in core.sockets if str(s) == wanted or f"{s.host}:{s.port}" == wanted), None)
            if socket is None:
                raise MIError(404, "Local socket not found")
        from_value = msg.header("from")
        if from_.tag is None:
            from_value += f";tag={layer.to_tag(msg)[-8:]}"
        extra = [line for line in lines if line.partition(":")[0].strip().lower() not in _OWN]
        result: dict[str, Any] = {}

        def on_final(t, p) -> None:
            reply = p.reply
            if reply is None:
                result["Status"] = f"{p.code} {REASON_PHRASES.get(p.code, 'Unknown')}"
            else:
                result["Status"] = f"{reply.status} {reply.reason}"
                head, _, rest = reply.raw.partition(b"\r\n")
                result["Message"] = rest.decode("utf-8", "surrogateescape")

        request = LocalRequest(method=method, ruri=ruri, from_=from_value, to=msg.header("to"),
                               call_id=msg.call_id, cseq=cseq.number if cseq is not None else None, headers=extra,
                               body=str(body or "").encode("utf-8", "surrogateescape"),
                               content_type=content_type, next_hop=params.get("next_hop") or None, socket=socket)
        if layer.t_uac(request, on_final) is None:
            raise MIError(500, "MI/UAC failed")

        async def final_reply():
            import trio
            while not result:
                await trio.sleep(0.01)
            return result

        return final_reply()

    uac_dlg = recipes(*[("method", "ruri", "headers", *extra) for extra in
                        ((), ("next_hop",), ("socket",), ("body",), ("next_hop", "socket"), ("next_hop", "body"),
                         ("socket", "body"), ("next_hop", "socket", "body"))], named_only=True)(uac_dlg)

    @recipes(("callid", "cseq"))
    def uac_cancel(params: dict[str, Any]):
        key = (get_str(params, "callid"), str(get_int(params, "cseq")))
        for t in layer.table.by_hash.get(key, ()):
            if t.is_local and t.is_invite:
                core.call_soon(lambda now, t=t: layer.cancel_uacs(t, layer.which_cancel(t)))
                return "OK"
        raise MIError(481, "No such transaction")

    @recipes(("code", "reason", "trans_id", "to_tag"), ("code", "reason", "trans_id", "to_tag", "new_headers"),
             ("code", "reason", "trans_id", "to_tag", "new_headers", "body"), named_only=True)
    def reply(params: dict[str, Any]):
        trans_id = get_str(params, "trans_id")
        t = layer.table.by_tid.get(trans_id)
        if t is None or t.is_local or t.request is None:
            raise MIError(404, "Transaction not found")
        t.local_to_tag = get_str(params, "to_tag") or t.local_to_tag
        headers = _headers(str(params.get("new_headers") or "")) if params.get("new_headers") else None
        body = str(params.get("body") or "").encode("utf-8", "surrogateescape")

        def send(now: float) -> None:
            layer.reply(t, None, get_int(params, "code"), get_str(params, "reason"), headers=headers, body=body)

        core.call_soon(send)
        return "OK"

    @recipes(())
    def t_hash(params: dict[str, Any]):
        return [{"index": 0, "entries": len(layer.table)}]

    return {"t_uac_dlg": uac_dlg, "t_uac_cancel": uac_cancel, "t_reply": reply, "t_hash": t_hash}


__all__ = ["mi_commands"]
