"""auth on the virtual network: www_challenge()/proxy_challenge() (headers, realm, qop and algorithm
lists, stale, return 0), pv_www_authorize()/pv_proxy_authorize() with username/password specs,
consume_credentials(), the Remote-Party-ID functions, $Au, and start-up refusals."""
from __future__ import annotations

import re

import pytest

from opensips_py.runtime.core import StartupFailure
from opensips_py.sip import parse_message
from opensips_py.sip.digest import calc_ha1, parse_challenge
from tests.modules.auth_support import Phone, challenge_of, module_lines, reply_of, script_lines
from tests.runtime.support import UAS, Proxy, only, request

NONCE = r'"[A-Za-z0-9+/]{43}A"'  # 33 bytes in base64, the last one NUL (dauth_nonce.c)

HEAD = 'loadmodule "auth.so"\n'


def proxy(config: str, params: str = "") -> Proxy:
    return Proxy(HEAD + params + config)


def challenge_header(config: str, message: bytes | None = None, params: str = "") -> tuple[int, list[str]]:
    p = proxy(config, params)
    reply = reply_of(p, message or request("REGISTER", "sip:biloxi.com"))
    name = "WWW-Authenticate" if reply.status == 401 else "Proxy-Authenticate"
    return reply.status, reply.header_values(name)


# ------------------------------------------------------------------------------------------------ challenges

def test_www_challenge_sends_401_with_a_nonce_and_stops_the_script():
    p = proxy('route { www_challenge("", "auth"); xlog("after\\n"); }')
    reply = reply_of(p, request("REGISTER", "sip:biloxi.com"))
    assert (reply.status, reply.reason) == (401, "Unauthorized")
    assert re.fullmatch(rf'Digest realm="biloxi.com", nonce={NONCE}, qop="auth"',
                        reply.header("WWW-Authenticate"))
    assert reply.to.tag  # a local reply through sl: our To-tag
    assert script_lines(p) == []  # returned 0: nothing after it ran


def test_proxy_challenge_sends_407_with_the_from_domain_as_realm():
    status, values = challenge_header('route { proxy_challenge("", "auth"); }', request("INVITE"))
    assert status == 407
    assert re.fullmatch(rf'Digest realm="atlanta.com", nonce={NONCE}, qop="auth"', values[0])


def test_www_challenge_of_a_non_register_takes_the_from_domain():
    _, values = challenge_header('route { www_challenge("", "auth"); }', request("MESSAGE"))
    assert parse_challenge(values[0]).realm == "atlanta.com"


def test_proxy_challenge_of_a_register_takes_the_from_domain():
    _, values = challenge_header('route { proxy_challenge("", "auth"); }')
    assert parse_challenge(values[0]).realm == "atlanta.com"


def test_explicit_realm_with_variables():
    _, values = challenge_header('route { $var(r) = "example.net"; www_challenge("sip.$var(r)", "auth"); }')
    assert parse_challenge(values[0]).realm == "sip.example.net"


def test_realm_prefix_is_stripped_from_a_derived_realm():
    _, values = challenge_header('route { www_challenge("", "auth"); }',
                                 params='modparam("auth", "realm_prefix", "bil")\n')
    assert parse_challenge(values[0]).realm == "oxi.com"


def test_challenge_without_qop_has_neither_qop_nor_algorithm():
    _, values = challenge_header('route { www_challenge(""); }')
    assert re.fullmatch(rf'Digest realm="biloxi.com", nonce={NONCE}', values[0])


def test_explicit_md5_forces_qop_auth_and_names_the_algorithm():
    """3.4+: any algorithm list makes qop=auth mandatory when none is given."""
    _, values = challenge_header('route { www_challenge("", , "MD5"); }')
    assert re.fullmatch(rf'Digest realm="biloxi.com", nonce={NONCE}, qop="auth", algorithm=MD5', values[0])


def test_one_header_per_algorithm_strongest_first_each_with_its_own_nonce():
    _, values = challenge_header('route { www_challenge("", "auth", "MD5,SHA-256-sess,SHA-256,MD5-sess"); }')
    assert [v.rsplit("algorithm=", 1)[1] for v in values] == ["SHA-256-sess", "SHA-256", "MD5-sess", "MD5"]
    assert len({parse_challenge(v).nonce for v in values}) == 4


@pytest.mark.parametrize("qop, written", [("auth-int", "auth-int"), ("auth,auth-int", "auth-int,auth"),
                                           ("auth-int,auth", "auth,auth-int")])
def test_qop_lists_are_written_as_opensips_3_4_writes_them(qop, written):
    _, values = challenge_header(f'route {{ www_challenge("", "{qop}"); }}')
    assert f'qop="{written}"' in values[0]


