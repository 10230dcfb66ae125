"""`pixelpet db indexes | recount | backup | restore` against SecantusDB, with the service running."""

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, MongoClient

from pixelpet.devdb import DevDatabase
from tests.conftest import unique_database
from tests.ops.conftest import Ops
from tests.support.ws import SubscriptionClient


def states(report: dict[str, Any]) -> dict[str, str]:
    return {f"{row['collection']}.{row['name']}": row["state"] for row in report["indexes"]}


def test_indexes_are_listed_and_apply_creates_and_rebuilds_them(ops: Ops, database: DevDatabase) -> None:
    code, report = ops.run_json("db", "indexes")
    assert code == 0
    assert states(report) == {
        "pets.owner_created_at": "ok",
        "pets.owner_idempotency_key": "ok",
        "outcomes.made_at_expiry": "ok",
    }
    scratch = {"PIXELPET_MONGO__DATABASE": unique_database()}  # damaged here, not under the service
    code, report = ops.run_json("db", "indexes", **scratch)
    assert code == 1
    assert set(states(report).values()) == {"missing"}
    code, report = ops.run_json("db", "indexes", "--apply", **scratch)
    assert code == 0
    assert set(states(report).values()) == {"ok"}
    with MongoClient(database.uri) as client:
        pets = client[scratch["PIXELPET_MONGO__DATABASE"]]["pets"]
        pets.drop_index("owner_created_at")
        pets.drop_index("owner_idempotency_key")
        pets.create_index([("owner", ASCENDING)], name="owner_idempotency_key")  # same name, other keys
        pets.create_index([("name", ASCENDING)], name="by_name")  # someone's ad hoc index
    code, report = ops.run_json("db", "indexes", **scratch)
    assert code == 1
    assert states(report) == {
        "pets.owner_created_at": "missing",
        "pets.owner_idempotency_key": "different",
        "pets.by_name": "extra",
        "outcomes.made_at_expiry": "ok",
    }
    assert "pixelpet db indexes --apply" in ops.run("db", "indexes", **scratch).stdout
    code, report = ops.run_json("db", "indexes", "--apply", **scratch)
    assert code == 0
    assert {row["name"] for row in report["changed"]} == {"owner_created_at", "owner_idempotency_key"}
    assert states(report)["pets.owner_idempotency_key"] == "ok"
    assert states(report)["pets.by_name"] == "extra", "an index the code does not know is left alone"
    with MongoClient(database.uri) as client:
        rebuilt = client[scratch["PIXELPET_MONGO__DATABASE"]]["pets"].index_information()[
            "owner_idempotency_key"
        ]
    assert rebuilt["unique"] is True


def test_recount_shows_drift_then_repairs_it(ops: Ops, database: DevDatabase, owner: str) -> None:
    ops.create_pet(owner)
    doomed = ops.create_pet(owner)
    ops.create_pet(f"{owner}-friend")
    code, report = ops.run_json("db", "recount")
    assert (code, report["drift"]) == (0, [])
    gone = f"{owner}-gone"
    with MongoClient(database.uri) as client:  # changed behind the service's back
        client[ops.database]["pets"].delete_one({"_id": ObjectId(doomed)})
        client[ops.database]["owners"].insert_one({"_id": gone, "pet_count": 3})
    code, report = ops.run_json("db", "recount")
    assert code == 1, "a dry run that finds drift"
    assert report["drift"] == [
        {"owner": owner, "stored": 2, "actual": 1},
        {"owner": gone, "stored": 3, "actual": 0},
    ]
    dry = ops.run("db", "recount").stdout
    assert owner in dry
    assert "--apply" in dry
    code, report = ops.run_json("db", "recount", "--apply")
    assert (code, report["repaired"]) == (0, 2)
    code, report = ops.run_json("db", "recount")
    assert (code, report["drift"]) == (0, [])
    with MongoClient(database.uri) as client:
        assert client[ops.database]["owners"].find_one({"_id": owner})["pet_count"] == 1  # type: ignore[index]


def _everything(database: DevDatabase, name: str) -> dict[str, list[dict[str, Any]]]:
    with MongoClient(database.uri, tz_aware=True) as client:
        return {
            collection: list(client[name][collection].find().sort("_id", 1))
            for collection in ("owners", "pets")
        }


