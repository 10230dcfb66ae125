"""The app's own CPU per request, in process: `python -m bench.inprocess [--requests N] [--profile WORKLOAD]`.

The app's ASGI callable on the in-memory store, called directly: no socket, no uvicorn, no database, no load
generator sharing the cores. What is left is our code and its libraries (middleware, GraphQL, the domain,
JSON), measured in CPU time: steadier than `make bench`'s rows, and the place to look for the app's share of a
request (docs/performance.md, log entries 32 and 33 were found here). ``--profile`` prints cProfile's
heaviest functions for one workload. Its numbers are for comparing two versions of the code on one machine,
never with `make bench`'s (which include everything this leaves out).
"""

import argparse
import asyncio
import cProfile
import json
import pstats
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from starlette.types import ASGIApp, Message

from bench.__main__ import LIST, PET, _token
from pixelpet.app import create_app
from pixelpet.clock import SystemClock
from pixelpet.settings import LimitSettings, Settings
from pixelpet.storage.memory import InMemoryPetStore

CREATE = "mutation($n: String!) { createPet(input: {name: $n, species: DOG}) { id } }"
PAGE = 20
UNLIMITED = 10.0**9


@dataclass(frozen=True)
class InProcess:
    """CPU microseconds per request of each workload, best of ``repeats`` timed batches."""

    pet_query_us: float
    list_of_20_us: float
    list_of_1_us: float

    @property
    def per_pet_us(self) -> float:
        """What each further pet of a page adds."""
        return (self.list_of_20_us - self.list_of_1_us) / (PAGE - 1)


def _settings() -> Settings:
    unlimited = LimitSettings(
        mutations_per_second=UNLIMITED,
        mutation_burst=UNLIMITED,
        queries_per_second=UNLIMITED,
        query_burst=UNLIMITED,
    )
    # Never connected to: the in-memory store replaces the database.
    return Settings(_env_file=None, mongodb_uri=SecretStr("mongodb://in-memory.invalid/"), limits=unlimited)


async def _post(app: ASGIApp, body: bytes, token: str) -> dict[str, Any]:
    """One ``POST /graphql`` through the app as uvicorn would hand it over; its answer's JSON."""
    sent: list[Message] = []
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"authorization", f"Bearer {token}".encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    await app(scope, receive, send)
    answer: dict[str, Any] = json.loads(sent[-1]["body"])
    return answer


def _body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}).encode()


async def measure(*, requests: int, repeats: int = 5, profile: str | None = None) -> InProcess:
    app = create_app(_settings(), clock=SystemClock(), store=InMemoryPetStore())
    token = _token("owner-0")
    async with app.router.lifespan_context(app):
        ids = []
        for number in range(PAGE + 5):
            created = await _post(app, _body(CREATE, {"n": f"pet{number}"}), token)
            ids.append(created["data"]["createPet"]["id"])
        bodies = {
            "pet": _body(PET, {"id": ids[0]}),
            "list": _body(LIST),
            "list1": _body(LIST.replace(f"first: {PAGE}", "first: 1")),
        }
        for name, body in bodies.items():  # every workload answers, before anything is timed
            answer = await _post(app, body, token)
            if "errors" in answer:
                raise RuntimeError(f"{name}: {answer['errors']}")

        async def best(body: bytes) -> float:
            for _ in range(max(1, requests // 5)):  # caches warm
                await _post(app, body, token)
            timings = []
            for _ in range(repeats):
                started = time.process_time()
                for _ in range(requests):
                    await _post(app, body, token)
                timings.append((time.process_time() - started) / requests * 1e6)
            return min(timings)

        result = InProcess(
            pet_query_us=await best(bodies["pet"]),
            list_of_20_us=await best(bodies["list"]),
            list_of_1_us=await best(bodies["list1"]),
        )
        if profile is not None:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(requests):
                await _post(app, bodies[profile], token)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    return result


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> InProcess:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="requests per timed batch")
    parser.add_argument("--profile", choices=("pet", "list", "list1"), help="cProfile one workload after")
    args = parser.parse_args(argv)
    result = asyncio.run(measure(requests=args.requests, profile=args.profile))
    out(f"pet query: {result.pet_query_us:.1f} µs of CPU per request")
    out(f"list of {PAGE}: {result.list_of_20_us:.1f} µs; list of 1: {result.list_of_1_us:.1f} µs")
    out(f"each further pet of a page: {result.per_pet_us:.1f} µs")
    return result


if __name__ == "__main__":
    main()
