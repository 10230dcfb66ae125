"""`python -m bench [--smoke] [--write]`: the whole benchmark run, from nothing back to nothing.

It starts its own SecantusDB and service processes, drives bounded workloads against each, stops
everything, prints the results and (with --write) rewrites docs/performance.md. Numbers are only
compared within one run: the machine is shared and noisy.
"""

import argparse
import asyncio
import json
import platform
import random
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient

from bench import crowd
from bench.accounts import AccountResult, measure_accounts, seed_players
from bench.crowd import CrowdResult
from bench.hostile import measure as measure_hostile
from bench.hostile import render as render_hostile
from bench.otlpsink import Received, TraceSink
from bench.processes import Server, stats
from bench.rawhttp import Connection, Step, address, graphql_body, graphql_outcome, post, run_load
from bench.report import (
    DEFLATE,
    EXPORT_ON,
    FLOOR,
    HAND_WRITTEN,
    OURS,
    UNSHARED,
    WSPROTO,
    Measurement,
    render,
    replace_soak_section,
    soak_section,
)
from bench.subscriptions import FanOutResult, IdleMemory, measure_fan_out, measure_idle_memory
from pixelpet.auth import mint_development_token
from pixelpet.client import traffic
from pixelpet.client.traffic import ClosedLoop, Tally, Turn
from pixelpet.clock import SystemClock
from pixelpet.devdb import DevDatabase, free_port
from pixelpet.settings import DEVELOPMENT_SECRET

# Realistic data: owners hold at most 50 pets (the production cap), so 1,000 pets are 20 owners' worth.
OWNERS = 20
DATABASE = "bench"
ACCOUNTS_DATABASE = "bench_accounts"
PET = "query($id: ID!) { pet(id: $id) { id name stats { hunger happiness energy } mood needs } }"
LIST = (
    "{ pets(first: 20) { edges { cursor node { id name stats { hunger happiness energy } mood needs } } } }"
)
FEED = "mutation($id: ID!) { feedPet(id: $id) { version stats { hunger } } }"
CREATE = "mutation($n: String!) { createPet(input: {name: $n, species: DOG}) { id } }"
DELETE = "mutation($id: ID!) { deletePet(id: $id) }"
WRITE_COMMANDS = {"insert", "update", "delete", "findAndModify", "commitTransaction"}


@dataclass(frozen=True)
class Plan:
    requests: int
    concurrency: int
    max_seconds: float
    pets: int
    fan_out: tuple[int, ...]
    mutations: int
    idle_s: float
    idle_subscriptions: int
    multiplexed: int  # subscriptions per connection, as clients that multiplex hold them
    account_players: int  # players connected with one `pets` subscription each (bench/accounts.py)
    account_pets: int  # pets per player
    account_mutations: int
    crowd: int  # subscriptions on one process (bench/crowd.py), `multiplexed` per connection
    crowd_pets: int  # pets they are spread over
    crowd_mutations: int  # renames, one at a time, going round those pets
    versus_rounds: int  # rounds of the request workloads alternating the service and baseline (b)


FULL = Plan(
    requests=3000,
    concurrency=16,
    max_seconds=40,
    pets=1000,
    fan_out=(100, 1000),
    mutations=20,
    idle_s=5,
    idle_subscriptions=1000,
    multiplexed=10,
    account_players=1000,
    account_pets=50,
    account_mutations=200,
    crowd=10_000,
    crowd_pets=1000,
    crowd_mutations=1000,
    versus_rounds=3,
)
SMOKE = Plan(
    requests=40,
    concurrency=4,
    max_seconds=20,
    pets=40,
    fan_out=(5, 10),
    mutations=2,
    idle_s=0.5,
    idle_subscriptions=10,
    multiplexed=2,
    account_players=5,
    account_pets=3,
    account_mutations=3,
    crowd=40,
    crowd_pets=4,
    crowd_mutations=4,
    versus_rounds=2,
)


def _token(subject: str) -> str:
    return mint_development_token(
        secret=DEVELOPMENT_SECRET, subject=subject, now=SystemClock().now(), ttl=timedelta(hours=2)
    )


