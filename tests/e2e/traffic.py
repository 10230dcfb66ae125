"""Open-loop player traffic for the end-to-end test, bounded in rate, concurrency and time.

Open loop (a fixed arrival rate, as real players are) rather than closed loop: when the database is
away, requests keep arriving and fail at the rate they arrive, as they would for users, instead of
slowing down with the service and hiding the outage from the SLO.
"""

import asyncio
import contextlib
import itertools
import json
import threading
import time
from typing import Any

import httpx
import websockets

from tests.support.graphql import token_for
from tests.support.ws import PET_STATS, PROTOCOL

ACTIONS = ("feedPet", "playWithPet", "putPetToSleep", "wakePet")


class Traffic:
    """Runs in a thread of its own with its own event loop; ``stop`` ends it."""

    def __init__(self, base_urls: list[str], *, rate_per_s: float, max_duration_s: float = 1200) -> None:
        self._urls = base_urls
        self._interval = 1 / rate_per_s
        self._max_duration_s = max_duration_s
        self._running = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.codes: dict[str, int] = {}
        self.subscription_messages = 0

    def start(self) -> None:
        self._running.set()
        self._thread.start()

    @contextlib.contextmanager
    def paused(self) -> Any:
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
        deadline = time.monotonic() + self._max_duration_s
        limits = asyncio.Semaphore(100)
        async with httpx.AsyncClient(timeout=10) as http:
            pets = [await self._adopt(http, url, index) for index, url in enumerate(self._urls)]
            watcher = asyncio.create_task(self._watch(self._urls[-1], pets[0][1]))
            pending: set[asyncio.Task[None]] = set()
            for tick in itertools.count():
                if self._stopped.is_set() or time.monotonic() > deadline:
                    break
                if not self._running.is_set():
                    await asyncio.sleep(0.1)
                    continue
                url, pet_id = pets[tick % len(pets)]
                await limits.acquire()
                task = asyncio.create_task(self._one(http, url, pet_id, tick))
                pending.add(task)
                task.add_done_callback(lambda done: (pending.discard(done), limits.release()))
                await asyncio.sleep(self._interval)
            watcher.cancel()
            await asyncio.gather(watcher, *pending, return_exceptions=True)

    async def _adopt(self, http: httpx.AsyncClient, url: str, index: int) -> tuple[str, str]:
        body = await self._post(
            http,
            url,
            "mutation($input: CreatePetInput!) { createPet(input: $input) { id } }",
            {"input": {"name": f"Load{index}", "species": "CAT"}},
        )
        return url, body["data"]["createPet"]["id"]

    async def _one(self, http: httpx.AsyncClient, url: str, pet_id: str, tick: int) -> None:
        kind = tick % 10
        if kind < 5:
            query, variables = "{ pets(first: 5) { edges { node { id name mood stats { hunger } } } } }", {}
        elif kind < 7:
            query, variables = "query($id: ID!) { pet(id: $id) { id needs } }", {"id": pet_id}
        elif kind < 9:
            action = ACTIONS[tick % len(ACTIONS)]
            query, variables = f"mutation($id: ID!) {{ {action}(id: $id) {{ version }} }}", {"id": pet_id}
        else:
            query, variables = (
                "mutation($id: ID!, $n: String!) { renamePet(id: $id, name: $n) { version } }",
                {
                    "id": pet_id,
                    "n": f"Load{tick % 7}",
                },
            )
        try:
            body = await self._post(http, url, query, variables)
            errors = body.get("errors") or []
            code = errors[0]["extensions"]["code"] if errors else "OK"
        except httpx.HTTPError as error:
            code = type(error).__name__
        self.codes[code] = self.codes.get(code, 0) + 1

    async def _watch(self, url: str, pet_id: str) -> None:
        """One subscriber on another instance than the pet's writes: changes cross the change stream."""
        while True:
            try:
                async with websockets.connect(
                    url.replace("http", "ws", 1) + "/graphql", subprotocols=[PROTOCOL]
                ) as socket:
                    authorization = f"Bearer {token_for('load')}"
                    await socket.send(
                        json.dumps({"type": "connection_init", "payload": {"authorization": authorization}})
                    )
                    await socket.recv()
                    await socket.send(
                        json.dumps(
                            {
                                "id": "1",
                                "type": "subscribe",
                                "payload": {"query": PET_STATS, "variables": {"id": pet_id}},
                            }
                        )
                    )
                    async for _ in socket:
                        self.subscription_messages += 1
            except (OSError, websockets.WebSocketException):
                await asyncio.sleep(1)  # the service restarts its stream; reconnect as a client would

    @staticmethod
    async def _post(http: httpx.AsyncClient, url: str, query: str, variables: dict[str, Any]) -> Any:
        response = await http.post(
            f"{url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token_for('load')}"},
        )
        return response.json()
