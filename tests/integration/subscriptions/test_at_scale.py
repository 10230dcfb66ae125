"""Subscriptions across replicas, at fan-out, through a database restart and with a stalled client."""

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from pixelpet.app import create_app
from pixelpet.devdb import DevDatabase, free_port
from pixelpet.graphql.close_codes import CLIENT_TOO_SLOW, CloseCode, graphql_ws_reconnects
from pixelpet.settings import LifecycleSettings, MongoSettings, Settings, SubscriptionSettings
from tests.conftest import make_settings, unique_database
from tests.support.failpoints import fail_command
from tests.support.graphql import GraphQLClient, create_pet
from tests.support.metrics import metric
from tests.support.server import running_server
from tests.support.service import ServiceProcess
from tests.support.ws import (
    SubscriptionClient,
    close_frame_payload,
    read_until_closed,
    stalled_subscriber,
    watching,
)

pytestmark = pytest.mark.slow
FEED = "mutation($id: ID!) { feedPet(id: $id) { version } }"
RENAME = "mutation($id: ID!, $name: String!) { renamePet(id: $id, name: $name) { version } }"


@pytest.fixture
def replicas(database: DevDatabase, tmp_path: Path) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    shared = {"PIXELPET_MONGODB_URI": database.uri, "PIXELPET_MONGO__DATABASE": unique_database()}
    a = ServiceProcess(env=shared, log_file=tmp_path / "a.log")
    b = ServiceProcess(env=shared, log_file=tmp_path / "b.log")
    a.start()
    b.start()
    yield a, b
    a.stop()
    b.stop()


async def test_a_change_through_one_replica_reaches_a_subscriber_on_another(
    replicas: tuple[ServiceProcess, ServiceProcess],
) -> None:
    a, b = replicas
    async with httpx.AsyncClient(base_url=a.url) as http:
        client = GraphQLClient(http)
        pet = await create_pet(client)
        watcher = await (await SubscriptionClient.connect(b.url)).acknowledged()
        await watcher.subscribe(pet["id"])
        assert (await watcher.next_pet())["version"] == 1
        await client.execute(FEED, {"id": pet["id"]})
        assert (await watcher.next_pet())["version"] == 2
        await watcher.close()


