"""The stored shape of pets and owners, and its mapping to the ``Pet`` aggregate.

The Beanie documents declare the collections, their fields and their indexes (``init_storage`` creates
them; ``pixelpet db indexes`` compares them); the repository reads and writes through PyMongo and maps
with ``to_pet`` / ``stored_fields``. Never handed to clients or to the core.
"""

from datetime import datetime
from typing import Any

from beanie import Document
from bson import ObjectId
from bson.errors import InvalidId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from pixelpet.pets.domain import PetState
from pixelpet.pets.pet import Pet
from pixelpet.pets.ports import MalformedPetId
from pixelpet.pets.rules import Activity, Species

IDEMPOTENCY_INDEX = "owner_idempotency_key"
PETS = "pets"
OWNERS = "owners"


class PetDocument(Document):
    """A pet: its owner, a snapshot of its stats at ``as_of``, and a version for optimistic locking."""

    owner: str
    name: str
    species: Species
    hunger: float
    happiness: float
    energy: float
    activity: Activity
    as_of: datetime
    version: int = 1
    created_at: datetime
    updated_at: datetime
    idempotency_key: str | None = None

    class Settings:
        name = PETS
        keep_nulls = False
        indexes = [  # noqa: RUF012 - Beanie reads this class attribute as is
            # pets(first, after): one owner's pets in creation order, the _id breaking ties.
            IndexModel(
                [("owner", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
                name="owner_created_at",
            ),
            # createPet(idempotencyKey): a retry finds the pet it created, and a race cannot make two.
            IndexModel(
                [("owner", ASCENDING), ("idempotency_key", ASCENDING)],
                name=IDEMPOTENCY_INDEX,
                unique=True,
                partialFilterExpression={"idempotency_key": {"$type": "string"}},
            ),
        ]
        # pet(id), actions and deletes filter on {_id, owner[, version]}: the _id index serves them.


class OwnerDocument(Document):
    """Per-owner bookkeeping: the pet count that enforces the per-owner cap atomically."""

    id: str = Field(alias="_id")  # type: ignore[assignment]  # the owner id (JWT sub) is the key
    pet_count: int = 0

    class Settings:
        name = OWNERS


DOCUMENT_MODELS: list[type[Document]] = [PetDocument, OwnerDocument]


def object_id(pet_id: str) -> ObjectId:
    try:
        return ObjectId(pet_id)
    except (InvalidId, TypeError) as error:
        raise MalformedPetId(pet_id) from error


def to_pet(raw: dict[str, Any]) -> Pet:
    """The aggregate from a stored document; a document that does not fit raises pydantic's error."""
    document = PetDocument.model_validate(raw)
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


def as_stored(moment: datetime) -> datetime:
    """MongoDB keeps milliseconds: what a read will return for ``moment``."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def stored_fields(pet: Pet) -> dict[str, Any]:
    """Every field of ``pet`` but its id, as stored."""
    state = pet.state
    fields: dict[str, Any] = {
        "owner": pet.owner,
        "name": pet.name,
        "species": pet.species.value,
        "hunger": state.hunger,
        "happiness": state.happiness,
        "energy": state.energy,
        "activity": state.activity.value,
        "as_of": as_stored(state.as_of),
        "version": pet.version,
        "created_at": as_stored(pet.created_at),
        "updated_at": as_stored(pet.updated_at),
    }
    if pet.idempotency_key is not None:
        fields["idempotency_key"] = pet.idempotency_key
    return fields
