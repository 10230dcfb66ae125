"""Database faults a client never sees the inside of: an unexpected error is masked, logged for engineers."""

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from pixelpet.app import create_app
from pixelpet.clock import ManualClock
from pixelpet.devdb import DevDatabase
from pixelpet.settings import LimitSettings, MongoSettings, Settings
from tests.conftest import make_settings, unique_database
from tests.support.failpoints import fail_command
from tests.support.graphql import GraphQLClient
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
