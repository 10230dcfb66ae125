"""An update received by many subscribers is executed and encoded once, and only when that is safe."""

import json
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult

from pixelpet.graphql.caching import DocumentCache
from pixelpet.graphql.encoding import encode_text
from pixelpet.graphql.seam import core_schema
from pixelpet.graphql.sharing import SharedResult, execute_shared, next_message, share_key
from pixelpet.settings import LimitSettings

resolved: list[str] = []


@strawberry.type
class Thing:
    name: str

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
        yield Thing(name="unused: roots are passed to execute_shared directly")


SCHEMA = strawberry.Schema(query=Query, subscription=Subscription)
# Results are keyed by the parsed document: sharing relies on the app's document cache.
DOCUMENTS = DocumentCache(LimitSettings())


def _execute(
    root: Thing, cache: dict[object, object], query: str, variables: dict[str, Any] | None = None
) -> SharedResult | ExecutionResult:
    """What a live operation does for one subscriber receiving a snapshot whose cache is ``cache``."""
    document = DOCUMENTS.parse(query)
    result = execute_shared(
        core_schema(SCHEMA),
        document,
        root=root,
        cache=cache,
        context=None,
        operation_name=None,
        variables=variables,
        key=share_key(document, None, variables),
    )
    assert isinstance(result, SharedResult | ExecutionResult)
    return result


@pytest.fixture(autouse=True)
def _fresh_log() -> None:
    resolved.clear()


def test_subscribers_of_one_snapshot_with_one_operation_share_its_execution() -> None:
    cache: dict[object, object] = {}
    first = _execute(Thing(name="rex"), cache, "subscription { things { loud } }")
    second = _execute(Thing(name="rex"), cache, "subscription { things { loud } }")
    assert resolved == ["rex"], "executed once for both subscribers"
    assert isinstance(second, SharedResult)
    assert second is first
    assert second.result.data == {"things": {"loud": "REX!"}}
    assert json.loads(second.data_json) == {"things": {"loud": "REX!"}}


def test_different_selections_or_variables_are_executed_separately() -> None:
    cache: dict[object, object] = {}
    rex = Thing(name="rex")
    query = "subscription($s: String!) { things { loud(suffix: $s) } }"
    plain = _execute(rex, cache, "subscription { things { name } }")
    asking = _execute(rex, cache, query, {"s": "?"})
    shouting = _execute(rex, cache, query, {"s": "!!"})
    assert [r.result.data for r in (plain, asking, shouting) if isinstance(r, SharedResult)] == [
        {"things": {"name": "rex"}},
        {"things": {"loud": "REX?"}},
        {"things": {"loud": "REX!!"}},
    ]
    assert resolved == ["rex", "rex"]


def test_another_snapshot_is_executed_again() -> None:
    _execute(Thing(name="rex"), {}, "subscription { things { loud } }")
    _execute(Thing(name="rex"), {}, "subscription { things { loud } }")
    assert resolved == ["rex", "rex"]


def test_results_with_errors_are_never_shared() -> None:
    cache: dict[object, object] = {}
    for _ in range(2):
        result = _execute(Thing(name="rex"), cache, "subscription { things { broken } }")
        assert isinstance(result, ExecutionResult)
        assert result.errors
    assert resolved == ["rex", "rex"], "each subscriber gets its own error, classified and logged as usual"
    assert cache == {}


def test_a_shared_next_message_encodes_exactly_like_any_other() -> None:
    data = {"things": {"name": 'Rex "the" dög\n'}}
    document = DOCUMENTS.parse("subscription { things { name } }")
    shared = SharedResult(document, ExecutionResult(data), encode_text(data))
    plain = {"id": 'op-"1"', "type": "next", "payload": {"data": data}}
    assert next_message('op-"1"', shared) == encode_text(plain)
    assert json.loads(next_message('op-"1"', shared)) == plain
