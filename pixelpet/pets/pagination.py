"""Opaque Relay cursors: clients pass them back and never parse them."""

import base64
import binascii
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from bson.errors import InvalidId

from pixelpet.errors import InvalidInput
from pixelpet.pets.documents import PetDocument
from pixelpet.pets.repository import PagePosition

_VERSION = "v1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def encode_cursor(pet: PetDocument) -> str:
    millis = (pet.created_at - _EPOCH) // _MILLISECOND
    raw = f"{_VERSION}:{millis}:{pet.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> PagePosition:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        version, millis, pet_id = base64.urlsafe_b64decode(padded.encode()).decode().split(":")
        if version != _VERSION:
            raise ValueError(version)
        return PagePosition(_EPOCH + int(millis) * _MILLISECOND, ObjectId(pet_id))
    # OverflowError: a timestamp past the year 9999 (a crafted cursor) is bad input too, not a server fault.
    except (ValueError, OverflowError, binascii.Error, InvalidId, UnicodeDecodeError) as error:
        raise InvalidInput("`after` is not a cursor this API returned.") from error