def _environment(database_uri: str) -> dict[str, str]:
    return {
        "PIXELPET_MONGODB_URI": database_uri,
        "PIXELPET_MONGO__DATABASE": DATABASE,
        "PIXELPET_LIMITS__MUTATIONS_PER_SECOND": "1000000",
        "PIXELPET_LIMITS__MUTATION_BURST": "1000000",
        # The load is one player's: lift the per-player query limit as well.
        "PIXELPET_LIMITS__QUERIES_PER_SECOND": "1000000",
        "PIXELPET_LIMITS__QUERY_BURST": "1000000",
        "PIXELPET_SUBSCRIPTIONS__MAX_PER_PROCESS": "5000",
        # Every probe subscribes as one player (only a pet's owner may watch it); lift the per-player cap.
        "PIXELPET_SUBSCRIPTIONS__MAX_PER_OWNER": "5000",
        # The fan-out probes only timestamp arrivals; a keepalive ping would count as one.
        "PIXELPET_SUBSCRIPTIONS__PING_INTERVAL_S": "3600",
        # Likewise a time-based snapshot: the fan-out measures change delivery only.
        "PIXELPET_SUBSCRIPTIONS__MIN_SNAPSHOT_INTERVAL_S": "3600",
    }


# The batch span processor's schedule delay for the export-on row, and a little over it to wait for a batch.
# Under load its batches fill (512 spans) long before either delay: 0.5 s only shortens the waits around the
# measurement (the SDK's default, 5 s, cost the suite's smoke run 11 s).
EXPORT_SCHEDULE_DELAY_MS = 500
EXPORT_DELAY_S = 0.8

# The 10,000-subscriber rows (bench/crowd.py) hold more than the caps above allow, all as few owners.
CROWD_LIMITS = {
    "PIXELPET_SUBSCRIPTIONS__MAX_PER_PROCESS": "20000",
    "PIXELPET_SUBSCRIPTIONS__MAX_PER_OWNER": "20000",
}


async def _measure(server: Server, name: str, load: Awaitable[Tally]) -> Measurement:
    before = stats(server.pid)
    result = await load
    after = stats(server.pid)
    cpu_per_1000 = (after.cpu_seconds - before.cpu_seconds) / max(1, result.answered) * 1000
    return Measurement(server.name, name, result, cpu_per_1000, after.peak_rss_bytes)


