"""Every watched pet's channel in this process; the change feed reports into it.

The change feed (pixelpet/pets/ports.py ``ChangeFeed``; MongoDB's change stream in production) sees every
committed change from every replica and calls ``changed``/``deleted``/``resync`` here; a change to a pet
nobody watches in this process costs a dictionary miss. A channel lives while it has members.
"""

from datetime import timedelta

from pixelpet.clock import Clock
from pixelpet.pets.events import LiveEvents
from pixelpet.pets.live.channel import Deliver, Member, PetChannel
from pixelpet.pets.pet import Pet


class Channels:
    def __init__(self, *, clock: Clock, min_interval: timedelta, events: LiveEvents) -> None:
        self._clock = clock
        self._min_interval = min_interval
        self._events = events
        self._channels: dict[str, PetChannel] = {}
        self._members = 0

    def join(self, pet_id: str, deliver: Deliver) -> Member:
        channel = self._channels.get(pet_id)
        if channel is None:
            channel = self._channels[pet_id] = PetChannel(
                pet_id, clock=self._clock, min_interval=self._min_interval
            )
        member = Member(channel, deliver)
        channel.members.add(member)
        self._members += 1
        self._events.subscription_opened()
        return member

    def leave(self, member: Member) -> None:
        channel = member.channel
        if member not in channel.members:
            return
        channel.members.discard(member)
        if not channel.members:
            channel.close()
            del self._channels[channel.pet_id]
        self._members -= 1
        self._events.subscription_closed()

    def watched(self) -> tuple[int, int]:
        """(members, channels) in this process: both return to zero when every subscriber leaves."""
        return self._members, len(self._channels)

    # ChangeSink ----------------------------------------------------------------------------

    def watches(self, pet_id: str) -> bool:
        return pet_id in self._channels

    def changed(self, pet: Pet, *, committed_at: float | None) -> None:
        channel = self._channels.get(pet.id)
        if channel is not None:
            channel.learn(pet, committed_at=committed_at)

    def deleted(self, pet_id: str) -> None:
        channel = self._channels.get(pet_id)
        if channel is not None:
            channel.deleted()

    def resync(self) -> None:
        for channel in list(self._channels.values()):
            channel.resync()
