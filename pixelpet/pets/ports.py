"""What the pet use cases need from the outside world, as interfaces (ports).

The core depends on these; the adapters implement them: MongoDB in pixelpet/storage/ (repository.py,
change_stream.py), an in-memory fake in pixelpet/storage/memory.py (one contract suite,
tests/unit/storage/test_contract.py, runs against both). Adapters raise the errors below; the use
cases translate them into client errors (``StoreUnavailable`` already is one: UNAVAILABLE).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from pixelpet.errors import Unavailable
from pixelpet.pets.pet import Pet

UNAVAILABLE_MESSAGE = "The pet store is temporarily unavailable; retry shortly."

# How long a keyed request's outcome is kept at least (docs/decisions/0020-retry-safe-actions.md): a retry
# within it gets the first outcome; past it the key may be forgotten and used again.
IDEMPOTENCY_WINDOW = timedelta(hours=24)


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
    """Another request recorded an outcome under this owner's idempotency key first (or created a pet with
    it); nothing was written."""


@dataclass(frozen=True, slots=True)
class KeyedRequest:
    """A change a client asked for under an idempotency key: what a retry must repeat exactly.

    Two requests are the same when owner, key, kind, pet and details agree; ``made_at`` (when the first
    one was decided, which dates its outcome) takes no part in that.
    """

    owner: str
    key: str
    kind: str  # what it does: an ``Action`` value, or ADOPT, RENAME, DELETE
    pet_id: str | None  # None for an adoption: its pet does not exist yet
    made_at: datetime = field(compare=False)
    details: str = ""  # what else it asked for: a rename's new name, an adoption's species and name


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a keyed request did, as its first answer said: the pet it returned, or None for a deletion."""

    request: KeyedRequest
    pet: Pet | None

    def expired(self, now: datetime) -> bool:
        """Past the window: the key may be used again, and this outcome replaced."""
        return self.request.made_at <= now - IDEMPOTENCY_WINDOW


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

    async def get_by_idempotency_key(self, *, owner: str, key: str) -> Pet | None:
        """The existing pet that ``createPet`` made with this key (kept as long as the pet is)."""
        ...

    async def outcome(self, *, owner: str, key: str) -> Outcome | None:
        """What the owner's request with this key did, if recorded and not yet replaced (expired outcomes
        may still be returned: ``Outcome.expired`` tells)."""
        ...

    async def list_page(self, *, owner: str, after: PagePosition | None, limit: int) -> list[Pet]:
        """Up to ``limit`` of the owner's pets in creation order (ties by id), after ``after``."""
        ...

    async def add(self, pet: Pet, *, max_pets_per_owner: int, request: KeyedRequest | None = None) -> Pet:
        """Store a new pet and count it against its owner's cap, atomically; with ``request``, record the
        new pet as its outcome in the same transaction.

        Raises ``OwnerAtCapacity`` or ``DuplicateIdempotencyKey``; nothing is stored then.
        """
        ...

    async def save(
        self, pet: Pet, *, expected_version: int, request: KeyedRequest | None = None
    ) -> Pet | None:
        """Store ``pet`` (its next version) only if the stored one is still at ``expected_version``;
        None if it moved on or is gone (nothing recorded then).

        With ``request``, the stored pet is recorded as its outcome atomically with the write; raises
        ``DuplicateIdempotencyKey`` if the key already has an unexpired outcome: nothing is written.
        """
        ...

    async def remove(
        self,
        *,
        owner: str,
        pet_id: str,
        expected_version: int | None = None,
        request: KeyedRequest | None = None,
    ) -> bool:
        """Delete the pet (only at ``expected_version``, when given) and free its place in the owner's cap;
        False if there was no such pet, or it is at another version.

        With ``request``, the deletion is recorded as its outcome in the same transaction; raises
        ``DuplicateIdempotencyKey`` if the key already has an unexpired outcome: nothing is deleted.
        """
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
