"""Opaque Relay cursors: clients pass them back and never parse them."""

import base64
import binascii
from datetime import UTC, datetime, timedelta

from pixelpet.errors import InvalidInput
from pixelpet.pets.pet import Pet
from pixelpet.pets.ports import PagePosition

_VERSION = "v1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def encode_cursor(pet: Pet) -> str:
    millis = (pet.created_at - _EPOCH) // _MILLISECOND
    raw = f"{_VERSION}:{millis}:{pet.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> PagePosition:
    """The position a cursor names; its pet id is checked by the store (a malformed one is BAD_USER_INPUT)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        version, millis, pet_id = base64.urlsafe_b64decode(padded.encode()).decode().split(":")
        if version != _VERSION or not pet_id:
            raise ValueError(version)
        return PagePosition(_EPOCH + int(millis) * _MILLISECOND, pet_id)
    # OverflowError: a timestamp past the year 9999 (a crafted cursor) is bad input too, not a server fault.
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput("`after` is not a cursor this API returned.") from error
