"""pixelpet/client/websocket.py against the real service over a real socket.

One case needs a server that sends graphql-transport-ws pings, which ours never does: a stand-in peer
on a real socket plays it (tests/support/server.py serves stand-ins the same way).
"""

import json
from collections.abc import AsyncIterator

import pytest
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from pixelpet.client.websocket import (
    ClientError,
    Closed,
    GraphQLWebSocket,
    HandshakeRefused,
    NotAcknowledged,
    SubscriptionFailed,
)
from pixelpet.clock import ManualClock
from pixelpet.devdb import DevDatabase
from pixelpet.settings import CorsSettings, Settings
from tests.conftest import make_settings
from tests.support.graphql import GraphQLClient, create_pet, token_for
from tests.support.server import running_server, serving

WATCH = "subscription($id: ID!) { petStats(id: $id) { name version } }"
RENAME = "mutation($id: ID!, $name: String!) { renamePet(id: $id, name: $name) { version } }"


@pytest.fixture
def settings(database: DevDatabase) -> Settings:
    return make_settings(database.uri, cors=CorsSettings(allowed_origins=["https://play.example"]))


@pytest.fixture
async def server(settings: Settings, clock: ManualClock) -> AsyncIterator[tuple[str, GraphQLClient]]:
    async with serving(settings, clock) as served:
        yield served


@pytest.fixture
async def alice(server: tuple[str, GraphQLClient]) -> AsyncIterator[tuple[GraphQLWebSocket, GraphQLClient]]:
    """Alice's acknowledged connection, and her GraphQL-over-HTTP client to change her pets with."""
    url, http = server
    async with await GraphQLWebSocket.connect(url, token_for("alice")) as client:
        yield client, http


async def test_a_subscription_yields_the_current_state_then_each_change(
    alice: tuple[GraphQLWebSocket, GraphQLClient],
) -> None:
    client, http = alice
    pet = await create_pet(http, name="Mochi")
    subscription = await client.subscribe(WATCH, {"id": pet["id"]})
    assert await subscription.next(timeout_s=10) == {"data": {"petStats": {"name": "Mochi", "version": 1}}}
    await http.execute(RENAME, {"id": pet["id"], "name": "Kuro"})
    changed = await subscription.next(timeout_s=10)
    assert changed["data"]["petStats"] == {"name": "Kuro", "version": 2}


async def test_subscriptions_on_one_connection_each_read_only_their_own_messages(
    alice: tuple[GraphQLWebSocket, GraphQLClient],
) -> None:
    client, http = alice
    first, second = await create_pet(http, name="One"), await create_pet(http, name="Two")
    watching_first = await client.subscribe(WATCH, {"id": first["id"]})
    watching_second = await client.subscribe(WATCH, {"id": second["id"]})
    await http.execute(RENAME, {"id": second["id"], "name": "Two again"})
    # The second's messages arrive first and wait in its queue while the first reads its own.
    assert (await watching_first.next(timeout_s=10))["data"]["petStats"]["name"] == "One"
    names = [(await watching_second.next(timeout_s=10))["data"]["petStats"]["name"] for _ in range(2)]
    assert names == ["Two", "Two again"]


async def test_operation_ids_on_one_connection_never_collide(
    alice: tuple[GraphQLWebSocket, GraphQLClient],
) -> None:
    client, http = alice
    pet = await create_pet(http)
    chosen = await client.subscribe(WATCH, {"id": pet["id"]}, operation_id="1")
    generated = await client.subscribe(WATCH, {"id": pet["id"]})
    assert (chosen.id, generated.id) == ("1", "2")
    with pytest.raises(ClientError, match="already open"):
        await client.subscribe(WATCH, {"id": pet["id"]}, operation_id="2")


