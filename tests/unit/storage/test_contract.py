"""One contract, two adapters: the in-memory store and MongoDB (a real SecantusDB over TCP) behave alike.

The use cases' fast tests run on the fake (tests/unit/pets/); this suite is what keeps it honest.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from pixelpet.pets.pet import Pet
from pixelpet.pets.ports import (
    IDEMPOTENCY_WINDOW,
    ChangeFeed,
    DuplicateIdempotencyKey,
    KeyedRequest,
    MalformedPetId,
    Outcome,
    OwnerAtCapacity,
    PagePosition,
    PetRepository,
)
from pixelpet.pets.rules import Species
from pixelpet.settings import MongoSettings
from pixelpet.storage.change_stream import MongoChangeStream
from pixelpet.storage.client import create_client, init_storage
from pixelpet.storage.memory import InMemoryPetStore
from pixelpet.storage.repository import MongoPetRepository
from tests.conftest import T0, unique_database
from tests.support.fakes import RecordedEvents

MOMENT = T0 + timedelta(microseconds=654_321)


@dataclass
class Adapters:
    repository: PetRepository
    feed: ChangeFeed


@dataclass
class RecordingSink:
    changes: list[tuple[str, object]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def watches(self, pet_id: str, owner: str | None) -> bool:
        return True

    def changed(self, pet: Pet, *, committed_at: float | None) -> None:
        self.changes.append(("changed", pet))
        self.arrived.set()

    def deleted(self, pet_id: str) -> None:
        self.changes.append(("deleted", pet_id))
        self.arrived.set()

    def resync(self) -> None:
        self.changes.append(("resync", None))

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len([c for c in self.changes if c[0] != "resync"]) < count:
                self.arrived.clear()
                await self.arrived.wait()


@pytest.fixture(params=["memory", "mongodb"])
async def adapters(request: pytest.FixtureRequest) -> AsyncIterator[Adapters]:
    if request.param == "memory":
        store = InMemoryPetStore()
        yield Adapters(store, store)
        return
    database: Any = request.getfixturevalue("database")
    uri = database.uri
    client: AsyncMongoClient[dict[str, Any]] = create_client(uri, MongoSettings())
    name = unique_database()
    await init_storage(client, name)
    yield Adapters(
        MongoPetRepository(client[name]),
        MongoChangeStream(client[name], stale_after_s=10, events=RecordedEvents()),
    )
    await client.close()


def new_pet(
    repository: PetRepository, owner: str = "alice", *, key: str | None = None, at: Any = MOMENT
) -> Pet:
    return Pet.adopt(
        id=repository.new_id(), owner=owner, name="Mochi", species=Species.CAT, at=at, idempotency_key=key
    )


async def test_what_add_returns_is_what_get_returns_to_the_millisecond(adapters: Adapters) -> None:
    repository = adapters.repository
    added = await repository.add(new_pet(repository), max_pets_per_owner=5)
    assert added.created_at == added.state.as_of == MOMENT.replace(microsecond=654_000)
    assert await repository.get(owner="alice", pet_id=added.id) == added
    assert await repository.get(owner="mallory", pet_id=added.id) is None
    assert await repository.get(owner="alice", pet_id=repository.new_id()) is None


async def test_malformed_ids_are_refused_alike(adapters: Adapters) -> None:
    repository = adapters.repository
    for attempt in (
        repository.get(owner="alice", pet_id="nope"),
        repository.remove(owner="alice", pet_id="0" * 25),
        repository.list_page(owner="alice", after=PagePosition(T0, "zz"), limit=1),
    ):
        with pytest.raises(MalformedPetId):
            await attempt


async def test_the_owner_cap_and_idempotency_keys_hold(adapters: Adapters) -> None:
    repository = adapters.repository
    await repository.add(new_pet(repository, key="k"), max_pets_per_owner=2)
    with pytest.raises(DuplicateIdempotencyKey):
        await repository.add(new_pet(repository, key="k"), max_pets_per_owner=2)
    await repository.add(new_pet(repository, owner="bob", key="k"), max_pets_per_owner=2)  # per owner
    await repository.add(new_pet(repository), max_pets_per_owner=2)
    with pytest.raises(OwnerAtCapacity):
        await repository.add(new_pet(repository), max_pets_per_owner=2)
    found = await repository.get_by_idempotency_key(owner="alice", key="k")
    assert found is not None
    assert found.idempotency_key == "k"
    assert await repository.get_by_idempotency_key(owner="alice", key="other") is None


async def test_save_applies_only_over_the_expected_version(adapters: Adapters) -> None:
    repository = adapters.repository
    pet = await repository.add(new_pet(repository), max_pets_per_owner=5)
    renamed = pet.renamed("Rex", at=MOMENT + timedelta(seconds=1))
    saved = await repository.save(renamed, expected_version=1)
    assert saved is not None
    assert (saved.name, saved.version) == ("Rex", 2)
    assert await repository.get(owner="alice", pet_id=pet.id) == saved
    assert await repository.save(pet.renamed("Late", at=MOMENT), expected_version=1) is None
    assert await repository.save(replace(renamed, owner="mallory", version=3), expected_version=2) is None


async def test_removing_frees_a_place_once(adapters: Adapters) -> None:
    repository = adapters.repository
    pet = await repository.add(new_pet(repository), max_pets_per_owner=1)
    assert not await repository.remove(owner="mallory", pet_id=pet.id)
    assert await repository.remove(owner="alice", pet_id=pet.id)
    assert not await repository.remove(owner="alice", pet_id=pet.id)
    await repository.add(new_pet(repository), max_pets_per_owner=1)


async def test_pages_follow_creation_order_then_id(adapters: Adapters) -> None:
    repository = adapters.repository
    made = [
        await repository.add(new_pet(repository, at=MOMENT + timedelta(seconds=n % 2)), max_pets_per_owner=9)
        for n in range(4)
    ]
    expected = sorted(made, key=lambda pet: (pet.created_at, pet.id))
    first = await repository.list_page(owner="alice", after=None, limit=3)
    assert first == expected[:3]
    rest = await repository.list_page(
        owner="alice", after=PagePosition(first[-1].created_at, first[-1].id), limit=3
    )
    assert rest == expected[3:]
    assert await repository.list_page(owner="bob", after=None, limit=3) == []


async def test_the_change_feed_reports_every_write(adapters: Adapters) -> None:
    repository, feed = adapters.repository, adapters.feed
    sink = RecordingSink()
    await feed.start(sink)
    try:
        pet = await repository.add(new_pet(repository), max_pets_per_owner=5)
        saved = await repository.save(pet.renamed("Rex", at=MOMENT), expected_version=1)
        await repository.remove(owner="alice", pet_id=pet.id)
        await sink.wait_for(3)
        assert feed.health() == "ok"
    finally:
        await feed.stop()
    assert [c for c in sink.changes if c[0] != "resync"] == [
        ("changed", pet),
        ("changed", saved),
        ("deleted", pet.id),
    ]


def keyed(
    kind: str, pet_id: str | None, *, key: str = "k", owner: str = "alice", at: Any = MOMENT
) -> KeyedRequest:
    return KeyedRequest(owner=owner, key=key, kind=kind, pet_id=pet_id, made_at=at, details="")


async def test_a_keyed_change_records_its_outcome_with_the_write(adapters: Adapters) -> None:
    repository = adapters.repository
    pet = await repository.add(new_pet(repository), max_pets_per_owner=5)
    request = keyed("FEED", pet.id)
    saved = await repository.save(pet.renamed("Rex", at=MOMENT), expected_version=1, request=request)
    assert saved is not None
    recorded = await repository.outcome(owner="alice", key="k")
    assert recorded == Outcome(request=request, pet=saved)
    assert recorded.request.made_at == MOMENT.replace(microsecond=654_000), "dated as stored"
    assert await repository.outcome(owner="bob", key="k") is None, "keys are per owner"
    # A change that did not happen (the version moved on) records nothing.
    assert (
        await repository.save(
            pet.renamed("Late", at=MOMENT), expected_version=1, request=keyed("X", pet.id, key="k2")
        )
        is None
    )
    assert await repository.outcome(owner="alice", key="k2") is None


async def test_a_taken_key_refuses_the_whole_write(adapters: Adapters) -> None:
    repository = adapters.repository
    pet = await repository.add(new_pet(repository), max_pets_per_owner=2)
    saved = await repository.save(
        pet.renamed("Rex", at=MOMENT), expected_version=1, request=keyed("RENAME", pet.id)
    )
    assert saved is not None
    with pytest.raises(DuplicateIdempotencyKey):
        await repository.save(
            saved.renamed("Max", at=MOMENT), expected_version=2, request=keyed("RENAME", pet.id)
        )
    with pytest.raises(DuplicateIdempotencyKey):
        await repository.remove(owner="alice", pet_id=pet.id, request=keyed("DELETE", pet.id))
    with pytest.raises(DuplicateIdempotencyKey):
        await repository.add(new_pet(repository), max_pets_per_owner=2, request=keyed("ADOPT", None))
    assert await repository.get(owner="alice", pet_id=pet.id) == saved, "neither changed nor deleted"
    assert await repository.list_page(owner="alice", after=None, limit=5) == [saved], "nothing adopted"
    await repository.add(new_pet(repository), max_pets_per_owner=2)  # and the refused adoption took no place
    first = await repository.outcome(owner="alice", key="k")
    assert first is not None
    assert first.pet == saved


async def test_a_keyed_removal_and_adoption_record_their_outcomes(adapters: Adapters) -> None:
    repository = adapters.repository
    adoption = keyed("ADOPT", None, key="a")
    adopted = await repository.add(new_pet(repository), max_pets_per_owner=5, request=adoption)
    assert await repository.outcome(owner="alice", key="a") == Outcome(request=adoption, pet=adopted)
    deletion = keyed("DELETE", adopted.id, key="d")
    assert await repository.remove(owner="alice", pet_id=adopted.id, request=deletion)
    assert await repository.outcome(owner="alice", key="d") == Outcome(request=deletion, pet=None)
    assert await repository.get(owner="alice", pet_id=adopted.id) is None


async def test_removal_honours_an_expected_version(adapters: Adapters) -> None:
    repository = adapters.repository
    pet = await repository.add(new_pet(repository), max_pets_per_owner=1)
    saved = await repository.save(pet.renamed("Rex", at=MOMENT), expected_version=1)
    assert not await repository.remove(
        owner="alice", pet_id=pet.id, expected_version=1, request=keyed("DELETE", pet.id)
    )
    assert await repository.get(owner="alice", pet_id=pet.id) == saved
    assert await repository.outcome(owner="alice", key="k") is None, "nothing deleted, nothing recorded"
    assert await repository.remove(owner="alice", pet_id=pet.id, expected_version=2)
    await repository.add(new_pet(repository), max_pets_per_owner=1)  # its place was freed once


async def test_an_outcome_is_replaced_only_once_expired(adapters: Adapters) -> None:
    repository = adapters.repository
    pet = await repository.add(new_pet(repository), max_pets_per_owner=5)
    first = await repository.save(
        pet.renamed("A", at=MOMENT), expected_version=1, request=keyed("RENAME", pet.id)
    )
    assert first is not None
    almost = MOMENT + IDEMPOTENCY_WINDOW - timedelta(milliseconds=1)
    with pytest.raises(DuplicateIdempotencyKey):
        await repository.save(
            first.renamed("B", at=almost), expected_version=2, request=keyed("PLAY", pet.id, at=almost)
        )
    expired = MOMENT + IDEMPOTENCY_WINDOW
    later = keyed("PLAY", pet.id, at=expired)
    second = await repository.save(first.renamed("B", at=expired), expected_version=2, request=later)
    assert second is not None
    assert await repository.outcome(owner="alice", key="k") == Outcome(request=later, pet=second)
