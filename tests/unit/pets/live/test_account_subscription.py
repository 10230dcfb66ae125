"""The account stream on the in-memory store: all pets, then each change, adoption and deletion, in order."""

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pixelpet.pets.live.account import AccountEvent, PetChanged, PetRemoved, PetsListed
from pixelpet.pets.live.account_subscription import AccountSubscription
from pixelpet.pets.pet import Pet
from pixelpet.pets.rules import Action
from tests.support.live import World, adopt


@dataclass
class AccountWatcher:
    subscription: AccountSubscription
    received: list[AccountEvent] = field(default_factory=list)
    ended: list[Exception | None] = field(default_factory=list)

    async def start(self) -> "AccountWatcher":
        self.received.append(await self.subscription.first())
        self.subscription.start(self.received.append, self.ended.append)
        return self

    def changes(self) -> list[tuple[str, str, int]]:
        """What arrived after the first list, as (kind, pet id, version or 0)."""
        out = []
        for event in self.received[1:]:
            if isinstance(event, PetChanged):
                out.append(("changed", event.snapshot.pet.id, event.snapshot.pet.version))
            elif isinstance(event, PetRemoved):
                out.append(("removed", event.pet_id, 0))
            else:
                out.append(("listed", "", 0))
        return out


async def watch_account(world: World, owner: str = "alice") -> AccountWatcher:
    return await AccountWatcher(world.subscriptions.open_account(owner=owner)).start()


async def test_every_pet_first_then_adoptions_changes_and_deletions(world: World) -> None:
    first, second = await adopt(world), await adopt(world)
    await adopt(world, owner="bob")
    watcher = await watch_account(world)
    listed = watcher.received[0]
    assert isinstance(listed, PetsListed)
    assert [s.pet.id for s in listed.snapshots] == [first.id, second.id], "the player's own, oldest first"
    third = await adopt(world)
    await world.pets.rename(owner="alice", pet_id=first.id, name="Rex")
    await world.pets.delete(owner="alice", pet_id=second.id)
    await adopt(world, owner="bob")  # someone else's: not shown
    assert watcher.changes() == [
        ("changed", third.id, 1),
        ("changed", first.id, 2),
        ("removed", second.id, 0),
    ]
    assert world.events.counts["opened"] == 1, "one subscription, whatever the number of pets"


async def test_subscribers_of_one_account_receive_the_same_event_objects(world: World) -> None:
    pet = await adopt(world)
    one, two = await watch_account(world), await watch_account(world)
    await world.pets.act(owner="alice", pet_id=pet.id, action=Action.PLAY, expected_version=None)
    assert one.received[-1] is two.received[-1], "executed and encoded once for both (Snapshot-like sharing)"


async def test_time_shows_as_changes_in_order(world: World) -> None:
    pet = await adopt(world)
    watcher = await watch_account(world)
    world.clock.advance(timedelta(hours=3))
    changes = [e for e in watcher.received[1:] if isinstance(e, PetChanged)]
    assert changes
    ats = [e.snapshot.at for e in changes]
    assert ats == sorted(ats)
    assert {e.snapshot.cause for e in changes} == {"time"}
    assert all(e.snapshot.pet.id == pet.id for e in changes)


async def test_a_change_between_the_list_and_start_is_delivered_after_it_never_older(world: World) -> None:
    pet = await adopt(world)
    subscription = world.subscriptions.open_account(owner="alice")
    listed = await subscription.first()
    await world.pets.rename(owner="alice", pet_id=pet.id, name="Rex")  # before start()
    received: list[AccountEvent] = []
    subscription.start(received.append, lambda error: None)
    assert isinstance(listed, PetsListed)
    assert [e.snapshot.pet.version for e in received if isinstance(e, PetChanged)] == [2]
    subscription.close()


async def test_leaving_leaves_nothing_behind(world: World) -> None:
    for _ in range(3):
        await adopt(world)
    watchers = [await watch_account(world) for _ in range(2)]
    assert world.channels.watched()[1] == 4, "three pet channels and the account's"
    for watcher in watchers:
        watcher.subscription.close()
        watcher.subscription.close()
    assert world.channels.watched() == (0, 0)
    assert world.clock.pending() == 0
    assert world.events.counts["opened"] == world.events.counts["closed"] == 2


async def test_after_a_resync_the_whole_list_again(world: World) -> None:
    pet = await adopt(world)
    watcher = await watch_account(world)
    world.channels.resync()
    for _ in range(3):
        await asyncio.sleep(0)
    relisted = watcher.received[-1]
    assert isinstance(relisted, PetsListed)
    assert [s.pet.id for s in relisted.snapshots] == [pet.id]


async def test_churn_while_pets_come_and_go_leaves_nothing(world: World) -> None:
    """Subscribe and leave while pets are adopted and deleted: no channel, member or timer is left."""
    pets = [await adopt(world) for _ in range(3)]
    for round_number in range(30):
        watcher = await watch_account(world)
        if round_number % 3 == 0:
            pets.append(await adopt(world))
        elif pets:
            await world.pets.delete(owner="alice", pet_id=pets.pop(0).id)
        world.clock.advance(timedelta(minutes=7))
        if round_number % 2:
            watcher.subscription.close()
        else:
            other = await watch_account(world)
            watcher.subscription.close()
            other.subscription.close()
    assert world.channels.watched() == (0, 0)
    assert world.clock.pending() == 0
    assert world.events.counts["opened"] == world.events.counts["closed"]


async def test_a_pet_deleted_while_the_list_is_read_is_never_shown_again(world: World) -> None:
    """The read returns the pet, its deletion lands before the read ends: it must not come back."""
    keep, victim = await adopt(world), await adopt(world)
    early = await watch_account(world)  # already watching: it must get the removal, then nothing more
    read = world.store.list_page

    async def deleted_meanwhile(**query: Any) -> list[Pet]:
        found = await read(**query)
        await world.pets.delete(owner="alice", pet_id=victim.id)
        return found

    world.store.list_page = deleted_meanwhile  # type: ignore[method-assign]
    late = await watch_account(world)
    world.store.list_page = read  # type: ignore[method-assign]
    listed = late.received[0]
    assert isinstance(listed, PetsListed)
    assert [s.pet.id for s in listed.snapshots] == [keep.id]
    world.clock.advance(timedelta(hours=6))
    for watcher in (early, late):
        about_victim = [
            e for e in watcher.received[1:] if not isinstance(e, PetsListed) and e.about == victim.id
        ]
        assert all(isinstance(e, PetRemoved) for e in about_victim), watcher.changes()
    assert ("removed", victim.id, 0) in early.changes()
    for watcher in (early, late):
        watcher.subscription.close()
    assert world.channels.watched() == (0, 0)
    assert world.clock.pending() == 0
