"""The GraphQL WebSocket endpoint: graphql-transport-ws straight on ASGI messages.

Strawberry's view serves a WebSocket through its request and response adapters and Starlette's
WebSocket, all kept for the connection's life: about 5 KiB of each idle subscriber (decision 11).
This endpoint does the view's part itself (origin check, subprotocol, context) and hands the
connection to ``LiveTransportHandler``: strawberry's protocol handling, subscriptions pushed.
"""

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from pixelpet.errors import Unauthenticated
from pixelpet.graphql.close_codes import AT_CAPACITY, TOKEN_EXPIRED, UNSUPPORTED_PROTOCOL
from pixelpet.graphql.context import Context, context_for
from pixelpet.graphql.encoding import encode_text
from pixelpet.graphql.schema import PixelPetSchema
from pixelpet.graphql.seam import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
    is_same_origin,
    normalize_allowed_origins,
    normalize_origin,
)
from pixelpet.graphql.telemetry import OperationRecorder
from pixelpet.graphql.transport import LiveServices, LiveTransportHandler
from pixelpet.runtime import Runtime
from pixelpet.settings import SubscriptionSettings

logger = logging.getLogger("pixelpet.subscriptions")

# An ASGI extension our uvicorn protocol offers (pixelpet/server.py): a message of this type sends its
# "texts", in order, in one socket write (the outbox's batches: outbox.py); with "wait" false it never waits
# for the connection's buffer to drain, raising BlockingIOError instead, having sent nothing.
SEND_BATCH = "pixelpet.websocket.send_batch"


