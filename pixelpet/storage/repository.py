"""The pet repository on MongoDB: PyMongo on collections of the injected database, one style throughout.

Every write is a single atomic operation or one transaction: a keyed change (an idempotency key) writes
the pet and records its outcome in one transaction (docs/decisions/0020-retry-safe-actions.md).
Implements pixelpet/pets/ports.py.
"""

from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from pixelpet.pets.pet import Pet
from pixelpet.pets.ports import (
    IDEMPOTENCY_WINDOW,
    DuplicateIdempotencyKey,
    KeyedRequest,
    Outcome,
    OwnerAtCapacity,
    PagePosition,
)
from pixelpet.storage.documents import (
    IDEMPOTENCY_INDEX,
    OUTCOMES,
    OWNERS,
    PETS,
    as_stored,
    naive_datetimes,
    object_id,
    outcome_fields,
    outcome_id,
    stored_fields,
    stored_pet,
    to_outcome,
    to_pet,
)
from pixelpet.storage.errors import outages_as_unavailable


class MongoPetRepository:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._client = database.client
        self._pets = database.get_collection(PETS, codec_options=naive_datetimes(database.codec_options))
        self._owners = database[OWNERS]
        self._outcomes = database[OUTCOMES]

    def new_id(self) -> str:
        return str(ObjectId())

    async def get(self, *, owner: str, pet_id: str) -> Pet | None:
        with outages_as_unavailable():
            raw = await self._pets.find_one({"_id": object_id(pet_id), "owner": owner})
            return _stored_or_none(raw)

    async def get_by_idempotency_key(self, *, owner: str, key: str) -> Pet | None:
        with outages_as_unavailable():
            # Spelling out the partial index's own filter ($type) makes the index eligible, and the hint
            # makes planners that do not prove that by themselves (SecantusDB) use it instead of a scan.
            raw = await self._pets.find_one(
                {"owner": owner, "idempotency_key": {"$eq": key, "$type": "string"}}, hint=IDEMPOTENCY_INDEX
            )
            return _stored_or_none(raw)

    async def outcome(self, *, owner: str, key: str) -> Outcome | None:
        with outages_as_unavailable():
            raw = await self._outcomes.find_one({"_id": outcome_id(owner, key)})
            return None if raw is None else to_outcome(raw)

    async def list_page(self, *, owner: str, after: PagePosition | None, limit: int) -> list[Pet]:
        with outages_as_unavailable():
            query: dict[str, Any] = {"owner": owner}
            if after is not None:
                after_id = object_id(after.pet_id)
                query["$or"] = [
                    {"created_at": {"$gt": after.created_at}},
                    {"created_at": after.created_at, "_id": {"$gt": after_id}},
                ]
            cursor = self._pets.find(query).sort([("created_at", ASCENDING), ("_id", ASCENDING)]).limit(limit)
            return [_stored(raw) async for raw in cursor]

    async def add(self, pet: Pet, *, max_pets_per_owner: int, request: KeyedRequest | None = None) -> Pet:
        with outages_as_unavailable():
            document = {"_id": object_id(pet.id), **stored_fields(pet)}

            async def reserve_and_insert(session: AsyncClientSession) -> None:
                await self._reserve_place(pet.owner, max_pets_per_owner, session)
                await self._pets.insert_one(document, session=session)
                if request is not None:
                    await self._record(request, pet, session)

            try:
                async with self._client.start_session() as session:
                    await session.with_transaction(reserve_and_insert)
            except DuplicateKeyError as error:
                if "idempotency_key" in (error.details or {}).get("keyPattern", {}):
                    raise DuplicateIdempotencyKey from error
                raise
            return stored_pet(pet)

    async def _reserve_place(self, owner: str, max_pets: int, session: AsyncClientSession) -> None:
        try:
            # Matches only while under the cap. At the cap the upsert tries to insert a second
            # document with the same _id, and the unique _id index refuses it: no race can pass.
            await self._owners.update_one(
                {"_id": owner, "pet_count": {"$lt": max_pets}},
                {"$inc": {"pet_count": 1}},
                upsert=True,
                session=session,
            )
        except DuplicateKeyError as error:
            raise OwnerAtCapacity from error

    async def save(
        self, pet: Pet, *, expected_version: int, request: KeyedRequest | None = None
    ) -> Pet | None:
        with outages_as_unavailable():
            current = {"_id": object_id(pet.id), "owner": pet.owner, "version": expected_version}
            change = {"$set": stored_fields(pet)}
            if request is None:  # the common case stays one atomic write
                raw = await self._pets.find_one_and_update(
                    current, change, return_document=ReturnDocument.AFTER
                )
                return _stored_or_none(raw)
            stored: Pet | None = None

            async def change_and_record(session: AsyncClientSession) -> None:
                nonlocal stored
                raw = await self._pets.find_one_and_update(
                    current, change, return_document=ReturnDocument.AFTER, session=session
                )
                stored = _stored_or_none(raw)
                if stored is not None:  # a change that did not happen records nothing
                    await self._record(request, stored, session)

            async with self._client.start_session() as session:
                await session.with_transaction(change_and_record)
            return stored

    async def remove(
        self,
        *,
        owner: str,
        pet_id: str,
        expected_version: int | None = None,
        request: KeyedRequest | None = None,
    ) -> bool:
        with outages_as_unavailable():
            query: dict[str, Any] = {"_id": object_id(pet_id), "owner": owner}
            if expected_version is not None:
                query["version"] = expected_version
            deleted = False

            async def delete_and_release(session: AsyncClientSession) -> None:
                nonlocal deleted
                result = await self._pets.delete_one(query, session=session)
                deleted = result.deleted_count == 1
                if deleted:
                    await self._owners.update_one(
                        {"_id": owner}, {"$inc": {"pet_count": -1}}, session=session
                    )
                    if request is not None:
                        await self._record(request, None, session)

            async with self._client.start_session() as session:
                await session.with_transaction(delete_and_release)
            return deleted

    async def _record(self, request: KeyedRequest, pet: Pet | None, session: AsyncClientSession) -> None:
        """Record ``request``'s outcome in the caller's transaction; raises ``DuplicateIdempotencyKey`` (and
        so aborts the transaction) while the key holds an unexpired outcome."""
        expired_before = as_stored(request.made_at - IDEMPOTENCY_WINDOW)
        try:
            # Matches only an expired outcome, which it replaces. An unexpired one makes the upsert insert
            # a second document with the same _id, which the unique _id index refuses: no race can pass.
            await self._outcomes.update_one(
                {"_id": outcome_id(request.owner, request.key), "made_at": {"$lte": expired_before}},
                {"$set": outcome_fields(request, pet)},
                upsert=True,
                session=session,
            )
        except DuplicateKeyError as error:
            raise DuplicateIdempotencyKey from error


def _stored(raw: dict[str, Any]) -> Pet:
    """A document of the pets collection as a Pet: its datetimes are decoded naive (``naive_datetimes``)."""
    return to_pet(raw, naive_utc=True)


def _stored_or_none(raw: dict[str, Any] | None) -> Pet | None:
    return None if raw is None else _stored(raw)
