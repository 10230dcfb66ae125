"""Channels: one per watched pet while it has members; changes to pets nobody watches cost nothing."""

from datetime import timedelta

from pixelpet.clock import ManualClock
from pixelpet.pets.live.channel import Snapshot, Update
from pixelpet.pets.live.channels import Channels
from tests.conftest import T0
from tests.support.pets import a_pet


def test_a_channel_lives_while_it_has_members() -> None:
    channels = Channels(clock=ManualClock(T0), min_interval=timedelta(0))
    one = channels.join("p1", lambda update: None)
    two = channels.join("p1", lambda update: None)
    assert channels.watched() == (2, 1)
    assert channels.watches("p1", None)
    channels.leave(one)
    channels.leave(one)  # twice is once
    assert channels.watched() == (1, 1)
    channels.leave(two)
    assert channels.watched() == (0, 0)
    assert not channels.watches("p1", None)


def test_changes_reach_the_watched_pet_only() -> None:
    clock = ManualClock(T0)
    channels = Channels(clock=clock, min_interval=timedelta(0))
    received: list[Update] = []
    watched = a_pet(id="a" * 24)
    channels.join(watched.id, received.append)
    channels.changed(a_pet(id="b" * 24), committed_at=None)
    channels.deleted("b" * 24)
    assert received == []
    channels.changed(watched, committed_at=1.0)
    (snapshot,) = received
    assert isinstance(snapshot, Snapshot)
    assert snapshot.committed_at == 1.0
