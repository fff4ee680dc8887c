"""mi_fifo's server: JSON-RPC requests read from a named pipe, replies written to per-request reply pipes.

The protocol (modules/mi_fifo/fifo_fnc.c, 3.6; what python-opensips' FIFO client and opensips-cli speak):
a client creates its own FIFO `reply_dir/<name>`, writes `:<name>:<JSON-RPC request>` into the server's
FIFO and reads the reply from its pipe. `::<request>` (no name) runs the command with no reply. Several
requests may arrive in one read and one request over several reads: the JSON value's end delimits it.
A reply name holding ".", "/" or "\\" is refused; a reply pipe must be a real FIFO (not a link).

Ours as OpenSIPS's: the server holds a writer on its own FIFO so that it never sees end-of-file, checks
every `check_interval` seconds that the FIFO is still there (and re-creates it if someone deleted it), and
removes it at shutdown. Differences, for robustness: a pending request larger than `max_request` bytes
is dropped (with a -32700 reply when its reply pipe is known), and the reply pipe is waited for up to
about two seconds (OpenSIPS: 4 tries in 320 ms).
"""
from __future__ import annotations

import errno
import json
import logging
import os
import stat
from typing import Callable

import trio

from opensips_py.mi import jsonrpc
from opensips_py.mi.errors import PARSE_ERROR, MIError
from opensips_py.mi.registry import MIRegistry

log = logging.getLogger("opensips_py.mi_fifo")

REPLY_RETRIES = 25
REPLY_WAIT = 0.08
REPLY_SEND_TIMEOUT = 5.0


def json_value_end(text: str, start: int) -> int | None:
    """Index just past the JSON object/array starting at `start`, or None when the text stops before it
    ends. Strings (and their escapes) are skipped, so braces inside them do not count."""
    depth = 0
    in_string = False
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


class FifoRequestBuffer:
    """Splits the FIFO's byte stream into (reply name, request text) pairs; sans-IO."""

    def __init__(self, max_request: int = 64 * 1024):
        self.max_request = max_request
        self.pending = ""

    def feed(self, data: bytes) -> list[tuple[str | None, str | None]]:
        """Requests complete so far: (reply_name or None, request text), or (reply_name, None) for a request
        that had to be dropped (too large) and deserves a parse-error reply."""
        self.pending += data.decode("utf-8", errors="replace")
        out: list[tuple[str | None, str | None]] = []
        for _ in range(10_000):  # bounded: each round consumes input or stops
            text = self.pending.lstrip()
            if not text:
                self.pending = ""
                break
            if text[0] != ":":
                log.error("mi_fifo: command must begin with ':' — dropped %d bytes", len(text))
                self.pending = ""
                break
            sep = text.find(":", 1)
            if sep < 0:
                if len(text) > self.max_request:
                    self.pending = ""
                else:
                    self.pending = text
                break
            name = text[1:sep] or None
            if name is not None and any(c in name for c in "./\\"):
                log.error("mi_fifo: forbidden reply file name %r", name)
                self.pending = ""
                break
            body_start = sep + 1
            while body_start < len(text) and text[body_start] in " \t\r\n":
                body_start += 1
            if body_start >= len(text):
                self.pending = text
                if len(text) > self.max_request:
                    self.pending = ""
                    out.append((name, None))
                break
            if text[body_start] in "{[":
                end = json_value_end(text, body_start)
            else:  # a bare scalar or garbage: up to the end of the line
                newline = text.find("\n", body_start)
                end = newline if newline >= 0 else None
            if end is None:
                if len(text) > self.max_request:
                    log.error("mi_fifo: request larger than %d bytes dropped", self.max_request)
                    self.pending = ""
                    out.append((name, None))
                else:
                    self.pending = text
                break
            if end - body_start > self.max_request:
                log.error("mi_fifo: request larger than %d bytes refused", self.max_request)
                out.append((name, None))
            else:
                out.append((name, text[body_start:end]))
            self.pending = text[end:]
        return out


