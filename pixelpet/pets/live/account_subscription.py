"""Watching a whole account: every pet at once, then each change, adoption and deletion, in order per pet.

An ``AccountSubscription`` joins its player's account channel (account.py), reads every pet once, and
from then on pushes what is news to it: a pet's state newer than the one it showed (never an older one
after a newer), a pet removed that it showed, and the whole list again after the change feed lost its
history. It counts as one subscription whatever the number of pets. Between updates it is this object,
its place in the account channel and what it showed of each pet: no task waits for it.
"""

import asyncio
from collections.abc import Callable
from datetime import datetime

from pixelpet.pets.events import LiveEvents
from pixelpet.pets.live.account import (
    AccountEvent,
    AccountMember,
    AccountResync,
    AccountUpdate,
    PetChanged,
    PetRemoved,
    PetsListed,
)
from pixelpet.pets.live.channels import Channels
from pixelpet.pets.service import PetService


class AccountSubscription:
    __slots__ = (
        "_channels",
        "_deliver",
        "_early",
        "_end",
        "_events",
        "_member",
        "_owner",
        "_pets",
        "_rereading",
        "_shown",
    )

    def __init__(self, pets: PetService, channels: Channels, events: LiveEvents, *, owner: str) -> None:
        self._pets = pets
        self._channels = channels
        self._events = events
        self._owner = owner
        self._member: AccountMember | None = None
        self._shown: dict[str, tuple[int, datetime]] = {}  # pet id -> (version, at) of what it showed
        self._early: list[AccountUpdate] = []  # what arrived during the first read, in order
        self._deliver: Callable[[AccountEvent], None] | None = None
        self._end: Callable[[Exception | None], None] | None = None
        self._rereading: asyncio.Task[None] | None = None

    async def first(self) -> PetsListed:
        """Join the account and read every pet: the first event, or the error that refuses it."""
        # Join before the read, so a pet adopted or changed in between is not missed.
        self._member = self._channels.join_account(self._owner, self._offer)
        self._events.subscription_opened()
        try:
            listed = await self._list()
        except BaseException:
            self.close()
            raise
        self._events.update_shown("initial", None)
        return listed

    def start(self, deliver: Callable[[AccountEvent], None], end: Callable[[Exception | None], None]) -> None:
        self._deliver, self._end = deliver, end
        early, self._early = self._early, []
        for update in early:
            self._offer(update)

    def close(self) -> None:
        if self._member is not None:
            self._channels.leave_account(self._member)
            self._events.subscription_closed()
            self._member = None
        if self._rereading is not None:
            self._rereading.cancel()
            self._rereading = None
        self._deliver = self._end = None

    async def _list(self) -> PetsListed:
        assert self._member is not None
        account = self._member.account
        self._channels.read_started()  # a deletion meanwhile is remembered: the read may still return it
        try:
            pets = await self._pets.all(owner=self._owner)
            tracked = (account.track(pet) for pet in pets)
            snapshots = tuple(snapshot for snapshot in tracked if snapshot is not None)
        finally:
            self._channels.read_finished()
        self._shown = {s.pet.id: (s.pet.version, s.at) for s in snapshots}
        return PetsListed(snapshots)

    def _offer(self, update: AccountUpdate) -> None:
        if self._deliver is None:
            if self._member is not None:  # not started yet: handled by start()
                self._early.append(update)
        elif isinstance(update, PetChanged):
            snapshot = update.snapshot
            shown = self._shown.get(snapshot.pet.id)
            if shown is None or (snapshot.pet.version, snapshot.at) > shown:
                self._shown[snapshot.pet.id] = (snapshot.pet.version, snapshot.at)
                self._events.update_shown(snapshot.cause, None)
                self._deliver(update)
        elif isinstance(update, PetRemoved):
            if self._shown.pop(update.pet_id, None) is not None:
                self._deliver(update)
        else:
            assert isinstance(update, AccountResync)
            if self._rereading is None:
                self._rereading = asyncio.get_running_loop().create_task(self._relist())

    async def _relist(self) -> None:
        """After the change feed lost its history: read every pet again and show the whole list."""
        try:
            listed = await self._list()
        except Exception as error:  # a read that fails ends the subscription with its error
            self._rereading = None
            self._finish(error)
            return
        self._rereading = None
        self._events.update_shown("resync", None)
        if self._deliver is not None:
            self._deliver(listed)

    def _finish(self, error: Exception | None) -> None:
        end = self._end
        self.close()
        if end is not None:
            end(error)
