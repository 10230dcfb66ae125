"""A pet's feed hands every update to every member, whatever one of them does with it."""

from datetime import timedelta

import pytest
from bson import ObjectId

from pixelpet.clock import ManualClock
from pixelpet.pets.feed import PetDeleted, PetFeed, Subscriber, Update
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
