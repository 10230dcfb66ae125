"""Every limit a client meets over HTTP, in process: rates per player and per address, the pet cap, and
requests the API refuses by shape. Limits of sockets and connections: tests/integration/test_abuse_limits.py.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from pixelpet.clock import ManualClock
from pixelpet.settings import LimitSettings
from tests.api.conftest import api_settings, in_process
from tests.support.graphql import GraphQLClient, create_pet, token_for

LIST = "{ pets(first: 10) { edges { node { id } } } }"
CREATE = "mutation($input: CreatePetInput!) { createPet(input: $input) { id } }"


@pytest.fixture
async def strict(clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    limits = LimitSettings(
        queries_per_second=1, query_burst=3, unauthenticated_per_second=1, unauthenticated_burst=3
    )
    async with in_process(api_settings(limits=limits), clock) as http:
        yield http


@pytest.fixture
async def limited(clock: ManualClock) -> AsyncIterator[GraphQLClient]:
    limits = LimitSettings(max_pets_per_owner=3, mutations_per_second=1, mutation_burst=5)
    async with in_process(api_settings(limits=limits), clock) as http:
        yield GraphQLClient(http)


async def test_queries_are_rate_limited_per_owner(strict: httpx.AsyncClient, clock: ManualClock) -> None:
    http = strict
    alice = GraphQLClient(http)
    results = [await alice.execute(LIST) for _ in range(4)]
    assert [r.body.get("errors") is None for r in results] == [True, True, True, False]
    assert results[-1].code == "RATE_LIMITED"
    assert results[-1].error["extensions"]["retryAfterSeconds"] > 0
    assert (await alice.as_owner("bob").execute(LIST)).body.get("errors") is None, "bob has his own"
    clock.advance(timedelta(seconds=1))
    assert (await alice.execute(LIST)).body.get("errors") is None, "refilled at the configured rate"


async def test_bad_credentials_are_rate_limited_per_address_before_they_are_checked(
    strict: httpx.AsyncClient, clock: ManualClock
) -> None:
    http = strict
    known = GraphQLClient(http, owner=None)
    alice = {"Authorization": "Bearer " + token_for("alice")}
    assert (await known.execute(LIST, headers=alice)).body.get("errors") is None  # verified, remembered
    forged = {"Authorization": "Bearer " + token_for("mallory", secret="not-the-secret-" * 3)}
    codes = [(await known.execute(LIST, headers=forged)).code for _ in range(3)]
    assert codes == ["UNAUTHENTICATED"] * 3
    refused = await known.execute(LIST)  # no token at all: the same budget
    assert refused.code == "RATE_LIMITED"
    assert refused.error["extensions"]["retryAfterSeconds"] > 0
    assert (await known.execute(LIST, headers=alice)).body.get("errors") is None, "remembered: still works"
    clock.advance(timedelta(seconds=1))
    assert (await known.execute(LIST, headers=forged)).code == "UNAUTHENTICATED", "refilled"


async def test_a_burst_of_mutations_is_rate_limited_per_owner(
    limited: GraphQLClient,
) -> None:
    client = limited
    pet = await create_pet(client)
    rename = 'mutation($id: ID!) { renamePet(id: $id, name: "n") { id } }'
    results = [await client.execute(rename, {"id": pet["id"]}) for _ in range(6)]
    assert [bool(r.body.get("errors")) for r in results] == [False] * 4 + [True] * 2
    assert results[-1].code == "RATE_LIMITED"
    assert results[-1].error["extensions"]["retryAfterSeconds"] > 0
    # Another owner has a bucket of their own.
    assert not (
        await client.as_owner("bob").execute(CREATE, {"input": {"name": "b", "species": "CAT"}})
    ).body.get("errors")


async def test_concurrent_creates_never_exceed_the_per_owner_cap(
    limited: GraphQLClient,
) -> None:
    client = limited
    results = await asyncio.gather(
        *(client.execute(CREATE, {"input": {"name": f"p{i}", "species": "DOG"}}) for i in range(5))
    )
    created = [r for r in results if not r.body.get("errors")]
    refused = [r for r in results if r.body.get("errors")]
    assert len(created) == 3
    assert {(r.code, r.error["extensions"]["reason"]) for r in refused} == {
        ("ACTION_REFUSED", "PET_LIMIT_REACHED")
    }
    assert len((await client.execute(LIST)).data["pets"]["edges"]) == 3


async def test_deleting_a_pet_frees_its_place_under_the_cap(
    limited: GraphQLClient, clock: ManualClock
) -> None:
    client = limited
    pets = [await create_pet(client, name=f"p{i}") for i in range(3)]
    assert (await client.execute(CREATE, {"input": {"name": "x", "species": "CAT"}})).code == "ACTION_REFUSED"
    await client.execute("mutation($id: ID!) { deletePet(id: $id) }", {"id": pets[0]["id"]})
    clock.advance(timedelta(seconds=10))  # refill the rate limiter
    assert (await create_pet(client, name="again"))["name"] == "again"


async def test_batched_and_get_queries_are_refused(strict: httpx.AsyncClient) -> None:
    http = strict
    batch = await http.post("/graphql", json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}])
    assert batch.status_code == 400
    via_get = await http.get("/graphql", params={"query": "{ __typename }"})
    assert via_get.status_code == 405
    assert via_get.headers["allow"] == "POST"
    assert "__typename" not in via_get.text
