"""Retry-safe changes over real uvicorn and SecantusDB (docs/decisions/0020-retry-safe-actions.md): a client
whose answer was lost retries through another replica, or after a restart, and gets the first outcome; the
pet changed exactly once. Two app instances on one database stand for two replicas behind a load balancer;
a client that hangs up after sending its request loses a real answer."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from pixelpet.app import create_app
from pixelpet.clock import ManualClock
from pixelpet.devdb import DevDatabase
from pixelpet.settings import MongoSettings, Settings
from tests.conftest import make_settings, unique_database
from tests.support.graphql import PET_FIELDS, GraphQLClient, create_pet, token_for
from tests.support.server import running_server
from tests.support.ws import watching

APP_NAME = "pixelpet-retries"

GET = f"query($id: ID!) {{ pet(id: $id) {{ {PET_FIELDS} }} }}"
FEED = f"mutation($id: ID!, $key: String) {{ feedPet(id: $id, idempotencyKey: $key) {{ {PET_FIELDS} }} }}"
RENAME = (
    "mutation($id: ID!, $name: String!, $key: String) "
    f"{{ renamePet(id: $id, name: $name, idempotencyKey: $key) {{ {PET_FIELDS} }} }}"
)
DELETE = "mutation($id: ID!, $key: String) { deletePet(id: $id, idempotencyKey: $key) }"


@pytest.fixture
def settings(database: DevDatabase) -> Settings:
    return make_settings(database.uri, mongo=MongoSettings(database=unique_database(), app_name=APP_NAME))


@contextlib.asynccontextmanager
async def replica(
    settings: Settings, clock: ManualClock, *, timeout_s: float = 30
) -> AsyncIterator[GraphQLClient]:
    """One instance of the service on the shared database, and a client that talks only to it."""
    async with (
        running_server(create_app(settings, clock=clock)) as url,
        httpx.AsyncClient(base_url=url, timeout=timeout_s) as http,
    ):
        yield GraphQLClient(http)


async def test_a_retry_through_another_replica_or_after_a_restart_gets_the_first_outcome(
    settings: Settings, clock: ManualClock
) -> None:
    async with replica(settings, clock) as first, replica(settings, clock) as second:
        pet = await create_pet(first)
        clock.advance(timedelta(hours=4))
        lost = await first.execute(FEED, {"id": pet["id"], "key": "feed-1"})  # the player never sees it
        clock.advance(timedelta(minutes=1))
        retried = await second.execute(FEED, {"id": pet["id"], "key": "feed-1"})
        assert retried.body == lost.body
        assert lost.data["feedPet"]["version"] == 2
        renamed = await second.execute(RENAME, {"id": pet["id"], "name": "Pixel", "key": "rename-1"})
        assert (await first.execute(RENAME, {"id": pet["id"], "name": "Pixel", "key": "rename-1"})).body == (
            renamed.body
        )
    async with replica(settings, clock) as restarted:  # every process that saw the first calls is gone
        assert (await restarted.execute(FEED, {"id": pet["id"], "key": "feed-1"})).body == lost.body
        stored = (await restarted.execute(GET, {"id": pet["id"]})).data["pet"]
        assert (stored["version"], stored["name"]) == (3, "Pixel"), "fed once, renamed once"
        deleted = await restarted.execute(DELETE, {"id": pet["id"], "key": "delete-1"})
        assert deleted.data == {"deletePet": pet["id"]}
    async with replica(settings, clock) as after_another_restart:
        again = await after_another_restart.execute(DELETE, {"id": pet["id"], "key": "delete-1"})
        assert again.body == deleted.body, "the id again, the pet being gone"
        reused = await after_another_restart.execute(FEED, {"id": pet["id"], "key": "delete-1"})
        assert reused.code == "CONFLICT"


async def test_concurrent_retries_through_two_replicas_act_once(
    settings: Settings, clock: ManualClock
) -> None:
    async with replica(settings, clock) as first, replica(settings, clock) as second:
        pet = await create_pet(first)
        clock.advance(timedelta(hours=4))  # hungry enough for one feed only: a second would be refused
        attempts = [
            replica_client.execute(FEED, {"id": pet["id"], "key": "feed-1"})
            for _ in range(5)
            for replica_client in (first, second)
        ]
        answers = await asyncio.gather(*attempts)
        assert {str(answer.body) for answer in answers} == {str(answers[0].body)}, "one answer for all"
        assert answers[0].data["feedPet"]["version"] == 2
        assert (await second.execute(GET, {"id": pet["id"]})).data["pet"]["version"] == 2


async def test_an_answer_lost_with_the_connection_is_retried_into_the_first_outcome(
    settings: Settings, clock: ManualClock
) -> None:
    async with (
        running_server(create_app(settings, clock=clock)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        client = GraphQLClient(http)
        pet = await create_pet(client)
        clock.advance(timedelta(hours=4))  # hungry enough for one feed only: a second would be refused
        fed_at = clock.now()
        another_device = await watching(url, pet["id"])
        # The player's request reaches the server, then the connection drops before any answer is read.
        await send_and_hang_up(url, FEED, {"id": pet["id"], "key": "feed-1"})
        landed = await another_device.next_pet()  # the server carried on: the feed was committed
        await another_device.close()
        assert landed["version"] == 2
        clock.advance(timedelta(minutes=1))
        retried = (await client.execute(FEED, {"id": pet["id"], "key": "feed-1"})).data["feedPet"]
        assert retried["version"] == 2
        assert retried["stats"]["asOf"] == fed_at.isoformat(), "the first attempt's answer, as of its feed"
        assert (await client.execute(GET, {"id": pet["id"]})).data["pet"]["version"] == 2, "fed once"


async def send_and_hang_up(url: str, query: str, variables: dict[str, str]) -> None:
    """POST a GraphQL request over a raw connection and close it without reading a byte of the answer."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"query": query, "variables": variables}).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token_for('alice')}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(head.encode() + body)
    await writer.drain()
    writer.close()
    await writer.wait_closed()