def test_challenge_to_an_unreadable_from_uri_is_400():
    message = request("INVITE").replace(b"<sip:alice@atlanta.com>", b"<tel:+4930123>")
    p = proxy('route { proxy_challenge("", "auth"); xlog("after\\n"); }')
    reply = reply_of(p, message)
    assert reply.status == 400
    assert script_lines(p) == []
    assert module_lines(p, "auth") == ["ERROR:failed to extract URI"]


def test_bad_qop_in_a_variable_returns_minus1():
    p = proxy('route { $var(q) = "auth-conf"; www_challenge("", "$var(q)"); xlog("rc=$rc\\n"); }')
    assert p.send(request("REGISTER", "sip:biloxi.com")) == []
    assert script_lines(p) == ["rc=-1"]
    assert module_lines(p, "auth") == ["ERROR:bad qop type 'auth-conf'"]


def test_appended_reply_headers_go_out_with_the_challenge():
    p = Proxy(HEAD + 'loadmodule "sipmsgops.so"\n'
              'route { append_to_reply("X-Why: test\\r\\n"); www_challenge("", "auth"); }')
    reply = reply_of(p, request("REGISTER", "sip:biloxi.com"))
    assert reply.header("X-Why") == "test" and reply.header("WWW-Authenticate")


# ------------------------------------------------------------------------------------------------ pv_*_authorize

PV_CONFIG = """
modparam("auth", "username_spec", "$var(user)")
modparam("auth", "password_spec", "$avp(password)")
route {
    $var(user) = "alice";
    $avp(password) = "$var(pw)";
    $var(rc) = pv_www_authorize("");
    xlog("rc=$var(rc) Au=$Au\\n");
    if ($var(rc) < 0) {
        www_challenge("", "auth");
        exit;
    }
    sl_send_reply(200, "OK");
}
startup_route { $var(pw) = "secret"; }
"""


def pv_proxy(params: str = 'modparam("auth", "calculate_ha1", 1)\n', config: str = PV_CONFIG) -> Proxy:
    return proxy(config, params)


def codes(p: Proxy) -> list[str]:
    return [line.split()[0] for line in script_lines(p) if line.startswith("rc=")]


def test_pv_www_authorize_with_a_password_from_an_avp():
    p = pv_proxy()
    assert Phone(p).authorized().status == 200
    assert script_lines(p) == ["rc=-4 Au=alice@atlanta.com", "rc=1 Au=alice@biloxi.com"]


def test_pv_www_authorize_wrong_password_is_minus2():
    p = pv_proxy()
    assert Phone(p, password="nope").authorized().status == 401
    assert codes(p)[-1] == "rc=-2"


def test_pv_www_authorize_other_user_is_minus1():
    p = pv_proxy()
    assert Phone(p, user="bob").authorized().status == 401
    assert codes(p)[-1] == "rc=-1"


def test_pv_www_authorize_username_compares_case_insensitively():
    p = pv_proxy()
    phone = Phone(p, user="ALICE")  # HA1 is computed over the username as sent
    assert phone.send(phone.credentials(phone.challenged())).status == 200
    assert codes(p)[-1] == "rc=1"


def test_pv_www_authorize_with_ha1_in_the_password_spec():
    ha1 = calc_ha1("alice", "biloxi.com", "secret")
    p = proxy(PV_CONFIG.replace('$var(pw) = "secret"', f'$var(pw) = "{ha1}"'))
    assert Phone(p).authorized().status == 200


def test_pv_www_authorize_with_ha1_and_sha256_sess():
    ha1 = calc_ha1("alice", "biloxi.com", "secret", "SHA-256")
    config = PV_CONFIG.replace('$var(pw) = "secret"', f'$var(pw) = "{ha1}"') \
        .replace('www_challenge("", "auth")', 'www_challenge("", "auth", "SHA-256-sess")')
    p = proxy(config)
    assert Phone(p).authorized().status == 200


def test_pv_authorize_without_the_specs_answers_500_and_stops():
    p = proxy(PV_CONFIG.split("route {", 1)[0].replace('modparam("auth", "password_spec", "$avp(password)")', "")
              + "route {" + PV_CONFIG.split("route {", 1)[1])
    phone = Phone(p)
    reply = phone.send(phone.credentials(phone.challenged()))
    assert (reply.status, reply.reason) == (500, "Server Internal Error")
    assert codes(p) == ["rc=-4"]


def test_pv_authorize_with_an_empty_password_answers_500():
    p = proxy(PV_CONFIG.replace('$var(pw) = "secret"', '$var(pw) = ""'))
    phone = Phone(p)
    assert phone.send(phone.credentials(phone.challenged())).status == 500


