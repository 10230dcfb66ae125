"""The /play page in a real browser: Playwright driving Debian's Chromium against the service on uvicorn.

The service runs in this test's event loop with a clock the test moves, so time passing is an event, not a
wait. Every page of every test fails the test if it logs a console error or throws.
"""

import contextlib
import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    WebSocket,
    WebSocketRoute,
    async_playwright,
    expect,
)
from starlette.applications import Starlette

from pixelpet.app import create_app
from pixelpet.auth import mint_development_token
from pixelpet.clock import ManualClock
from pixelpet.devdb import DevDatabase, free_port
from pixelpet.settings import LimitSettings, MongoSettings, Settings, SubscriptionSettings
from tests.conftest import make_settings, unique_database
from tests.support.failpoints import failpoints
from tests.support.graphql import GraphQLClient, create_pet
from tests.support.server import running_server

# Debian's Chromium (`make tools` installs it); GitHub's Ubuntu runners carry Google Chrome instead.
CHROMIUM = shutil.which("chromium") or shutil.which("google-chrome") or "/usr/bin/chromium"
# The flags this machine's closed network needs (no background calls home), as Debian's Chromium runs here.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(os.environ.get("PIXELPET_TEST_ARTIFACTS", "test-artifacts"))
pytestmark = pytest.mark.timeout(300)


@dataclass
class Service:
    url: str
    app: Starlette
    clock: ManualClock
    settings: Settings
    problems: list[str] = field(default_factory=list)  # console errors and page errors, from every page


@pytest.fixture
def settings(database: DevDatabase) -> Settings:
    return make_settings(database.uri, subscriptions=SubscriptionSettings(min_snapshot_interval_s=0))


@pytest.fixture
async def service(settings: Settings, clock: ManualClock) -> AsyncIterator[Service]:
    port = free_port()
    app = create_app(settings, clock=clock)
    async with running_server(app, port=port) as url:
        yield Service(url, app, clock, settings)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # Playwright gives every launch a fresh, empty profile (user-data dir) of its own.
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


async def open_page(browser: Browser, service: Service) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport={"width": 1000, "height": 760})
    page = await context.new_page()

    def console(message: ConsoleMessage) -> None:
        # A refused WebSocket while the server is away is the browser's report of the outage, not a bug.
        if message.type == "error" and "WebSocket connection" not in message.text:
            service.problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: service.problems.append(str(error)))
    await page.goto(f"{service.url}/play/")
    return context, page


async def sign_in(page: Page, player: str) -> None:
    await page.get_by_label("Player name").fill(player)
    await page.get_by_role("button", name="Play as this player").click()
    await expect(page.locator("#connection")).to_have_text("Live")


async def adopt(page: Page, name: str, species: str = "CAT") -> None:
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Species").select_option(species)
    await page.get_by_role("button", name="Adopt").click()
    await expect(card(page, name)).to_be_visible()


def card(page: Page, name: str) -> Locator:
    return page.locator(".pet", has=page.locator(".name", has_text=re.compile(f"^{name}$")))


def card_of(page: Page, pet_id: str) -> Locator:
    return page.locator(f'.pet[data-pet-id="{pet_id}"]')


RENAME = "mutation($id: ID!, $name: String!) { renamePet(id: $id, name: $name) { id name } }"


