"""JSON-RPC 2.0 framing of MI requests and replies, shared by every transport (sans-IO apart from awaiting
an async handler).

OpenSIPS's rules (mi/mi.c parse_mi_request / handle_mi_request / prepare_mi_response, 3.6 and 4.0):
  - text that is not JSON → -32700 "Parse error", id null;
  - not a JSON-RPC 2.0 request (no "jsonrpc": "2.0", no string "method", params neither array nor object,
    id neither string, number nor null) → -32600 "Invalid Request";
  - unknown method → -32601 "Method not found"; parameters fitting no recipe → -32602 "Invalid params";
  - a request without "id" is a notification: it runs, and gets no reply unless it failed to parse or was
    invalid (then the error goes back with id null);
  - replies are {"jsonrpc": "2.0", "result" | "error": …, "id": <the request's id>}, in that key order.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from opensips_py.mi.errors import INVALID_REQUEST, PARSE_ERROR, SERVER_ERROR, HANDLER_FAILED, MIError
from opensips_py.mi.registry import MIRegistry, resolve

log = logging.getLogger("opensips_py.mi")

_NO_ID = object()


@dataclass
class Request:
    """A parsed request; `error` set when it is invalid (then method/params may be None)."""

    method: str | None
    params: Any
    id: Any = _NO_ID
    error: MIError | None = None

    @property
    def is_notification(self) -> bool:
        return self.id is _NO_ID


def parse_request(text: str | bytes) -> Request:
    """One request from its JSON text."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return Request(None, None, None, MIError(PARSE_ERROR))
    return request_from_object(obj)


def request_from_object(obj: Any) -> Request:
    """Check a decoded JSON value against JSON-RPC 2.0's request shape."""
    if not isinstance(obj, dict):
        return Request(None, None, None, MIError(INVALID_REQUEST))
    req_id = obj.get("id", _NO_ID)
    invalid = False
    if req_id is not _NO_ID and (isinstance(req_id, bool) or not isinstance(req_id, (str, int, float))) \
            and req_id is not None:
        invalid = True
    if obj.get("jsonrpc") != "2.0":
        invalid = True
    method = obj.get("method")
    if not isinstance(method, str):
        method, invalid = None, True
    params = obj.get("params")
    if params is not None and not isinstance(params, (list, dict)):
        invalid = True
    if "params" in obj and obj["params"] is None:
        invalid = True  # null is neither an array nor an object
    if invalid:
        return Request(method, None, None if req_id is _NO_ID else req_id, MIError(INVALID_REQUEST))
    return Request(method, params or None, req_id)


def result_reply(result: Any, req_id: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "result": result, "id": req_id}


def error_reply(error: MIError, req_id: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": error.to_json(), "id": req_id}


async def run_request(registry: MIRegistry, request: Request) -> dict[str, Any] | None:
    """The reply object for a request, or None when none is due (a notification)."""
    if request.error is not None:
        # parse errors and invalid requests are answered even without an id (as OpenSIPS does)
        return error_reply(request.error, None if request.id is _NO_ID else request.id)
    try:
        command = registry.lookup(request.method or "")
        result = await resolve(command.call(request.params))
    except MIError as exc:
        reply = error_reply(exc, request.id)
    except Exception:  # a handler bug: answer like OpenSIPS does for a NULL response, keep serving
        log.exception("MI command %s failed", request.method)
        reply = error_reply(MIError(SERVER_ERROR, details=HANDLER_FAILED), request.id)
    else:
        reply = result_reply(result, request.id)
    return None if request.is_notification else reply


async def handle(registry: MIRegistry, text: str | bytes) -> dict[str, Any] | None:
    """Parse, run and answer one request text."""
    return await run_request(registry, parse_request(text))


def encode(reply: dict[str, Any], pretty: bool = False) -> bytes:
    """A reply as bytes, compact (one line, as the FIFO protocol wants) or indented (pretty_printing)."""
    if pretty:
        return json.dumps(reply, indent="\t", ensure_ascii=False).encode("utf-8")
    return json.dumps(reply, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def command_text(method: str, params: Any = None, req_id: Any = 1) -> str:
    """A request's JSON text (for the client side)."""
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": params if params is not None else {},
                       "id": req_id})