async def test_an_operation_the_server_completes_ends_the_iteration(
    alice: tuple[GraphQLWebSocket, GraphQLClient],
) -> None:
    client, http = alice
    pet = await create_pet(http, name="Once")
    query = await client.subscribe("query($id: ID!) { pet(id: $id) { name } }", {"id": pet["id"]})
    assert [payload async for payload in query] == [{"data": {"pet": {"name": "Once"}}}]


async def test_an_operation_the_server_refuses_raises_its_graphql_errors(
    alice: tuple[GraphQLWebSocket, GraphQLClient],
) -> None:
    client, _ = alice
    refused = await client.subscribe("subscription { petStats { nope } }", operation_id="bad")
    with pytest.raises(SubscriptionFailed) as failed:
        await refused.next(timeout_s=10)
    assert failed.value.operation_id == "bad"
    assert "nope" in failed.value.errors[0]["message"]


async def test_after_complete_nothing_more_of_that_operation_reaches_the_client(
    alice: tuple[GraphQLWebSocket, GraphQLClient],
) -> None:
    client, http = alice
    pet = await create_pet(http)
    left = await client.subscribe(WATCH, {"id": pet["id"]})
    await left.next(timeout_s=10)
    await left.complete()
    stayed = await client.subscribe(WATCH, {"id": pet["id"]})
    await stayed.next(timeout_s=10)
    await http.execute(RENAME, {"id": pet["id"], "name": "Seen once"})
    assert (await stayed.next(timeout_s=10))["data"]["petStats"]["name"] == "Seen once"
    await client.send({"type": "ping"})
    assert await client.receive(timeout_s=10) == {"type": "pong"}, "nothing of the completed operation"


async def test_a_refused_token_is_reported_with_the_servers_close_code(
    server: tuple[str, GraphQLClient],
) -> None:
    url, _ = server
    with pytest.raises(Closed) as closed:
        await GraphQLWebSocket.connect(url, "forged.token.value")
    assert (closed.value.code, closed.value.reason) == (4403, "Forbidden")


async def test_a_refused_handshake_is_reported_with_its_http_status(
    server: tuple[str, GraphQLClient],
) -> None:
    url, _ = server
    with pytest.raises(HandshakeRefused) as refused:
        await GraphQLWebSocket.open(url, origin=websockets.Origin("https://evil.example"))
    assert refused.value.status == 403
    allowed = await GraphQLWebSocket.connect(
        url, token_for("alice"), origin=websockets.Origin("https://play.example")
    )
    await allowed.close()


async def test_the_servers_pings_are_answered_and_not_returned() -> None:
    """A stand-in server acknowledges, pings, and sends ``next`` only once its ping has been answered."""

    async def pinging(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol="graphql-transport-ws")
        assert json.loads(await websocket.receive_text())["type"] == "connection_init"
        await websocket.send_json({"type": "connection_ack"})
        subscribe = json.loads(await websocket.receive_text())
        await websocket.send_json({"type": "ping"})
        answer = json.loads(await websocket.receive_text())
        await websocket.send_json({"id": subscribe["id"], "type": "next", "payload": {"data": answer}})
        await websocket.close()

    async with running_server(Starlette(routes=[WebSocketRoute("/graphql", pinging)])) as url:
        client = await GraphQLWebSocket.connect(url, None)
        subscription = await client.subscribe("subscription { ticks }")
        assert await subscription.next(timeout_s=10) == {"data": {"type": "pong"}}
        with pytest.raises(Closed) as closed:
            await subscription.next(timeout_s=10)
        assert closed.value.code == 1000
        await client.close()


async def test_a_server_that_answers_init_with_something_else_is_not_acknowledged() -> None:
    async def confused(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol="graphql-transport-ws")
        await websocket.receive_text()
        await websocket.send_json({"type": "pong"})
        await websocket.receive()  # until the client hangs up

    async with running_server(Starlette(routes=[WebSocketRoute("/graphql", confused)])) as url:
        with pytest.raises(NotAcknowledged):
            await GraphQLWebSocket.connect(url, None)
