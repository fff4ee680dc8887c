"""What the core reads from a config's global section: the listening sockets and the core parameters it honours.

OpenSIPS keeps these in C globals set by the config parser (cfg.y) and the command line (`-l`). Here they are
one `CoreSettings` value built once at start-up from the AST, so the rest of the runtime never looks at the
AST's global parameters again.

Sockets: `socket=`/`listen=` lines and each `-l` option give one ListenSocket per port (`udp:host:5060-5062`
gives three). A host name is resolved once, here; `*` listens on every address (0.0.0.0) and writes the
host's primary address in Via unless an `as` address is given. Without any socket we listen on udp:*:5060,
as OpenSIPS listens on every interface when no socket is given.
"""
from __future__ import annotations

import re
import socket as _socket
from dataclasses import dataclass, field
from typing import Iterable

from opensips_py.config import ast
from opensips_py.script.context import ListenSocket

DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "sctp": 5060, "tls": 5061, "ws": 80, "wss": 443}
# Protocols the live host can serve today; the others are refused at start-up with a clear message.
SERVED_PROTOCOLS = ("udp", "tcp", "tls", "ws", "wss")
# The proto module parameter giving the port of a socket declared without one (proto_tls's tls_port…).
PORT_PARAMS = {"udp": ("proto_udp", "udp_port"), "tcp": ("proto_tcp", "tcp_port"), "tls": ("proto_tls", "tls_port"),
               "ws": ("proto_ws", "ws_port"), "wss": ("proto_wss", "wss_port")}
# Sockets whose connections need tls_mgm's certificates.
SECURE_PROTOCOLS = ("tls", "wss")

_SOCKET_TEXT_RE = re.compile(r"^(?:(?P<proto>[a-z_]+):)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)"
                             r"(?::(?P<ports>[0-9,\-]+))?$")


class SettingsError(Exception):
    """A global setting we cannot run with (bad socket, unresolvable host, unsupported protocol)."""


@dataclass
class Alias:
    """An `alias=` entry: another name of this server (proto None = any; port None = any)."""

    proto: str | None
    host: str
    port: int | None


@dataclass
class CoreSettings:
    """The core's view of the global parameters (defaults are OpenSIPS's)."""

    sockets: list[ListenSocket] = field(default_factory=list)
    aliases: list[Alias] = field(default_factory=list)
    log_level: int = 2
    udp_workers: int | None = None  # accepted; we run one process
    tcp_workers: int | None = None
    tcp_connection_lifetime: int = 120  # seconds of idle time before a TCP connection is closed
    tcp_max_connections: int = 2048
    tcp_connect_timeout: int = 100  # milliseconds
    tcp_socket_backlog: int = 10
    max_while_loops: int = 10000
    advertised_address: str | None = None
    advertised_port: int | None = None
    disable_stateless_fwd: bool = False
    server_signature: bool = True
    server_header: str | None = None
    db_default_url: str | None = None  # the db_url of every module that leaves its own unset (init_db_url)
    notes: list[str] = field(default_factory=list)  # start-up remarks for the log (workers, defaults)


def _value(param: ast.GlobalParam):
    value = param.value
    if isinstance(value, (ast.Int, ast.Str, ast.FoldedStr)):
        return value.value
    if isinstance(value, ast.Word):
        return value.name
    if isinstance(value, ast.IPLiteral):
        return value.text
    if value is None and param.items:
        return param.items[0][0]
    return value


def _int(param: ast.GlobalParam) -> int:
    value = _value(param)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{param.pos.file}:{param.pos.line}: {param.name} needs an integer, "
                            f"not {value!r}") from exc


def resolve_listen_host(host: str) -> tuple[str, str | None]:
    """(IP to bind, name it came from or None). `*` is 0.0.0.0; a name is resolved once (IPv4 first)."""
    host = host.strip('"')
    if host == "*":
        return "0.0.0.0", None
    if host.startswith("["):
        return host[1:-1], None
    try:
        _socket.inet_pton(_socket.AF_INET, host)
        return host, None
    except OSError:
        pass
    try:
        _socket.inet_pton(_socket.AF_INET6, host)
        return host, None
    except OSError:
        pass
    try:
        infos = _socket.getaddrinfo(host, None, type=_socket.SOCK_DGRAM)
    except OSError as exc:
        raise SettingsError(f"cannot resolve listen address {host!r}: {exc}") from exc
    infos.sort(key=lambda info: info[0] != _socket.AF_INET)
    return infos[0][4][0], host


