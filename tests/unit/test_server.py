"""How the service is served: uvicorn's WebSocket protocol as pixelpet/server.py changes it, driven through
its transport callbacks (the close code it sends after an unanswered ping is tested over a real socket in
tests/integration/subscriptions/test_at_scale.py)."""

import asyncio
import base64
import os
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.server import ServerState

from pixelpet.server import WebSocketProtocol


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: Any) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)


async def _accepting(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()  # websocket.connect
    await send({"type": "websocket.accept", "subprotocol": "graphql-transport-ws"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


def _handshake() -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        "GET /graphql HTTP/1.1\r\nHost: pets.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
    ).encode()


async def test_an_accepted_connection_lets_go_of_its_handshake() -> None:
    config = uvicorn.Config(_accepting, ws=WebSocketProtocol, ws_ping_interval=None, log_config=None)
    config.load()
    protocol = WebSocketProtocol(config=config, server_state=ServerState(), app_state={})
    transport = Transport()
    protocol.connection_made(transport)
    protocol.data_received(_handshake())
    request = protocol.request
    assert request is not None, "held while the app decides"
    assert request.headers
    for _ in range(100):
        if protocol.handshake_complete:
            break
        await asyncio.sleep(0.01)
    assert bytes(transport.written).startswith(b"HTTP/1.1 101")
    assert b"Sec-WebSocket-Protocol: graphql-transport-ws" in transport.written
    assert protocol.request is None
    assert protocol.response is None
    assert not request.headers, "websockets' parser still refers to the request: emptied"
    protocol.connection_lost(None)
    await asyncio.sleep(0)