@pytest.fixture
async def roomy(database: DevDatabase) -> AsyncIterator[tuple[str, GraphQLClient]]:
    # 200 subscribers of one pet are one player's (only its owner may watch it): lift the per-player cap.
    roomy_caps = SubscriptionSettings(max_per_process=1000, max_per_owner=1000)
    settings = make_settings(database.uri, subscriptions=roomy_caps)
    async with running_server(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        yield url, GraphQLClient(http)


async def test_two_hundred_subscribers_all_receive_a_change(roomy: tuple[str, GraphQLClient]) -> None:
    url, client = roomy
    pet = await create_pet(client)
    # Set up one after another: 200 first reads at once queue for the 50 pooled connections, and on a busy
    # machine some waited past the 2 s database budget (UNAVAILABLE, as designed). This test is about the
    # fan-out of one change, not setup under contention.
    watchers = [await watching(url, pet["id"]) for _ in range(200)]
    await client.execute(RENAME, {"id": pet["id"], "name": "Famous"})
    received = await asyncio.gather(*(w.next_pet() for w in watchers))
    assert {(p["version"], p["name"]) for p in received} == {(2, "Famous")}
    metrics = (await client._http.get("/metrics")).text
    assert metric(metrics, "pixelpet_subscriptions_active") == 200
    # One change stream for the process, whatever the number of subscribers.
    assert metric(metrics, "pixelpet_mongodb_command_duration_seconds_count", command="aggregate") == 1
    assert metric(metrics, "pixelpet_subscription_delivery_lag_seconds_count") == 200
    await asyncio.gather(*(w.close() for w in watchers))


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[DevDatabase]:
    server = DevDatabase(storage=tmp_path / "db", port=free_port(), log_file=tmp_path / "db.log")
    server.start()
    yield server
    server.stop()


async def test_subscribers_keep_receiving_after_a_database_restart(restartable: DevDatabase) -> None:
    settings = make_settings(restartable.uri)
    async with (
        running_server(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        client = GraphQLClient(http)
        pet = await create_pet(client)
        watcher = await watching(url, pet["id"])

        await asyncio.to_thread(restartable.stop)
        await asyncio.to_thread(restartable.start)
        # Writes made once the database is back reach the same subscription, without resubscribing.
        for _ in range(50):
            if not (await client.execute(RENAME, {"id": pet["id"], "name": "Survivor"})).body.get("errors"):
                break
            await asyncio.sleep(0.2)
        seen = await watcher.next_pet(seconds=20)
        while seen["name"] != "Survivor":
            seen = await watcher.next_pet(seconds=20)
        assert seen["version"] >= 2
        assert (await http.get("/readyz")).json()["checks"]["change_stream"] == "ok"
        await watcher.close()


@pytest.fixture
async def faulty(database: DevDatabase) -> AsyncIterator[tuple[str, GraphQLClient]]:
    settings = make_settings(
        database.uri, mongo=MongoSettings(database=unique_database(), app_name="pixelpet-stream")
    )
    async with running_server(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        yield url, GraphQLClient(http)


async def test_a_stream_that_cannot_resume_resyncs_its_subscribers(
    faulty: tuple[str, GraphQLClient], database: DevDatabase
) -> None:
    url, client = faulty
    pet = await create_pet(client)
    watchers = [await watching(url, pet["id"]) for _ in range(5)]
    reads_before = _finds(await client._http.get("/metrics"))
    # ChangeStreamHistoryLost: the token is useless, so the broker starts afresh and every
    # subscriber gets a fresh snapshot instead of silence.
    async with fail_command(
        database.uri, times=1, failCommands=["getMore"], errorCode=286, appName="pixelpet-stream"
    ):
        resynced = [await watcher.next_pet(seconds=10) for watcher in watchers]
    assert {pet_now["id"] for pet_now in resynced} == {pet["id"]}
    # The pet's five subscribers shared one read of it.
    assert _finds(await client._http.get("/metrics")) - reads_before == 1
    await client.execute(FEED, {"id": pet["id"]})
    assert {(await w.next_pet())["version"] for w in watchers} == {2}, "the restarted stream delivers changes"
    metrics = (await client._http.get("/metrics")).text
    assert metric(metrics, "pixelpet_change_stream_restarts_total") == 1
    assert metric(metrics, "pixelpet_subscription_events_delivered_total") == 3 * 5
    for watcher in watchers:
        await watcher.close()


def _finds(response: httpx.Response) -> float:
    """``find`` commands the service has run (a pet's read is one)."""
    return metric(response.text, "pixelpet_mongodb_command_duration_seconds_count", command="find")


@pytest.fixture
async def strict(database: DevDatabase) -> AsyncIterator[tuple[str, GraphQLClient, Settings]]:
    settings = make_settings(database.uri, subscriptions=SubscriptionSettings(stall_timeout_s=1.0))
    async with (
        running_server(create_app(settings), send_buffer_bytes=4096) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        yield url, GraphQLClient(http), settings


async def test_a_stalled_client_is_cut_off_without_delaying_others(
    strict: tuple[str, GraphQLClient, Settings],
) -> None:
    url, client, _ = strict
    pet = await create_pet(client)
    healthy = await watching(url, pet["id"])

    sock = await stalled_subscriber(url, pet["id"])

    dropped = 0.0
    for round_number in range(1000):  # about 250 fill the buffers on the way to the stalled client
        name = f"n{round_number:04d}-{'x' * 24}"
        await client.execute(RENAME, {"id": pet["id"], "name": name})
        # The healthy subscriber sees every change promptly, whatever the stalled one does.
        assert (await healthy.next_pet(seconds=5))["name"] == name
        if round_number % 50 == 49:
            text = (await client._http.get("/metrics")).text
            dropped = metric(text, "pixelpet_subscription_clients_dropped_total")
            if dropped:
                break
    assert dropped == 1
    metrics = (await client._http.get("/metrics")).text
    assert metric(metrics, "pixelpet_subscription_events_coalesced_total") >= 1
    assert metric(metrics, "pixelpet_subscriptions_active") == 1
    await healthy.close()
    # When the client reads again, what it finds last is the close: a code graphql-ws reconnects after.
    try:
        received = await read_until_closed(sock, ending=close_frame_payload(CLIENT_TOO_SLOW))
    finally:
        sock.close()
    assert received.endswith(close_frame_payload(CLIENT_TOO_SLOW)), received[-64:]
    assert graphql_ws_reconnects(CLIENT_TOO_SLOW.code)


async def test_a_shutdown_cuts_off_a_client_that_stopped_reading_before_its_grace_ends(
    database: DevDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    settings = make_settings(
        database.uri,
        # The stall timeout would cut the client off first: here it is the shutdown that meets it.
        subscriptions=SubscriptionSettings(stall_timeout_s=120.0),
        lifecycle=LifecycleSettings(shutdown_grace_s=2),
    )
    async with (
        running_server(create_app(settings), send_buffer_bytes=4096) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        client = GraphQLClient(http)
        pet = await create_pet(client)
        sock = await stalled_subscriber(url, pet["id"])
        coalesced = 0.0
        for round_number in range(1000):  # about 250 fill the buffers on the way to the stalled client
            await client.execute(RENAME, {"id": pet["id"], "name": f"n{round_number:04d}-{'x' * 24}"})
            if round_number % 50 == 49:
                text = (await http.get("/metrics")).text
                # Updates wait (the newest replacing the one before): the buffer is over its high-water mark.
                coalesced = metric(text, "pixelpet_subscription_events_coalesced_total")
                if coalesced:
                    break
        assert coalesced >= 1
    # Leaving the block shut the server down, its grace 2 s: the client holding unread data was cut off a
    # second before, so uvicorn did not give up on the shutdown with an error.
    sock.close()
    messages = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert ("WARNING", "cutting off a WebSocket client that has not read its close") in messages
    assert not [message for level, message in messages if level == "ERROR"], messages


async def test_a_client_that_stops_answering_pings_is_disconnected(
    database: DevDatabase, tmp_path: Path
) -> None:
    service = ServiceProcess(
        env={
            "PIXELPET_MONGODB_URI": database.uri,
            "PIXELPET_MONGO__DATABASE": unique_database(),
            "PIXELPET_SUBSCRIPTIONS__PING_INTERVAL_S": "0.3",
            "PIXELPET_SUBSCRIPTIONS__PING_TIMEOUT_S": "0.3",
        },
        log_file=tmp_path / "service.log",
    )
    service.start()
    try:
        async with httpx.AsyncClient(base_url=service.url) as http:
            pet = await create_pet(GraphQLClient(http))
        sock = await stalled_subscriber(service.url, pet["id"])  # never answers a ping
        try:
            received = await read_until_closed(sock)
        finally:
            sock.close()
    finally:
        service.stop()
    # uvicorn's own code would be 1011, after which graphql-ws clients never reconnect (close_codes.py).
    assert received.endswith(close_frame_payload(CloseCode(CLIENT_TOO_SLOW.code, "keepalive ping timeout")))
    assert graphql_ws_reconnects(CLIENT_TOO_SLOW.code)