def _expand_ports(ports: str | None, proto: str, default_ports: dict[str, int] | None = None) -> list[int]:
    if not ports:
        return [(default_ports or DEFAULT_PORTS).get(proto, 5060)]
    out: list[int] = []
    for part in ports.split(","):
        low, _, high = part.partition("-")
        first, last = int(low), int(high or low)
        if not 0 <= first <= last <= 65535 or last - first > 1000:
            raise SettingsError(f"bad port range {part!r}")
        out.extend(range(first, last + 1))
    return out


def _split_hostport(text: str) -> tuple[str, int | None]:
    """'1.2.3.4:5080' / '[::1]:5080' / 'host' -> (host, port)."""
    if text.startswith("["):
        end = text.find("]")
        host, rest = text[1:end], text[end + 1:]
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return text, None


def sockets_from_def(proto: str | None, host: str, ports: str | None,
                     options: Iterable[tuple[str, str | None]] = (),
                     default_ports: dict[str, int] | None = None) -> list[ListenSocket]:
    """ListenSockets for one `socket=` definition (one per port; `default_ports` for a definition without)."""
    proto = (proto or "udp").lower()
    bind_host, _name = resolve_listen_host(host)
    advertised_host = advertised_port = None
    tag = None
    for option, value in options:
        if option in ("as", "advertise") and value:
            advertised_host, advertised_port = _split_hostport(value.strip('"'))
        elif option == "tag" and value:
            tag = value
    if bind_host == "0.0.0.0" and advertised_host is None:
        advertised_host = primary_address()
    return [ListenSocket(proto, bind_host, port, advertised_host, advertised_port, tag)
            for port in _expand_ports(ports, proto, default_ports)]


def sockets_from_text(text: str, default_ports: dict[str, int] | None = None) -> list[ListenSocket]:
    """A `-l` option: `[proto:]host[:port]` (OpenSIPS's command-line socket syntax)."""
    match = _SOCKET_TEXT_RE.match(text.strip())
    if match is None:
        raise SettingsError(f"bad socket {text!r}: write [proto:]host[:port], e.g. udp:127.0.0.1:5060")
    return sockets_from_def(match.group("proto"), match.group("host"), match.group("ports"),
                            default_ports=default_ports)


def default_ports(config: ast.Config) -> dict[str, int]:
    """The port of each protocol's sockets declared without one: OpenSIPS's default, or the proto module's
    `<proto>_port` modparam (modparam's module name is a regex over the module names, as in modparam.c)."""
    ports = dict(DEFAULT_PORTS)
    for stmt in config.statements:
        if not isinstance(stmt, ast.ModParam) or not isinstance(stmt.value, ast.Int):
            continue
        for proto, (module, param) in PORT_PARAMS.items():
            if stmt.param.value != param:
                continue
            try:
                if re.fullmatch(stmt.module.value, module, re.IGNORECASE):
                    ports[proto] = stmt.value.value
            except re.error:
                continue
    return ports


def _loaded(config: ast.Config) -> set[str]:
    return {stmt.module for stmt in config.statements if isinstance(stmt, ast.LoadModule)}


def primary_address() -> str:
    """The address other hosts most likely reach us on (what `*` sockets advertise)."""
    probe = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent by connect() on UDP
        return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


def _aliases(param: ast.GlobalParam) -> list[Alias]:
    """`alias = [proto:]host[:port] …`: the tokens of one entry touch each other, entries are apart."""
    entries: list[str] = []
    last_end: tuple[int, int] | None = None
    for text, _kind, (line, column) in param.items:
        if last_end == (line, column) and entries:
            entries[-1] += text
        else:
            entries.append(text)
        last_end = (line, column + len(text))
    out = []
    for entry in entries:
        if entry == "accept_subdomain":
            continue
        match = _SOCKET_TEXT_RE.match(entry.strip('"'))
        if match is None:
            continue
        proto = match.group("proto")
        ports = match.group("ports")
        out.append(Alias(None if proto in (None, "any") else proto, match.group("host").strip("[]").lower(),
                         int(ports) if ports and ports.isdigit() else None))
    return out


