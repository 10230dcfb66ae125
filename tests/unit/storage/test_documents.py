"""The stored shape of a pet and its mapping to the aggregate.

``to_pet`` maps field by field instead of validating through the Beanie model (log entry 20 of
docs/performance.md): a property test checks it reads every document the model reads, the same way.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ConfigDict, create_model

from pixelpet.pets.domain import PetState
from pixelpet.pets.pet import Pet
from pixelpet.pets.rules import Activity, Species
from pixelpet.storage.documents import (
    MalformedStoredPet,
    PetDocument,
    as_stored,
    stored_fields,
    stored_pet,
    to_pet,
)
from tests.conftest import T0

# Hypothesis takes naive bounds and adds the time zone itself.
moments = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(as_stored)
stats = st.floats(min_value=0, max_value=100, allow_nan=False) | st.integers(min_value=0, max_value=100)


@st.composite
def stored_documents(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = {
        "_id": ObjectId(),
        "owner": draw(st.text(min_size=1, max_size=20)),
        "name": draw(st.text(min_size=1, max_size=30)),
        "species": draw(st.sampled_from(Species)).value,
        "hunger": draw(stats),
        "happiness": draw(stats),
        "energy": draw(stats),
        "activity": draw(st.sampled_from(Activity)).value,
        "as_of": draw(moments),
        "created_at": draw(moments),
        "updated_at": draw(moments),
    }
    if draw(st.booleans()):
        document["version"] = draw(st.integers(min_value=1, max_value=2**40))
    if draw(st.booleans()):
        document["idempotency_key"] = draw(st.text(min_size=1, max_size=40))
    return document


# PetDocument's fields as a plain pydantic model: what validating through the Beanie document checked
# (Beanie itself will not validate without a database bound).
_MODEL = create_model(
    "StoredPet",
    __config__=ConfigDict(populate_by_name=True),
    **{
        name: (field.annotation, field)
        for name, field in PetDocument.model_fields.items()
        if name not in ("revision_id",)
    },
)


def _through_the_model(raw: dict[str, Any]) -> Pet:
    """The general path ``to_pet`` replaced: the document's fields validated by pydantic, then mapped."""
    document: Any = _MODEL.model_validate(raw)
    return Pet(
        id=str(document.id),
        owner=document.owner,
        name=document.name,
        species=document.species,
        state=PetState(
            species=document.species,
            hunger=document.hunger,
            happiness=document.happiness,
            energy=document.energy,
            activity=document.activity,
            as_of=document.as_of,
        ),
        version=document.version,
        created_at=document.created_at,
        updated_at=document.updated_at,
        idempotency_key=document.idempotency_key,
    )


@given(stored_documents())
def test_to_pet_reads_every_document_as_the_model_does(raw: dict[str, Any]) -> None:
    pet = to_pet(raw)
    assert pet == _through_the_model(raw)
    assert type(pet.state.hunger) is float


def test_what_is_stored_reads_back_as_stored() -> None:
    pet = Pet.adopt(
        id=str(ObjectId()),
        owner="ann",
        name="Rex",
        species=Species.DOG,
        at=T0 + timedelta(microseconds=654_321),
        idempotency_key="k1",
    )
    assert to_pet({"_id": ObjectId(pet.id), **stored_fields(pet)}) == stored_pet(pet)


def _stored(**change: Any) -> dict[str, Any]:
    """A stored pet's document, with ``change`` applied."""
    return {
        "_id": ObjectId(),
        "owner": "ann",
        "name": "Rex",
        "species": "DOG",
        "hunger": 1.0,
        "happiness": 2.0,
        "energy": 3.0,
        "activity": "AWAKE",
        "as_of": T0,
        "created_at": T0,
        "updated_at": T0,
        **change,
    }


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"species": "UNICORN"}, "UNICORN"),
        ({"hunger": "lots"}, "lots"),
        ({"name": None}, "expected a string"),
        ({"as_of": T0.replace(tzinfo=None)}, "aware datetime"),
        ({"created_at": "2026-01-01"}, "aware datetime"),
    ],
)
def test_a_document_that_does_not_fit_is_refused_naming_the_pet(change: dict[str, Any], says: str) -> None:
    raw = _stored(**change)
    with pytest.raises(MalformedStoredPet, match=says) as refused:
        to_pet(raw)
    assert str(raw["_id"]) in str(refused.value)


def test_naive_datetimes_are_read_as_the_utc_moments_bson_stores() -> None:
    """The repository reads pets with naive datetimes (naive_datetimes): the same pet as aware ones give."""
    aware = _stored()
    naive = aware | {name: T0.replace(tzinfo=None) for name in ("as_of", "created_at", "updated_at")}
    read = to_pet(naive, naive_utc=True)
    assert read == to_pet(aware)
    assert read.created_at.utcoffset() == timedelta(0)
    assert read.state.as_of.isoformat() == T0.isoformat()
    # A read that was to be naive and is not: a client configured otherwise, refused as any misfit.
    with pytest.raises(MalformedStoredPet, match="naive"):
        to_pet(aware, naive_utc=True)


def test_a_document_missing_a_field_is_refused() -> None:
    raw = _stored()
    del raw["energy"]
    with pytest.raises(MalformedStoredPet, match="energy"):
        to_pet(raw)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"version": 2.5}, "whole number"),
        ({"version": True}, "whole number"),
        ({"idempotency_key": 7}, "expected a string"),
    ],
)
def test_a_version_or_key_of_the_wrong_type_is_refused_not_coerced(change: dict[str, Any], says: str) -> None:
    raw = _stored(**change)
    with pytest.raises(MalformedStoredPet, match=says):
        to_pet(raw)
