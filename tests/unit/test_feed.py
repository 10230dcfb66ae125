"""A pet's feed hands every update to every member, whatever one of them does with it."""

from datetime import timedelta

import pytest
from bson import ObjectId
from pixelpet.pets.feed import PetDeleted, PetFeed, Snapshot, Subscriber, Update

from pixelpet.clock import ManualClock
from pixelpet.pets.rules import Activity, Species
from pixelpet.storage.documents import PetDocument
from tests.conftest import T0


def test_a_member_that_fails_costs_the_others_nothing(caplog: pytest.LogCaptureFixture) -> None:
    feed = PetFeed(ObjectId(), clock=ManualClock(T0), min_interval=timedelta(0))
    received: list[Update] = []

    def broken(update: Update) -> None:
        raise RuntimeError("a bug behind one subscription")

    feed.members = {Subscriber(feed, "one", broken), Subscriber(feed, "two", received.append)}
    feed.deleted()
    assert len(received) == 1
    assert isinstance(received[0], PetDeleted)
    assert "delivering a pet update failed" in caplog.text


def test_a_dropped_feed_learns_nothing_and_arms_no_timer() -> None:
    """A first read that ends after its subscriber left (its feed dropped) leaves nothing behind."""
    clock = ManualClock(T0)
    feed = PetFeed(ObjectId(), clock=clock, min_interval=timedelta(0))
    received: list[Update] = []
    feed.members = {Subscriber(feed, "one", received.append)}
    pet = PetDocument.model_construct(
        id=feed.pet_id,
        owner="alice",
        name="Mochi",
        species=Species.CAT,
        hunger=20.0,
        happiness=80.0,
        energy=80.0,
        activity=Activity.AWAKE,
        as_of=T0,
        version=1,
        created_at=T0,
        updated_at=T0,
    )
    feed.learn(pet)
    assert (len(received), clock.pending()) == (1, 1), "a watched pet is shown and its next change timed"
    feed.close()
    assert clock.pending() == 0
    late = feed.learn(pet.model_copy(update={"version": 2}))
    assert isinstance(late, Snapshot)
    assert (len(received), clock.pending(), feed.latest) == (1, 0, None)
