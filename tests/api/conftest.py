"""The API in-process: the app's own ASGI callable through httpx, on the in-memory store.

For contract tests of queries, mutations, errors and limits, where neither a socket nor a database is the
subject (the contract suite, tests/unit/storage/test_contract.py, keeps the store honest; tests/integration/
serves the same app over real uvicorn and SecantusDB).
"""

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from pixelpet.app import create_app
from pixelpet.clock import ManualClock
from pixelpet.settings import LimitSettings, Settings
from pixelpet.storage.memory import InMemoryPetStore
from tests.support.graphql import GraphQLClient


def api_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        # Never connected to: the store replaces the database.
        "mongodb_uri": SecretStr("mongodb://in-memory.invalid/"),
        "limits": LimitSettings(
            mutations_per_second=1000, mutation_burst=1000, queries_per_second=1000, query_burst=1000
        ),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def in_process(settings: Settings, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=clock, store=InMemoryPetStore())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pixelpet.test") as http,
    ):
        yield http


@pytest.fixture
async def http(clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(api_settings(), clock) as client:
        yield client


@pytest.fixture
def client(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)
