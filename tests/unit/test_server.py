"""How the service is served: uvicorn's HTTP and WebSocket protocols as pixelpet/server.py changes them,
driven through their transport callbacks (the close code sent after an unanswered ping is tested over a
real socket in tests/integration/subscriptions/test_at_scale.py, as is every batch the outbox sends; the
services tests/support/server.py starts answer through the HTTP protocol)."""

import asyncio
import base64
import inspect
import json
import os
import socket
import subprocess
import sys
import textwrap
from typing import Any, cast

import pytest
import uvicorn
import uvloop
from starlette.types import Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState

from pixelpet.graphql.close_codes import CLIENT_TOO_SLOW
from pixelpet.graphql.endpoint import SEND_BATCH
from pixelpet.server import HttpProtocol, OneWritePerTurn, WebSocketProtocol


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False
        self.buffered = 7  # what the socket's own buffer holds, as far as these tests care
        self.after_write: Any = None  # called after each write (a buffer over its high-water mark)

    def write(self, data: Any) -> None:
        if self.closed:
            return  # lost, as a closed socket's are
        self.written += data
        self.writes.append(bytes(data))
        if self.after_write is not None:
            self.after_write()

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.protocol

    def pause_reading(self) -> None:
        pass  # uvicorn pauses reading while requests queue behind the one it answers

    def resume_reading(self) -> None:
        pass

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
    protocol, transport = await _connected(_accepting)
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


async def _connected(app: Any) -> tuple[WebSocketProtocol, Transport]:
    config = uvicorn.Config(app, ws=WebSocketProtocol, ws_ping_interval=None, log_config=None)
    config.load()
    protocol = WebSocketProtocol(config=config, server_state=ServerState(), app_state={})
    transport = Transport()
    protocol.connection_made(transport)
    protocol.data_received(_handshake())
    return protocol, transport


async def test_a_batch_is_written_in_one_write_as_one_frame_per_message_in_order() -> None:
    done = asyncio.Event()
    offered: list[bool] = []
    refused_late: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        offered.append(SEND_BATCH in scope["extensions"])
        await send({"type": "websocket.accept", "subprotocol": "graphql-transport-ws"})
        await send({"type": SEND_BATCH, "texts": ["one", "two", "three"]})
        await send({"type": "websocket.close", "code": 1000})
        with pytest.raises(RuntimeError, match=r"after sending 'websocket\.close'"):  # as uvicorn's own send
            await send({"type": SEND_BATCH, "texts": ["late"]})
        refused_late.append(True)
        done.set()

    protocol, transport = await _connected(app)
    await asyncio.wait_for(done.wait(), 5)
    assert offered == [True]
    handshake, batch, close = transport.writes
    assert handshake.startswith(b"HTTP/1.1 101")
    assert batch == b"\x81\x03one\x81\x03two\x81\x05three"  # unmasked text frames, as the server sends them
    assert close.startswith(b"\x88")
    assert refused_late == [True]
    protocol.connection_lost(None)
    await asyncio.sleep(0)


