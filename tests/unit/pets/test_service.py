"""The pet use cases against the in-memory store: every rule of service.py, in milliseconds."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from pixelpet.clock import ManualClock
from pixelpet.errors import ActionRefused, IdempotencyKeyReused, InvalidInput, NotFound, VersionConflict
from pixelpet.pets.pet import Pet
from pixelpet.pets.ports import IDEMPOTENCY_WINDOW
from pixelpet.pets.rules import Action, Species
from pixelpet.pets.service import ExpectedVersionMismatch, PetService, UseCaseLimits
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

    async def someone_writes_first(candidate: Pet, *, expected_version: int, **_: object) -> Pet | None:
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

    async def always_lost(candidate: Pet, *, expected_version: int, **_: object) -> Pet | None:
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


# Retry-safe changes: an idempotency key on every mutation (docs/decisions/0020-retry-safe-actions.md).


async def feed(pets: PetService, pet_id: str, key: str | None, **kwargs: object) -> Pet:
    values: dict[str, object] = {"expected_version": None} | kwargs
    return await pets.act(
        owner="alice",
        pet_id=pet_id,
        action=Action.FEED,
        idempotency_key=key,
        **values,  # type: ignore[arg-type]
    )


async def test_a_retried_action_returns_its_first_outcome_without_acting_again(
    pets: PetService, clock: ManualClock, events: RecordedEvents
) -> None:
    pet = await adopt(pets)
    clock.advance(timedelta(hours=8))
    fed = await feed(pets, pet.id, "feed-1")
    clock.advance(timedelta(hours=3))  # hungry enough to be fed again: only the key stops it
    assert await feed(pets, pet.id, "feed-1") == fed
    assert await feed(pets, pet.id, "feed-1", expected_version=1) == fed, (
        "whatever expectedVersion it carries"
    )
    assert (await pets.get(owner="alice", pet_id=pet.id)).version == 2
    assert (events.counts["FEED:ok"], events.counts["FEED:replayed"]) == (1, 2)
    assert (await feed(pets, pet.id, "feed-2")).version == 3, "a new key is a new feed"


async def test_the_first_outcome_is_returned_even_after_later_changes(
    pets: PetService, clock: ManualClock
) -> None:
    pet = await adopt(pets)
    clock.advance(timedelta(hours=8))
    fed = await feed(pets, pet.id, "k")
    renamed = await pets.rename(owner="alice", pet_id=pet.id, name="Rex", idempotency_key="r")
    assert renamed.version == 3
    assert await feed(pets, pet.id, "k") == fed, "the answer the first call got, at version 2"
    assert await pets.rename(owner="alice", pet_id=pet.id, name="Rex", idempotency_key="r") == renamed
    await pets.delete(owner="alice", pet_id=pet.id)
    assert await feed(pets, pet.id, "k") == fed, "even once the pet is gone"


async def test_a_key_used_for_another_request_is_a_conflict(pets: PetService, clock: ManualClock) -> None:
    pet, other = await adopt(pets), await adopt(pets)
    clock.advance(timedelta(hours=8))
    await feed(pets, pet.id, "k")
    for reuse in (
        feed(pets, other.id, "k"),  # another pet
        pets.act(
            owner="alice", pet_id=pet.id, action=Action.PLAY, expected_version=None, idempotency_key="k"
        ),
        pets.rename(owner="alice", pet_id=pet.id, name="Rex", idempotency_key="k"),
        pets.delete(owner="alice", pet_id=pet.id, idempotency_key="k"),
        adopt(pets, idempotency_key="k"),
    ):
        with pytest.raises(IdempotencyKeyReused) as reused:
            await reuse
        assert reused.value.code.value == "CONFLICT"
    await pets.rename(owner="alice", pet_id=pet.id, name="Rex", idempotency_key="name")
    with pytest.raises(IdempotencyKeyReused):
        await pets.rename(owner="alice", pet_id=pet.id, name="Max", idempotency_key="name")  # another value
    assert (await pets.get(owner="alice", pet_id=pet.id)).version == 3, "no reuse wrote anything"
    assert (await pets.get(owner="alice", pet_id=other.id)).version == 1


async def test_keys_are_per_owner(pets: PetService, clock: ManualClock) -> None:
    mine, theirs = await adopt(pets), await adopt(pets, owner="bob")
    clock.advance(timedelta(hours=8))
    assert (await feed(pets, mine.id, "k")).version == 2
    bobs = await pets.act(
        owner="bob", pet_id=theirs.id, action=Action.FEED, expected_version=None, idempotency_key="k"
    )
    assert bobs.version == 2
    with pytest.raises(NotFound):  # and another owner's key never reveals the outcome of this one's
        await pets.act(
            owner="bob", pet_id=mine.id, action=Action.FEED, expected_version=None, idempotency_key="k2"
        )


async def test_a_retried_delete_returns_the_id_once_the_pet_is_gone(
    pets: PetService, events: RecordedEvents
) -> None:
    pet = await adopt(pets)
    assert await pets.delete(owner="alice", pet_id=pet.id, idempotency_key="d") == pet.id
    assert await pets.delete(owner="alice", pet_id=pet.id, idempotency_key="d") == pet.id
    assert events.counts["deleted"] == 1
    with pytest.raises(NotFound):  # without the key it is simply gone
        await pets.delete(owner="alice", pet_id=pet.id)
    with pytest.raises(NotFound):  # and a new key is a new request
        await pets.delete(owner="alice", pet_id=pet.id, idempotency_key="d2")


async def test_a_refusal_records_nothing_so_its_retry_is_decided_afresh(
    pets: PetService, clock: ManualClock
) -> None:
    pet = await adopt(pets)
    await feed(pets, pet.id, None)  # hunger 0
    for _ in range(2):
        with pytest.raises(ActionRefused) as refused:
            await feed(pets, pet.id, "k")
        assert refused.value.reason == "NOT_HUNGRY"
    clock.advance(timedelta(hours=8))
    fed = await feed(pets, pet.id, "k")  # now the rules allow it: applied once
    assert fed.version == 3
    assert await feed(pets, pet.id, "k") == fed
    with pytest.raises(NotFound):
        await feed(pets, "f" * 24, "missing")
    with pytest.raises(VersionConflict):
        await feed(pets, pet.id, "stale", expected_version=1)
    assert (await feed(pets, pet.id, "stale", expected_version=3)).version == 4, "nothing was recorded"


async def test_a_key_is_kept_for_the_window_and_may_be_used_again_after_it(
    pets: PetService, clock: ManualClock
) -> None:
    pet = await adopt(pets)
    clock.advance(timedelta(hours=8))
    fed = await feed(pets, pet.id, "k")
    clock.advance(IDEMPOTENCY_WINDOW - timedelta(seconds=1))
    assert await feed(pets, pet.id, "k") == fed
    clock.advance(timedelta(seconds=1))
    renamed = await pets.rename(owner="alice", pet_id=pet.id, name="Rex", idempotency_key="k")
    assert renamed.version == 3, "the key was forgotten: a new request"
    with pytest.raises(IdempotencyKeyReused):
        await feed(pets, pet.id, "k")


async def test_a_concurrent_retry_answers_with_the_outcome_of_the_attempt_that_landed(
    pets: PetService, store: InMemoryPetStore, clock: ManualClock, events: RecordedEvents
) -> None:
    pet = await adopt(pets)
    clock.advance(timedelta(hours=4))  # hungry enough for one feed only: deciding again would be refused
    get = store.get
    first_attempt: list[Pet] = []

    async def the_first_attempt_lands_just_before_this_read(**kwargs: Any) -> Pet | None:
        if not first_attempt:
            store.get = get  # type: ignore[method-assign]
            first_attempt.append(await feed(pets, pet.id, "k"))
        return await get(**kwargs)

    store.get = the_first_attempt_lands_just_before_this_read  # type: ignore[method-assign]
    assert await feed(pets, pet.id, "k") == first_attempt[0]
    assert (await pets.get(owner="alice", pet_id=pet.id)).version == 2
    assert (events.counts["FEED:ok"], events.counts["FEED:replayed"]) == (1, 1)


async def test_a_concurrent_retry_that_loses_the_write_answers_with_the_winners_outcome(
    pets: PetService, store: InMemoryPetStore, clock: ManualClock
) -> None:
    pet = await adopt(pets)
    clock.advance(timedelta(hours=4))
    save = store.save
    first_attempt: list[Pet] = []

    async def the_first_attempt_lands_while_this_one_decides(candidate: Pet, **kwargs: Any) -> Pet | None:
        if not first_attempt:
            store.save = save  # type: ignore[method-assign]
            first_attempt.append(await feed(pets, pet.id, "k"))
        return await save(candidate, **kwargs)

    store.save = the_first_attempt_lands_while_this_one_decides  # type: ignore[method-assign]
    assert await feed(pets, pet.id, "k") == first_attempt[0]
    assert (await pets.get(owner="alice", pet_id=pet.id)).version == 2


async def test_a_concurrent_delete_with_the_same_key_answers_with_the_id(
    pets: PetService, store: InMemoryPetStore
) -> None:
    pet = await adopt(pets)
    remove = store.remove

    async def the_first_attempt_deletes_it_first(**kwargs: Any) -> bool:
        store.remove = remove  # type: ignore[method-assign]
        assert await pets.delete(owner="alice", pet_id=pet.id, idempotency_key="d") == pet.id
        return await remove(**kwargs)

    store.remove = the_first_attempt_deletes_it_first  # type: ignore[method-assign]
    assert await pets.delete(owner="alice", pet_id=pet.id, idempotency_key="d") == pet.id


async def test_rename_and_delete_take_an_expected_version(pets: PetService) -> None:
    pet = await adopt(pets)
    with pytest.raises(ExpectedVersionMismatch) as conflict:
        await pets.rename(owner="alice", pet_id=pet.id, name="Rex", expected_version=2)
    assert (conflict.value.current_version, conflict.value.current) == (1, pet), "with the pet as it is"
    renamed = await pets.rename(owner="alice", pet_id=pet.id, name="Rex", expected_version=1)
    assert (renamed.name, renamed.version) == ("Rex", 2)
    with pytest.raises(VersionConflict) as conflict:
        await pets.delete(owner="alice", pet_id=pet.id, expected_version=1)
    assert conflict.value.current_version == 2
    assert await pets.get(owner="alice", pet_id=pet.id) == renamed, "a conflict deletes nothing"
    assert await pets.delete(owner="alice", pet_id=pet.id, expected_version=2) == pet.id
    with pytest.raises(NotFound):
        await pets.delete(owner="alice", pet_id=pet.id, expected_version=2)


async def test_an_adoption_deleted_since_is_answered_as_it_was_created(pets: PetService) -> None:
    first = await adopt(pets, idempotency_key="a")
    await pets.delete(owner="alice", pet_id=first.id)
    assert await adopt(pets, idempotency_key="a") == first
    assert (await pets.list(owner="alice", first=5, after=None)).pets == [], "not adopted twice"


async def test_a_malformed_idempotency_key_is_bad_input(pets: PetService) -> None:
    pet = await adopt(pets)
    for key in ("", "x" * 129):
        with pytest.raises(InvalidInput, match="1 to 128"):
            await feed(pets, pet.id, key)
        with pytest.raises(InvalidInput, match="1 to 128"):
            await pets.delete(owner="alice", pet_id=pet.id, idempotency_key=key)
