"""Runs the app under uvicorn with JSON logs and podinfo-style graceful shutdown."""

import asyncio
import gc
import logging
from collections.abc import Iterable
from typing import Any, cast

import uvicorn
from starlette.types import ASGIApp
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request

from pixelpet.app import create_app
from pixelpet.graphql.close_codes import CLIENT_TOO_SLOW
from pixelpet.graphql.endpoint import SEND_BATCH
from pixelpet.lifecycle import DrainingServer
from pixelpet.settings import Settings
from pixelpet.telemetry.logging import configure_logging

logger = logging.getLogger("pixelpet.subscriptions")

# What the protocol offers in every WebSocket scope's extensions: one shared, empty description.
_OFFERED: dict[object, object] = {}


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, closing a connection whose keepalive ping went unanswered with
    4008 instead of 1011 (graphql-ws clients never reconnect after 1011: pixelpet/graphql/close_codes.py),
    letting go of the handshake once the connection is accepted, and offering ``SEND_BATCH``: several
    messages in one socket write; asked not to wait, at once or not at all (pixelpet/graphql/endpoint.py).

    Its close never waits for the client to read: uvicorn's waited, like a message, for the transport's
    buffer to drain, so a client that stopped reading (the one a close with 4008 is for) kept its
    connection until it read again. The close frame, a few bytes, goes behind what the buffer holds, and a
    client that has not read it within the close timeout (the ping timeout: both wait for the peer's
    answer) is cut off: closing would wait for the buffer to drain, forever. So is one that let a keepalive
    ping go unanswered and does not read its close.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.ping_timeout is not None:
            self.close_timeout = self.ping_timeout  # uvicorn's: a fixed 10 s
        # Closed by the protocol itself (an unanswered ping), not by the app: to the app, the client left.
        self._closed_for_the_app = False

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:  # uvicorn built the scope it runs the app with
            extensions = self.scope.get("extensions")
            if extensions is not None:
                extensions[SEND_BATCH] = _OFFERED

    async def send(self, message: ASGISendEvent) -> None:
        if self._closed_for_the_app:
            raise ClientDisconnected  # uvicorn would raise RuntimeError: a message after a close it sent
        if message["type"] == "websocket.close" and self._open():
            self._close(message.get("code", 1000), message.get("reason") or "")
            return
        kind = message["type"]
        if kind == SEND_BATCH and not cast("Any", message).get("wait", True) and not self.writable.is_set():
            raise BlockingIOError  # the transport's buffer is over its high-water mark: nothing sent
        if not self.writable.is_set() and self._open():
            # As uvicorn's send: wait for the buffer to go below its high-water mark. The close does not
            # wait, so it can overtake a message waiting here; that message finds the connection closing,
            # as if the client had left (uvicorn would raise RuntimeError: a message after the close). In a
            # loop: another waiting message may fill the buffer again first, and uvicorn's own wait must not
            # block past this check.
            while not self.writable.is_set():
                await self.writable.wait()
            if self.close_sent:
                raise ClientDisconnected
        if kind != SEND_BATCH:
            await super().send(message)
            return
        texts: list[str] = cast("Any", message)["texts"]
        await self.writable.wait()  # as uvicorn's send: the transport's buffer is below its high-water mark
        if self.disconnected:
            raise ClientDisconnected
        if not self._open():
            for text in texts:  # not open: uvicorn's send says what is wrong with sending
                await super().send({"type": "websocket.send", "text": text, "bytes": None})
            return
        # What uvicorn's send does for each, with one write for them all: profiled on the 10,000-subscriber
        # row, a socket write per message was about a quarter of the service's CPU.
        try:
            for text in texts:
                self.conn.send_text(text.encode())
        except InvalidState:
            raise ClientDisconnected from None
        self.transport.write(b"".join(self.conn.data_to_send()))

    def _open(self) -> bool:
        return (
            self.handshake_complete
            and not self.close_sent
            and self.initial_response is None
            and not self.disconnected
        )

    def _close(self, code: int, reason: str) -> None:
        """uvicorn's close of an open connection, written at once whatever the buffer holds."""
        if self.transport.is_closing():
            return  # as uvicorn's: the connection is on its way out already
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        try:
            self.conn.send_close(code, reason)
        except InvalidState:
            raise ClientDisconnected from None
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:  # the client's answer to the close must be read
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, self._close_unanswered)

    def _close_unanswered(self) -> None:
        # uvicorn closes the transport, which first writes what its buffer holds: to a client that has not
        # read in the close timeout, never. Such a client is cut off. (Over TLS, which uvicorn is not given
        # here, the buffer size leaves out the socket's own, and closing falls back on the TLS shutdown's
        # timeout.)
        self.close_timer = None
        if self.transport.get_write_buffer_size():
            logger.warning("cutting off a WebSocket client that has not read its close")
            self.transport.abort()
        else:
            self.transport.close()

    def keepalive_timeout(self) -> None:
        closing = self.close_sent or self.transport.is_closing()
        fail = self.conn.fail

        def retried(code: int, reason: str = "") -> None:
            fail(CLIENT_TOO_SLOW.code, reason)  # the reason stays uvicorn's: "keepalive ping timeout"

        self.conn.fail = retried  # type: ignore[method-assign]
        try:
            super().keepalive_timeout()
        finally:
            del self.conn.fail  # the instance attribute shadowed the method: the method again
        if not closing and not self.disconnected:
            # uvicorn wrote the close and closed the transport, which waits for its buffer to drain; it tells
            # the app nothing, whose next message would raise RuntimeError (see send).
            self._closed_for_the_app = True
            self.queue.put_nowait({"type": "websocket.disconnect", "code": CLIENT_TOO_SLOW.code})
            self.close_timer = self.loop.call_later(self.close_timeout, self._close_unanswered)

    def shutdown(self) -> None:
        super().shutdown()  # uvicorn's: a close with 1012 (or the one already sent); the transport closed
        if self.transport.get_write_buffer_size() and not self.disconnected:
            # Closing waits for the buffer to drain. A client that reads gets it, and the 1012, within the
            # server's grace; one that stopped reading would hold the shutdown until uvicorn gives up on it
            # with an error: it is cut off a second before.
            grace = self.config.timeout_graceful_shutdown
            delay = max(0.0, grace - 1.0) if grace is not None else self.close_timeout
            self.close_timer = self.loop.call_later(delay, self._close_unanswered)

    def start_keepalive(self) -> None:
        # uvicorn calls this once, right after sending the handshake's answer (101) to an accepted
        # connection; hooking here rather than `send` keeps the work off every message. It keeps the
        # handshake's request and response for the connection's life, and websockets' parser keeps the
        # request in its suspended frame; neither is read after this. Emptying the request's headers (the
        # parser's reference cannot be dropped) and letting go of both saves about 4 KiB of every idle
        # subscriber (docs/performance.md, entry 22).
        self.request.headers.clear()
        self.request = self.response = None  # type: ignore[assignment]
        super().start_keepalive()


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering each response in one socket write.

    uvicorn writes a response's status line and headers as soon as the app starts the response, and its
    body when the app sends it: two socket writes where the app sends both at once, as every endpoint
    here does. On loopback, a socket write cost the service about as much CPU as the hand-written
    baseline's whole database read (docs/performance.md, log entry 38; decision 24). What uvicorn writes
    during one turn of the event loop leaves at its end, together (``OneWritePerTurn``).
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = cast("asyncio.Transport", OneWritePerTurn(transport, self.loop))

    def connection_lost(self, exc: Exception | None) -> None:
        transport = self.transport
        if isinstance(transport, OneWritePerTurn):
            # Lost under us (a reset): nothing held can reach the client, and uvicorn closes the socket
            # only for a clean end; uvloop would raise on the write at the turn's end.
            transport.drop()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol gets the socket's own transport: its messages leave as it writes them
        # (several at once are SEND_BATCH's to join). Nothing is held here: no response was written.
        transport = self.transport
        if isinstance(transport, OneWritePerTurn):
            self.transport = transport.wrapped
        super().handle_websocket_upgrade()


