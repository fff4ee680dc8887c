"""tm's MI commands: t_uac_dlg (answered when the final reply comes), t_uac_cancel, t_reply, t_hash."""
from __future__ import annotations

import pytest
import trio

from opensips_py.mi import MIError
from tests.tm.support import UAC, UAS, Callee, request, statuses, tm_proxy, to

RELAY = 'route { $du = "sip:192.0.2.20:5060"; t_relay(); }'
HEADERS = "From: <sip:mi@192.0.2.1>\r\nTo: <sip:bob@192.0.2.20>\r\nX-Test: yes\r\n"


def commands(proxy):
    return proxy.core.modules["tm"].mi_commands()


def run_mi(proxy, handler, params):
    """Call an MI handler, let the proxy's clock and peers run, then await its (async) result."""
    awaitable = handler(params)
    proxy.net.advance(0.01)
    return trio.run(lambda: awaitable)


def test_t_uac_dlg_sends_the_request_and_answers_with_the_final_reply():
    proxy = tm_proxy(RELAY)
    callee = Callee(proxy, answers={"OPTIONS": [(200, "c")]})
    proxy.net.start()
    result = run_mi(proxy, commands(proxy)["t_uac_dlg"],
                    {"method": "OPTIONS", "ruri": "sip:bob@192.0.2.20:5060", "headers": HEADERS})
    assert result["Status"] == "200 OK" and "X-Test" not in result["Message"]
    [options] = callee.received
    assert options.header("x-test") == "yes" and options.from_.tag and options.cseq.method == "OPTIONS"


def test_t_uac_dlg_reports_a_timeout_as_408():
    proxy = tm_proxy('modparam("tm", "fr_timeout", 2)\n' + RELAY)
    Callee(proxy, answers={})
    proxy.net.start()
    awaitable = commands(proxy)["t_uac_dlg"]({"method": "OPTIONS", "ruri": "sip:bob@192.0.2.20",
                                              "headers": HEADERS})
    proxy.net.advance(2.1)
    assert trio.run(lambda: awaitable) == {"Status": "408 Request Timeout"}


def test_t_uac_dlg_refuses_headers_without_from_or_to():
    proxy = tm_proxy(RELAY)
    with pytest.raises(MIError) as error:
        commands(proxy)["t_uac_dlg"]({"method": "OPTIONS", "ruri": "sip:bob@192.0.2.20", "headers": "X-A: 1\r\n"})
    assert error.value.code == 400


def test_t_reply_answers_a_transaction_by_its_id():
    proxy = tm_proxy('route { t_newtran(); xlog("id=$T_id\\n"); }')
    proxy.send(request("INVITE"))
    trans_id = proxy.script_logs()[0].split("=", 1)[1]
    assert commands(proxy)["t_reply"]({"code": 486, "reason": "Busy Here", "trans_id": trans_id,
                                       "to_tag": "mi-tag"}) == "OK"
    [busy] = to(proxy.net.advance(0.01), UAC)
    assert (busy.status, busy.to.tag) == (486, "mi-tag")


def test_t_hash_counts_the_transactions():
    proxy = tm_proxy(RELAY)
    Callee(proxy, answers={})
    proxy.send(request("OPTIONS"))
    assert commands(proxy)["t_hash"]({}) == [{"index": 0, "entries": 1}]
