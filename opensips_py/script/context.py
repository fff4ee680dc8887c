"""What one run of the script sees: the message, the routing state OpenSIPS keeps beside it, and the process.

`MsgContext` is the `struct sip_msg` + action context of OpenSIPS for one message (or one startup/timer/event
run, with a dummy message): the received message, the new Request-URI, `$du`, flags, branches, AVPs, the send
socket, the return code of the last action and the route stack. Edits to the message itself go to
`msg.lumps` (opensips_py.sip): reads keep seeing the message as received, as in OpenSIPS.

`Process` is what lives longer than a message inside one worker: `$var` values (per process, never reset
between messages — the classic OpenSIPS trap), the script, the module instances, the clock, the outbox.

Values in the script are `int`, `str` or `None` (null), as OpenSIPS's pv_value_t (int, str or null flags).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Union

from opensips_py.modules.exports import RouteType

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.sip import Request, Response

Value = Union[int, str, None]


# ------------------------------------------------------------------------------------------------ sockets

@dataclass(frozen=True)
class ListenSocket:
    """A `socket =` line: where we listen, and what we put in Via/Record-Route (the `as` address)."""

    proto: str  # udp tcp tls ws wss sctp
    host: str
    port: int
    advertised_host: str | None = None
    advertised_port: int | None = None
    tag: str | None = None

    @property
    def via_host(self) -> str:
        return self.advertised_host or self.host

    @property
    def via_port(self) -> int:
        return self.advertised_port or self.port

    def __str__(self) -> str:
        return f"{self.proto}:{self.host}:{self.port}"


@dataclass(frozen=True)
class ReceiveInfo:
    """How a message arrived: the socket, the peer, and (for TCP/TLS/WS) the connection it came on."""

    socket: ListenSocket
    src_host: str
    src_port: int
    proto: str
    connection_id: int | None = None
    time: float = 0.0


# ------------------------------------------------------------------------------------------------ outputs

@dataclass(frozen=True)
class Send:
    """Bytes to send: over `socket` to (host, port) with `proto`; on a connection when `connection_id` is set
    (replies and requests towards a peer that reached us over TCP/TLS/WS reuse its connection)."""

    data: bytes
    proto: str
    host: str
    port: int
    socket: ListenSocket | None = None
    connection_id: int | None = None


# ------------------------------------------------------------------------------------------------ branches

@dataclass
class Branch:
    """One entry of the destination set (OpenSIPS `struct branch`): added by append_branch(), lookup()…"""

    uri: str
    dst_uri: str | None = None
    path: str | None = None
    q: int | None = None  # q * 1000, None = unset
    flags: set[str] = field(default_factory=set)
    socket: ListenSocket | None = None
    attrs: dict[str, Value] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ control flow

# Truth values of conditions: OpenSIPS evaluates them to >0 (true), <0 (false); a comparison that fails
# (type mismatch, bad regex) is an error that is false both ways: `X` and `!X` are both false.
TRUE, FALSE, ERROR = 1, -1, -2


class ScriptError(Exception):
    """A runtime error of the script (division by zero, a bad value): logged, the action returns -1."""


# ------------------------------------------------------------------------------------------------ the process

@dataclass
class Process:
    """One worker's long-lived state. `vars` are the `$var(...)` values of this process."""

    vars: dict[str, Value] = field(default_factory=dict)
    shvars: dict[str, Value] = field(default_factory=dict)  # $shv: shared (one process here anyway)
    clock: Callable[[], float] = field(default=lambda: 0.0)
    outbox: list[Send] = field(default_factory=list)
    log: Callable[[int, str], None] = field(default=lambda level, text: None)
    core: Any = None  # the proxy core (opensips_py.runtime): sockets, modules, timers, script
    log_level: int = 2  # $log_level: the current level (scripts may change it)
    default_log_level: int = 2  # the configured level, restored by `$log_level = NULL`


# ------------------------------------------------------------------------------------------------ one message

@dataclass
class MsgContext:
    """The script's view of one message (OpenSIPS's sip_msg plus the action context)."""

    msg: "Request | Response | None"
    route_type: RouteType
    process: Process
    received: ReceiveInfo | None = None

    # routing state (request side)
    new_uri: str | None = None  # the rewritten R-URI ($ru after seturi/$ru=…), None = unchanged
    dst_uri: str | None = None  # $du
    path: str | None = None
    ruri_q: int | None = None
    force_socket: ListenSocket | None = None  # $socket_out / force_send_socket()
    flags: set[str] = field(default_factory=set)  # message flags, by name
    branch_flags: set[str] = field(default_factory=set)  # flags of branch 0 (the R-URI branch)
    branches: list[Branch] = field(default_factory=list)  # additional branches
    avps: dict[str, list[Value]] = field(default_factory=dict)  # newest first

    # script execution state
    retcode: int = 1  # $rc / $retcode
    exit: bool = False  # exit, drop, or a 0 return code: stop everything
    drop: bool = False  # drop: also discard (branch/provisional reply)
    returning: bool = False  # a return statement is unwinding the current route
    breaking: bool = False  # a break statement is unwinding to its switch/while/for
    route_params: list[Value] = field(default_factory=list)  # $param(1..n) of the current route
    route_stack: list[str] = field(default_factory=list)
    return_values: list[Value] = field(default_factory=list)  # $return(i) (3.6)

    # what modules keep per message (tm's transaction, dialog's dlg, rr's params…), by module name
    module_state: dict[str, Any] = field(default_factory=dict)
    # set by a reply/failure route to reach the request ($(<request>…)) or the reply ($(<reply>…))
    request: "Request | None" = None
    reply: "Response | None" = None

    @property
    def vars(self) -> dict[str, Value]:
        return self.process.vars

    @property
    def now(self) -> float:
        return self.process.clock()

    @property
    def is_request(self) -> bool:
        return self.msg is not None and self.msg.is_request

    def ruri(self) -> str:
        """The current Request-URI ($ru): the rewritten one if any, else the received one."""
        if self.new_uri is not None:
            return self.new_uri
        if self.msg is not None and self.msg.is_request:
            return self.msg.ruri_text
        return ""

    def dset_contact(self) -> str | None:
        """The Contact header of a 3xx built from the destination set (dset.c print_dset): the new R-URI,
        then every branch, each with its q; None when the set is empty. sl and tm redirects both use it."""
        uris: list[str] = []
        if self.new_uri is not None:
            q = f";q={self.ruri_q / 1000:g}" if self.ruri_q is not None else ""
            uris.append(f"<{self.new_uri}>{q}")
        for branch in self.branches:
            q = f";q={branch.q / 1000:g}" if branch.q is not None else ""
            uris.append(f"<{branch.uri}>{q}")
        return "Contact: " + ", ".join(uris) if uris else None

    def send(self, output: Send) -> None:
        self.process.outbox.append(output)

    def log(self, level: int, text: str) -> None:
        self.process.log(level, text)
