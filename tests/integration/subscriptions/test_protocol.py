"""The GraphQL over WebSocket protocol (graphql-transport-ws), rule by rule, over a real socket.

Each test names the rule of the graphql-ws project's PROTOCOL.md it checks. The first part speaks the
protocol by hand (tests/support/ws.py); the last drives the service with an independent client, the
`gql` library's WebSocket transport, so the protocol is not only checked by our own helper.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.asyncio.client import ClientConnection

from pixelpet.client.websocket import SUBPROTOCOL
from pixelpet.clock import ManualClock
from pixelpet.devdb import DevDatabase
from pixelpet.settings import Settings, SubscriptionSettings
from tests.conftest import make_settings
from tests.support.graphql import GraphQLClient, create_pet, token_for
from tests.support.metrics import scrape
from tests.support.server import serving
from tests.support.ws import PET_STATS, SubscriptionClient

RENAME = "mutation($id: ID!, $name: String!) { renamePet(id: $id, name: $name) { version } }"
DELETE = "mutation($id: ID!) { deletePet(id: $id) }"


@pytest.fixture
async def server(settings: Settings, clock: ManualClock) -> AsyncIterator[tuple[str, GraphQLClient]]:
    async with serving(settings, clock) as served:
        yield served


async def _raw(url: str) -> ClientConnection:
    return await websockets.connect(url.replace("http", "ws", 1) + "/graphql", subprotocols=[SUBPROTOCOL])


async def _close_code(connection: ClientConnection) -> int | None:
    """Reads until the server closes the connection; its close code."""
    with contextlib.suppress(websockets.ConnectionClosed):
        async with asyncio.timeout(5):
            async for _ in connection:
                pass
    return connection.close_code


def _subscribe(operation_id: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": operation_id,
        "type": "subscribe",
        "payload": {"query": query, "variables": variables or {}},
    }


# Communication ----------------------------------------------------------------------------


async def test_only_the_graphql_transport_ws_subprotocol_is_spoken(server: tuple[str, GraphQLClient]) -> None:
    url, _ = server
    legacy = await websockets.connect(
        url.replace("http", "ws") + "/graphql", subprotocols=[websockets.Subprotocol("graphql-ws")]
    )
    assert legacy.subprotocol is None
    assert await _close_code(legacy) == 4406, "Subprotocol not acceptable"
    current = await _raw(url)
    assert current.subprotocol == "graphql-transport-ws"
    await current.close()


async def test_messages_that_are_not_protocol_messages_close_with_4400(
    server: tuple[str, GraphQLClient],
) -> None:
    """ "Receiving a message of a type or format which is not specified in this document will result in an
    immediate socket closure with the event 4400: <error-message>"."""
    url, _ = server
    query = 'subscription { petStats(id: "x") { name } }'
    malformed_subscribes = [
        {"id": "1", "type": "subscribe", "payload": payload}
        for payload in (
            {"query": 5},  # SubscribePayload's query is a string (null: no query, a validation error below)
            {"query": ["a"]},
            "{ __typename }",  # a payload that is no object
            {"query": query, "variables": [1]},  # variables: an object or null
            {"query": query, "operationName": 5},  # operationName: a string or null
            {"query": query, "extensions": "x"},  # extensions: an object or null
        )
    ] + [{"id": 5, "type": "subscribe", "payload": {"query": query}}]  # an id that is no string
    for invalid in (
        "{not json",
        json.dumps({"type": "shout"}),
        json.dumps({"type": "subscribe"}),
        b"\x00",
        *(json.dumps(message) for message in malformed_subscribes),
    ):
        client = await (await SubscriptionClient.connect(url)).acknowledged()
        await client.connection.send(invalid)
        assert await _close_code(client.connection) == 4400, invalid


# ConnectionInit / ConnectionAck -----------------------------------------------------------


async def test_connection_init_must_come_within_the_timeout_or_4408(
    database: DevDatabase, clock: ManualClock
) -> None:
    # A short timeout of its own: in the other tests a busy machine could let it run out before the first
    # message they send (a ping or a subscribe before the init) is read.
    settings = make_settings(database.uri, subscriptions=SubscriptionSettings(connection_init_timeout_s=0.5))
    async with serving(settings, clock) as (url, _):
        silent = await _raw(url)
        assert await _close_code(silent) == 4408, "Connection initialisation timeout"