async def test_a_batch_to_a_client_that_left_raises_as_a_single_message_does() -> None:
    accepted, left, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()
    raised: list[type[BaseException]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        accepted.set()
        await left.wait()
        for message in ({"type": SEND_BATCH, "texts": ["a"]}, {"type": "websocket.send", "text": "a"}):
            try:
                await send(message)
            except OSError as error:
                raised.append(type(error))
        finished.set()

    protocol, transport = await _connected(app)
    await asyncio.wait_for(accepted.wait(), 5)
    protocol.connection_lost(None)
    left.set()
    await asyncio.wait_for(finished.wait(), 5)
    assert len(raised) == 2
    assert raised[0] is raised[1]
    assert len(transport.writes) == 1, "nothing written after the handshake"


async def test_a_batch_sent_without_waiting_to_a_full_buffer_is_refused_and_nothing_written() -> None:
    accepted, full, tried = asyncio.Event(), asyncio.Event(), asyncio.Event()
    drained, finished = asyncio.Event(), asyncio.Event()
    outcomes: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        accepted.set()
        await full.wait()
        try:
            await send({"type": SEND_BATCH, "texts": ["now"], "wait": False})
        except BlockingIOError:
            outcomes.append("refused")
        tried.set()
        waiting = asyncio.ensure_future(send({"type": SEND_BATCH, "texts": ["later"], "wait": True}))
        await drained.wait()
        await waiting
        outcomes.append("sent once drained")
        finished.set()

    protocol, transport = await _connected(app)
    await asyncio.wait_for(accepted.wait(), 5)
    protocol.pause_writing()  # the transport's buffer went over its high-water mark
    full.set()
    await asyncio.wait_for(tried.wait(), 5)
    assert outcomes == ["refused"]
    assert len(transport.writes) == 1, "only the handshake"
    protocol.resume_writing()
    drained.set()
    await asyncio.wait_for(finished.wait(), 5)
    assert outcomes == ["refused", "sent once drained"]
    assert transport.writes[1:] == [b"\x81\x05later"]
    protocol.connection_lost(None)
    await asyncio.sleep(0)


def _close_frame(code: int, reason: str) -> bytes:
    """A close frame as the server writes it: unmasked, the payload's length, the code, the reason."""
    payload = code.to_bytes(2, "big") + reason.encode()
    return bytes([0x88, len(payload)]) + payload


def _closing_once_told(told: asyncio.Event, closed: asyncio.Event) -> Any:
    """An app that accepts, then, once ``told``, closes with 4008 as the outbox does for a stalled client."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await told.wait()
        code, reason = CLIENT_TOO_SLOW
        await send({"type": "websocket.close", "code": code, "reason": reason})
        closed.set()

    return app


async def test_a_close_is_written_at_once_behind_what_a_client_that_stopped_reading_has_not_read() -> None:
    told, closed = asyncio.Event(), asyncio.Event()
    protocol, transport = await _connected(_closing_once_told(told, closed))
    await _until(lambda: protocol.handshake_complete)
    protocol.pause_writing()  # the transport's buffer went over its high-water mark: the client stopped
    told.set()
    await asyncio.wait_for(closed.wait(), 5)  # uvicorn's close waited here until the client read again
    assert transport.writes[-1] == _close_frame(*CLIENT_TOO_SLOW)
    assert protocol.close_sent
    assert not transport.closed, "the client may still read it and answer"
    protocol.connection_lost(None)
    await asyncio.sleep(0)


@pytest.mark.parametrize(("unread", "cut_off"), [(7, True), (0, False)])
async def test_a_close_unanswered_in_time_cuts_off_a_client_that_has_not_read_it(
    unread: int, cut_off: bool
) -> None:
    told, closed = asyncio.Event(), asyncio.Event()
    protocol, transport = await _connected(_closing_once_told(told, closed))
    await _until(lambda: protocol.handshake_complete)
    protocol.close_timeout = 0.01
    transport.buffered = unread
    told.set()
    await asyncio.wait_for(closed.wait(), 5)
    await _until(lambda: transport.closed)
    # Closing writes the buffer first: to a client that has not read for the close timeout, never.
    assert transport.aborted is cut_off
    protocol.connection_lost(None)
    await asyncio.sleep(0)


@pytest.mark.parametrize(("unread", "cut_off"), [(7, True), (0, False)])
async def test_the_close_after_an_unanswered_ping_cuts_off_a_client_that_does_not_read_it(
    unread: int, cut_off: bool
) -> None:
    protocol, transport = await _connected(_accepting)
    await _until(lambda: protocol.handshake_complete)
    protocol.close_timeout = 0.01
    transport.buffered = unread
    protocol.keepalive_timeout()
    assert transport.writes[-1] == _close_frame(CLIENT_TOO_SLOW.code, "keepalive ping timeout")
    assert transport.closed, "uvicorn closes: the buffer is written first"
    assert not transport.aborted
    await _until(lambda: protocol.close_timer is None)
    assert transport.aborted is cut_off
    protocol.connection_lost(None)
    await asyncio.sleep(0)


async def test_after_an_unanswered_ping_the_app_learns_the_client_left_and_its_messages_say_so() -> None:
    told: list[Message] = []
    raised: list[type[BaseException]] = []
    accepted, finished = asyncio.Event(), asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        accepted.set()
        told.append(await receive())
        for message in (
            {"type": "websocket.send", "text": "late", "bytes": None},
            {"type": SEND_BATCH, "texts": ["late"]},
            {"type": "websocket.close", "code": 1000},
        ):
            try:
                await send(message)
            except Exception as error:  # uvicorn's own send raised RuntimeError: an ASGI application error
                raised.append(type(error))
        finished.set()

    protocol, transport = await _connected(app)
    await asyncio.wait_for(accepted.wait(), 5)
    protocol.keepalive_timeout()
    await asyncio.wait_for(finished.wait(), 5)
    assert told == [{"type": "websocket.disconnect", "code": CLIENT_TOO_SLOW.code}]
    assert raised == [ClientDisconnected] * 3, "as after the client left: handled as a departure, not a bug"
    assert transport.writes[-1] == _close_frame(CLIENT_TOO_SLOW.code, "keepalive ping timeout")
    protocol.connection_lost(None)
    await asyncio.sleep(0)


async def test_a_connection_that_ends_after_an_unanswered_ping_is_not_cut_off_later() -> None:
    protocol, _ = await _connected(_accepting)
    await _until(lambda: protocol.handshake_complete)
    protocol.keepalive_timeout()
    assert protocol.close_timer is not None
    protocol.connection_lost(None)  # the client read the close: the connection ended
    assert protocol.close_timer is None, "the cut-off was called off"
    await asyncio.sleep(0)


@pytest.mark.parametrize(
    "waiting",
    [{"type": "websocket.send", "text": "late", "bytes": None}, {"type": SEND_BATCH, "texts": ["late"]}],
)
async def test_a_message_waiting_for_the_buffer_when_the_close_overtakes_it_finds_the_client_gone(
    waiting: dict[str, Any],
) -> None:
    accepted, stopped_reading, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()
    raised: list[type[BaseException]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        accepted.set()
        await stopped_reading.wait()
        blocked = asyncio.ensure_future(send(waiting))
        await asyncio.sleep(0)
        code, reason = CLIENT_TOO_SLOW
        await send({"type": "websocket.close", "code": code, "reason": reason})
        protocol.resume_writing()  # the client reads again, before the close timeout
        try:
            await blocked
        except Exception as error:  # uvicorn's own send raised RuntimeError: an ASGI application error
            raised.append(type(error))
        finished.set()

    protocol, transport = await _connected(app)
    await asyncio.wait_for(accepted.wait(), 5)
    protocol.pause_writing()
    stopped_reading.set()
    await asyncio.wait_for(finished.wait(), 5)
    assert raised == [ClientDisconnected], "as if the client had left: handled as a departure, not a bug"
    assert transport.writes[-1] == _close_frame(*CLIENT_TOO_SLOW), "nothing after the close"
    protocol.connection_lost(None)
    await asyncio.sleep(0)


async def test_of_two_messages_waiting_for_the_buffer_neither_follows_the_close() -> None:
    accepted, stopped_reading, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()
    raised: list[type[BaseException]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        accepted.set()
        await stopped_reading.wait()

        async def sending(message: Message) -> None:
            try:
                await send(message)
            except Exception as error:
                raised.append(type(error))

        first = asyncio.ensure_future(sending({"type": SEND_BATCH, "texts": ["first"]}))
        second = asyncio.ensure_future(sending({"type": "websocket.send", "text": "second", "bytes": None}))
        await asyncio.sleep(0)
        protocol.resume_writing()  # the client reads a little: both wake, the first fills the buffer again
        transport.after_write = protocol.pause_writing
        await first
        code, reason = CLIENT_TOO_SLOW
        await send({"type": "websocket.close", "code": code, "reason": reason})
        transport.after_write = None
        protocol.resume_writing()  # the client reads again, before the close timeout
        await second
        finished.set()

    protocol, transport = await _connected(app)
    await asyncio.wait_for(accepted.wait(), 5)
    protocol.pause_writing()
    stopped_reading.set()
    await asyncio.wait_for(finished.wait(), 5)
    assert raised == [ClientDisconnected], "the second finds the client gone, as uvicorn's own wait would not"
    assert transport.writes[-2:] == [b"\x81\x05first", _close_frame(*CLIENT_TOO_SLOW)]
    protocol.connection_lost(None)
    await asyncio.sleep(0)


@pytest.mark.parametrize(("unread", "cut_off"), [(0, False), (7, True)])
async def test_a_server_shutting_down_cuts_off_a_client_that_stopped_reading_before_its_grace_ends(
    unread: int, cut_off: bool
) -> None:
    protocol, transport = await _connected(_accepting)
    await _until(lambda: protocol.handshake_complete)
    protocol.close_timeout = 0.01  # the grace, where uvicorn is given none
    transport.buffered = unread
    protocol.shutdown()
    assert transport.writes[-1] == _close_frame(1012, ""), (
        "going away: a client that reads reconnects elsewhere"
    )
    assert transport.closed, "closing: what the buffer holds is written first"
    assert not transport.aborted, "a client that reads gets what was sent before the close"
    await _until(lambda: protocol.close_timer is None)
    assert transport.aborted is cut_off
    protocol.connection_lost(None)
    await asyncio.sleep(0)


async def test_a_close_waits_for_its_answer_as_long_as_a_ping() -> None:
    config = uvicorn.Config(_accepting, ws=WebSocketProtocol, ws_ping_timeout=3.5, log_config=None)
    config.load()
    protocol = WebSocketProtocol(config=config, server_state=ServerState(), app_state={})
    assert protocol.close_timeout == 3.5


UVICORN_CLOSE_BRANCH = """\
elif message["type"] == "websocket.close":
    if not self.transport.is_closing():
        code = message.get("code", 1000)
        reason = message.get("reason", "") or ""
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        output = self.conn.data_to_send()
        self.transport.write(b"".join(output))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)