RENAME = "mutation($id: ID!, $name: String!) { renamePet(id: $id, name: $name) { version } }"
GET = "query($id: ID!) { pet(id: $id) { version name } }"


def test_a_backup_restores_exactly_and_twice_the_same(
    ops: Ops, database: DevDatabase, tmp_path: Path, owner: str
) -> None:
    for player, n in ((owner, 3), (f"{owner}-friend", 2)):
        for i in range(n):
            ops.create_pet(player, name=f"Pet{i}")
    original = _everything(database, ops.database)  # the module's other tests' data too: all is backed up
    backup = tmp_path / "backup"
    code, manifest = ops.run_json("db", "backup", str(backup))
    assert code == 0
    counts = {name: entry["count"] for name, entry in manifest["collections"].items()}
    assert counts == {name: len(documents) for name, documents in original.items()}
    assert counts["pets"] >= 5
    assert json.loads((backup / "manifest.json").read_text()) == manifest

    elsewhere = unique_database()
    code, _ = ops.run_json("db", "restore", str(backup), "--dry-run", PIXELPET_MONGO__DATABASE=elsewhere)
    assert code == 0
    assert _everything(database, elsewhere) == {"owners": [], "pets": []}, "a dry run writes nothing"
    for _ in range(2):  # idempotent
        code, _ = ops.run_json("db", "restore", str(backup), PIXELPET_MONGO__DATABASE=elsewhere)
        assert code == 0
        assert _everything(database, elsewhere) == original, "every field and type as it was"

    refused = ops.run("db", "backup", str(backup))
    assert refused.returncode == 2
    assert "not empty" in refused.stderr


def test_a_restore_is_news_to_live_subscribers(ops: Ops, tmp_path: Path, owner: str) -> None:
    """Restoring a pet changed since the backup moves its version past the current one, so a subscriber (and
    any client ordering states by version) shows the restored state instead of ignoring an old one."""
    pet_id = ops.create_pet(owner, name="Before")
    backup = tmp_path / "backup"
    assert ops.run_json("db", "backup", str(backup))[0] == 0
    renamed = ops.graphql(owner, RENAME, {"id": pet_id, "name": "After"})["renamePet"]
    assert renamed["version"] == 2

    async def restore_while_watching() -> dict[str, Any]:
        watcher = await (await SubscriptionClient.connect(ops.service.url, owner=owner)).acknowledged()
        await watcher.subscribe(pet_id)
        assert (await watcher.next_pet())["name"] == "After"
        restored = await asyncio.to_thread(ops.run_json, "db", "restore", str(backup))
        assert restored[0] == 0
        pet = await watcher.next_pet(seconds=15)
        await watcher.close()
        return pet

    shown = asyncio.run(restore_while_watching())
    assert (shown["name"], shown["version"]) == ("Before", 3)
    again = ops.run_json("db", "restore", str(backup))
    assert again[0] == 0
    assert ops.graphql(owner, GET, {"id": pet_id})["pet"]["version"] == 3, "restoring twice changes nothing"


def test_a_damaged_backup_is_refused_before_anything_is_written(
    ops: Ops, database: DevDatabase, tmp_path: Path, owner: str
) -> None:
    ops.create_pet(owner)
    backup = tmp_path / "backup"
    assert ops.run("db", "backup", str(backup)).returncode == 0
    with gzip.open(backup / "pets.jsonl.gz", "at") as file:
        file.write('{"_id": {"$oid": "000000000000000000000000"}, "owner": "mallory"}\n')
    elsewhere = unique_database()
    refused = ops.run("db", "restore", str(backup), PIXELPET_MONGO__DATABASE=elsewhere)
    assert refused.returncode == 1
    assert "does not match its checksum" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _everything(database, elsewhere) == {"owners": [], "pets": []}
    (backup / "manifest.json").unlink()
    incomplete = ops.run("db", "restore", str(backup))
    assert incomplete.returncode == 2
    assert "not a complete backup" in incomplete.stderr


def test_database_commands_fail_in_one_line_when_the_database_is_away(ops: Ops) -> None:
    away = ops.run("db", "recount", PIXELPET_MONGODB_URI="mongodb://127.0.0.1:9/?replicaSet=rs0")
    assert away.returncode == 3
    assert away.stderr.startswith("pixelpet: the database is unreachable: ")
    assert len(away.stderr.strip().splitlines()) == 1
