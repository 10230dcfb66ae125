"""Pet use cases: load, decide with the aggregate's rules, store only if nobody wrote in between.

Every method takes the authenticated owner. Storage speaks through the ``PetRepository`` port and its
errors are translated here into the errors clients see (pixelpet/errors.py).
"""

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pixelpet.clock import Clock
from pixelpet.errors import ActionRefused, IdempotencyKeyReused, InvalidInput, NotFound, VersionConflict
from pixelpet.pets import domain
from pixelpet.pets.events import PetEvents
from pixelpet.pets.pet import Pet
from pixelpet.pets.ports import (
    DuplicateIdempotencyKey,
    KeyedRequest,
    MalformedPetId,
    Outcome,
    OwnerAtCapacity,
    PagePosition,
    PetRepository,
)
from pixelpet.pets.rules import Action, Species

IDEMPOTENCY_KEY_MAX_LENGTH = 128
_ALL_PAGE = 100
NO_SUCH_PET = "No such pet."
KEY_REUSED = "This idempotency key was already used for a different request (another mutation, pet or value)."

# The kinds of keyed request besides the game actions (whose kind is the ``Action`` value).
ADOPT = "ADOPT"
RENAME = "RENAME"
DELETE = "DELETE"

# Turns the stored pet and the current time into its next version (or raises a refusal).
Decision = Callable[[Pet, datetime], Pet]


@dataclass(frozen=True, slots=True)
class PetPage:
    pets: list[Pet]
    has_next_page: bool


@dataclass(frozen=True, slots=True)
class UseCaseLimits:
    """The numbers the use cases enforce (from LimitSettings)."""

    max_page_size: int
    max_pets_per_owner: int
    max_action_retries: int


