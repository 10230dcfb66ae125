"""GraphiQL in development opens on a query that works, with a development token in its headers."""

import json
import re

import httpx
import jwt

from pixelpet.settings import DEVELOPMENT_SECRET


async def test_graphiql_opens_on_a_working_query_with_a_token(http: httpx.AsyncClient) -> None:
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    html = page.text
    query = json.loads(re.search(r"parameters\.q \|\| (\".*?(?<!\\)\")", html, re.DOTALL).group(1))  # type: ignore[union-attr]
    headers = json.loads(
        json.loads(re.search(r"parameters\.headers \|\| (\".*?(?<!\\)\")\)", html, re.DOTALL).group(1))
    )  # type: ignore[union-attr]
    assert "graphiql-player" in query, "the comment explains whose token it is"
    answered = await http.post("/graphql", json={"query": query}, headers=headers)
    assert answered.status_code == 200
    assert answered.json() == {"data": {"pets": {"edges": []}}}
    # A development token, as `pixelpet token` prints, for the player the comment names.
    claims = jwt.decode(
        headers["Authorization"].removeprefix("Bearer "), DEVELOPMENT_SECRET, algorithms=["HS256"]
    )
    assert claims["sub"] == "graphiql-player"
