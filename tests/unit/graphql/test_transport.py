"""The graphql-transport-ws handler's push path, against a scripted socket and a source we control."""

import asyncio
import json
from collections.abc import AsyncGenerator, Callable, Mapping
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry
from opentelemetry.sdk.trace import TracerProvider

from pixelpet.clock import SystemClock
from pixelpet.graphql.caching import DocumentCache
from pixelpet.graphql.close_codes import CLIENT_TOO_SLOW
from pixelpet.graphql.limits import Limits, SubscriptionCounter
from pixelpet.graphql.live_source import LiveSource
from pixelpet.graphql.seam import core_schema
from pixelpet.graphql.telemetry import OperationRecorder
from pixelpet.graphql.transport import LiveServices, LiveTransportHandler
from pixelpet.pets.live.channel import Snapshot
from pixelpet.settings import LimitSettings, SubscriptionSettings
from pixelpet.telemetry.metrics import Metrics
from tests.conftest import T0
from tests.support.pets import a_pet

LIMITS = Limits(LimitSettings(), SubscriptionSettings(), clock=SystemClock())


@strawberry.type
class Tick:
    n: int


def tick(n: int) -> Snapshot:
    """A snapshot shown as ``Tick(n)`` (its pet's version is ``n``)."""
    return Snapshot(a_pet(version=n), T0, "change")


class Ticks:
    """A live subscription the test pushes into by hand."""

    def __init__(self) -> None:
        self.deliver: Callable[[Snapshot], None] | None = None
        self.end: Callable[[Exception | None], None] | None = None
        self.closed = False

    async def first(self) -> Snapshot:
        return tick(0)

    def start(self, deliver: Callable[[Snapshot], None], end: Callable[[Exception | None], None]) -> None:
        self.deliver, self.end = deliver, end

    def close(self) -> None:
        self.closed = True


SOURCES: list[Ticks] = []


@strawberry.type
class Query:
    hello: str = "hi"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncGenerator[Tick, None]:
        source = Ticks()
        SOURCES.append(source)
        return LiveSource(  # type: ignore[return-value]
            source,
            present=lambda snapshot: Tick(n=snapshot.pet.version),
            ticket=LIMITS.open_subscription("tester", SubscriptionCounter()),
        )

    @strawberry.subscription
    async def pulled(self) -> AsyncGenerator[Tick, None]:
        yield Tick(n=0)  # a generator: this transport only serves sources that push