@contextlib.asynccontextmanager
async def api(url: str, player: str) -> AsyncIterator[GraphQLClient]:
    """The player's own API client (another device): quicker than the page for setting up many pets."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield GraphQLClient(http, owner=player)


async def rename(client: GraphQLClient, pet_id: str, name: str) -> None:
    assert (await client.execute(RENAME, {"id": pet_id, "name": name})).data["renamePet"]["name"] == name


async def meter(page: Page, name: str, stat: str) -> float:
    value = await card(page, name).locator(f"meter.{stat}").evaluate("element => element.value")
    return float(value)


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (CI uploads the folder; the README shows one)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


async def test_adopting_and_feeding_moves_the_bar(
    browser: Browser, service: Service, artifacts: Path
) -> None:
    _, page = await open_page(browser, service)
    await sign_in(page, "feeder")
    await adopt(page, "Mochi")
    pet = card(page, "Mochi")
    await expect(pet.locator(".hunger-value")).to_have_text("20")
    service.clock.advance(timedelta(hours=6))  # hungrier: a cat at 20 is too full to eat
    await expect(pet.locator(".hunger-value")).not_to_have_text("20")
    hungry = await meter(page, "Mochi", "hunger")
    await pet.get_by_role("button", name="Feed").click()
    await expect(pet.locator(".hunger-value")).to_have_text(str(round(hungry - 35)))
    await expect(pet.locator(".sprite")).to_have_attribute("aria-label", re.compile("Mochi the cat"))
    await page.screenshot(path=artifacts / "play.png", full_page=True)
    assert service.problems == []


async def test_a_second_browser_sees_the_change_without_reloading(browser: Browser, service: Service) -> None:
    _, first = await open_page(browser, service)
    await sign_in(first, "two-tabs")
    await adopt(first, "Pixel", "DOG")
    _, second = await open_page(browser, service)
    await sign_in(second, "two-tabs")
    await expect(card(second, "Pixel")).to_be_visible()
    before = await meter(first, "Pixel", "happiness")
    await card(second, "Pixel").get_by_role("button", name="Play").click()
    await expect(card(first, "Pixel").locator(".happiness-value")).to_have_text(
        str(round(min(100, before + 20)))
    )
    await card(second, "Pixel").get_by_role("button", name="Rename").click()
    await card(second, "Pixel").get_by_label("New name").fill("Bit")  # the card is found by its old name
    await second.get_by_role("button", name="Save").click()
    await expect(card(first, "Bit")).to_be_visible()
    assert service.problems == []


async def test_time_alone_moves_the_bars(browser: Browser, service: Service) -> None:
    _, page = await open_page(browser, service)
    await sign_in(page, "waiter")
    await adopt(page, "Ember", "DRAGON")
    pet = card(page, "Ember")
    energy = await meter(page, "Ember", "energy")
    service.clock.advance(timedelta(hours=3))
    await expect(pet.locator(".energy-value")).not_to_have_text(str(round(energy)))
    assert await meter(page, "Ember", "energy") < energy
    assert service.problems == []


async def test_the_page_says_it_is_reconnecting_and_recovers(
    browser: Browser, settings: Settings, clock: ManualClock
) -> None:
    port = free_port()
    problems: list[str] = []
    async with running_server(create_app(settings, clock=clock), port=port) as url:
        service = Service(url, Starlette(), clock, settings, problems)
        _, page = await open_page(browser, service)
        await sign_in(page, "patient")
        await adopt(page, "Bubbles", "AXOLOTL")
    await expect(page.locator("#connection")).to_have_text(re.compile("Reconnecting|Connection lost"))
    await expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    async with (
        running_server(create_app(settings, clock=clock), port=port) as url,
        api(url, "patient") as client,
    ):
        await expect(page.locator("#connection")).to_have_text("Live", timeout=30_000)
        clock.advance(timedelta(hours=4))  # the resubscribed card is live again
        before = "80"
        await expect(card(page, "Bubbles").locator(".energy-value")).not_to_have_text(before)
        # The account is watched again as a whole: a pet adopted on another device appears.
        await create_pet(client, name="Latecomer", species="DOG")
        await expect(card(page, "Latecomer")).to_be_visible()
    assert problems == []


async def test_keyboard_alone_plays_the_game(browser: Browser, service: Service) -> None:
    _, page = await open_page(browser, service)
    await expect(page.get_by_label("Player name")).to_be_focused()
    await page.keyboard.press("Control+A")
    await page.keyboard.type("keys-only")
    await page.keyboard.press("Enter")
    await expect(page.locator("#connection")).to_have_text("Live")
    await expect(page.get_by_label("Name", exact=True)).to_be_focused()
    await page.keyboard.type("Tabby")
    await page.keyboard.press("Enter")  # submits the adopt form
    pet = card(page, "Tabby")
    await expect(pet).to_be_visible()
    service.clock.advance(timedelta(hours=6))
    await expect(pet.locator(".hunger-value")).not_to_have_text("20")
    await pet.get_by_role("button", name="Feed").focus()
    await page.keyboard.press("Enter")
    await expect(pet.locator(".message")).to_have_text("")
    await page.keyboard.press("Tab")  # Play
    await page.keyboard.press("Tab")  # Sleep
    await expect(pet.get_by_role("button", name="Sleep")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(pet.locator(".mood")).to_have_text("Asleep")
    await expect(pet.get_by_role("button", name="Wake")).to_be_focused()  # focus stays in the card
    await page.keyboard.press("Enter")
    await expect(pet.locator(".mood")).not_to_have_text("Asleep")
    await expect(pet.locator(".message")).to_have_text("")
    assert service.problems == []


async def test_refusals_are_shown_as_readable_messages(browser: Browser, service: Service) -> None:
    _, page = await open_page(browser, service)
    await sign_in(page, "refused")
    await adopt(page, "Full")
    pet = card(page, "Full")
    for _ in range(2):  # 20 -> 0, then too full: ACTION_REFUSED, its message shown
        await pet.get_by_role("button", name="Feed").click()
    await expect(pet.locator(".message")).not_to_be_empty()
    assert "ACTION_REFUSED" not in (await pet.locator(".message").text_content() or "")
    await pet.get_by_role("button", name="Delete").click()
    await pet.get_by_role("button", name="Really delete?").click()
    await expect(pet).to_have_count(0)
    assert service.problems == []


async def test_a_pasted_token_signs_in_and_a_bad_one_is_explained(browser: Browser, service: Service) -> None:
    _, page = await open_page(browser, service)
    await page.get_by_label("Bearer token").fill("not.a.token")
    await page.get_by_role("button", name="Use this token").click()
    await expect(page.locator("#notice")).to_have_text(re.compile("sign in again"))
    await expect(page.get_by_label("Bearer token")).to_be_visible()
    _, other = await open_page(browser, service)
    token = mint_development_token(
        secret=service.settings.auth.dev_secret.get_secret_value(),
        subject="paster",
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )
    await other.get_by_label("Bearer token").fill(token)
    await other.get_by_role("button", name="Use this token").click()
    await expect(other.locator("#connection")).to_have_text("Live")
    await expect(other.locator("#empty")).to_be_visible()
    assert service.problems == []


async def test_a_rate_limit_says_when_to_try_again(
    browser: Browser, database: DevDatabase, clock: ManualClock
) -> None:
    limits = LimitSettings(
        mutations_per_second=0.01, mutation_burst=3, queries_per_second=1000, query_burst=1000
    )
    strict = make_settings(
        database.uri, limits=limits, subscriptions=SubscriptionSettings(min_snapshot_interval_s=0)
    )
    async with running_server(create_app(strict, clock=clock)) as url:
        service = Service(url, Starlette(), clock, strict)
        _, page = await open_page(browser, service)
        await sign_in(page, "hasty")
        await adopt(page, "Zoom", "DOG")  # the first of three mutations the burst allows
        pet = card(page, "Zoom")
        for _ in range(2):
            await pet.get_by_role("button", name="Play").click()
            await expect(pet.locator(".message")).to_have_text("")
        await pet.get_by_role("button", name="Play").click()
        await expect(pet.locator(".message")).to_have_text(re.compile(r"^Slow down: try again in \d+ s\.$"))
        assert service.problems == []


async def test_more_than_ten_pets_each_update_live(browser: Browser, service: Service) -> None:
    """One account subscription, not one per pet: the 11th and 12th cards are as live as the first
    (per-pet subscriptions stopped at the per-connection cap of 10)."""
    async with api(service.url, "dozen") as client:
        pets = [await create_pet(client, name=f"Pet{n}") for n in range(1, 13)]
        _, page = await open_page(browser, service)
        await sign_in(page, "dozen")
        await expect(page.locator(".pet")).to_have_count(12)
        # One rename at a time, each seen before the next: the server's outbox (pixelpet/graphql/outbox.py)
        # keeps one unsent update per subscription, so updates of different pets sent together can replace
        # one another on the account stream; what this test shows is that every card is live.
        for n, pet in enumerate(pets, 1):
            await rename(client, pet["id"], f"Renamed{n}")
            await expect(card_of(page, pet["id"]).locator(".name")).to_have_text(f"Renamed{n}")
        for pet in pets:
            await expect(card_of(page, pet["id"]).locator(".message")).to_have_text("")
        await expect(page.locator(".pet")).to_have_count(12)
    assert service.problems == []


async def test_fifty_pets_the_per_player_cap_fit_one_subscription(browser: Browser, service: Service) -> None:
    async with api(service.url, "fifty") as client:
        pets = [await create_pet(client, name=f"Pet{n}") for n in range(1, 51)]
        _, page = await open_page(browser, service)
        await sign_in(page, "fifty")
        await expect(page.locator(".pet")).to_have_count(50)
        await expect(page.locator(".pet .name")).to_have_text(
            [f"Pet{n}" for n in range(1, 51)]
        )  # oldest first
        for index in (10, 49):  # the 11th and the 50th
            await rename(client, pets[index]["id"], f"Renamed{index + 1}")
            await expect(card_of(page, pets[index]["id"]).locator(".name")).to_have_text(
                f"Renamed{index + 1}"
            )
        await expect(page.locator("#connection")).to_have_text("Live")
    assert service.problems == []


async def test_pets_adopted_and_deleted_in_another_tab_appear_and_vanish(
    browser: Browser, service: Service
) -> None:
    _, first = await open_page(browser, service)
    await sign_in(first, "many-tabs")
    await adopt(first, "Stays")
    await adopt(first, "Leaves", "DOG")
    await first.evaluate("window.notReloaded = true")  # gone if the page reloaded
    _, second = await open_page(browser, service)
    await sign_in(second, "many-tabs")
    await expect(second.locator(".pet")).to_have_count(2)
    await adopt(second, "Newcomer", "DRAGON")
    await expect(card(first, "Newcomer")).to_be_visible()
    leaving = card(second, "Leaves")
    await leaving.get_by_role("button", name="Delete").click()
    await leaving.get_by_role("button", name="Really delete?").click()
    await expect(card(second, "Leaves")).to_have_count(0)
    await expect(card(first, "Leaves")).to_have_count(0)
    await expect(first.locator(".pet .name")).to_have_text(["Stays", "Newcomer"])
    assert await first.evaluate("window.notReloaded") is True
    assert service.problems == []


async def test_the_page_subscribes_again_after_an_unavailable_ending(
    browser: Browser, database: DevDatabase, clock: ManualClock
) -> None:
    """The account stream's first read fails (a failpoint on `find`, the read of every pet): the server
    ends the subscription with UNAVAILABLE (a `next` with errors, then `complete`) and keeps the socket
    open; the page subscribes again on the same socket until a read succeeds."""
    app_name = "pixelpet-play-unavailable"  # the failpoint reaches this service only
    settings = make_settings(
        database.uri,
        mongo=MongoSettings(database=unique_database(), app_name=app_name),
        subscriptions=SubscriptionSettings(min_snapshot_interval_s=0),
    )
    async with running_server(create_app(settings, clock=clock)) as url, api(url, "unlucky") as client:
        service = Service(url, Starlette(), clock, settings)
        pet = await create_pet(client, name="Steady")
        _, page = await open_page(browser, service)
        sockets: list[WebSocket] = []
        received: list[dict[str, Any]] = []  # what the server sent the page
        page.on("websocket", lambda socket: sockets.append(socket))
        page.on(
            "websocket",
            lambda socket: socket.on("framereceived", lambda frame: received.append(json.loads(frame))),
        )
        async with failpoints(database.uri) as arm:
            # MaxTimeMSExpired: an outage to the service (UNAVAILABLE), and not a read the driver retries.
            await arm(failCommands=["find"], errorCode=50, appName=app_name)
            await page.get_by_label("Player name").fill("unlucky")
            await page.get_by_role("button", name="Play as this player").click()
            status = page.locator("#connection")
            await expect(status).to_have_text(re.compile(r"^Updates paused; retrying in \d+ s…$"))
            await expect(status).to_have_attribute("data-state", "reconnecting")
            await expect(page.locator(".pet")).to_have_count(0)
        await expect(status).to_have_text("Live", timeout=30_000)
        await expect(card_of(page, pet["id"]).locator(".name")).to_have_text("Steady")
        await rename(client, pet["id"], "Lucky")  # the new subscription is live
        await expect(card_of(page, pet["id"]).locator(".name")).to_have_text("Lucky")
        assert len(sockets) == 1, "subscribed again on the same socket, not reconnected"
        endings = [m for m in received if m["type"] == "next" and m["payload"].get("errors")]
        assert endings, "the server ended a subscription with an error"
        assert {e["payload"]["errors"][0]["extensions"]["code"] for e in endings} == {"UNAVAILABLE"}
        assert service.problems == []


async def test_a_4008_close_is_retried_and_a_fatal_one_is_not(browser: Browser, service: Service) -> None:
    """Decision 21's codes as the page meets them: 4008 (what the server sends a client that stopped
    reading) is retried and the account subscribed again; 4406 (a client bug) stops. A browser cannot be
    made to stop reading, so the close comes from Playwright's route in front of the real server."""
    _, page = await open_page(browser, service)
    routes: list[WebSocketRoute] = []

    def through(route: WebSocketRoute) -> None:
        route.connect_to_server()
        routes.append(route)

    await page.route_web_socket(re.compile(r"/graphql$"), through)
    await sign_in(page, "cut-off")
    await adopt(page, "Sturdy")
    status = page.locator("#connection")
    async with api(service.url, "cut-off") as client:
        await routes[-1].close(code=4008, reason="Client stopped reading; reconnect")
        await create_pet(client, name="Meanwhile")  # after the close: only a new subscription can show it
        await expect(card(page, "Meanwhile")).to_be_visible()
        await expect(status).to_have_text("Live")
        assert len(routes) == 2
        await routes[-1].close(code=4406, reason="Subprotocol not acceptable")
        await expect(status).to_have_text(re.compile(r"refused the connection \(4406"))
        await expect(status).to_have_attribute("data-state", "offline")
        await expect(card(page, "Sturdy")).to_be_visible()  # what it showed stays
    assert service.problems == []
