"""The benchmark's HTTP/1.1 client on raw asyncio streams, and closed-loop load on it.

Python HTTP clients cost more CPU per request than the service under test does on a 2-core machine;
this one writes pre-built request bytes on keep-alive connections and reads Content-Length bodies,
so the load stays out of the way. The load itself is pixelpet.client.traffic's closed loop, one
keep-alive connection per worker.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from pixelpet.client import traffic
from pixelpet.client.http import json_object, outcome
from pixelpet.client.traffic import ClosedLoop, Tally

# One unit of work on a keep-alive connection (one request, or a create-then-delete pair); it
# returns its outcome ("OK", an error code, or http_<status>: pixelpet/client/http.py).
Step = Callable[["Connection", int], Awaitable[str]]


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
    return outcome(status, json_object(body))


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
) -> Tally:
    """Run ``requests`` steps from ``concurrency`` workers; stop early after ``max_seconds``.

    Worker ``i`` sends ``headers[i % len(headers)]`` on every request.
    """
    host, port = address(url)
    per_worker = headers or [{}]
    connections = [
        Connection(host, port, per_worker[slot % len(per_worker)], slot) for slot in range(concurrency)
    ]
    try:
        return await traffic.run(
            lambda turn: step(connections[turn.worker], turn.number),
            ClosedLoop(concurrency),
            max_steps=requests,
            max_seconds=max_seconds,
        )
    finally:
        for connection in connections:
            await connection.close()


def graphql_body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}).encode()
