"""``pixelpet loadgen``: a realistic mix at a target rate, bounded by count and time, watched live.

Open loop: requests start on a fixed schedule (``rate`` per second) whatever the latency, the way players
arrive, so a slow service shows as latency and a lower achieved rate instead of hiding behind a
closed loop. Each player has one pet (created first, deleted at the end); subscribers watch those pets
for the whole run and count the updates they receive. Loopback only by default: pointing load at a shared
environment should be a decision, so it takes ``--allow-remote``.
"""

import asyncio
import ipaddress
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from rich.live import Live
from rich.table import Table

from pixelpet.auth import development_token
from pixelpet.cli.context import load_settings
from pixelpet.cli.errors import OK, USAGE, CommandError, unreachable
from pixelpet.cli.output import Output
from pixelpet.cli.subscriptions import subscribe

MAX_IN_FLIGHT = 64
_MIX: tuple[tuple[str, str, float], ...] = (
    ("pet", "query($id: ID!) { pet(id: $id) { id name mood stats { hunger happiness energy } } }", 0.50),
    ("pets", "query { pets(first: 20) { edges { node { id name } } } }", 0.20),
    ("feedPet", "mutation($id: ID!) { feedPet(id: $id) { version } }", 0.15),
    ("playWithPet", "mutation($id: ID!) { playWithPet(id: $id) { version } }", 0.10),
    ("renamePet", 'mutation($id: ID!) { renamePet(id: $id, name: "Loaded") { version } }', 0.05),
)
_CREATE = "mutation($input: CreatePetInput!) { createPet(input: $input) { id } }"
_DELETE = "mutation($id: ID!) { deletePet(id: $id) }"
_WATCH = "subscription($id: ID!) { petStats(id: $id) { version } }"


@dataclass(frozen=True)
class Plan:
    url: str
    rate: float
    duration_s: float
    max_requests: int
    players: int
    subscribers: int


