"""uac's uac_auth() on the virtual network: a UAS that challenges, the proxy answering the challenge from
failure_route with uac_auth's credentials and relaying again (CSeq + 1 towards the UAS, the original CSeq
back to the UAC), the `aci` Record-Route mark that keeps a dialog's later requests in step, and the auth
module's challenge sent statefully through tm."""
from __future__ import annotations

import pytest

from opensips_py.runtime.core import StartupFailure
from opensips_py.sip import build_reply, parse_message
from opensips_py.sip.digest import build_challenge, check_response
from tests.modules.auth_support import Phone, challenge_of
from tests.runtime.support import UAC, UAS, Proxy, parsed, request

NONCE = "dcd98b7102dd2f0e8b11d0f600bfb0c093"

UAC_CONFIG = """
loadmodule "tm.so"
loadmodule "rr.so"
loadmodule "sipmsgops.so"
loadmodule "uac.so"
loadmodule "uac_auth.so"
modparam("uac_auth", "credential", "alice:biloxi.com:secret")
route {
    if (has_totag()) {
        if (is_method("ACK") && t_check_trans()) { t_relay(); exit; }
        if (loose_route()) { t_relay(); exit; }
        sl_send_reply(404, "Not here");
        exit;
    }
    record_route();
    t_on_failure("auth");
    t_relay();
}
failure_route[auth] {
    if (!t_check_status("40[17]"))
        exit;
    if (uac_auth()) {
        xlog("uac_auth done\\n");
        t_relay();
        exit;
    }
    xlog("uac_auth failed\\n");
}
"""


class ChallengingUAS:
    """Answers every request first with a 401/407 (realm biloxi.com), then checks the credentials; INVITE
    gets 200 with Record-Route copied, ACK is absorbed; every request is kept."""

    def __init__(self, code: int = 401, qop: str | None = "auth", algorithm: str | None = None,
                 password: str = "secret", challenged: tuple[str, ...] = ("INVITE", "REGISTER")) -> None:
        self.code = code
        self.qop = qop
        self.algorithm = algorithm
        self.password = password
        self.challenged = challenged
        self.seen = []

    def __call__(self, data: bytes, src) -> list[bytes]:
        msg = parse_message(data)
        if not msg.is_request:
            return []
        self.seen.append(msg)
        if msg.method == "ACK":
            return []
        credentials = msg.authorization if self.code == 401 else msg.proxy_authorization
        if msg.method in self.challenged and not credentials:
            header = "WWW-Authenticate" if self.code == 401 else "Proxy-Authenticate"
            value = build_challenge("biloxi.com", NONCE, algorithm=self.algorithm, qop=self.qop)
            return [build_reply(msg, self.code, to_tag="uas", headers=[f"{header}: {value}"])]
        if credentials and not check_response(credentials[0], msg.method, password=self.password,
                                              body=msg.body):
            return [build_reply(msg, 403, to_tag="uas")]
        return [build_reply(msg, 200, to_tag="uas")]


def proxy(params: str = "", uas: ChallengingUAS | None = None) -> tuple[Proxy, ChallengingUAS]:
    p = Proxy(UAC_CONFIG.replace('route {', params + 'route {', 1))
    peer = uas or ChallengingUAS()
    p.net.attach(*UAS, peer)
    return p, peer


def to_uac(sends) -> list:
    return [parsed(s) for s in sends if (s.host, s.port) == UAC]


def test_register_challenged_upstream_is_answered_with_cseq_plus_one():
    p, uas = proxy()
    replies = to_uac(p.send(request("REGISTER", "sip:alice@192.0.2.20", cseq=1)))
    assert [r.status for r in replies] == [200]
    assert replies[0].cseq.number == 1  # the UAC gets its own CSeq back
    first, second = uas.seen
    assert (first.cseq.number, second.cseq.number) == (1, 2)
    credentials = second.authorization[0]
    assert credentials.username == "alice" and credentials.realm == "biloxi.com"
    assert credentials.uri == "sip:alice@192.0.2.20" and credentials.qop == "auth"
    assert credentials.params["nc"] == "00000001" and credentials.params["cnonce"] == "1604159111"
    assert second.header("Authorization").endswith("algorithm=MD5")
    assert "uac_auth done" in p.script_logs()