def read_settings(config: ast.Config, extra_sockets: Iterable[str] = ()) -> CoreSettings:
    """Build the settings from the config's global parameters plus the command line's `-l` sockets."""
    settings = CoreSettings()
    ports = default_ports(config)
    for stmt in config.statements:
        if not isinstance(stmt, ast.GlobalParam):
            continue
        name = stmt.name
        if name in ("socket", "listen") and isinstance(stmt.value, ast.SocketDef):
            sock = stmt.value
            try:
                settings.sockets.extend(sockets_from_def(sock.proto, sock.host, sock.ports, sock.options, ports))
            except (SettingsError, ValueError) as exc:
                raise SettingsError(f"{stmt.pos.file}:{stmt.pos.line}: {exc}") from exc
        elif name == "alias":
            settings.aliases.extend(_aliases(stmt))
        elif name in ("log_level", "debug"):
            settings.log_level = _int(stmt)
        elif name in ("udp_workers", "children"):
            settings.udp_workers = _int(stmt)
        elif name in ("tcp_workers", "tcp_children"):
            settings.tcp_workers = _int(stmt)
        elif name == "tcp_connection_lifetime":
            settings.tcp_connection_lifetime = _int(stmt)
        elif name == "tcp_max_connections":
            settings.tcp_max_connections = _int(stmt)
        elif name == "tcp_connect_timeout":
            settings.tcp_connect_timeout = _int(stmt)
        elif name in ("tcp_socket_backlog", "tcp_listen_backlog"):
            settings.tcp_socket_backlog = _int(stmt)
        elif name == "max_while_loops":
            settings.max_while_loops = _int(stmt)
        elif name == "advertised_address":
            settings.advertised_address = str(_value(stmt))
        elif name == "advertised_port":
            settings.advertised_port = _int(stmt)
        elif name == "disable_stateless_fwd":
            settings.disable_stateless_fwd = bool(_int(stmt))
        elif name == "server_signature":
            settings.server_signature = bool(_int(stmt))
        elif name == "server_header":
            settings.server_header = str(_value(stmt))
        elif name == "db_default_url":
            settings.db_default_url = str(_value(stmt))
    for text in extra_sockets:
        settings.sockets.extend(sockets_from_text(text, ports))
    if not settings.sockets:
        settings.sockets.extend(sockets_from_def("udp", "*", None))
        settings.notes.append("no socket defined: listening on udp:*:5060, as OpenSIPS does")
    unserved = sorted({s.proto for s in settings.sockets if s.proto not in SERVED_PROTOCOLS})
    if unserved:
        raise SettingsError("sockets of protocol " + ", ".join(unserved) + " are not served by opensips-py yet "
                            "(" + ", ".join(SERVED_PROTOCOLS) + " are)")
    secure = [s for s in settings.sockets if s.proto in SECURE_PROTOCOLS]
    if secure and "tls_mgm" not in _loaded(config):
        raise SettingsError(f"socket {secure[0]} needs TLS certificates: load tls_mgm (loadmodule \"tls_mgm.so\" "
                            "and \"tls_openssl.so\") and declare a server_domain")
    if settings.advertised_address or settings.advertised_port:
        settings.sockets = [ListenSocket(s.proto, s.host, s.port,
                                         s.advertised_host or settings.advertised_address,
                                         s.advertised_port or settings.advertised_port, s.tag)
                            for s in settings.sockets]
    # The same proto:host:port twice (a socket= line and a -l option, say) is one listener: OpenSIPS keeps the
    # first and drops the rest quietly (socket_info.c fix_socket_list).
    unique: dict[tuple[str, str, int], ListenSocket] = {}
    for s in settings.sockets:
        unique.setdefault((s.proto, s.host, s.port), s)
    settings.sockets = list(unique.values())
    return settings
