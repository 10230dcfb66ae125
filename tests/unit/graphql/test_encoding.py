"""Every answer's JSON (encoding.py): what a client parses is what the standard library's text would give,
members in the same order, for every value a result or an error can hold and for those orjson refuses; and
without floats, the standard library's very bytes."""

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pixelpet.graphql.encoding import encode, encode_text

# Any character, lone surrogates too (a client's "\ud800" escape, echoed in an error: orjson refuses them).
CHARACTERS = st.characters() | st.characters(categories=["Cs"])
# A result's values: ints of any size (the standard library writes those past 64 bits), finite floats (GraphQL
# coerces no other), any text.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=CHARACTERS),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet=CHARACTERS, max_size=5), children, max_size=4)
    ),
    max_leaves=30,
)
WITHOUT_FLOATS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=CHARACTERS),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet=CHARACTERS, max_size=5), children, max_size=4)
    ),
    max_leaves=30,
)


def _parsed(text: str | bytes) -> Any:
    """The values a client gets, with each object's members as a list: their order counts too."""
    return json.loads(text, object_pairs_hook=list)


def _standard(data: object) -> str:
    return json.dumps(data, separators=(",", ":"))  # strawberry's own encoding


@given(JSON_VALUES)
def test_a_client_parses_the_same_values_in_the_same_order(data: object) -> None:
    encoded = encode(data)
    assert _parsed(encoded) == _parsed(_standard(data))
    assert encode_text(data) == encoded.decode("ascii"), "the text is the same bytes, all ASCII"


@given(WITHOUT_FLOATS)
def test_without_floats_the_text_is_the_standard_library_s_byte_for_byte(data: object) -> None:
    assert encode(data) == _standard(data).encode()


def test_what_orjson_refuses_is_written_by_the_standard_library() -> None:
    for refused in ({"message": "no \ud800 here"}, {"big": 2**70}, {1: "a key that is not text"}):
        assert encode(refused) == _standard(refused).encode()
        assert encode_text(refused) == _standard(refused)


def test_every_ascii_character_is_written_as_the_standard_library_writes_it() -> None:
    # DEL (0x7f) among them: ASCII, escaped by the standard library and not by orjson.
    for code in range(128):
        data = {"name": f"a{chr(code)}b"}
        assert encode(data) == _standard(data).encode(), hex(code)


def test_text_past_ascii_is_written_with_escapes_as_before() -> None:
    data = {"data": {"pet": {"name": 'Dög "Rex" 🐶\n'}}}
    assert encode(data) == b'{"data":{"pet":{"name":"D\\u00f6g \\"Rex\\" \\ud83d\\udc36\\n"}}}'


def test_floats_are_written_as_the_standard_library_parses_them() -> None:
    data = [1, 2.5, -0.0, 1e16, 1e-7, 0.1]
    assert encode(data) == b"[1,2.5,-0.0,1e+16,1e-7,0.1]"
    assert json.loads(encode(data)) == data
