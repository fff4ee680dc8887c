"""Helpers: a minimal stand-in for the proxy core (only what the MI modules look at: `modules`, `mi`), and
a runner that serves httpd + mi_http (+ mi_fifo) with trio on loopback while a test body runs."""
from __future__ import annotations

from typing import Any, Awaitable, Callable

import trio

from opensips_py.mi import MIHost, build_registry
from opensips_py.modules.httpd import Module as Httpd
from opensips_py.modules.mi_fifo import Module as MiFifo
from opensips_py.modules.mi_http import Module as MiHttp


class Core:
    """What a loaded config gives the modules: instances by name, and the MI registry."""

    def __init__(self) -> None:
        self.modules: dict[str, Any] = {}
        self.mi = None


def load(core: Core, module_class, **params) -> Any:
    module = module_class(core, {name: [value] for name, value in params.items()})
    core.modules[module.exports.name] = module
    return module


def serve_mi(body: Callable[[dict], Awaitable[None]], fifo_path: str | None = None,
             reply_dir: str | None = None, host: MIHost | None = None, **httpd_params) -> None:
    """Load httpd (port 0 = any free port) + mi_http (+ mi_fifo), serve them, run `body(info)` with
    info = {"url": …, "core": …}, then shut down."""
    core = Core()
    load(core, Httpd, ip="127.0.0.1", port=0, **httpd_params)
    load(core, MiHttp)
    if fifo_path:
        load(core, MiFifo, fifo_name=fifo_path, reply_dir=reply_dir or "/tmp/")
    for module in core.modules.values():
        module.init()
    core.mi = build_registry(host or MIHost(), core.modules.values())

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            bound = await nursery.start(core.modules["httpd"].serve)
            if fifo_path:
                await nursery.start(core.modules["mi_fifo"].serve)
            host_ip, port = bound[0]
            with trio.fail_after(60):
                await body({"url": f"http://{host_ip}:{port}/mi", "port": port, "core": core})
            nursery.cancel_scope.cancel()

    trio.run(main)
