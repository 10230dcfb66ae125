"""A small GraphQL-over-HTTP client for tests."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from pixelpet.auth import mint_development_token
from pixelpet.clock import SystemClock
from pixelpet.settings import DEVELOPMENT_SECRET


def token_for(owner: str, *, secret: str = DEVELOPMENT_SECRET, ttl: timedelta = timedelta(hours=1)) -> str:
    return mint_development_token(secret=secret, subject=owner, now=SystemClock().now(), ttl=ttl)


@dataclass
class GraphQLResponse:
    status: int
    body: dict[str, Any]

    @property
    def data(self) -> Any:
        assert not self.body.get("errors"), self.body
        return self.body["data"]

    @property
    def error(self) -> dict[str, Any]:
        errors = self.body.get("errors") or []
        assert len(errors) == 1, self.body
        error: dict[str, Any] = errors[0]
        return error

    @property
    def code(self) -> str:
        code: str = self.error["extensions"]["code"]
        return code


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient, *, owner: str | None = "alice") -> None:
        self._http = http
        self._owner = owner

    def as_owner(self, owner: str | None) -> "GraphQLClient":
        return GraphQLClient(self._http, owner=owner)

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, headers: dict[str, str] | None = None
    ) -> GraphQLResponse:
        all_headers = {"Authorization": f"Bearer {token_for(self._owner)}"} if self._owner else {}
        all_headers.update(headers or {})
        response = await self._http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
        )
        return GraphQLResponse(response.status_code, response.json())


PET_FIELDS = """
    id name species version activity mood needs createdAt updatedAt
    stats { hunger happiness energy asOf }
"""


async def create_pet(
    client: GraphQLClient, name: str = "Mochi", species: str = "CAT", **extra: Any
) -> dict[str, Any]:
    response = await client.execute(
        f"mutation($input: CreatePetInput!) {{ createPet(input: $input) {{ {PET_FIELDS} }} }}",
        {"input": {"name": name, "species": species, **extra}},
    )
    pet: dict[str, Any] = response.data["createPet"]
    return pet
