"""A rolling restart of two instances under load loses nothing for a client that retries as the README
says (idempotent reads, creates with idempotency keys, renames), routed the way a load balancer does:
only to instances whose readiness passes, and away from one that stops answering."""

import asyncio
import itertools
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from pixelpet.devdb import DevDatabase
from tests.conftest import unique_database
from tests.support.graphql import token_for
from tests.support.service import ServiceProcess, service_environment

pytestmark = pytest.mark.slow

CREATE = "mutation($input: CreatePetInput!) { createPet(input: $input) { id name } }"
RENAME = "mutation($id: ID!, $name: String!) { renamePet(id: $id, name: $name) { id name } }"
GET = "query($id: ID!) { pet(id: $id) { id name } }"
LIST = "{ pets(first: 100) { edges { node { id name } } } }"
RETRYABLE_CODES = {"UNAVAILABLE"}
ATTEMPTS = 8


class Routing:
    """What a load balancer knows: the instances in rotation (readiness passing)."""

    def __init__(self) -> None:
        self.instances: list[str] = []
        self._next = itertools.count()

    def pick(self) -> str:
        instances = self.instances
        return instances[next(self._next) % len(instances)]


class RetryingClient:
    """A player's client: backs off and retries what the README says is safe to retry."""

    def __init__(self, http: httpx.AsyncClient, routing: Routing, owner: str) -> None:
        self._http = http
        self._routing = routing
        self._headers = {"Authorization": f"Bearer {token_for(owner)}"}
        self.retries = 0

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        delay = 0.05
        for attempt in range(ATTEMPTS):
            url = self._routing.pick()
            try:
                response = await self._http.post(
                    f"{url}/graphql",
                    json={"query": query, "variables": variables or {}},
                    headers=self._headers,
                )
            except httpx.TransportError:
                retryable = True  # refused or reset: the instance went away
            else:
                body: dict[str, Any] = response.json() if response.status_code < 500 else {}
                codes = {error["extensions"]["code"] for error in body.get("errors") or []}
                retryable = response.status_code >= 500 or bool(codes & RETRYABLE_CODES)
                if not retryable:
                    return body
            self.retries += 1
            if attempt < ATTEMPTS - 1:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        raise AssertionError(f"still failing after {ATTEMPTS} attempts: {query[:40]}")


async def test_a_rolling_restart_of_two_instances_loses_nothing(
    database: DevDatabase, tmp_path: Path
) -> None:
    env = service_environment(
        database.uri,
        unique_database(),
        PIXELPET_LIFECYCLE__DRAIN_DELAY_S="1.0",
        PIXELPET_LIFECYCLE__SHUTDOWN_GRACE_S="5",
    )
    logs = itertools.count()

    def instance() -> ServiceProcess:
        process = ServiceProcess(env=env, log_file=tmp_path / f"service-{next(logs)}.log")
        process.start()
        return process

    routing = Routing()
    running = [instance(), instance()]
    routing.instances = [process.url for process in running]
    stop = asyncio.Event()
    created: dict[str, dict[str, str]] = {}  # per player: idempotency key -> pet id
    renamed: dict[str, str] = {}  # pet id -> the last name acknowledged
    answered = 0

    async def player(http: httpx.AsyncClient, owner: str) -> None:
        nonlocal answered
        client = RetryingClient(http, routing, owner)
        keys = created.setdefault(owner, {})
        for step in itertools.count():
            if stop.is_set():
                return
            if len(keys) < 40:  # under the per-player cap: adopt one more
                key = f"{owner}-{uuid.uuid4()}"
                body = await client.execute(
                    CREATE, {"input": {"name": "Pet", "species": "CAT", "idempotencyKey": key}}
                )
                pet_id = body["data"]["createPet"]["id"]
                keys[key] = pet_id
            else:  # then keep playing with the ones there are, until the restarts are over
                pet_id = list(keys.values())[step % len(keys)]
            name = f"N{step}"
            renamed_to = (await client.execute(RENAME, {"id": pet_id, "name": name}))["data"]["renamePet"]
            assert renamed_to["name"] == name
            renamed[pet_id] = name
            assert (await client.execute(GET, {"id": pet_id}))["data"]["pet"]["name"] == name
            answered += 1

    async with httpx.AsyncClient(timeout=15) as http:
        players = [asyncio.create_task(player(http, f"player{index}")) for index in range(4)]
        try:
            for position in range(len(running)):
                await asyncio.sleep(1.0)  # traffic on both before each step
                leaving = running[position]
                before_signal = answered
                leaving.signal(signal.SIGTERM)
                # The load balancer takes it out of rotation once its readiness fails (the drain delay
                # exists for exactly this), and adds the replacement once it is ready.
                await asyncio.to_thread(_wait_unready, leaving.url)
                routing.instances = [url for url in routing.instances if url != leaving.url]
                replacement = await asyncio.to_thread(instance)
                running[position] = replacement
                routing.instances = [*routing.instances, replacement.url]
                assert await asyncio.to_thread(leaving.wait, 20) in (0, -signal.SIGTERM)
                # Players were served while the instance drained and its replacement started.
                assert answered > before_signal
            await asyncio.sleep(1.0)
        finally:
            stop.set()
            await asyncio.gather(*players)  # an AssertionError in a player (a lost request) fails the test
            for process in running:
                process.stop()

    assert answered > 0
    # Idempotency keys: one pet per acknowledged create, none created twice by a retry.
    restarted = instance()
    try:
        async with httpx.AsyncClient(timeout=15) as http:
            routing_after = Routing()
            routing_after.instances = [restarted.url]
            for owner, keys in created.items():
                reader = RetryingClient(http, routing_after, owner)
                stored = (await reader.execute(LIST))["data"]["pets"]["edges"]
                assert sorted(edge["node"]["id"] for edge in stored) == sorted(keys.values())
                for edge in stored:
                    assert edge["node"]["name"] == renamed[edge["node"]["id"]]
    finally:
        restarted.stop()


def _wait_unready(url: str) -> None:
    for _ in range(200):
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code != 200:
                return
        except httpx.TransportError:
            return
        time.sleep(0.02)
    raise AssertionError(f"{url} never left rotation")
