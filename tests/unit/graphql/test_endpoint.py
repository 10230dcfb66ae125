"""The WebSocket endpoint's handshake, on ASGI messages (connections that get further are tested over a real
socket in tests/integration/subscriptions/)."""

from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from pixelpet.graphql.endpoint import GraphQLWebSocket
from pixelpet.graphql.schema import build_schema
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