class Socket:
    """What the handler sees of a WebSocket: messages the test sends in, and what it sent out."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed_with: int | None = None
        self.closed = asyncio.Event()
        self.blocked = asyncio.Event()  # set: sends never complete, as with a client that stopped reading
        self.stuck = asyncio.Event()  # set once a send is blocked

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        while (message := await self.incoming.get()) is not None:
            yield message

    async def send_json(self, message: Mapping[str, object]) -> None:
        await self.send_text(json.dumps(message))

    async def send_text(self, text: str) -> None:
        await self.send_texts([text])

    async def send_texts(self, texts: list[str], *, wait: bool = True) -> None:
        if self.blocked.is_set():
            if not wait:
                raise BlockingIOError
            self.stuck.set()
            await asyncio.Event().wait()
        for text in texts:
            await self.sent.put(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = code
        self.closed.set()
        await self.incoming.put(None)

    async def next_sent(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.sent.get(), 5)


class AcceptEveryone:
    async def on_ws_connect(self, context: object) -> None:
        return None


@pytest.fixture
async def connection() -> AsyncGenerator[tuple[Socket, Metrics], None]:
    SOURCES.clear()
    schema = strawberry.Schema(query=Query, subscription=Subscription)
    metrics = Metrics(version="test", environment="test")
    services = LiveServices(
        schema=schema,
        core_schema=core_schema(schema),
        documents=DocumentCache(LimitSettings()),
        settings=SubscriptionSettings(stall_timeout_s=0.2, connection_init_timeout_s=5),
        recorder=OperationRecorder(tracer=TracerProvider().get_tracer("test"), metrics=metrics),
        outbox_events=metrics,
    )
    socket = Socket()
    handler = LiveTransportHandler(
        services,
        websocket=socket,
        context=SimpleNamespace(limits=LIMITS),  # type: ignore[arg-type]  # the handler reads only its limits
        authenticator=AcceptEveryone(),
        max_operations=10,
    )
    task = asyncio.create_task(handler.handle())
    await socket.incoming.put({"type": "connection_init", "payload": {}})
    assert (await socket.next_sent())["type"] == "connection_ack"
    yield socket, metrics
    await socket.incoming.put(None)
    await asyncio.wait_for(task, 5)


def _subscribe(operation_id: str, query: str) -> dict[str, Any]:
    return {"id": operation_id, "type": "subscribe", "payload": {"query": query}}


async def test_a_source_pushes_each_event_then_ends_with_complete(connection: tuple[Socket, Metrics]) -> None:
    socket, _ = connection
    await socket.incoming.put(_subscribe("1", "subscription { ticks { n } }"))
    assert await socket.next_sent() == {"id": "1", "type": "next", "payload": {"data": {"ticks": {"n": 0}}}}
    (source,) = SOURCES
    assert source.deliver is not None
    assert source.end is not None
    source.deliver(tick(1))
    assert (await socket.next_sent())["payload"] == {"data": {"ticks": {"n": 1}}}
    source.end(None)
    assert await socket.next_sent() == {"id": "1", "type": "complete"}
    assert source.closed


async def test_an_ending_error_reaches_the_client_classified(connection: tuple[Socket, Metrics]) -> None:
    socket, _ = connection
    await socket.incoming.put(_subscribe("1", "subscription { ticks { n } }"))
    await socket.next_sent()
    SOURCES[0].end(RuntimeError("database exploded"))  # type: ignore[misc]
    ended = await socket.next_sent()
    assert ended["payload"]["errors"][0]["message"] == "Internal server error."
    assert ended["payload"]["errors"][0]["path"] == ["ticks"]
    assert await socket.next_sent() == {"id": "1", "type": "complete"}


async def test_a_client_that_stops_reading_gets_the_newest_state_or_is_cut_off(
    connection: tuple[Socket, Metrics],
) -> None:
    socket, metrics = connection
    await socket.incoming.put(_subscribe("1", "subscription { ticks { n } }"))
    await socket.next_sent()
    socket.blocked.set()
    deliver = SOURCES[0].deliver
    assert deliver is not None
    deliver(tick(1))
    await asyncio.wait_for(socket.stuck.wait(), 5)  # the writer is now stuck sending it
    for n in range(2, 5):  # these replace each other in the outbox
        deliver(tick(n))
    assert metrics.registry.get_sample_value("pixelpet_subscription_events_coalesced_total") == 2
    await asyncio.wait_for(socket.closed.wait(), 10)  # the stall timeout (0.2 s) passed
    assert socket.closed_with == CLIENT_TOO_SLOW.code
    assert metrics.registry.get_sample_value("pixelpet_subscription_clients_dropped_total") == 1
    assert SOURCES[0].closed, "its subscriptions let go of their feeds"


async def test_a_resolver_that_does_not_push_is_an_internal_error(connection: tuple[Socket, Metrics]) -> None:
    socket, _ = connection
    await socket.incoming.put(_subscribe("1", "subscription { pulled { n } }"))
    refused = await socket.next_sent()
    assert (refused["id"], refused["type"]) == ("1", "error")
    assert refused["payload"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"


async def test_a_query_that_does_not_parse_is_one_error_message_recorded_as_a_parse_failure(
    connection: tuple[Socket, Metrics],
) -> None:
    socket, metrics = connection
    await socket.incoming.put(_subscribe("1", "subscription { ticks { n }"))
    refused = await socket.next_sent()
    assert (refused["id"], refused["type"]) == ("1", "error")
    (error,) = refused["payload"]
    assert error["message"] == "Syntax Error: Expected Name, found <EOF>."
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "traceId" in error["extensions"], "classified within the operation's span, as over HTTP"
    recorded = {"operation_type": "unknown", "operation": "invalid", "code": "GRAPHQL_PARSE_FAILED"}
    assert metrics.registry.get_sample_value("pixelpet_graphql_requests_total", recorded) == 1
    await socket.incoming.put(_subscribe("1", "subscription { ticks { n } }"))  # its id is free again
    assert (await socket.next_sent())["type"] == "next"
