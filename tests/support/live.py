"""The whole live core on the in-memory store, for tests of pixelpet/pets/live/."""

from dataclasses import dataclass, field

from pixelpet.clock import ManualClock
from pixelpet.pets.live.channel import Snapshot
from pixelpet.pets.live.channels import Channels
from pixelpet.pets.live.subscription import LiveSubscription, Subscriptions
from pixelpet.pets.pet import Pet
from pixelpet.pets.rules import Species
from pixelpet.pets.service import PetService
from pixelpet.storage.memory import InMemoryPetStore
from tests.support.fakes import RecordedEvents


@dataclass
class World:
    clock: ManualClock
    store: InMemoryPetStore
    pets: PetService
    channels: Channels
    subscriptions: Subscriptions
    events: RecordedEvents


@dataclass
class Watcher:
    """What a subscriber received."""

    subscription: LiveSubscription
    shown: list[Snapshot] = field(default_factory=list)
    ended: list[Exception | None] = field(default_factory=list)

    async def start(self) -> None:
        self.shown.append(await self.subscription.first())
        self.subscription.start(self.shown.append, self.ended.append)


async def adopt(world: World, owner: str = "alice") -> Pet:
    return await world.pets.create(owner=owner, name="Mochi", species=Species.DOG, idempotency_key=None)