class PetService:
    """What a player can do with their pets."""

    def __init__(
        self, *, repository: PetRepository, clock: Clock, limits: UseCaseLimits, events: PetEvents
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._limits = limits
        self._events = events

    def now(self) -> datetime:
        return self._clock.now()

    async def get(self, *, owner: str, pet_id: str) -> Pet:
        pet = await self._get(owner, pet_id)
        if pet is None:
            raise NotFound(NO_SUCH_PET)
        return pet

    async def list(self, *, owner: str, first: int, after: PagePosition | None) -> PetPage:
        if not 1 <= first <= self._limits.max_page_size:
            raise InvalidInput(f"`first` must be between 1 and {self._limits.max_page_size}.")
        try:
            pets = await self._repository.list_page(owner=owner, after=after, limit=first + 1)
        except MalformedPetId as error:
            raise InvalidInput("`after` is not a cursor this API returned.") from error
        return PetPage(pets=pets[:first], has_next_page=len(pets) > first)

    async def all(self, *, owner: str) -> tuple[Pet, ...]:
        """Every pet of ``owner``, oldest first (at most ``max_pets_per_owner``, read in pages)."""
        pets: tuple[Pet, ...] = ()
        after: PagePosition | None = None
        while True:
            page = await self._repository.list_page(owner=owner, after=after, limit=_ALL_PAGE)
            pets += tuple(page)
            if len(page) < _ALL_PAGE:
                return pets
            after = PagePosition(page[-1].created_at, page[-1].id)

    async def create(self, *, owner: str, name: str, species: Species, idempotency_key: str | None) -> Pet:
        """Adopt a pet. A retry with the same key returns the pet the first call created: as it is now while
        it exists (as always), and at its first version if it was deleted since (within the window)."""
        clean_name = domain.validate_name(name)
        request = self._keyed(owner, idempotency_key, ADOPT, None, details=f"{species.value}:{clean_name}")
        if request is not None:
            existing = await self._repository.get_by_idempotency_key(owner=owner, key=request.key)
            if existing is not None:
                return _same_request_or_conflict(existing, clean_name, species)
            first = await self._first_outcome(request)
            if first is not None:
                return _pet_of(first)
        pet = Pet.adopt(
            id=self._repository.new_id(),
            owner=owner,
            name=clean_name,
            species=species,
            at=self.now(),
            idempotency_key=idempotency_key,
        )
        try:
            created = await self._repository.add(
                pet, max_pets_per_owner=self._limits.max_pets_per_owner, request=request
            )
        except OwnerAtCapacity:
            limit = self._limits.max_pets_per_owner
            raise ActionRefused(
                "PET_LIMIT_REACHED", f"An owner can keep at most {limit} pets; delete one first."
            ) from None
        except DuplicateIdempotencyKey:
            # A concurrent retry with the same key won the race: answer with its pet.
            assert request is not None
            winner = await self._repository.get_by_idempotency_key(owner=owner, key=request.key)
            if winner is not None:
                return _same_request_or_conflict(winner, clean_name, species)
            return _pet_of(await self._recorded(request))
        self._events.pet_created()
        return created

    async def rename(
        self,
        *,
        owner: str,
        pet_id: str,
        name: str,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Pet:
        clean_name = domain.validate_name(name)
        request = self._keyed(owner, idempotency_key, RENAME, pet_id, details=clean_name)
        pet, _ = await self._update(
            owner, pet_id, expected_version, request, lambda pet, now: pet.renamed(clean_name, at=now)
        )
        return pet

    async def act(
        self,
        *,
        owner: str,
        pet_id: str,
        action: Action,
        expected_version: int | None,
        idempotency_key: str | None = None,
    ) -> Pet:
        request = self._keyed(owner, idempotency_key, action.value, pet_id)
        try:
            pet, replayed = await self._update(
                owner, pet_id, expected_version, request, lambda pet, now: pet.acted_on(action, at=now)
            )
        except ActionRefused as refusal:
            self._events.action_finished(action.value, f"refused:{refusal.reason}")
            raise
        except VersionConflict:
            self._events.action_finished(action.value, "conflict")
            raise
        self._events.action_finished(action.value, "replayed" if replayed else "ok")
        return pet

    async def delete(
        self,
        *,
        owner: str,
        pet_id: str,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Delete a pet; returns its id. A retry with the same key returns the id again, the pet gone."""
        request = self._keyed(owner, idempotency_key, DELETE, pet_id)
        try:
            removed = await self._repository.remove(
                owner=owner, pet_id=pet_id, expected_version=expected_version, request=request
            )
        except MalformedPetId as error:
            raise _malformed(pet_id) from error
        except DuplicateIdempotencyKey:
            assert request is not None
            await self._recorded(request)  # a concurrent retry deleted it (or the key is someone else's)
            return pet_id
        if not removed:
            if request is not None and await self._first_outcome(request) is not None:
                return pet_id  # this request deleted it before (a retry, or a concurrent attempt)
            if expected_version is not None:
                current = await self._get(owner, pet_id)
                if current is not None:
                    raise ExpectedVersionMismatch(current, expected_version, at=self.now())
            raise NotFound(NO_SUCH_PET)
        self._events.pet_deleted()
        return pet_id

    async def _get(self, owner: str, pet_id: str) -> Pet | None:
        try:
            return await self._repository.get(owner=owner, pet_id=pet_id)
        except MalformedPetId as error:
            raise _malformed(pet_id) from error

    def _keyed(
        self, owner: str, key: str | None, kind: str, pet_id: str | None, *, details: str = ""
    ) -> KeyedRequest | None:
        """The request under its idempotency key, or None without one."""
        if key is None:
            return None
        if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
            raise InvalidInput(f"An idempotency key has 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters.")
        return KeyedRequest(
            owner=owner, key=key, kind=kind, pet_id=pet_id, details=details, made_at=self.now()
        )

    async def _first_outcome(self, request: KeyedRequest) -> Outcome | None:
        """What the first request with this key did, if it is this very request and within the window;
        None if the key is unused (or expired); ``IdempotencyKeyReused`` if another request holds it."""
        recorded = await self._repository.outcome(owner=request.owner, key=request.key)
        if recorded is None or recorded.expired(self.now()):
            return None
        if recorded.request != request:
            raise IdempotencyKeyReused(KEY_REUSED)
        return recorded

    async def _recorded(self, request: KeyedRequest) -> Outcome:
        """The outcome a concurrent request just recorded under this key (the store refused a second)."""
        first = await self._first_outcome(request)
        if first is None:  # recorded, then expired or replaced in between: vanishingly rare, safe to retry
            raise VersionConflict("The idempotency key was in use a moment ago; retry.")
        return first

    async def _update(
        self,
        owner: str,
        pet_id: str,
        expected_version: int | None,
        request: KeyedRequest | None,
        decide: Decision,
    ) -> tuple[Pet, bool]:
        """Read, decide, and store only if nobody wrote in between; retry a bounded number of times.

        With ``expected_version`` the client asked for exactly that version, so a concurrent write
        is reported as CONFLICT instead of retried. With ``request`` (a keyed request), a retry of one
        that already changed the pet returns that first outcome instead of acting again; the flag says so.
        """
        for attempt in range(self._limits.max_action_retries):
            pet = await self._get(owner, pet_id)
            if request is not None:
                # Read after the pet, and again after a lost race: if the pet read already shows this
                # request's first attempt (another replica, a moment ago), its outcome, committed in the same
                # transaction, is visible now. Deciding on top of it would act twice or refuse what happened.
                first = await self._first_outcome(request)
                if first is not None:
                    return _pet_of(first), True
            if pet is None:
                raise NotFound(NO_SUCH_PET)
            if expected_version is not None and pet.version != expected_version:
                raise ExpectedVersionMismatch(pet, expected_version, at=self.now())
            following = decide(pet, self.now())  # may raise ActionRefused: a refusal writes nothing
            try:
                stored = await self._repository.save(following, expected_version=pet.version, request=request)
            except DuplicateIdempotencyKey:
                # A concurrent attempt with the same key changed the pet first: its outcome is the answer.
                assert request is not None
                return _pet_of(await self._recorded(request)), True
            if stored is not None:
                return stored, False
            if expected_version is not None:
                continue  # the next read reports the conflict with the current version
            # Lost a race: back off briefly with jitter so the contenders spread out.
            await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))  # noqa: S311 - jitter, not crypto
        raise VersionConflict("The pet changed too often to apply the action; try again.")


def _malformed(pet_id: str) -> InvalidInput:
    return InvalidInput(f"{pet_id!r} is not a pet id.")


class ExpectedVersionMismatch(VersionConflict):
    """``expectedVersion`` did not match: CONFLICT with ``currentVersion``, and the pet as it is (``current``,
    read at ``at``) for the API edge to show as ``extensions.current``."""

    def __init__(self, current: Pet, expected_version: int, *, at: datetime) -> None:
        super().__init__(
            f"The pet is at version {current.version}, not {expected_version}.",
            current_version=current.version,
        )
        self.current = current
        self.at = at


def _pet_of(outcome: Outcome) -> Pet:
    """The pet a keyed change returned (requests match on their kind, so it is never a deletion's)."""
    assert outcome.pet is not None, outcome.request
    return outcome.pet


def _same_request_or_conflict(existing: Pet, name: str, species: Species) -> Pet:
    if not existing.is_same_adoption(name=name, species=species):
        raise IdempotencyKeyReused("This idempotency key was already used for a different pet.")
    return existing
