"""`python -m bench.soak [--minutes 30] [--write]`: a bounded soak of one service process.

Mixed player traffic (reads, actions, renames, pets created and deleted) and subscriptions that churn
(connect, subscribe, read, complete, disconnect) run against one service on an embedded SecantusDB for
the given time. Every ``--sample-s`` the script records the service's RSS, open file descriptors,
asyncio tasks, live subscriptions and event-loop lag (from its own /metrics). The verdict: RSS growth
after the warm-up (the first sixth of the run), against a target of under 10%. Requests count the
players' answered steps (a pet created and another deleted are one); outcomes are theirs. With --write
the result and the curve replace the soak section of docs/performance.md (the benchmark keeps that
section).

Not a CI test: it runs for half an hour, and its numbers depend on the machine (docs/performance.md).
"""

import argparse
import asyncio
import os
import random
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.__main__ import _environment, _token, machine
from bench.processes import Server, stats
from bench.report import SOAK_END as END
from bench.report import SOAK_START as START
from bench.report import replace_soak_section
from pixelpet.client import traffic
from pixelpet.client.http import post_graphql
from pixelpet.client.traffic import ClosedLoop, Tally, Turn
from pixelpet.client.websocket import GraphQLWebSocket
from pixelpet.devdb import DevDatabase, free_port

PERFORMANCE = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
PLAYERS = 8
CHURNERS = 40  # concurrent subscribers, each connecting, subscribing and leaving over and over
REQUESTS_PER_S = 80
TARGET_GROWTH = 0.10
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
    """The soak's players and churning subscribers, on pixelpet.client.traffic's closed loops."""

    def __init__(self, url: str, stop: asyncio.Event) -> None:
        self.url = url
        self.stop = stop
        self.requests = Tally()
        self.subscriptions_opened = 0
        self.pets: dict[str, list[str]] = {}
        # One token per player for the whole run, as a real client keeps its token (a fresh one per request
        # would fill the verifier's cache of 10,000 tokens, about 4 MiB, and read as growth).
        self.tokens = {f"soak{n}": _token(f"soak{n}") for n in range(PLAYERS)}

    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            for owner, token in self.tokens.items():
                created = [await post_graphql(http, CREATE, {"n": f"Soak{n}"}, token=token) for n in range(5)]
                self.pets[owner] = [answer.data["createPet"]["id"] for answer in created if answer.data]
            players = traffic.run(
                self._player_step(http),
                # Each player waits for an answer, then for the rest of its share of the rate.
                ClosedLoop(PLAYERS, pace_s=PLAYERS / REQUESTS_PER_S),
                until=self.stop.is_set,
                tally=self.requests,
            )
            churners = traffic.run(self._churner_step(), ClosedLoop(CHURNERS), until=self.stop.is_set)
            await asyncio.gather(players, churners)

    def _player_step(self, http: httpx.AsyncClient) -> traffic.Step:
        owners = list(self.tokens)
        dice = [random.Random(owner) for owner in owners]

        async def step(turn: Turn) -> str:
            owner, rng = owners[turn.worker], dice[turn.worker]
            token, pets = self.tokens[owner], self.pets[owner]
            roll = rng.random()
            pet = rng.choice(pets)
            if roll < 0.4:
                query, variables = GET, {"id": pet}
            elif roll < 0.6:
                query, variables = LIST, {}
            elif roll < 0.85:
                query = f"mutation($id: ID!) {{ {rng.choice(ACTIONS)}(id: $id) {{ version }} }}"
                variables = {"id": pet}
            elif roll < 0.95:
                query, variables = RENAME, {"id": pet, "n": f"N{rng.randrange(1000)}"}
            else:  # churn pets too: one created, the oldest deleted
                created = await post_graphql(http, CREATE, {"n": "New"}, token=token)
                if created.data is None:
                    return created.outcome
                pets.append(created.data["createPet"]["id"])
                query, variables = DELETE, {"id": pets.pop(0)}
            return (await post_graphql(http, query, variables, token=token)).outcome

        return step

    def _churner_step(self) -> traffic.Step:
        dice = [random.Random(number) for number in range(CHURNERS)]

        async def visit(turn: Turn) -> str:
            """Connect, subscribe, watch, complete (or leave it to the disconnect), disconnect."""
            rng = dice[turn.worker]
            owner = f"soak{turn.worker % PLAYERS}"
            try:
                async with await GraphQLWebSocket.connect(self.url, self.tokens[owner]) as client:
                    for _ in range(rng.randrange(1, 6)):  # several subscriptions per connection
                        subscription = await client.subscribe(PET_STATS, {"id": rng.choice(self.pets[owner])})
                        await subscription.next(timeout_s=10)
                        self.subscriptions_opened += 1
                        await asyncio.sleep(rng.uniform(0.5, 8))  # watch for a while
                        if rng.random() < 0.7:
                            await subscription.complete()
            finally:
                await asyncio.sleep(rng.uniform(0, 1))
            return "OK"

        return visit


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
    load = Traffic(server.url, stop)
    running = asyncio.create_task(load.run())
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
                        requests=load.requests.answered,
                        subscriptions_opened=load.subscriptions_opened,
                    )
                )
                previous_lag = lag
                print(_row(samples[-1]), flush=True)
                del elapsed
    finally:
        stop.set()
        await asyncio.gather(running, return_exceptions=True)
        server.stop()
        await database.stop_async()
    return samples, dict(load.requests.outcomes)


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
