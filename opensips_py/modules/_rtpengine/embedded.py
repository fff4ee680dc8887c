"""`opensips-py -f`: our relay started where the config's rtpengine_sock points and nothing answers.

The CLI calls `start_embedded_relays(core)` after building the proxy core and before serving (unless
`--no-embedded-relay`), and `stop_embedded_relays()` on the way out. For every UDP node of the rtpengine
module whose address is one of this machine's and where no ng ping is answered, the relay
(opensips_py.media, a separate process) is started on that address and the proxy says so in its log.

The relay's media interface: the address of the proxy's first SIP socket bound to a specific address (with
its `as` address written into SDP), else the rtpengine_sock address itself. Extra relay options (port
range, timeouts) come from the environment variable OPENSIPS_PY_RELAY_ARGS, e.g.
``OPENSIPS_PY_RELAY_ARGS="--port-min=40000 --port-max=40999"``.
"""
from __future__ import annotations

import ipaddress
import os
import shlex
import socket
from typing import Any

RELAY_ARGS_ENV = "OPENSIPS_PY_RELAY_ARGS"


def is_local_address(host: str) -> bool:
    """True when `host` (a name or an IP) resolves to an address this machine can bind."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except OSError:
        return False
    for family, _type, _proto, _name, address in infos:
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.bind((address[0], 0))
            return True
        except OSError:
            continue
    return False


def _resolve(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)[0][4][0]


def media_interfaces(core: Any, ng_host: str) -> list[str]:
    """The relay's `--interface` values (see the module docstring)."""
    for sock in getattr(core, "sockets", ()):
        if sock.host in ("0.0.0.0", "::", "*") or sock.proto not in ("udp", "tcp", "tls", "ws", "wss"):
            continue
        try:
            address = str(ipaddress.ip_address(sock.host.strip("[]")))
        except ValueError:
            continue
        if sock.advertised_host:
            return [f"{address}!{sock.advertised_host.strip('[]')}"]
        return [address]
    return [ng_host]


def start_embedded_relays(core: Any) -> list:
    """Start a relay on each local rtpengine_sock address where nothing answers ping; returns the handles
    (also kept by the module, whose destroy() stops them)."""
    module = getattr(core, "modules", {}).get("rtpengine")
    if module is None:
        return []
    from opensips_py.media.embedded import EmbeddedRelayError, relay_answers_ping, start_embedded_relay

    handles = []
    done: set[tuple[str, int]] = set()
    extra = shlex.split(os.environ.get(RELAY_ARGS_ENV, ""))
    for node in module.sets.all_nodes():
        if node.kind == "unix":
            continue
        host, port = node.host_port()
        try:
            address = (_resolve(host), port)
        except (OSError, IndexError):
            continue
        if address in done or not is_local_address(address[0]):
            continue
        done.add(address)
        if relay_answers_ping(address):
            continue
        interfaces = media_interfaces(core, address[0])
        try:
            handle = start_embedded_relay(address, interfaces=interfaces, extra_args=extra)
        except EmbeddedRelayError as exc:
            core.logger.error(f"nothing answers ping on {node.url} and the embedded relay could not start "
                              f"there: {exc}", module="rtpengine")
            continue
        core.logger.notice(f"nothing answered ping on {node.url}: started the embedded media relay there "
                           f"(pid {handle.pid}, media on {', '.join(interfaces)})", module="rtpengine")
        handles.append(handle)
        module.relays.append(handle)
    return handles


def stop_embedded_relays(handles: list) -> None:
    for handle in handles:
        handle.stop()
