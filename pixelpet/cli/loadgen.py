"""``pixelpet loadgen``: a realistic mix at a target rate, bounded by count and time, watched live.

Open loop: requests start on a fixed schedule (``rate`` per second) whatever the latency, the way players
arrive, so a slow service shows as latency and a lower achieved rate instead of hiding behind a
closed loop. Each player has one pet (created first, deleted at the end); subscribers watch those pets
for the whole run and count the updates they receive. Loopback only by default: pointing load at a shared
environment should be a decision, so it takes ``--allow-remote``.
"""

import asyncio
import ipaddress
import random
from collections import Counter
from dataclasses import dataclass
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
from pixelpet.client import traffic
from pixelpet.client.http import post_graphql
from pixelpet.client.traffic import LiveTally, OpenLoop, Tally, Turn

MAX_IN_FLIGHT = 64
REFRESH_S = 0.25
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
class Load:
    """What the run has done so far: the requests, the operations they were, the subscribers' receipts."""

    requests: Tally
    operations: Counter[str]
    live: LiveTally

    def summary(self) -> dict[str, Any]:
        return {
            "seconds": round(self.requests.elapsed_s(), 2),
            "requests": self.requests.steps_started,
            "answered": self.requests.answered,
            "rate_achieved_per_s": round(self.requests.rate_per_s(), 2),
            "latency_ms": {
                f"p{int(q * 100)}": round(self.requests.percentile_ms(q), 1) for q in (0.5, 0.9, 0.99)
            },
            "outcomes": dict(self.requests.outcomes.most_common()),
            "operations": dict(self.operations.most_common()),
            "subscription_updates": self.live.updates,
            "subscription_errors": self.live.errors,
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
    load = Load(Tally(), Counter(), LiveTally())
    async with httpx.AsyncClient(
        base_url=plan.url, timeout=10, limits=httpx.Limits(max_connections=MAX_IN_FLIGHT)
    ) as http:
        pets = await _create_pets(http, tokens)
        watchers = [
            asyncio.create_task(
                traffic.watch(
                    plan.url, tokens[n % len(tokens)], _WATCH, {"id": pets[n % len(pets)]}, load.live
                )
            )
            for n in range(plan.subscribers)
        ]
        try:
            with Live(
                _live_table(plan, load), console=out.errors, refresh_per_second=4, transient=True
            ) as live:
                if out.as_json:
                    live.stop()
                refresher = asyncio.create_task(_keep_showing(live, plan, load))
                try:
                    await traffic.run(
                        _player_step(http, tokens, pets, load.operations),
                        OpenLoop(plan.rate, max_in_flight=MAX_IN_FLIGHT),
                        max_steps=plan.max_requests,
                        max_seconds=plan.duration_s,
                        tally=load.requests,
                    )
                finally:
                    refresher.cancel()
                live.update(_live_table(plan, load))
        finally:
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            for token, pet in zip(tokens, pets, strict=True):
                await post_graphql(http, _DELETE, {"id": pet}, token=token)
    summary = load.summary()
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
        variables = {"input": {"name": f"Load{n}", "species": "CAT"}}
        try:
            answer = await post_graphql(http, _CREATE, variables, token=token)
        except httpx.HTTPError as error:
            raise unreachable(f"the service at {http.base_url}", error) from error
        if answer.outcome != "OK" or answer.data is None:
            raise CommandError(f"could not create the load's pets: {answer.body or answer.status}")
        pets.append(answer.data["createPet"]["id"])
    return pets


def _player_step(
    http: httpx.AsyncClient, tokens: list[str], pets: list[str], operations: Counter[str]
) -> traffic.Step:
    """A random player does a random operation of the mix on their own pet."""
    weights = [weight for _, _, weight in _MIX]

    async def step(turn: Turn) -> str:
        player = random.randrange(len(tokens))  # noqa: S311 - a traffic mix, not a secret
        name, query, _ = random.choices(_MIX, weights)[0]  # noqa: S311
        operations[name] += 1
        variables = {} if name == "pets" else {"id": pets[player]}
        return (await post_graphql(http, query, variables, token=tokens[player])).outcome

    return step


async def _keep_showing(live: Live, plan: Plan, load: Load) -> None:
    while True:
        live.update(_live_table(plan, load))
        await asyncio.sleep(REFRESH_S)


def _live_table(plan: Plan, load: Load) -> Table:
    requests = load.requests
    elapsed = requests.elapsed_s()
    table = Table(title=f"loadgen -> {plan.url}", title_justify="left")
    for column in ("elapsed", "sent", "answered/s", "p50 ms", "p99 ms", "outcomes", "live updates"):
        table.add_column(column)
    table.add_row(
        f"{elapsed:.0f}/{plan.duration_s:.0f} s",
        f"{requests.steps_started}/{plan.max_requests}",
        f"{requests.answered / elapsed:.1f}" if elapsed else "-",
        f"{requests.percentile_ms(0.5):.1f}",
        f"{requests.percentile_ms(0.99):.1f}",
        ", ".join(f"{code} {n}" for code, n in requests.outcomes.most_common(4)),
        str(load.live.updates),
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
