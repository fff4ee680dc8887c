"""rtpengine_sock: sets of nodes, their weights, the node a call goes to, and which nodes are out.

`rtpengine_sock` may be set several times; each value is ``"[<setid> ==] <url>[=<weight>] <url>…"``
(no ``==``: set 0, the default set). A URL is ``udp:host:port``, ``udp6:[v6]:port``, ``udp:[v6]:port`` or
``unix:/path`` (a bare path is a unix stream socket too); the port defaults to 22222. The same URL twice in
a set is ignored, and, as in the C (add_rtpengine_socks returns there), so is the rest of that value.

Node choice (select_rtpe_node): a set with one node uses it while it is up. Otherwise the Call-ID's bytes
are summed, masked to 0..255, and taken modulo the total weight of the set; the nodes are walked
subtracting weights until the pick falls inside one. When that node is out, the pick is redone once over
the nodes still up. So the same Call-ID goes to the same node while the set's health does not change.

A node that does not answer is disabled until `recheck_at` (now + rtpengine_disable_tout); the module's
timer pings it again then (rtpengine_timer). MI `rtpengine_enable` can disable a node for ever
(`recheck_at = inf`), enable it, or mark it for a probe.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

DEFAULT_SET = 0
DEFAULT_PORT = 22222


class SockParamError(ValueError):
    """A malformed rtpengine_sock value (OpenSIPS refuses to start)."""


@dataclass(eq=False)
class Node:
    """One rtpengine (OpenSIPS's struct rtpe_node)."""

    url: str
    set_id: int
    index: int
    weight: int = 1
    disabled: bool = False
    recheck_at: float = 0.0  # when a disabled node may be probed again; inf: disabled by MI for ever
    last_used: float = 0.0  # the last time it answered (ping_enabled pings idle nodes)
    teardown: bool = False  # soft reload: not (yet) seen again in the database

    @property
    def kind(self) -> str:
        """"udp", "udp6" or "unix"."""
        lower = self.url.lower()
        if lower.startswith("udp6:"):
            return "udp6"
        if lower.startswith("udp:"):
            return "udp6" if self.url[4:5] == "[" else "udp"
        return "unix"

    @property
    def address(self) -> str:
        """The URL without its scheme."""
        lower = self.url.lower()
        for scheme in ("udp6:", "udp:", "unix:"):
            if lower.startswith(scheme):
                return self.url[len(scheme):]
        return self.url

    def host_port(self) -> tuple[str, int]:
        """(host, port) of a UDP node; the port defaults to 22222 (rtpengine_connect_node)."""
        text = self.address
        if self.kind == "udp6":
            if text.startswith("["):
                host, _, rest = text[1:].partition("]")
                port = rest[1:] if rest.startswith(":") else ""
            else:
                host, port = text, ""
        else:
            host, sep, port = text.rpartition(":")
            if not sep:
                host, port = text, ""
        try:
            return host, int(port) if port else DEFAULT_PORT
        except ValueError:
            raise SockParamError(f"bad port in rtpengine URL {self.url}") from None


@dataclass
class NodeSet:
    """One set of nodes (struct rtpe_set)."""

    set_id: int
    nodes: list[Node] = field(default_factory=list)
    teardown: bool = False

    def find(self, url: str) -> Node | None:
        for node in self.nodes:
            if node.url == url:
                return node
        return None


class NodeSets:
    """Every set, in the order the configuration created them."""

    def __init__(self) -> None:
        self.sets: dict[int, NodeSet] = {}
        self._next_index = 0

    def __iter__(self):
        return iter(self.sets.values())

    def get(self, set_id: int) -> NodeSet | None:
        return self.sets.get(set_id)

    @property
    def default(self) -> NodeSet | None:
        return self.sets.get(DEFAULT_SET)

    def all_nodes(self) -> list[Node]:
        return [node for node_set in self.sets.values() for node in node_set.nodes]

    def add_param(self, value: str, set_id: int | None = None) -> None:
        """One rtpengine_sock value (rtpengine_add_rtpengine_set)."""
        text = value.strip()
        if not text:
            return
        if set_id is None:
            head, sep, rest = text.partition("==")
            if sep:
                if not rest:
                    raise SockParamError("invalid rtp proxy list")
                try:
                    set_id = int(head.strip())
                except ValueError:
                    raise SockParamError(f"invalid set_id value {head.strip()!r}") from None
                if set_id < 0 or not head.strip().isdigit():
                    raise SockParamError(f"invalid set_id value {head.strip()!r}")
                text = rest
            else:
                set_id = DEFAULT_SET
        text = text.strip()
        if not text:
            raise SockParamError("empty rtpengine list")
        node_set = self.sets.get(set_id)
        if node_set is None:
            node_set = self.sets[set_id] = NodeSet(set_id)
        node_set.teardown = False
        for word in text.split():
            url, sep, weight_text = word.partition("=")
            weight = _strtoul(weight_text) if sep else 1
            known = node_set.find(url)
            if known is not None:
                known.teardown = False  # a soft reload keeps it, with its state
                return  # the C stops reading this value at a node it already has
            node = Node(url, set_id, self._next_index, weight)
            node.host_port() if node.kind != "unix" else None  # refuse a bad port at start-up
            self._next_index += 1
            node_set.nodes.append(node)


    def mark_teardown(self) -> None:
        """Soft reload, before reading the database again: everything is to go unless seen again."""
        for node_set in self.sets.values():
            node_set.teardown = True
            for node in node_set.nodes:
                node.teardown = True

    def sweep_teardown(self) -> None:
        """Soft reload, after reading: drop the sets and nodes the database no longer has."""
        for set_id in [i for i, node_set in self.sets.items() if node_set.teardown]:
            del self.sets[set_id]
        for node_set in self.sets.values():
            node_set.nodes = [node for node in node_set.nodes if not node.teardown]


def _strtoul(text: str) -> int:
    digits = len(text) - len(text.lstrip("0123456789"))
    return int(text[:digits]) if digits else 0


def call_id_hash(call_id: str) -> int:
    """The sum of the Call-ID's bytes, masked to 0..255 (the same as the C's signed-char sum mod 256)."""
    return sum(call_id.encode("utf-8", "surrogateescape")) & 0xFF


def select_node(call_id: str, node_set: NodeSet | None, ignored: set[int] | frozenset = frozenset()) -> Node | None:
    """The node for this Call-ID (select_rtpe_node); None when none is usable. `ignored`: ids of nodes
    skipped for this attempt only (they answered with a fail-over error)."""
    if node_set is None or not node_set.nodes:
        return None
    nodes = node_set.nodes
    if len(nodes) == 1:
        node = nodes[0]
        return None if node.disabled or id(node) in ignored else node
    pick = call_id_hash(call_id)
    total = sum(node.weight for node in nodes)
    usable = sum(node.weight for node in nodes if not node.disabled and id(node) not in ignored)
    if not any(not node.disabled and id(node) not in ignored for node in nodes):
        return None
    if total <= 0:
        return None
    cut = pick % total if usable else -1
    forced = False
    i = 0
    for _ in range(4 * len(nodes) + 4):  # bounded: at most two passes over the set
        if i >= len(nodes):
            break
        node = nodes[i]
        if cut < node.weight:
            if not node.disabled and id(node) not in ignored:
                return node
            if not forced:  # the picked node is out: redistribute over the nodes still up
                cut = pick % usable if usable else -1
                i = 0
                forced = True
                continue
        if not node.disabled or not forced:
            cut -= node.weight
        i += 1
    return None


def disable(node: Node, now: float, disable_timeout: float) -> None:
    node.disabled = True
    if node.recheck_at != math.inf:
        node.recheck_at = now + disable_timeout
