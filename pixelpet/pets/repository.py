"""MongoDB access for pets. Every write is a single atomic operation or one transaction."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from beanie import SortDirection, UpdateResponse
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from pixelpet.errors import ActionRefused
from pixelpet.pets.documents import IDEMPOTENCY_INDEX, OwnerDocument, PetDocument


@dataclass(frozen=True, slots=True)
class PagePosition:
    """Where a page of one owner's pets starts: just after this pet in creation order."""

    created_at: datetime
    pet_id: ObjectId


class DuplicateIdempotencyKey(Exception):
    """Another request created a pet with this owner's idempotency key first."""


class PetRepository:
    """One owner's pets; every query is scoped by owner so no pet leaks across accounts."""

    def __init__(self, client: AsyncMongoClient[Any]) -> None:
        self._client = client

    async def get(self, *, owner: str, pet_id: ObjectId) -> PetDocument | None:
        # The hottest read: straight to PyMongo, skipping Beanie's query builder (4% of a request).
        raw = await PetDocument.get_pymongo_collection().find_one({"_id": pet_id, "owner": owner})
        return None if raw is None else PetDocument.model_validate(raw)

    async def get_by_idempotency_key(self, *, owner: str, key: str) -> PetDocument | None:
        # Spelling out the partial index's own filter ($type) makes the index eligible, and the hint
        # makes planners that do not prove that by themselves (SecantusDB) use it instead of a scan.
        raw = await PetDocument.get_pymongo_collection().find_one(
            {"owner": owner, "idempotency_key": {"$eq": key, "$type": "string"}},
            hint=IDEMPOTENCY_INDEX,
        )
        return None if raw is None else PetDocument.model_validate(raw)

    async def list_page(self, *, owner: str, after: PagePosition | None, limit: int) -> list[PetDocument]:
        query: dict[str, Any] = {"owner": owner}
        if after is not None:
            query["$or"] = [
                {"created_at": {"$gt": after.created_at}},
                {"created_at": after.created_at, "_id": {"$gt": after.pet_id}},
            ]
        cursor = (
            PetDocument.find(query)
            .sort([("created_at", SortDirection.ASCENDING), ("_id", SortDirection.ASCENDING)])
            .limit(limit)
        )
        return await cursor.to_list()

    async def create(self, pet: PetDocument, *, max_pets_per_owner: int) -> PetDocument:
        """Insert ``pet`` and count it against its owner's cap, atomically.

        Raises ``ActionRefused`` when the owner is at the cap and ``DuplicateIdempotencyKey`` when
        a concurrent request with the same idempotency key won.
        """

        async def reserve_and_insert(session: AsyncClientSession) -> None:
            await self._reserve_pet_slot(pet.owner, max_pets_per_owner, session)
            await pet.insert(session=session)

        try:
            async with self._client.start_session() as session:
                await session.with_transaction(reserve_and_insert)
        except DuplicateKeyError as error:
            if "idempotency_key" in str(error.details or ""):
                raise DuplicateIdempotencyKey from error
            raise
        return pet

    async def _reserve_pet_slot(self, owner: str, max_pets: int, session: AsyncClientSession) -> None:
        owners = OwnerDocument.get_pymongo_collection()
        try:
            # Matches only while under the cap. At the cap the upsert tries to insert a second
            # document with the same _id, and the unique _id index refuses it: no race can pass.
            await owners.update_one(
                {"_id": owner, "pet_count": {"$lt": max_pets}},
                {"$inc": {"pet_count": 1}},
                upsert=True,
                session=session,
            )
        except DuplicateKeyError as error:
            raise ActionRefused(
                "PET_LIMIT_REACHED", f"An owner can keep at most {max_pets} pets; delete one first."
            ) from error

    async def update_if_version(
        self, *, owner: str, pet_id: ObjectId, version: int, changes: dict[str, Any]
    ) -> PetDocument | None:
        """Apply ``changes`` and bump the version, only if the stored version is still ``version``."""
        updated = await PetDocument.find_one({"_id": pet_id, "owner": owner, "version": version}).update(
            {"$set": changes, "$inc": {"version": 1}},
            response_type=UpdateResponse.NEW_DOCUMENT,
        )
        return updated if isinstance(updated, PetDocument) else None

    async def delete(self, *, owner: str, pet_id: ObjectId) -> bool:
        """Delete the pet and free its slot in the owner's cap; False if there was no such pet."""
        deleted = False

        async def delete_and_release(session: AsyncClientSession) -> None:
            nonlocal deleted
            pets = PetDocument.get_pymongo_collection()
            result = await pets.delete_one({"_id": pet_id, "owner": owner}, session=session)
            deleted = result.deleted_count == 1
            if deleted:
                await OwnerDocument.get_pymongo_collection().update_one(
                    {"_id": owner}, {"$inc": {"pet_count": -1}}, session=session
                )

        async with self._client.start_session() as session:
            await session.with_transaction(delete_and_release)
        return deleted
