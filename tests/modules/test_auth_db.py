"""auth_db on the virtual network: www_authorize()/proxy_authorize() against a SQLite subscriber table, each
return code of authorize.c/api.c (1, -1 … -4, 0 after a 400/500), nonce expiry and replay, qop and
algorithms, calculate_ha1 and the ha1 columns, use_domain, load_credentials, the uri-table checks."""
from __future__ import annotations

import sqlite3

import pytest

from opensips_py.runtime.core import StartupFailure
from opensips_py.sip.digest import build_authorization, calc_ha1
from tests.modules.auth_support import Phone, auth_proxy, challenge_of, reply_of, script_lines, subscriber_db
from tests.runtime.support import request

REGISTRAR = """
route {
    $var(rc) = www_authorize("", "subscriber");
    xlog("rc=$var(rc) au=$au Au=$Au\\n");
    if ($var(rc) < 0) {
        www_challenge("", "$var(qop)", "$var(algs)");
        exit;
    }
    sl_send_reply(200, "OK");
}
startup_route {
    $var(qop) = "auth";
    $var(algs) = "";
}
"""

CALLS = """
route {
    $var(rc) = proxy_authorize("", "subscriber");
    xlog("rc=$var(rc)\\n");
    if ($var(rc) < 0) {
        proxy_challenge("", "auth");
        exit;
    }
    sl_send_reply(603, "Decline");
}
"""

CALC_HA1 = 'modparam("auth_db", "calculate_ha1", 1)\nmodparam("auth_db", "password_column", "password")\n'


def codes(proxy) -> list[str]:
    return [line.split()[0] for line in script_lines(proxy) if line.startswith("rc=")]


@pytest.fixture
def db(tmp_path):
    return subscriber_db(tmp_path / "auth.db",
                         {"username": "alice", "domain": "biloxi.com", "password": "secret"},
                         {"username": "bob", "domain": "atlanta.com", "password": "b0b", "rpid": "<sip:+4930123@x>"})


@pytest.fixture
def registrar(db):
    return auth_proxy(REGISTRAR, db)


# ------------------------------------------------------------------------------------------------ the happy path

def test_register_with_valid_credentials_is_authorized_with_stored_ha1(registrar):
    phone = Phone(registrar)
    assert phone.authorized().status == 200
    assert codes(registrar) == ["rc=-4", "rc=1"]
    assert script_lines(registrar)[-1] == "rc=1 au=alice Au=alice@biloxi.com"


def test_calculate_ha1_reads_the_plain_password_column(db):
    proxy = auth_proxy(REGISTRAR, db, CALC_HA1)
    assert Phone(proxy).authorized().status == 200
    assert Phone(proxy, password="wrong").authorized().status == 401
    assert codes(proxy) == ["rc=-4", "rc=1", "rc=-4", "rc=-2"]


def test_proxy_authorize_takes_the_realm_from_the_from_domain(db):
    proxy = auth_proxy(CALLS, db)
    phone = Phone(proxy, user="bob", password="b0b", method="INVITE", ruri="sip:carol@biloxi.com")
    reply = phone.send()
    assert reply.status == 407 and challenge_of(reply).realm == "atlanta.com"
    assert phone.send(phone.credentials(challenge_of(reply))).status == 603
    assert codes(proxy) == ["rc=-4", "rc=1"]


# ------------------------------------------------------------------------------------------------ return codes

def test_unknown_user_returns_minus1(registrar):
    assert Phone(registrar, user="mallory").authorized().status == 401
    assert codes(registrar)[-1] == "rc=-1"


def test_wrong_password_returns_minus2(registrar):
    assert Phone(registrar, password="guess").authorized().status == 401
    assert codes(registrar)[-1] == "rc=-2"


def test_missing_credentials_return_minus4(registrar):
    assert Phone(registrar).send().status == 401
    assert codes(registrar) == ["rc=-4"]


def test_credentials_for_another_realm_count_as_missing(registrar):
    phone = Phone(registrar)
    challenge = phone.challenged()
    header = phone.credentials(challenge).replace('realm="biloxi.com"', 'realm="elsewhere.org"')
    assert phone.send(header).status == 401
    assert codes(registrar)[-1] == "rc=-4"


