"""Time as a dependency: the domain never asks the system what time it is."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Anything that can tell the current UTC time and run a callback at a moment."""

    def now(self) -> datetime: ...

    def call_at(self, moment: datetime, callback: Callable[[], None]) -> Cancellable:
        """Run ``callback`` on the event loop once ``moment`` has come."""
        ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def call_at(self, moment: datetime, callback: Callable[[], None]) -> Cancellable:
        delay = max(0.0, (moment - self.now()).total_seconds())
        return asyncio.get_running_loop().call_later(delay, callback)


class _ManualTimer:
    def __init__(self, clock: "ManualClock", moment: datetime, callback: Callable[[], None]) -> None:
        self.moment = moment
        self.callback = callback
        self._clock = clock

    def cancel(self) -> None:
        self._clock._discard(self)


class ManualClock:
    """A clock that only moves when told to: for tests and benchmarks."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start
        self._timers: list[_ManualTimer] = []

    def now(self) -> datetime:
        return self._now

    def call_at(self, moment: datetime, callback: Callable[[], None]) -> Cancellable:
        timer = _ManualTimer(self, moment, callback)
        if moment <= self._now:
            asyncio.get_running_loop().call_soon(callback)
        else:
            self._timers.append(timer)
        return timer

    def pending(self) -> int:
        """Timers armed and not yet due or cancelled (tests check that nothing is left behind)."""
        return len(self._timers)

    def advance(self, delta: timedelta) -> None:
        self._now += delta
        due = [timer for timer in self._timers if timer.moment <= self._now]
        self._timers = [timer for timer in self._timers if timer.moment > self._now]
        for timer in due:
            timer.callback()

    def _discard(self, timer: _ManualTimer) -> None:
        if timer in self._timers:
            self._timers.remove(timer)
