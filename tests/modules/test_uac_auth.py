"""uac_auth: the credential store (modparam list and AVPs) and the Authorization header it builds, checked
against our own auth module's challenges (the two halves of digest agree) and against fixed vectors."""
from __future__ import annotations

import pytest

from opensips_py.runtime.core import StartupFailure
from opensips_py.script.context import MsgContext
from opensips_py.modules.exports import RouteType
from opensips_py.modules.uac_auth import core_hash, parse_credential
from opensips_py.sip.digest import calc_ha1, parse_challenge
from tests.modules.auth_support import Phone, challenge_of, reply_of
from tests.runtime.support import Proxy, request

UAC_HEAD = 'loadmodule "uac_auth.so"\n'
PV_AUTH = """loadmodule "auth.so"
modparam("auth", "username_spec", "$var(user)")
modparam("auth", "password_spec", "$var(password)")
modparam("auth", "calculate_ha1", 1)
route {
    $var(user) = "alice";
    $var(password) = "secret";
    $var(rc) = pv_www_authorize("");
    if ($var(rc) < 0) {
        www_challenge("", "$var(qop)", "$var(algs)");
        exit;
    }
    sl_send_reply(200, "OK");
}
"""


def uac_auth(params: str) -> object:
    return Proxy(UAC_HEAD + params + "route { exit; }").core.modules["uac_auth"]


def server(qop: str = "auth", algs: str = "") -> Proxy:
    return Proxy(PV_AUTH + f'startup_route {{ $var(qop) = "{qop}"; $var(algs) = "{algs}"; }}\n')


@pytest.mark.parametrize("qop, algs", [("auth", ""), ("", ""), ("auth-int", ""), ("auth", "SHA-256"),
                                       ("auth", "MD5-sess"), ("auth", "SHA-256-sess")])
def test_our_authorization_satisfies_our_challenge(qop, algs):
    proxy = server(qop, algs)
    store = uac_auth('modparam("uac_auth", "credential", "alice:biloxi.com:secret")\n')
    phone = Phone(proxy)
    reply = phone.send()
    challenge = store.pick_challenge(reply)
    credential = store.lookup_realm(None, challenge.realm)
    header = store.authorization(401, challenge, credential, "REGISTER", "sip:biloxi.com", b"")
    assert phone.send(header).status == 200


def test_ha1_password_with_0x_prefix():
    proxy = server()
    ha1 = calc_ha1("alice", "biloxi.com", "secret")
    store = uac_auth(f'modparam("uac_auth", "credential", "alice:biloxi.com:0x{ha1}")\n')
    phone = Phone(proxy)
    challenge = challenge_of(phone.send())
    header = store.authorization(401, challenge, store.lookup_realm(None, "biloxi.com"), "REGISTER",
                                 "sip:biloxi.com")
    assert phone.send(header).status == 200


def test_header_layout_matches_build_authorization_hdr():
    store = uac_auth('modparam("uac_auth", "credential", "bob:atlanta.com:zanzibar")\n')
    challenge = parse_challenge('Digest realm="atlanta.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
                                'opaque="5ccc069c403ebaf9f0171e9517f40e41", qop="auth,auth-int"')
    header = store.authorization(407, challenge, store.lookup_realm(None, "atlanta.com"), "INVITE",
                                 "sip:bob@biloxi.com")
    ha1 = calc_ha1("bob", "atlanta.com", "zanzibar")
    from opensips_py.sip.digest import calc_response
    response = calc_response(ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "INVITE", "sip:bob@biloxi.com",
                             qop="auth", nc="00000001", cnonce="1604159111")
    assert header == ('Proxy-Authorization: Digest username="bob", realm="atlanta.com", '
                      'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", '
                      'opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001, cnonce="1604159111", '
                      f'response="{response}", algorithm=MD5')


@pytest.mark.parametrize("text, value", [("abc", 7167810), ("dcd98b7102dd2f0e8b11d0f600bfb0c093", 1604159111),
                                         ("ab", 27998), ("h\udce9llo", 1797586499)])
def test_core_hash_matches_the_c_function(text, value):
    """Values printed by OpenSIPS's core_hash() compiled from hash_func.h (signed chars)."""
    assert core_hash(text) == value


def test_avp_credentials_come_first_when_their_realm_matches():
    store = uac_auth('modparam("uac_auth", "credential", "alice:biloxi.com:secret")\n'
                     'modparam("uac_auth", "auth_username_avp", "$avp(u)")\n'
                     'modparam("uac_auth", "auth_realm_avp", "$avp(r)")\n'
                     'modparam("uac_auth", "auth_password_avp", "$avp(p)")\n')
    ctx = MsgContext(None, RouteType.FAILURE, store.core.process)
    ctx.avps.update({"u": ["carol"], "r": ["biloxi.com"], "p": ["pw"]})
    assert store.lookup_realm(ctx, "biloxi.com").user == "carol"
    ctx.avps["r"] = ["elsewhere.org"]
    assert store.lookup_realm(ctx, "biloxi.com").user == "alice"
    assert store.lookup_realm(ctx, "unknown.org") is None


def test_the_last_credential_of_a_realm_wins():
    store = uac_auth('modparam("uac_auth", "credential", "a:r.org:1")\n'
                     'modparam("uac_auth", "credential", "b:r.org:2")\n')
    assert store.lookup_realm(None, "r.org").user == "b"


def test_pick_challenge_skips_algorithms_we_cannot_compute():
    proxy = Proxy('route { append_to_reply("WWW-Authenticate: Digest realm=\\"x\\", nonce=\\"n\\", '
                  'algorithm=AKAv1-MD5\\r\\nWWW-Authenticate: Digest realm=\\"y\\", nonce=\\"m\\"\\r\\n"); '
                  'sl_send_reply(401, "Unauthorized"); }', head=_HEAD_WITH_SIPMSGOPS)
    reply = reply_of(proxy, request("REGISTER", "sip:biloxi.com"))
    store = uac_auth("")
    assert store.pick_challenge(reply).realm == "y"
    assert store.pick_challenge(reply, {"SHA-256"}) is None


_HEAD_WITH_SIPMSGOPS = """socket = udp:192.0.2.1:5060
loadmodule "proto_udp.so"
loadmodule "sl.so"
loadmodule "signaling.so"
loadmodule "sipmsgops.so"
"""


@pytest.mark.parametrize("text", ["alice:realm", "alice::pw", ":r:pw", "al ice:r:pw", ""])
def test_bad_credentials_refuse_to_start(text):
    with pytest.raises(ValueError):
        parse_credential(text)
    with pytest.raises(StartupFailure, match="uac_auth"):
        uac_auth(f'modparam("uac_auth", "credential", "{text}")\n')


def test_partial_avp_definition_refuses_to_start():
    with pytest.raises(StartupFailure, match="partial definition"):
        uac_auth('modparam("uac_auth", "auth_username_avp", "$avp(u)")\n')