"""


def test_uvicorn_s_close_is_still_the_one_the_protocol_writes_without_waiting() -> None:
    # WebSocketProtocol._close is this branch of uvicorn's send (the one for an open connection), without
    # its wait for the buffer: when uvicorn changes the branch, this fails first, and _close must follow it.
    source = inspect.getsource(WebSocketsSansIOProtocol.send)
    start = source.index(
        'elif message["type"] == "websocket.close":\n                    if not self.transport'
    )
    start = source.rindex("\n", 0, start) + 1
    end = source.index("                else:\n", start)
    assert textwrap.dedent(source[start:end]) == UVICORN_CLOSE_BRANCH


async def _answering(scope: Scope, receive: Receive, send: Send) -> None:
    """Every endpoint's shape: the whole body, sent right after the start."""
    await receive()
    body = scope["path"].encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]}
    )
    await send({"type": "http.response.body", "body": body})


async def _http(app: Any, protocol_class: type[HttpToolsProtocol] = HttpProtocol) -> tuple[Any, Transport]:
    config = uvicorn.Config(app, ws=WebSocketProtocol, log_config=None, access_log=False)
    config.load()
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
    transport = Transport()
    protocol.connection_made(transport)
    return protocol, transport


async def _until(condition: Any) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


async def test_a_response_leaves_in_one_socket_write_where_uvicorn_makes_two() -> None:
    request = b"GET /first HTTP/1.1\r\nHost: pets.example\r\n\r\n"
    stock, stock_transport = await _http(_answering, HttpToolsProtocol)
    stock.data_received(request)
    await _until(lambda: stock.cycle.response_complete)
    assert len(stock_transport.writes) == 2, "uvicorn: the status line and headers, then the body"

    protocol, transport = await _http(_answering)
    protocol.data_received(request)
    await _until(lambda: transport.writes)
    (response,) = transport.writes
    assert response == b"".join(stock_transport.writes), "the same bytes"
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert response.endswith(b"\r\n\r\n/first")
    protocol.connection_lost(None)
    stock.connection_lost(None)
    await asyncio.sleep(0)


