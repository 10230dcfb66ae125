"""Every watched pet's channel and every watched account in this process; the change feed reports here.

The change feed (pixelpet/pets/ports.py ``ChangeFeed``; MongoDB's change stream in production) sees every
committed change from every replica and calls ``changed``/``deleted``/``resync`` here; a change to a pet
nobody watches in this process costs a dictionary miss. A channel lives while it has members.
"""

from datetime import timedelta

from pixelpet.clock import Clock
from pixelpet.pets.live.account import AccountChannel, AccountDeliver, AccountMember
from pixelpet.pets.live.channel import Deliver, Member, PetChannel
from pixelpet.pets.pet import Pet


class Channels:
    def __init__(self, *, clock: Clock, min_interval: timedelta) -> None:
        self._clock = clock
        self._min_interval = min_interval
        self._channels: dict[str, PetChannel] = {}
        self._accounts: dict[str, AccountChannel] = {}
        self._members = 0
        # Pets deleted while a subscription's first read (or re-read) was in flight: the read may still
        # return them, and a deletion carries no owner to route it by. Forgotten when no read is in flight.
        self._reads = 0
        self._deleted_during_reads: set[str] = set()

    def join(self, pet_id: str, deliver: Deliver) -> Member:
        channel = self._channels.get(pet_id)
        if channel is None:
            channel = self._channels[pet_id] = PetChannel(
                pet_id, clock=self._clock, min_interval=self._min_interval
            )
        member = Member(channel, deliver)
        channel.members.add(member)
        self._members += 1
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

    def join_account(self, owner: str, deliver: AccountDeliver) -> AccountMember:
        """A place in ``owner``'s account channel: every pet of theirs, the ones adopted later too."""
        account = self._accounts.get(owner)
        if account is None:
            account = self._accounts[owner] = AccountChannel(owner, self)
        member = AccountMember(account, deliver)
        account.members.add(member)
        return member

    def leave_account(self, member: AccountMember) -> None:
        account = member.account
        if member not in account.members:
            return
        account.members.discard(member)
        if not account.members:
            account.close()
            del self._accounts[account.owner]

    def read_started(self) -> None:
        self._reads += 1

    def read_finished(self) -> None:
        self._reads -= 1
        if not self._reads:
            self._deleted_during_reads.clear()

    def deleted_during_reads(self, pet_id: str) -> bool:
        """Whether the pet was deleted while a read in flight could still return it."""
        return pet_id in self._deleted_during_reads

    def watched(self) -> tuple[int, int]:
        """(members, channels) in this process, accounts included: both return to zero when every
        subscriber leaves."""
        members = self._members + sum(len(account.members) for account in self._accounts.values())
        return members, len(self._channels) + len(self._accounts)

    # ChangeSink ----------------------------------------------------------------------------

    def watches(self, pet_id: str, owner: str | None) -> bool:
        if owner is None and self._reads:  # a deletion, while a read could still return the pet
            return True
        return pet_id in self._channels or (owner is not None and owner in self._accounts)

    def changed(self, pet: Pet, *, committed_at: float | None) -> None:
        account = self._accounts.get(pet.owner)
        if account is not None and not account.tracks(pet.id):
            account.track(pet, committed_at=committed_at)  # a pet adopted elsewhere: its channel shows it
            return
        channel = self._channels.get(pet.id)
        if channel is not None:
            channel.learn(pet, committed_at=committed_at)

    def deleted(self, pet_id: str) -> None:
        if self._reads:
            self._deleted_during_reads.add(pet_id)
        channel = self._channels.get(pet_id)
        if channel is not None:
            channel.deleted()

    def resync(self) -> None:
        for channel in list(self._channels.values()):
            channel.resync()
        for account in list(self._accounts.values()):
            account.resync()
