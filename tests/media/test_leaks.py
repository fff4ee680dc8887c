"""No leaks: thousands of offer/answer/delete cycles leave no port, socket or session behind."""
from __future__ import annotations

import os

import pytest

from opensips_py.media.embedded import start_embedded_relay
from opensips_py.media.ngclient import NgClient
from tests.media.conftest import free_udp_port, load_sdp
from tests.media.flows import opensips_flags

CYCLES = 5000
BASE = "trust-address replace-origin replace-session-connection"


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.fixture()
def fresh_relay():
    """A relay process of its own, so other tests' calls do not blur the count."""
    handle = start_embedded_relay(("127.0.0.1", free_udp_port()), port_min=21200, port_max=21299,
                                  delete_delay=0, log_level=3)
    client = NgClient(*handle.address, timeout=2.0)
    yield handle, client
    client.close()
    handle.stop()


def test_5000_offer_answer_delete_cycles_leave_nothing_behind(fresh_relay) -> None:
    handle, relay = fresh_relay
    pid = handle.pid
    offer_sdp, answer_sdp = load_sdp("chrome_offer"), load_sdp("phone_answer")
    offer_flags = opensips_flags(f"{BASE} rtcp-mux-demux ICE=remove RTP/AVP")
    answer_flags = opensips_flags(f"{BASE} ICE=force")
    assert relay.send({"command": "list", "limit": 1000})["calls"] == []
    fds_before = open_fds(pid)
    for cycle in range(CYCLES):
        call_id = f"leak-{cycle}"
        assert relay.send({"command": "offer", "call-id": call_id, "from-tag": "a", "sdp": offer_sdp,
                           **offer_flags})["result"] == "ok"
        if cycle == 0:
            assert open_fds(pid) > fds_before           # the call really holds sockets
        assert relay.send({"command": "answer", "call-id": call_id, "from-tag": "a", "to-tag": "b",
                           "sdp": answer_sdp, **answer_flags})["result"] == "ok"
        assert relay.send({"command": "delete", "call-id": call_id, "delete-delay": 0})["result"] == "ok"
    assert relay.send({"command": "list", "limit": 1000})["calls"] == []
    assert open_fds(pid) == fds_before
    stats = relay.send({"command": "statistics"})["statistics"]
    assert stats["currentstatistics"]["sessionstotal"] == 0
