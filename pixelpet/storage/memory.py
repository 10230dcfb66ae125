"""An in-memory pet store: the repository and the change feed in one object, for fast tests and tools.

It keeps the contract of pixelpet/pets/ports.py exactly as the MongoDB adapters do (times stored to the
millisecond, ids of 24 hex digits, the per-owner cap, unique idempotency keys, outcomes recorded with their
change and replaced only once expired), and
tests/unit/storage/test_contract.py runs the same suite against both so it cannot drift. Every write
is reported to the sink at once, as a change stream would report it.
"""

import itertools
import string
from dataclasses import replace

from pixelpet.pets.pet import Pet
from pixelpet.pets.ports import (
    IDEMPOTENCY_WINDOW,
    ChangeSink,
    DuplicateIdempotencyKey,
    KeyedRequest,
    MalformedPetId,
    Outcome,
    OwnerAtCapacity,
    PagePosition,
)
from pixelpet.storage.client import Storage
from pixelpet.storage.documents import as_stored, stored_pet

_HEX = frozenset(string.hexdigits)


async def _nothing() -> None:
    """An in-memory store is always there."""


def _checked(pet_id: str) -> str:
    if len(pet_id) != 24 or not _HEX.issuperset(pet_id):
        raise MalformedPetId(pet_id)
    return pet_id.lower()


class InMemoryPetStore:
    """``PetRepository`` and ``ChangeFeed`` over dictionaries."""

    def __init__(self) -> None:
        self._pets: dict[str, Pet] = {}
        self._outcomes: dict[tuple[str, str], Outcome] = {}  # by (owner, key)
        self._counter = itertools.count(1)
        self._sink: ChangeSink | None = None
        self.reads = 0  # how many reads reached the store (tests of shared reads count them)

    # PetRepository -------------------------------------------------------------------------

    def new_id(self) -> str:
        return f"{next(self._counter):024x}"

    async def get(self, *, owner: str, pet_id: str) -> Pet | None:
        self.reads += 1
        pet = self._pets.get(_checked(pet_id))
        return pet if pet is not None and pet.owner == owner else None

    async def get_by_idempotency_key(self, *, owner: str, key: str) -> Pet | None:
        self.reads += 1
        return next(
            (pet for pet in self._pets.values() if pet.owner == owner and pet.idempotency_key == key), None
        )

    async def outcome(self, *, owner: str, key: str) -> Outcome | None:
        self.reads += 1
        return self._outcomes.get((owner, key))

    async def list_page(self, *, owner: str, after: PagePosition | None, limit: int) -> list[Pet]:
        self.reads += 1
        start = None if after is None else (after.created_at, _checked(after.pet_id))
        mine = sorted(
            (pet for pet in self._pets.values() if pet.owner == owner), key=lambda p: (p.created_at, p.id)
        )
        return [pet for pet in mine if start is None or (pet.created_at, pet.id) > start][:limit]

    async def add(self, pet: Pet, *, max_pets_per_owner: int, request: KeyedRequest | None = None) -> Pet:
        if sum(1 for other in self._pets.values() if other.owner == pet.owner) >= max_pets_per_owner:
            raise OwnerAtCapacity
        if pet.idempotency_key is not None and any(
            other.owner == pet.owner and other.idempotency_key == pet.idempotency_key
            for other in self._pets.values()
        ):
            raise DuplicateIdempotencyKey
        self._check_unused(request)
        stored = self._pets[_checked(pet.id)] = stored_pet(pet)
        self._record(request, stored)
        self._changed(stored)
        return stored

    async def save(
        self, pet: Pet, *, expected_version: int, request: KeyedRequest | None = None
    ) -> Pet | None:
        current = self._pets.get(_checked(pet.id))
        if current is None or current.owner != pet.owner or current.version != expected_version:
            return None
        self._check_unused(request)
        stored = self._pets[pet.id] = stored_pet(pet)
        self._record(request, stored)
        self._changed(stored)
        return stored

    async def remove(
        self,
        *,
        owner: str,
        pet_id: str,
        expected_version: int | None = None,
        request: KeyedRequest | None = None,
    ) -> bool:
        current = self._pets.get(_checked(pet_id))
        if current is None or current.owner != owner:
            return False
        if expected_version is not None and current.version != expected_version:
            return False
        self._check_unused(request)
        del self._pets[current.id]
        self._record(request, None)
        if self._sink is not None:
            self._sink.deleted(current.id)
        return True

    def _check_unused(self, request: KeyedRequest | None) -> None:
        """As MongoDB's unique _id refuses the outcome (and so the whole write) while one is unexpired."""
        if request is None:
            return
        recorded = self._outcomes.get((request.owner, request.key))
        expired_before = as_stored(request.made_at - IDEMPOTENCY_WINDOW)
        if recorded is not None and recorded.request.made_at > expired_before:
            raise DuplicateIdempotencyKey

    def _record(self, request: KeyedRequest | None, pet: Pet | None) -> None:
        if request is not None:
            stored_request = replace(request, made_at=as_stored(request.made_at))
            self._outcomes[(request.owner, request.key)] = Outcome(request=stored_request, pet=pet)

    # ChangeFeed ----------------------------------------------------------------------------

    async def start(self, sink: ChangeSink) -> None:
        self._sink = sink

    async def stop(self) -> None:
        self._sink = None

    def health(self) -> str:
        return "ok" if self._sink is not None else "failing: change feed not running"

    def silence_s(self) -> float:
        return 0.0

    def storage(self) -> Storage:
        """This store as the app's storage (``create_app(store=...)``)."""
        return Storage(repository=self, changes=self, ping=_nothing, primary_reachable=lambda: True)

    def _changed(self, pet: Pet) -> None:
        if self._sink is not None:
            self._sink.changed(pet, committed_at=None)
