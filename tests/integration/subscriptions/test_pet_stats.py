"""Live subscriptions through a real uvicorn, a real WebSocket client and a real change stream."""

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import websockets

from pixelpet.app import create_app
from pixelpet.client.websocket import HandshakeRefused
from pixelpet.clock import ManualClock
from pixelpet.devdb import DevDatabase
from pixelpet.settings import CorsSettings, Settings, SubscriptionSettings
from tests.conftest import make_settings
from tests.support.graphql import GraphQLClient, create_pet, token_for
from tests.support.server import running_server, serving
from tests.support.ws import PET_STATS, SubscriptionClient

FEED = "mutation($id: ID!) { feedPet(id: $id) { version } }"
RENAME = "mutation($id: ID!, $name: String!) { renamePet(id: $id, name: $name) { version } }"


@pytest.fixture
def subscription_settings() -> SubscriptionSettings:
    return SubscriptionSettings(
        max_per_connection=3,
        max_per_process=5,
        min_snapshot_interval_s=0,
    )


@pytest.fixture
def settings(database: DevDatabase, subscription_settings: SubscriptionSettings) -> Settings:
    return make_settings(
        database.uri,
        subscriptions=subscription_settings,
        cors=CorsSettings(allowed_origins=["https://play.example"]),
    )


@pytest.fixture
async def server(settings: Settings, clock: ManualClock) -> AsyncIterator[tuple[str, GraphQLClient]]:
    async with serving(settings, clock) as served:
        yield served


async def test_a_subscriber_gets_the_current_state_then_each_change(
    server: tuple[str, GraphQLClient],
) -> None:
    url, client = server
    pet = await create_pet(client)
    watcher = await (await SubscriptionClient.connect(url)).acknowledged()
    await watcher.subscribe(pet["id"])
    first = await watcher.next_pet()
    assert (first["id"], first["version"], first["stats"]["hunger"]) == (pet["id"], 1, 20)
    await client.execute(FEED, {"id": pet["id"]})
    fed = await watcher.next_pet()
    assert (fed["version"], fed["stats"]["hunger"]) == (2, 0)
    await client.execute(RENAME, {"id": pet["id"], "name": "Renamed"})
    assert (await watcher.next_pet())["name"] == "Renamed"
    await watcher.close()


async def test_time_alone_sends_a_snapshot_when_the_view_changes(
    server: tuple[str, GraphQLClient], clock: ManualClock
) -> None:
    url, client = server
    pet = await create_pet(client, species="CAT")  # energy 80, falling 8 per hour: shows 79 after 3.75 min
    watcher = await (await SubscriptionClient.connect(url)).acknowledged()
    await watcher.subscribe(pet["id"])
    assert (await watcher.next_pet())["stats"]["energy"] == 80
    clock.advance(timedelta(minutes=3))  # energy 79.6 still shows 80: nothing to send
    assert await watcher.nothing_within(0.3)
    clock.advance(timedelta(minutes=1))  # energy 79.47 shows 79
    snapshot = await watcher.next_pet(seconds=5)
    assert snapshot["stats"]["energy"] == 79
    assert snapshot["version"] == 1, "time writes nothing"
    await watcher.close()


async def test_subscribers_of_one_pet_each_get_their_own_selection(
    server: tuple[str, GraphQLClient], clock: ManualClock
) -> None:
    """Deliveries are executed once per distinct operation and shared: sharing must never mix them up."""
    url, client = server
    pet = await create_pet(client, species="CAT")
    narrow = "subscription($id: ID!) { petStats(id: $id) { version stats { energy } } }"
    full, slim = [await (await SubscriptionClient.connect(url)).acknowledged() for _ in range(2)]
    await full.subscribe(pet["id"])
    await slim.subscribe(pet["id"], narrow)
    assert (await full.next_pet())["name"] == pet["name"]
    assert await slim.next_pet() == {"version": 1, "stats": {"energy": 80}}
    await client.execute(RENAME, {"id": pet["id"], "name": "Shared"})
    assert ((await full.next_pet())["name"], (await slim.next_pet())["version"]) == ("Shared", 2)
    late = await (await SubscriptionClient.connect(url)).acknowledged()
    await late.subscribe(pet["id"], narrow)
    assert await late.next_pet() == {"version": 2, "stats": {"energy": 80}}
    clock.advance(timedelta(minutes=4))  # energy shows 79: one time-based snapshot for everyone
    assert (await full.next_pet(seconds=5))["stats"]["energy"] == 79
    expected = {"version": 2, "stats": {"energy": 79}}
    assert (await slim.next_pet(seconds=5), await late.next_pet(seconds=5)) == (expected, expected)
    for watcher in (full, slim, late):
        await watcher.close()


