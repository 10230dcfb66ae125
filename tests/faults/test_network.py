"""A slow, stalled or resetting network between the service and its database, made with Toxiproxy on
loopback: requests degrade into typed errors within the budget, and everything recovers with the link."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pymongo.uri_parser import parse_uri

from pixelpet.app import create_app
from pixelpet.devdb import DevDatabase
from pixelpet.settings import SubscriptionSettings
from tests.conftest import ExternalDatabase, make_settings
from tests.support.graphql import GraphQLClient, create_pet
from tests.support.server import running_server
from tests.support.toxiproxy import Toxiproxy
from tests.support.ws import SubscriptionClient, watching

pytestmark = pytest.mark.slow

GET = "query($id: ID!) { pet(id: $id) { id version } }"
RENAME = "mutation($id: ID!, $name: String!) { renamePet(id: $id, name: $name) { version } }"


@pytest.fixture
def proxy(database: DevDatabase | ExternalDatabase, tmp_path: Path) -> Iterator[Toxiproxy]:
    host, port = parse_uri(database.uri)["nodelist"][0]
    toxiproxy = Toxiproxy(upstream=f"{host}:{port}", log_file=tmp_path / "toxiproxy.log")
    yield toxiproxy
    toxiproxy.close()


@pytest.fixture
async def through_proxy(proxy: Toxiproxy) -> AsyncIterator[tuple[GraphQLClient, str]]:
    settings = make_settings(
        proxy.mongodb_uri(), subscriptions=SubscriptionSettings(change_stream_stale_after_s=3)
    )
    async with (
        running_server(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield GraphQLClient(http), url


async def _recovered(client: GraphQLClient, pet_id: str, *, seconds: float = 30) -> None:
    """Wait until the service reads the pet again and /readyz says ready (the link is back)."""
    for _ in range(int(seconds * 10)):
        response = await client.execute(GET, {"id": pet_id})
        ready = (await client._http.get("/readyz")).status_code == 200
        if not response.body.get("errors") and ready:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the service did not recover once the link did")


async def _change_reaches(
    subscriber: SubscriptionClient, client: GraphQLClient, pet_id: str, name: str
) -> None:
    """A rename made now reaches the subscriber: its change stream is following again."""
    await client.execute(RENAME, {"id": pet_id, "name": name})
    for _ in range(20):
        pet = await subscriber.next_pet(seconds=15)
        if pet["name"] == name:
            return
    raise AssertionError(f"the rename to {name} never reached the subscriber")


@pytest.mark.parametrize(
    ("toxic", "attributes"),
    [
        ("latency", {"latency": 4000}),  # every answer 4 s late: past the 2 s database budget
        ("timeout", {"timeout": 0}),  # a black hole: nothing gets through, nothing is closed
        ("reset_peer", {"timeout": 0}),  # every connection reset at once (TCP RST)
    ],
)
async def test_a_bad_link_gives_typed_errors_and_everything_recovers_with_it(
    through_proxy: tuple[GraphQLClient, str], proxy: Toxiproxy, toxic: str, attributes: dict[str, int]
) -> None:
    client, url = through_proxy
    pet = await create_pet(client)
    subscriber = await watching(url, pet["id"])

    with proxy.toxic(toxic, attributes):
        answers = await asyncio.gather(
            client.execute(GET, {"id": pet["id"]}),
            client.execute(RENAME, {"id": pet["id"], "name": "Lost"}),
            client._http.get("/livez"),
        )
        query, mutation, live = answers
        # The client's own timeout is 30 s: these came back, typed, while the link was still bad.
        assert query.code == "UNAVAILABLE"
        assert mutation.code == "UNAVAILABLE"
        assert live.status_code == 200, "the event loop kept serving"
        for _ in range(100):  # readiness notices the link (a ping past 1 s, or a silent change stream)
            if (await client._http.get("/readyz")).status_code == 503:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("readiness never noticed the bad link")

    await _recovered(client, pet["id"])
    await _change_reaches(subscriber, client, pet["id"], "Back")
    await subscriber.close()
