"""A subscription completed, dropped or churned at any moment of its life leaves nothing behind.

The window that matters is the first read: the subscriber is already in the pet's feed (so no change
committed meanwhile is missed) while the read is still waiting on the database. A failpoint holds that
read for as long as the test needs; the client completes or leaves inside the window.
"""

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from pixelpet.app import create_app
from pixelpet.clock import ManualClock
from pixelpet.devdb import DevDatabase
from pixelpet.settings import Settings, SubscriptionSettings
from tests.conftest import make_settings
from tests.support.failpoints import failpoints
from tests.support.graphql import GraphQLClient, create_pet
from tests.support.metrics import eventually, scrape
from tests.support.server import running_server
from tests.support.ws import SubscriptionClient

RENAME = "mutation($id: ID!, $name: String!) { renamePet(id: $id, name: $name) { version } }"
# Longer than it takes the service to hear the client (the window is open for this long).
FIRST_READ_BLOCKED_MS = 1500


@dataclass
class Service:
    url: str
    client: GraphQLClient
    http: httpx.AsyncClient
    app: Starlette
    clock: ManualClock

    def watched(self) -> tuple[int, int]:
        """(subscriptions, pets with a feed) in the process."""
        subscriptions, feeds = self.app.state.runtime.channels.watched()
        return subscriptions, feeds

    async def left_behind(self) -> dict[str, float]:
        subscriptions, feeds = self.watched()
        return {
            "subscriptions": subscriptions,
            "feeds": feeds,
            "timers": self.clock.pending(),
            "pixelpet_subscriptions_active": await scrape(self.http, "pixelpet_subscriptions_active"),
        }


NOTHING = {"subscriptions": 0, "feeds": 0, "timers": 0, "pixelpet_subscriptions_active": 0}


@pytest.fixture
def settings(database: DevDatabase) -> Settings:
    return make_settings(
        database.uri,
        subscriptions=SubscriptionSettings(
            max_per_connection=50,
            max_per_owner=200,
            subscribes_per_second=10_000,
            subscribe_burst=10_000,
            min_snapshot_interval_s=0,
        ),
    )


@pytest.fixture
async def service(settings: Settings, clock: ManualClock) -> AsyncIterator[Service]:
    app = create_app(settings, clock=clock)
    async with running_server(app) as url, httpx.AsyncClient(base_url=url) as http:
        yield Service(url, GraphQLClient(http), http, app, clock)


async def _cancelled_setups(service: Service) -> float:
    return await scrape(service.http, "pixelpet_graphql_requests_total", code="CANCELLED")


@contextlib.asynccontextmanager
async def first_read_held(
    service: Service, database: DevDatabase, pet_id: str
) -> AsyncIterator[tuple[SubscriptionClient, str]]:
    """A subscriber in the pet's feed whose first read the database holds; when the block ends, the held
    read has had time to come back, and nothing it could have armed (a timer) may be left."""
    async with failpoints(database.uri) as arm:
        await arm(times=1, failCommands=["find"], blockConnection=True, blockTimeMS=FIRST_READ_BLOCKED_MS)
        watcher = await (await SubscriptionClient.connect(service.url)).acknowledged()
        operation = await watcher.subscribe(pet_id)
        assert await eventually(lambda: service.watched() == (1, 1), within_s=5), (
            "subscribed, first read held"
        )
        yield watcher, operation
        assert await eventually(lambda: service.watched() == (0, 0), within_s=5)
        # Past the moment the held read comes back: had the setup gone on, it would now arm the pet's
        # timer (in a feed the broker dropped) and send a `next` for the completed id.
        assert not await eventually(lambda: service.clock.pending() > 0, within_s=FIRST_READ_BLOCKED_MS / 500)
    assert await _cancelled_setups(service) == 1


async def test_complete_during_the_first_read_cancels_the_setup(
    service: Service, database: DevDatabase
) -> None:
    pet = await create_pet(service.client)
    async with first_read_held(service, database, pet["id"]) as (watcher, operation):
        await watcher.send({"id": operation, "type": "complete"})
        await watcher.send({"type": "ping"})
        assert await watcher.receive() == {"type": "pong"}, "nothing sent for the completed id"
    assert await watcher.nothing_within(0.2)
    assert await service.left_behind() == NOTHING
    # The id is free again, and the pet is watched as usual.
    await watcher.send(
        {"id": operation, "type": "subscribe", "payload": _pet_stats(pet["id"])},
    )
    assert (await watcher.next_pet())["version"] == 1
    await watcher.close()
    assert await eventually(lambda: service.watched() == (0, 0), within_s=5)


