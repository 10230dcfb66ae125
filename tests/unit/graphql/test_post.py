"""The common ``POST /graphql`` (pixelpet/graphql/post.py): which requests it answers itself.

That its answers are the view's, header for header, is tests/unit/graphql/test_operation.py's: it sends
the same requests to the service with and without this path. Here: that the path is taken at all, and
that what it declines reaches the view with its body intact.
"""

import json
from typing import Any

import pytest
import strawberry
from strawberry.asgi import GraphQL
from strawberry.extensions import MaxTokensLimiter

from tests.unit.graphql.test_operation import _ann, _side


@pytest.fixture
def views(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The requests strawberry's view ran, by their path."""
    ran: list[str] = []
    call = GraphQL.__call__

    async def counted(self: GraphQL, scope: Any, receive: Any, send: Any) -> None:
        ran.append(scope["path"])
        await call(self, scope, receive, send)

    monkeypatch.setattr(GraphQL, "__call__", counted)
    return ran


async def test_a_query_and_a_mutation_are_answered_without_the_view(views: list[str]) -> None:
    async with _side(pipeline=True) as side:
        created = await side.send(
            {"query": 'mutation { createPet(input: {name: "Rex", species: DOG}) { id } }'}, _ann()
        )
        pet_id = json.loads(created[2])["data"]["createPet"]["id"]
        status, _, text = await side.send(
            {"query": "query($id: ID!) { pet(id: $id) { name } }", "variables": {"id": pet_id}}, _ann()
        )
    assert (status, json.loads(text)) == (200, {"data": {"pet": {"name": "Rex"}}})
    assert views == []


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ([{"query": "{ __typename }"}], {}),  # a batch
        ({"query": "{ pets("}, {}),  # a syntax error
        ({"query": "subscription { pets { __typename } }"}, {}),
        ({"query": "{ __typename }"}, {"accept": "multipart/mixed"}),
        ({"query": "{ __typename }", "operationName": "Missing"}, {}),
    ],
)
async def test_what_it_declines_reaches_the_view_with_its_body(
    views: list[str], body: Any, headers: dict[str, str]
) -> None:
    async with _side(pipeline=True) as side:
        status, _, text = await side.send(body, _ann() | headers)
    assert views == ["/graphql"]
    assert status in (200, 400), text
    assert "Unable to parse" not in text  # the view read the same body


async def test_without_the_pipeline_every_request_goes_to_the_view(views: list[str]) -> None:
    async with _side(pipeline=False) as side:
        status, _, _ = await side.send({"query": "{ __typename }"}, _ann())
    assert (status, views) == (200, ["/graphql"])


async def test_a_schema_given_other_extensions_or_replaced_goes_to_the_view(views: list[str]) -> None:
    """The view's schema answers: one whose extensions changed (the pipeline is off for it), or another
    schema put in the view (the benchmark's baselines do), is not served by this path."""
    async with _side(pipeline=True) as side:
        side.schema.extensions = (*side.schema.extensions, MaxTokensLimiter(max_token_count=10_000))
        status, _, _ = await side.send({"query": "{ __typename }"}, _ann())
        assert (status, views) == (200, ["/graphql"])
        view = next(route for route in side.app.routes if getattr(route, "path", None) == "/graphql")
        view.endpoint.schema = strawberry.Schema(query=Query)  # type: ignore[attr-defined]
        status, _, text = await side.send({"query": "{ hello }"}, _ann())
    assert (status, json.loads(text), views) == (200, {"data": {"hello": "world"}}, ["/graphql"] * 2)


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"
