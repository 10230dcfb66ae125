"""Open-loop player traffic for the end-to-end test, bounded in rate, concurrency and time.

Open loop (a fixed arrival rate, as real players are) rather than closed loop: when the database is
away, requests keep arriving and fail at the rate they arrive, as they would for users, instead of
slowing down with the service and hiding the outage from the SLO. The generator is the package's
(pixelpet/client/traffic.py); this module gives it the test's mix and runs it in a thread of its own.
"""

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

import httpx

from pixelpet.client import traffic
from pixelpet.client.http import post_graphql
from pixelpet.client.traffic import LiveTally, OpenLoop, Tally, Turn
from tests.support.graphql import token_for
from tests.support.ws import PET_STATS

ACTIONS = ("feedPet", "playWithPet", "putPetToSleep", "wakePet")
MAX_IN_FLIGHT = 100
RECONNECT_AFTER_S = 1.0


class Traffic:
    """Runs in a thread of its own with its own event loop; ``stop`` ends it."""

    def __init__(self, base_urls: list[str], *, rate_per_s: float, max_duration_s: float = 1200) -> None:
        self._urls = base_urls
        self._rate_per_s = rate_per_s
        self._max_duration_s = max_duration_s
        self._running = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._token = token_for("load")
        self.requests = Tally()
        self.live = LiveTally()

    def start(self) -> None:
        self._running.set()
        self._thread.start()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No new requests while the block runs (a test that arms a one-shot failpoint needs this)."""
        self._running.clear()
        time.sleep(3)  # let requests in flight finish (they are bounded by the 2 s database budget)
        try:
            yield
        finally:
            self._running.set()

    def stop(self) -> None:
        self._stopped.set()
        self._running.set()
        self._thread.join(timeout=30)

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            pets = [await self._adopt(http, url, index) for index, url in enumerate(self._urls)]
            # One subscriber on another instance than the pet's writes: changes cross the change stream.
            watcher = asyncio.create_task(
                traffic.watch(
                    self._urls[-1],
                    self._token,
                    PET_STATS,
                    {"id": pets[0][1]},
                    self.live,
                    reconnect_after_s=RECONNECT_AFTER_S,
                )
            )
            await traffic.run(
                self._step(http, pets),
                OpenLoop(self._rate_per_s, max_in_flight=MAX_IN_FLIGHT),
                max_seconds=self._max_duration_s,
                until=self._stopped.is_set,
                paused=lambda: not self._running.is_set(),
                tally=self.requests,
            )
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    async def _adopt(self, http: httpx.AsyncClient, url: str, index: int) -> tuple[str, str]:
        answer = await post_graphql(
            http,
            "mutation($input: CreatePetInput!) { createPet(input: $input) { id } }",
            {"input": {"name": f"Load{index}", "species": "CAT"}},
            token=self._token,
            base_url=url,
        )
        assert answer.data is not None, answer
        return url, answer.data["createPet"]["id"]

    def _step(self, http: httpx.AsyncClient, pets: list[tuple[str, str]]) -> traffic.Step:
        """Round robin over the instances; by the turn's number, half lists, then reads, actions, renames."""

        async def step(turn: Turn) -> str:
            url, pet_id = pets[turn.number % len(pets)]
            kind = turn.number % 10
            if kind < 5:
                query, variables = (
                    "{ pets(first: 5) { edges { node { id name mood stats { hunger } } } } }",
                    {},
                )
            elif kind < 7:
                query, variables = "query($id: ID!) { pet(id: $id) { id needs } }", {"id": pet_id}
            elif kind < 9:
                action = ACTIONS[turn.number % len(ACTIONS)]
                query = f"mutation($id: ID!) {{ {action}(id: $id) {{ version }} }}"
                variables = {"id": pet_id}
            else:
                query = "mutation($id: ID!, $n: String!) { renamePet(id: $id, name: $n) { version } }"
                variables = {"id": pet_id, "n": f"Load{turn.number % 7}"}
            answer = await post_graphql(http, query, variables, token=self._token, base_url=url)
            return answer.outcome

        return step
