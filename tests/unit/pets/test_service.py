"""The pet use cases against the in-memory store: every rule of service.py, in milliseconds."""

import asyncio
from datetime import timedelta

import pytest

from pixelpet.clock import ManualClock
from pixelpet.errors import ActionRefused, IdempotencyKeyReused, InvalidInput, NotFound, VersionConflict
from pixelpet.pets.pet import Pet
from pixelpet.pets.rules import Action, Species
from pixelpet.pets.service import PetService, UseCaseLimits
from pixelpet.storage.memory import InMemoryPetStore
from tests.conftest import T0
from tests.support.fakes import RecordedEvents

LIMITS = UseCaseLimits(max_page_size=5, max_pets_per_owner=3, max_action_retries=3)


@pytest.fixture
def store() -> InMemoryPetStore:
    return InMemoryPetStore()


@pytest.fixture
def events() -> RecordedEvents:
    return RecordedEvents()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 + timedelta(microseconds=123_456))


@pytest.fixture
def pets(store: InMemoryPetStore, clock: ManualClock, events: RecordedEvents) -> PetService:
    return PetService(repository=store, clock=clock, limits=LIMITS, events=events)


async def adopt(pets: PetService, owner: str = "alice", **kwargs: object) -> Pet:
    values: dict[str, object] = {"name": "Mochi", "species": Species.CAT, "idempotency_key": None} | kwargs
    return await pets.create(owner=owner, **values)  # type: ignore[arg-type]


async def test_a_new_pet_is_what_a_later_read_returns(pets: PetService, events: RecordedEvents) -> None:
    created = await adopt(pets, name="  Mochi ")
    assert created.name == "Mochi"
    assert created.version == 1
    assert created.created_at.microsecond == 123_000, "the store keeps milliseconds and says so"
    assert await pets.get(owner="alice", pet_id=created.id) == created
    assert events.counts["created"] == 1


async def test_other_owners_pets_are_not_found(pets: PetService) -> None:
    created = await adopt(pets)
    with pytest.raises(NotFound):
        await pets.get(owner="mallory", pet_id=created.id)
    with pytest.raises(NotFound):
        await pets.act(owner="mallory", pet_id=created.id, action=Action.PLAY, expected_version=None)
    with pytest.raises(NotFound):
        await pets.delete(owner="mallory", pet_id=created.id)


async def test_a_malformed_id_is_bad_input_everywhere(pets: PetService) -> None:
    for attempt in (
        pets.get(owner="alice", pet_id="nope"),
        pets.rename(owner="alice", pet_id="nope", name="Rex"),
        pets.delete(owner="alice", pet_id="nope"),
    ):
        with pytest.raises(InvalidInput, match="is not a pet id"):
            await attempt


async def test_the_cap_is_a_game_refusal(pets: PetService) -> None:
    for _ in range(3):
        await adopt(pets)
    with pytest.raises(ActionRefused) as refused:
        await adopt(pets)
    assert refused.value.reason == "PET_LIMIT_REACHED"
    await adopt(pets, owner="bob")  # per owner


async def test_an_idempotency_key_returns_the_first_pet_or_a_conflict(pets: PetService) -> None:
    first = await adopt(pets, idempotency_key="k1")
    assert await adopt(pets, idempotency_key="k1") == first
    with pytest.raises(IdempotencyKeyReused, match="different pet") as reused:
        await adopt(pets, idempotency_key="k1", name="Rex")
    assert reused.value.code.value == "CONFLICT"
    with pytest.raises(InvalidInput):
        await adopt(pets, idempotency_key="")


async def test_actions_follow_the_rules_and_bump_the_version(
    pets: PetService, clock: ManualClock, events: RecordedEvents
) -> None:
    pet = await adopt(pets)
    with pytest.raises(ActionRefused) as refused:
        await pets.act(owner="alice", pet_id=pet.id, action=Action.WAKE, expected_version=None)
    assert refused.value.reason == "ALREADY_AWAKE"
    assert (await pets.get(owner="alice", pet_id=pet.id)).version == 1, "a refusal writes nothing"
    clock.advance(timedelta(hours=8))
    fed = await pets.act(owner="alice", pet_id=pet.id, action=Action.FEED, expected_version=1)
    assert fed.version == 2
    assert fed.updated_at > pet.updated_at
    assert fed.state.hunger < pet.at(clock.now()).hunger
    assert events.counts["FEED:ok"] == 1
    assert events.counts["WAKE:refused:ALREADY_AWAKE"] == 1


async def test_an_expected_version_that_moved_is_a_conflict_with_the_current_one(
    pets: PetService, events: RecordedEvents
) -> None:
    pet = await adopt(pets)
    await pets.rename(owner="alice", pet_id=pet.id, name="Rex")
    with pytest.raises(VersionConflict) as conflict:
        await pets.act(owner="alice", pet_id=pet.id, action=Action.PLAY, expected_version=1)
    assert conflict.value.current_version == 2
    assert events.counts["PLAY:conflict"] == 1


async def test_a_lost_race_is_retried_without_an_expected_version(
    pets: PetService, store: InMemoryPetStore
) -> None:
    pet = await adopt(pets)
    save = store.save
    raced = False

    async def someone_writes_first(candidate: Pet, *, expected_version: int) -> Pet | None:
        nonlocal raced
        if not raced:
            raced = True
            current = await store.get(owner="alice", pet_id=candidate.id)
            assert current is not None
            await save(current.renamed("Racer", at=current.updated_at), expected_version=current.version)
        return await save(candidate, expected_version=expected_version)

    store.save = someone_writes_first  # type: ignore[method-assign]
    played = await pets.act(owner="alice", pet_id=pet.id, action=Action.PLAY, expected_version=None)
    assert played.version == 3
    assert played.name == "Racer", "decided again on the newer version"
    assert played.state.happiness > pet.state.happiness


async def test_a_pet_changing_on_every_attempt_gives_up_with_a_conflict(
    pets: PetService, store: InMemoryPetStore
) -> None:
    pet = await adopt(pets)

    async def always_lost(candidate: Pet, *, expected_version: int) -> Pet | None:
        await asyncio.sleep(0)
        return None

    store.save = always_lost  # type: ignore[method-assign]
    with pytest.raises(VersionConflict, match="changed too often"):
        await pets.rename(owner="alice", pet_id=pet.id, name="Rex")


async def test_pages_are_in_creation_order_and_bounded(pets: PetService, clock: ManualClock) -> None:
    created = []
    for _ in range(3):
        created.append(await adopt(pets))
        clock.advance(timedelta(seconds=1))
    page = await pets.list(owner="alice", first=2, after=None)
    assert [pet.id for pet in page.pets] == [created[0].id, created[1].id]
    assert page.has_next_page
    with pytest.raises(InvalidInput, match="between 1 and 5"):
        await pets.list(owner="alice", first=6, after=None)


async def test_deleting_frees_a_place(pets: PetService, events: RecordedEvents) -> None:
    pets_made = [await adopt(pets) for _ in range(3)]
    assert await pets.delete(owner="alice", pet_id=pets_made[0].id) == pets_made[0].id
    with pytest.raises(NotFound):
        await pets.delete(owner="alice", pet_id=pets_made[0].id)
    await adopt(pets)
    assert events.counts["deleted"] == 1