@pytest.mark.parametrize("qop, algorithm", [(None, None), ("auth-int", None), ("auth", "SHA-256"),
                                            ("auth", "MD5-sess")])
def test_qop_and_algorithms_of_the_challenge_are_followed(qop, algorithm):
    p, uas = proxy(uas=ChallengingUAS(qop=qop, algorithm=algorithm))
    assert [r.status for r in to_uac(p.send(request("REGISTER", "sip:alice@192.0.2.20", cseq=5)))] == [200]
    assert uas.seen[-1].cseq.number == 6


def test_proxy_challenge_407_gets_proxy_authorization_and_an_aci_mark_for_the_dialog():
    p, uas = proxy(uas=ChallengingUAS(code=407))
    replies = to_uac(p.send(request("INVITE", "sip:bob@192.0.2.20", cseq=1)))
    ok = replies[-1]
    assert ok.status == 200 and ok.cseq.number == 1
    invites = [m for m in uas.seen if m.method == "INVITE"]
    assert [m.cseq.number for m in uas.seen] == [1, 1, 2]  # INVITE, tm's ACK of the 407, INVITE
    invite = invites[1]
    assert invite.proxy_authorization and invite.cseq.number == 2
    record_route = invite.header("Record-Route")
    assert ";aci=1" in record_route and "ftag=1928301774" in record_route
    # the ACK and BYE of the caller go through loose_route: +1 towards the callee, replies restored
    route = f"Route: {ok.header('Record-Route')}"
    p.send(request("ACK", "sip:bob@192.0.2.20", to_tag="uas", cseq=1, branch="z9hG4bKack", extra=route))
    bye_replies = to_uac(p.send(request("BYE", "sip:bob@192.0.2.20", to_tag="uas", cseq=2,
                                        branch="z9hG4bKbye", extra=route)))
    ack, bye = uas.seen[3], uas.seen[4]
    assert (ack.method, ack.cseq.number) == ("ACK", 2)
    assert (bye.method, bye.cseq.number) == ("BYE", 3)
    assert [(r.status, r.cseq.number) for r in bye_replies] == [(200, 2)]


def test_a_request_from_the_callee_keeps_its_cseq():
    p, uas = proxy(uas=ChallengingUAS(code=407))
    ok = to_uac(p.send(request("INVITE", "sip:bob@192.0.2.20", cseq=1)))[-1]
    bye = ("BYE sip:alice@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKcallee\r\n"
           f"Route: {ok.header('Record-Route')}\r\nMax-Forwards: 70\r\n"
           "From: Bob <sip:bob@biloxi.com>;tag=uas\r\nTo: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
           "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\nCSeq: 7 BYE\r\nContent-Length: 0\r\n\r\n").encode()
    sends = p.send(bye, src=UAS)
    towards_uac = [parsed(s) for s in sends if (s.host, s.port) == UAC]
    assert [(m.method, m.cseq.number) for m in towards_uac] == [("BYE", 7)]


def test_no_credentials_for_the_realm_is_minus1():
    p = Proxy(UAC_CONFIG.replace("alice:biloxi.com:secret", "alice:elsewhere.org:secret"))
    uas = ChallengingUAS()
    p.net.attach(*UAS, uas)
    replies = to_uac(p.send(request("REGISTER", "sip:alice@192.0.2.20")))
    assert [r.status for r in replies] == [401]
    assert len(uas.seen) == 1 and "uac_auth failed" in p.script_logs()


def test_avp_credentials():
    params = ('modparam("uac_auth", "auth_username_avp", "$avp(u)")\n'
              'modparam("uac_auth", "auth_realm_avp", "$avp(r)")\n'
              'modparam("uac_auth", "auth_password_avp", "$avp(p)")\n')
    config = UAC_CONFIG.replace('record_route();', '$avp(u) = "carol"; $avp(r) = "biloxi.com"; '
                                '$avp(p) = "pw"; record_route();')
    p = Proxy(config.replace('route {', params + 'route {', 1))
    uas = ChallengingUAS(password="pw")
    p.net.attach(*UAS, uas)
    assert [r.status for r in to_uac(p.send(request("REGISTER", "sip:alice@192.0.2.20")))] == [200]
    assert uas.seen[-1].authorization[0].username == "carol"


