"""The stored shape of pets. Never handed to clients: ``schema.py`` maps it to the API types."""

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from pixelpet.pets.domain import PetState
from pixelpet.pets.rules import Activity, Species

IDEMPOTENCY_INDEX = "owner_idempotency_key"


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
        name = "pets"
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

    def state(self) -> PetState:
        return PetState(
            species=self.species,
            hunger=self.hunger,
            happiness=self.happiness,
            energy=self.energy,
            activity=self.activity,
            as_of=self.as_of,
        )


class OwnerDocument(Document):
    """Per-owner bookkeeping: the pet count that enforces the per-owner cap atomically."""

    id: str = Field(alias="_id")  # type: ignore[assignment]  # the owner id (JWT sub) is the key
    pet_count: int = 0

    class Settings:
        name = "owners"


def snapshot_fields(state: PetState) -> dict[str, object]:
    """The stored fields that a new snapshot replaces."""
    return {
        "hunger": state.hunger,
        "happiness": state.happiness,
        "energy": state.energy,
        "activity": state.activity.value,
        "as_of": state.as_of,
    }


DOCUMENT_MODELS: list[type[Document]] = [PetDocument, OwnerDocument]
