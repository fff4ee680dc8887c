"""Bad input never stops the proxy: RFC 4475's torture messages and random bytes are answered 400 (or the
status their error carries) or dropped, always counted, and the next good message is served."""
from __future__ import annotations

import csv

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.runtime.support import UAC, Proxy, only, parsed, request
from tests.shared import CORPUS

RFC4475 = CORPUS / "rfc4475"
ROWS = list(csv.DictReader((RFC4475 / "INDEX.tsv").open(encoding="utf-8"), delimiter="\t"))
INVALID = [row["file"] for row in ROWS if row["expected"] == "invalid"]
VALID_REQUESTS = [row["file"] for row in ROWS if row["expected"] != "invalid"
                  and not (RFC4475 / row["file"]).read_bytes().startswith(b"SIP/")]
# RFC 4475 §3.1.2.12: a proxy that does not read Date may forward baddate unchanged
FORWARD_ALLOWED = {"baddate.dat"}
FORWARD = 'route {\n\tforward("udp:192.0.2.20:5060");\n}\n'
ERROR_STATS = ("err_requests", "err_replies", "bad_msg_hdr")


def test_the_corpus_has_the_rfc_4475_invalid_set():
    assert len(INVALID) == 22 and "badinv01.dat" in INVALID and "insuf.dat" in INVALID


@pytest.mark.parametrize("name", INVALID)
def test_an_invalid_message_is_answered_with_an_error_or_dropped_and_counted(name):
    proxy = Proxy(FORWARD)
    sends = proxy.send((RFC4475 / name).read_bytes())
    assert not any("internal error" in line for line in proxy.logs)
    if name in FORWARD_ALLOWED and sends and sends[0].host == "192.0.2.20":
        return
    for sent in sends:
        reply = parsed(sent)
        assert not reply.is_request and reply.status in (400, 501, 505, 513), name
        assert sent.host == UAC[0]  # back to the source (the Via port, e.g. 5050 in quotbal)
    assert sum(proxy.stats[stat] for stat in ERROR_STATS) == 1
    assert proxy.stats["fwd_requests"] == 0 and proxy.stats["fwd_replies"] == 0
    # and the proxy keeps serving
    assert only(proxy.send(request())).host == "192.0.2.20"


@pytest.mark.parametrize("name", VALID_REQUESTS)
def test_a_valid_torture_request_is_not_refused(name):
    proxy = Proxy(FORWARD)
    sent = only(proxy.send((RFC4475 / name).read_bytes()))
    assert sent.host == "192.0.2.20" and proxy.stats["err_requests"] == 0


def test_specific_statuses_for_invalid_requests():
    statuses = {}
    for name in ("badinv01.dat", "insuf.dat", "multi01.dat", "mismatch01.dat", "mismatch02.dat", "escruri.dat"):
        statuses[name] = parsed(only(Proxy(FORWARD).send((RFC4475 / name).read_bytes()))).status
    assert statuses == {"badinv01.dat": 400, "insuf.dat": 400, "multi01.dat": 400, "mismatch01.dat": 400,
                        "mismatch02.dat": 501, "escruri.dat": 400}


def test_a_request_over_the_size_limit_is_answered_513():
    padding = "X-Pad: " + "a" * 70000
    data = request("OPTIONS", extra=padding)
    proxy = Proxy(FORWARD)
    reply = parsed(only(proxy.send(data)))
    assert reply.status == 513 and proxy.stats["err_requests"] == 1 and proxy.stats["bad_msg_hdr"] == 0


def test_an_ack_that_is_malformed_is_dropped_without_a_reply():
    data = request("ACK", to_tag="t", cseq_method="INVITE")
    proxy = Proxy(FORWARD)
    assert proxy.send(data) == [] and proxy.stats["err_requests"] == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=600))
def test_random_bytes_never_raise_and_are_always_accounted(data):
    proxy = _shared_proxy()
    before = dict(proxy.stats)
    proxy.send(data)
    delta = {name: proxy.stats[name] - before[name] for name in proxy.stats}
    assert not any("internal error" in line for line in proxy.logs)
    seen = delta["bad_msg_hdr"] + delta["rcv_requests"] + delta["rcv_replies"]
    assert seen in (0, 1)  # 0: keep-alive padding, dropped silently
    if seen == 0:
        assert not data.strip(b"\r\n\x00 \t")


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_requests_never_raise(data):
    base = bytearray(request(extra="Record-Route: <sip:p.example.com;lr>"))
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(base) - 1))
        base[position] = data.draw(st.integers(0, 255))
    proxy = _shared_proxy()
    proxy.send(bytes(base))
    assert not any("internal error" in line for line in proxy.logs)


_PROXY: list[Proxy] = []


def _shared_proxy() -> Proxy:
    """One proxy for all hypothesis examples (building one per example would dominate the run time)."""
    if not _PROXY:
        _PROXY.append(Proxy('route {\n\tif ($rm == "OPTIONS") sl_send_reply(200, "OK");\n'
                            '\telse forward("udp:192.0.2.20:5060");\n}\n'))
    return _PROXY[0]


def test_error_route_runs_instead_of_the_automatic_reply():
    proxy = Proxy(FORWARD + 'error_route {\n\txlog("error route for $rm\\n");\n'
                            '\tsl_send_reply(400, "Rejected By Script");\n\texit;\n}\n')
    reply = parsed(only(proxy.send((RFC4475 / "badinv01.dat").read_bytes())))
    assert (reply.status, reply.reason) == (400, "Rejected By Script")
    assert proxy.script_logs() == ["error route for INVITE"] and proxy.stats["err_requests"] == 1


def test_an_error_route_that_does_not_reply_leaves_the_request_unanswered():
    proxy = Proxy(FORWARD + 'error_route {\n\txlog("seen\\n");\n}\n')
    assert proxy.send((RFC4475 / "insuf.dat").read_bytes()) == []
    assert proxy.script_logs() == ["seen"]
