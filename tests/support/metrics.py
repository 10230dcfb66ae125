"""Reading a process's /metrics the way Prometheus does, and waiting on conditions as events."""

import asyncio
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def scrape(http: httpx.AsyncClient, name: str, **labels: str) -> float:
    response = await http.get("/metrics")
    response.raise_for_status()
    return metric(response.text, name, **labels)


async def eventually(condition: Callable[[], bool], *, within_s: float) -> bool:
    """Whether ``condition`` holds at some point within ``within_s`` (checked every 20 ms)."""
    try:
        async with asyncio.timeout(within_s):
            while not condition():  # noqa: ASYNC110 - polls state no event announces (counts, timers)
                await asyncio.sleep(0.02)
    except TimeoutError:
        return False
    return True
