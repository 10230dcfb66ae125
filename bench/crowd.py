"""Fan-out at scale: 10,000 subscriptions held by one service process, and the deliveries of pet changes.

Subscriptions are multiplexed, ``per_connection`` on each WebSocket (the graphql-ws client runs a page's
subscriptions over one connection): 10,000 single-subscription sockets would make this 2-core machine's
load generator, not the service, the bottleneck of the measurement. Only a pet's owner may watch it, so
each connection belongs to one owner and watches that owner's pets.

Two layouts: **spread**, each of many pets (1,000: every seeded pet) watched by the same number of
subscriptions, renames going round the pets so each reaches a different group of subscribers; and **one
pet**, every subscription on one pet, each rename reaching all of them. Renames are sent one at a time, as
bench/subscriptions.py does, and each delivery is timed from the rename's HTTP response to the arrival of
its WebSocket frame (frames are counted, not parsed; several may arrive in one read). The service's RSS is
read before subscribing, with every subscription open and idle, and at its peak after the deliveries.
"""

import asyncio
import gc
import time
from dataclasses import dataclass

from bench.processes import stats
from bench.rawhttp import Connection, address, graphql_body
from bench.subscriptions import RENAME, SUBSCRIBE, _Probe, close, subscriber
from pixelpet.client.traffic import percentile
from pixelpet.client.websocket import subscribe_message

SPREAD = "spread"
ONE_PET = "one pet"


@dataclass(frozen=True)
class Watch:
    """One connection: its owner (an index into the tokens) and one subscription per entry of ``pets``."""

    owner: int
    pets: tuple[str, ...]


@dataclass
class CrowdResult:
    layout: str
    subscriptions: int
    connections: int
    pets: int  # distinct pets watched
    mutations: int
    deliveries: int
    p50_ms: float
    p99_ms: float
    early: int  # deliveries that arrived before the rename's own response
    rss_before_bytes: int  # the fresh process, before anything subscribed
    rss_bytes: int  # every subscription open and idle
    peak_rss_bytes: int  # after the deliveries


def spread(
    pets_by_owner: list[list[str]], *, pets: int, subscriptions: int, per_connection: int
) -> tuple[list[Watch], list[tuple[int, str]]]:
    """``pets`` pets taken across the owners in turn, each watched by ``subscriptions // pets``; the
    connections, each with distinct pets of one owner where it has enough, and the (owner, pet) order in
    which to rename them (alternating owners)."""
    deepest = max(len(owned) for owned in pets_by_owner)
    chosen = [
        (owner, owned[index])
        for index in range(deepest)
        for owner, owned in enumerate(pets_by_owner)
        if index < len(owned)
    ][:pets]
    per_pet = subscriptions // len(chosen)
    watches = []
    for owner in range(len(pets_by_owner)):
        mine = [pet for holder, pet in chosen if holder == owner]
        queue = mine * per_pet  # pet 1..n, then again: consecutive entries are distinct pets
        watches += [
            Watch(owner, tuple(queue[start : start + per_connection]))
            for start in range(0, len(queue), per_connection)
        ]
    return watches, chosen


def one_pet(owner: int, pet: str, *, subscriptions: int, per_connection: int) -> list[Watch]:
    """Every subscription on ``pet``, ``per_connection`` of them on each connection."""
    return [Watch(owner, (pet,) * per_connection) for _ in range(subscriptions // per_connection)]


async def _open(url: str, tokens: list[str], watches: list[Watch]) -> list[_Probe]:
    probes: list[_Probe] = []
    # Waves of about 200 subscriptions: the accept queue never overflows, and setup stays bounded.
    step = max(1, 200 // max(len(watch.pets) for watch in watches))
    for start in range(0, len(watches), step):
        probes += await asyncio.gather(
            *(
                subscriber(
                    url,
                    tokens[watch.owner],
                    [
                        subscribe_message(str(number), SUBSCRIBE, {"id": pet})
                        for number, pet in enumerate(watch.pets, start=1)
                    ],
                )
                for watch in watches[start : start + step]
            )
        )
    return probes


async def measure_crowd(
    *,
    layout: str,
    url: str,
    pid: int,
    tokens: list[str],
    watches: list[Watch],
    renames: list[tuple[int, str]],
) -> CrowdResult:
    """Open ``watches`` against a fresh service process, then send ``renames`` (owner, pet) one by one."""
    await asyncio.sleep(0.5)  # let the service finish starting up
    before = stats(pid).rss_bytes
    probes = await _open(url, tokens, watches)
    await asyncio.sleep(1.0)  # idle: let the service settle
    idle = stats(pid).rss_bytes
    watchers: dict[str, list[tuple[_Probe, int]]] = {}
    for probe, watch in zip(probes, watches, strict=True):
        probe.count_frames()
        for pet in set(watch.pets):
            watchers.setdefault(pet, []).append((probe, watch.pets.count(pet)))
    https = {
        owner: Connection(*address(url), {"Authorization": f"Bearer {tokens[owner]}"}) for owner, _ in renames
    }
    latencies: list[float] = []
    early = 0
    # As in bench/subscriptions.py: no collection of this process's heap while it timestamps arrivals.
    gc.collect()
    gc.disable()
    try:
        for number, (owner, pet) in enumerate(renames):
            arrived, ahead = await _rename(https[owner], pet, f"crowd-{number}", watchers[pet])
            latencies += arrived
            early += ahead
    finally:
        gc.enable()
    peak = stats(pid).peak_rss_bytes
    for http in https.values():
        await http.close()
    close(probes)
    return CrowdResult(
        layout=layout,
        subscriptions=sum(len(watch.pets) for watch in watches),
        connections=len(watches),
        pets=len({pet for watch in watches for pet in watch.pets}),
        mutations=len(renames),
        deliveries=len(latencies),
        p50_ms=percentile(latencies, 0.5) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        early=early,
        rss_before_bytes=before,
        rss_bytes=idle,
        peak_rss_bytes=peak,
    )


async def _rename(
    http: Connection, pet: str, name: str, watchers: list[tuple[_Probe, int]]
) -> tuple[list[float], int]:
    """One rename's delivery latency to each of its subscriptions, and how many beat the response."""
    started = [len(probe.frames) for probe, _ in watchers]
    _, body = await http.post("/graphql", graphql_body(RENAME, {"id": pet, "name": name}))
    acknowledged = time.perf_counter()
    assert b'"errors"' not in body, body
    deadline = time.monotonic() + 60
    expected = [(probe, start + count) for (probe, count), start in zip(watchers, started, strict=True)]
    while any(len(probe.frames) < until for probe, until in expected):
        assert time.monotonic() < deadline, "a subscriber never received the change"
        await asyncio.sleep(0.005)
    receipts = [
        moment
        for (probe, until), start in zip(expected, started, strict=True)
        for moment in probe.frames[start:until]
    ]
    early = sum(1 for moment in receipts if moment < acknowledged)
    return [max(0.0, moment - acknowledged) for moment in receipts], early
