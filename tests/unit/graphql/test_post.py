"""The common ``POST /graphql`` (pixelpet/graphql/post.py): which requests it answers itself.

That its answers are the view's, header for header, is tests/unit/graphql/test_operation.py's: it sends
the same requests to the service with and without this path. Here: that the path is taken at all, and
that what it declines reaches the view with its body intact.
"""

import json
from typing import Any

import pytest
from strawberry.asgi import GraphQL

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
