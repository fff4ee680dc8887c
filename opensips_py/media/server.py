"""The relay process's event loop: ng listeners, media sockets and the 1 s timer on uvloop.

Control plane and media share one uvloop loop in one process: the ng port is read with ``add_reader``
like the media sockets, so an offer binds its ports and answers in one synchronous step, and packets
never wait behind anything slower than one ng command. `serve` runs until SIGTERM/SIGINT or until the
returned stop callback is called, then closes every socket it opened.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import socket

from opensips_py.media.control import MediaRelay, RelayConfig
from opensips_py.media.relay import SocketLayer

log = logging.getLogger("opensips_py.media")

NG_BATCH = 32


def parse_listen(spec: str) -> tuple[str, int]:
    """rtpengine's ``--listen-ng=[ADDR:]PORT`` (IPv6 as ``[::1]:PORT``)."""
    text = spec.strip()
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    elif text.isdigit():
        host, port = "127.0.0.1", text
    else:
        raise ValueError(f"bad --listen-ng {spec!r}")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad port in --listen-ng {spec!r}")
    return host or "0.0.0.0", int(port)


class NgListener:
    """One UDP ng port: datagrams in, replies back to their source."""

    def __init__(self, relay: MediaRelay, sock: socket.socket) -> None:
        self.relay = relay
        self.sock = sock

    def on_readable(self) -> None:
        for _ in range(NG_BATCH):
            try:
                datagram, source = self.sock.recvfrom(65_535)
            except BlockingIOError:
                return
            except OSError:
                continue
            reply = self.relay.handle_datagram(datagram, source[:2])
            if reply is not None:
                try:
                    self.sock.sendto(reply, source)
                except OSError as error:
                    log.warning("cannot send ng reply to %s: %s", source, error)


def bind_ng(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((host, port))
    return sock


async def serve(config: RelayConfig, listen: list[tuple[str, int]],
                started: asyncio.Future | None = None) -> None:
    """Run the relay until a stop signal; `started` (if given) gets the bound ng addresses."""
    loop = asyncio.get_running_loop()
    sockets = SocketLayer(loop)
    relay = MediaRelay(config, sockets)
    stop = asyncio.Event()
    listeners: list[NgListener] = []
    try:
        for host, port in listen:
            sock = bind_ng(host, port)
            listener = NgListener(relay, sock)
            loop.add_reader(sock.fileno(), listener.on_readable)
            listeners.append(listener)
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        ticker = Ticker(loop, relay)
        addresses = [listener.sock.getsockname()[:2] for listener in listeners]
        log.info("rtpengine-compatible relay listening on %s",
                 ", ".join(f"{h}:{p}" for h, p in addresses))
        if started is not None and not started.done():
            started.set_result(addresses)
        await stop.wait()
        ticker.cancel()
    finally:
        for listener in listeners:
            loop.remove_reader(listener.sock.fileno())
            listener.sock.close()
        relay.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass


class Ticker:
    """Calls `relay.tick()` once a second until cancelled."""

    def __init__(self, loop: asyncio.AbstractEventLoop, relay: MediaRelay) -> None:
        self.loop = loop
        self.relay = relay
        self.handle = loop.call_later(1.0, self._run)

    def _run(self) -> None:
        try:
            self.relay.tick()
        except Exception:  # the timer must keep running whatever one pass hits
            log.exception("relay timer pass failed")
        self.handle = self.loop.call_later(1.0, self._run)

    def cancel(self) -> None:
        self.handle.cancel()


def run(config: RelayConfig, listen: list[tuple[str, int]]) -> None:
    """Run `serve` on uvloop (the media hot path's loop)."""
    import uvloop

    uvloop.run(serve(config, listen))
