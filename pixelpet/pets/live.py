"""Watching a pet: its current state, then every committed change, then time's effects as they show."""

import time
from collections.abc import AsyncGenerator, Callable
from datetime import datetime, timedelta

from bson import ObjectId

from pixelpet.clock import Clock
from pixelpet.errors import NotFound
from pixelpet.pets import domain
from pixelpet.pets.broker import ChangeStreamBroker, PetChanged, PetDeleted, Resync
from pixelpet.pets.documents import PetDocument
from pixelpet.pets.repository import PetRepository
from pixelpet.pets.service import parse_pet_id
from pixelpet.settings import SubscriptionSettings
from pixelpet.telemetry.metrics import Metrics

DELETED_MESSAGE = "The pet was deleted."


class PetWatcher:
    def __init__(
        self,
        *,
        repository: PetRepository,
        broker: ChangeStreamBroker,
        clock: Clock,
        settings: SubscriptionSettings,
        metrics: Metrics,
    ) -> None:
        self._repository = repository
        self._broker = broker
        self._clock = clock
        self._min_interval = timedelta(seconds=settings.min_snapshot_interval_s)
        self._metrics = metrics

    async def watch(
        self, *, owner: str, pet_id: str, connection: object, cutoff: Callable[[], None]
    ) -> AsyncGenerator[tuple[PetDocument, datetime], None]:
        """Yields (pet, moment to render it at). Ends with NotFound when the pet is deleted."""
        oid = parse_pet_id(pet_id)
        # Subscribe before the first read, so a change committed in between is not missed.
        subscriber = self._broker.subscribe(oid, connection)
        subscriber.cutoff = cutoff
        try:
            pet = await self._read(owner, oid)
            shown_at = self._now(pet)
            self._metrics.subscription_events_delivered.labels("initial").inc()
            yield pet, shown_at
            while True:
                due = domain.next_visible_change(pet.state(), at=shown_at)
                if due is not None:
                    due = max(due, shown_at + self._min_interval)
                update = await subscriber.next_update(due=due, clock=self._clock)
                if update is None:
                    cause = "time"
                elif isinstance(update, PetDeleted):
                    raise NotFound(DELETED_MESSAGE)
                elif isinstance(update, Resync):
                    pet, cause = await self._read(owner, oid), "resync"
                elif update.pet.version <= pet.version or update.pet.owner != owner:
                    continue  # an older state looked up late; we already showed a newer one
                else:
                    pet, cause = update.pet, "change"
                    self._observe_lag(update)
                shown_at = self._now(pet)
                self._metrics.subscription_events_delivered.labels(cause).inc()
                yield pet, shown_at
        finally:
            self._broker.unsubscribe(subscriber)

    async def _read(self, owner: str, pet_id: ObjectId) -> PetDocument:
        pet = await self._repository.get(owner=owner, pet_id=pet_id)
        if pet is None:
            raise NotFound("No such pet.")
        return pet

    def _now(self, pet: PetDocument) -> datetime:
        return max(self._clock.now(), pet.as_of)

    def _observe_lag(self, update: PetChanged) -> None:
        if update.committed_at is not None:
            self._metrics.subscription_delivery_lag.observe(max(0.0, time.time() - update.committed_at))
