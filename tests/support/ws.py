"""A graphql-transport-ws client on the `websockets` library, for tests."""

import asyncio
import itertools
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.graphql import token_for

PROTOCOL = websockets.Subprotocol("graphql-transport-ws")
PET_STATS = """subscription($id: ID!) {
  petStats(id: $id) { id name version activity mood needs stats { hunger happiness energy asOf } }
}"""


class SubscriptionClient:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._ids = itertools.count(1)

    @classmethod
    async def connect(
        cls, base_url: str, *, owner: str | None = "alice", token: str | None = None, **options: Any
    ) -> "SubscriptionClient":
        connection = await websockets.connect(
            base_url.replace("http", "ws", 1) + "/graphql", subprotocols=[PROTOCOL], **options
        )
        client = cls(connection)
        payload = {}
        if token or owner:
            payload["authorization"] = f"Bearer {token or token_for(owner or '')}"
        await client.send({"type": "connection_init", "payload": payload})
        return client

    async def acknowledged(self) -> "SubscriptionClient":
        assert (await self.receive())["type"] == "connection_ack"
        return self

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.connection.recv(), timeout))
        return message

    async def subscribe(self, pet_id: str, query: str = PET_STATS) -> str:
        operation_id = str(next(self._ids))
        await self.send({"id": operation_id, "type": "subscribe", "payload": {"query": query, "variables": {"id": pet_id}}})
        return operation_id

    async def next_pet(self, timeout: float = 10) -> dict[str, Any]:
        message = await self.receive(timeout)
        assert message["type"] == "next", message
        assert not message["payload"].get("errors"), message
        pet: dict[str, Any] = message["payload"]["data"]["petStats"]
        return pet

    async def nothing_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.connection.recv(), seconds)
        except TimeoutError:
            return True
        return False

    async def close(self) -> None:
        await self.connection.close()
