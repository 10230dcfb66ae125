"""The WebSocket endpoint's handshake and its sends, on ASGI messages (connections that get further are
tested over a real socket in tests/integration/subscriptions/)."""

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from pixelpet.graphql.endpoint import SEND_BATCH, GraphQLWebSocket, WebSocketConnection
from pixelpet.graphql.schema import build_schema
from pixelpet.graphql.seam import WebSocketDisconnected
from pixelpet.graphql.telemetry import OperationRecorder
from pixelpet.settings import LimitSettings, SubscriptionSettings
from pixelpet.telemetry.metrics import Metrics


def _endpoint(*, max_connections: int) -> GraphQLWebSocket:
    metrics = Metrics(version="test", environment="test")
    recorder = OperationRecorder(tracer=TracerProvider().get_tracer("test"), metrics=metrics)
    return GraphQLWebSocket(
        build_schema(LimitSettings(), recorder=recorder),
        SubscriptionSettings(),
        recorder=recorder,
        allowed_origins=[],
        max_connections=max_connections,
    )


async def _handshake(endpoint: GraphQLWebSocket, headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    scope: dict[str, Any] = {
        "type": "websocket",
        "path": "/graphql",
        "headers": headers,
        "subprotocols": ["graphql-transport-ws"],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await endpoint(scope, receive, send)
    sent.append({"headers left": scope["headers"]})
    return sent


async def test_an_accepted_connection_keeps_no_handshake_headers() -> None:
    headers = [(b"host", b"pets.example"), (b"user-agent", b"x" * 500)]
    # At capacity: accepted, then closed with 1013, which ends the endpoint right after the handshake.
    sent = await _handshake(_endpoint(max_connections=0), headers)
    assert sent[0] == {"type": "websocket.accept", "subprotocol": "graphql-transport-ws"}
    assert sent[1]["type"] == "websocket.close"
    assert sent[-1] == {"headers left": []}


async def test_a_refused_origin_is_decided_from_the_headers_before_they_are_emptied() -> None:
    headers = [(b"host", b"pets.example"), (b"origin", b"https://evil.example")]
    sent = await _handshake(_endpoint(max_connections=10), headers)
    assert sent[0] == {"type": "websocket.close", "code": 1008}
    assert sent[-1] == {"headers left": headers}, "refused before accepting: nothing to let go of"


class Recorded:
    """The server side of the ASGI messages: a ``full`` one takes no batch at once (its buffer is full)."""

    def __init__(self, *, fail: bool = False, full: bool = False) -> None:
        self.messages: list[dict[str, Any]] = []
        self._fail = fail
        self.full = full

    async def receive(self) -> dict[str, Any]:
        return {"type": "websocket.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if self._fail:
            raise ConnectionResetError  # what uvicorn raises once the client is gone: an OSError
        if self.full and message.get("wait") is False:
            raise BlockingIOError
        self.messages.append(message)


async def test_messages_go_in_one_asgi_message_where_the_server_offers_batches() -> None:
    asgi = Recorded()
    connection = WebSocketConnection(asgi.receive, asgi.send, batched=True)
    await connection.send_texts(["a", "b", "c"])
    await connection.send_texts(["d"], wait=False)
    assert asgi.messages == [
        {"type": SEND_BATCH, "texts": ["a", "b", "c"], "wait": True},
        {"type": SEND_BATCH, "texts": ["d"], "wait": False},
    ]


async def test_messages_go_one_by_one_in_order_where_the_server_offers_no_batches() -> None:
    asgi = Recorded()
    connection = WebSocketConnection(asgi.receive, asgi.send)
    await connection.send_texts(["a", "b"])
    assert asgi.messages == [{"type": "websocket.send", "text": "a"}, {"type": "websocket.send", "text": "b"}]
    with pytest.raises(BlockingIOError):  # one by one, a send may wait: never promised not to
        await connection.send_texts(["c"], wait=False)
    assert len(asgi.messages) == 2
    await connection.send_texts(["c"])  # the connection is still there
    assert len(asgi.messages) == 3


async def test_a_batch_the_server_cannot_take_at_once_leaves_the_connection_open() -> None:
    asgi = Recorded(full=True)
    connection = WebSocketConnection(asgi.receive, asgi.send, batched=True)
    with pytest.raises(BlockingIOError):
        await connection.send_texts(["a"], wait=False)
    await connection.send_texts(["a"])  # waiting for it to drain, as a writer of its own does
    assert asgi.messages == [{"type": SEND_BATCH, "texts": ["a"], "wait": True}]


async def test_a_batch_to_a_client_that_left_says_so_as_a_single_message_does() -> None:
    asgi = Recorded(fail=True)
    connection = WebSocketConnection(asgi.receive, asgi.send, batched=True)
    with pytest.raises(WebSocketDisconnected):
        await connection.send_texts(["a"])
    with pytest.raises(WebSocketDisconnected):  # known gone: not sent again
        await connection.send_text("b")
