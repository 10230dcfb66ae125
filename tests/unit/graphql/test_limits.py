"""Every limit at the API edge: rates say when to retry, caps that waiting cannot lift say so."""

from datetime import timedelta

import pytest
from graphql import OperationType

from pixelpet.clock import ManualClock
from pixelpet.errors import ErrorCode, RateLimited, SubscriptionLimitReached
from pixelpet.graphql.limits import Limits, SubscriptionCounter
from pixelpet.settings import LimitSettings, SubscriptionSettings
from tests.conftest import T0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def limits(clock: ManualClock) -> Limits:
    return Limits(
        LimitSettings(mutations_per_second=1, mutation_burst=2, queries_per_second=10, query_burst=1),
        SubscriptionSettings(max_per_connection=10, max_per_owner=3, max_per_process=5),
        clock=clock,
    )


def test_queries_and_mutations_have_their_own_rates_with_a_retry_time(
    limits: Limits, clock: ManualClock
) -> None:
    limits.charge(OperationType.MUTATION, "alice")
    limits.charge(OperationType.MUTATION, "alice")
    limits.charge(OperationType.QUERY, "alice")  # a separate bucket
    with pytest.raises(RateLimited) as refused:
        limits.charge(OperationType.MUTATION, "alice")
    assert refused.value.extensions()["retryAfterSeconds"] == 1.0
    limits.charge(OperationType.MUTATION, "bob")  # per player
    clock.advance(timedelta(seconds=1))
    limits.charge(OperationType.MUTATION, "alice")


def test_one_player_cannot_take_every_place(limits: Limits) -> None:
    connection = SubscriptionCounter()
    held = [limits.open_subscription("mallory", connection) for _ in range(3)]
    with pytest.raises(SubscriptionLimitReached, match="At most 3 live subscriptions per player") as refused:
        limits.open_subscription("mallory", SubscriptionCounter())  # a new connection, the same player
    assert refused.value.code is ErrorCode.SUBSCRIPTION_LIMIT_REACHED
    assert refused.value.extensions() == {"code": "SUBSCRIPTION_LIMIT_REACHED", "limit": 3, "scope": "player"}
    limits.open_subscription("alice", connection)  # others still can
    held[0].release()
    held[0].release()  # twice is once
    limits.open_subscription("mallory", connection)  # a freed place can be taken again


def test_the_connection_cap_counts_that_connection_only(clock: ManualClock) -> None:
    limits = Limits(LimitSettings(), SubscriptionSettings(max_per_connection=2), clock=clock)
    connection = SubscriptionCounter()
    first = limits.open_subscription("alice", connection)
    limits.open_subscription("alice", connection)
    with pytest.raises(SubscriptionLimitReached, match="per connection"):
        limits.open_subscription("alice", connection)
    limits.open_subscription("alice", SubscriptionCounter())
    first.release()
    assert connection.open == 1
    limits.open_subscription("alice", connection)


def test_a_full_process_is_rate_limited_with_a_retry_time(limits: Limits) -> None:
    for index in range(5):
        limits.open_subscription(f"player{index}", SubscriptionCounter())
    with pytest.raises(RateLimited, match="too many live subscriptions") as refused:
        limits.open_subscription("late", SubscriptionCounter())
    assert refused.value.retry_after_seconds > 0


def test_subscribe_messages_are_rated_per_connection(limits: Limits) -> None:
    one, two = limits.subscribe_messages(), limits.subscribe_messages()
    for _ in range(SubscriptionSettings().subscribe_burst):
        one.acquire()
    with pytest.raises(RateLimited):
        one.acquire()
    two.acquire()
