"""A player's whole account, live: one channel per watched account, over the channels of its pets.

An account channel is a member of the channel of each of its player's pets (channel.py), so a change, a
time-based snapshot or a deletion of any of them reaches it exactly as it reaches a single pet's
subscribers, and a pet adopted elsewhere joins as soon as the change feed reports it. Every account
subscriber of the player receives the very same event objects, so their GraphQL execution and JSON are
shared (``derived``) as for single pets.
"""

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from pixelpet.pets.live.channel import Member, PetDeleted, Resync, Snapshot, Update
from pixelpet.pets.pet import Pet

if TYPE_CHECKING:  # channels.py builds account channels; this module only calls it back
    from pixelpet.pets.live.channels import Channels

logger = logging.getLogger("pixelpet.subscriptions")


class AccountEvent:
    """What an account subscriber receives. Shared by every subscriber of the account: never mutate it.

    ``about`` is the pet it is the newest state of, so an unsent one is replaced only by a newer one about
    the same pet (pixelpet/graphql/outbox.py); a list of every pet ``supersedes`` whatever is unsent.
    """

    __slots__ = ("derived",)
    supersedes: ClassVar[bool] = False

    def __init__(self) -> None:
        self.derived: dict[object, object] = {}  # what the API derives from it, once for all (sharing.py)

    @property
    def about(self) -> str | None:
        return None


class PetsListed(AccountEvent):
    """Every pet of the player as of now: sent first, and again whenever the server had to read them all."""

    __slots__ = ("snapshots",)
    supersedes: ClassVar[bool] = True

    def __init__(self, snapshots: tuple[Snapshot, ...]) -> None:
        super().__init__()
        self.snapshots = snapshots


class PetChanged(AccountEvent):
    """A pet adopted, changed, or changed by time: its whole state."""

    __slots__ = ("snapshot",)

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    @property
    def about(self) -> str | None:
        return self.snapshot.pet.id


class PetRemoved(AccountEvent):
    __slots__ = ("pet_id",)

    def __init__(self, pet_id: str) -> None:
        super().__init__()
        self.pet_id = pet_id

    @property
    def about(self) -> str | None:
        return self.pet_id


class AccountResync:
    """The change feed lost its history: read the whole account again."""

    __slots__ = ()


AccountUpdate = PetChanged | PetRemoved | AccountResync
AccountDeliver = Callable[[AccountUpdate], None]


class AccountMember:
    __slots__ = ("account", "deliver")

    def __init__(self, account: "AccountChannel", deliver: AccountDeliver) -> None:
        self.account = account
        self.deliver = deliver


class AccountChannel:
    def __init__(self, owner: str, channels: "Channels") -> None:
        self.owner = owner
        self.members: set[AccountMember] = set()
        self._channels = channels
        self._pets: dict[str, Member] = {}  # its place in the channel of each pet it tracks

    def tracks(self, pet_id: str) -> bool:
        return pet_id in self._pets

    def track(self, pet: Pet, *, committed_at: float | None = None) -> Snapshot | None:
        """Follow ``pet`` (one of the player's) from now on; the newest snapshot of it this process knows, or
        None if it was deleted while the read that found it was in flight."""
        if self._channels.deleted_during_reads(pet.id):
            return None
        member = self._pets.get(pet.id)
        if member is None:
            member = self._pets[pet.id] = self._channels.join(
                pet.id, lambda update: self._pet(pet.id, update)
            )
        return member.channel.learn(pet, committed_at=committed_at)

    def resync(self) -> None:
        self._publish(AccountResync())

    def close(self) -> None:
        for member in self._pets.values():
            self._channels.leave(member)
        self._pets.clear()

    def _pet(self, pet_id: str, update: Update) -> None:
        if isinstance(update, Snapshot):
            self._publish(PetChanged(update))  # once for every member: the channel publishes it once
        elif isinstance(update, PetDeleted):
            member = self._pets.pop(pet_id, None)
            if member is not None:
                self._channels.leave(member)
            self._publish(PetRemoved(pet_id))
        else:
            assert isinstance(update, Resync)  # the account's own resync re-reads every pet

    def _publish(self, update: AccountUpdate) -> None:
        for member in list(self.members):  # a copy: a delivery may end its subscription
            try:
                member.deliver(update)
            except Exception:
                # As in a pet's channel: a bug behind one subscription costs the others nothing.
                logger.exception(
                    "delivering an account update failed", extra={"cause": type(update).__name__}
                )
