"""A graphql-transport-ws client on ``websockets``: connect, authenticate, subscribe, complete.

One connection carries any number of subscriptions; each reads only its own messages, and whatever
belongs to no subscription (``connection_ack``, ``pong``, an operation sent as a raw message) waits for
``receive``. A server's ``ping`` is answered on the way, as the protocol asks of every client. The
connection has no reader task of its own: messages are read while someone waits for one (websockets
buffers a few frames, then pushes back through TCP), so there is no task to cancel or to leak.
"""

import asyncio
import itertools
import json
from collections import deque
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

SUBPROTOCOL = Subprotocol("graphql-transport-ws")
ACK_TIMEOUT_S = 10.0
Message = dict[str, Any]


class ClientError(Exception):
    """Anything this client reports about the server's side of a conversation."""


class HandshakeRefused(ClientError):
    """The upgrade was answered with an HTTP status instead of a WebSocket (a refused origin, a cap)."""

    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(f"the WebSocket handshake was refused: {detail}")
        self.status = status


class Closed(ClientError):
    """The connection closed; ``code`` and ``reason`` are what the server sent (None: no close frame)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"the connection closed: {code} {reason}".rstrip())
        self.code = code
        self.reason = reason

    @classmethod
    def from_websockets(cls, closed: ConnectionClosed) -> "Closed":
        received = closed.rcvd
        return cls(received.code, received.reason) if received else cls(None, "")


class NotAcknowledged(ClientError):
    """The server answered ``connection_init`` with something other than ``connection_ack``."""


class Completed(ClientError):
    """The server completed the operation: it has nothing more to send for it."""


class SubscriptionFailed(ClientError):
    """The server sent ``error`` for an operation: its GraphQL errors (the operation is over)."""

    def __init__(self, operation_id: str, errors: list[dict[str, Any]]) -> None:
        first = errors[0] if errors else {}
        code = first.get("extensions", {}).get("code", "ERROR")
        super().__init__(f"operation {operation_id} failed: {code}: {first.get('message')}")
        self.operation_id = operation_id
        self.errors = errors


def websocket_url(base_url: str) -> str:
    """The GraphQL endpoint of a service's base URL, as a WebSocket URL (http -> ws, https -> wss)."""
    return base_url.replace("http", "ws", 1) + "/graphql"


