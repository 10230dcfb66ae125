"""GraphQL over HTTP (the GraphQL Foundation's specification), its MUST and SHOULD rules, in process
(the app's own ASGI callable).

`application/graphql-response+json` is the spec's media type: with it, a request that fails before execution
(parse or validation) answers 4xx without `data`, so HTTP tooling sees the failure. `application/json` stays
as it was for existing clients: 200 with `errors`.
"""

from typing import Any

import httpx
import pytest

from tests.support.graphql import token_for

GRAPHQL_RESPONSE = "application/graphql-response+json"
AUTH = {"Authorization": f"Bearer {token_for('alice')}"}


async def post(client: httpx.AsyncClient, body: Any, **headers: str) -> httpx.Response:
    return await client.post("/graphql", json=body, headers={**AUTH, **headers})


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


async def test_a_client_accepting_the_graphql_response_type_gets_it(http: httpx.AsyncClient) -> None:
    response = await post(http, {"query": "{ pets(first: 1) { edges { cursor } } }"}, Accept=GRAPHQL_RESPONSE)
    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE
    assert response.json() == {"data": {"pets": {"edges": []}}}


@pytest.mark.parametrize(
    ("query", "code"),
    [("{ pets(first: 1) {", "GRAPHQL_PARSE_FAILED"), ("{ pets { nope } }", "GRAPHQL_VALIDATION_FAILED")],
    ids=["parse", "validation"],
)
async def test_a_request_that_fails_before_execution_is_a_400_without_data(
    http: httpx.AsyncClient, query: str, code: str
) -> None:
    response = await post(http, {"query": query}, Accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert media_type(response) == GRAPHQL_RESPONSE
    body = response.json()
    assert "data" not in body, "the spec: no data entry when execution never started"
    assert body["errors"][0]["extensions"]["code"] == code


async def test_an_error_during_execution_is_a_200_with_data(http: httpx.AsyncClient) -> None:
    missing = 'mutation { feedPet(id: "6b0ee49e960fb4f6659ae866") { version } }'
    response = await post(http, {"query": missing}, Accept=GRAPHQL_RESPONSE)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None, "execution started: data is present, null here"
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "accept", [None, "application/json", "*/*", "text/html"], ids=["none", "json", "anything", "unsupported"]
)
async def test_application_json_keeps_working_as_before(http: httpx.AsyncClient, accept: str | None) -> None:
    headers = {"Accept": accept} if accept else {}
    response = await post(http, {"query": "{ pets { nope } }"}, **headers)
    assert response.status_code == 200, "application/json: a well-formed request is a 200, errors in the body"
    assert media_type(response) == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_the_preferred_type_wins_when_a_client_accepts_both(http: httpx.AsyncClient) -> None:
    both = f"application/json;q=0.5, {GRAPHQL_RESPONSE}"
    assert media_type(await post(http, {"query": "{ __typename }"}, Accept=both)) == GRAPHQL_RESPONSE
    json_first = f"application/json, {GRAPHQL_RESPONSE};q=0.5"
    assert media_type(await post(http, {"query": "{ __typename }"}, Accept=json_first)) == "application/json"


async def test_requests_that_are_not_graphql_over_http_are_refused_with_the_right_status(
    http: httpx.AsyncClient,
) -> None:
    plain = await http.post(
        "/graphql", content=b"{ __typename }", headers={**AUTH, "Content-Type": "text/plain"}
    )
    assert plain.status_code == 415, "an unsupported media type"
    garbled = await http.post(
        "/graphql", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert garbled.status_code == 400
    no_query = await post(http, {"variables": {}}, Accept=GRAPHQL_RESPONSE)
    assert no_query.status_code == 400
    get = await http.get(
        "/graphql", params={"query": "{ __typename }"}, headers={**AUTH, "Accept": GRAPHQL_RESPONSE}
    )
    assert get.status_code == 405, "GET is not offered: POST only"
    assert "POST" in get.headers["allow"]
