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
    MalformedPetId,
    OwnerAtCapacity,
    PagePosition,
    PetRepository,
)
from pixelpet.pets.rules import Action, Species

IDEMPOTENCY_KEY_MAX_LENGTH = 128
_ALL_PAGE = 100
NO_SUCH_PET = "No such pet."

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
        clean_name = domain.validate_name(name)
        if idempotency_key is not None:
            if not 1 <= len(idempotency_key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
                raise InvalidInput(f"An idempotency key has 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters.")
            existing = await self._repository.get_by_idempotency_key(owner=owner, key=idempotency_key)
            if existing is not None:
                return _same_request_or_conflict(existing, clean_name, species)
        pet = Pet.adopt(
            id=self._repository.new_id(),
            owner=owner,
            name=clean_name,
            species=species,
            at=self.now(),
            idempotency_key=idempotency_key,
        )
        try:
            created = await self._repository.add(pet, max_pets_per_owner=self._limits.max_pets_per_owner)
        except OwnerAtCapacity:
            limit = self._limits.max_pets_per_owner
            raise ActionRefused(
                "PET_LIMIT_REACHED", f"An owner can keep at most {limit} pets; delete one first."
            ) from None
        except DuplicateIdempotencyKey:
            # A concurrent retry with the same key won the race: answer with its pet.
            assert idempotency_key is not None
            winner = await self._repository.get_by_idempotency_key(owner=owner, key=idempotency_key)
            if winner is None:  # it was deleted in between; very unlikely, and safe to report
                raise VersionConflict(
                    "The idempotency key was used by a pet that no longer exists."
                ) from None
            return _same_request_or_conflict(winner, clean_name, species)
        self._events.pet_created()
        return created

    async def rename(self, *, owner: str, pet_id: str, name: str) -> Pet:
        clean_name = domain.validate_name(name)
        return await self._update(owner, pet_id, None, lambda pet, now: pet.renamed(clean_name, at=now))

    async def act(self, *, owner: str, pet_id: str, action: Action, expected_version: int | None) -> Pet:
        try:
            pet = await self._update(
                owner, pet_id, expected_version, lambda pet, now: pet.acted_on(action, at=now)
            )
        except ActionRefused as refusal:
            self._events.action_finished(action.value, f"refused:{refusal.reason}")
            raise
        except VersionConflict:
            self._events.action_finished(action.value, "conflict")
            raise
        self._events.action_finished(action.value, "ok")
        return pet

    async def delete(self, *, owner: str, pet_id: str) -> str:
        try:
            removed = await self._repository.remove(owner=owner, pet_id=pet_id)
        except MalformedPetId as error:
            raise _malformed(pet_id) from error
        if not removed:
            raise NotFound(NO_SUCH_PET)
        self._events.pet_deleted()
        return pet_id

    async def _get(self, owner: str, pet_id: str) -> Pet | None:
        try:
            return await self._repository.get(owner=owner, pet_id=pet_id)
        except MalformedPetId as error:
            raise _malformed(pet_id) from error

    async def _update(self, owner: str, pet_id: str, expected_version: int | None, decide: Decision) -> Pet:
        """Read, decide, and store only if nobody wrote in between; retry a bounded number of times.

        With ``expected_version`` the client asked for exactly that version, so a concurrent write
        is reported as CONFLICT instead of retried.
        """
        for attempt in range(self._limits.max_action_retries):
            pet = await self._get(owner, pet_id)
            if pet is None:
                raise NotFound(NO_SUCH_PET)
            if expected_version is not None and pet.version != expected_version:
                raise VersionConflict(
                    f"The pet is at version {pet.version}, not {expected_version}.",
                    current_version=pet.version,
                )
            following = decide(pet, self.now())  # may raise ActionRefused: a refusal writes nothing
            stored = await self._repository.save(following, expected_version=pet.version)
            if stored is not None:
                return stored
            if expected_version is not None:
                continue  # the next read reports the conflict with the current version
            # Lost a race: back off briefly with jitter so the contenders spread out.
            await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))  # noqa: S311 - jitter, not crypto
        raise VersionConflict("The pet changed too often to apply the action; try again.")


def _malformed(pet_id: str) -> InvalidInput:
    return InvalidInput(f"{pet_id!r} is not a pet id.")


def _same_request_or_conflict(existing: Pet, name: str, species: Species) -> Pet:
    if not existing.is_same_adoption(name=name, species=species):
        raise IdempotencyKeyReused("This idempotency key was already used for a different pet.")
    return existing
