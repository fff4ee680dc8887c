"""The media port pool: ports from ``--port-min``..``--port-max``, handed out and always given back.

rtpengine shuffles the whole range into a free list at start, takes ports from the head and returns
released ones to the tail, so a port just freed is the last to be reused (daemon/media_socket.c). A media
without rtcp-mux takes two consecutive ports, RTP on the even one and RTCP on the next; with rtcp-mux in
effect one port of any parity. A drawn port that does not fit (odd when a pair is needed, partner taken,
or already bound by another program) goes back to the tail and the next one is tried, until every free
port has been tried: then the caller gets `PortsExhausted` ("Ran out of ports").
"""
from __future__ import annotations

import random
import socket
from collections import deque
from typing import Callable, Sequence

DEFAULT_PORT_MIN = 30000
DEFAULT_PORT_MAX = 39999


class PortsExhausted(Exception):
    """No free port (or port pair) could be bound."""


BindFn = Callable[[int], socket.socket]


class PortPool:
    """Free ports of one interface; `take` binds them, `give_back` returns them."""

    def __init__(self, port_min: int = DEFAULT_PORT_MIN, port_max: int = DEFAULT_PORT_MAX,
                 rng: random.Random | None = None) -> None:
        if not 1 <= port_min <= port_max <= 65535:
            raise ValueError(f"bad port range {port_min}-{port_max}")
        self.port_min = port_min
        self.port_max = port_max
        ports = list(range(port_min, port_max + 1))
        (rng or random.Random()).shuffle(ports)
        self._order: deque[int] = deque(ports)
        self._free: set[int] = set(ports)

    @property
    def size(self) -> int:
        return self.port_max - self.port_min + 1

    @property
    def free_count(self) -> int:
        return len(self._free)

    def in_use(self) -> int:
        return self.size - len(self._free)

    def take(self, count: int, bind: BindFn) -> list[socket.socket]:
        """Bind `count` consecutive ports (the first even when count is 2) and return their sockets."""
        if count not in (1, 2):
            raise ValueError("a media takes one or two ports")
        tried = 0
        candidates = len(self._order)
        while tried < candidates and self._order:
            port = self._order.popleft()
            tried += 1
            if port not in self._free:
                continue  # a stale entry: the port was taken as the partner of a pair
            wanted = [port] if count == 1 else [port, port + 1]
            if count == 2 and (port % 2 or port + 1 not in self._free):
                self._order.append(port)
                continue
            sockets: list[socket.socket] = []
            try:
                for number in wanted:
                    sockets.append(bind(number))
            except OSError:
                for sock in sockets:
                    sock.close()
                self._order.append(port)
                continue
            for number in wanted:
                self._free.discard(number)
            return sockets
        raise PortsExhausted("Ran out of ports")

    def give_back(self, ports: Sequence[int]) -> None:
        """Return ports to the tail of the free list; ports outside the range or already free are ignored."""
        for port in ports:
            if self.port_min <= port <= self.port_max and port not in self._free:
                self._free.add(port)
                self._order.append(port)
        # Stale entries (partners taken with a pair, duplicates after a give-back) are skipped by
        # `take`; rebuild the list when they outgrow the range so it stays bounded.
        if len(self._order) > 2 * self.size:
            seen: set[int] = set()
            rebuilt: deque[int] = deque()
            for port in self._order:
                if port in self._free and port not in seen:
                    seen.add(port)
                    rebuilt.append(port)
            self._order = rebuilt