class OneWritePerTurn:
    """A transport whose writes during one turn of the event loop reach the socket in one write, at the
    turn's end (a ``call_soon``), in order.

    - Closing, ``write_eof`` or handing the connection to another protocol writes what is held first.
    - Aborting drops it, as aborting drops the socket's own buffer; so does a connection already lost or
      closing (uvloop raises on a write to a closed handle, where asyncio dropped it silently).
    - Past ``HELD_MAX`` bytes it writes at once, so that the socket's flow control (its high-water mark and
      ``pause_writing``) sees a large body as it is sent.

    Everything else is the wrapped transport's.
    """

    HELD_MAX = 64 * 1024

    __slots__ = ("_held", "_held_bytes", "_loop", "wrapped")

    def __init__(self, wrapped: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.wrapped = wrapped
        self._loop = loop
        self._held: list[bytes] | None = None
        self._held_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        # Held past this call: a copy of anything but bytes, as asyncio's transports copy what they buffer.
        chunk = data if type(data) is bytes else bytes(data)
        held = self._held
        if held is None:
            self._held = [chunk]
            self._held_bytes = len(chunk)
            self._loop.call_soon(self.flush)
        else:
            held.append(chunk)
            self._held_bytes += len(chunk)
        if self._held_bytes > self.HELD_MAX:
            self.flush()

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self.wrapped.is_closing():
                self.wrapped.write(held[0] if len(held) == 1 else b"".join(held))

    def drop(self) -> None:
        """Forget what is held: the connection is gone."""
        self._held = None

    def write_eof(self) -> None:
        self.flush()
        self.wrapped.write_eof()

    def close(self) -> None:
        self.flush()
        self.wrapped.close()

    def abort(self) -> None:
        self.drop()
        self.wrapped.abort()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.flush()
        self.wrapped.set_protocol(protocol)

    def is_closing(self) -> bool:
        return self.wrapped.is_closing()

    def get_write_buffer_size(self) -> int:
        return self.wrapped.get_write_buffer_size() + (self._held_bytes if self._held is not None else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def uvicorn_config(app: ASGIApp, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """How the service is served; the benchmark serves its variants the same way."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "lifespan": "on",
        "log_config": None,  # configure_logging already routed uvicorn's loggers
        # The client address (per-address limits, logs) from X-Forwarded-For, only from listed proxies.
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": settings.forwarded_allow_ips or None,
        # Past it, HTTP requests get 503 (WebSockets: pixelpet/graphql/endpoint.py closes them with 1013).
        "limit_concurrency": settings.limits.max_connections,
        # A larger WebSocket message closes the connection with 1009, as a larger body gets 413.
        "ws_max_size": settings.limits.max_body_bytes,
        "server_header": False,
        "http": HttpProtocol,
        "ws": WebSocketProtocol,
        "ws_ping_interval": settings.subscriptions.ping_interval_s,
        "ws_ping_timeout": settings.subscriptions.ping_timeout_s,
        # Pet updates are a few hundred bytes: compression saves little, and its zlib state costs about
        # 40 KiB per connection (docs/performance.md measures both settings).
        "ws_per_message_deflate": False,
        "timeout_graceful_shutdown": settings.lifecycle.shutdown_grace_s,
    }
    return uvicorn.Config(app, **(options | overrides))


# Container objects allocated (net) between two young collections: CPython's default is 700.
YOUNG_COLLECTION_THRESHOLD = 10_000


def configure_garbage_collector() -> None:
    """Freeze everything imported and built so far, and collect young objects less often (decision 10).

    What is frozen lives as long as the process; a full collection then scans connections and requests,
    not the schema and every module. A young collection runs when the container objects allocated since the
    last one, net of those freed, pass the threshold. A request allocates thousands (a page of pets, more):
    at CPython's 700, young collections ran while the objects of the requests in flight were alive and
    promoted them, to be scanned again by the older generations' collections. At 10,000 most of a
    request's objects are freed (by reference counting) before a collection runs.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)


def serve(settings: Settings) -> int:
    configure_logging(settings.log_level)
    app = create_app(settings)
    server = DrainingServer(
        uvicorn_config(app, settings),
        lifecycle=app.state.lifecycle,
        drain_delay_s=settings.lifecycle.drain_delay_s,
    )
    configure_garbage_collector()
    server.run()
    return 0