async def test_pipelined_requests_are_answered_complete_and_in_order() -> None:
    protocol, transport = await _http(_answering)
    protocol.data_received(b"".join(b"GET /%d HTTP/1.1\r\nHost: pets.example\r\n\r\n" % n for n in range(3)))
    await _until(lambda: transport.written.count(b"HTTP/1.1 200 OK") == 3)
    await asyncio.sleep(0.05)  # nothing more is coming
    assert transport.written.count(b"HTTP/1.1 200 OK") == 3
    assert [part.split(b"\r\n\r\n")[1] for part in transport.writes] == [b"/0", b"/1", b"/2"]
    protocol.connection_lost(None)
    await asyncio.sleep(0)


async def test_a_body_sent_in_parts_arrives_whole_and_in_order() -> None:
    parts = [b"one,", b"two,", b"three"]

    async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"13")]})
        for part in parts[:-1]:
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await asyncio.sleep(0.01)  # the loop turns between parts: each leaves on its own turn
        await send({"type": "http.response.body", "body": parts[-1]})

    protocol, transport = await _http(streaming)
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: pets.example\r\n\r\n")
    await _until(lambda: protocol.cycle.response_complete and transport.written.endswith(b"three"))
    assert bytes(transport.written).split(b"\r\n\r\n", 1)[1] == b"".join(parts)
    assert transport.writes[-1] == b"three"
    protocol.connection_lost(None)
    await asyncio.sleep(0)


async def test_a_connection_that_closes_after_its_response_writes_the_response_first() -> None:
    protocol, transport = await _http(_answering)
    protocol.data_received(b"GET /last HTTP/1.1\r\nHost: pets.example\r\nConnection: close\r\n\r\n")
    await _until(lambda: transport.closed)
    (response,) = transport.writes
    assert response.endswith(b"/last")
    protocol.connection_lost(None)
    await asyncio.sleep(0)