def test_algorithm_filter_refuses_other_challenges():
    config = UAC_CONFIG.replace("uac_auth()", "uac_auth(\"SHA-256\")")
    p = Proxy(config)
    p.net.attach(*UAS, ChallengingUAS())
    assert [r.status for r in to_uac(p.send(request("REGISTER", "sip:alice@192.0.2.20")))] == [401]


def test_uac_auth_needs_append_fromtag():
    with pytest.raises(StartupFailure, match="append_fromtag"):
        Proxy(UAC_CONFIG.replace('route {', 'modparam("rr", "append_fromtag", 0)\nroute {', 1))


# ------------------------------------------------------------------------------------------------ stateful challenge

STATEFUL = """
loadmodule "tm.so"
loadmodule "auth.so"
modparam("auth", "username_spec", "$var(user)")
modparam("auth", "password_spec", "$var(password)")
modparam("auth", "calculate_ha1", 1)
route {
    $var(user) = "alice";
    $var(password) = "secret";
    if (!t_newtran()) exit;
    if (!pv_proxy_authorize("")) {
        proxy_challenge("", "auth");
        exit;
    }
    t_reply(603, "Decline");
}
"""


def test_challenge_after_t_newtran_is_a_stateful_reply_replayed_on_retransmission():
    p = Proxy(STATEFUL)
    phone = Phone(p, method="INVITE", ruri="sip:bob@biloxi.com")
    invite = phone.request()
    first = [parsed(s) for s in p.send(invite)]
    assert [r.status for r in first] == [100, 407]
    again = [parsed(s) for s in p.send(invite)]
    assert [r.status for r in again] == [407]
    assert again[0].header("Proxy-Authenticate") == first[1].header("Proxy-Authenticate")
    answer = [parsed(s) for s in p.send(phone.request(phone.credentials(challenge_of(first[1]))))]
    assert [r.status for r in answer] == [100, 603]


def test_uac_inc_cseq_shifts_the_request_and_restores_the_replies():
    config = UAC_CONFIG.replace("record_route();", "t_newtran(); uac_inc_cseq(5); xlog(\"inc=$rc\\n\");")
    p = Proxy(config)
    uas = ChallengingUAS()
    p.net.attach(*UAS, uas)
    replies = to_uac(p.send(request("OPTIONS", "sip:alice@192.0.2.20", cseq=10)))
    assert [(r.status, r.cseq.number) for r in replies] == [(200, 10)]
    assert [m.cseq.number for m in uas.seen] == [15]
    assert "inc=1" in p.script_logs()


def test_uac_inc_cseq_without_a_transaction_is_minus1():
    p = Proxy(UAC_CONFIG.replace("record_route();", "uac_inc_cseq(1); xlog(\"inc=$rc\\n\"); exit;"))
    p.send(request("OPTIONS", "sip:alice@192.0.2.20"))
    assert "inc=-1" in p.script_logs()


# ------------------------------------------------------------------------------------------------ with dialog
# SIPssert uac-auth/16, 19, 20: the dialog module keeps the callee leg's CSeq once uac_auth() renumbered a
# request (DLG_FLAG_CSEQ_ENFORCE): from the 2xx's CSeq on, each later request towards the callee goes one
# above the last one sent there, its ACK with the CSeq its INVITE left with, replies restored for the caller.

DIALOG_CONFIG = """
loadmodule "tm.so"
loadmodule "rr.so"
loadmodule "sipmsgops.so"
loadmodule "dialog.so"
loadmodule "uac.so"
loadmodule "uac_auth.so"
modparam("uac_auth", "credential", "alice:biloxi.com:secret")
route {
    if (has_totag()) {
        if (is_method("ACK") && t_check_trans()) { t_relay(); exit; }
        if (!loose_route() || !match_dialog()) { sl_send_reply(404, "Not here"); exit; }
        t_on_failure("auth");
        t_relay();
        exit;
    }
    record_route();
    create_dialog();
    t_on_failure("auth");
    t_relay();
}
failure_route[auth] {
    if (t_check_status("40[17]") && uac_auth())
        t_relay();
}
"""


