"""A small HTTP/1.1 server on trio: what OpenSIPS's httpd module is (libmicrohttpd there), with root paths
that other modules register (mi_http "/mi"; prometheus later "/metrics").

Behaviour kept from OpenSIPS (modules/httpd/httpd_proc.c, 3.6): a URL under no registered root gets 400
"Unable to handle URL"; methods other than GET/POST get 406; the handler of a root decides the rest.
Limits (ours, so that a client cannot hurt the proxy): request head ≤ 16 KiB (431), body ≤ max_body
(413, connection closed without reading the body), a POST needs Content-Length (411), a connection idle
for conn_timeout seconds is closed, at most max_connections at once (503 beyond). Keep-alive is supported.
Handlers run in the trio loop of the proxy: they must be quick (MI handlers are dictionary work).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable

import trio

log = logging.getLogger("opensips_py.httpd")

MAX_HEAD = 16 * 1024
REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           406: "Not Acceptable", 408: "Request Timeout", 411: "Length Required", 413: "Payload Too Large",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
           503: "Service Unavailable", 505: "HTTP Version Not Supported"}

_UNKNOWN_URL = b"<html><body>Unable to handle URL</body></html>"
_BAD_METHOD = b"<html><body>Unexpected HTTP method</body></html>"


@dataclass
class HTTPRequest:
    method: str
    target: str          # as sent: "/mi", "/mi/x?y"
    path: str            # the part under the root: "" for "/mi", "x" for "/mi/x"
    version: str
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int] | None = None


@dataclass
class HTTPResponse:
    status: int
    body: bytes = b""
    content_type: str | None = "text/html"
    headers: dict[str, str] = field(default_factory=dict)


RootHandler = Callable[[HTTPRequest], Awaitable[HTTPResponse]]


class HTTPError(Exception):
    """A request we refuse before any handler sees it; the connection closes after the reply."""

    def __init__(self, status: int, body: bytes = b""):
        super().__init__(status)
        self.status = status
        self.body = body


def parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    """Request line and headers of one request (head without the final blank line)."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise HTTPError(400)
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise HTTPError(400)
    method, target, version = parts
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise HTTPError(505)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HTTPError(400)
        key = name.lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return method, target, version, headers


def render(response: HTTPResponse, keep_alive: bool) -> bytes:
    reason = REASONS.get(response.status, "Unknown")
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    if response.content_type and (response.body or response.status >= 400):
        lines.append(f"Content-Type: {response.content_type}")
    lines.append(f"Content-Length: {len(response.body)}")
    lines.extend(f"{k}: {v}" for k, v in response.headers.items())
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


class HTTPServer:
    """One listening address and its registered roots."""

    def __init__(self, ip: str = "127.0.0.1", port: int = 8888, *, max_body: int = 64 * 1024,
                 conn_timeout: float = 30.0, max_connections: int = 64):
        self.ip = ip
        self.port = port
        self.max_body = max_body
        self.conn_timeout = conn_timeout
        self.max_connections = max_connections
        self.roots: dict[str, RootHandler] = {}
        self.bound: list[tuple[str, int]] = []
        self._open = 0

    def add_root(self, root: str, handler: RootHandler) -> None:
        root = root.strip("/")
        if root in self.roots:
            raise ValueError(f"httpd: root /{root} already registered")
        self.roots[root] = handler

    # ------------------------------------------------------------------------------------------ serving
    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Listen until cancelled. task_status.started() gets the bound (host, port) list."""
        host = None if self.ip in ("*", "") else self.ip
        listeners = await trio.open_tcp_listeners(self.port, host=host)
        self.bound = [ln.socket.getsockname()[:2] for ln in listeners]
        task_status.started(self.bound)
        await trio.serve_listeners(self._connection, listeners)

    async def _connection(self, stream: trio.SocketStream) -> None:
        if self._open >= self.max_connections:
            with trio.move_on_after(1):
                await stream.send_all(render(HTTPResponse(503), keep_alive=False))
            await trio.aclose_forcefully(stream)
            return
        self._open += 1
        try:
            peer = None
            try:
                peer = tuple(stream.socket.getpeername()[:2])
            except OSError:
                pass
            await self._requests(stream, peer)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self._open -= 1
            await trio.aclose_forcefully(stream)

    async def _requests(self, stream: trio.SocketStream, peer) -> None:
        buffer = bytearray()
        for _ in range(10_000):  # bounded keep-alive: a connection serves at most this many requests
            request: HTTPRequest | None = None
            with trio.move_on_after(self.conn_timeout) as idle:
                try:
                    request = await self._read_request(stream, buffer, peer)
                except HTTPError as refused:
                    await stream.send_all(render(HTTPResponse(refused.status, refused.body), False))
                    await self._drain(stream)
                    return
            if idle.cancelled_caught or request is None:
                return
            keep_alive = self._keep_alive(request)
            try:
                response = await self._dispatch(request)
            except Exception:
                log.exception("httpd: handler for %s failed", request.target)
                response = HTTPResponse(500, b"<html><body>Internal Server Error</body></html>")
            with trio.move_on_after(self.conn_timeout) as stalled:  # a client that does not read
                await stream.send_all(render(response, keep_alive))
            if stalled.cancelled_caught or not keep_alive:
                return

    async def _drain(self, stream) -> None:
        """Read (and drop) what the client is still sending for a moment, so that it sees our refusal
        instead of a reset; bounded in time and bytes."""
        with trio.move_on_after(0.5):
            dropped = 0
            while dropped < 4 * self.max_body + MAX_HEAD:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    return
                dropped += len(chunk)

    @staticmethod
    def _keep_alive(request: HTTPRequest) -> bool:
        connection = request.headers.get("connection", "").lower()
        if request.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection

    async def _read_request(self, stream, buffer: bytearray, peer) -> HTTPRequest | None:
        while b"\r\n\r\n" not in buffer:
            if len(buffer) > MAX_HEAD:
                raise HTTPError(431)
            chunk = await stream.receive_some(65536)
            if not chunk:
                return None
            buffer += chunk
        end = buffer.index(b"\r\n\r\n")
        if end > MAX_HEAD:
            raise HTTPError(431)
        head = bytes(buffer[:end])
        del buffer[:end + 4]
        method, target, version, headers = parse_head(head)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise HTTPError(411)
        length_text = headers.get("content-length")
        if length_text is None:
            if method == "POST":
                raise HTTPError(411)
            length = 0
        else:
            if not length_text.isdigit():
                raise HTTPError(400)
            length = int(length_text)
        if length > self.max_body:
            raise HTTPError(413, b"<html><body>Request body too large</body></html>")
        while len(buffer) < length:
            chunk = await stream.receive_some(min(65536, length - len(buffer) + 4096))
            if not chunk:
                return None
            buffer += chunk
        body = bytes(buffer[:length])
        del buffer[:length]
        path_only = target.split("?", 1)[0]
        return HTTPRequest(method, target, path_only, version, headers, body, peer)

    async def _dispatch(self, request: HTTPRequest) -> HTTPResponse:
        if request.method not in ("GET", "POST"):
            return HTTPResponse(406, _BAD_METHOD)
        segments = request.path.lstrip("/").split("/", 1)
        handler = self.roots.get(segments[0])
        if handler is None:
            return HTTPResponse(400, _UNKNOWN_URL)
        request.path = segments[1] if len(segments) > 1 else ""
        return await handler(request)
