"""The control plane in-process: commands, retransmissions, session model, delete and timeouts."""
from __future__ import annotations

from typing import Any

import pytest

from opensips_py.media import bencode
from opensips_py.media.control import MediaRelay, RelayConfig
from opensips_py.media.bencode import to_native
from tests.media.conftest import load_sdp
from tests.media.flows import opensips_flags

BASE = "trust-address replace-origin replace-session-connection"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Driver:
    """Sends ng documents straight into a MediaRelay (no sockets for the control port)."""

    def __init__(self, **config: Any) -> None:
        self.clock = Clock()
        settings = dict(interfaces=["127.0.0.1"], port_min=21300, port_max=21699)
        settings.update(config)
        self.relay = MediaRelay(RelayConfig(**settings), clock=self.clock)
        self.sequence = 0

    def raw(self, datagram: bytes) -> bytes | None:
        return self.relay.handle_datagram(datagram, ("127.0.0.1", 9999))

    def send(self, document: dict, cookie: bytes | None = None) -> dict:
        self.sequence += 1
        cookie = cookie or b"t%d" % self.sequence
        reply = self.raw(cookie + b" " + bencode.encode(document))
        assert reply is not None and reply.startswith(cookie + b" ")
        return to_native(bencode.decode(reply[len(cookie) + 1:]))

    def offer(self, sdp: str, call_id: str = "c1", from_tag: str = "a", flags: str = BASE, **extra) -> dict:
        document = {"command": "offer", "call-id": call_id, "from-tag": from_tag, "sdp": load_sdp(sdp),
                    **opensips_flags(flags), **extra}
        return self.send(document)

    def answer(self, sdp: str, call_id: str = "c1", from_tag: str = "a", to_tag: str = "b",
               flags: str = BASE, **extra) -> dict:
        document = {"command": "answer", "call-id": call_id, "from-tag": from_tag, "to-tag": to_tag,
                    "sdp": load_sdp(sdp), **opensips_flags(flags), **extra}
        return self.send(document)

    def close(self) -> None:
        self.relay.close()


@pytest.fixture()
def driver():
    d = Driver()
    yield d
    d.close()


def m_port(sdp: str, index: int = 0) -> int:
    return [int(line.split()[1]) for line in sdp.splitlines() if line.startswith("m=")][index]


def test_ping_answers_pong(driver: Driver) -> None:
    assert driver.send({"command": "ping"}) == {"result": "pong"}


def test_unknown_command_gets_rtpengines_error_shape(driver: Driver) -> None:
    assert driver.send({"command": "frobnicate"}) == {"result": "error", "error-reason": "Unrecognized command"}


def test_request_without_command_key_is_an_error(driver: Driver) -> None:
    assert driver.send({"call-id": "x"}) == {"result": "error",
                                             "error-reason": 'Dictionary contains no key "command"'}


def test_known_but_unimplemented_commands_are_refused_cleanly(driver: Driver) -> None:
    reply = driver.send({"command": "play media", "call-id": "c1"})
    assert reply["result"] == "error"


def test_offer_creates_a_call_that_list_and_query_show(driver: Driver) -> None:
    reply = driver.offer("phone_offer")
    assert reply["result"] == "ok"
    assert driver.send({"command": "list"}) == {"result": "ok", "calls": ["c1"]}
    query = driver.send({"command": "query", "call-id": "c1"})
    assert query["result"] == "ok"
    assert set(query["tags"]) >= {"a"}
    assert query["totals"] == {"RTP": {"packets": 0, "bytes": 0, "errors": 0},
                               "RTCP": {"packets": 0, "bytes": 0, "errors": 0}}


def test_retransmitted_offer_is_answered_from_cache_not_executed_twice(driver: Driver) -> None:
    document = {"command": "offer", "call-id": "c1", "from-tag": "a", "sdp": load_sdp("phone_offer"),
                **opensips_flags(BASE)}
    datagram = b"same " + bencode.encode(document)
    first = driver.raw(datagram)
    ports_after_first = driver.relay.ports_in_use()
    second = driver.raw(datagram)
    assert second == first
    assert driver.relay.ports_in_use() == ports_after_first
    assert driver.relay.stats.commands["127.0.0.1"]["offer"].count == 1