def test_other_schemes_are_skipped_not_rejected(registrar):
    phone = Phone(registrar)
    challenge = phone.challenged()
    reply = phone.send("Authorization: Basic YWxpY2U6c2VjcmV0", extra=phone.credentials(challenge))
    assert reply.status == 200


def test_incomplete_credentials_get_400_and_stop_the_script(registrar):
    phone = Phone(registrar)
    header = phone.credentials(phone.challenged())
    without_response = ", ".join(p for p in header.split(", ") if not p.startswith("response="))
    reply = phone.send(without_response)
    assert reply.status == 400
    assert codes(registrar) == ["rc=-4"]  # 0: the script stopped at www_authorize()


def test_qop_credentials_without_cnonce_get_400(registrar):
    phone = Phone(registrar)
    header = phone.credentials(phone.challenged())
    without_cnonce = ", ".join(p for p in header.split(", ") if not p.startswith("cnonce="))
    assert phone.send(without_cnonce).status == 400


def test_ack_and_cancel_are_always_authorized(registrar):
    ack = request("ACK", "sip:alice@biloxi.com", cseq_method="ACK")
    assert registrar.send(ack) == []  # authorized: the script's 200 to an ACK is not sent
    assert codes(registrar) == ["rc=1"]


# ------------------------------------------------------------------------------------------------ nonces

def test_replayed_request_is_stale_and_the_next_challenge_says_so(registrar):
    phone = Phone(registrar)
    replayed = phone.request(phone.credentials(phone.challenged()))
    assert reply_of(registrar, replayed).status == 200
    again = reply_of(registrar, replayed)
    assert again.status == 401
    assert challenge_of(again).stale
    assert codes(registrar)[-1] == "rc=-3"


def test_the_next_nonce_count_of_a_used_nonce_is_stale(registrar):
    phone = Phone(registrar)
    challenge = phone.challenged()
    assert phone.send(phone.credentials(challenge, nc=1)).status == 200
    reply = phone.send(phone.credentials(challenge, nc=2))
    assert reply.status == 401 and challenge_of(reply).stale
    assert codes(registrar)[-1] == "rc=-3"


def test_expired_nonce_is_stale(registrar):
    phone = Phone(registrar)
    challenge = phone.challenged()
    registrar.net.advance(31)  # nonce_expire 30
    reply = phone.send(phone.credentials(challenge))
    assert reply.status == 401 and challenge_of(reply).stale
    assert codes(registrar)[-1] == "rc=-3"


def test_nonce_is_valid_until_nonce_expire(db):
    proxy = auth_proxy(REGISTRAR, db, 'modparam("auth", "nonce_expire", 300)\n')
    phone = Phone(proxy)
    challenge = phone.challenged()
    proxy.net.advance(299)
    assert phone.send(phone.credentials(challenge)).status == 200


def test_forged_nonce_is_stale(registrar):
    phone = Phone(registrar)
    challenge = phone.challenged()
    forged = type(challenge)(challenge.scheme, {**challenge.params, "nonce": "A" * 44})
    assert phone.send(phone.credentials(forged)).status == 401
    assert codes(registrar)[-1] == "rc=-3"


def test_nonce_from_another_proxy_is_stale_unless_they_share_the_secret(db):
    """Each proxy tracks the nonces it issued; with the check off, a shared secret is enough."""
    secret = 'modparam("auth", "secret", "0123456789abcdef0123456789abcdef")\n' \
        'modparam("auth", "disable_nonce_check", 1)\n'
    first, second = auth_proxy(REGISTRAR, db, secret), auth_proxy(REGISTRAR, db, secret)
    third = auth_proxy(REGISTRAR, db, 'modparam("auth", "disable_nonce_check", 1)\n')
    phone = Phone(first)
    header = phone.credentials(phone.challenged())
    assert Phone(third).send(header).status == 401  # a random secret of its own
    assert Phone(second).send(header).status == 200


