"""The database killed (SIGKILL) under load and restarted: readiness drops, every error is typed and none
outlives the budget, the service recovers by itself, subscriptions resume, and no acknowledged write is lost.

The ledger: per pet, the highest version the service acknowledged and the name it acknowledged with it,
reconciled against what is stored once the database is back.
"""

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from pixelpet.app import create_app
from pixelpet.devdb import DevDatabase, free_port
from pixelpet.settings import SubscriptionSettings
from tests.conftest import make_settings
from tests.support.graphql import GraphQLClient, create_pet
from tests.support.metrics import scrape
from tests.support.server import running_server
from tests.support.ws import watching

pytestmark = pytest.mark.slow

RENAME = "mutation($id: ID!, $name: String!) { renamePet(id: $id, name: $name) { version name } }"
GET = "query($id: ID!) { pet(id: $id) { version name } }"
PETS = 8
ACKNOWLEDGED_BEFORE_THE_KILL = 300
# Three times the operation budget: a request still unanswered then would be hanging.
CLIENT_TIMEOUT_S = 15


async def test_the_database_killed_under_load_and_restarted(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    server = DevDatabase(storage=tmp_path / "db", port=free_port(), log_file=tmp_path / "db.log")
    await server.start_async()
    settings = make_settings(server.uri, subscriptions=SubscriptionSettings(change_stream_stale_after_s=3))
    try:
        async with (
            running_server(create_app(settings)) as url,
            httpx.AsyncClient(base_url=url, timeout=CLIENT_TIMEOUT_S) as http,
        ):
            client = GraphQLClient(http)
            pets = [(await create_pet(client, name=f"Pet{index}"))["id"] for index in range(PETS)]
            watcher = await watching(url, pets[0])
            ledger: dict[str, tuple[int, str]] = {}
            failures: list[str] = []
            acknowledged = 0
            enough = asyncio.Event()
            failed = asyncio.Event()
            stop = asyncio.Event()

            async def renamer(pet_id: str) -> None:
                nonlocal acknowledged
                attempt = 0
                while not stop.is_set():
                    attempt += 1
                    name = f"Name{attempt}"
                    response = await client.execute(RENAME, {"id": pet_id, "name": name})  # no client timeout
                    if response.body.get("errors"):
                        failures.append(response.code)
                        failed.set()
                        await asyncio.sleep(0.05)
                        continue
                    pet = response.body["data"]["renamePet"]
                    ledger[pet_id] = max(ledger.get(pet_id, (0, "")), (pet["version"], pet["name"]))
                    acknowledged += 1
                    if acknowledged >= ACKNOWLEDGED_BEFORE_THE_KILL:
                        enough.set()

            renamers = [asyncio.create_task(renamer(pet_id)) for pet_id in pets]
            await asyncio.wait_for(enough.wait(), 120)
            server.kill()  # mid-traffic: writes are in flight
            killed_at = time.monotonic()
            unready_after = await _readiness_becomes(http, 503, within_s=60) - killed_at
            assert (await http.get("/livez")).status_code == 200, "liveness must not restart the service"
            await asyncio.wait_for(failed.wait(), 30)  # the renamers met the outage
            # What PixelpetDatabaseUnreachable reads: the client's current view, not the one at startup.
            assert await scrape(http, "pixelpet_mongodb_primary_reachable") == 0

            await server.start_async()
            returned_at = time.monotonic()
            ready_after = await _readiness_becomes(http, 200, within_s=60) - returned_at
            assert await scrape(http, "pixelpet_mongodb_primary_reachable") == 1
            stop.set()
            await asyncio.gather(*renamers)

            # Every failure was typed: no internal error, no hang (the client would have raised).
            assert set(failures) <= {"UNAVAILABLE"}, set(failures)
            for pet_id, (version, name) in ledger.items():
                stored = (await client.execute(GET, {"id": pet_id})).data["pet"]
                # A write in flight at the kill may have landed without its answer: later, never earlier.
                assert stored["version"] >= version, (pet_id, stored, version)
                if stored["version"] == version:
                    assert stored["name"] == name, (pet_id, stored, name)
            # The subscription lived through it: a change made now reaches it.
            await client.execute(RENAME, {"id": pets[0], "name": "AfterTheOutage"})
            while (await watcher.next_pet(seconds=30))["name"] != "AfterTheOutage":
                pass
            await watcher.close()
    finally:
        server.stop()
    # What the drill measured (targets: unready within 5 s, ready within 10 s of the return); the junit
    # report keeps them, docs/operations/failure-modes.md quotes a run.
    record_property("unready_after_kill_s", round(unready_after, 2))
    record_property("ready_after_return_s", round(ready_after, 2))
    record_property("acknowledged_renames", acknowledged)


async def _readiness_becomes(http: httpx.AsyncClient, status: int, *, within_s: float) -> float:
    """Poll /readyz until it answers ``status``; the moment it did."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if (await http.get("/readyz")).status_code == status:
            return time.monotonic()
        await asyncio.sleep(0.05)
    raise AssertionError(f"/readyz never answered {status} within {within_s} s")
