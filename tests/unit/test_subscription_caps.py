"""Subscription caps: per connection, per player and per process, each freeing its place on unsubscribe."""

from typing import Any

import pytest
from bson import ObjectId
from pixelpet.pets.broker import ChangeStreamBroker
from pymongo import AsyncMongoClient

from pixelpet.clock import ManualClock
from pixelpet.errors import TooManySubscriptions
from pixelpet.settings import SubscriptionSettings
from pixelpet.telemetry.metrics import Metrics
from tests.conftest import T0


@pytest.fixture
async def broker() -> Any:
    # Never started: subscribing is bookkeeping, and the client connects lazily (it never does here).
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient("mongodb://127.0.0.1:1/?replicaSet=rs0")
    settings = SubscriptionSettings(max_per_connection=10, max_per_owner=3, max_per_process=5)
    metrics = Metrics(version="test", environment="test")
    yield ChangeStreamBroker(client, "caps", settings=settings, clock=ManualClock(T0), events=metrics)
    await client.close()


def deliver(_: object) -> None: ...


def test_one_player_cannot_take_every_place(broker: ChangeStreamBroker) -> None:
    connection = object()
    held = [broker.subscribe(ObjectId(), connection, deliver, owner="mallory") for _ in range(3)]
    with pytest.raises(TooManySubscriptions, match="At most 3 live subscriptions per player"):
        broker.subscribe(ObjectId(), object(), deliver, owner="mallory")  # a new connection, the same player
    broker.subscribe(ObjectId(), connection, deliver, owner="alice")  # others still can
    broker.unsubscribe(held[0])
    broker.subscribe(ObjectId(), connection, deliver, owner="mallory")  # a freed place can be taken again


def test_the_process_cap_counts_every_player(broker: ChangeStreamBroker) -> None:
    for index in range(5):
        broker.subscribe(ObjectId(), object(), deliver, owner=f"player{index}")
    with pytest.raises(TooManySubscriptions, match="too many live subscriptions"):
        broker.subscribe(ObjectId(), object(), deliver, owner="late")