async def test_connection_init_is_acknowledged_or_rejected_with_4403(
    server: tuple[str, GraphQLClient],
) -> None:
    url, _ = server
    accepted = await SubscriptionClient.connect(url)
    assert (await accepted.receive())["type"] == "connection_ack"
    await accepted.close()
    for refused in (
        await SubscriptionClient.connect(url, owner=None),
        await SubscriptionClient.connect(url, token="forged.token.value"),
    ):
        assert await _close_code(refused.connection) == 4403, "Forbidden"


async def test_a_second_connection_init_closes_with_4429(server: tuple[str, GraphQLClient]) -> None:
    url, _ = server
    client = await (await SubscriptionClient.connect(url)).acknowledged()
    await client.send({"type": "connection_init", "payload": {}})
    assert await _close_code(client.connection) == 4429, "Too many initialisation requests"


# Ping / Pong ------------------------------------------------------------------------------


async def test_a_ping_is_answered_with_a_pong_at_any_time(server: tuple[str, GraphQLClient]) -> None:
    """ "The Ping message can be sent at any time within the established socket"; "the receiving party
    must respond with a Pong" (before the connection is acknowledged, too)."""
    url, _ = server
    early = await _raw(url)
    await early.send(json.dumps({"type": "ping", "payload": {"sent": "before init"}}))
    assert json.loads(await asyncio.wait_for(early.recv(), 5)) == {"type": "pong"}
    await early.close()
    client = await (await SubscriptionClient.connect(url)).acknowledged()
    await client.send({"type": "ping"})
    assert await client.receive() == {"type": "pong"}
    await client.close()


async def test_an_unsolicited_pong_is_accepted_silently(server: tuple[str, GraphQLClient]) -> None:
    """ "The Pong message can be sent at any time within the established socket" (a unidirectional
    heartbeat): no answer, and the connection carries on."""
    url, _ = server
    client = await (await SubscriptionClient.connect(url)).acknowledged()
    await client.send({"type": "pong", "payload": {"heartbeat": 1}})
    await client.send({"type": "ping"})
    assert await client.receive() == {"type": "pong"}, "nothing answered the pong; the socket is open"
    await client.close()


# Subscribe --------------------------------------------------------------------------------


async def test_subscribe_before_the_ack_closes_with_4401(server: tuple[str, GraphQLClient]) -> None:
    url, _ = server
    early = await _raw(url)
    await early.send(json.dumps(_subscribe("1", PET_STATS)))
    assert await _close_code(early) == 4401, "Unauthorized"


async def test_an_id_already_in_use_closes_with_4409(server: tuple[str, GraphQLClient]) -> None:
    url, client = server
    pet = await create_pet(client)
    watcher = await (await SubscriptionClient.connect(url)).acknowledged()
    operation = await watcher.subscribe(pet["id"])
    await watcher.next_pet()
    await watcher.send(_subscribe(operation, PET_STATS, {"id": pet["id"]}))
    assert await _close_code(watcher.connection) == 4409, "Subscriber for <id> already exists"


async def test_an_id_is_free_again_once_its_operation_completed(server: tuple[str, GraphQLClient]) -> None:
    url, client = server
    pet = await create_pet(client)
    watcher = await (await SubscriptionClient.connect(url)).acknowledged()
    for _ in range(3):
        await watcher.send(_subscribe("same", PET_STATS, {"id": pet["id"]}))
        assert (await watcher.receive())["id"] == "same"
        await watcher.send({"id": "same", "type": "complete"})
    await watcher.close()


# Next / Error / Complete ------------------------------------------------------------------


