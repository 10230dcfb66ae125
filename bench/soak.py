"""`python -m bench.soak [--minutes 30] [--write]`: a bounded soak of one service process.

Mixed player traffic (reads, actions, renames, pets created and deleted) and subscriptions that churn
(connect, subscribe, read, complete, disconnect) run against one service on an embedded SecantusDB for
the given time. Every ``--sample-s`` the script records the service's RSS, open file descriptors,
asyncio tasks, live subscriptions and event-loop lag (from its own /metrics). The verdict: RSS growth
after the warm-up (the first sixth of the run), against a target of under 10%. With --write the result
and the curve replace the soak section of docs/performance.md (the benchmark keeps that section).

Not a CI test: it runs for half an hour, and its numbers depend on the machine (docs/performance.md).
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.__main__ import _environment, _token, machine
from bench.processes import Server, stats
from bench.report import SOAK_END as END
from bench.report import SOAK_START as START
from bench.report import replace_soak_section
from pixelpet.devdb import DevDatabase, free_port

PERFORMANCE = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
PLAYERS = 8
CHURNERS = 40  # concurrent subscribers, each connecting, subscribing and leaving over and over
REQUESTS_PER_S = 80
TARGET_GROWTH = 0.10
PROTOCOL = websockets.Subprotocol("graphql-transport-ws")
PET_STATS = "subscription($id: ID!) { petStats(id: $id) { id version mood stats { hunger } } }"
ACTIONS = ["feedPet", "playWithPet", "putPetToSleep", "wakePet"]
CREATE = "mutation($n: String!) { createPet(input: {name: $n, species: CAT}) { id } }"
GET = "query($id: ID!) { pet(id: $id) { id mood needs } }"
LIST = "{ pets(first: 20) { edges { node { id name } } } }"
RENAME = "mutation($id: ID!, $n: String!) { renamePet(id: $id, name: $n) { id } }"
DELETE = "mutation($id: ID!) { deletePet(id: $id) }"
COLUMNS = (
    "| minute | RSS MiB | fds | tasks | subs | loop lag mean ms | lag > 100 ms | requests | subs opened |"
)


@dataclass
class Sample:
    minute: float
    rss_mib: float
    fds: int
    tasks: float
    subscriptions: float
    lag_mean_ms: float
    lag_over_100ms: float
    requests: int
    subscriptions_opened: int


class Traffic:
    def __init__(self, url: str, stop: asyncio.Event) -> None:
        self.url = url
        self.stop = stop
        self.requests = 0
        self.outcomes: dict[str, int] = {}
        self.subscriptions_opened = 0
        self.pets: dict[str, list[str]] = {}
        # One token per player for the whole run, as a real client keeps its token (a fresh one per request
        # would fill the verifier's cache of 10,000 tokens, about 4 MiB, and read as growth).
        self.tokens: dict[str, str] = {}

    def token(self, owner: str) -> str:
        if owner not in self.tokens:
            self.tokens[owner] = _token(owner)
        return self.tokens[owner]

    async def _graphql(
        self, http: httpx.AsyncClient, owner: str, query: str, variables: dict[str, Any]
    ) -> dict[str, Any]:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.token(owner)}"},
        )
        body: dict[str, Any] = response.json()
        errors = body.get("errors") or []
        code = errors[0]["extensions"]["code"] if errors else "OK"
        self.outcomes[code] = self.outcomes.get(code, 0) + 1
        self.requests += 1
        return body

    async def player(self, owner: str) -> None:
        rng = random.Random(owner)
        interval = PLAYERS / REQUESTS_PER_S
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            pets = self.pets.setdefault(owner, [])
            for index in range(5):
                created = await self._graphql(http, owner, CREATE, {"n": f"Soak{index}"})
                pets.append(created["data"]["createPet"]["id"])
            while not self.stop.is_set():
                started = time.monotonic()
                roll = rng.random()
                pet = rng.choice(pets)
                if roll < 0.4:
                    await self._graphql(http, owner, GET, {"id": pet})
                elif roll < 0.6:
                    await self._graphql(http, owner, LIST, {})
                elif roll < 0.85:
                    action = f"mutation($id: ID!) {{ {rng.choice(ACTIONS)}(id: $id) {{ version }} }}"
                    await self._graphql(http, owner, action, {"id": pet})
                elif roll < 0.95:
                    await self._graphql(http, owner, RENAME, {"id": pet, "n": f"N{rng.randrange(1000)}"})
                else:  # churn pets too: one created, the oldest deleted
                    created = await self._graphql(http, owner, CREATE, {"n": "New"})
                    pets.append(created["data"]["createPet"]["id"])
                    await self._graphql(http, owner, DELETE, {"id": pets.pop(0)})
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def churner(self, number: int) -> None:
        rng = random.Random(number)
        owner = f"soak{number % PLAYERS}"
        ws_url = self.url.replace("http", "ws", 1) + "/graphql"
        while not self.stop.is_set():
            pets = self.pets.get(owner)
            if not pets:
                await asyncio.sleep(0.5)
                continue
            with contextlib.suppress(OSError, websockets.ConnectionClosed, TimeoutError):
                async with websockets.connect(ws_url, subprotocols=[PROTOCOL]) as socket:
                    init = {"authorization": f"Bearer {self.token(owner)}"}
                    await socket.send(json.dumps({"type": "connection_init", "payload": init}))
                    await asyncio.wait_for(socket.recv(), 10)
                    for operation in range(rng.randrange(1, 6)):  # several subscriptions per connection
                        message = {
                            "id": str(operation),
                            "type": "subscribe",
                            "payload": {"query": PET_STATS, "variables": {"id": rng.choice(pets)}},
                        }
                        await socket.send(json.dumps(message))
                        await asyncio.wait_for(socket.recv(), 10)
                        self.subscriptions_opened += 1
                        await asyncio.sleep(rng.uniform(0.5, 8))  # watch for a while
                        if rng.random() < 0.7:  # complete it; otherwise leave it to the disconnect
                            await socket.send(json.dumps({"id": str(operation), "type": "complete"}))
            await asyncio.sleep(rng.uniform(0, 1))


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)
    return float(match.group(1)) if match else float("nan")


def _lag(text: str) -> tuple[float, float, float]:
    """(sum, count, count over 100 ms) of the loop-lag histogram."""
    buckets = dict(re.findall(r'^pixelpet_event_loop_lag_seconds_bucket{le="([^"]+)"} (\S+)$', text, re.M))
    total = float(buckets.get("+Inf", 0))
    return _metric(text, "pixelpet_event_loop_lag_seconds_sum"), total, total - float(buckets.get("0.1", 0))


async def soak(minutes: float, sample_s: float, workdir: Path) -> tuple[list[Sample], dict[str, int]]:
    database = DevDatabase(storage=workdir / "db", port=free_port(), log_file=workdir / "db.log")
    await database.start_async()
    env = {
        key: value
        for key, value in _environment(database.uri).items()
        if "PING_INTERVAL" not in key and "SNAPSHOT" not in key
    }
    server = Server("soak", ["pixelpet", "serve"], env, workdir)
    server.start()
    stop = asyncio.Event()
    traffic = Traffic(server.url, stop)
    workers = [asyncio.create_task(traffic.player(f"soak{n}")) for n in range(PLAYERS)]
    workers += [asyncio.create_task(traffic.churner(n)) for n in range(CHURNERS)]
    samples: list[Sample] = []
    started = time.monotonic()
    previous_lag = (0.0, 0.0, 0.0)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            while (elapsed := time.monotonic() - started) < minutes * 60:
                await asyncio.sleep(sample_s)
                text = (await http.get("/metrics")).text
                lag = _lag(text)
                observations = lag[1] - previous_lag[1]
                samples.append(
                    Sample(
                        minute=(time.monotonic() - started) / 60,
                        rss_mib=stats(server.pid).rss_bytes / 2**20,
                        fds=len(os.listdir(f"/proc/{server.pid}/fd")),
                        tasks=_metric(text, "pixelpet_event_loop_tasks"),
                        subscriptions=_metric(text, "pixelpet_subscriptions_active"),
                        lag_mean_ms=1000 * (lag[0] - previous_lag[0]) / observations if observations else 0.0,
                        lag_over_100ms=lag[2] - previous_lag[2],
                        requests=traffic.requests,
                        subscriptions_opened=traffic.subscriptions_opened,
                    )
                )
                previous_lag = lag
                print(_row(samples[-1]), flush=True)
                del elapsed
    finally:
        stop.set()
        await asyncio.gather(*workers, return_exceptions=True)
        server.stop()
        await database.stop_async()
    return samples, traffic.outcomes


def _row(sample: Sample) -> str:
    return (
        f"| {sample.minute:5.1f} | {sample.rss_mib:6.1f} | {sample.fds:4d} | {sample.tasks:5.0f} | "
        f"{sample.subscriptions:4.0f} | {sample.lag_mean_ms:6.2f} | {sample.lag_over_100ms:3.0f} | "
        f"{sample.requests:7d} | {sample.subscriptions_opened:6d} |"
    )


def render(samples: list[Sample], outcomes: dict[str, int], minutes: float) -> str:
    warm = next(s for s in samples if s.minute >= minutes / 6)
    last = samples[-1]
    growth = (last.rss_mib - warm.rss_mib) / warm.rss_mib
    peak = max(s.rss_mib for s in samples if s.minute >= warm.minute)
    verdict = "met" if growth < TARGET_GROWTH else "**missed**"
    low, high = min(s.rss_mib for s in samples), max(s.rss_mib for s in samples)
    bars = "▁▂▃▄▅▆▇█"
    curve = "".join(bars[int((s.rss_mib - low) / (high - low or 1) * (len(bars) - 1))] for s in samples)
    info = machine()
    lines = [
        START,
        "## Soak",
        "",
        f"`python -m bench.soak --minutes {minutes:g} --write` on {info.get('cpu', 'this machine')}: "
        f"{PLAYERS} players at about {REQUESTS_PER_S} requests/s in all, {CHURNERS} subscribers connecting, "
        "subscribing, completing and leaving over and over, pets created and deleted.",
        "",
        f"RSS after the warm-up (minute {warm.minute:.1f}): {warm.rss_mib:.1f} MiB; at the end: "
        f"{last.rss_mib:.1f} MiB ({growth:+.1%}; peak {peak:.1f} MiB). Target under {TARGET_GROWTH:.0%}: "
        f"{verdict}. {last.requests:,} requests, {last.subscriptions_opened:,} subscriptions opened; "
        "outcomes: " + ", ".join(f"{code} {count:,}" for code, count in sorted(outcomes.items())) + ".",
        "",
        f"RSS over the run ({low:.1f} to {high:.1f} MiB): `{curve}`",
        "",
        COLUMNS,
        "|---|---|---|---|---|---|---|---|---|",
        *(_row(sample) for sample in samples),
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--sample-s", type=float, default=30)
    parser.add_argument(
        "--write", action="store_true", help="rewrite the soak section of docs/performance.md"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pixelpet-soak-") as workdir:
        samples, outcomes = asyncio.run(soak(args.minutes, args.sample_s, Path(workdir)))
    section = render(samples, outcomes, args.minutes)
    print(section)
    if args.write:
        PERFORMANCE.write_text(replace_soak_section(PERFORMANCE.read_text(), section))


if __name__ == "__main__":
    main()
