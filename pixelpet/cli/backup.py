"""``pixelpet db backup`` / ``db restore``: pets and owners, consistent, checksummed, restorable twice.

A backup reads both collections in one snapshot session (one moment of the database: an owner's count
and their pets agree), writes each to ``<collection>.jsonl.gz`` as canonical Extended JSON (every BSON
type survives: ObjectIds, dates, integers), and ``manifest.json`` last, with the counts and SHA-256 of
each file: a backup without a manifest is incomplete. A restore checks the manifest before it writes
anything, then replaces each document by its id (an upsert), so running it twice gives the same data.

A restored pet whose stored state differs from the backup's gets a version above the stored one: live
subscribers (and clients ordering states by version) take it as news instead of an old state to ignore
(decision 21). A pet already as in the backup is left alone, so a second run changes nothing.
"""

import gzip
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bson import json_util
from pymongo import ReplaceOne
from pymongo.errors import PyMongoError
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from pixelpet.cli.context import database, load_settings
from pixelpet.cli.errors import OK, USAGE, CommandError
from pixelpet.cli.output import Output
from pixelpet.storage.documents import OwnerDocument, PetDocument

FORMAT = "pixelpet-backup/1"
PETS = PetDocument.Settings.name
COLLECTIONS = (OwnerDocument.Settings.name, PETS)
MANIFEST = "manifest.json"
_BATCH = 500
_RESTORE_ATTEMPTS = 5
_READ_OPTIONS = json_util.CANONICAL_JSON_OPTIONS.with_options(tz_aware=True, tzinfo=UTC)


def _new_directory(directory: Path) -> None:
    if directory.exists() and any(directory.iterdir()):
        raise CommandError(f"{directory} is not empty: give a new directory", exit_code=USAGE)
    directory.mkdir(parents=True, exist_ok=True)


async def backup(out: Output, directory: Path) -> int:
    _new_directory(directory)
    settings = load_settings()
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "database": settings.mongo.database,
        "created_at": datetime.now(UTC).isoformat(),
        "collections": {},
    }
    async with database(settings) as client:
        db = client[settings.mongo.database]
        try:
            async with client.start_session(snapshot=True) as session:  # one moment for both collections
                with _progress(out) as progress:
                    for name in COLLECTIONS:
                        total = await db[name].count_documents({}, session=session)
                        task = progress.add_task(f"backing up {name}", total=total)
                        path = directory / f"{name}.jsonl.gz"
                        count = 0
                        with gzip.open(path, "wt", encoding="utf-8") as file:
                            async for document in db[name].find({}, session=session).sort("_id", 1):
                                file.write(
                                    json_util.dumps(document, json_options=json_util.CANONICAL_JSON_OPTIONS)
                                )
                                file.write("\n")
                                count += 1
                                progress.advance(task)
                        manifest["collections"][name] = {
                            "file": path.name,
                            "count": count,
                            "sha256": _sha256(path),
                        }
        except PyMongoError as error:
            raise CommandError(
                f"the backup failed: {error}; {directory} is incomplete (no manifest)"
            ) from error
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    _report(out, f"backed up {settings.mongo.database} to {directory}", manifest)
    return OK


async def restore(out: Output, directory: Path, *, dry_run: bool) -> int:
    manifest = verified_manifest(directory)
    settings = load_settings()
    if dry_run:
        _report(out, f"verified {directory}: would restore into {settings.mongo.database}", manifest)
        return OK
    async with database(settings) as client:
        db = client[settings.mongo.database]
        with _progress(out) as progress:
            for name in COLLECTIONS:
                entry = manifest["collections"][name]
                task = progress.add_task(f"restoring {name}", total=entry["count"])
                pending: list[dict[str, Any]] = []
                for document in _documents(directory / entry["file"]):
                    pending.append(document)
                    if len(pending) == _BATCH:
                        await _replace(db[name], pending, versioned=name == PETS)
                        progress.advance(task, len(pending))
                        pending = []
                if pending:
                    await _replace(db[name], pending, versioned=name == PETS)
                    progress.advance(task, len(pending))
    _report(out, f"restored {directory} into {settings.mongo.database}", manifest)
    return OK


