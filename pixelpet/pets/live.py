"""Watching a pet: its current state, then every committed change, then time's effects as they show."""

import time
from collections.abc import AsyncGenerator, Callable

from bson import ObjectId

from pixelpet.errors import NotFound
from pixelpet.pets.broker import ChangeStreamBroker
from pixelpet.pets.documents import PetDocument
from pixelpet.pets.feed import PetDeleted, Resync, Snapshot
from pixelpet.pets.repository import PetRepository
from pixelpet.pets.service import parse_pet_id
from pixelpet.telemetry.metrics import Metrics

DELETED_MESSAGE = "The pet was deleted."


class PetWatcher:
    def __init__(self, *, repository: PetRepository, broker: ChangeStreamBroker, metrics: Metrics) -> None:
        self._repository = repository
        self._broker = broker
        self._metrics = metrics

    async def watch(
        self, *, owner: str, pet_id: str, connection: object, cutoff: Callable[[], None]
    ) -> AsyncGenerator[Snapshot, None]:
        """Yields snapshots shared with the pet's other subscribers. Ends with NotFound on deletion."""
        oid = parse_pet_id(pet_id)
        # Subscribe before the first read, so a change committed in between is not missed.
        subscriber = self._broker.subscribe(oid, connection)
        subscriber.cutoff = cutoff
        try:
            # The read proves ownership; the feed may already know a newer state than it returns.
            shown = subscriber.feed.learn(await self._read(owner, oid))
            self._metrics.subscription_events_delivered.labels("initial").inc()
            yield shown
            while True:
                update = await subscriber.next_update()
                if isinstance(update, PetDeleted):
                    raise NotFound(DELETED_MESSAGE)
                if isinstance(update, Resync):
                    update = subscriber.feed.learn(await self._read(owner, oid), cause="resync")
                if not update.newer_than(shown):
                    continue  # already shown: our own read, or an older state looked up late
                shown = update
                self._metrics.subscription_events_delivered.labels(update.cause).inc()
                if update.committed_at is not None:
                    self._metrics.subscription_delivery_lag.observe(
                        max(0.0, time.time() - update.committed_at)
                    )
                yield shown
        finally:
            self._broker.unsubscribe(subscriber)

    async def _read(self, owner: str, pet_id: ObjectId) -> PetDocument:
        pet = await self._repository.get(owner=owner, pet_id=pet_id)
        if pet is None:
            raise NotFound("No such pet.")
        return pet
