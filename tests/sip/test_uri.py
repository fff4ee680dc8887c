"""URIs: parts, escaping (RFC 3261 §19.1.2), comparison (§19.1.4, with the RFC's own examples), rebuilding."""
from __future__ import annotations

import pytest

from opensips_py.sip import URI, SIPParseError, escape, parse_uri, unescape


def test_sip_uri_parts() -> None:
    uri = parse_uri("sips:alice:secret@[2001:db8::10]:5061;transport=TCP;lr;maddr=239.255.255.1?subject=hi&x=1")
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == (
        "sips", "alice", "secret", "[2001:db8::10]", 5061)
    assert uri.params == {"transport": "TCP", "lr": None, "maddr": "239.255.255.1"}
    assert uri.transport == "tcp" and uri.lr and uri.maddr == "239.255.255.1"
    assert uri.headers == {"subject": "hi", "x": "1"}
    assert uri.hostport == "[2001:db8::10]:5061"
    assert str(uri) == uri.raw


def test_host_only_and_ipv4_uris() -> None:
    uri = URI("sip:192.0.2.4")
    assert uri.user is None and uri.host == "192.0.2.4" and uri.port is None and uri.params == {}
    assert URI("SIP:Example.COM").scheme == "sip"
    assert URI("sip:edge.example.com;lr;ob").ob and not URI("sip:edge.example.com;lr").ob


def test_tel_uri_keeps_number_and_params() -> None:
    uri = URI("tel:+1-201-555-0123;phone-context=example.com")
    assert (uri.scheme, uri.user, uri.host) == ("tel", "+1-201-555-0123", None)
    assert uri.params == {"phone-context": "example.com"}
    assert uri == URI("tel:+1.201.555.0123;Phone-Context=EXAMPLE.com")
    assert uri != URI("tel:+1-201-555-0124;phone-context=example.com")


def test_unknown_scheme_is_opaque() -> None:
    uri = URI("urn:service:sos")
    assert (uri.scheme, uri.opaque, uri.is_sip) == ("urn", "service:sos", False)


@pytest.mark.parametrize("text", [
    "sip:", "sip:@example.com", "sip:alice@", "sip:alice@host:99999", "sip:alice@host:", "sip:a@ho st",
    "sip:a@host;;lr", "sip:a@host;=x", "sip:a@host?novalue", "nocolon", "1sip:a@b", "sip:a@host junk",
    "sip:a@<host>", "sip:a@host!x",
])
def test_malformed_uris_raise_400(text: str) -> None:
    with pytest.raises(SIPParseError) as caught:
        URI(text)
    assert caught.value.code == 400


# RFC 3261 §19.1.4: the equivalent and non-equivalent pairs given in the RFC.
EQUIVALENT = [
    ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
    ("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
     "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"),
    ("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
     "sip:alice@atlanta.com?priority=urgent&subject=project%20x"),
]
NOT_EQUIVALENT = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
]


@pytest.mark.parametrize(("a", "b"), EQUIVALENT)
def test_rfc3261_equivalent_uris_compare_equal_and_hash_alike(a: str, b: str) -> None:
    assert URI(a) == URI(b) and URI(b) == URI(a)
    assert hash(URI(a)) == hash(URI(b))


@pytest.mark.parametrize(("a", "b"), NOT_EQUIVALENT)
def test_rfc3261_non_equivalent_uris_differ(a: str, b: str) -> None:
    assert URI(a) != URI(b) and URI(b) != URI(a)


def test_reserved_escapes_stay_significant_in_comparison() -> None:
    assert URI("sip:a%3Ab@host") != URI("sip:a:b@host")
    assert URI("sip:a%3ab@host") == URI("sip:a%3Ab@host")
    assert URI("sip:%41@host") != URI("sip:a@host")       # user part is case-sensitive


def test_escape_and_unescape_are_inverse_and_never_unescape_twice() -> None:
    text = "I have spaces & ünïcode@%"
    escaped = escape(text)
    assert " " not in escaped and "@" not in escaped and "%25" in escaped
    assert unescape(escaped) == text
    assert unescape("value%2541") == "value%41"
    assert unescape("null-%00-null") == "null-\x00-null"


def test_replace_rewrites_parts_and_keeps_params_as_written() -> None:
    uri = URI("sip:alice@old.example.com:5070;transport=tcp;X=Y?h=v")
    assert str(uri.replace(user="bob")) == "sip:bob@old.example.com:5070;transport=tcp;X=Y?h=v"
    assert str(uri.replace(host="new.example.com", port=None)) == "sip:alice@new.example.com;transport=tcp;X=Y?h=v"
    assert str(uri.replace(user=None, headers="")) == "sip:old.example.com:5070;transport=tcp;X=Y"
    assert str(uri.with_param("lr")) == "sip:alice@old.example.com:5070;transport=tcp;X=Y;lr?h=v"
    assert str(uri.with_param("Transport", "udp")) == "sip:alice@old.example.com:5070;X=Y;Transport=udp?h=v"
    assert str(uri.without_params("x")) == "sip:alice@old.example.com:5070;transport=tcp?h=v"
    assert str(URI("tel:+123;a=b").replace(user="+456")) == "tel:+456;a=b"
    with pytest.raises(ValueError):
        URI("http://example.com").replace(user="x")
