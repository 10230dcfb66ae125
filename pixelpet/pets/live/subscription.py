"""Watching one pet: its current state, then every newer state, then time's effects as they show.

A ``LiveSubscription`` joins the pet's channel (channel.py), reads the pet once (which proves it is
the owner's), and from then on pushes each snapshot newer than the last it showed. Between updates it
is this object and its place in the channel: no task waits for it. It knows nothing of GraphQL or
sockets; pixelpet/graphql/ executes and sends what it pushes.
"""

import asyncio
import time
from collections.abc import Callable

from pixelpet.errors import NotFound
from pixelpet.pets.events import LiveEvents
from pixelpet.pets.live.account_subscription import AccountSubscription
from pixelpet.pets.live.channel import Member, PetDeleted, Resync, Snapshot, Update
from pixelpet.pets.live.channels import Channels
from pixelpet.pets.pet import Pet
from pixelpet.pets.service import PetService

DELETED_MESSAGE = "The pet was deleted."


class Subscriptions:
    """Opens live subscriptions; after a resync, one read per pet serves all of its subscribers."""

    def __init__(self, *, pets: PetService, channels: Channels, events: LiveEvents) -> None:
        self.pets = pets
        self.channels = channels
        self.events = events
        self._rereads: dict[str, asyncio.Task[Pet]] = {}

    def open(self, *, owner: str, pet_id: str) -> "LiveSubscription":
        return LiveSubscription(self, owner=owner, pet_id=pet_id)

    def open_account(self, *, owner: str) -> AccountSubscription:
        return AccountSubscription(self.pets, self.channels, self.events, owner=owner)

    def reread(self, owner: str, pet_id: str) -> "asyncio.Task[Pet]":
        """The pet's read after a resync, shared by every subscriber asking while it runs (all are its
        owner's: another owner's subscription never got past its first read)."""
        task = self._rereads.get(pet_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(self.pets.get(owner=owner, pet_id=pet_id))
            self._rereads[pet_id] = task
            task.add_done_callback(lambda done: self._reread_done(pet_id, done))
        return task

    def _reread_done(self, pet_id: str, task: "asyncio.Task[Pet]") -> None:
        self._rereads.pop(pet_id, None)
        if not task.cancelled():
            task.exception()  # retrieved: each waiting subscriber gets it; none left may mean nobody asks


class LiveSubscription:
    """Pushes each snapshot newer than the last one shown. Ends with NotFound when the pet is deleted.

    Used in this order: ``first``, then ``start``, then ``close`` (which may come at any point).
    """

    __slots__ = (
        "_deliver",
        "_early",
        "_end",
        "_member",
        "_owner",
        "_pet_id",
        "_rereading",
        "_shown",
        "_subscriptions",
    )

    def __init__(self, subscriptions: Subscriptions, *, owner: str, pet_id: str) -> None:
        self._subscriptions = subscriptions
        self._owner = owner
        self._pet_id = pet_id
        self._member: Member | None = None
        self._shown: Snapshot | None = None
        self._early: Update | None = None  # what arrived before start(): the newest is enough
        self._deliver: Callable[[Snapshot], None] | None = None
        self._end: Callable[[Exception | None], None] | None = None
        self._rereading: asyncio.Task[None] | None = None

    async def first(self) -> Snapshot:
        """Join the pet's channel and read it: the first snapshot, or the error that refuses it."""
        subscriptions = self._subscriptions
        # Join before the first read, so a change committed in between is not missed.
        self._member = subscriptions.channels.join(self._pet_id, self._offer)
        subscriptions.events.subscription_opened()
        subscriptions.channels.read_started()  # a deletion meanwhile is remembered (channels.py)
        try:
            # The read proves ownership; the channel may already know a newer state than it returns.
            pet = await subscriptions.pets.get(owner=self._owner, pet_id=self._pet_id)
            if self._member.channel.gone or subscriptions.channels.deleted_during_reads(self._pet_id):
                raise NotFound(DELETED_MESSAGE)
            self._shown = self._member.channel.learn(pet)
        except BaseException:
            self.close()
            raise
        finally:
            subscriptions.channels.read_finished()
        subscriptions.events.update_shown("initial", None)
        return self._shown

    def start(self, deliver: Callable[[Snapshot], None], end: Callable[[Exception | None], None]) -> None:
        """Push every later snapshot to ``deliver``; call ``end`` once if the subscription ends."""
        self._deliver, self._end = deliver, end
        early, self._early = self._early, None
        if early is not None:
            self._offer(early)

    def close(self) -> None:
        """Leave the channel and stop pushing; safe to call more than once."""
        if self._member is not None:
            self._subscriptions.channels.leave(self._member)
            self._subscriptions.events.subscription_closed()
            self._member = None
        if self._rereading is not None:
            self._rereading.cancel()
            self._rereading = None
        self._deliver = self._end = None

    def _offer(self, update: Update) -> None:
        if self._deliver is None or self._shown is None:
            # Not started yet: handled by start(). The newest state is enough, but a deletion or a lost
            # history must not be overwritten by a state that arrives after it.
            if not isinstance(self._early, PetDeleted) and not (
                isinstance(self._early, Resync) and isinstance(update, Snapshot)
            ):
                self._early = update
        elif isinstance(update, PetDeleted):
            self._finish(NotFound(DELETED_MESSAGE))
        elif isinstance(update, Resync):
            if self._rereading is None:
                self._rereading = asyncio.get_running_loop().create_task(self._reread())
        elif update.newer_than(self._shown):
            self._shown = update
            lag = None if update.committed_at is None else max(0.0, time.time() - update.committed_at)
            self._subscriptions.events.update_shown(update.cause, lag)
            self._deliver(update)
        # else: already shown (our own read, or an older state looked up late)

    async def _reread(self) -> None:
        """After the change feed lost its history: something may have been missed, so read again."""
        member = self._member
        assert member is not None
        try:
            # Shielded: one subscriber leaving must not cancel the read the others wait for.
            pet = await asyncio.shield(self._subscriptions.reread(self._owner, self._pet_id))
        except Exception as error:  # a read that fails ends the subscription with its error
            self._rereading = None
            self._finish(error)
            return
        self._rereading = None
        self._offer(member.channel.learn(pet, cause="resync"))

    def _finish(self, error: Exception | None) -> None:
        end = self._end
        self.close()
        if end is not None:
            end(error)