class Run:
    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        self.tokens = [_token(f"owner-{n}") for n in range(OWNERS)]
        self.headers = [{"Authorization": f"Bearer {token}"} for token in self.tokens]
        self.pets_by_owner: list[list[str]] = [[] for _ in range(OWNERS)]
        self.measurements: list[Measurement] = []
        self.fan_out: list[FanOutResult] = []
        self.idle_memory: list[IdleMemory] = []
        self.idle: dict[str, float] = {}
        self.accounts: list[AccountResult] = []
        self.crowds: list[CrowdResult] = []
        self.exported: Received | None = None
        # Baseline (b)'s rows (measured beside ours: versus_hand_written), and each round's CPU ratio.
        self.hand_written: list[Measurement] = []
        self.versus: dict[str, list[float]] = {}

    def _load(
        self,
        url: str,
        step: Step,
        *,
        requests: int | None = None,
        headers: list[dict[str, str]] | None = None,
    ) -> Awaitable[Tally]:
        return run_load(
            url=url,
            step=step,
            requests=requests or self.plan.requests,
            concurrency=self.plan.concurrency,
            max_seconds=self.plan.max_seconds,
            headers=headers or self.headers,
        )

    def _headers_for(self, prefix: str) -> list[dict[str, str]]:
        return [{"Authorization": f"Bearer {_token(f'{prefix}-{n}')}"} for n in range(self.plan.concurrency)]

    @property
    def pet_ids(self) -> list[str]:
        return [pet for pets in self.pets_by_owner for pet in pets]

    def _owned(self, connection: Connection, number: int) -> str:
        """A pet of the connection's owner (worker i acts as owner i % OWNERS)."""
        pets = self.pets_by_owner[connection.slot % OWNERS]
        return pets[number % len(pets)]

    def _on_owned_pet(self, query: str) -> Step:
        """A step running ``query`` on one of the worker's owner's pets (``$id``)."""

        async def step(connection: Connection, number: int) -> str:
            variables = {"id": self._owned(connection, number)}
            status, body = await connection.post("/graphql", graphql_body(query, variables))
            return graphql_outcome(status, body)

        return step

    def _graphql_steps(self) -> dict[str, Step]:
        """The request workloads over GraphQL, by name: the service's and the GraphQL baselines'."""
        return {
            "pet query": self._on_owned_pet(PET),
            "list of 20": post(lambda _: ("/graphql", graphql_body(LIST))),
            "feedPet": self._on_owned_pet(FEED),
        }

    async def _warm_up(self, url: str, step: Step) -> None:
        await self._load(url, step, requests=max(10, self.plan.requests // 10))

    async def seed(self, url: str, database_uri: str) -> None:
        for owner, headers in enumerate(self.headers):
            connection = Connection(*address(url), headers)
            for number in range(self.plan.pets // OWNERS):
                _, body = await connection.post("/graphql", graphql_body(CREATE, {"n": f"pet{number}"}))
                self.pets_by_owner[owner].append(json.loads(body)["data"]["createPet"]["id"])
            await connection.close()
        await _starve(database_uri)

    async def ours(self, database_uri: str) -> None:
        server = Server("pixelpet", ["pixelpet", "serve"], _environment(database_uri), self.workdir)
        server.start()
        try:
            await self.seed(server.url, database_uri)
            for pets in self.pets_by_owner:
                random.shuffle(pets)
            await self.versus_hand_written(server, database_uri)
            # Create+delete runs as owners of its own, so the per-owner cap never refuses it.
            churn = self._load(server.url, _create_then_delete, headers=self._headers_for("churn"))
            self.measurements.append(await _measure(server, "create+delete", churn))
            await self._idle(server)
            for subscribers in self.plan.fan_out:
                await self._fan_out(server, subscribers)
        finally:
            server.stop()

    async def versus_hand_written(self, ours: Server, database_uri: str) -> None:
        """The three request workloads on the service and on baseline (b), in alternating rounds.

        Measured minutes apart, the two sides of a ratio met different machines: this shared machine's speed
        drifts by 15% within minutes, and the ratios of single runs moved by as much. Here each round
        measures both sides back to back, in turns (ours first, then (b) first), on the same pets; each
        table row is that side's median round by CPU, and ``versus`` keeps every round's CPU ratio. Both
        processes run throughout, each measured by its own CPU; the idle one does little (the service's change
        stream reads (b)'s feed writes as it reads its own, on the same 2 cores).
        """
        theirs = Server(
            HAND_WRITTEN, ["bench.baselines", "starlette"], _environment(database_uri), self.workdir
        )
        theirs.start()
        try:
            steps = {
                ours.name: self._graphql_steps(),
                theirs.name: {
                    "pet query": _hand_written_step("/pet", self._owned),
                    "list of 20": _hand_written_step("/pets", None),
                    "feedPet": _hand_written_step("/feed", self._owned),
                },
            }
            for side in (ours, theirs):
                await self._warm_up(side.url, steps[side.name]["pet query"])
            for workload in ("pet query", "list of 20", "feedPet"):
                rounds: dict[str, list[Measurement]] = {ours.name: [], theirs.name: []}
                for number in range(self.plan.versus_rounds):
                    for side in (ours, theirs) if number % 2 == 0 else (theirs, ours):
                        if workload == "feedPet":
                            await _starve(database_uri)  # both sides feed the same starving pets
                        load = self._load(side.url, steps[side.name][workload])
                        rounds[side.name].append(await _measure(side, workload, load))
                self.versus[workload] = [
                    mine.cpu_s_per_1000 / hand.cpu_s_per_1000
                    for mine, hand in zip(rounds[ours.name], rounds[theirs.name], strict=True)
                ]
                self.measurements.append(_median(rounds[ours.name]))
                self.hand_written.append(_median(rounds[theirs.name]))
        finally:
            theirs.stop()

    async def _idle(self, server: Server) -> None:
        """With every pet decaying and no traffic, count what the service asks of the database."""
        before = await _command_counts(server.url)
        await asyncio.sleep(self.plan.idle_s)
        after = await _command_counts(server.url)
        delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
        self.idle = {
            "seconds": self.plan.idle_s,
            "pets": len(self.pet_ids),
            "writes": sum(count for name, count in delta.items() if name in WRITE_COMMANDS),
            **{f"command {name}": count for name, count in sorted(delta.items()) if count},
        }

    async def idle_cost(self, label: str, module: list[str], database_uri: str, per_connection: int) -> None:
        """RSS per idle subscription, in a service process of its own (see measure_idle_memory)."""
        server = Server(label, module, _environment(database_uri), self.workdir)
        server.start()
        try:
            self.idle_memory.append(
                await measure_idle_memory(
                    server=label,
                    url=server.url,
                    pid=server.pid,
                    token=self.tokens[0],
                    pet_ids=self.pets_by_owner[0][:per_connection],
                    connections=self.plan.idle_subscriptions // per_connection,
                )
            )
        finally:
            server.stop()

    async def fan_out_variant(self, variant: str, label: str, database_uri: str) -> None:
        """The largest fan-out against a variant of the service (see bench/baselines.py)."""
        server = Server(label, ["bench.baselines", variant], _environment(database_uri), self.workdir)
        server.start()
        try:
            await self._fan_out(server, max(self.plan.fan_out))
        finally:
            server.stop()

    async def _fan_out(self, server: Server, subscribers: int) -> None:
        """Every subscriber watches owner 0's first pet; see bench/subscriptions.py."""
        self.fan_out.append(
            await measure_fan_out(
                server=server.name,
                url=server.url,
                token=self.tokens[0],
                pet_id=self.pets_by_owner[0][0],
                subscribers=subscribers,
                mutations=self.plan.mutations,
            )
        )

    async def accounts_at_scale(self, database_uri: str) -> None:
        """Players with many pets, each connected with one account subscription (bench/accounts.py)."""
        owners = [f"player-{n}" for n in range(self.plan.account_players)]
        environment = {**_environment(database_uri), "PIXELPET_MONGO__DATABASE": ACCOUNTS_DATABASE}
        pet_ids = await seed_players(database_uri, ACCOUNTS_DATABASE, owners, self.plan.account_pets)
        server = Server(OURS, ["pixelpet", "serve"], environment, self.workdir)
        server.start()
        try:
            self.accounts.append(
                await measure_accounts(
                    url=server.url,
                    pid=server.pid,
                    tokens=[_token(owner) for owner in owners],
                    pet_ids=pet_ids,
                    mutations=self.plan.account_mutations,
                )
            )
        finally:
            server.stop()

    async def export_on(self, database_uri: str) -> None:
        """The single-pet query again, in a process exporting its spans over OTLP/HTTP to a sink of ours."""
        sink = TraceSink()
        environment = {
            **_environment(database_uri),
            "OTEL_EXPORTER_OTLP_ENDPOINT": await sink.start(),
            "OTEL_BSP_SCHEDULE_DELAY": str(EXPORT_SCHEDULE_DELAY_MS),
        }
        server = Server(EXPORT_ON, ["pixelpet", "serve"], environment, self.workdir)
        server.start()
        try:
            step = self._on_owned_pet(PET)
            await self._warm_up(server.url, step)
            # The batch processor posts what it holds at least every schedule delay: wait that long for the
            # warm-up's spans to be gone, and for the load's to arrive.
            await asyncio.sleep(EXPORT_DELAY_S)
            before = sink.received
            self.measurements.append(await _measure(server, "pet query", self._load(server.url, step)))
            await asyncio.sleep(EXPORT_DELAY_S)
            self.exported = sink.received - before
        finally:
            server.stop()
            await sink.stop()

    async def fan_out_at_scale(self, database_uri: str) -> None:
        """10,000 subscriptions on one process, spread over 1,000 pets and all on one pet (bench/crowd.py),
        each layout in a fresh process of its own so that its RSS is the subscriptions'."""
        per_connection = self.plan.multiplexed
        watches, pets = crowd.spread(
            self.pets_by_owner,
            pets=self.plan.crowd_pets,
            subscriptions=self.plan.crowd,
            per_connection=per_connection,
        )
        renames = [pets[number % len(pets)] for number in range(self.plan.crowd_mutations)]
        await self._crowd(database_uri, crowd.SPREAD, watches, renames)
        hot = self.pets_by_owner[0][0]
        watches = crowd.one_pet(0, hot, subscriptions=self.plan.crowd, per_connection=per_connection)
        await self._crowd(database_uri, crowd.ONE_PET, watches, [(0, hot)] * self.plan.mutations)

    async def _crowd(
        self, database_uri: str, layout: str, watches: list[crowd.Watch], renames: list[tuple[int, str]]
    ) -> None:
        environment = {**_environment(database_uri), **CROWD_LIMITS}
        server = Server(f"{OURS} ({layout})", ["pixelpet", "serve"], environment, self.workdir)
        server.start()
        try:
            self.crowds.append(
                await crowd.measure_crowd(
                    layout=layout,
                    url=server.url,
                    pid=server.pid,
                    tokens=self.tokens,
                    watches=watches,
                    renames=renames,
                )
            )
        finally:
            server.stop()

    async def raw_pymongo(self, database_uri: str) -> None:
        from pixelpet.settings import MongoSettings
        from pixelpet.storage.client import create_client

        client = create_client(database_uri, MongoSettings(database=DATABASE))
        pets = client[DATABASE]["pets"]
        ids = [[ObjectId(pet_id) for pet_id in owned] for owned in self.pets_by_owner]

        async def find_one(turn: Turn) -> str:
            owned = ids[turn.worker % OWNERS]
            await pets.find_one(
                {"_id": owned[turn.number % len(owned)], "owner": f"owner-{turn.worker % OWNERS}"}
            )
            return "OK"

        result = await traffic.run(find_one, ClosedLoop(self.plan.concurrency), max_steps=self.plan.requests)
        self.measurements.append(Measurement("(a) raw PyMongo", "pet query", result, float("nan"), 0))
        await client.close()

    async def baseline(self, variant: str, label: str, database_uri: str, workloads: list[str]) -> None:
        server = Server(label, ["bench.baselines", variant], _environment(database_uri), self.workdir)
        server.start()
        try:
            steps = self._graphql_steps()
            await self._warm_up(server.url, steps[workloads[0]])
            for workload in workloads:
                self.measurements.append(
                    await _measure(server, workload, self._load(server.url, steps[workload]))
                )
        finally:
            server.stop()


def _median(rounds: list[Measurement]) -> Measurement:
    """The round whose CPU per request is the median (the lower middle one of an even count)."""
    return sorted(rounds, key=lambda m: m.cpu_s_per_1000)[(len(rounds) - 1) // 2]


def _hand_written_step(path: str, pets: Callable[[Connection, int], str] | None) -> Step:
    """A request to baseline (b) (bench/baselines.py): the worker's owner, and a pet of it if ``pets``."""

    async def step(connection: Connection, number: int) -> str:
        payload = {"owner": f"owner-{connection.slot % OWNERS}"}
        if pets is not None:
            payload["id"] = pets(connection, number)
        status, body = await connection.post(path, json.dumps(payload).encode())
        if status in (200, 409):  # /feed names its outcome as the service would (ACTION_REFUSED, CONFLICT)
            return str(json.loads(body).get("outcome", "OK"))
        return f"http_{status}"

    return step


async def _starve(database_uri: str) -> None:
    """Starving pets, so that feeding succeeds about three times per pet before they are full (again before
    baseline (b) feeds them, so that it meets the same pets the service did)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(database_uri)
    await client[DATABASE]["pets"].update_many({}, {"$set": {"hunger": 100.0}})
    await client.close()


async def _create_then_delete(connection: Connection, number: int) -> str:
    status, body = await connection.post("/graphql", graphql_body(CREATE, {"n": f"tmp{number}"}))
    outcome = graphql_outcome(status, body)
    if outcome != "OK":
        return outcome
    pet_id = json.loads(body)["data"]["createPet"]["id"]
    status, body = await connection.post("/graphql", graphql_body(DELETE, {"id": pet_id}))
    return graphql_outcome(status, body)


async def _command_counts(url: str) -> dict[str, float]:
    host, port = address(url)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    text = (await reader.read()).decode()
    writer.close()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("pixelpet_mongodb_command_duration_seconds_count{"):
            name = line.split('command="')[1].split('"')[0]
            counts[name] = float(line.rsplit(" ", 1)[1])
    return counts


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?"
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": f"{model}, {cpuinfo.count('processor')} cores",
        "memory": f"{memory_kib / 1024 / 1024:.0f} GiB",
        "python": platform.python_version(),
        "database": f"SecantusDB {version('secantusdb')} (a separate process on the same machine)",
        "stack": ", ".join(
            f"{name} {version(name)}" for name in ("strawberry-graphql", "uvicorn", "pymongo")
        ),
    }


async def run(plan: Plan, workdir: Path) -> Run:
    database = DevDatabase(storage=workdir / "db", port=free_port(), log_file=workdir / "db.log")
    await database.start_async()
    bench = Run(plan, workdir)
    try:
        await bench.ours(database.uri)
        await bench.export_on(database.uri)
        await bench.fan_out_variant("pixelpet-deflate", DEFLATE, database.uri)
        await bench.fan_out_variant("pixelpet-unshared", UNSHARED, database.uri)
        await bench.fan_out_variant("pixelpet-wsproto", WSPROTO, database.uri)
        await bench.idle_cost(OURS, ["pixelpet", "serve"], database.uri, per_connection=1)
        await bench.idle_cost(OURS, ["pixelpet", "serve"], database.uri, per_connection=plan.multiplexed)
        deflate = ["bench.baselines", "pixelpet-deflate"]
        await bench.idle_cost(DEFLATE, deflate, database.uri, per_connection=1)
        wsproto = ["bench.baselines", "pixelpet-wsproto"]
        await bench.idle_cost(WSPROTO, wsproto, database.uri, per_connection=1)
        floor = ["bench.baselines", "websocket-floor"]
        await bench.idle_cost(FLOOR, floor, database.uri, per_connection=1)
        await bench.accounts_at_scale(database.uri)
        await bench.fan_out_at_scale(database.uri)
        await bench.raw_pymongo(database.uri)
        bench.measurements.extend(bench.hand_written)
        await bench.baseline(
            "strawberry-default", "(c) strawberry defaults", database.uri, ["pet query", "list of 20"]
        )
        await bench.baseline(
            "pixelpet-otel-async", "pixelpet + async field tracing", database.uri, ["list of 20"]
        )
        await bench.baseline(
            "pixelpet-otel-sync", "pixelpet + sync field tracing", database.uri, ["list of 20"]
        )
    finally:
        await database.stop_async()
    return bench


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny counts: checks the harness, measures nothing"
    )
    parser.add_argument("--write", action="store_true", help="rewrite docs/performance.md with the results")
    args = parser.parse_args()
    plan = SMOKE if args.smoke else FULL
    with tempfile.TemporaryDirectory(prefix="pixelpet-bench-") as workdir:
        bench = asyncio.run(run(plan, Path(workdir)))
    command = "make bench" if not args.smoke else "python -m bench --smoke"
    text = render(
        bench.measurements,
        bench.fan_out,
        bench.idle_memory,
        bench.idle,
        machine(),
        plan,
        command,
        bench.accounts,
        crowds=bench.crowds,
        exported=bench.exported,
        versus=bench.versus,
    )
    # In process, after the servers are gone: the CPU one event loop spends refusing hostile documents.
    text = text.rstrip("\n") + "\n\n" + "\n".join(render_hostile(measure_hostile())) + "\n"
    print(text)
    if args.write:
        performance = Path(__file__).resolve().parent.parent.joinpath("docs", "performance.md")
        kept = soak_section(performance.read_text()) if performance.exists() else ""
        performance.write_text(replace_soak_section(text, kept) if kept else text)


if __name__ == "__main__":
    main()
