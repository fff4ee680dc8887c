"""Digest authentication: RFC 2617 / RFC 7616 example vectors, -sess, auth-int, header parsing."""
from __future__ import annotations

import pytest

from opensips_py.sip import (
    SIPParseError, build_authorization, build_challenge, calc_ha1, calc_response, check_response,
    parse_challenge, parse_credentials, parse_message,
)

RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


def test_rfc2617_md5_qop_auth_example() -> None:
    ha1 = calc_ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    response = calc_response(ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "GET", "/dir/index.html", qop="auth",
                             nc="00000001", cnonce="0a4f113b")
    assert response == "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize(("algorithm", "expected"), [
    ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
])
def test_rfc7616_examples(algorithm: str, expected: str) -> None:
    ha1 = calc_ha1("Mufasa", "http-auth@example.org", "Circle of Life", algorithm)
    assert calc_response(ha1, RFC7616_NONCE, "GET", "/dir/index.html", algorithm=algorithm, qop="auth",
                         nc="00000001", cnonce=RFC7616_CNONCE) == expected


def test_sess_variant_hashes_nonce_and_cnonce_into_ha1() -> None:
    base = calc_ha1("u", "r", "p", "MD5")
    sess = calc_ha1("u", "r", "p", "MD5-sess", nonce="n", cnonce="c")
    assert sess != base and sess == calc_ha1("u", "r", "", "MD5-sess", nonce="n", cnonce="c", ha1=base)
    assert len(calc_ha1("u", "r", "p", "SHA-256-sess", nonce="n", cnonce="c")) == 64


def test_without_qop_uses_rfc2069_form_and_auth_int_hashes_the_body() -> None:
    ha1 = calc_ha1("u", "r", "p")
    plain = calc_response(ha1, "n", "REGISTER", "sip:r")
    assert plain != calc_response(ha1, "n", "REGISTER", "sip:r", qop="auth", nc="00000001", cnonce="c")
    with_body = calc_response(ha1, "n", "INVITE", "sip:r", qop="auth-int", nc="00000001", cnonce="c", body=b"x")
    assert with_body != calc_response(ha1, "n", "INVITE", "sip:r", qop="auth-int", nc="00000001", cnonce="c")


@pytest.mark.parametrize("algorithm", ["MD5", "MD5-sess", "SHA-256", "SHA-256-sess"])
def test_uac_answer_to_a_challenge_checks_out_at_the_server(algorithm: str) -> None:
    challenge = parse_challenge(build_challenge("example.com", "abc123", algorithm=algorithm, opaque="op"))
    assert (challenge.realm, challenge.nonce, challenge.algorithm, challenge.qop_options) == (
        "example.com", "abc123", algorithm, ["auth"])
    value = build_authorization(challenge, "alice", "s3cret", "REGISTER", "sip:example.com", cnonce="xyz", nc=3)
    credentials = parse_credentials(value)
    assert credentials.nc == "00000003" and credentials.opaque == "op" and credentials.qop == "auth"
    assert check_response(credentials, "REGISTER", password="s3cret")
    assert not check_response(credentials, "REGISTER", password="wrong")
    assert not check_response(credentials, "INVITE", password="s3cret")
    if not algorithm.endswith("-sess"):
        stored = calc_ha1("alice", "example.com", "s3cret", algorithm)
        assert check_response(credentials, "REGISTER", ha1=stored)


def test_authorization_header_is_parsed_from_a_message() -> None:
    msg = parse_message(
        b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        b"Authorization: Digest username=\"bob\", realm=\"example.com\", nonce=\"n\\\"q\",\r\n"
        b"  uri=\"sip:example.com\", response=\"0123\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c\"\r\n"
        b"WWW-Authenticate: Digest realm=\"x\", nonce=\"y\", stale=TRUE, qop=\"auth,auth-int\"\r\n"
        b"Content-Length: 0\r\n\r\n")
    (credentials,) = msg.authorization
    assert credentials.is_digest and credentials.username == "bob" and credentials.nonce == 'n"q'
    assert credentials.uri == "sip:example.com" and credentials.qop == "auth"
    (challenge,) = msg.www_authenticate
    assert challenge.stale and challenge.qop_options == ["auth", "auth-int"] and challenge.algorithm == "MD5"


@pytest.mark.parametrize("value", ["", "Digest realm", "Digest realm=\"unterminated", "Digest a=b c=d"])
def test_malformed_auth_headers_raise_400(value: str) -> None:
    with pytest.raises(SIPParseError) as caught:
        parse_credentials(value)
    assert caught.value.code == 400


def test_unknown_algorithm_never_authenticates() -> None:
    credentials = parse_credentials('Digest username="a", realm="r", nonce="n", uri="u", response="x", '
                                    'algorithm=SHA-1')
    assert not check_response(credentials, "REGISTER", password="p")
