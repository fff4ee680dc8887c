"""`opensips-py mi COMMAND [ARGS…]`: run one MI command against a running proxy, like `opensips-cli -x mi`.

Arguments are all `name=value` (named parameters) or all plain (positional ones), as opensips-cli reads
them; for the commands whose last parameter is an array (get_statistics, …) the remaining words become
that array. `-j` sends each argument as JSON instead (numbers, arrays). The transport is mi_http
(--url, default http://127.0.0.1:8888/mi) or mi_fifo (--fifo PATH, replies through --reply-dir).
Exit status: 0 ok, 1 the command answered an error, 2 usage or connection problem.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import urllib.error
import urllib.request
from typing import Any

# opensips-cli's MI_ARRAY_PARAMS_COMMANDS: command -> (index of the array parameter, its name)
ARRAY_PARAMS = {
    "get_statistics": (0, "statistics"), "statistics:get": (0, "statistics"),
    "list_statistics": (0, "statistics"), "statistics:list": (0, "statistics"),
    "reset_statistics": (0, "statistics"), "statistics:reset": (0, "statistics"),
    "dlg_push_var": (2, "DID"), "dialog:push_var": (2, "DID"),
    "raise_event": (1, "params"), "evi:raise": (1, "params"),
    "trace_start": (0, "filter"), "tracer:start": (0, "filter"),
    "b2b_trigger_scenario": (3, "scenario_params"), "b2b_logic:trigger_scenario": (3, "scenario_params"),
    "cluster_broadcast_mi": (2, "cmd_params"), "clusterer:broadcast_mi": (2, "cmd_params"),
}


class MIClientError(Exception):
    """The command could not be delivered or its reply not read."""


class MIReplyError(Exception):
    """The proxy answered with a JSON-RPC error."""

    def __init__(self, error: dict[str, Any]):
        self.error = error
        data = f" ({error['data']})" if error.get("data") else ""
        super().__init__(f"{error.get('code')}: {error.get('message')}{data}")


def build_params(command: str, args: list[str], as_json: bool = False) -> dict[str, Any] | list[Any]:
    """JSON-RPC params from command-line words (opensips-cli's rules)."""
    if args and all("=" in a and a.split("=", 1)[0].replace("_", "").replace("-", "").replace(".", "")
                    .isalnum() for a in args):
        named: dict[str, Any] = {}
        for arg in args:
            name, value = arg.split("=", 1)
            if as_json:
                named[name] = _json_or_text(value)
            elif command in ARRAY_PARAMS and ARRAY_PARAMS[command][1] == name:
                named[name] = shlex.split(value)
            else:
                named[name] = value
        return named
    if as_json:
        return [_json_or_text(a) for a in args]
    if command not in ARRAY_PARAMS:
        return list(args)
    index = ARRAY_PARAMS[command][0]
    params: list[Any] = list(args[:index])
    if args[index:]:
        params.append(list(args[index:]))
    return params


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _reply(text: str) -> Any:
    try:
        reply = json.loads(text)
    except ValueError as exc:
        raise MIClientError(f"could not decode the reply: {text[:200]!r}") from exc
    if isinstance(reply, dict) and isinstance(reply.get("error"), dict):
        raise MIReplyError(reply["error"])
    if not isinstance(reply, dict) or "result" not in reply:
        raise MIClientError(f"not a JSON-RPC reply: {text[:200]!r}")
    return reply["result"]


def request_text(command: str, params: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "method": command, "params": params, "id": str(os.getpid())})


def execute_http(url: str, command: str, params: Any, timeout: float = 10.0) -> Any:
    """POST one request to mi_http and return its result (MIReplyError for an error reply)."""
    body = request_text(command, params).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return _reply(response.read().decode())
    except urllib.error.HTTPError as exc:
        raise MIClientError(f"HTTP {exc.code} from {url}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise MIClientError(f"cannot reach {url}: {exc}") from exc


def execute_fifo(fifo: str, command: str, params: Any, reply_dir: str = "/tmp", timeout: float = 10.0) -> Any:
    """Write one request into mi_fifo's FIFO and read the reply from our own reply FIFO."""
    name = f"opensips_py_mi_reply_{os.getpid()}_{time.monotonic_ns()}"
    reply_path = os.path.join(reply_dir, name)
    if not os.path.exists(fifo):
        raise MIClientError(f"FIFO {fifo} does not exist: is the proxy running with mi_fifo?")
    os.mkfifo(reply_path, 0o600)
    try:
        try:
            out = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise MIClientError(f"cannot write to {fifo}: {exc}") from exc
        try:
            os.write(out, f":{name}:{request_text(command, params)}".encode())
        finally:
            os.close(out)
        reader = os.open(reply_path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            return _reply(_read_until_closed(reader, timeout))
        finally:
            os.close(reader)
    finally:
        os.unlink(reply_path)


def _read_until_closed(fd: int, timeout: float) -> str:
    """Everything the server writes to the reply FIFO, until it closes it (or the timeout)."""
    import select

    data = bytearray()
    deadline = time.monotonic() + timeout
    writer_seen = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if chunk:
            data += chunk
            writer_seen = True
        elif writer_seen:
            return data.decode()
        else:
            time.sleep(0.02)  # no writer yet: a FIFO reads as empty until the server opens it
    raise MIClientError("no reply from the proxy (timeout)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="opensips-py mi", description="Run an MI command on a running proxy.")
    parser.add_argument("command", help="MI command (ps, get_statistics, ul_dump, …)")
    parser.add_argument("args", nargs="*", help="name=value named parameters, or positional ones")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--url", default=None, help="mi_http URL (default http://127.0.0.1:8888/mi)")
    target.add_argument("--fifo", default=None, help="mi_fifo FIFO path (e.g. /tmp/opensips_fifo)")
    parser.add_argument("--reply-dir", default="/tmp", help="where the FIFO reply pipe is made (default /tmp)")
    parser.add_argument("-j", "--json", action="store_true", help="arguments are JSON values")
    parser.add_argument("--timeout", type=float, default=10.0)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0
    params = build_params(args.command, args.args, args.json)
    try:
        if args.fifo:
            result = execute_fifo(args.fifo, args.command, params, args.reply_dir, args.timeout)
        else:
            result = execute_http(args.url or "http://127.0.0.1:8888/mi", args.command, params, args.timeout)
    except MIReplyError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    except MIClientError as exc:
        print(f"opensips-py mi: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=4))
    return 0
