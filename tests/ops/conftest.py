"""The operations CLI as operators run it: `pixelpet` processes against a running service and SecantusDB."""

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from pixelpet.devdb import DevDatabase
from tests.conftest import unique_database
from tests.support.graphql import token_for
from tests.support.service import ServiceProcess, clean_environment, service_environment

ADMIN_TOKEN = "an-admin-token-for-tests-only"
CREATE = "mutation($input: CreatePetInput!) { createPet(input: $input) { id } }"


@dataclass
class Ops:
    """One service process on its own database, and `pixelpet` commands pointed at the same."""

    service: ServiceProcess
    env: dict[str, str]  # what the CLI gets: the service's database and admin token
    database: str

    def run(self, *args: str, timeout_s: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pixelpet", *args],
            env=clean_environment(**{**self.env, **env}),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def run_json(self, *args: str, **env: str) -> tuple[int, Any]:
        completed = self.run(*args, "--json", **env)
        assert completed.stdout, completed.stderr
        return completed.returncode, json.loads(completed.stdout)

    def graphql(self, owner: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            f"{self.service.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token_for(owner)}"},
            timeout=10,
        )
        body = response.json()
        assert not body.get("errors"), body
        data: dict[str, Any] = body["data"]
        return data

    def create_pet(self, owner: str, name: str = "Mochi") -> str:
        response = httpx.post(
            f"{self.service.url}/graphql",
            json={"query": CREATE, "variables": {"input": {"name": name, "species": "CAT"}}},
            headers={"Authorization": f"Bearer {token_for(owner)}"},
            timeout=10,
        )
        pet_id: str = response.json()["data"]["createPet"]["id"]
        return pet_id


@pytest.fixture(scope="module")
def ops(database: DevDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    """One service per module (starting one costs seconds); tests keep apart by owner or database name."""
    name = unique_database()
    env = {**service_environment(database.uri, name), "PIXELPET_ADMIN_TOKEN": ADMIN_TOKEN}
    service = ServiceProcess(env=env, log_file=tmp_path_factory.mktemp("ops") / "service.log")
    service.start()
    try:
        yield Ops(service, env, name)
    finally:
        service.stop()


@pytest.fixture
def owner() -> str:
    """A player of this test's own, so tests sharing the module's service never see each other's pets."""
    return f"player-{uuid.uuid4().hex[:8]}"
