"""Pet use cases: load, decide with the pure domain, write back atomically."""

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bson import ObjectId
from bson.errors import InvalidId

from pixelpet.clock import Clock
from pixelpet.errors import ActionRefused, InvalidInput, NotFound, VersionConflict
from pixelpet.pets import domain
from pixelpet.pets.documents import PetDocument, snapshot_fields
from pixelpet.pets.events import PetEvents
from pixelpet.pets.repository import DuplicateIdempotencyKey, PagePosition, PetRepository
from pixelpet.pets.rules import Action, Species
from pixelpet.ratelimit import TokenBucketLimiter
from pixelpet.settings import LimitSettings

IDEMPOTENCY_KEY_MAX_LENGTH = 128

# Turns a loaded pet and the current time into the fields to write (or raises a refusal).
Decision = Callable[[PetDocument, datetime], dict[str, object]]


def parse_pet_id(raw: str) -> ObjectId:
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError) as error:
        raise InvalidInput(f"{raw!r} is not a pet id.") from error


def truncate_to_storage(moment: datetime) -> datetime:
    """MongoDB keeps milliseconds; compute with what will be stored, so reads agree with writes."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True, slots=True)
class PetPage:
    pets: list[PetDocument]
    has_next_page: bool


class PetService:
    """What a client can do with its pets. Every method takes the authenticated owner."""

    def __init__(
        self,
        *,
        repository: PetRepository,
        clock: Clock,
        limits: LimitSettings,
        mutation_limiter: TokenBucketLimiter,
        query_limiter: TokenBucketLimiter,
        events: PetEvents,
    ) -> None:
        self._events = events
        self._repository = repository
        self._clock = clock
        self._limits = limits
        self._mutation_limiter = mutation_limiter
        self._query_limiter = query_limiter

    def now(self) -> datetime:
        return truncate_to_storage(self._clock.now())

    async def get(self, *, owner: str, pet_id: str) -> PetDocument:
        self._query_limiter.acquire(owner)
        pet = await self._repository.get(owner=owner, pet_id=parse_pet_id(pet_id))
        if pet is None:
            raise NotFound("No such pet.")
        return pet

    async def list(self, *, owner: str, first: int, after: PagePosition | None) -> PetPage:
        self._query_limiter.acquire(owner)
        if not 1 <= first <= self._limits.max_page_size:
            raise InvalidInput(f"`first` must be between 1 and {self._limits.max_page_size}.")
        pets = await self._repository.list_page(owner=owner, after=after, limit=first + 1)
        return PetPage(pets=pets[:first], has_next_page=len(pets) > first)

    async def create(
        self, *, owner: str, name: str, species: Species, idempotency_key: str | None
    ) -> PetDocument:
        self._mutation_limiter.acquire(owner)
        clean_name = domain.validate_name(name)
        if idempotency_key is not None:
            if not 1 <= len(idempotency_key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
                raise InvalidInput(f"An idempotency key has 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters.")
            existing = await self._repository.get_by_idempotency_key(owner=owner, key=idempotency_key)
            if existing is not None:
                return _same_request_or_conflict(existing, clean_name, species)
        now = self.now()
        state = domain.new_pet(species, at=now)
        pet = PetDocument(
            owner=owner,
            name=clean_name,
            species=species,
            **snapshot_fields(state),
            created_at=now,
            updated_at=now,
            idempotency_key=idempotency_key,
        )
        try:
            created = await self._repository.create(pet, max_pets_per_owner=self._limits.max_pets_per_owner)
            self._events.pet_created()
            return created
        except DuplicateIdempotencyKey:
            # A concurrent retry with the same key won the race: answer with its pet.
            assert idempotency_key is not None
            winner = await self._repository.get_by_idempotency_key(owner=owner, key=idempotency_key)
            if winner is None:  # it was deleted in between; very unlikely, and safe to report
                raise VersionConflict(
                    "The idempotency key was used by a pet that no longer exists."
                ) from None
            return _same_request_or_conflict(winner, clean_name, species)

    async def rename(self, *, owner: str, pet_id: str, name: str) -> PetDocument:
        self._mutation_limiter.acquire(owner)
        clean_name = domain.validate_name(name)
        return await self._update(owner, pet_id, None, lambda _pet, _now: {"name": clean_name})

    async def act(
        self, *, owner: str, pet_id: str, action: Action, expected_version: int | None
    ) -> PetDocument:
        self._mutation_limiter.acquire(owner)

        def decide(pet: PetDocument, now: datetime) -> dict[str, object]:
            return snapshot_fields(domain.apply_action(pet.state(), action, at=max(now, pet.as_of)))

        try:
            pet = await self._update(owner, pet_id, expected_version, decide)
        except ActionRefused as refusal:
            self._events.action_finished(action.value, f"refused:{refusal.reason}")
            raise
        except VersionConflict:
            self._events.action_finished(action.value, "conflict")
            raise
        self._events.action_finished(action.value, "ok")
        return pet

    async def delete(self, *, owner: str, pet_id: str) -> str:
        self._mutation_limiter.acquire(owner)
        if not await self._repository.delete(owner=owner, pet_id=parse_pet_id(pet_id)):
            raise NotFound("No such pet.")
        self._events.pet_deleted()
        return pet_id

    async def _update(
        self,
        owner: str,
        raw_id: str,
        expected_version: int | None,
        decide: Decision,
    ) -> PetDocument:
        """Read, decide, and write back only if nobody wrote in between; retry a bounded number of times.

        With ``expected_version`` the client asked for exactly that version, so a concurrent write
        is reported as CONFLICT instead of retried.
        """
        pet_id = parse_pet_id(raw_id)
        for attempt in range(self._limits.max_action_retries):
            pet = await self._repository.get(owner=owner, pet_id=pet_id)
            if pet is None:
                raise NotFound("No such pet.")
            if expected_version is not None and pet.version != expected_version:
                raise VersionConflict(
                    f"The pet is at version {pet.version}, not {expected_version}.",
                    current_version=pet.version,
                )
            now = self.now()
            changes = decide(pet, now)  # may raise ActionRefused: a refusal writes nothing
            changes["updated_at"] = now
            updated = await self._repository.update_if_version(
                owner=owner, pet_id=pet_id, version=pet.version, changes=changes
            )
            if updated is not None:
                return updated
            if expected_version is not None:
                continue  # the next read reports the conflict with the current version
            # Lost a race: back off briefly with jitter so the contenders spread out.
            await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))  # noqa: S311 - jitter, not crypto
        raise VersionConflict("The pet changed too often to apply the action; try again.")


def _same_request_or_conflict(existing: PetDocument, name: str, species: Species) -> PetDocument:
    if existing.name != name or existing.species is not species:
        raise VersionConflict("This idempotency key was already used for a different pet.")
    return existing
