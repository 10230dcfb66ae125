"""An update received by many subscribers is executed and encoded once, and only when that is safe."""

import json
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult

from pixelpet.graphql.caching import DocumentCache
from pixelpet.graphql.sharing import EncodedData, encode_message, execute_event, share_key
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


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def things(self) -> AsyncGenerator[Thing, None]:
        yield Thing(name="unused: events are passed to execute_event directly")


SCHEMA = strawberry.Schema(query=Query, subscription=Subscription)
# Results are keyed by the parsed document: sharing relies on the app's document cache.
DOCUMENTS = DocumentCache(LimitSettings())


def _execute(event: Thing, query: str, variables: dict[str, Any] | None = None) -> ExecutionResult:
    """What the transport does for one subscriber receiving ``event``."""
    document = DOCUMENTS.parse(query)
    result = execute_event(
        SCHEMA._schema,
        document,
        event=event,
        context=None,
        operation_name=None,
        variables=variables,
        key=share_key(document, None, variables),
    )
    assert isinstance(result, ExecutionResult)
    return result


@pytest.fixture(autouse=True)
def _fresh_log() -> None:
    resolved.clear()


def test_subscribers_of_one_event_with_one_operation_share_its_execution() -> None:
    shared = Thing(name="rex", shared_results={})
    first = _execute(shared, "subscription { things { loud } }")
    second = _execute(shared, "subscription { things { loud } }")
    assert resolved == ["rex"], "executed once for both subscribers"
    assert first.data == second.data == {"things": {"loud": "REX!"}}
    assert isinstance(second.data, EncodedData)
    assert json.loads(second.data.json) == {"things": {"loud": "REX!"}}


def test_different_selections_or_variables_are_executed_separately() -> None:
    shared = Thing(name="rex", shared_results={})
    query = "subscription($s: String!) { things { loud(suffix: $s) } }"
    plain = _execute(shared, "subscription { things { name } }")
    asking = _execute(shared, query, {"s": "?"})
    shouting = _execute(shared, query, {"s": "!!"})
    assert [r.data for r in (plain, asking, shouting)] == [
        {"things": {"name": "rex"}},
        {"things": {"loud": "REX?"}},
        {"things": {"loud": "REX!!"}},
    ]
    assert resolved == ["rex", "rex"]


def test_events_that_are_not_shared_are_executed_for_each_subscriber() -> None:
    unshared = Thing(name="rex")
    _execute(unshared, "subscription { things { loud } }")
    _execute(unshared, "subscription { things { loud } }")
    assert resolved == ["rex", "rex"]


def test_results_with_errors_are_never_shared() -> None:
    shared = Thing(name="rex", shared_results={})
    for _ in range(2):
        result = _execute(shared, "subscription { things { broken } }")
        assert result.errors
    assert resolved == ["rex", "rex"], "each subscriber gets its own error, classified and logged as usual"


def test_a_shared_next_message_encodes_exactly_like_any_other() -> None:
    data = {"petStats": {"name": 'Rex "the" dog', "needs": ["FOOD"], "version": 3}}
    shared = {"id": 'op-"1"', "type": "next", "payload": {"data": EncodedData(data)}}
    plain = {"id": 'op-"1"', "type": "next", "payload": {"data": data}}
    assert encode_message(shared) == encode_message(plain) == json.dumps(plain, separators=(",", ":"))
    with_errors = {"id": "1", "type": "next", "payload": {"data": EncodedData(data), "errors": [{"m": 1}]}}
    assert json.loads(encode_message(with_errors)) == with_errors