async def test_held_bytes_count_in_the_write_buffer_and_an_abort_drops_them() -> None:
    transport = Transport()
    one_write = OneWritePerTurn(transport, asyncio.get_running_loop())
    one_write.write(b"held")
    assert one_write.get_write_buffer_size() == 7 + 4
    one_write.abort()
    assert one_write.get_write_buffer_size() == 7, "nothing held after an abort"
    await asyncio.sleep(0)  # the turn ends
    assert transport.writes == []
    assert one_write.get_extra_info("peername") == ("127.0.0.1", 50000), "the rest is the socket's"


async def test_writes_keep_their_order_whatever_writes_them_and_end_before_eof() -> None:
    transport = Transport()
    transport.write_eof = lambda: transport.writes.append(b"<eof>")  # type: ignore[method-assign]
    one_write = OneWritePerTurn(transport, asyncio.get_running_loop())
    buffer = bytearray(b"two,")
    one_write.write(b"one,")
    one_write.write(memoryview(buffer))
    buffer[:] = b"XXXX"  # the caller reuses its buffer: what was written stays written
    one_write.writelines([b"three,", b"four"])
    one_write.write_eof()
    assert transport.writes == [b"one,two,three,four", b"<eof>"]


async def test_a_large_body_is_written_at_once_for_the_socket_s_flow_control() -> None:
    transport = Transport()
    one_write = OneWritePerTurn(transport, asyncio.get_running_loop())
    one_write.write(b"headers")
    assert transport.writes == []
    one_write.write(b"x" * OneWritePerTurn.HELD_MAX)
    assert transport.writes == [b"headers" + b"x" * OneWritePerTurn.HELD_MAX], "not held to the turn's end"
    await asyncio.sleep(0)
    assert len(transport.writes) == 1


def test_a_connection_lost_before_the_turn_ends_writes_nothing_on_uvloop() -> None:
    """uvloop raises on a write to a closed handle (asyncio drops it): the held response is dropped."""
    loop = uvloop.new_event_loop()
    failures: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: failures.append(context))
    ours, theirs = socket.socketpair()

    async def lost_before_the_turn_ends() -> None:
        transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
        one_write = OneWritePerTurn(cast("asyncio.Transport", transport), loop)
        # A reset queues the protocol's connection_lost; a response written in the same turn queues its
        # write after it, to find the handle closed.
        transport.abort()
        one_write.write(b"HTTP/1.1 200 OK\r\n\r\n")
        await asyncio.sleep(0.01)

    try:
        loop.run_until_complete(lost_before_the_turn_ends())
    finally:
        loop.close()
        theirs.close()
    assert failures == []


async def test_a_response_held_when_the_connection_is_lost_is_dropped() -> None:
    protocol, transport = await _http(_answering)
    protocol.transport.write(b"HTTP/1.1 200 OK\r\n\r\n")  # uvicorn's write, the turn not yet over
    protocol.connection_lost(ConnectionResetError())  # uvicorn closes nothing after a reset
    await asyncio.sleep(0)
    assert transport.writes == []


async def test_a_websocket_upgrade_hands_the_socket_itself_to_the_websocket_protocol() -> None:
    protocol, transport = await _http(_accepting)
    assert isinstance(protocol.transport, OneWritePerTurn)
    protocol.data_received(_handshake())
    await _until(lambda: transport.writes)
    (handshake,) = transport.writes
    assert handshake.startswith(b"HTTP/1.1 101")
    websocket = transport.get_protocol()
    assert isinstance(websocket, WebSocketProtocol)
    assert websocket.transport is transport
    websocket.connection_lost(None)
    await asyncio.sleep(0)


def test_the_served_process_freezes_its_startup_objects_and_collects_young_ones_less_often() -> None:
    # In a process of its own: the collector's configuration is the whole process's.
    probe = (
        "import gc, json; from pixelpet import server; before = gc.get_threshold();"
        "server.configure_garbage_collector(); young = server.YOUNG_COLLECTION_THRESHOLD;"
        "print(json.dumps([before, gc.get_threshold(), gc.get_freeze_count(), young]))"
    )
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    before, after, frozen, young = json.loads(output)
    assert after == [young, before[1], before[2]], "only the young generation's threshold changes"
    assert young > before[0], "less often than CPython's default"
    assert frozen > 10_000, "the imported modules are out of the collector's sight"
