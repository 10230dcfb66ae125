"""One watched pet's channel in this process: every subscriber of the pet receives the same snapshots.

A channel turns what the process learns about a pet (a change from the change feed, a subscriber's
own read) into snapshots, and schedules the next time-based snapshot from the domain: one timer per
watched pet, not one per subscriber. Every subscriber receives the very same ``Snapshot`` object, so
whatever the API derives from it (its GraphQL object, execution result and JSON: ``Snapshot.derived``)
is computed once and shared: fan-out to a thousand subscribers does the work of one.

Updates are pushed: a channel calls each member as it publishes, so an idle subscriber is an entry
in a set, not a waiting task. Backpressure is the connection's (pixelpet/graphql/outbox.py).
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ClassVar, Literal

from pixelpet.clock import Cancellable, Clock
from pixelpet.pets import domain
from pixelpet.pets.pet import Pet

logger = logging.getLogger("pixelpet.subscriptions")

Cause = Literal["change", "time", "resync"]


class Snapshot:
    """A pet as shown at a moment. Shared by all subscribers of the pet: never mutate it."""

    __slots__ = ("at", "cause", "committed_at", "derived", "pet")
    # What it is the newest state of, for a connection holding unsent ones (pixelpet/graphql/outbox.py):
    # its subscription's one pet, and it replaces nothing else.
    about: ClassVar[str | None] = None
    supersedes: ClassVar[bool] = False

    def __init__(self, pet: Pet, at: datetime, cause: Cause, committed_at: float | None = None) -> None:
        self.pet = pet
        self.at = max(at, pet.state.as_of)  # a clock behind the writer's shows the stored state
        self.cause = cause
        self.committed_at = committed_at  # wall-clock seconds of the commit, for changes the store dated
        # What the API layer derives from this snapshot, once for every subscriber (its only cache).
        self.derived: dict[object, object] = {}

    def newer_than(self, other: "Snapshot") -> bool:
        return (self.pet.version, self.at) > (other.pet.version, other.at)


class PetDeleted:
    """The pet is gone: its subscriptions end."""

    __slots__ = ()


class Resync:
    """The change feed restarted without its history: re-read the pet, something may be missed."""

    __slots__ = ()


Update = Snapshot | PetDeleted | Resync
Deliver = Callable[[Update], None]


class Member:
    """One subscription's place in a channel: ``deliver`` receives every update the channel publishes."""

    __slots__ = ("channel", "deliver")

    def __init__(self, channel: "PetChannel", deliver: Deliver) -> None:
        self.channel = channel
        self.deliver = deliver


class PetChannel:
    def __init__(self, pet_id: str, *, clock: Clock, min_interval: timedelta) -> None:
        self.pet_id = pet_id
        self.members: set[Member] = set()
        self.latest: Snapshot | None = None
        self._clock = clock
        self._min_interval = min_interval
        self._timer: Cancellable | None = None
        self.closed = False  # nobody watches it any more: it must never arm a timer again
        self.gone = False  # the pet was deleted: a read that started before must not bring it back

    def learn(self, pet: Pet, *, cause: Cause = "change", committed_at: float | None = None) -> Snapshot:
        """A committed state of the pet. Shows it to every member if it is news; returns the newest known."""
        if self.closed or self.gone:  # a read that finished after its subscriber left, or its pet
            return Snapshot(pet, self._clock.now(), cause, committed_at)
        if self.latest is None or pet.version > self.latest.pet.version:
            self._show(Snapshot(pet, self._clock.now(), cause, committed_at))
        assert self.latest is not None
        return self.latest

    def deleted(self) -> None:
        self.gone = True
        self._forget()
        self._publish(PetDeleted())

    def resync(self) -> None:
        self._forget()
        self._publish(Resync())

    def close(self) -> None:
        self.closed = True
        self._forget()

    def _forget(self) -> None:
        self.latest = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _show(self, snapshot: Snapshot) -> None:
        self._forget()
        self.latest = snapshot
        self._publish(snapshot)
        due = domain.next_visible_change(snapshot.pet.state, at=snapshot.at)
        if due is not None:
            # Rendered at the moment it is due, not when the timer happens to run: every member
            # gets identical stats, and tests with a manual clock get exact ones.
            due = max(due, snapshot.at + self._min_interval)
            self._timer = self._clock.call_at(due, lambda: self._show(Snapshot(snapshot.pet, due, "time")))

    def _publish(self, update: Update) -> None:
        # A copy: a delivery may end its subscription (a deletion does), leaving the channel.
        for member in list(self.members):
            try:
                member.deliver(update)
            except Exception:
                # A bug behind one subscription must not cost the others their update, nor stop the
                # change feed that is publishing it.
                logger.exception("delivering a pet update failed", extra={"cause": type(update).__name__})
