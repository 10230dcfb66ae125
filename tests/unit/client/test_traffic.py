"""pixelpet/client/traffic.py: schedules and bounds with steps of the test's own, then ``watch`` against
the real service over a real socket. Assertions are on what happened (counts, order, overlap), never on
how long it took, except lower bounds a schedule promises."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from pixelpet.client import traffic
from pixelpet.client.traffic import ClosedLoop, LiveTally, OpenLoop, Tally, Turn, percentile
from pixelpet.clock import ManualClock
from pixelpet.settings import Settings
from tests.support.graphql import GraphQLClient, create_pet, token_for
from tests.support.server import serving

WATCH = "subscription($id: ID!) { petStats(id: $id) { version } }"
RENAME = "mutation($id: ID!, $name: String!) { renamePet(id: $id, name: $name) { version } }"


class Recorder:
    """A step that records each turn and how many steps overlapped it."""

    def __init__(self, *, hold_s: float = 0.0) -> None:
        self.turns: list[Turn] = []
        self.running = 0
        self.peak = 0
        self.hold_s = hold_s

    async def __call__(self, turn: Turn) -> str:
        self.turns.append(turn)
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(self.hold_s)
        self.running -= 1
        return "OK"


@pytest.mark.parametrize("schedule", [OpenLoop(10_000), ClosedLoop(4)], ids=["open", "closed"])
async def test_a_run_stops_at_its_count_and_answers_every_step_it_started(
    schedule: OpenLoop | ClosedLoop,
) -> None:
    step = Recorder()
    tally = await traffic.run(step, schedule, max_steps=25)
    assert tally.steps_started == tally.answered == 25
    assert tally.outcomes == {"OK": 25}
    assert sorted(turn.number for turn in step.turns) == list(range(25))


async def test_an_open_loop_waits_for_room_past_its_in_flight_limit() -> None:
    step = Recorder(hold_s=0.01)
    await traffic.run(step, OpenLoop(10_000, max_in_flight=3), max_steps=12)
    assert step.peak == 3
    assert {turn.worker for turn in step.turns} == {0}


async def test_a_closed_loops_workers_each_run_one_step_at_a_time() -> None:
    step = Recorder(hold_s=0.001)
    await traffic.run(step, ClosedLoop(3), max_steps=30)
    assert step.peak == 3
    assert {turn.worker for turn in step.turns} == {0, 1, 2}
    for worker in range(3):  # numbers rise within a worker: it started each step after the last
        numbers = [turn.number for turn in step.turns if turn.worker == worker]
        assert numbers == sorted(numbers)


async def test_a_paced_worker_waits_out_the_rest_of_its_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a clock the test moves: each step takes 10 ms, so the worker sleeps the other 40 of its 50."""
    now = [0.0]
    sleeps: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds
        await real_sleep(0)

    monkeypatch.setattr(traffic.time, "perf_counter", lambda: now[0])
    monkeypatch.setattr(traffic.asyncio, "sleep", recorded_sleep)

    async def step(turn: Turn) -> str:
        now[0] += 0.01
        return "OK"

    await traffic.run(step, ClosedLoop(1, pace_s=0.05), max_steps=4)
    assert sleeps == pytest.approx([0.04] * 4)


async def test_a_failing_step_is_an_outcome_and_the_traffic_goes_on() -> None:
    async def step(turn: Turn) -> str:
        if turn.number % 2:
            raise ConnectionResetError("the service went away")
        return "RATE_LIMITED"

    tally = await traffic.run(step, ClosedLoop(2), max_steps=10)
    assert tally.outcomes == {"RATE_LIMITED": 5, "ConnectionResetError": 5}
    assert tally.errors == 10


@pytest.mark.parametrize("schedule", [OpenLoop(10_000), ClosedLoop(2)], ids=["open", "closed"])
async def test_a_run_ends_when_its_condition_holds_or_its_time_is_up(schedule: OpenLoop | ClosedLoop) -> None:
    step = Recorder()
    stopped = await traffic.run(step, schedule, until=lambda: len(step.turns) >= 7)
    # Steps already on their way when the condition came true still finish.
    on_their_way = schedule.max_in_flight if isinstance(schedule, OpenLoop) else schedule.workers
    assert 7 <= stopped.answered <= 7 + on_their_way
    timed = await traffic.run(Recorder(hold_s=0.001), schedule, max_seconds=0.1)
    assert timed.ended is not None
    assert timed.answered == timed.steps_started


@pytest.mark.parametrize("schedule", [OpenLoop(10_000), ClosedLoop(2)], ids=["open", "closed"])
async def test_no_step_starts_while_paused(schedule: OpenLoop | ClosedLoop) -> None:
    polls = 0

    def paused() -> bool:
        nonlocal polls
        polls += 1
        return polls <= 5

    started_at_poll: list[int] = []

    async def step(turn: Turn) -> str:
        started_at_poll.append(polls)
        return "OK"

    await traffic.run(step, schedule, max_steps=5, paused=paused)
    assert min(started_at_poll) > 5


def test_percentiles_are_values_that_were_seen() -> None:
    values = [float(n) for n in range(100, 0, -1)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile(values, 1.0)) == (
        51.0,
        100.0,
        100.0,
    )
    assert percentile([], 0.5) != percentile([], 0.5), "nan before anything was measured"
    tally = Tally()
    tally.record("OK", 0.002)
    tally.record("NOT_FOUND", 0.004)
    assert (tally.percentile_ms(0.5), tally.errors) == (4.0, 1)


@pytest.fixture
async def server(settings: Settings, clock: ManualClock) -> AsyncIterator[tuple[str, GraphQLClient]]:
    async with serving(settings, clock) as served:
        yield served


async def test_a_watcher_counts_each_update_it_receives(server: tuple[str, GraphQLClient]) -> None:
    url, http = server
    pet = await create_pet(http)
    live = LiveTally()
    watcher = asyncio.create_task(traffic.watch(url, token_for("alice"), WATCH, {"id": pet["id"]}, live))
    try:
        await _until(lambda: live.updates == 1)
        await http.execute(RENAME, {"id": pet["id"], "name": "Seen"})
        await _until(lambda: live.updates == 2)
    finally:
        watcher.cancel()
    assert live.errors == 0


async def test_a_refused_watcher_is_counted_then_ends_or_tries_again(
    server: tuple[str, GraphQLClient],
) -> None:
    url, _ = server
    once = LiveTally()
    await traffic.watch(url, "forged.token.value", WATCH, {"id": "x"}, once)
    assert (once.updates, once.errors) == (0, 1)
    again = LiveTally()
    retrying = asyncio.create_task(
        traffic.watch(url, "forged.token.value", WATCH, {"id": "x"}, again, reconnect_after_s=0.01)
    )
    try:
        await _until(lambda: again.errors >= 3)
    finally:
        retrying.cancel()


async def _until(condition: object, timeout_s: float = 10) -> None:
    assert callable(condition)
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - the tallies are plain counters, with no event to wait on
            await asyncio.sleep(0.01)