def connection_init(token: str | None) -> Message:
    """The first message: the bearer token travels in the payload, as browsers cannot set headers."""
    return {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"} if token else {}}


def subscribe_message(operation_id: str, query: str, variables: Mapping[str, Any] | None = None) -> Message:
    return {
        "id": operation_id,
        "type": "subscribe",
        "payload": {"query": query, "variables": variables or {}},
    }


class GraphQLWebSocket:
    """One graphql-transport-ws connection; ``socket`` is the raw WebSocket underneath."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self._operation_ids = itertools.count(1)
        self._by_operation: dict[str, deque[Message]] = {}
        self._unrouted: deque[Message] = deque()
        self._finished: set[str] = set()
        self._reading = asyncio.Lock()

    @classmethod
    async def open(cls, base_url: str, **options: Any) -> Self:
        """The WebSocket handshake only; ``options`` go to ``websockets.connect`` (``origin``, ...).

        An unreachable server raises ``OSError``; one that answers with HTTP, ``HandshakeRefused``.
        """
        try:
            socket = await connect(websocket_url(base_url), subprotocols=[SUBPROTOCOL], **options)
        except InvalidStatus as refused:
            raise HandshakeRefused(refused.response.status_code, str(refused)) from refused
        except InvalidHandshake as refused:
            raise HandshakeRefused(None, str(refused)) from refused
        return cls(socket)

    @classmethod
    async def connect(
        cls, base_url: str, token: str | None, *, ack_timeout_s: float = ACK_TIMEOUT_S, **options: Any
    ) -> Self:
        """A connection the server has acknowledged; a refusal raises ``Closed`` with its code (4403)."""
        client = await cls.open(base_url, **options)
        try:
            await client.send(connection_init(token))
            answer = await client.receive(timeout_s=ack_timeout_s)
            if answer.get("type") != "connection_ack":
                raise NotAcknowledged(f"connection_init was answered with {answer}")
        except BaseException:
            await client.close()
            raise
        return client

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def send(self, message: Mapping[str, Any]) -> None:
        try:
            await self.socket.send(json.dumps(message))
        except ConnectionClosed as closed:
            raise Closed.from_websockets(closed) from closed

    async def receive(self, timeout_s: float | None = None) -> Message:
        """The next message that belongs to no subscription of this client."""
        async with asyncio.timeout(timeout_s):
            return await self._next_in(self._unrouted)

    async def subscribe(
        self, query: str, variables: Mapping[str, Any] | None = None, *, operation_id: str | None = None
    ) -> "Subscription":
        if operation_id in self._by_operation:
            raise ClientError(f"operation {operation_id} is already open on this connection")
        while operation_id is None or operation_id in self._by_operation:  # ours skip the caller's
            operation_id = str(next(self._operation_ids))
        self._by_operation[operation_id] = deque()
        self._finished.discard(operation_id)
        await self.send(subscribe_message(operation_id, query, variables))
        return Subscription(self, operation_id)

    async def next_result(self, operation_id: str, timeout_s: float | None = None) -> dict[str, Any]:
        """An operation's next payload (``data``, perhaps ``errors``); ``Completed`` or ``SubscriptionFailed``
        when the server ends it."""
        queue = self._by_operation.get(operation_id)
        if queue is None:
            raise ClientError(f"operation {operation_id} is not open on this connection")
        async with asyncio.timeout(timeout_s):
            message = await self._next_in(queue)
        if message.get("type") == "next":
            payload: dict[str, Any] = message.get("payload") or {}
            return payload
        self._forget(operation_id)
        if message.get("type") == "error":
            raise SubscriptionFailed(operation_id, message.get("payload") or [])
        raise Completed(f"the server completed operation {operation_id}")

    async def complete(self, operation_id: str) -> None:
        """Ends an operation; whatever the server still sends for it is dropped."""
        self._forget(operation_id)
        await self.send({"id": operation_id, "type": "complete"})

    async def close(self) -> None:
        await self.socket.close()

    def _forget(self, operation_id: str) -> None:
        self._by_operation.pop(operation_id, None)
        self._finished.add(operation_id)

    async def _next_in(self, queue: deque[Message]) -> Message:
        # One reader at a time files each message in its queue; the others find theirs when they get
        # the lock. Cancelling recv() loses nothing (websockets keeps the frame), so timeouts are safe.
        while not queue:
            async with self._reading:
                if not queue:
                    self._file(await self._read())
        return queue.popleft()

    async def _read(self) -> Message:
        """The next message that is not a ping; pings are answered here."""
        while True:
            try:
                message: Message = json.loads(await self.socket.recv())
            except ConnectionClosed as closed:
                raise Closed.from_websockets(closed) from closed
            if message.get("type") != "ping":
                return message
            await self.send({"type": "pong"})

    def _file(self, message: Message) -> None:
        operation_id = message.get("id")
        queue = self._by_operation.get(operation_id) if isinstance(operation_id, str) else None
        if queue is not None:
            queue.append(message)
        elif operation_id not in self._finished:
            self._unrouted.append(message)


class Subscription:
    """One operation's results: iterate for each ``next`` payload; ``complete`` from the server ends it."""

    def __init__(self, client: GraphQLWebSocket, operation_id: str) -> None:
        self.client = client
        self.id = operation_id

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> dict[str, Any]:
        try:
            return await self.client.next_result(self.id)
        except Completed:
            raise StopAsyncIteration from None

    async def next(self, timeout_s: float | None = None) -> dict[str, Any]:
        return await self.client.next_result(self.id, timeout_s)

    async def complete(self) -> None:
        await self.client.complete(self.id)
