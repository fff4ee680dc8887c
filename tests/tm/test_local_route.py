"""local_route: the script's last word on the requests tm sends on its own (run_local_route of uac.c).

Here the requests come from dialog's dlg_send_sequential(); the route runs with the new transaction
current (t_on_reply()/t_on_failure() arm it, $avp are the transaction's, the dialog is the current one),
its header edits go out, and a new $du sends the request elsewhere. As OpenSIPS keeps the request of a
local transaction once a local_route exists, a failure_route armed there runs on a negative reply."""
from __future__ import annotations

from opensips_py.sip import parse_message
from tests.dialog.support import CALLER, CALLEE, Call, proxy

SEND_ON_INFO = '\tif (is_method("INFO")) { dlg_send_sequential("OPTIONS", "caller", , , "X-Mark: 1\\r\\n"); }'
ONREPLY_AVPS = 'modparam("tm", "onreply_avp_mode", 1)\n'


def _sent_to(sent, where, method: str):
    return [parse_message(s.data) for s in sent if (s.host, s.port) == where and s.data.startswith(method.encode())]


def test_local_route_edits_headers_and_sees_the_dialog_and_its_transaction():
    routes = r'''
local_route {
    xlog("local $rm did=$DLG_did has_tid=$(T_id{s.len}) mark=$hdr(X-Mark)\n");
    remove_hf("X-Mark");
    append_hf("X-Local: yes\r\n");
}
'''
    p = proxy(in_dialog=SEND_ON_INFO, extra_routes=routes)
    call = Call(p)
    call.establish()
    sent = call.in_dialog("INFO")
    [options] = _sent_to(sent, CALLER, "OPTIONS")
    assert options.header("x-mark") is None and options.header("x-local") == "yes"
    [line] = [line for line in p.logs if " local " in line]
    assert f"did={call.dialog.did} " in line and "mark=1" in line and "has_tid=0" not in line


def test_local_route_arms_reply_and_failure_routes_with_its_avps():
    routes = r'''
local_route {
    $avp(why) = "probe";
    t_on_reply("probe_reply");
    t_on_failure("probe_failed");
}
onreply_route[probe_reply] { xlog("reply $rs for $avp(why)\n"); }
failure_route[probe_failed] { xlog("failed $T_reply_code for $avp(why)\n"); }
'''
    p = proxy(params=ONREPLY_AVPS, in_dialog=SEND_ON_INFO, extra_routes=routes)
    call = Call(p)
    call.establish()
    call.caller.answers["OPTIONS"] = 488
    call.in_dialog("INFO")
    assert [line.split("] ", 1)[1] for line in p.logs if "probe" in line] == [
        "reply 488 for probe", "failed 488 for probe"]


def test_local_route_sends_the_request_to_a_new_du():
    routes = 'local_route {\n    $du = "sip:192.0.2.99:5070";\n}\n'
    p = proxy(in_dialog=SEND_ON_INFO, extra_routes=routes)
    call = Call(p)
    call.establish()
    sent = call.in_dialog("INFO")
    assert not _sent_to(sent, CALLER, "OPTIONS")
    [options] = _sent_to(sent, ("192.0.2.99", 5070), "OPTIONS")
    assert options.ruri_text == call.caller.contact


def test_without_local_route_a_local_transaction_keeps_no_request():
    p = proxy(in_dialog=SEND_ON_INFO)
    call = Call(p)
    call.establish()
    call.in_dialog("INFO")
    local = [t for t in p.core.modules["tm"].layer.table.by_tid.values() if t.is_local]
    assert local and all(t.request is None for t in local)