class WebSocketConnection:
    """One client's socket, as the protocol handler sees it: JSON messages in and out."""

    __slots__ = ("_batched", "_closed", "_closing", "_expiry", "_receive", "_send")

    def __init__(self, receive: Receive, send: Send, *, batched: bool = False) -> None:
        self._receive = receive
        self._send = send
        self._batched = batched  # the server offers SEND_BATCH
        self._closed = False
        self._expiry: asyncio.TimerHandle | None = None
        self._closing: asyncio.Task[None] | None = None

    def expire_at(self, unix_time: float) -> None:
        """Close the connection with 4403 when its token expires (``unix_time``, leeway included)."""
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(max(0.0, unix_time - time.time()), self._expire)

    def _expire(self) -> None:
        logger.info("closing a WebSocket whose token expired")
        self._closing = asyncio.get_running_loop().create_task(self.close(*TOKEN_EXPIRED))

    def forget_timers(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        while True:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                self._closed = True
                return
            text = message.get("text")
            if text is None:
                raise NonTextMessageReceived
            try:
                yield json.loads(text)
            except json.JSONDecodeError as error:
                if not ignore_parsing_errors:
                    raise NonJsonMessageReceived from error

    async def send_json(self, message: Mapping[str, object]) -> None:
        await self.send_text(encode_text(message))

    async def send_text(self, text: str) -> None:
        """Send a message already encoded (a shared result is encoded once for all its subscribers)."""
        if self._closed:
            raise WebSocketDisconnected
        try:
            await self._send({"type": "websocket.send", "text": text})
        except OSError as error:  # ASGI servers raise an OSError once the client is gone
            self._closed = True
            raise WebSocketDisconnected from error

    async def send_texts(self, texts: list[str], *, wait: bool = True) -> None:
        """Send messages already encoded, in order: in one write where the server offers SEND_BATCH. With
        ``wait`` false, at once or not at all (BlockingIOError; always without SEND_BATCH)."""
        if self._closed:
            raise WebSocketDisconnected
        if not wait and not self._batched:
            raise BlockingIOError  # one by one, a send may wait
        try:
            if self._batched:
                await self._send({"type": SEND_BATCH, "texts": texts, "wait": wait})
            else:
                for text in texts:
                    await self._send({"type": "websocket.send", "text": text})
        except BlockingIOError:
            raise  # not sent; the connection is still there
        except OSError as error:
            self._closed = True
            raise WebSocketDisconnected from error

    async def close(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):  # already gone: nothing left to close
            await self._send({"type": "websocket.close", "code": code, "reason": reason})


class GraphQLWebSocket:
    """The ASGI app of the WebSocket route at /graphql."""

    def __init__(
        self,
        schema: PixelPetSchema,
        settings: SubscriptionSettings,
        *,
        recorder: OperationRecorder,
        allowed_origins: list[str],
        max_connections: int,
    ) -> None:
        # What each connection's protocol handler is given.
        self._services = LiveServices(
            schema=schema,
            core_schema=schema.core,
            documents=schema.document_cache,
            settings=settings,
            recorder=recorder,
            outbox_events=recorder.metrics,
        )
        self._max_connections = max_connections
        self._open = 0
        # A backstop on all operations per connection; limits.py enforces the subscription cap with
        # a typed error.
        self._max_operations = 2 * settings.max_per_connection
        self._allowed_origins = normalize_allowed_origins(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        if not self._origin_allowed(scope):
            await send({"type": "websocket.close", "code": 1008})  # before accepting: HTTP 403
            return
        if GRAPHQL_TRANSPORT_WS_PROTOCOL not in scope.get("subprotocols", ()):
            await send({"type": "websocket.accept"})
            code, reason = UNSUPPORTED_PROTOCOL
            await send({"type": "websocket.close", "code": code, "reason": reason})
            return
        await send({"type": "websocket.accept", "subprotocol": GRAPHQL_TRANSPORT_WS_PROTOCOL})
        _forget_handshake_headers(scope)
        if self._open >= self._max_connections:
            logger.warning("refused a WebSocket: %d connections open", self._open)
            code, reason = AT_CAPACITY
            await send({"type": "websocket.close", "code": code, "reason": reason})
            return
        self._open += 1
        try:
            batched = SEND_BATCH in (scope.get("extensions") or {})
            await self._serve(scope, WebSocketConnection(receive, send, batched=batched))
        finally:
            self._open -= 1

    async def _serve(self, scope: Scope, connection: WebSocketConnection) -> None:
        runtime: Runtime = scope["app"].state.runtime
        context = context_for(runtime, client=scope.get("client"), connection=connection)
        handler = LiveTransportHandler(
            self._services,
            websocket=connection,
            context=context,
            authenticator=self,
            max_operations=self._max_operations,
        )
        try:
            await handler.handle()
        finally:
            connection.forget_timers()

    async def on_ws_connect(self, context: Context) -> None:
        """Authenticate the connection from its connection_init payload, or close it with 4403."""
        try:
            await context.owner()
        except Unauthenticated as error:
            raise ConnectionRejectionError({"message": error.message, "code": error.code.value}) from error
        # Verified once; the bearer token is not kept for the connection's life, and the connection
        # ends when the token does.
        context.connection_params = None
        assert context.identity is not None
        assert isinstance(context.connection, WebSocketConnection)
        context.connection.expire_at(context.identity.expires_at)

    def _origin_allowed(self, scope: Scope) -> bool:
        """Strawberry's rule: pages on other origins may connect only if listed; non-browsers may."""
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        origin = headers.get("origin")
        if origin is None or headers.get("sec-fetch-site") == "same-origin":
            return True
        if is_same_origin(origin, headers.get("host")) or "*" in self._allowed_origins:
            return True
        if normalize_origin(origin) in self._allowed_origins:
            return True
        logger.warning("refused a WebSocket from origin %r", origin)
        return False


def _forget_handshake_headers(scope: Scope) -> None:
    """Empty the handshake's headers once the connection is accepted.

    They are read at the handshake only (the origin and subprotocol checks above, the caller's trace in
    telemetry/asgi.py), but the scope lives as long as the connection, in uvicorn's protocol and in every
    middleware frame: about 1.5 KiB of each idle subscriber (docs/performance.md, entry 22). Emptied in
    place, as every holder shares the one list.
    """
    headers = scope.get("headers")
    if isinstance(headers, list):
        headers.clear()


class WebSocketShortcut:
    """Serves WebSockets at ``path`` with ``endpoint``, ahead of Starlette's exception middleware and router.

    Those keep their frames for a WebSocket's whole life, about 1.7 KiB of each idle subscriber
    (decision 11), and have no response to shape for one. Everything else passes through.
    """

    def __init__(self, app: ASGIApp, *, path: str, endpoint: ASGIApp) -> None:
        self._app = app
        self._path = path
        self._endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == self._path:
            await self._endpoint(scope, receive, send)
        else:
            await self._app(scope, receive, send)