def test_nonce_issued_by_another_instance_is_stale_with_the_nonce_check(db):
    secret = 'modparam("auth", "secret", "0123456789abcdef0123456789abcdef")\n'
    first, second = auth_proxy(REGISTRAR, db, secret), auth_proxy(REGISTRAR, db, secret)
    phone = Phone(first)
    assert Phone(second).send(phone.credentials(phone.challenged())).status == 401
    assert codes(second) == ["rc=-3"]


def test_disable_nonce_check_lets_a_nonce_be_used_until_it_expires(db):
    proxy = auth_proxy(REGISTRAR, db, 'modparam("auth", "disable_nonce_check", 1)\n')
    phone = Phone(proxy)
    challenge = phone.challenged()
    assert phone.send(phone.credentials(challenge, nc=1)).status == 200
    assert phone.send(phone.credentials(challenge, nc=2)).status == 200
    proxy.net.advance(31)
    assert phone.send(phone.credentials(challenge, nc=3)).status == 401


# ------------------------------------------------------------------------------------------------ qop, algorithms

def test_credentials_without_qop_answer_a_qop_auth_challenge(registrar):
    """RFC 8760: a missing qop counts as "auth" when the nonce was issued with qop=auth."""
    phone = Phone(registrar)
    assert phone.send(phone.credentials_without_qop(phone.challenged())).status == 200


def test_challenge_without_qop_takes_rfc2069_credentials(db):
    proxy = auth_proxy(REGISTRAR.replace('$var(qop) = "auth"', '$var(qop) = ""'), db)
    phone = Phone(proxy)
    challenge = phone.challenged()
    assert "qop" not in challenge.params
    assert phone.send(phone.credentials_without_qop(challenge)).status == 200


def test_qop_auth_credentials_for_a_nonce_without_qop_are_stale(db):
    proxy = auth_proxy(REGISTRAR.replace('$var(qop) = "auth"', '$var(qop) = ""'), db)
    phone = Phone(proxy)
    challenge = phone.challenged()
    with_qop = type(challenge)(challenge.scheme, {**challenge.params, "qop": "auth"})
    assert phone.send(phone.credentials(with_qop)).status == 401
    assert codes(proxy)[-1] == "rc=-3"


def test_auth_int_protects_the_body(db):
    proxy = auth_proxy(REGISTRAR.replace('$var(qop) = "auth"', '$var(qop) = "auth-int"'), db)
    phone = Phone(proxy)
    challenge = phone.challenged()
    assert challenge.qop_options == ["auth-int"]
    body = "v=0"
    good = phone.credentials(challenge, body=body.encode())
    assert phone.send(good, body=body).status == 200
    tampered = phone.credentials(phone.challenged(), body=body.encode())
    assert phone.send(tampered, body="v=1").status == 401
    assert codes(proxy)[-1] == "rc=-2"


def test_sha256_challenge_offers_sha256_first_and_authorizes_from_ha1_sha256(db):
    proxy = auth_proxy(REGISTRAR.replace('$var(algs) = ""', '$var(algs) = "MD5,SHA-256"'), db)
    phone = Phone(proxy)
    reply = phone.send()
    offers = [v for v in reply.header_values("WWW-Authenticate")]
    assert [o.rsplit("algorithm=", 1)[1] for o in offers] == ["SHA-256", "MD5"]
    from opensips_py.sip.digest import parse_challenge
    sha = parse_challenge(offers[0])
    assert sha.algorithm == "SHA-256" and sha.nonce != parse_challenge(offers[1]).nonce
    assert phone.send(phone.credentials(sha)).status == 200
    assert phone.send(phone.credentials(parse_challenge(phone.send().header_values("WWW-Authenticate")[1]))) \
        .status == 200


def test_sha256_credentials_for_an_md5_nonce_are_stale(db):
    proxy = auth_proxy(REGISTRAR, db)
    phone = Phone(proxy)
    challenge = phone.challenged()
    sha = type(challenge)(challenge.scheme, {**challenge.params, "algorithm": "SHA-256"})
    assert phone.send(phone.credentials(sha)).status == 401
    assert codes(proxy)[-1] == "rc=-3"


