"""Fixtures shared by every test layer: a real SecantusDB over TCP and a real uvicorn server."""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import settings as hypothesis_settings
from pydantic import SecretStr

from pixelpet.app import create_app
from pixelpet.clock import ManualClock
from pixelpet.devdb import DevDatabase, free_port
from pixelpet.settings import LimitSettings, MongoSettings, Settings
from tests.support.graphql import GraphQLClient
from tests.support.server import running_server

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

# Properties are about values, not speed: a per-example deadline would only make a shared CI machine flaky.
hypothesis_settings.register_profile("pixelpet", deadline=None)
hypothesis_settings.load_profile("pixelpet")


@dataclass(frozen=True)
class ExternalDatabase:
    """A MongoDB the suite does not start (CI's MongoDB 8 job); tests only use its ``uri``."""

    uri: str


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevDatabase | ExternalDatabase]:
    """One SecantusDB process for the session; each test gets its own database name in it.

    With ``PIXELPET_TEST_MONGODB_URI`` set (a replica set with test commands on), that server is used
    instead: .github/workflows/ci.yml runs the suite against MongoDB 8 that way. Tests that stop or restart
    a database start a SecantusDB of their own either way.
    """
    external = os.environ.get("PIXELPET_TEST_MONGODB_URI")
    if external:
        yield ExternalDatabase(external)
        return
    root = tmp_path_factory.mktemp("secantus")
    server = DevDatabase(storage=root / "data", port=free_port(), test_commands=True, log_file=root / "log")
    server.start()
    yield server
    server.stop()


def unique_database() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


def make_settings(uri: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "mongodb_uri": SecretStr(uri),
        "mongo": MongoSettings(database=unique_database()),
        # Generous limits so tests about other things never trip them.
        "limits": LimitSettings(
            mutations_per_second=1000, mutation_burst=1000, queries_per_second=1000, query_burst=1000
        ),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database: DevDatabase) -> Settings:
    return make_settings(database.uri)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def base_url(settings: Settings, clock: ManualClock) -> AsyncIterator[str]:
    async with running_server(create_app(settings, clock=clock)) as url:
        yield url


@pytest.fixture
async def client(base_url: str) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        yield GraphQLClient(http)


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