class DialogCaller:
    """The caller's side of one call through the dialog proxy: INVITE, then requests through the route set."""

    def __init__(self, p: Proxy) -> None:
        self.p = p
        self.route = ""
        self.n = 0

    def send(self, method: str, cseq: int) -> list:
        self.n += 1
        if method == "INVITE" and not self.route:
            replies = to_uac(self.p.send(request("INVITE", "sip:bob@192.0.2.20", cseq=cseq)))
            self.route = f"Route: {replies[-1].header('Record-Route')}"
            return replies
        return to_uac(self.p.send(request(method, "sip:bob@192.0.2.20", to_tag="uas", cseq=cseq,
                                          branch=f"z9hG4bKseq{self.n}", extra=self.route)))


def dialog_call(challenged: tuple[str, ...]) -> tuple[Proxy, ChallengingUAS, DialogCaller]:
    p = Proxy(DIALOG_CONFIG)
    uas = ChallengingUAS(challenged=challenged)
    p.net.attach(*UAS, uas)
    return p, uas, DialogCaller(p)


def cseqs(uas: ChallengingUAS) -> list[str]:
    return [f"{m.cseq.number} {m.method}" for m in uas.seen]


def test_after_an_authenticated_invite_the_dialog_keeps_the_callee_cseq_for_ack_and_bye():
    p, uas, caller = dialog_call(("INVITE",))
    assert [(r.status, r.cseq.number) for r in caller.send("INVITE", 1)] == [(100, 1), (200, 1)]
    caller.send("ACK", 1)
    assert [(r.status, r.cseq.number) for r in caller.send("BYE", 2)] == [(200, 2)]
    assert cseqs(uas) == ["1 INVITE", "1 ACK", "2 INVITE", "2 ACK", "3 BYE"]


def test_a_challenged_bye_after_an_authenticated_invite_goes_one_higher_again():
    p, uas, caller = dialog_call(("INVITE", "BYE"))
    caller.send("INVITE", 1)
    caller.send("ACK", 1)
    assert [(r.status, r.cseq.number) for r in caller.send("BYE", 2)] == [(200, 2)]
    assert cseqs(uas) == ["1 INVITE", "1 ACK", "2 INVITE", "2 ACK", "3 BYE", "4 BYE"]


def test_invite_reinvite_and_bye_each_challenged_keep_counting_towards_the_callee():
    p, uas, caller = dialog_call(("INVITE", "BYE"))
    caller.send("INVITE", 1)
    caller.send("ACK", 1)
    assert [(r.status, r.cseq.number) for r in caller.send("INVITE", 2)] == [(100, 2), (200, 2)]
    caller.send("ACK", 2)
    assert [(r.status, r.cseq.number) for r in caller.send("BYE", 3)] == [(200, 3)]
    assert cseqs(uas) == ["1 INVITE", "1 ACK", "2 INVITE", "2 ACK", "3 INVITE", "3 ACK", "4 INVITE", "4 ACK",
                          "5 BYE", "6 BYE"]
    assert p.core.modules["dialog"].stats()["active_dialogs"] == 0


def test_a_401_to_a_reinvite_relayed_to_the_caller_moves_the_callee_counter_on():
    """dlg_update_callee_rpl_contact(): the caller answers the challenge itself with CSeq + 1, which the
    dialog shifts once more: the renumbered requests never reuse a CSeq the callee saw."""
    p = Proxy(DIALOG_CONFIG.replace("uac_auth()", "0"))  # no credentials: challenges go back to the caller
    uas = ChallengingUAS(challenged=())
    p.net.attach(*UAS, uas)
    caller = DialogCaller(p)
    caller.send("INVITE", 1)
    caller.send("ACK", 1)
    dialog = p.core.modules["dialog"].table.by_callid("a84b4c76e66710@pc33.atlanta.com")[0]
    dialog.callee.last_gen_cseq = 10  # as if we had pinged the callee
    uas.challenged = ("INVITE",)
    assert [(r.status, r.cseq.number) for r in caller.send("INVITE", 2)] == [(100, 2), (401, 2)]
    assert dialog.callee.last_gen_cseq == 12
    caller.send("INVITE", 3)  # the caller's answer to the challenge goes out above both
    assert cseqs(uas)[-2:] == ["13 INVITE", "13 ACK"]  # (challenged again: tm ACKs with its CSeq)