def test_sha256_with_an_empty_ha1_sha256_column_is_a_500(tmp_path):
    db = subscriber_db(tmp_path / "a.db", {"username": "alice", "domain": "biloxi.com", "password": "secret",
                                          "ha1_sha256": ""})
    proxy = auth_proxy(REGISTRAR.replace('$var(algs) = ""', '$var(algs) = "SHA-256"'), db)
    phone = Phone(proxy)
    reply = phone.send(phone.credentials(phone.challenged()))
    assert (reply.status, reply.reason) == (500, "Server Internal Error")
    assert codes(proxy) == ["rc=-4"]  # 0 after the 500: the script stopped


def test_sha256_with_calculate_ha1_hashes_the_password(db):
    proxy = auth_proxy(REGISTRAR.replace('$var(algs) = ""', '$var(algs) = "SHA-256"'), db, CALC_HA1)
    assert Phone(proxy).authorized().status == 200


@pytest.mark.parametrize("algorithm", ["MD5-sess", "SHA-256-sess"])
def test_sess_algorithms_authorize(db, algorithm):
    proxy = auth_proxy(REGISTRAR.replace('$var(algs) = ""', f'$var(algs) = "{algorithm}"'), db)
    phone = Phone(proxy)
    challenge = phone.challenged()
    assert challenge.algorithm == algorithm
    assert phone.send(phone.credentials(challenge)).status == 200


def test_response_in_upper_case_hex_is_refused_as_opensips_does(registrar):
    phone = Phone(registrar)
    header = phone.credentials(phone.challenged())
    response = header.split('response="')[1].split('"')[0]
    assert phone.send(header.replace(response, response.upper())).status == 401
    assert codes(registrar)[-1] == "rc=-2"


# ------------------------------------------------------------------------------------------------ table lookup

def test_without_use_domain_the_domain_column_is_ignored(tmp_path):
    db = subscriber_db(tmp_path / "a.db", {"username": "alice", "domain": "", "password": "secret",
                                          "realm": "biloxi.com"})
    assert Phone(auth_proxy(REGISTRAR, db)).authorized().status == 200


def test_use_domain_matches_the_realm_against_the_domain_column(tmp_path):
    db = subscriber_db(tmp_path / "a.db", {"username": "alice", "domain": "elsewhere.org", "password": "secret",
                                          "realm": "biloxi.com"})
    proxy = auth_proxy(REGISTRAR, db, 'modparam("auth_db", "use_domain", 1)\n')
    assert Phone(proxy).authorized().status == 401
    assert codes(proxy)[-1] == "rc=-1"
    con = sqlite3.connect(db)
    con.execute("UPDATE subscriber SET domain = 'biloxi.com'")
    con.commit()
    assert Phone(proxy).authorized().status == 200


def test_username_with_a_domain_looks_up_that_domain_and_hashes_the_whole_name(tmp_path):
    db = subscriber_db(tmp_path / "a.db", {"username": "alice", "domain": "atlanta.com", "password": "secret"})
    proxy = auth_proxy(REGISTRAR, db, CALC_HA1 + 'modparam("auth_db", "use_domain", 1)\n')
    phone = Phone(proxy, user="alice@atlanta.com")
    assert phone.authorized().status == 200
    assert script_lines(proxy)[-1] == "rc=1 au=alice Au=alice@atlanta.com"


def test_load_credentials_sets_avps_only_when_authorized(db):
    config = CALLS.replace('sl_send_reply(603, "Decline");', 'xlog("rpid=$avp(rpid) e=$avp(mail)\\n");\n'
                                                               '        sl_send_reply(603, "Decline");')
    proxy = auth_proxy(config, db, 'modparam("auth_db", "load_credentials", "rpid;$avp(mail)=email_address")\n')
    phone = Phone(proxy, user="bob", password="b0b", method="INVITE", ruri="sip:carol@biloxi.com")
    assert phone.authorized().status == 603
    assert "rpid=<sip:+4930123@x> e=<null>" in script_lines(proxy)


