"""Live subscriptions over the in-memory store: the whole live core, no socket, no database, no GraphQL."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from pixelpet.errors import NotFound
from pixelpet.pets.live.channel import Snapshot
from pixelpet.pets.pet import Pet
from pixelpet.pets.rules import Action
from tests.support.live import Watcher, World, adopt


async def watch(world: World, pet: Pet, owner: str = "alice") -> Watcher:
    watcher = Watcher(world.subscriptions.open(owner=owner, pet_id=pet.id))
    await watcher.start()
    return watcher


async def test_the_current_state_then_every_newer_one(world: World) -> None:
    pet = await adopt(world)
    watcher = await watch(world, pet)
    assert watcher.shown[0].pet == pet
    await world.pets.act(owner="alice", pet_id=pet.id, action=Action.PLAY, expected_version=None)
    assert [snapshot.pet.version for snapshot in watcher.shown] == [1, 2]
    assert watcher.shown[1].cause == "change"


async def test_every_subscriber_of_a_pet_receives_the_same_snapshot(world: World) -> None:
    pet = await adopt(world)
    one, two = await watch(world, pet), await watch(world, pet)
    await world.pets.rename(owner="alice", pet_id=pet.id, name="Rex")
    assert one.shown[-1] is two.shown[-1]
    assert world.channels.watched() == (2, 1)


async def test_time_shows_what_a_client_would_see_change(world: World) -> None:
    pet = await adopt(world)
    watcher = await watch(world, pet)
    world.clock.advance(timedelta(hours=2))
    assert len(watcher.shown) > 1
    assert {snapshot.cause for snapshot in watcher.shown[1:]} == {"time"}
    assert world.events.counts["shown:time"] == len(watcher.shown) - 1


async def test_a_deletion_ends_the_subscription_and_leaves_nothing(world: World) -> None:
    pet = await adopt(world)
    watcher = await watch(world, pet)
    await world.pets.delete(owner="alice", pet_id=pet.id)
    (error,) = watcher.ended
    assert isinstance(error, NotFound)
    assert world.channels.watched() == (0, 0)
    assert world.clock.pending() == 0, "no timer of the pet is left"


async def test_another_owners_pet_is_not_found_and_leaves_nothing(world: World) -> None:
    pet = await adopt(world)
    with pytest.raises(NotFound):
        await watch(world, pet, owner="mallory")
    assert world.channels.watched() == (0, 0)
    assert world.events.counts["opened"] == world.events.counts["closed"] == 1


async def test_after_a_resync_one_read_serves_every_subscriber(world: World) -> None:
    pet = await adopt(world)
    watchers = [await watch(world, pet) for _ in range(5)]
    reads = world.store.reads
    world.channels.resync()
    await asyncio.sleep(0)  # the shared read runs
    await asyncio.sleep(0)
    assert world.store.reads == reads + 1
    assert all(not watcher.ended for watcher in watchers)


async def test_closing_leaves_the_channel_and_cancels_the_timer(world: World) -> None:
    pet = await adopt(world)
    watcher = await watch(world, pet)
    assert world.clock.pending() == 1
    watcher.subscription.close()
    watcher.subscription.close()  # safe twice
    assert world.channels.watched() == (0, 0)
    assert world.clock.pending() == 0
    await world.pets.rename(owner="alice", pet_id=pet.id, name="Rex")
    assert len(watcher.shown) == 1, "nothing is pushed after close"


async def test_a_change_between_the_first_read_and_start_is_shown_after_start(world: World) -> None:
    pet = await adopt(world)
    subscription = world.subscriptions.open(owner="alice", pet_id=pet.id)
    first = await subscription.first()
    await world.pets.rename(owner="alice", pet_id=pet.id, name="Rex")  # before start()
    shown: list[Snapshot] = []
    subscription.start(shown.append, lambda error: None)
    assert first.pet.version == 1
    assert [snapshot.pet.name for snapshot in shown] == ["Rex"]
    subscription.close()


async def test_a_pet_deleted_while_its_first_read_is_in_flight_ends_the_subscription(world: World) -> None:
    pet = await adopt(world)
    read = world.store.get

    async def deleted_meanwhile(**query: Any) -> Pet | None:
        found = await read(**query)
        await world.pets.delete(owner="alice", pet_id=pet.id)
        return found

    world.store.get = deleted_meanwhile  # type: ignore[method-assign]
    with pytest.raises(NotFound):
        await watch(world, pet)
    world.store.get = read  # type: ignore[method-assign]
    assert world.channels.watched() == (0, 0)
    assert world.clock.pending() == 0, "no timer for a deleted pet"


async def test_a_deletion_before_start_is_not_overwritten_by_a_later_state(world: World) -> None:
    pet = await adopt(world)
    subscription = world.subscriptions.open(owner="alice", pet_id=pet.id)
    await subscription.first()
    await world.pets.delete(owner="alice", pet_id=pet.id)
    ended: list[Exception | None] = []
    subscription.start(lambda snapshot: None, ended.append)
    (error,) = ended
    assert isinstance(error, NotFound)
    assert world.channels.watched() == (0, 0)
