"""rtpproxy_sock: sets of rtpproxy nodes, their weights, the node a call goes to (OpenSIPS's rtpp_set,
rtpp_node, add_rtpproxy_socks, select_rtpp_node).

Each `rtpproxy_sock` value is ``"[<set_id> ==] <url>[=<weight>][|<advertised address>] …"``; without ``==``
the nodes join the default set (`default_set`, 0). A URL is ``udp:host[:port]``, ``udp6:host[:port]``,
``tcp:…``, ``tcp6:…``, ``unix:/path``, ``cunix:/path`` (a bare path is a unix socket); the port defaults to
22222. Values naming the same set add to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_PORT = 22222
DISABLED_FOREVER = 0xFFFFFFFF  # MI_MAX_RECHECK_TICKS


class SockParamError(ValueError):
    """A malformed rtpproxy_sock value (OpenSIPS refuses to start)."""


@dataclass(eq=False)
class Node:
    """One rtpproxy (struct rtpp_node). `recheck_ticks` is in seconds of uptime, like OpenSIPS's ticks."""

    url: str
    index: int
    weight: int = 1
    advertised: str | None = None
    disabled: bool = False
    recheck_ticks: int = 0
    caps: set[str] = field(default_factory=set)

    @property
    def mode(self) -> str:
        """udp, udp6, tcp, tcp6, unix or cunix (rn_umode)."""
        lower = self.url.lower()
        for scheme in ("udp6", "udp", "tcp6", "tcp", "cunix", "unix"):
            if lower.startswith(scheme + ":"):
                return scheme
        return "unix"

    @property
    def address(self) -> str:
        lower = self.url.lower()
        for scheme in ("udp6:", "udp:", "tcp6:", "tcp:", "cunix:", "unix:"):
            if lower.startswith(scheme):
                return self.url[len(scheme):]
        return self.url

    @property
    def is_stream(self) -> bool:
        """CM_STREAM: tcp, tcp6 and cunix keep a connection and end commands with a newline."""
        return self.mode in ("tcp", "tcp6", "cunix")

    def host_port(self) -> tuple[str, int]:
        text = self.address
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        elif self.mode in ("udp6", "tcp6") and text.count(":") > 1:
            host, port = text, ""
        else:
            host, sep, port = text.rpartition(":")
            if not sep:
                host, port = text, ""
        try:
            return host, int(port) if port else DEFAULT_PORT
        except ValueError:
            raise SockParamError(f"bad port in rtpproxy URL {self.url}") from None


@dataclass(eq=False)
class NodeSet:
    set_id: int
    nodes: list[Node] = field(default_factory=list)


class Sets:
    """Every set, in the order they were first named."""

    def __init__(self) -> None:
        self.sets: list[NodeSet] = []
        self.count = 0  # node indexes run over all sets (rtpp_no)

    def get(self, set_id: int) -> NodeSet | None:
        for node_set in self.sets:
            if node_set.set_id == set_id:
                return node_set
        return None

    def nodes(self) -> list[Node]:
        return [n for s in self.sets for n in s.nodes]

    def add_value(self, value: str, default_set: int) -> None:
        """rtpproxy_add_rtpproxy_set(): one modparam value."""
        text = value.strip()
        if not text:
            return
        set_id = default_set
        if "==" in text:
            head, _, text = text.partition("==")
            try:
                set_id = int(head.strip())
            except ValueError:
                raise SockParamError(f"script error -invalid set_id value! ({value!r})") from None
            text = text.strip()
            if not text:
                raise SockParamError(f"script error -empty rtp_proxy list ({value!r})")
        node_set = self.get(set_id)
        if node_set is None:
            node_set = NodeSet(set_id)
            self.sets.append(node_set)
        for token in text.split():
            url, weight = token, 1
            if "=" in token:
                url, _, weight_text = token.partition("=")
                digits = ""
                for char in weight_text:
                    if not char.isdigit():
                        break
                    digits += char
                weight = int(digits) if digits else 0  # strtoul
            advertised = None
            if "|" in url:
                url, _, advertised = url.rpartition("|")
                url, advertised = url.strip(), advertised.strip() or None
            node_set.nodes.append(Node(url, self.count, weight, advertised))
            self.count += 1


def pick_by_callid(call_id: str, nodes: list[Node]) -> Node | None:
    """The weighted choice of select_rtpp_node(): the Call-ID's bytes summed (mod 256), taken modulo the
    total weight; when that node is down, the same sum over the weights of the nodes that are up."""
    total = sum(n.weight for n in nodes)
    up = sum(n.weight for n in nodes if not n.disabled)
    if not up:
        return None
    value = sum(call_id.encode("utf-8", "surrogateescape")) & 0xFF
    sumcut = value % total if total else -1
    forced = False
    i = 0
    for _ in range(4 * len(nodes) + 4):  # bounded walk: at most two passes over the list
        if i >= len(nodes):
            return None
        node = nodes[i]
        if sumcut < node.weight:
            if not node.disabled:
                return node
            if not forced:
                sumcut = value % up
                i, forced = 0, True
                continue
        if not node.disabled or not forced:
            sumcut -= node.weight
        i += 1
    return None