def test_default_load_credentials_is_skipped_when_the_table_has_no_rpid_column(tmp_path):
    path = tmp_path / "a.db"
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE version (table_name CHAR(32), table_version INTEGER);
        INSERT INTO version VALUES ('subscriber', 8);
        CREATE TABLE subscriber (id INTEGER PRIMARY KEY, username CHAR(64), domain CHAR(64), password CHAR(25),
            ha1 CHAR(64), ha1_sha256 CHAR(64), ha1_sha512t256 CHAR(64));""")
    con.execute("INSERT INTO subscriber (username, domain, password, ha1) VALUES ('alice', '', 'secret', ?)",
                (calc_ha1("alice", "biloxi.com", "secret"),))
    con.commit()
    assert Phone(auth_proxy(REGISTRAR, path)).authorized().status == 200


def test_a_missing_subscriber_table_is_created_empty(tmp_path):
    proxy = auth_proxy(REGISTRAR, tmp_path / "fresh.db")
    assert Phone(proxy).authorized().status == 401
    assert codes(proxy)[-1] == "rc=-1"
    assert sqlite3.connect(tmp_path / "fresh.db").execute(
        "SELECT table_version FROM version WHERE table_name = 'subscriber'").fetchone() == (8,)


def test_wrong_table_version_refuses_to_start(db):
    con = sqlite3.connect(db)
    con.execute("UPDATE version SET table_version = 7")
    con.commit()
    with pytest.raises(StartupFailure, match="version"):
        auth_proxy(REGISTRAR, db)
    assert Phone(auth_proxy(REGISTRAR, db, 'modparam("auth_db", "skip_version_check", 1)\n')).authorized() \
        .status == 200


def test_auth_db_without_db_url_refuses_to_start():
    with pytest.raises(StartupFailure, match="db_url"):
        auth_proxy(REGISTRAR)


def test_auth_db_without_db_url_uses_the_core_db_default_url(db):
    proxy = auth_proxy(f'db_default_url = "sqlite://{db}"\n' + REGISTRAR)
    assert Phone(proxy).authorized().status == 200
    assert Phone(proxy, password="wrong").authorized().status == 401


# ------------------------------------------------------------------------------------------------ uri table checks

URI_TABLE = """
CREATE TABLE uri (id INTEGER PRIMARY KEY, username CHAR(64), domain CHAR(64), uri_user CHAR(64));
INSERT INTO version VALUES ('uri', 8);
INSERT INTO uri (username, domain, uri_user) VALUES ('bob', 'atlanta.com', 'alice');
"""


def test_db_is_from_authorized_and_db_get_auth_id(db):
    sqlite3.connect(db).executescript(URI_TABLE)
    config = CALLS.replace('sl_send_reply(603, "Decline");', """
        xlog("from=$rc\\n");
        $var(f) = db_is_from_authorized("uri");
        $var(t) = db_is_to_authorized("uri");
        $var(g) = db_get_auth_id("uri", "sip:alice@atlanta.com", $var(u), $var(r));
        $var(x) = db_get_auth_id("uri", "sip:nobody@atlanta.com", $var(u2), $var(r2));
        $var(e) = db_does_uri_exist("sip:bob@atlanta.com", "subscriber");
        $var(n) = db_does_uri_exist("sip:nobody@atlanta.com", "subscriber");
        xlog("checks $var(f) $var(t) $var(g) $var(u)@$var(r) $var(x) $var(e) $var(n)\\n");
        sl_send_reply(603, "Decline");""")
    proxy = auth_proxy(config, db)
    Phone(proxy, user="bob", password="b0b", method="INVITE", ruri="sip:carol@biloxi.com").authorized()
    assert "checks 1 -9 1 bob@atlanta.com -4 1 -5" in script_lines(proxy)


def test_db_is_from_authorized_before_authorize_is_a_script_error(db):
    sqlite3.connect(db).executescript(URI_TABLE)
    proxy = auth_proxy('route { $var(f) = db_is_from_authorized("uri"); xlog("f=$var(f)\\n"); }', db)
    proxy.send(request("INVITE"))
    assert "f=-2" in script_lines(proxy)


def test_build_authorization_helper_matches_the_module(registrar):
    """The phone's helper and the proxy agree on one fixed case (guards the helper itself)."""
    phone = Phone(registrar)
    challenge = phone.challenged()
    value = build_authorization(challenge, "alice", "secret", "REGISTER", "sip:biloxi.com", cnonce="x", nc=1)
    assert reply_of(registrar, phone.request("Authorization: " + value)).status == 200