async def test_a_single_result_operation_is_next_then_complete(server: tuple[str, GraphQLClient]) -> None:
    url, client = server
    pet = await create_pet(client)
    watcher = await (await SubscriptionClient.connect(url)).acknowledged()
    await watcher.send(_subscribe("q", "query($id: ID!) { pet(id: $id) { name } }", {"id": pet["id"]}))
    assert await watcher.receive() == {
        "id": "q",
        "type": "next",
        "payload": {"data": {"pet": {"name": "Mochi"}}},
    }
    assert await watcher.receive() == {"id": "q", "type": "complete"}
    await watcher.send(_subscribe("m", RENAME, {"id": pet["id"], "name": "Over the socket"}))
    assert (await watcher.receive())["payload"] == {"data": {"renamePet": {"version": 2}}}
    assert await watcher.receive() == {"id": "m", "type": "complete"}
    await watcher.close()


async def test_an_operation_refused_before_it_runs_gets_one_error_message_and_nothing_more(
    server: tuple[str, GraphQLClient],
) -> None:
    """ "Error: operation execution error(s) in response to the Subscribe message... The server will not
    send a Complete message after it": validation errors, variables that do not fit."""
    url, _ = server
    watcher = await (await SubscriptionClient.connect(url)).acknowledged()
    await watcher.send(_subscribe("v", "subscription { petStats { nope } }"))
    refused = await watcher.receive()
    assert (refused["id"], refused["type"]) == ("v", "error")
    assert isinstance(refused["payload"], list), "an error message's payload is a list of GraphQL errors"
    assert refused["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    await watcher.send(_subscribe("w", PET_STATS, {"id": None}))
    wrong = await watcher.receive()
    assert (wrong["id"], wrong["type"], wrong["payload"][0]["extensions"]["code"]) == (
        "w",
        "error",
        "BAD_USER_INPUT",
    )
    await watcher.send({"type": "ping"})
    assert await watcher.receive() == {"type": "pong"}, "no complete follows an error"
    await watcher.close()


async def test_a_subscribe_whose_query_does_not_parse_gets_one_error_message_with_the_syntax_error(
    server: tuple[str, GraphQLClient], caplog: pytest.LogCaptureFixture
) -> None:
    """ "Error: operation execution error(s) in response to the Subscribe message. This can occur before
    execution starts": a syntax error is one, the same error HTTP answers (GRAPHQL_PARSE_FAILED), recorded
    as HTTP records it; the client's mistake, not the server's (nothing logged as an error)."""
    url, client = server
    broken = "subscription { petStats(id: 1) { version }"
    parse_failures = {"operation_type": "unknown", "operation": "invalid", "code": "GRAPHQL_PARSE_FAILED"}
    watcher = await (await SubscriptionClient.connect(url)).acknowledged()
    with caplog.at_level(logging.INFO):
        await watcher.send(_subscribe("s", broken))
        refused = await watcher.receive()
        await watcher.send({"type": "ping"})
        assert await watcher.receive() == {"type": "pong"}, "no complete follows an error"
        over_the_socket = await scrape(client._http, "pixelpet_graphql_requests_total", **parse_failures)
        over_http = (await client.execute(broken)).error
        both = await scrape(client._http, "pixelpet_graphql_requests_total", **parse_failures)
    assert (refused["id"], refused["type"]) == ("s", "error")
    (error,) = refused["payload"]
    assert error["message"] == "Syntax Error: Expected Name, found <EOF>."
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert [error[key] for key in ("message", "locations")] == [
        over_http[key] for key in ("message", "locations")
    ]
    assert over_http["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert (over_the_socket, both) == (1, 2)
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []
    await watcher.send(_subscribe("s", PET_STATS, {"id": (await create_pet(client))["id"]}))
    assert (await watcher.receive())["type"] == "next", "its id is free again"
    await watcher.close()


@pytest.mark.parametrize("query", [None, ""])
async def test_a_subscribe_without_a_query_gets_one_error_message(
    server: tuple[str, GraphQLClient], query: str | None
) -> None:
    """As over HTTP, where it is a 400: no operation to run, a validation failure."""
    url, client = server
    watcher = await (await SubscriptionClient.connect(url)).acknowledged()
    await watcher.send({"id": "q", "type": "subscribe", "payload": {"query": query}})
    refused = await watcher.receive()
    assert (refused["id"], refused["type"]) == ("q", "error")
    assert refused["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    await watcher.send(_subscribe("q", PET_STATS, {"id": (await create_pet(client))["id"]}))
    assert (await watcher.receive())["type"] == "next", "its id is free again"
    await watcher.close()


async def test_the_server_completes_a_subscription_that_ends(server: tuple[str, GraphQLClient]) -> None:
    """Complete, server to client: the pet is deleted, so its subscription ends with its error, then
    `complete`; the client need not (and does not) send one."""
    url, client = server
    pet = await create_pet(client)
    watcher = await (await SubscriptionClient.connect(url)).acknowledged()
    operation = await watcher.subscribe(pet["id"])
    await watcher.next_pet()
    await client.execute(DELETE, {"id": pet["id"]})
    ended = await watcher.receive()
    assert (ended["id"], ended["type"]) == (operation, "next")
    assert ended["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await watcher.receive() == {"id": operation, "type": "complete"}
    await watcher.close()


async def test_the_client_completes_a_subscription_and_hears_no_more(
    server: tuple[str, GraphQLClient],
) -> None:
    """Complete, client to server: no further events for the id; a complete for an id the server does not
    know (never used, or already ended) is ignored."""
    url, client = server
    pet = await create_pet(client)
    watcher = await (await SubscriptionClient.connect(url)).acknowledged()
    operation = await watcher.subscribe(pet["id"])
    await watcher.next_pet()
    await watcher.send({"id": operation, "type": "complete"})
    await watcher.send({"id": "never-used", "type": "complete"})
    await watcher.send({"type": "ping"})
    assert await watcher.receive() == {"type": "pong"}
    await client.execute(RENAME, {"id": pet["id"], "name": "Unseen"})
    assert await watcher.nothing_within(0.5), "no update after complete"
    await watcher.send({"type": "ping"})
    assert await watcher.receive() == {"type": "pong"}, "the connection is still open"
    await watcher.close()


# An independent client: gql -------------------------------------------------------------


def _gql_transport(url: str, owner: str = "alice", **options: Any) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=url.replace("http", "ws", 1) + "/graphql",
        init_payload={"authorization": f"Bearer {token_for(owner)}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        **options,
    )


async def test_gql_subscribes_and_receives_each_change(server: tuple[str, GraphQLClient]) -> None:
    url, client = server
    pet = await create_pet(client)
    async with Client(transport=_gql_transport(url)) as session:
        updates = session.subscribe(
            GraphQLRequest(
                "subscription($id: ID!) { petStats(id: $id) { version name } }",
                variable_values={"id": pet["id"]},
            ),
        )
        assert (await anext(updates))["petStats"] == {"version": 1, "name": "Mochi"}
        await client.execute(RENAME, {"id": pet["id"], "name": "Seen by gql"})
        assert (await anext(updates))["petStats"] == {"version": 2, "name": "Seen by gql"}
        await updates.aclose()  # gql sends `complete`
        answer = await session.execute(
            GraphQLRequest("query($id: ID!) { pet(id: $id) { name } }", variable_values={"id": pet["id"]})
        )
        assert answer == {"pet": {"name": "Seen by gql"}}


async def test_gql_sees_typed_errors_and_the_server_ending_a_subscription(
    server: tuple[str, GraphQLClient],
) -> None:
    url, client = server
    pet = await create_pet(client)
    async with Client(transport=_gql_transport(url)) as session:
        with pytest.raises(TransportQueryError) as invalid:
            await session.execute(GraphQLRequest('query { pet(id: "nope") { name } }'))
        assert invalid.value.errors is not None
        assert invalid.value.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
        updates = session.subscribe(
            GraphQLRequest(
                "subscription($id: ID!) { petStats(id: $id) { version } }", variable_values={"id": pet["id"]}
            )
        )
        assert (await anext(updates))["petStats"] == {"version": 1}
        await client.execute(DELETE, {"id": pet["id"]})
        with pytest.raises(TransportQueryError) as ended:
            await anext(updates)
        assert ended.value.errors is not None
        assert ended.value.errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_gql_pings_and_is_answered(server: tuple[str, GraphQLClient]) -> None:
    url, _ = server
    transport = _gql_transport(url)
    async with Client(transport=transport):
        transport.pong_received.clear()
        await transport.send_ping({"from": "gql"})
        await asyncio.wait_for(transport.pong_received.wait(), 5)
