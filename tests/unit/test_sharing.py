"""An update received by many subscribers is executed and encoded once, and only when that is safe."""

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest
import strawberry
from strawberry.types.execution import ExecutionResult

from pixelpet.graphql.caching import CachedParseAndValidate, DocumentCache
from pixelpet.graphql.sharing import EncodedData, SharingExecutionContext, encode_message
from pixelpet.settings import LimitSettings

resolved: list[str] = []


@strawberry.type
class Thing:
    name: str
    shared_results: strawberry.Private[dict[Any, Any] | None] = None

    @strawberry.field
    def loud(self, suffix: str = "!") -> str:
        resolved.append(self.name)
        return self.name.upper() + suffix

    @strawberry.field
    def broken(self) -> str:
        resolved.append(self.name)
        raise ValueError("no")


@strawberry.type
class Query:
    hello: str = "hi"


def _stream_of(events: list[Thing]) -> Any:
    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def things(self) -> AsyncGenerator[Thing, None]:
            for event in events:
                yield event

    # Results are keyed by the parsed operation: sharing relies on the app's document cache.
    documents = DocumentCache(LimitSettings())
    return strawberry.Schema(
        query=Query,
        subscription=Subscription,
        execution_context_class=SharingExecutionContext,
        extensions=[lambda: CachedParseAndValidate(documents)],
    )


async def _results(schema: Any, query: str, variables: dict[str, Any] | None = None) -> list[ExecutionResult]:
    stream = await schema.subscribe(query, variable_values=variables)
    assert isinstance(stream, AsyncIterator)
    return [result async for result in stream]


@pytest.fixture(autouse=True)
def _fresh_log() -> None:
    resolved.clear()


async def test_subscribers_of_one_event_with_one_operation_share_its_execution() -> None:
    shared = Thing(name="rex", shared_results={})
    schema = _stream_of([shared])
    first = await _results(schema, "subscription { things { loud } }")
    second = await _results(schema, "subscription { things { loud } }")
    assert resolved == ["rex"], "executed once for both subscribers"
    assert first[0].data == second[0].data == {"things": {"loud": "REX!"}}
    assert isinstance(second[0].data, EncodedData)
    assert json.loads(second[0].data.json) == {"things": {"loud": "REX!"}}


async def test_different_selections_or_variables_are_executed_separately() -> None:
    shared = Thing(name="rex", shared_results={})
    schema = _stream_of([shared])
    query = "subscription($s: String!) { things { loud(suffix: $s) } }"
    plain = await _results(schema, "subscription { things { name } }")
    asking = await _results(schema, query, {"s": "?"})
    shouting = await _results(schema, query, {"s": "!!"})
    assert [r[0].data for r in (plain, asking, shouting)] == [
        {"things": {"name": "rex"}},
        {"things": {"loud": "REX?"}},
        {"things": {"loud": "REX!!"}},
    ]
    assert resolved == ["rex", "rex"]


async def test_events_that_are_not_shared_are_executed_for_each_subscriber() -> None:
    schema = _stream_of([Thing(name="rex")])
    await _results(schema, "subscription { things { loud } }")
    await _results(schema, "subscription { things { loud } }")
    assert resolved == ["rex", "rex"]


async def test_results_with_errors_are_never_shared() -> None:
    schema = _stream_of([Thing(name="rex", shared_results={})])
    for _ in range(2):
        (result,) = await _results(schema, "subscription { things { broken } }")
        assert result.errors
    assert resolved == ["rex", "rex"], "each subscriber gets its own error, classified and logged as usual"


def test_a_shared_next_message_encodes_exactly_like_any_other() -> None:
    data = {"petStats": {"name": 'Rex "the" dog', "needs": ["FOOD"], "version": 3}}
    shared = {"id": 'op-"1"', "type": "next", "payload": {"data": EncodedData(data)}}
    plain = {"id": 'op-"1"', "type": "next", "payload": {"data": data}}
    assert encode_message(shared) == encode_message(plain) == json.dumps(plain, separators=(",", ":"))
    with_errors = {"id": "1", "type": "next", "payload": {"data": EncodedData(data), "errors": [{"m": 1}]}}
    assert json.loads(encode_message(with_errors)) == with_errors