def test_answer_for_unknown_call_is_an_error(driver: Driver) -> None:
    assert driver.answer("phone_answer", call_id="nope") == {"result": "error",
                                                            "error-reason": "Unknown call-id"}


def test_offer_without_sdp_or_tags_names_what_is_missing(driver: Driver) -> None:
    assert driver.send({"command": "offer", "call-id": "c"})["error-reason"] == "No SDP body in message"
    assert driver.send({"command": "offer", "sdp": "v=0"})["error-reason"] == "No call-id in message"
    assert driver.send({"command": "offer", "sdp": "v=0", "call-id": "c"})["error-reason"] == \
        "No from-tag in message"


def test_reoffer_from_the_same_party_keeps_its_ports(driver: Driver) -> None:
    first = driver.offer("phone_offer")
    driver.answer("phone_answer")
    again = driver.offer("phone_offer", to_tag="b")
    assert m_port(again["sdp"]) == m_port(first["sdp"])
    assert driver.relay.ports_in_use() == 4


def test_reoffer_with_a_new_remote_address_gets_new_ports_unless_latching(driver: Driver) -> None:
    first = driver.offer("phone_offer")
    driver.answer("phone_answer")
    moved = load_sdp("phone_offer").replace("192.0.2.50", "192.0.2.99")
    reply = driver.send({"command": "offer", "call-id": "c1", "from-tag": "a", "to-tag": "b", "sdp": moved,
                         **opensips_flags(BASE)})
    assert m_port(reply["sdp"]) != m_port(first["sdp"])
    latched = driver.send({"command": "offer", "call-id": "c1", "from-tag": "a", "to-tag": "b",
                           "sdp": moved.replace("192.0.2.99", "192.0.2.98"),
                           **opensips_flags(BASE + " port-latching")})
    assert m_port(latched["sdp"]) == m_port(reply["sdp"])


def test_forked_offers_get_a_port_set_per_via_branch(driver: Driver) -> None:
    one = driver.offer("phone_offer", **{"via-branch": "z9hG4bK1"})
    two = driver.offer("phone_offer", **{"via-branch": "z9hG4bK2"})
    assert m_port(one["sdp"]) != m_port(two["sdp"])
    assert driver.offer("phone_offer", **{"via-branch": "z9hG4bK1"})["sdp"] == one["sdp"]
    answer = driver.answer("phone_answer", to_tag="b2", **{"via-branch": "z9hG4bK2"})
    assert answer["result"] == "ok"
    call = driver.relay.calls["c1"]
    assert call.tags["a"].peer is call.tags["b2"]


def test_delete_of_unknown_call_warns_or_fails_with_fatal(driver: Driver) -> None:
    assert driver.send({"command": "delete", "call-id": "nope"}) == {
        "result": "ok", "warning": "Call-ID not found or tags didn't match"}
    assert driver.send({"command": "delete", "call-id": "nope", "flags": ["fatal"]}) == {
        "result": "error", "error-reason": "Call-ID not found or tags didn't match"}


def test_delete_with_delay_keeps_the_call_until_the_delay_passes(driver: Driver) -> None:
    driver.offer("phone_offer")
    driver.answer("phone_answer")
    assert driver.relay.ports_in_use() == 4
    assert driver.send({"command": "delete", "call-id": "c1", "delete-delay": 5})["result"] == "ok"
    assert driver.send({"command": "list"})["calls"] == ["c1"]
    driver.clock.now += 4
    driver.relay.tick()
    assert driver.send({"command": "list"})["calls"] == ["c1"]
    driver.clock.now += 2
    driver.relay.tick()
    assert driver.send({"command": "list"})["calls"] == []
    assert driver.relay.ports_in_use() == 0


def test_delete_with_tags_returns_call_statistics_and_frees_ports_at_once_without_delay(driver: Driver) -> None:
    driver.offer("phone_offer")
    driver.answer("phone_answer")
    reply = driver.send({"command": "delete", "call-id": "c1", "from-tag": "a", "to-tag": "b",
                         "delete-delay": 0})
    assert reply["result"] == "ok"
    assert "totals" in reply and "tags" in reply
    assert driver.relay.calls == {}
    assert driver.relay.ports_in_use() == 0


