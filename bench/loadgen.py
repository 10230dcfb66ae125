"""A small closed-loop HTTP/1.1 load generator on raw asyncio streams.

Python HTTP clients cost more CPU per request than the service under test does on a 2-core machine;
this one writes pre-built request bytes on keep-alive connections and reads Content-Length bodies,
so the generator stays out of the way.
"""

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

# One unit of work on a keep-alive connection (one request, or a create-then-delete pair); it
# returns its outcome ("OK", an error code, or http_<status>).
Step = Callable[["Connection", int], Awaitable[str]]


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies_s: list[float]
    errors: int
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_s) * 1000 if self.latencies_s else float("nan")


def address(url: str) -> tuple[str, int]:
    """(host, port) of a server's base URL, as the benchmark's child servers have: http://host:port."""
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


class Connection:
    def __init__(self, host: str, port: int, headers: dict[str, str], slot: int = 0) -> None:
        self._host, self._port = host, port
        self.slot = slot  # which worker owns it: steps use it to act as that worker's owner
        self._headers = "".join(f"{key}: {value}\r\n" for key, value in headers.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{self._headers}\r\n"
        )
        self._writer.write(head.encode() + body)
        status_line = await self._reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self._reader.readexactly(length)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()


def graphql_outcome(status: int, body: bytes) -> str:
    if status != 200:
        return f"http_{status}"
    errors = json.loads(body).get("errors")
    return "OK" if not errors else str(errors[0].get("extensions", {}).get("code", "ERROR"))


def post(
    build: Callable[[int], tuple[str, bytes]], classify: Callable[[int, bytes], str] = graphql_outcome
) -> Step:
    """A step that sends one request built from the step number."""

    async def step(connection: Connection, number: int) -> str:
        path, body = build(number)
        status, payload = await connection.post(path, body)
        return classify(status, payload)

    return step


async def run_load(
    *,
    url: str,
    step: Step,
    requests: int,
    concurrency: int,
    max_seconds: float,
    headers: list[dict[str, str]] | None = None,
) -> LoadResult:
    """Run ``requests`` steps from ``concurrency`` workers; stop early after ``max_seconds``.

    Worker ``i`` sends ``headers[i % len(headers)]`` on every request.
    """
    host, port = address(url)
    per_worker = headers or [{}]
    counter = iter(range(requests))
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    deadline = time.perf_counter() + max_seconds

    async def worker(slot: int) -> None:
        connection = Connection(host, port, per_worker[slot % len(per_worker)], slot)
        try:
            for number in counter:
                if time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                outcome = await step(connection, number)
                latencies.append(time.perf_counter() - started)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(slot) for slot in range(concurrency)))
    elapsed = time.perf_counter() - started
    errors = sum(count for outcome, count in outcomes.items() if outcome != "OK")
    return LoadResult(len(latencies), elapsed, latencies, errors, outcomes)


def graphql_body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}).encode()
