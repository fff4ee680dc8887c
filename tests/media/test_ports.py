"""The port pool: RTP on even ports with RTCP next to it, released ports reused last, no leaks."""
from __future__ import annotations

import random
import socket

import pytest

from opensips_py.media.ports import PortPool, PortsExhausted
from opensips_py.media.relay import SocketLayer


def _bind(layer: SocketLayer):
    return lambda port: layer.bind("127.0.0.1", port)


def test_a_pair_is_an_even_rtp_port_and_the_next_odd_one() -> None:
    layer = SocketLayer()
    pool = PortPool(22500, 22599, random.Random(1))
    for _ in range(20):
        socks = pool.take(2, _bind(layer))
        rtp, rtcp = (s.getsockname()[1] for s in socks)
        assert rtp % 2 == 0 and rtcp == rtp + 1
        for s in socks:
            s.close()


def test_pool_runs_out_and_says_so_then_recovers_after_give_back() -> None:
    layer = SocketLayer()
    pool = PortPool(22600, 22609, random.Random(2))
    taken = [pool.take(2, _bind(layer)) for _ in range(5)]
    with pytest.raises(PortsExhausted):
        pool.take(1, _bind(layer))
    ports = [s.getsockname()[1] for pair in taken for s in pair]
    for pair in taken:
        for s in pair:
            s.close()
    pool.give_back(ports)
    assert pool.free_count == 10
    assert pool.in_use() == 0
    again = pool.take(2, _bind(layer))
    assert len(again) == 2
    for s in again:
        s.close()


def test_a_port_bound_by_someone_else_is_skipped() -> None:
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", 22700))
    try:
        layer = SocketLayer()
        pool = PortPool(22700, 22701, random.Random(3))
        socks = pool.take(1, _bind(layer))
        assert socks[0].getsockname()[1] == 22701
        socks[0].close()
    finally:
        blocker.close()


def test_released_ports_go_to_the_back_of_the_free_list() -> None:
    layer = SocketLayer()
    pool = PortPool(22800, 22803, random.Random(4))
    first = pool.take(1, _bind(layer))[0]
    port = first.getsockname()[1]
    first.close()
    pool.give_back([port])
    seen = []
    for _ in range(3):
        sock = pool.take(1, _bind(layer))[0]
        seen.append(sock.getsockname()[1])
        sock.close()
    assert port not in seen


def test_many_take_give_back_cycles_leave_the_pool_full_and_bounded() -> None:
    layer = SocketLayer()
    pool = PortPool(22900, 22919, random.Random(5))
    for _ in range(500):
        socks = pool.take(2, _bind(layer)) + pool.take(1, _bind(layer))
        ports = [s.getsockname()[1] for s in socks]
        for s in socks:
            s.close()
        pool.give_back(ports)
    assert pool.free_count == 20
    assert len(pool._order) <= 40