@dataclass
class Tally:
    started: float = field(default_factory=time.perf_counter)
    sent: int = 0
    latencies_s: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    updates: int = 0
    subscription_errors: int = 0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def percentile_ms(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def summary(self) -> dict[str, Any]:
        elapsed = self.elapsed()
        return {
            "seconds": round(elapsed, 2),
            "requests": self.sent,
            "answered": len(self.latencies_s),
            "rate_achieved_per_s": round(len(self.latencies_s) / elapsed, 2) if elapsed else 0.0,
            "latency_ms": {f"p{int(q * 100)}": round(self.percentile_ms(q), 1) for q in (0.5, 0.9, 0.99)},
            "outcomes": dict(self.outcomes.most_common()),
            "operations": dict(self.by_operation.most_common()),
            "subscription_updates": self.updates,
            "subscription_errors": self.subscription_errors,
        }


def check_target(url: str, *, allow_remote: bool) -> None:
    host = urlsplit(url).hostname or ""
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise CommandError(
            f"{url} is not this machine: pass --allow-remote to load it on purpose", exit_code=USAGE
        )


async def run(out: Output, plan: Plan, *, allow_remote: bool) -> int:
    check_target(plan.url, allow_remote=allow_remote)
    if plan.rate <= 0 or plan.duration_s <= 0 or plan.max_requests <= 0 or plan.players <= 0:
        raise CommandError(
            "--rate, --duration, --max-requests and --players must be positive", exit_code=USAGE
        )
    tokens = _tokens(plan.players)
    tally = Tally()
    async with httpx.AsyncClient(
        base_url=plan.url, timeout=10, limits=httpx.Limits(max_connections=MAX_IN_FLIGHT)
    ) as http:
        pets = await _create_pets(http, tokens)
        watchers = [
            asyncio.create_task(_watch(plan.url, tokens[n % len(tokens)], pets[n % len(pets)], tally))
            for n in range(plan.subscribers)
        ]
        try:
            with Live(
                _live_table(plan, tally), console=out.errors, refresh_per_second=4, transient=True
            ) as live:
                if out.as_json:
                    live.stop()
                await _drive(
                    http, plan, tokens, pets, tally, on_tick=lambda: live.update(_live_table(plan, tally))
                )
        finally:
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            for token, pet in zip(tokens, pets, strict=True):
                await _post(http, token, _DELETE, {"id": pet})
    summary = tally.summary()
    if out.as_json:
        out.json(summary)
    else:
        _print_summary(out, plan, summary)
    return OK


def _tokens(players: int) -> list[str]:
    auth = load_settings().auth
    return [development_token(auth, f"loadgen-{n}", ttl=timedelta(hours=2)) for n in range(players)]


async def _create_pets(http: httpx.AsyncClient, tokens: list[str]) -> list[str]:
    pets = []
    for n, token in enumerate(tokens):
        try:
            body = await _post(http, token, _CREATE, {"input": {"name": f"Load{n}", "species": "CAT"}})
        except httpx.HTTPError as error:
            raise unreachable(f"the service at {http.base_url}", error) from error
        if body.get("errors") or not body.get("data"):
            raise CommandError(f"could not create the load's pets: {body.get('errors', body)}")
        pets.append(body["data"]["createPet"]["id"])
    return pets


async def _drive(
    http: httpx.AsyncClient, plan: Plan, tokens: list[str], pets: list[str], tally: Tally, *, on_tick: Any
) -> None:
    in_flight: set[asyncio.Task[None]] = set()
    gate = asyncio.Semaphore(MAX_IN_FLIGHT)
    interval = 1 / plan.rate
    deadline = tally.started + plan.duration_s
    next_tick = 0.0
    weights = [weight for _, _, weight in _MIX]
    while tally.sent < plan.max_requests and time.perf_counter() < deadline:
        due = tally.started + tally.sent * interval
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        player = random.randrange(len(tokens))  # noqa: S311 - a traffic mix, not a secret
        name, query, _ = random.choices(_MIX, weights)[0]  # noqa: S311
        await gate.acquire()
        task = asyncio.create_task(_one(http, tokens[player], name, query, pets[player], tally, gate))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        tally.sent += 1
        if time.perf_counter() >= next_tick:
            on_tick()
            next_tick = time.perf_counter() + 0.25
    await asyncio.gather(*in_flight, return_exceptions=True)
    on_tick()


async def _one(
    http: httpx.AsyncClient,
    token: str,
    name: str,
    query: str,
    pet: str,
    tally: Tally,
    gate: asyncio.Semaphore,
) -> None:
    started = time.perf_counter()
    try:
        body = await _post(http, token, query, {} if name == "pets" else {"id": pet})
        errors = body.get("errors")
        outcome = errors[0].get("extensions", {}).get("code", "ERROR") if errors else "OK"
    except httpx.HTTPStatusError as error:
        outcome = f"http_{error.response.status_code}"
    except httpx.HTTPError as error:
        outcome = type(error).__name__
    finally:
        gate.release()
    tally.latencies_s.append(time.perf_counter() - started)
    tally.outcomes[outcome] += 1
    tally.by_operation[name] += 1


async def _post(http: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code >= 500 or "json" not in response.headers.get("content-type", ""):
        response.raise_for_status()
        raise httpx.HTTPStatusError("not JSON", request=response.request, response=response)
    body: dict[str, Any] = response.json()
    return body


async def _watch(url: str, token: str, pet: str, tally: Tally) -> None:
    try:
        async with await subscribe(url, token, _WATCH, {"id": pet}) as socket:
            async for raw in socket:
                message = json.loads(raw)
                if message.get("type") == "next" and not message["payload"].get("errors"):
                    tally.updates += 1
                elif message.get("type") in ("next", "error"):
                    tally.subscription_errors += 1
    except asyncio.CancelledError:
        raise
    except Exception:  # a subscriber that fails is counted, and the load goes on
        tally.subscription_errors += 1


def _live_table(plan: Plan, tally: Tally) -> Table:
    elapsed = tally.elapsed()
    table = Table(title=f"loadgen -> {plan.url}", title_justify="left")
    for column in ("elapsed", "sent", "answered/s", "p50 ms", "p99 ms", "outcomes", "live updates"):
        table.add_column(column)
    answered = len(tally.latencies_s)
    table.add_row(
        f"{elapsed:.0f}/{plan.duration_s:.0f} s",
        f"{tally.sent}/{plan.max_requests}",
        f"{answered / elapsed:.1f}" if elapsed else "-",
        f"{tally.percentile_ms(0.5):.1f}",
        f"{tally.percentile_ms(0.99):.1f}",
        ", ".join(f"{code} {n}" for code, n in tally.outcomes.most_common(4)),
        str(tally.updates),
    )
    return table


def _print_summary(out: Output, plan: Plan, summary: dict[str, Any]) -> None:
    out.table(
        f"loadgen summary ({plan.rate:g}/s asked for {plan.duration_s:g} s)",
        ("measure", "value"),
        [
            ("requests sent / answered", f"{summary['requests']} / {summary['answered']}"),
            ("rate achieved", f"{summary['rate_achieved_per_s']}/s"),
            *((f"latency {name}", f"{value} ms") for name, value in summary["latency_ms"].items()),
            ("subscription updates", str(summary["subscription_updates"])),
            ("subscription errors", str(summary["subscription_errors"])),
        ],
    )
    out.table("outcomes", ("code", "count"), summary["outcomes"].items())
