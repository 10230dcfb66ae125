"""Bounded traffic: steps started on a schedule, each one's outcome and latency tallied as data.

A step is one unit of a player's work (a query, a mutation, a create-then-delete pair, a subscriber's
visit) that returns its outcome (see http.py). Two schedules:

- An open loop starts steps at a fixed rate whatever the latency, the way players arrive: a slow or
  failing service shows as latency, errors and a lower achieved rate instead of slowing the load down
  and hiding (``pixelpet loadgen``, the end-to-end test).
- A closed loop keeps workers busy, each starting its next step when its last one ends, no sooner than
  its pace: the throughput a service sustains (the benchmark), or players who wait for each answer (the
  soak).

Every run is bounded by a number of steps, a time, or a condition, and can be paused from outside.
``watch`` adds subscribers to any traffic.
"""

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pixelpet.client.websocket import GraphQLWebSocket

PAUSE_POLL_S = 0.1


@dataclass(frozen=True, slots=True)
class Turn:
    number: int  # 0, 1, 2... in the order steps start
    worker: int  # the closed loop's worker that runs it (always 0 in an open loop)


Step = Callable[[Turn], Awaitable[str]]


@dataclass(frozen=True)
class OpenLoop:
    rate_per_s: float
    # Past this many unanswered steps, arrivals wait: the generator's own sockets and memory stay bounded.
    max_in_flight: int = 64


@dataclass(frozen=True)
class ClosedLoop:
    workers: int
    pace_s: float = 0.0  # the least time from one of a worker's steps to its next


@dataclass
class Tally:
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None
    steps_started: int = 0
    latencies_s: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def answered(self) -> int:
        return len(self.latencies_s)

    @property
    def errors(self) -> int:
        return self.answered - self.outcomes["OK"]

    def elapsed_s(self) -> float:
        return (self.ended if self.ended is not None else time.perf_counter()) - self.started

    def rate_per_s(self) -> float:
        elapsed = self.elapsed_s()
        return self.answered / elapsed if elapsed else 0.0

    def percentile_ms(self, q: float) -> float:
        return percentile(self.latencies_s, q) * 1000

    def record(self, outcome: str, latency_s: float) -> None:
        self.latencies_s.append(latency_s)
        self.outcomes[outcome] += 1


def percentile(values: Sequence[float], q: float) -> float:
    """The value under which a fraction ``q`` of ``values`` falls, without interpolation (nan if none)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _never() -> bool:
    return False


async def run(
    step: Step,
    schedule: OpenLoop | ClosedLoop,
    *,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    until: Callable[[], bool] = _never,
    paused: Callable[[], bool] = _never,
    tally: Tally | None = None,
) -> Tally:
    """Runs ``step`` on ``schedule`` until a bound is reached; returns once every started step is answered.

    ``until`` and ``paused`` are polled, so another thread may flip them (a ``threading.Event``'s
    ``is_set``). ``tally`` lets the caller watch the numbers while the run goes on; its clock starts here.
    """
    tally = tally if tally is not None else Tally()
    tally.started = time.perf_counter()
    deadline = tally.started + max_seconds if max_seconds is not None else float("inf")

    def going_on() -> bool:
        under_count = max_steps is None or tally.steps_started < max_steps
        return under_count and time.perf_counter() < deadline and not until()

    if isinstance(schedule, OpenLoop):
        await _open_loop(step, schedule, tally, going_on, paused)
    else:
        await _closed_loop(step, schedule, tally, going_on, paused)
    tally.ended = time.perf_counter()
    return tally


async def _open_loop(
    step: Step, schedule: OpenLoop, tally: Tally, going_on: Callable[[], bool], paused: Callable[[], bool]
) -> None:
    in_flight: set[asyncio.Task[None]] = set()
    room = asyncio.Semaphore(schedule.max_in_flight)
    interval = 1 / schedule.rate_per_s
    due = time.perf_counter()
    while going_on():
        if paused():
            await asyncio.sleep(PAUSE_POLL_S)
            due = time.perf_counter()  # resume at the rate, without a burst to catch up the pause
            continue
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
            continue  # a bound may have been reached meanwhile
        await room.acquire()
        if not going_on() or paused():  # waiting for room took long enough for either to change
            room.release()
            continue
        task = asyncio.create_task(_timed(step, Turn(tally.steps_started, 0), tally))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        task.add_done_callback(lambda _: room.release())
        tally.steps_started += 1
        due += interval
    await asyncio.gather(*in_flight)


async def _closed_loop(
    step: Step, schedule: ClosedLoop, tally: Tally, going_on: Callable[[], bool], paused: Callable[[], bool]
) -> None:
    async def worker(index: int) -> None:
        while going_on():
            if paused():
                await asyncio.sleep(PAUSE_POLL_S)
                continue
            began = time.perf_counter()
            turn = Turn(tally.steps_started, index)
            tally.steps_started += 1
            await _timed(step, turn, tally)
            if schedule.pace_s:
                await asyncio.sleep(max(0.0, schedule.pace_s - (time.perf_counter() - began)))

    await asyncio.gather(*(worker(index) for index in range(schedule.workers)))


async def _timed(step: Step, turn: Turn, tally: Tally) -> None:
    began = time.perf_counter()
    try:
        outcome = await step(turn)
    except Exception as error:  # a failed step is an outcome to count, and the traffic goes on
        outcome = type(error).__name__
    tally.record(outcome, time.perf_counter() - began)


@dataclass
class LiveTally:
    updates: int = 0  # payloads with data and no errors
    errors: int = 0  # payloads with errors, failed operations, lost or refused connections


async def watch(
    base_url: str,
    token: str,
    query: str,
    variables: Mapping[str, Any],
    tally: LiveTally,
    *,
    reconnect_after_s: float | None = None,
) -> None:
    """One subscriber holding ``query`` open until cancelled, counting what it receives in ``tally``.

    Without ``reconnect_after_s`` a failure is counted and the watch ends; with it, the subscriber
    connects again after that pause, as a client app does when the service restarts its stream.
    """
    while True:
        try:
            async with await GraphQLWebSocket.connect(base_url, token) as client:
                async for payload in await client.subscribe(query, variables):
                    if payload.get("errors"):
                        tally.errors += 1
                    else:
                        tally.updates += 1
        except Exception:  # a subscriber that fails is counted, and the load goes on
            tally.errors += 1
        if reconnect_after_s is None:
            return
        await asyncio.sleep(reconnect_after_s)
