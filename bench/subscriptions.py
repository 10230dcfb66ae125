"""Subscriptions: delivery latency to N subscribers, and the memory an idle one costs."""

import asyncio
import gc
import json
import time
from dataclasses import dataclass

from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame
from websockets.protocol import State
from websockets.uri import parse_uri

from bench.processes import stats
from bench.rawhttp import Connection, address, graphql_body
from pixelpet.client.traffic import percentile
from pixelpet.client.websocket import SUBPROTOCOL, connection_init, subscribe_message, websocket_url

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


@dataclass
class IdleMemory:
    server: str
    connections: int
    per_connection: int
    rss_per_subscription_bytes: float


class _Probe(asyncio.Protocol):
    """One subscriber's socket. After setup it only timestamps arrivals: parsing a thousand clients'
    frames in Python would put the measuring process's own backlog into the latencies. That is why it is
    not pixelpet.client.websocket's client, which parses every message; it shares that client's messages."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.received = bytearray()
        self.arrivals: list[float] = []
        self.changed = asyncio.Event()
        # With count_frames(): when each complete WebSocket frame arrived (a connection carrying several
        # subscriptions may receive several messages in one read, or one message over several).
        self.frames: list[float] = []
        self._framing = False
        self._pending = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.arrivals.append(now)
        self.received += data
        self.changed.set()
        if self._framing:
            self._count(data, now)

    def count_frames(self) -> None:
        """From now on (after setup, at a frame boundary) also timestamp every complete frame."""
        self.frames.clear()
        self._pending.clear()
        self._framing = True

    def _count(self, data: bytes, now: float) -> None:
        # Server frames are unmasked: a 2-byte header, then a 2- or 8-byte length when the 7-bit one says so.
        pending = self._pending
        pending += data
        while len(pending) >= 2:
            length, header = pending[1] & 0x7F, 2
            if length >= 126:
                header = 4 if length == 126 else 10
                if len(pending) < header:
                    return
                length = int.from_bytes(pending[2:header], "big")
            if len(pending) < header + length:
                return
            del pending[: header + length]
            self.frames.append(now)


async def _subscriber(url: str, token: str, pet_ids: list[str]) -> _Probe:
    """A connection subscribed to each of ``pet_ids``, once every subscription has sent its first state."""
    subscribes = [
        subscribe_message(str(number), SUBSCRIBE, {"id": pet_id})
        for number, pet_id in enumerate(pet_ids, start=1)
    ]
    return await subscriber(url, token, subscribes)


async def subscriber(url: str, token: str, subscribes: list[dict[str, object]]) -> _Probe:
    """A connection that sent ``subscribes``, once each has sent its first message."""
    host, port = address(url)
    loop = asyncio.get_running_loop()
    _, probe = await loop.create_connection(_Probe, host, port)
    assert probe.transport is not None
    # Offer compression as browsers do; the server decides whether to use it.
    protocol = ClientProtocol(
        parse_uri(websocket_url(url)),
        subprotocols=[SUBPROTOCOL],
        extensions=[ClientPerMessageDeflateFactory()],
    )
    protocol.send_request(protocol.connect())
    texts: list[str] = []
    sent_frames = False
    while len(texts) < 1 + len(subscribes):  # connection_ack, then each subscription's first message
        for data in protocol.data_to_send():
            probe.transport.write(data)
        if protocol.state is State.OPEN and not sent_frames:
            for message in [connection_init(token), *subscribes]:
                protocol.send_text(json.dumps(message).encode())
            sent_frames = True
            continue
        await probe.changed.wait()
        probe.changed.clear()
        protocol.receive_data(bytes(probe.received))
        probe.received.clear()
        texts += [
            bytes(event.data).decode() for event in protocol.events_received() if isinstance(event, Frame)
        ]
    assert json.loads(texts[0])["type"] == "connection_ack", texts
    assert all(json.loads(text)["type"] == "next" for text in texts[1:]), texts
    probe.arrivals.clear()
    return probe


async def _open(url: str, token: str, pet_ids: list[str], connections: int) -> list[_Probe]:
    probes: list[_Probe] = []
    # Open in waves of about 100 subscriptions: the accept queue never overflows, and the transient
    # memory of many setups at once does not get counted as what idle subscriptions keep.
    step = max(1, 100 // len(pet_ids))
    for start in range(0, connections, step):
        wave = range(start, min(connections, start + step))
        probes += await asyncio.gather(*(_subscriber(url, token, pet_ids) for _ in wave))
    return probes


def close(probes: list[_Probe]) -> None:
    for probe in probes:
        assert probe.transport is not None
        probe.transport.close()


async def measure_idle_memory(
    *, server: str, url: str, pid: int, token: str, pet_ids: list[str], connections: int
) -> IdleMemory:
    """RSS growth per idle subscription, each connection carrying one per pet in ``pet_ids``.

    Only meaningful in a fresh service process: memory freed by earlier work is reused without
    growing RSS, and would hide what the subscriptions cost.
    """
    await asyncio.sleep(0.5)  # let the service finish starting up
    before = stats(pid).rss_bytes
    probes = await _open(url, token, pet_ids, connections)
    await asyncio.sleep(1.0)  # idle: let the service settle
    after = stats(pid).rss_bytes
    close(probes)
    subscriptions = connections * len(pet_ids)
    return IdleMemory(server, connections, len(pet_ids), (after - before) / subscriptions)


async def wait_for_arrival(probe: _Probe, before: int) -> float:
    """When ``probe`` received its next message after its ``before``-th (60 s at most)."""
    deadline = time.monotonic() + 60
    while len(probe.arrivals) <= before:
        assert time.monotonic() < deadline, "a subscriber never received the change"
        await asyncio.sleep(0.002)
    return probe.arrivals[before]


async def _deliveries(
    http: Connection, probes: list[_Probe], pet_id: str, mutations: int
) -> tuple[list[float], int]:
    """Each mutation's delivery latency to every probe, and how many deliveries beat the response."""
    latencies: list[float] = []
    early = 0
    for number in range(mutations):
        started = [len(probe.arrivals) for probe in probes]
        _, body = await http.post("/graphql", graphql_body(RENAME, {"id": pet_id, "name": f"bench-{number}"}))
        acknowledged = time.perf_counter()
        assert b'"errors"' not in body, body
        deadline = time.monotonic() + 60
        while any(len(p.arrivals) <= before for p, before in zip(probes, started, strict=True)):
            assert time.monotonic() < deadline, "a subscriber never received the change"
            await asyncio.sleep(0.005)
        receipts = [p.arrivals[before] for p, before in zip(probes, started, strict=True)]
        early += sum(1 for moment in receipts if moment < acknowledged)
        latencies += [max(0.0, moment - acknowledged) for moment in receipts]
    return latencies, early


async def measure_fan_out(
    *, server: str, url: str, token: str, pet_id: str, subscribers: int, mutations: int
) -> FanOutResult:
    connections = await _open(url, token, [pet_id], subscribers)
    await asyncio.sleep(1.0)  # let the service settle

    http = Connection(*address(url), {"Authorization": f"Bearer {token}"})
    # Arrivals are timestamped in this process: a full collection here (its heap holds a thousand
    # probes) would pause it and show up as delivery latency that the service never caused.
    gc.collect()
    gc.disable()
    try:
        latencies, early = await _deliveries(http, connections, pet_id, mutations)
    finally:
        gc.enable()
    await http.close()
    close(connections)
    return FanOutResult(
        server=server,
        subscribers=subscribers,
        deliveries=len(latencies),
        p50_ms=percentile(latencies, 0.5) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        early=early,
    )
