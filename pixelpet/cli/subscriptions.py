"""The CLI's graphql-transport-ws client (probe, loadgen): connect, authenticate, subscribe."""

import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

PROTOCOL = Subprotocol("graphql-transport-ws")


class NotAcknowledged(Exception):
    """The server did not acknowledge the connection (it closes with the reason, e.g. 4403)."""


async def subscribe(
    url: str, token: str, query: str, variables: dict[str, Any], *, operation_id: str = "1"
) -> ClientConnection:
    """A socket to ``url``'s /graphql on which ``query`` is subscribed; the caller reads and closes it."""
    socket = await connect(url.replace("http", "ws", 1) + "/graphql", subprotocols=[PROTOCOL])
    try:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        if json.loads(await socket.recv()).get("type") != "connection_ack":
            raise NotAcknowledged("the connection was not acknowledged")
        payload = {"query": query, "variables": variables}
        await socket.send(json.dumps({"id": operation_id, "type": "subscribe", "payload": payload}))
    except BaseException:
        await socket.close()
        raise
    return socket