def test_pv_proxy_authorize_reads_proxy_authorization_only():
    config = PV_CONFIG.replace("pv_www_authorize", "pv_proxy_authorize").replace("www_challenge", "proxy_challenge")
    p = pv_proxy(config=config)
    phone = Phone(p, method="INVITE", ruri="sip:bob@biloxi.com")
    challenge = phone.challenged()
    assert challenge.realm == "atlanta.com"
    as_www = phone.credentials(challenge).replace("Proxy-Authorization", "Authorization")
    assert phone.send(as_www).status == 407
    assert phone.send(phone.credentials(phone.challenged())).status == 200
    assert codes(p) == ["rc=-4", "rc=-4", "rc=-4", "rc=1"]


# ------------------------------------------------------------------------------------------------ consume, RPID

FORWARDING = """
modparam("auth", "username_spec", "$var(user)")
modparam("auth", "password_spec", "$var(password)")
modparam("auth", "calculate_ha1", 1)
route {
    $var(user) = "alice";
    $var(password) = "secret";
    if (!pv_proxy_authorize("")) {
        proxy_challenge("", "auth");
        exit;
    }
    xlog("consume=$(rc)\\n");
    ROUTE_BODY
    forward("udp:192.0.2.20:5060");
}
"""


def forwarded(body: str, params: str = "") -> tuple[bytes, Proxy]:
    p = proxy(FORWARDING.replace("ROUTE_BODY", body), params)
    phone = Phone(p, method="INVITE", ruri="sip:bob@biloxi.com")
    header = phone.credentials(phone.challenged())
    out = only(p.send(phone.request(header)))
    assert (out.host, out.port) == UAS
    return out.data, p


def test_consume_credentials_removes_the_checked_header_from_the_forwarded_request():
    data, p = forwarded('xlog("consume=$rc\\n"); consume_credentials(); xlog("consumed=$rc\\n");')
    assert b"Proxy-Authorization" not in data
    assert "consumed=1" in script_lines(p)


def test_consume_credentials_without_authorized_credentials_is_minus1():
    p = proxy('route { consume_credentials(); xlog("rc=$rc\\n"); }')
    p.send(request("INVITE"))
    assert script_lines(p) == ["rc=-1"]


def test_append_rpid_hf_appends_the_rpid_avp_with_the_default_suffix():
    data, _ = forwarded('$avp(rpid) = "<sip:+4930123@atlanta.com>"; append_rpid_hf();')
    assert parse_message(data).header("Remote-Party-ID") == \
        "<sip:+4930123@atlanta.com>;party=calling;id-type=subscriber;screen=yes"


def test_append_rpid_hf_with_prefix_and_suffix_and_rpid_avp_param():
    data, _ = forwarded('$avp(caller) = "<sip:+4930123@atlanta.com>"; append_rpid_hf("\\"A\\" ", ";screen=no");',
                        'modparam("auth", "rpid_avp", "$avp(caller)")\n')
    assert parse_message(data).header("Remote-Party-ID") == '"A" <sip:+4930123@atlanta.com>;screen=no'


@pytest.mark.parametrize("rpid, expected", [("<sip:+4930123@atlanta.com>", 1), ("sip:+4930123@x", 1),
                                            ("<sip:alice@atlanta.com>", -1), ("<sip:+49a@x>", -1), ("", -1)])
def test_is_rpid_user_e164(rpid, expected):
    p = proxy(f'route {{ $avp(rpid) = "{rpid}"; is_rpid_user_e164(); xlog("rc=$rc\\n"); }}')
    p.send(request("INVITE"))
    assert script_lines(p) == [f"rc={expected}"]


def test_rpid_functions_without_an_rpid_avp_are_minus1():
    p = proxy('route { append_rpid_hf(); xlog("a=$rc\\n"); is_rpid_user_e164(); xlog("e=$rc\\n"); }',
              'modparam("auth", "rpid_avp", "")\n')
    p.send(request("INVITE"))
    assert script_lines(p) == ["a=-1", "e=-1"]


# ------------------------------------------------------------------------------------------------ start-up

def test_secret_must_be_32_characters():
    with pytest.raises(StartupFailure, match="exactly 32"):
        proxy("route { exit; }", 'modparam("auth", "secret", "short")\n')


def test_auth_needs_signaling():
    head = 'socket = udp:192.0.2.1:5060\nloadmodule "proto_udp.so"\nloadmodule "sl.so"\n'
    with pytest.raises(StartupFailure, match="signaling"):
        Proxy(HEAD + "route { exit; }", head=head)


def test_password_spec_must_be_a_variable():
    with pytest.raises(StartupFailure, match="password spec"):
        proxy("route { exit; }", 'modparam("auth", "password_spec", "password")\n')


def test_challenge_reply_to_a_retransmitted_request_keeps_its_to_tag():
    p = proxy('route { www_challenge("", "auth"); }')
    register = request("REGISTER", "sip:biloxi.com")
    first, second = reply_of(p, register), reply_of(p, register)
    assert first.to.tag == second.to.tag
    assert challenge_of(first).nonce != challenge_of(second).nonce  # stateless: a new nonce each time
