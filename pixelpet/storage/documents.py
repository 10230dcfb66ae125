"""The stored shape of pets and owners, and its mapping to the ``Pet`` aggregate.

The Beanie documents declare the collections, their fields and their indexes (``init_storage`` creates
them; ``pixelpet db indexes`` compares them); the repository reads and writes through PyMongo and maps
with ``to_pet`` / ``stored_fields``. Never handed to clients or to the core.
"""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from beanie import Document
from bson import CodecOptions, ObjectId
from bson.errors import InvalidId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from pixelpet.pets.domain import PetState
from pixelpet.pets.pet import Pet
from pixelpet.pets.ports import IDEMPOTENCY_WINDOW, KeyedRequest, MalformedPetId, Outcome
from pixelpet.pets.rules import Activity, Species

IDEMPOTENCY_INDEX = "owner_idempotency_key"
PETS = "pets"
OWNERS = "owners"
OUTCOMES = "outcomes"
# MongoDB's TTL monitor deletes an expired outcome within about a minute of its expiry; until then the
# repository replaces it in place (``made_at`` older than the window), so the window is exact either way.
OUTCOMES_EXPIRY_INDEX = "made_at_expiry"


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


class OutcomeDocument(Document):
    """What one keyed request did (docs/decisions/0020-retry-safe-actions.md), kept for the idempotency
    window; its ``_id`` is ``{owner, key}``, so an owner's key records one request, atomically."""

    id: dict[str, str] = Field(alias="_id")  # type: ignore[assignment]  # {owner, key}
    kind: str
    pet_id: str | None = None
    details: str = ""
    made_at: datetime
    pet: dict[str, Any] | None = None  # the pet the first answer returned, stored as in ``pets``

    class Settings:
        name = OUTCOMES
        indexes = [  # noqa: RUF012 - Beanie reads this class attribute as is
            IndexModel(
                [("made_at", ASCENDING)],
                name=OUTCOMES_EXPIRY_INDEX,
                expireAfterSeconds=int(IDEMPOTENCY_WINDOW.total_seconds()),
            ),
        ]
        # outcome(owner, key) and every write of one filter on _id: the _id index serves them.


DOCUMENT_MODELS: list[type[Document]] = [PetDocument, OwnerDocument, OutcomeDocument]


def object_id(pet_id: str) -> ObjectId:
    try:
        return ObjectId(pet_id)
    except (InvalidId, TypeError) as error:
        raise MalformedPetId(pet_id) from error


class MalformedStoredPet(ValueError):
    """A stored pet document lacks a field or holds a value the service cannot read."""


def to_pet(raw: dict[str, Any], *, naive_utc: bool = False) -> Pet:
    """The aggregate from a stored document.

    Mapped field by field rather than validated through ``PetDocument``: the driver already decodes BSON
    to the right Python types (aware datetimes; naive ones, taken as UTC, with ``naive_utc``: the reads
    through ``naive_datetimes``), and a Beanie model built per pet read
    cost more than the mapping (docs/performance.md, log entry 20). Enums, numbers, texts and times are
    still checked; a document that does not fit raises ``MalformedStoredPet`` naming the pet.
    """
    moment = _naive_utc if naive_utc else _aware
    try:
        species = _SPECIES[raw["species"]]
        state = PetState(
            species=species,
            hunger=float(raw["hunger"]),
            happiness=float(raw["happiness"]),
            energy=float(raw["energy"]),
            activity=_ACTIVITIES[raw["activity"]],
            as_of=moment(raw["as_of"]),
        )
        return Pet(
            id=str(raw["_id"]),
            owner=_text(raw["owner"]),
            name=_text(raw["name"]),
            species=species,
            state=state,
            version=_whole(raw.get("version", 1)),
            created_at=moment(raw["created_at"]),
            updated_at=moment(raw["updated_at"]),
            idempotency_key=None if raw.get("idempotency_key") is None else _text(raw["idempotency_key"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedStoredPet(f"stored pet {raw.get('_id')!r} does not fit: {error!r}") from error


# Looked up by stored value: a dictionary is several times cheaper than calling the enum.
_SPECIES = {species.value: species for species in Species}
_ACTIVITIES = {activity.value: activity for activity in Activity}


def _text(value: object) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string, found {type(value).__name__}")
    return value


def _whole(value: object) -> int:
    # Not int(): a version of 2.5 must not be read as 2 (every version-checked write would then conflict).
    if type(value) is not int:
        raise TypeError(f"expected a whole number, found {value!r}")
    return value


def _aware(value: object) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise TypeError(f"expected an aware datetime, found {value!r}")
    return value


def _naive_utc(value: object) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is not None:
        raise TypeError(f"expected a naive (UTC) datetime, found {value!r}")
    return _UTC_EPOCH + (value - _NAIVE_EPOCH)  # exact; a tenth of what replace(tzinfo=UTC) costs


_NAIVE_EPOCH = datetime(1970, 1, 1)  # noqa: DTZ001 - the naive twin of the epoch below
_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def naive_datetimes(options: CodecOptions[Any]) -> CodecOptions[Any]:
    """The client's codec options, but decoding datetimes naive: ``to_pet`` makes them aware (UTC) for a
    tenth of what the driver's own aware decoding costs (a ``replace`` call per datetime, three per pet:
    docs/performance.md, log entry 41)."""
    return options.with_options(tz_aware=False, tzinfo=None)


def as_stored(moment: datetime) -> datetime:
    """MongoDB keeps milliseconds: what a read will return for ``moment``."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def stored_pet(pet: Pet) -> Pet:
    """``pet`` as a read will return it (times cut to MongoDB's milliseconds)."""
    return replace(
        pet,
        state=pet.state._replace(as_of=as_stored(pet.state.as_of)),
        created_at=as_stored(pet.created_at),
        updated_at=as_stored(pet.updated_at),
    )


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


def outcome_id(owner: str, key: str) -> dict[str, str]:
    return {"owner": owner, "key": key}


def outcome_fields(request: KeyedRequest, pet: Pet | None) -> dict[str, Any]:
    """The stored outcome of ``request`` (``pet``: what it returned, as stored; None for a deletion)."""
    return {
        "kind": request.kind,
        "pet_id": request.pet_id,
        "details": request.details,
        "made_at": as_stored(request.made_at),
        "pet": None if pet is None else {"_id": object_id(pet.id), **stored_fields(pet)},
    }


def to_outcome(raw: dict[str, Any]) -> Outcome:
    document = OutcomeDocument.model_validate(raw)
    request = KeyedRequest(
        owner=document.id["owner"],
        key=document.id["key"],
        kind=document.kind,
        pet_id=document.pet_id,
        details=document.details,
        made_at=document.made_at,
    )
    return Outcome(request=request, pet=None if document.pet is None else to_pet(document.pet))
