"""Cursors are opaque: any `after` a client sends is a page position or BAD_USER_INPUT, never a fault."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pixelpet.errors import ErrorCode, InvalidInput
from pixelpet.graphql.pagination import decode_cursor, encode_cursor
from pixelpet.pets.ports import PagePosition
from tests.support.pets import a_pet

VALID_ID = "6650f0c2a1b2c3d4e5f60718"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decodes_or_refuses(cursor: str) -> None:
    try:
        position = decode_cursor(cursor)
    except InvalidInput as error:
        refused = error
    else:
        assert isinstance(position, PagePosition)
        return
    assert refused.code is ErrorCode.BAD_USER_INPUT


@given(st.text())
def test_any_text_is_a_position_or_bad_user_input(cursor: str) -> None:
    decodes_or_refuses(cursor)


@given(st.binary())
def test_any_bytes_a_client_base64s_are_a_position_or_bad_user_input(raw: bytes) -> None:
    decodes_or_refuses(b64(raw))


@given(st.text(), st.text(), st.text())
def test_any_three_fields_are_a_position_or_bad_user_input(version: str, millis: str, pet_id: str) -> None:
    decodes_or_refuses(b64(f"{version}:{millis}:{pet_id}".encode()))


@given(st.integers())
def test_any_timestamp_is_a_position_or_bad_user_input(millis: int) -> None:
    decodes_or_refuses(b64(f"v1:{millis}:{VALID_ID}".encode()))


def test_a_timestamp_past_the_calendar_is_bad_user_input_not_a_server_fault() -> None:
    with pytest.raises(InvalidInput):
        decode_cursor(b64(f"v1:99999999999999999999:{VALID_ID}".encode()))


# Hypothesis takes naive bounds and adds the zone itself.
EARLIEST, LATEST = datetime(1970, 1, 1), datetime(9999, 1, 1)  # noqa: DTZ001


@given(st.datetimes(min_value=EARLIEST, max_value=LATEST, timezones=st.just(UTC)))
def test_a_cursor_the_api_returned_decodes_to_its_pet(created_at: datetime) -> None:
    created_at = created_at.replace(microsecond=created_at.microsecond // 1000 * 1000)  # stored to the ms
    pet = a_pet(id=VALID_ID, at=created_at)
    position = decode_cursor(encode_cursor(pet))
    assert position.pet_id == VALID_ID
    assert abs(position.created_at - created_at) < timedelta(milliseconds=1)