def test_media_timeout_closes_silent_calls_and_counts_them() -> None:
    driver = Driver(timeout=60)
    try:
        driver.offer("phone_offer")
        driver.answer("phone_answer")
        driver.clock.now += 59
        driver.relay.tick()
        assert list(driver.relay.calls) == ["c1"]
        driver.clock.now += 2
        driver.relay.tick()
        assert driver.relay.calls == {}
        assert driver.relay.ports_in_use() == 0
        stats = driver.send({"command": "statistics"})["statistics"]
        assert stats["totalstatistics"]["timeoutsessions"] == 1
    finally:
        driver.close()


def test_held_call_lives_until_silent_timeout() -> None:
    driver = Driver(timeout=10, silent_timeout=100)
    try:
        driver.send({
            "command": "offer", "call-id": "c1", "from-tag": "a",
            "sdp": load_sdp("phone_offer").replace("a=sendrecv", "a=inactive"), **opensips_flags(BASE)})
        driver.send({"command": "answer", "call-id": "c1", "from-tag": "a", "to-tag": "b",
                     "sdp": load_sdp("phone_answer").replace("a=sendrecv", "a=inactive"),
                     **opensips_flags(BASE)})
        driver.clock.now += 50
        driver.relay.tick()
        assert list(driver.relay.calls) == ["c1"]
        driver.clock.now += 60
        driver.relay.tick()
        assert driver.relay.calls == {}
        assert driver.relay.stats.silent_timeout_sessions == 1
    finally:
        driver.close()


def test_final_timeout_ends_calls_whatever_their_activity() -> None:
    driver = Driver(final_timeout=30)
    try:
        driver.offer("phone_offer")
        driver.clock.now += 31
        driver.relay.tick()
        assert driver.relay.calls == {}
        assert driver.relay.stats.final_timeout_sessions == 1
    finally:
        driver.close()


def test_running_out_of_ports_is_reported_and_leaves_nothing_behind() -> None:
    driver = Driver(port_min=21690, port_max=21695)
    try:
        assert driver.offer("phone_offer", call_id="c1")["result"] == "ok"     # 4 ports
        reply = driver.offer("phone_offer", call_id="c2")
        assert reply == {"result": "error", "error-reason": "Ran out of ports"}
        assert list(driver.relay.calls) == ["c1"]
        assert driver.relay.ports_in_use() == 4
    finally:
        driver.close()


def test_unknown_flags_and_keys_are_ignored_not_errors(driver: Driver) -> None:
    reply = driver.offer("phone_offer", flags=BASE + " no-such-flag", **{"frobnicate": "yes",
                                                                        "repacketize": 20})
    assert reply["result"] == "ok"


def test_a_failing_command_does_not_stop_the_relay(driver: Driver, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(driver.relay, "query", boom)
    assert driver.send({"command": "query", "call-id": "x"}) == {"result": "error",
                                                                  "error-reason": "Internal error"}
    assert driver.send({"command": "ping"}) == {"result": "pong"}


def test_statistics_count_commands_and_errors_per_proxy(driver: Driver) -> None:
    driver.send({"command": "ping"})
    driver.send({"command": "frobnicate"})
    driver.offer("phone_offer")
    control = driver.send({"command": "statistics"})["statistics"]["controlstatistics"]
    (proxy,) = control["proxies"]
    assert proxy["proxy"] == "127.0.0.1"
    assert proxy["pingcount"] == 1 and proxy["offercount"] == 1 and proxy["errorcount"] == 1
    assert control["totaloffercount"] == 1


def test_per_proxy_counters_stay_bounded_whatever_the_sources(driver: Driver) -> None:
    for index in range(1000):
        driver.relay.handle_datagram(b"p%d d7:command4:pinge" % index, (f"10.0.{index // 250}.{index % 250}", 1))
    assert len(driver.relay.stats.commands) <= 257


def test_json_requests_get_json_replies(driver: Driver) -> None:
    import json

    document = {"command": "offer", "call-id": "j1", "from-tag": "a", "sdp": load_sdp("phone_offer"),
                **opensips_flags(BASE)}
    reply = driver.raw(b"j1 " + json.dumps(document).encode())
    assert reply is not None and reply.startswith(b"j1 {")
    decoded = json.loads(reply[3:])
    assert decoded["result"] == "ok" and decoded["sdp"].startswith("v=0\r\n")
