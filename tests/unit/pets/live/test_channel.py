"""A pet's channel hands every update to every member, whatever one of them does with it."""

from dataclasses import replace
from datetime import timedelta

import pytest

from pixelpet.clock import ManualClock
from pixelpet.pets.live.channel import Member, PetChannel, PetDeleted, Snapshot, Update
from tests.conftest import T0
from tests.support.pets import a_pet


def test_a_member_that_fails_costs_the_others_nothing(caplog: pytest.LogCaptureFixture) -> None:
    channel = PetChannel("p1", clock=ManualClock(T0), min_interval=timedelta(0))
    received: list[Update] = []

    def broken(update: Update) -> None:
        raise RuntimeError("a bug behind one subscription")

    channel.members = {Member(channel, broken), Member(channel, received.append)}
    channel.deleted()
    assert len(received) == 1
    assert isinstance(received[0], PetDeleted)
    assert "delivering a pet update failed" in caplog.text


def test_a_closed_channel_learns_nothing_and_arms_no_timer() -> None:
    """A first read that ends after its subscriber left (its channel closed) leaves nothing behind."""
    clock = ManualClock(T0)
    pet = a_pet()
    channel = PetChannel(pet.id, clock=clock, min_interval=timedelta(0))
    received: list[Update] = []
    channel.members = {Member(channel, received.append)}
    channel.learn(pet)
    assert (len(received), clock.pending()) == (1, 1), "a watched pet is shown and its next change timed"
    channel.close()
    assert clock.pending() == 0
    late = channel.learn(replace(pet, version=2))
    assert isinstance(late, Snapshot)
    assert (len(received), clock.pending(), channel.latest) == (1, 0, None)


async def test_time_shows_the_next_visible_change_once_for_every_member() -> None:
    clock = ManualClock(T0)
    pet = a_pet()
    channel = PetChannel(pet.id, clock=clock, min_interval=timedelta(seconds=1))
    one: list[Update] = []
    two: list[Update] = []
    channel.members = {Member(channel, one.append), Member(channel, two.append)}
    channel.learn(pet)
    clock.advance(timedelta(hours=1))
    assert len(one) >= 2
    assert one == two, "the very same snapshot objects"
    last = one[-1]
    assert isinstance(last, Snapshot)
    assert last.cause == "time"
    assert last.at > T0


def test_an_older_or_equal_version_is_not_news() -> None:
    clock = ManualClock(T0)
    pet = a_pet(version=3)
    channel = PetChannel(pet.id, clock=clock, min_interval=timedelta(0))
    received: list[Update] = []
    channel.members = {Member(channel, received.append)}
    newest = channel.learn(pet)
    assert channel.learn(replace(pet, version=2)) is newest
    assert channel.learn(pet) is newest
    assert len(received) == 1
