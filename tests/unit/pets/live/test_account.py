"""An account channel follows the channels of its player's pets, and lets go of them."""

from datetime import timedelta

from pixelpet.clock import ManualClock
from pixelpet.pets.live.account import AccountUpdate, PetChanged, PetRemoved
from pixelpet.pets.live.channels import Channels
from tests.conftest import T0
from tests.support.pets import a_pet


def test_a_pet_adopted_elsewhere_joins_the_account_and_its_deletion_leaves_it() -> None:
    channels = Channels(clock=ManualClock(T0), min_interval=timedelta(0))
    received: list[AccountUpdate] = []
    member = channels.join_account("alice", received.append)
    pet = a_pet(id="c" * 24, owner="alice")
    assert channels.watches(pet.id, "alice"), "the change feed must read changes to alice's pets"
    assert not channels.watches(pet.id, "bob")
    channels.changed(pet, committed_at=None)
    assert member.account.tracks(pet.id)
    (changed,) = received
    assert isinstance(changed, PetChanged)
    channels.deleted(pet.id)
    assert isinstance(received[-1], PetRemoved)
    assert not member.account.tracks(pet.id)
    channels.leave_account(member)
    assert channels.watched() == (0, 0)


def test_a_member_that_fails_costs_the_others_nothing() -> None:
    channels = Channels(clock=ManualClock(T0), min_interval=timedelta(0))
    received: list[AccountUpdate] = []

    def broken(update: AccountUpdate) -> None:
        raise RuntimeError("a bug behind one subscription")

    channels.join_account("alice", broken)
    channels.join_account("alice", received.append)
    channels.changed(a_pet(id="d" * 24, owner="alice"), committed_at=None)
    assert len(received) == 1
