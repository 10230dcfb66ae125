"""The tests' graphql-transport-ws client: the package's (pixelpet/client/websocket.py), a message at a time.

Protocol tests send and receive raw messages through it; ``connection`` is the WebSocket underneath, for
the few that must send what no client library would (a frame that is not JSON).
"""

import asyncio
import itertools
import json
import socket
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Frame
from websockets.protocol import State
from websockets.uri import parse_uri

from pixelpet.client.websocket import (
    SUBPROTOCOL,
    GraphQLWebSocket,
    connection_init,
    subscribe_message,
    websocket_url,
)
from pixelpet.graphql.close_codes import CloseCode
from tests.support.graphql import token_for

PET_STATS = """subscription($id: ID!) {
  petStats(id: $id) { id name version activity mood needs stats { hunger happiness energy asOf } }
}"""


class SubscriptionClient:
    def __init__(self, client: GraphQLWebSocket) -> None:
        self.client = client
        self.connection = client.socket
        self._ids = itertools.count(1)

    @classmethod
    async def connect(
        cls, base_url: str, *, owner: str | None = "alice", token: str | None = None, **options: Any
    ) -> "SubscriptionClient":
        """Connected, with ``connection_init`` sent (no token when neither ``owner`` nor ``token``)."""
        client = cls(await GraphQLWebSocket.open(base_url, **options))
        await client.send(connection_init(token or (token_for(owner) if owner else None)))
        return client

    async def acknowledged(self) -> "SubscriptionClient":
        assert (await self.receive())["type"] == "connection_ack"
        return self

    async def send(self, message: dict[str, Any]) -> None:
        await self.client.send(message)

    async def receive(self, seconds: float = 10) -> dict[str, Any]:
        """The next message the server sent (its pings are answered, not returned)."""
        return await self.client.receive(timeout_s=seconds)

    async def subscribe(self, pet_id: str, query: str = PET_STATS) -> str:
        operation_id = str(next(self._ids))
        await self.send(subscribe_message(operation_id, query, {"id": pet_id}))
        return operation_id

    async def next_pet(self, seconds: float = 10) -> dict[str, Any]:
        message = await self.receive(seconds)
        assert message["type"] == "next", message
        assert not message["payload"].get("errors"), message
        pet: dict[str, Any] = message["payload"]["data"]["petStats"]
        return pet

    async def nothing_within(self, seconds: float) -> bool:
        try:
            await self.receive(seconds)
        except TimeoutError:
            return True
        return False

    async def close(self) -> None:
        await self.client.close()


async def stalled_subscriber(base_url: str, pet_id: str, *, owner: str = "alice") -> socket.socket:
    """Subscribe over a raw socket with a tiny receive buffer, read the first state, then never read again.

    Client libraries keep reading into their own queues; this one stops at the TCP level, as a frozen
    browser tab or a dead mobile radio does.
    """
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (host, int(port)))
    protocol = ClientProtocol(parse_uri(websocket_url(base_url)), subprotocols=[SUBPROTOCOL])
    protocol.send_request(protocol.connect())
    for data in protocol.data_to_send():
        await loop.sock_sendall(sock, data)
    while protocol.state is State.CONNECTING:  # the handshake response
        protocol.receive_data(await loop.sock_recv(sock, 65536))
    assert protocol.state is State.OPEN, protocol.handshake_exc
    for message in (connection_init(token_for(owner)), subscribe_message("1", PET_STATS, {"id": pet_id})):
        protocol.send_text(json.dumps(message).encode())
    for data in protocol.data_to_send():
        await loop.sock_sendall(sock, data)
    texts: list[str] = []
    while len(texts) < 2:  # connection_ack, then the first state
        protocol.receive_data(await loop.sock_recv(sock, 65536))
        texts += [event.data.decode() for event in protocol.events_received() if isinstance(event, Frame)]
    assert json.loads(texts[1])["type"] == "next", texts
    return sock


async def watching(base_url: str, pet_id: str, *, owner: str = "alice") -> SubscriptionClient:
    """A subscriber of ``pet_id`` that has received its first state."""
    client = await (await SubscriptionClient.connect(base_url, owner=owner)).acknowledged()
    await client.subscribe(pet_id)
    await client.next_pet()
    return client


async def read_until_closed(sock: socket.socket, *, ending: bytes = b"", seconds: float = 10) -> bytes:
    """Everything the server sends on a raw socket until it closes the connection, or until what arrived
    ends with ``ending`` (a close frame the server sent before waiting for the client's reply)."""
    loop = asyncio.get_running_loop()
    received = b""
    async with asyncio.timeout(seconds):
        while chunk := await loop.sock_recv(sock, 65536):
            received += chunk
            if ending and received.endswith(ending):
                break
    return received


def close_frame_payload(close: CloseCode) -> bytes:
    """A close frame's payload as it ends the stream (servers do not mask): the code, then the reason."""
    return close.code.to_bytes(2, "big") + close.reason.encode()
