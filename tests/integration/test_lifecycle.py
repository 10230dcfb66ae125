"""Health probes, graceful shutdown under load, and riding out a database outage."""

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pixelpet.client.websocket import Closed
from pixelpet.devdb import DevDatabase
from tests.conftest import unique_database
from tests.support.failpoints import fail_command
from tests.support.graphql import GraphQLClient, create_pet
from tests.support.service import ServiceProcess
from tests.support.ws import SubscriptionClient

pytestmark = pytest.mark.slow
GET = "query($id: ID!) { pet(id: $id) { id version } }"


@pytest.fixture
def service(database: DevDatabase, tmp_path: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        env={
            "PIXELPET_MONGODB_URI": database.uri,
            "PIXELPET_MONGO__DATABASE": unique_database(),
            "PIXELPET_MONGO__APP_NAME": "pixelpet-shutdown",
            "PIXELPET_LIFECYCLE__DRAIN_DELAY_S": "1.5",
            "PIXELPET_LIFECYCLE__SHUTDOWN_GRACE_S": "5",
        },
        log_file=tmp_path / "service.log",
    )
    process.start()
    yield process
    process.stop()


async def test_liveness_never_touches_the_database(service: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=service.url) as http:
        live = await http.get("/livez")
        ready = await http.get("/readyz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert ready.json() == {
        "status": "ok",
        "checks": {"shutdown": "ok", "maintenance": "ok", "database": "ok", "change_stream": "ok"},
    }


async def test_sigterm_drains_without_failing_in_flight_requests(
    service: ServiceProcess, database: DevDatabase
) -> None:
    async with httpx.AsyncClient(base_url=service.url, timeout=10) as http:
        client = GraphQLClient(http)
        pet = await create_pet(client)
        removed_from_rotation = asyncio.Event()
        # (sent, answered, right pet) per request: whether requests were in flight at SIGTERM is read
        # from these events, not from how many requests a machine managed in a second.
        outcomes: list[tuple[float, float, bool]] = []
        sending = [asyncio.Event() for _ in range(20)]

        async def player(started: asyncio.Event) -> None:
            # Like a load balancer: keep sending until readiness says this pod is going away.
            async with httpx.AsyncClient(base_url=service.url, timeout=10) as own:
                player_client = GraphQLClient(own)
                while not removed_from_rotation.is_set():
                    sent = time.monotonic()
                    started.set()
                    response = await player_client.execute(GET, {"id": pet["id"]})
                    outcomes.append((sent, time.monotonic(), response.data["pet"]["id"] == pet["id"]))

        watcher = await (await SubscriptionClient.connect(service.url)).acknowledged()
        await watcher.subscribe(pet["id"])
        await watcher.next_pet()

        # Every find now takes 400 ms, so requests are in flight when the listener closes.
        async with fail_command(
            database.uri,
            failCommands=["find"],
            blockConnection=True,
            blockTimeMS=400,
            appName="pixelpet-shutdown",
        ):
            players = [asyncio.create_task(player(started)) for started in sending]
            await asyncio.wait_for(asyncio.gather(*(started.wait() for started in sending)), 30)
            signalled = time.monotonic()
            service.signal(signal.SIGTERM)
            # Readiness fails while the process still answers: the 503 itself is served during the drain.
            while (await http.get("/readyz")).status_code == 200:  # noqa: ASYNC110 - polling another process
                await asyncio.sleep(0.02)
            removed_from_rotation.set()
            await asyncio.gather(*players)
            exit_code = await asyncio.to_thread(service.wait, 15)

        with pytest.raises(Closed) as closed:
            await watcher.receive()
    assert all(right for _, _, right in outcomes), outcomes
    assert any(sent < signalled < answered for sent, answered, _ in outcomes), "no request was in flight"
    assert closed.value.code == 1012, "1012 (service restart) tells clients to reconnect elsewhere"
    assert exit_code in (0, -signal.SIGTERM)
    messages = [json.loads(line)["msg"] for line in service.log_lines() if line.startswith("{")]
    drain = next(i for i, m in enumerate(messages) if m.startswith("draining"))
    close = next(i for i, m in enumerate(messages) if m.startswith("drain delay over"))
    flush = next(i for i, m in enumerate(messages) if m.startswith("pixelpet stopping"))
    assert drain < close < flush


async def test_a_second_signal_exits_at_once(service: ServiceProcess) -> None:
    service.signal(signal.SIGTERM)
    while not any('"draining' in line for line in service.log_lines()):  # noqa: ASYNC110 - another process
        await asyncio.sleep(0.02)
    service.signal(signal.SIGINT)
    await asyncio.to_thread(service.wait, 15)
    messages = [json.loads(line)["msg"] for line in service.log_lines() if line.startswith("{")]
    assert any(message.startswith("second signal: exiting now") for message in messages)
    assert not any(message.startswith("drain delay over") for message in messages), (
        "it exited without waiting out the drain delay"
    )


async def test_one_ctrl_c_delivered_twice_still_drains(service: ServiceProcess) -> None:
    """A terminal's Ctrl-C reaches both `uv run` and the service, and uv forwards it ~0.2 s later."""
    service.signal(signal.SIGINT)
    await asyncio.sleep(0.2)
    service.signal(signal.SIGINT)
    await asyncio.to_thread(service.wait, 15)
    messages = [json.loads(line)["msg"] for line in service.log_lines() if line.startswith("{")]
    assert not any(message.startswith("second signal") for message in messages)
    assert any(message.startswith("drain delay over") for message in messages)
    assert any(message.startswith("pixelpet stopping") for message in messages)
