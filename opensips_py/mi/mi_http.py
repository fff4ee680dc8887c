"""mi_http's endpoint: JSON-RPC 2.0 over HTTP POST under httpd's root (modules/mi_http/http_fnc.c, 3.6).

POST with a body → 200 and the JSON-RPC reply (errors included: a parse error is a 200 with code -32700);
a notification (no "id") → 202 with no body; another method → 405; an empty body → 400.
"""
from __future__ import annotations

from typing import Callable

from opensips_py.mi import jsonrpc
from opensips_py.mi.httpd import HTTPRequest, HTTPResponse
from opensips_py.mi.registry import MIRegistry


def mi_http_handler(registry: Callable[[], MIRegistry], pretty: bool = False):
    """The root handler; `registry` is called per request (the runtime may attach it after start-up)."""

    async def handle(request: HTTPRequest) -> HTTPResponse:
        if request.method != "POST":
            return HTTPResponse(405, b"<html><body>Method Not Allowed</body></html>")
        if not request.body:
            return HTTPResponse(400, b"<html><body>Bad Request</body></html>")
        reply = await jsonrpc.handle(registry(), request.body)
        if reply is None:
            return HTTPResponse(202, content_type=None)
        return HTTPResponse(200, jsonrpc.encode(reply, pretty), "application/json")

    return handle
