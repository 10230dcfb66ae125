"""Subscription fan-out: delivery latency to N subscribers, and the memory an idle one costs."""

import asyncio
import gc
import json
import time
from dataclasses import dataclass

import websockets

from bench.loadgen import Connection, graphql_body
from bench.processes import stats

SUBSCRIBE = "subscription($id: ID!) { petStats(id: $id) { version } }"
RENAME = "mutation($id: ID!, $name: String!) { renamePet(id: $id, name: $name) { version } }"


@dataclass
class FanOutResult:
    server: str
    subscribers: int
    deliveries: int
    p50_ms: float
    p99_ms: float
    early: int  # deliveries that arrived before the mutation's own response
    rss_per_subscriber_bytes: float


async def _subscriber(url: str, token: str, pet_id: str) -> websockets.ClientConnection:
    connection = await websockets.connect(
        url.replace("http", "ws", 1) + "/graphql",
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        ping_interval=None,
        max_queue=None,
    )
    await connection.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    assert json.loads(await connection.recv())["type"] == "connection_ack"
    subscribe = {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"id": pet_id}}}
    await connection.send(json.dumps(subscribe))
    assert json.loads(await connection.recv())["type"] == "next"
    return connection


async def measure_fan_out(
    *, server: str, url: str, pid: int, token: str, pet_id: str, subscribers: int, mutations: int
) -> FanOutResult:
    gc.collect()
    await asyncio.sleep(0.5)
    before = stats(pid).rss_bytes
    connections: list[websockets.ClientConnection] = []
    for start in range(0, subscribers, 100):  # open in waves so the accept queue never overflows
        connections += await asyncio.gather(
            *(_subscriber(url, token, pet_id) for _ in range(start, min(subscribers, start + 100)))
        )
    await asyncio.sleep(1.0)  # idle: let the service settle
    rss_per_subscriber = (stats(pid).rss_bytes - before) / subscribers

    host, port = url.removeprefix("http://").split(":")
    http = Connection(host, int(port), {"Authorization": f"Bearer {token}"})
    latencies: list[float] = []
    early = 0
    for number in range(mutations):
        receipts: list[float] = []

        async def receive(connection: websockets.ClientConnection, sink: list[float] = receipts) -> None:
            await connection.recv()
            sink.append(time.perf_counter())

        waiting = [asyncio.create_task(receive(connection)) for connection in connections]
        await asyncio.sleep(0)
        _, body = await http.post("/graphql", graphql_body(RENAME, {"id": pet_id, "name": f"bench-{number}"}))
        acknowledged = time.perf_counter()
        assert b'"errors"' not in body, body
        await asyncio.wait_for(asyncio.gather(*waiting), timeout=60)
        early += sum(1 for moment in receipts if moment < acknowledged)
        latencies += [max(0.0, moment - acknowledged) for moment in receipts]
    await http.close()
    await asyncio.gather(*(connection.close() for connection in connections))
    latencies.sort()
    return FanOutResult(
        server=server,
        subscribers=subscribers,
        deliveries=len(latencies),
        p50_ms=latencies[len(latencies) // 2] * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000,
        early=early,
        rss_per_subscriber_bytes=rss_per_subscriber,
    )
