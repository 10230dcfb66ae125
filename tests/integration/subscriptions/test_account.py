"""The account stream over a real socket and a real database, across two replicas.

One subscription keeps every pet of a player current: the whole list first, then adoptions, changes and
deletions made through another replica, in order per pet, however many pets there are.
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
from tests.support.graphql import GraphQLClient, create_pet
from tests.support.metrics import eventually, scrape
from tests.support.server import running_server
from tests.support.ws import SubscriptionClient

ACCOUNT = """subscription {
  pets {
    __typename
    ... on PetsSnapshot { pets { id name version } }
    ... on PetUpdated { pet { id name version } }
    ... on PetRemoved { id }
  }
}"""
RENAME = "mutation($id: ID!, $name: String!) { renamePet(id: $id, name: $name) { version } }"
DELETE = "mutation($id: ID!) { deletePet(id: $id) }"


@dataclass
class Replica:
    url: str
    client: GraphQLClient
    http: httpx.AsyncClient
    app: Starlette


@pytest.fixture
def settings(database: DevDatabase) -> Settings:
    # Two subscriptions per connection: twelve pets must still fit in one.
    return make_settings(
        database.uri,
        subscriptions=SubscriptionSettings(
            max_per_connection=2, subscribes_per_second=1000, subscribe_burst=1000
        ),
    )


@contextlib.asynccontextmanager
async def replica(settings: Settings, clock: ManualClock) -> AsyncIterator[Replica]:
    app = create_app(settings, clock=clock)
    async with running_server(app) as url, httpx.AsyncClient(base_url=url) as http:
        yield Replica(url, GraphQLClient(http), http, app)


@pytest.fixture
async def replicas(settings: Settings, clock: ManualClock) -> AsyncIterator[tuple[Replica, Replica]]:
    async with replica(settings, clock) as one, replica(settings, clock) as two:
        yield one, two


async def subscribe_account(url: str, *, operation_id: str = "account") -> SubscriptionClient:
    client = await (await SubscriptionClient.connect(url)).acknowledged()
    await client.send({"id": operation_id, "type": "subscribe", "payload": {"query": ACCOUNT}})
    return client


async def next_event(client: SubscriptionClient) -> dict[str, Any]:
    message = await client.receive()
    assert message["type"] == "next", message
    assert not message["payload"].get("errors"), message
    event: dict[str, Any] = message["payload"]["data"]["pets"]
    return event


async def test_one_subscription_keeps_twelve_pets_current_across_replicas(
    replicas: tuple[Replica, Replica],
) -> None:
    watched, other = replicas
    pets = [await create_pet(other.client, name=f"p{i}") for i in range(12)]
    account = await subscribe_account(watched.url)
    snapshot = await next_event(account)
    assert snapshot["__typename"] == "PetsSnapshot"
    assert [pet["id"] for pet in snapshot["pets"]] == [pet["id"] for pet in pets]
    # The cap of two per connection still has room: the account stream is one subscription.
    await account.subscribe(pets[11]["id"])
    assert (await account.next_pet())["id"] == pets[11]["id"]

    adopted = await create_pet(other.client, name="late")  # through the other replica
    await other.client.execute(RENAME, {"id": pets[10]["id"], "name": "renamed"})
    await other.client.execute(DELETE, {"id": pets[0]["id"]})
    seen: list[tuple[str, str, str]] = []
    while len(seen) < 3:
        message = await account.receive()
        if message["id"] != "account":
            continue  # the petStats subscription's own updates
        event = message["payload"]["data"]["pets"]
        if event["__typename"] == "PetRemoved":
            seen.append(("removed", event["id"], ""))
        else:
            seen.append(("updated", event["pet"]["id"], event["pet"]["name"]))
    assert seen == [
        ("updated", adopted["id"], "late"),
        ("updated", pets[10]["id"], "renamed"),
        ("removed", pets[0]["id"], ""),
    ]
    await account.close()


async def test_a_reconnecting_client_gets_a_fresh_snapshot(replicas: tuple[Replica, Replica]) -> None:
    watched, other = replicas
    first = await create_pet(other.client, name="first")
    account = await subscribe_account(watched.url)
    assert [p["id"] for p in (await next_event(account))["pets"]] == [first["id"]]
    await account.close()
    second = await create_pet(other.client, name="second")  # while disconnected
    await other.client.execute(DELETE, {"id": first["id"]})
    again = await subscribe_account(watched.url)
    assert [p["id"] for p in (await next_event(again))["pets"]] == [second["id"]]
    await again.close()


async def test_another_players_pets_never_show(replicas: tuple[Replica, Replica]) -> None:
    watched, other = replicas
    account = await subscribe_account(watched.url)
    assert (await next_event(account))["pets"] == []
    await create_pet(other.client.as_owner("bob"), name="bobs")
    mine = await create_pet(other.client, name="mine")
    event = await next_event(account)
    assert (event["__typename"], event["pet"]["id"]) == ("PetUpdated", mine["id"])
    await account.close()


async def test_churn_while_pets_come_and_go_leaves_nothing_behind(
    replicas: tuple[Replica, Replica], clock: ManualClock
) -> None:
    """Subscribe, complete and disconnect while pets are adopted and deleted on the other replica."""
    watched, other = replicas
    alive = [await create_pet(other.client, name=f"p{i}") for i in range(3)]
    ids = itertools.count(1)
    for round_number in range(12):
        account = await subscribe_account(watched.url, operation_id=str(next(ids)))
        if round_number % 2:
            alive.append(await create_pet(other.client, name=f"r{round_number}"))
        elif alive:
            await other.client.execute(DELETE, {"id": alive.pop(0)["id"]})
        if round_number % 3 == 0:
            await account.send({"id": str(next(ids) - 1), "type": "complete"})
        await account.close()  # a disconnect, with or without complete first
    runtime = watched.app.state.runtime
    assert await eventually(lambda: runtime.channels.watched() == (0, 0), within_s=10), (
        runtime.channels.watched()
    )
    assert await eventually(lambda: clock.pending() == 0, within_s=5)
    assert await scrape(watched.http, "pixelpet_subscriptions_active") == 0
    await asyncio.sleep(0)
