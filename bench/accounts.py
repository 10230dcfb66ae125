"""Account streams at scale: many players connected, each with one `pets` subscription over all their pets.

Players are written straight into the database (thousands of creates through the API would take minutes
and measure nothing here); each then opens one connection with one account subscription, as the /play page
does. Measured: the service's RSS growth per idle connection, and how long a rename of one pet takes to reach
its player's connection while every other player stays connected (one delivery per mutation: the work is
the change stream's routing among every watched pet, not fan-out, which bench/subscriptions.py measures).
"""

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient

from bench.processes import stats
from bench.rawhttp import Connection, address, graphql_body
from bench.subscriptions import RENAME, close, subscriber, wait_for_arrival
from pixelpet.client.traffic import percentile
from pixelpet.client.websocket import subscribe_message
from pixelpet.pets.pet import Pet
from pixelpet.pets.rules import Species
from pixelpet.storage.client import init_storage
from pixelpet.storage.documents import stored_fields

ACCOUNT = (
    "subscription { pets { __typename ... on PetsSnapshot { pets { id } } "
    "... on PetUpdated { pet { id version } } } }"
)
# Written down before the first measurement (decision 21): per idle connection with 50 pets, and p99.
TARGET_RSS_PER_CONNECTION_KIB = 256
TARGET_P99_MS = 100


@dataclass
class AccountResult:
    players: int
    pets_per_player: int
    rss_per_connection_bytes: float
    deliveries: int
    p50_ms: float
    p99_ms: float


async def seed_players(
    database_uri: str, database: str, owners: list[str], pets_per_player: int
) -> list[list[str]]:
    """Each owner with ``pets_per_player`` new pets, written as the service writes them."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(database_uri, tz_aware=True)
    try:
        # Indexes first, as a deployed database has them: built over 50,000 pets at the service's start, they
        # can outlast its 2 s database timeout and fail the start.
        await init_storage(client, database)
        pets, ids = [], []
        now = datetime.now(UTC)
        for owner in owners:
            mine = []
            for number in range(pets_per_player):
                pet_id = ObjectId()
                pet = Pet.adopt(
                    id=str(pet_id),
                    owner=owner,
                    name=f"p{number}",
                    species=Species.CAT,
                    at=now,
                    idempotency_key=None,
                )
                pets.append({"_id": pet_id, **stored_fields(pet)})
                mine.append(str(pet_id))
            ids.append(mine)
        for start in range(0, len(pets), 5000):
            await client[database]["pets"].insert_many(pets[start : start + 5000], ordered=False)
        await client[database]["owners"].insert_many(
            [{"_id": o, "pet_count": pets_per_player} for o in owners]
        )
        return ids
    finally:
        await client.close()


async def measure_accounts(
    *, url: str, pid: int, tokens: list[str], pet_ids: list[list[str]], mutations: int
) -> AccountResult:
    """Connect every player (waves of 100), take the RSS growth, then rename one pet of a player at a time."""
    await asyncio.sleep(0.5)  # let the service finish starting up
    before = stats(pid).rss_bytes
    probes = []
    for start in range(0, len(tokens), 100):
        wave = tokens[start : start + 100]
        probes += await asyncio.gather(
            *(subscriber(url, token, [subscribe_message("1", ACCOUNT, None)]) for token in wave)
        )
    await asyncio.sleep(1.0)  # idle: let the service settle
    after = stats(pid).rss_bytes
    latencies: list[float] = []
    for number in range(mutations):
        player = (number * 37) % len(tokens)  # spread over the players
        http = Connection(*address(url), {"Authorization": f"Bearer {tokens[player]}"})
        pet_id = pet_ids[player][number % len(pet_ids[player])]
        arrived = len(probes[player].arrivals)
        _, body = await http.post("/graphql", graphql_body(RENAME, {"id": pet_id, "name": f"r{number}"}))
        acknowledged = time.perf_counter()
        assert b'"errors"' not in body, body
        latencies.append(max(0.0, await wait_for_arrival(probes[player], arrived) - acknowledged))
        await http.close()
    close(probes)
    return AccountResult(
        players=len(tokens),
        pets_per_player=len(pet_ids[0]),
        rss_per_connection_bytes=(after - before) / len(tokens),
        deliveries=len(latencies),
        p50_ms=percentile(latencies, 0.5) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
    )
