"""Each abuse limit through a real server: what a client past it gets, and that others are unaffected."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import websockets

from pixelpet.app import create_app
from pixelpet.client.websocket import Closed, GraphQLWebSocket, HandshakeRefused
from pixelpet.clock import ManualClock
from pixelpet.devdb import DevDatabase
from pixelpet.settings import AuthSettings, CorsSettings, LimitSettings, MongoSettings, SubscriptionSettings
from tests.conftest import make_settings, unique_database
from tests.support.failpoints import fail_command
from tests.support.graphql import GraphQLClient, create_pet, token_for
from tests.support.server import running_server
from tests.support.ws import SubscriptionClient

LIST = "{ pets(first: 10) { edges { node { id } } } }"


@pytest.fixture
async def strict(database: DevDatabase, clock: ManualClock) -> AsyncIterator[str]:
    settings = make_settings(
        database.uri,
        mongo=MongoSettings(database=unique_database(), app_name="pixelpet-strict", timeout_ms=10_000),
        limits=LimitSettings(
            queries_per_second=1,
            query_burst=3,
            unauthenticated_per_second=1,
            unauthenticated_burst=3,
            mutations_per_second=100,
            mutation_burst=100,
            operation_timeout_s=0.5,
            max_body_bytes=4096,
            max_connections=3,
        ),
        subscriptions=SubscriptionSettings(subscribes_per_second=1, subscribe_burst=2),
        auth=AuthSettings(leeway_s=0),
        cors=CorsSettings(allowed_origins=["https://play.example"], max_age_s=120),
    )
    async with running_server(create_app(settings, clock=clock)) as url:
        yield url


async def test_subscribe_messages_are_rate_limited_per_connection(strict: str) -> None:
    async with httpx.AsyncClient(base_url=strict) as http:
        pet = await create_pet(GraphQLClient(http))
    client = await (await SubscriptionClient.connect(strict)).acknowledged()
    try:
        for _ in range(2):
            operation = await client.subscribe(pet["id"])
            await client.next_pet()
            await client.send({"id": operation, "type": "complete"})
        third = await client.subscribe(pet["id"])
        refusal = await client.receive()
        assert (refusal["type"], refusal["id"]) == ("error", third)
        assert refusal["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
        other = await (await SubscriptionClient.connect(strict)).acknowledged()
        await other.subscribe(pet["id"])
        assert (await other.next_pet())["id"] == pet["id"], "another connection has its own budget"
        await other.close()
    finally:
        await client.close()


async def test_an_operation_past_its_budget_is_unavailable_before_the_database_answers(
    strict: str, database: DevDatabase
) -> None:
    async with httpx.AsyncClient(base_url=strict, timeout=60) as http:
        alice = GraphQLClient(http)
        async with fail_command(
            database.uri,
            failCommands=["find"],
            blockConnection=True,
            blockTimeMS=30_000,
            appName="pixelpet-strict",
        ):
            started = time.monotonic()
            response, healthy = await asyncio.gather(
                alice.execute(LIST),
                http.get("/livez"),  # served meanwhile: the event loop is not blocked
            )
            # The block lasts 30 s: an answer before then came from the budget, not the database.
            assert time.monotonic() - started < 30
        assert response.code == "UNAVAILABLE"
        assert "0.5 s budget" in response.error["message"]
        assert healthy.status_code == 200


async def test_a_websocket_is_closed_when_its_token_expires(strict: str) -> None:
    short_lived = token_for("alice", ttl=timedelta(seconds=2))
    client = await (await SubscriptionClient.connect(strict, token=short_lived)).acknowledged()
    with pytest.raises(Closed) as closed:
        await client.receive(seconds=30)
    assert (closed.value.code, closed.value.reason) == (4403, "Token expired")


async def test_an_oversized_websocket_message_closes_the_connection_with_1009(strict: str) -> None:
    client = await (await SubscriptionClient.connect(strict)).acknowledged()
    await client.send({"id": "1", "type": "subscribe", "payload": {"query": "{ " + "x " * 4096 + "}"}})
    with pytest.raises(Closed) as closed:
        await client.receive()
    assert closed.value.code == 1009


async def test_connections_past_the_process_cap_are_refused(strict: str) -> None:
    open_sockets = [await (await SubscriptionClient.connect(strict)).acknowledged() for _ in range(3)]
    try:
        refused = await GraphQLWebSocket.open(strict)
        with pytest.raises(Closed) as closed:
            await refused.receive()
        assert closed.value.code == 1013
        async with httpx.AsyncClient(base_url=strict) as http:
            assert (await http.get("/livez")).status_code == 503, "HTTP counts the same connections"
        await open_sockets.pop().close()
        # A freed place is available again (the server sees the close a moment after the client).
        for _ in range(50):
            again = await SubscriptionClient.connect(strict)
            try:
                assert (await again.receive())["type"] == "connection_ack"
            except Closed:  # still at the cap
                await asyncio.sleep(0.1)
                continue
            open_sockets.append(again)
            break
        else:
            pytest.fail("a freed connection was not available again")
    finally:
        for client in open_sockets:
            await client.close()


async def test_cors_allows_listed_origins_only(strict: str) -> None:
    async with httpx.AsyncClient(base_url=strict) as http:
        allowed = await http.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Origin": "https://play.example"}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://play.example"
        refused = await http.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in refused.headers
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        }
        ok = await http.options("/graphql", headers={"Origin": "https://play.example", **preflight})
        assert ok.status_code == 200
        assert "POST" in ok.headers["access-control-allow-methods"]
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        assert ok.headers["access-control-max-age"] == "120"
        denied = await http.options("/graphql", headers={"Origin": "https://evil.example", **preflight})
        assert denied.status_code == 400
        assert "access-control-allow-origin" not in denied.headers
    # The WebSocket endpoint applies the same list.
    allowed_ws = await GraphQLWebSocket.open(strict, origin=websockets.Origin("https://play.example"))
    await allowed_ws.close()
    with pytest.raises(HandshakeRefused) as refused_ws:
        await GraphQLWebSocket.open(strict, origin=websockets.Origin("https://evil.example"))
    assert refused_ws.value.status == 403


async def test_metrics_can_move_to_a_port_of_their_own(database: DevDatabase, clock: ManualClock) -> None:
    app = create_app(make_settings(database.uri, metrics_port=0), clock=clock)
    async with running_server(app) as url, httpx.AsyncClient() as http:
        assert (await http.get(f"{url}/metrics")).status_code == 404
        metrics_port = app.state.metrics_server.port
        scraped = await http.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert scraped.status_code == 200
        assert "pixelpet_graphql_requests_total" in scraped.text or "pixelpet_" in scraped.text
        assert (await http.get(f"http://127.0.0.1:{metrics_port}/graphql")).status_code == 404
