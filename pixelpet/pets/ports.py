"""What the pet use cases need from the outside world, as interfaces (ports).

The core depends on these; the adapters implement them: MongoDB in pixelpet/storage/ (repository.py,
change_stream.py), an in-memory fake in pixelpet/storage/memory.py (one contract suite,
tests/unit/storage/test_contract.py, runs against both). Adapters raise the errors below; the use
cases translate them into client errors (``StoreUnavailable`` already is one: UNAVAILABLE).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pixelpet.errors import Unavailable
from pixelpet.pets.pet import Pet

UNAVAILABLE_MESSAGE = "The pet store is temporarily unavailable; retry shortly."


@dataclass(frozen=True, slots=True)
class PagePosition:
    """Where a page of one owner's pets starts: just after this pet in creation order."""

    created_at: datetime
    pet_id: str


class StoreUnavailable(Unavailable):
    """The store cannot be reached, or did not answer in time: a client's UNAVAILABLE as it is."""

    def __init__(self, cause: str) -> None:
        super().__init__(UNAVAILABLE_MESSAGE)
        self.cause = cause  # the adapter's name for what happened, for the log


class MalformedPetId(ValueError):
    """The id cannot be one this store gave out."""


class DuplicateIdempotencyKey(Exception):
    """Another request created a pet with this owner's idempotency key first."""


class OwnerAtCapacity(Exception):
    """The owner already keeps the most pets allowed."""


class PetRepository(Protocol):
    """One owner's pets; every query is scoped by owner so no pet leaks across accounts.

    Stored times keep what the store keeps (MongoDB: milliseconds): a pet returned by ``add`` or
    ``save`` is exactly what a later ``get`` returns.
    """

    def new_id(self) -> str:
        """A fresh pet id."""
        ...

    async def get(self, *, owner: str, pet_id: str) -> Pet | None:
        """The pet, or None if it does not exist or is someone else's. Raises ``MalformedPetId``."""
        ...

    async def get_by_idempotency_key(self, *, owner: str, key: str) -> Pet | None: ...

    async def list_page(self, *, owner: str, after: PagePosition | None, limit: int) -> list[Pet]:
        """Up to ``limit`` of the owner's pets in creation order (ties by id), after ``after``."""
        ...

    async def add(self, pet: Pet, *, max_pets_per_owner: int) -> Pet:
        """Store a new pet and count it against its owner's cap, atomically.

        Raises ``OwnerAtCapacity`` or ``DuplicateIdempotencyKey``; nothing is stored then.
        """
        ...

    async def save(self, pet: Pet, *, expected_version: int) -> Pet | None:
        """Store ``pet`` (its next version) only if the stored one is still at ``expected_version``;
        None if it moved on or is gone."""
        ...

    async def remove(self, *, owner: str, pet_id: str) -> bool:
        """Delete the pet and free its place in the owner's cap; False if there was no such pet."""
        ...


class ChangeSink(Protocol):
    """Where a change feed reports what was committed (pixelpet/pets/live/channels.py listens)."""

    def watches(self, pet_id: str, owner: str | None) -> bool:
        """Whether anyone here watches the pet or its owner's account (``owner`` None: not known, as for a
        deletion); a feed may skip reading changes nobody watches."""
        ...

    def changed(self, pet: Pet, *, committed_at: float | None) -> None:
        """A pet was created or changed (``committed_at``: wall-clock seconds, when the store dates it)."""
        ...

    def deleted(self, pet_id: str) -> None: ...

    def resync(self) -> None:
        """The feed lost its history: whatever was watched may have missed changes."""
        ...


class ChangeFeed(Protocol):
    """Every committed change to any pet, from any process, in commit order per pet."""

    async def start(self, sink: ChangeSink) -> None:
        """Follow the changes from now on; returns once no later commit can be missed."""
        ...

    async def stop(self) -> None: ...

    def health(self) -> str:
        """ "ok", or why readiness should fail."""
        ...

    def silence_s(self) -> float:
        """Seconds since the feed last heard from the store."""
        ...
