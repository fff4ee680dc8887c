"""bencode: round trips, and refusals of everything that is not one bounded, well-formed value."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from opensips_py.media.bencode import BencodeError, decode, decode_prefix, encode

values = st.recursive(
    st.binary(max_size=40) | st.integers(min_value=-(2 ** 63), max_value=2 ** 64 - 1),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.binary(max_size=10), children,
                                                                      max_size=5),
    max_leaves=30,
)


@given(values)
def test_decode_of_encode_gives_the_value_back(value) -> None:
    assert decode(encode(value)) == value


def test_dictionary_keys_are_encoded_in_sorted_order() -> None:
    assert encode({"b": 1, "a": "x", b"c": [1, "y"]}) == b"d1:a1:x1:bi1e1:cli1e1:yee"


def test_decoder_accepts_keys_in_any_order_like_rtpengine() -> None:
    assert decode(b"d1:bi1e1:ai2ee") == {b"b": 1, b"a": 2}


@pytest.mark.parametrize("data", [
    b"", b"d", b"d7:command4:ping", b"d7:command4:pin", b"l", b"i12", b"5:abc", b"d3:key", b"li1e",
])
def test_truncated_input_is_refused(data: bytes) -> None:
    with pytest.raises(BencodeError):
        decode(data)


@pytest.mark.parametrize("data", [
    b"i01e", b"i-0e", b"ie", b"i-e", b"i1.5e", b"01:a", b"d1:ai1e1:ai2ee", b"di1ei2ee", b"x", b"i1ei2e",
    b"-1:a", b"i" + b"9" * 30 + b"e",
])
def test_malformed_input_is_refused(data: bytes) -> None:
    with pytest.raises(BencodeError):
        decode(data)


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    deep = b"l" * 33 + b"e" * 33
    with pytest.raises(BencodeError):
        decode(deep)
    nested: list = []
    for _ in range(31):
        nested = [nested]
    assert decode(b"l" * 32 + b"e" * 32, max_depth=32) == nested


def test_huge_dictionaries_are_refused() -> None:
    assert decode(b"de") == {}
    many = b"d" + b"".join(encode(f"k{i}") + b"i1e" for i in range(20_000)) + b"e"
    with pytest.raises(BencodeError):
        decode(many)


def test_a_string_longer_than_the_input_is_refused_without_allocating() -> None:
    with pytest.raises(BencodeError):
        decode(b"9999999999:x")


def test_decode_prefix_reports_where_the_value_ends() -> None:
    value, end = decode_prefix(b"d1:ai1ee trailing")
    assert value == {b"a": 1}
    assert end == 8


def test_encode_refuses_types_bencode_cannot_carry() -> None:
    with pytest.raises(TypeError):
        encode(True)
    with pytest.raises(TypeError):
        encode({1: 2})
    assert encode(1.5) == b"3:1.5"
