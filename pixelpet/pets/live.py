"""Watching a pet: its current state, then every committed change, then time's effects as they show."""

import asyncio
import time
from collections.abc import Callable
from typing import Any

from bson import ObjectId

from pixelpet.errors import NotFound
from pixelpet.live_source import LiveSource
from pixelpet.pets.broker import ChangeStreamBroker
from pixelpet.pets.documents import PetDocument
from pixelpet.pets.events import LiveEvents
from pixelpet.pets.feed import PetDeleted, Resync, Snapshot, Subscriber, Update
from pixelpet.pets.repository import PetRepository
from pixelpet.pets.service import parse_pet_id

DELETED_MESSAGE = "The pet was deleted."


class PetWatcher:
    def __init__(self, *, repository: PetRepository, broker: ChangeStreamBroker, events: LiveEvents) -> None:
        self.repository = repository
        self.broker = broker
        self.events = events
        # After a resync, one read per pet serves all of its subscribers (all are its owner's).
        self._rereads: dict[ObjectId, asyncio.Task[PetDocument]] = {}

    def watch(
        self, *, owner: str, pet_id: str, connection: object, present: Callable[[Snapshot], Any]
    ) -> "PetStream":
        """One subscription to a pet, its snapshots shown to GraphQL through ``present``."""
        return PetStream(self, owner=owner, pet_id=pet_id, connection=connection, present=present)

    def reread(self, owner: str, pet_id: ObjectId) -> "asyncio.Task[PetDocument]":
        """The pet's read after a resync, shared by every subscriber asking while it runs."""
        task = self._rereads.get(pet_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(self.read(owner, pet_id))
            self._rereads[pet_id] = task
            task.add_done_callback(lambda done: self._reread_done(pet_id, done))
        return task

    def _reread_done(self, pet_id: ObjectId, task: "asyncio.Task[PetDocument]") -> None:
        self._rereads.pop(pet_id, None)
        if not task.cancelled():
            task.exception()  # retrieved: each waiting subscriber gets it; none left may mean nobody asks

    async def read(self, owner: str, pet_id: ObjectId) -> PetDocument:
        pet = await self.repository.get(owner=owner, pet_id=pet_id)
        if pet is None:
            raise NotFound("No such pet.")
        return pet


class PetStream(LiveSource):
    """Pushes each snapshot newer than the last one shown, shared with the pet's other subscribers.

    Ends with NotFound when the pet is deleted. Between updates it is this object and its place in
    the pet's feed: no task waits for it.
    """

    __slots__ = (
        "_connection",
        "_deliver",
        "_early",
        "_end",
        "_owner",
        "_pet_id",
        "_present",
        "_rereading",
        "_shown",
        "_subscriber",
        "_watcher",
    )

    def __init__(
        self,
        watcher: PetWatcher,
        *,
        owner: str,
        pet_id: str,
        connection: object,
        present: Callable[[Snapshot], Any],
    ) -> None:
        self._watcher = watcher
        self._owner = owner
        self._pet_id = pet_id
        self._connection = connection
        self._present = present
        self._subscriber: Subscriber | None = None
        self._shown: Snapshot | None = None
        self._early: Update | None = None  # what arrived before start(): the newest is enough
        self._deliver: Callable[[Any], None] | None = None
        self._end: Callable[[Exception | None], None] | None = None
        self._rereading: asyncio.Task[None] | None = None

    async def first(self) -> Any:
        oid = parse_pet_id(self._pet_id)
        # Subscribe before the first read, so a change committed in between is not missed.
        self._subscriber = self._watcher.broker.subscribe(
            oid, self._connection, self._offer, owner=self._owner
        )
        try:
            # The read proves ownership; the feed may already know a newer state than it returns.
            self._shown = self._subscriber.feed.learn(await self._watcher.read(self._owner, oid))
        except BaseException:
            self.close()
            raise
        self._watcher.events.update_shown("initial", None)
        return self._present(self._shown)

    def start(self, deliver: Callable[[Any], None], end: Callable[[Exception | None], None]) -> None:
        self._deliver, self._end = deliver, end
        early, self._early = self._early, None
        if early is not None:
            self._offer(early)

    def close(self) -> None:
        if self._subscriber is not None:
            self._watcher.broker.unsubscribe(self._subscriber)
            self._subscriber = None
        if self._rereading is not None:
            self._rereading.cancel()
            self._rereading = None
        self._deliver = self._end = None

    def _offer(self, update: Update) -> None:
        if self._deliver is None or self._shown is None:
            self._early = update  # not started yet: handled by start()
        elif isinstance(update, PetDeleted):
            self._finish(NotFound(DELETED_MESSAGE))
        elif isinstance(update, Resync):
            if self._rereading is None:
                self._rereading = asyncio.get_running_loop().create_task(self._reread())
        elif update.newer_than(self._shown):
            self._shown = update
            lag = None if update.committed_at is None else max(0.0, time.time() - update.committed_at)
            self._watcher.events.update_shown(update.cause, lag)
            self._deliver(self._present(update))
        # else: already shown (our own read, or an older state looked up late)

    async def _reread(self) -> None:
        """After the change stream lost its history: something may have been missed, so read again."""
        subscriber = self._subscriber
        assert subscriber is not None
        try:
            # Shielded: one subscriber leaving must not cancel the read the others wait for.
            pet = await asyncio.shield(self._watcher.reread(self._owner, subscriber.feed.pet_id))
        except Exception as error:  # a read that fails ends the subscription with its error
            self._rereading = None
            self._finish(error)
            return
        self._rereading = None
        self._offer(subscriber.feed.learn(pet, cause="resync"))

    def _finish(self, error: Exception | None) -> None:
        end = self._end
        self.close()
        if end is not None:
            end(error)
