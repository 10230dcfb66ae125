"""Abuse limits and database faults: every failure is a typed error, and nothing leaks."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from pixelpet.app import create_app
from pixelpet.clock import ManualClock
from pixelpet.devdb import DevDatabase
from pixelpet.settings import LimitSettings, MongoSettings, Settings
from tests.conftest import make_settings, unique_database
from tests.support.failpoints import fail_command
from tests.support.graphql import GraphQLClient, create_pet
from tests.support.logs import captured_json_logs
from tests.support.server import running_server

CREATE = "mutation($input: CreatePetInput!) { createPet(input: $input) { id } }"
LIST = "{ pets(first: 100) { edges { node { id } } } }"


@pytest.fixture
async def limited(database: DevDatabase, clock: ManualClock) -> AsyncIterator[tuple[GraphQLClient, Settings]]:
    settings = make_settings(
        database.uri,
        limits=LimitSettings(max_pets_per_owner=3, mutations_per_second=1, mutation_burst=5),
        mongo=MongoSettings(database=unique_database(), app_name="pixelpet-faults", timeout_ms=1000),
    )
    async with (
        running_server(create_app(settings, clock=clock)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        yield GraphQLClient(http), settings


async def test_concurrent_creates_never_exceed_the_per_owner_cap(
    limited: tuple[GraphQLClient, Settings],
) -> None:
    client, _ = limited
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
    limited: tuple[GraphQLClient, Settings], clock: ManualClock
) -> None:
    client, _ = limited
    pets = [await create_pet(client, name=f"p{i}") for i in range(3)]
    assert (await client.execute(CREATE, {"input": {"name": "x", "species": "CAT"}})).code == "ACTION_REFUSED"
    await client.execute("mutation($id: ID!) { deletePet(id: $id) }", {"id": pets[0]["id"]})
    clock.advance(timedelta(seconds=10))  # refill the rate limiter
    assert (await create_pet(client, name="again"))["name"] == "again"


async def test_a_burst_of_mutations_is_rate_limited_per_owner(
    limited: tuple[GraphQLClient, Settings],
) -> None:
    client, _ = limited
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


async def test_unexpected_database_errors_are_masked(
    limited: tuple[GraphQLClient, Settings], database: DevDatabase
) -> None:
    client, settings = limited
    with captured_json_logs() as logs:
        async with fail_command(
            database.uri, failCommands=["find"], errorCode=2, appName=settings.mongo.app_name
        ):
            response = await client.execute(LIST)
    assert response.code == "INTERNAL_SERVER_ERROR"
    assert response.error["message"] == "Internal server error."
    body = json.dumps(response.body)
    assert "Traceback" not in body
    assert "failCommand" not in body
    assert "BadValue" not in body
    errors = [line for line in logs.records() if line["level"] == "ERROR"]
    assert errors, "the unexpected error is logged"
    assert "OperationFailure" in errors[0]["exception"], "with its stack trace, for engineers only"
    assert errors[0]["trace_id"] == response.error["extensions"]["traceId"]