async def test_deleting_the_pet_ends_the_subscription_with_not_found(
    server: tuple[str, GraphQLClient],
) -> None:
    url, client = server
    pet = await create_pet(client)
    watcher = await (await SubscriptionClient.connect(url)).acknowledged()
    operation = await watcher.subscribe(pet["id"])
    await watcher.next_pet()
    await client.execute("mutation($id: ID!) { deletePet(id: $id) }", {"id": pet["id"]})
    ended = await watcher.receive()
    assert ended["type"] == "next"
    assert ended["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await watcher.receive() == {"id": operation, "type": "complete"}
    await watcher.close()


async def test_another_owners_pet_cannot_be_watched(server: tuple[str, GraphQLClient]) -> None:
    url, client = server
    pet = await create_pet(client)
    mallory = await (await SubscriptionClient.connect(url, owner="mallory")).acknowledged()
    await mallory.subscribe(pet["id"])
    message = await mallory.receive()
    assert message["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    await mallory.close()


async def test_subscription_caps_give_a_typed_error(server: tuple[str, GraphQLClient]) -> None:
    """A cap only completing a subscription lifts has its own code; a full process says when to retry."""
    url, client = server
    pet = await create_pet(client)
    first = await (await SubscriptionClient.connect(url)).acknowledged()
    for _ in range(3):
        await first.subscribe(pet["id"])
        await first.next_pet()
    await first.subscribe(pet["id"])
    refused = await first.receive()
    assert refused["type"] == "error", "refused before it started: one error message, no complete"
    (error,) = refused["payload"]
    assert error["extensions"] | {"traceId": None} == {
        "code": "SUBSCRIPTION_LIMIT_REACHED",
        "limit": 3,
        "scope": "connection",
        "traceId": None,
    }
    assert "per connection" in error["message"]

    second = await (await SubscriptionClient.connect(url)).acknowledged()
    for _ in range(2):
        await second.subscribe(pet["id"])
        await second.next_pet()
    await second.subscribe(pet["id"])  # the sixth in this process
    refused = await second.receive()
    (error,) = refused["payload"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfterSeconds"] > 0
    await first.close()
    await second.close()


async def test_browser_origins_are_checked(server: tuple[str, GraphQLClient]) -> None:
    url, _ = server
    with pytest.raises(HandshakeRefused):
        await SubscriptionClient.connect(url, origin=websockets.Origin("https://evil.example"))
    allowed = await SubscriptionClient.connect(url, origin=websockets.Origin("https://play.example"))
    await allowed.acknowledged()
    await allowed.close()


async def test_time_based_snapshots_respect_the_frequency_bound(
    database: DevDatabase, clock: ManualClock
) -> None:
    settings = make_settings(database.uri, subscriptions=SubscriptionSettings(min_snapshot_interval_s=3600))
    async with (
        running_server(create_app(settings, clock=clock)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        pet = await create_pet(GraphQLClient(http), species="CAT")
        watcher = await (await SubscriptionClient.connect(url)).acknowledged()
        await watcher.subscribe(pet["id"])
        assert (await watcher.next_pet())["stats"]["energy"] == 80
        clock.advance(timedelta(minutes=30))  # energy shows 76 now, but the last snapshot is 30 min old
        assert await watcher.nothing_within(0.3)
        clock.advance(timedelta(minutes=30))
        assert (await watcher.next_pet(seconds=5))["stats"]["energy"] == 72
        await watcher.close()


async def test_complete_ends_a_subscription_and_frees_its_place(server: tuple[str, GraphQLClient]) -> None:
    url, client = server
    pet = await create_pet(client)
    watcher = await (await SubscriptionClient.connect(url)).acknowledged()
    operation = await watcher.subscribe(pet["id"])
    await watcher.next_pet()
    await watcher.send({"id": operation, "type": "complete"})
    await client.execute(RENAME, {"id": pet["id"], "name": "Unseen"})
    assert await watcher.nothing_within(0.5), "no update after complete"
    for _ in range(3):  # the per-connection cap is 3: completed subscriptions no longer count
        await watcher.subscribe(pet["id"])
        assert (await watcher.next_pet())["name"] == "Unseen"
    await watcher.close()


async def test_subscriptions_over_http_are_refused_with_a_clear_error(
    server: tuple[str, GraphQLClient],
) -> None:
    _, client = server
    pet = await create_pet(client)
    response = await client._http.post(
        "/graphql",
        json={"query": PET_STATS, "variables": {"id": pet["id"]}},
        headers={"Authorization": f"Bearer {token_for('alice')}"},
    )
    assert response.status_code == 400
    assert "subscriptions are not allowed" in response.text