async def test_leaving_during_the_first_read_cancels_the_setup(
    service: Service, database: DevDatabase
) -> None:
    pet = await create_pet(service.client)
    async with first_read_held(service, database, pet["id"]) as (watcher, _):
        await watcher.close()
    assert await service.left_behind() == NOTHING


async def test_subscribe_complete_churn_leaves_nothing_behind(
    service: Service, database: DevDatabase
) -> None:
    pets = [await create_pet(service.client, name=f"Pet{n}") for n in range(3)]
    tasks_before = _service_tasks()
    churner = await (await SubscriptionClient.connect(service.url)).acknowledged()
    leaver = await (await SubscriptionClient.connect(service.url)).acknowledged()
    ids = itertools.count(1)
    completed: set[str] = set()
    async with failpoints(database.uri) as arm:
        # Every first read slowed down: a complete sent right after its subscribe lands in the window.
        await arm(failCommands=["find"], blockConnection=True, blockTimeMS=200)
        for round_ in range(40):
            pet_id = pets[round_ % 3]["id"]
            # Completed at once (inside the first read), after its first state, or never (the connection
            # ends with it open); a change now and then reaches whoever is still watching.
            at_once = str(next(ids))
            await churner.send({"id": at_once, "type": "subscribe", "payload": _pet_stats(pet_id)})
            await churner.send({"type": "ping"})  # the pong comes once the subscribe is being set up
            await _until_pong(churner, completed)
            await churner.send({"id": at_once, "type": "complete"})
            completed.add(at_once)
            after_first = str(next(ids))
            await churner.send({"id": after_first, "type": "subscribe", "payload": _pet_stats(pet_id)})
            if round_ <= 20:
                await leaver.send({"id": str(round_), "type": "subscribe", "payload": _pet_stats(pet_id)})
            if round_ % 10 == 0:
                await service.client.execute(RENAME, {"id": pet_id, "name": f"Round{round_}"})
            await _until_first_state(churner, after_first)
            await churner.send({"id": after_first, "type": "complete"})
            completed.add(after_first)
            if round_ == 20:
                await leaver.close()  # gone with its subscriptions open, some still setting up
        await churner.send({"type": "ping"})
        await _until_pong(churner, completed)
        # Past the last held read: a setup that went on would send now.
        assert await churner.nothing_within(0.5), "nothing sent for a completed id after the client heard it"
    await churner.close()
    assert await eventually(lambda: service.watched() == (0, 0), within_s=10)
    assert await service.left_behind() == NOTHING
    assert await eventually(lambda: len(_service_tasks()) <= len(tasks_before), within_s=10), (
        f"{_service_tasks()} now, {tasks_before} before"
    )
    assert await _cancelled_setups(service) > 0, "completes landed inside first reads"


def _service_tasks() -> list[str]:
    """The running tasks but PyMongo's: it runs a read and a cancellation poll per command in flight, and its
    change stream and monitors keep one in flight or not from moment to moment (a count taken with one
    missing failed this test while nothing was left behind)."""
    return sorted(
        task.get_coro().__qualname__
        for task in asyncio.all_tasks()
        if "/pymongo/" not in task.get_coro().cr_code.co_filename
    )


def _pet_stats(pet_id: str) -> dict[str, Any]:
    return {
        "query": "subscription($id: ID!) { petStats(id: $id) { version name } }",
        "variables": {"id": pet_id},
    }


async def _until_first_state(client: SubscriptionClient, operation: str) -> None:
    """Reads until ``operation``'s first `next`; what the other subscriptions sent meanwhile is fine."""
    while True:
        message = await client.receive()
        assert message["type"] in {"next", "complete"}, message
        assert not message.get("payload", {}).get("errors"), message
        if message["type"] == "next" and message["id"] == operation:
            return


async def _until_pong(client: SubscriptionClient, completed: set[str]) -> None:
    """Reads until the pong; anything else before it must be for an operation the client completed (sent
    before the complete was heard)."""
    while (message := await client.receive())["type"] != "pong":
        assert message.get("id") in completed, message
