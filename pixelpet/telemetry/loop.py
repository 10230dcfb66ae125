"""Event-loop lag: how late a periodic timer fires. The first signal that something blocks the loop."""

import asyncio

from prometheus_client import Histogram

INTERVAL_S = 0.25


async def watch_event_loop_lag(histogram: Histogram, *, interval_s: float = INTERVAL_S) -> None:
    """Runs until cancelled, observing each timer's delay past its due time."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + interval_s
        await asyncio.sleep(interval_s)
        histogram.observe(max(0.0, loop.time() - due))