class FifoServer:
    """The mi_fifo listener of one proxy."""

    def __init__(self, registry: Callable[[], MIRegistry], fifo_name: str = "/tmp/opensips_fifo",
                 fifo_mode: int = 0o660, reply_dir: str = "/tmp/", uid: int = -1, gid: int = -1,
                 pretty: bool = False, max_request: int = 64 * 1024, check_interval: float = 30.0):
        self.registry = registry
        self.fifo_name = fifo_name
        self.fifo_mode = fifo_mode or 0o600
        self.reply_dir = reply_dir
        self.uid = uid
        self.gid = gid
        self.pretty = pretty
        self.max_request = max_request
        self.check_interval = check_interval
        self._inode: tuple[int, int] | None = None

    # ------------------------------------------------------------------------------------------ the FIFO
    def prepare(self) -> None:
        """mod_init: remove a stale FIFO at the path, check reply_dir (ModuleInitError-worthy problems
        raise OSError/ValueError)."""
        try:
            st = os.lstat(self.fifo_name)
        except FileNotFoundError:
            st = None
        if st is not None:
            if not (stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode)):
                raise ValueError(f"mi_fifo: {self.fifo_name} exists and is not a FIFO; refusing to delete it")
            os.unlink(self.fifo_name)
        if not os.path.isdir(self.reply_dir):
            raise ValueError(f"mi_fifo: reply_dir {self.reply_dir} is not a directory")

    def _create(self) -> tuple[int, int]:
        os.mkfifo(self.fifo_name, self.fifo_mode)
        os.chmod(self.fifo_name, self.fifo_mode)
        if self.uid != -1 or self.gid != -1:
            os.chown(self.fifo_name, self.uid, self.gid)
        reader = os.open(self.fifo_name, os.O_RDONLY | os.O_NONBLOCK)
        writer = os.open(self.fifo_name, os.O_WRONLY | os.O_NONBLOCK)  # never see end-of-file
        st = os.fstat(reader)
        self._inode = (st.st_dev, st.st_ino)
        return reader, writer

    def _still_ours(self) -> bool:
        try:
            st = os.lstat(self.fifo_name)
        except FileNotFoundError:
            return False
        return stat.S_ISFIFO(st.st_mode) and (st.st_dev, st.st_ino) == self._inode

    def _remove(self) -> None:
        if self._still_ours():
            try:
                os.unlink(self.fifo_name)
            except OSError:
                pass

    # ------------------------------------------------------------------------------------------ serving
    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        if os.path.lexists(self.fifo_name):
            self.prepare()
        started = False
        try:
            for _ in range(1_000_000):  # re-created when deleted; bounded for form's sake
                reader, writer = self._create()
                stream = trio.lowlevel.FdStream(reader)
                try:
                    if not started:
                        task_status.started(self.fifo_name)
                        started = True
                    await self._read_loop(stream)
                finally:
                    await stream.aclose()
                    os.close(writer)
                log.info("mi_fifo: FIFO %s was replaced or removed; creating a new one", self.fifo_name)
                if os.path.lexists(self.fifo_name):
                    try:
                        self.prepare()
                    except (OSError, ValueError) as exc:
                        log.error("%s", exc)
                        return
        finally:
            self._remove()

    async def _read_loop(self, stream: trio.lowlevel.FdStream) -> None:
        """Read requests until the FIFO is no longer ours."""
        requests = FifoRequestBuffer(self.max_request)
        while True:
            data = None
            with trio.move_on_after(self.check_interval):
                data = await stream.receive_some(65536)
            if data is None:  # quiet for a while: is the FIFO still there?
                if not self._still_ours():
                    return
                continue
            if not data:  # end-of-file cannot happen while we hold a writer, unless the FIFO changed
                return
            for name, text in requests.feed(data):
                await self._run(name, text)

    async def _run(self, name: str | None, text: str | None) -> None:
        if text is None:
            reply = jsonrpc.error_reply(MIError(PARSE_ERROR, details="request too large"), None)
        else:
            reply = await jsonrpc.handle(self.registry(), text)
        if reply is None or name is None:
            return
        await self.write_reply(name, jsonrpc.encode(reply, self.pretty))

    async def write_reply(self, name: str, data: bytes) -> bool:
        path = os.path.join(self.reply_dir, name)
        fd = None
        for attempt in range(REPLY_RETRIES):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: the client has not opened it for reading yet
                    log.error("mi_fifo: cannot open reply pipe %s: %s", path, exc)
                    return False
                await trio.sleep(REPLY_WAIT)
        if fd is None:
            log.warning("mi_fifo: no client at %s", path)
            return False
        if not _is_plain_fifo(fd, path):
            os.close(fd)
            log.error("mi_fifo: reply pipe %s is not a plain FIFO; not writing", path)
            return False
        out = trio.lowlevel.FdStream(fd)
        try:
            with trio.move_on_after(REPLY_SEND_TIMEOUT):
                await out.send_all(data)
                return True
            log.warning("mi_fifo: client at %s does not read its reply", path)
            return False
        except (trio.BrokenResourceError, OSError) as exc:
            log.warning("mi_fifo: reply to %s failed: %s", path, exc)
            return False
        finally:
            await out.aclose()


def _is_plain_fifo(fd: int, path: str) -> bool:
    """OpenSIPS's mi_fifo_check: a FIFO, not hard-linked, not a symbolic link, the same inode."""
    try:
        fst = os.fstat(fd)
        lst = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISFIFO(fst.st_mode) and fst.st_nlink <= 1 and not stat.S_ISLNK(lst.st_mode)
            and (lst.st_dev, lst.st_ino) == (fst.st_dev, fst.st_ino))


def encode_request(name: str, method: str, params=None, req_id=1) -> bytes:
    """A FIFO request line, as clients write it."""
    return f":{name}:{json.dumps({'jsonrpc': '2.0', 'method': method, 'params': params or {}, 'id': req_id})}" \
        .encode()
