"""Every query the API makes has an index that serves it.

Each query shape is explained with its index as a hint: the plan must scan that index, which
proves the index exists and fits the query (a partial index, for one, only fits queries that
imply its filter). Which index a planner picks unhinted is the planner's business: MongoDB's picks
these; SecantusDB's sometimes scans the collection instead.
"""

from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient

from pixelpet.settings import Settings
from pixelpet.storage import client as db
from tests.conftest import T0


def index_names(plan: dict[str, Any]) -> set[str]:
    """Every index a winning plan scans, however deeply nested."""
    names = {plan["indexName"]} if "indexName" in plan else set()
    for key in ("inputStage", "winningPlan", "queryPlanner"):
        if isinstance(plan.get(key), dict):
            names |= index_names(plan[key])
    for stage in plan.get("inputStages", []):
        names |= index_names(stage)
    return names


async def test_every_api_query_has_an_index_that_serves_it(settings: Settings) -> None:
    assert settings.mongodb_uri is not None
    client: AsyncMongoClient[dict[str, Any]] = db.create_client(
        settings.mongodb_uri.get_secret_value(), settings.mongo
    )
    await db.init_storage(client, settings.mongo.database)
    pets = client[settings.mongo.database]["pets"]
    queries = {
        "owner_created_at": pets.find(
            {
                "owner": "alice",
                "$or": [{"created_at": {"$gt": T0}}, {"created_at": T0, "_id": {"$gt": ObjectId()}}],
            }
        )
        .sort([("created_at", 1), ("_id", 1)])
        .limit(21)
        .hint("owner_created_at"),
        "owner_idempotency_key": pets.find(
            {"owner": "alice", "idempotency_key": {"$eq": "k", "$type": "string"}},
            hint="owner_idempotency_key",
        ),
        "_id_": pets.find({"_id": ObjectId(), "owner": "alice", "version": 3}).hint("_id_"),
    }
    for index, cursor in queries.items():
        assert index in index_names(await cursor.explain()), index
    await client.close()