async def _replace(collection: Any, documents: list[dict[str, Any]], *, versioned: bool) -> None:
    """Upsert ``documents`` by id; with ``versioned``, one that changes a stored pet moves its version past
    the stored one, so the restored state is news to whoever watches it."""
    if not versioned:
        await collection.bulk_write(
            [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in documents], ordered=False
        )
        return
    stored = {
        current["_id"]: current
        async for current in collection.find({"_id": {"$in": [d["_id"] for d in documents]}})
    }
    absent = [d for d in documents if d["_id"] not in stored]
    if absent:
        await collection.bulk_write(
            [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in absent], ordered=False
        )
    for document in documents:
        current = stored.get(document["_id"])
        if current is not None:
            await _replace_over(collection, document, current)


async def _replace_over(collection: Any, document: dict[str, Any], current: dict[str, Any]) -> None:
    """Restore ``document`` over the stored ``current``, only if nothing wrote in between (the service may be
    running: a write it made meanwhile is restored over too, one version further)."""
    for _ in range(_RESTORE_ATTEMPTS):
        restored = forwarded(document, current)
        if restored is current:
            return
        result = await collection.replace_one(
            {"_id": document["_id"], "version": current["version"]}, restored
        )
        if result.matched_count:
            return
        current = await collection.find_one({"_id": document["_id"]})
        if current is None:  # deleted meanwhile: restore it as it was
            await collection.replace_one({"_id": document["_id"]}, document, upsert=True)
            return
    raise CommandError(f"pet {document['_id']} kept changing during the restore; run it again")


def forwarded(document: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    """``document`` as restored over ``stored``: the stored one if only the version differs (a restore run
    before), else the document one version past both."""
    if stored is None:
        return document
    if _unversioned(stored) == _unversioned(document):
        return stored
    return {**document, "version": max(stored.get("version", 0), document.get("version", 0)) + 1}


def _unversioned(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "version"}


def verified_manifest(directory: Path) -> dict[str, Any]:
    """The backup's manifest, once every file matches its checksum and count; CommandError otherwise."""
    try:
        manifest: dict[str, Any] = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise CommandError(
            f"{directory} has no readable {MANIFEST}: not a complete backup", exit_code=USAGE
        ) from error
    if manifest.get("format") != FORMAT or set(manifest.get("collections", {})) != set(COLLECTIONS):
        raise CommandError(f"{directory}/{MANIFEST} is not a {FORMAT} manifest", exit_code=USAGE)
    for entry in manifest["collections"].values():
        path = directory / entry["file"]
        if not path.is_file() or _sha256(path) != entry["sha256"]:
            raise CommandError(
                f"{path} does not match its checksum: the backup is damaged; nothing was restored"
            )
        lines = sum(1 for _ in _documents(path))
        if lines != entry["count"]:
            raise CommandError(f"{path} holds {lines} documents, the manifest says {entry['count']}")
    return manifest


def _documents(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as file:
        for line in file:
            # Aware, as the operator client reads stored documents: restore compares the two.
            document: dict[str, Any] = json_util.loads(line, json_options=_READ_OPTIONS)
            yield document


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _progress(out: Output) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=out.errors,  # stderr: stdout stays clean for --json
        disable=out.as_json,
        transient=False,
    )


def _report(out: Output, headline: str, manifest: dict[str, Any]) -> None:
    if out.as_json:
        out.json(manifest)
        return
    out.line(escape(headline))
    out.table(
        "collections",
        ("collection", "documents", "sha256"),
        (
            (name, entry["count"], entry["sha256"][:16] + "…")
            for name, entry in manifest["collections"].items()
        ),
    )
