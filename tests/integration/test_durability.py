"""No acknowledged write is lost when the database dies: a ledger of acknowledged renames, kept while the
database is killed (SIGKILL) under load and restarted, is reconciled against what is stored."""

import asyncio
from pathlib import Path

import httpx
import pytest

from pixelpet.app import create_app
from pixelpet.devdb import DevDatabase, free_port
from tests.conftest import make_settings
from tests.support.graphql import GraphQLClient, create_pet
from tests.support.server import running_server

pytestmark = pytest.mark.slow

RENAME = "mutation($id: ID!, $name: String!) { renamePet(id: $id, name: $name) { version name } }"
GET = "query($id: ID!) { pet(id: $id) { version name } }"
PETS = 8
ACKNOWLEDGED_BEFORE_THE_KILL = 300


async def test_no_acknowledged_rename_is_lost_when_the_database_is_killed_and_restarted(
    tmp_path: Path,
) -> None:
    server = DevDatabase(storage=tmp_path / "db", port=free_port(), log_file=tmp_path / "db.log")
    await server.start_async()
    try:
        async with (
            running_server(create_app(make_settings(server.uri))) as url,
            httpx.AsyncClient(base_url=url, timeout=10) as http,
        ):
            client = GraphQLClient(http)
            pets = [(await create_pet(client, name=f"Pet{index}"))["id"] for index in range(PETS)]
            # Per pet, the highest version the service acknowledged, and the name it acknowledged with it.
            ledger: dict[str, tuple[int, str]] = {}
            acknowledged = 0
            enough = asyncio.Event()
            failed_after_the_kill = asyncio.Event()
            stop = asyncio.Event()
            killed = False

            async def renamer(pet_id: str) -> None:
                nonlocal acknowledged
                attempt = 0
                while not stop.is_set():
                    attempt += 1
                    name = f"Name{attempt}"
                    try:
                        response = await client.execute(RENAME, {"id": pet_id, "name": name})
                    except httpx.HTTPError:
                        continue
                    if response.body.get("errors"):
                        if killed:
                            failed_after_the_kill.set()
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
            killed = True
            await asyncio.wait_for(failed_after_the_kill.wait(), 60)
            stop.set()
            await asyncio.gather(*renamers)

            await server.start_async()
            for pet_id, (version, name) in ledger.items():
                stored = await read_when_back(client, pet_id)
                # A write in flight at the kill may have landed without its answer: later, never earlier.
                assert stored["version"] >= version, (pet_id, stored, version)
                if stored["version"] == version:
                    assert stored["name"] == name, (pet_id, stored, name)
    finally:
        server.stop()


async def read_when_back(client: GraphQLClient, pet_id: str) -> dict[str, object]:
    for _ in range(100):
        response = await client.execute(GET, {"id": pet_id})
        if not response.body.get("errors"):
            pet: dict[str, object] = response.body["data"]["pet"]
            return pet
        await asyncio.sleep(0.2)
    raise AssertionError(f"the database did not come back for {pet_id}")
