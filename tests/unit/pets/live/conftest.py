"""The live core's tests share one world: the in-memory store, its channels and subscriptions."""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from pixelpet.clock import ManualClock
from pixelpet.pets.live.channels import Channels
from pixelpet.pets.live.subscription import Subscriptions
from pixelpet.pets.service import PetService, UseCaseLimits
from pixelpet.storage.memory import InMemoryPetStore
from tests.conftest import T0
from tests.support.fakes import RecordedEvents
from tests.support.live import World


@pytest.fixture
async def world() -> AsyncIterator[World]:
    clock = ManualClock(T0)
    events = RecordedEvents()
    store = InMemoryPetStore()
    pets = PetService(
        repository=store,
        clock=clock,
        limits=UseCaseLimits(max_page_size=10, max_pets_per_owner=10, max_action_retries=3),
        events=events,
    )
    channels = Channels(clock=clock, min_interval=timedelta(seconds=1))
    await store.start(channels)
    yield World(
        clock, store, pets, channels, Subscriptions(pets=pets, channels=channels, events=events), events
    )
    await store.stop()
