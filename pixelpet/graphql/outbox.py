"""One connection's unsent messages: the live path's backpressure.

Everything waiting for a connection is written together, as one batch (one socket write where the server
can: endpoint.py), up to ``BATCH_CHARS``: a hot pet's update reaches the ten subscriptions of a connection
in one write, not ten. Connections that can take their batch at once are written by one task for the whole
event loop (``_Flusher``), not a task each: one change of a pet that 1,000 connections watch used to start
1,000 tasks and 1,000 stall timers, and what they allocated outlived the burst into the collector's oldest
generation, whose full collections then paused the loop. Only a connection that cannot take its batch at
once (its buffer is full) gets a task of its own, writing as it drains under the stall timer.

An update waiting to be sent is replaced by a newer one of the same thing (the newest state is what a
client needs): the same subscription's pet, or for an account subscription the same pet of the account
(``about``), so a slow client holds at most one update per pet it watches; an update that ``supersedes``
the others (a whole account's list) first drops every update of its subscription waiting. An operation's
last messages (its ending error, its ``complete``) are never replaced. A connection that cannot take a
batch within ``stall_timeout_s`` is given up: the owner's ``on_stall`` cuts it off, so a client that stopped
reading never holds memory or delays anyone.
"""

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from itertools import islice
from typing import Literal, Protocol

logger = logging.getLogger("pixelpet.subscriptions")

# What a message is, for replacement: an update may be replaced by a newer one; the others never are.
Kind = Literal["update", "last", "complete"]
# An operation, what kind of message, and what an update is about (None: the operation's one thing).
Slot = tuple[str, Kind, str | None]

# A batch ends once it holds this many characters (a message is never split): about the transport's
# write buffer high-water mark (asyncio's default, 64 KiB). Past it the transport asks writers to wait, and
# what is still queued here can yet be replaced by newer states; what was written no longer can.
BATCH_CHARS = 64 * 1024


class Send(Protocol):
    def __call__(self, texts: list[str], *, wait: bool = True) -> Awaitable[None]:
        """Write ``texts`` in order; return once the connection has taken them all. With ``wait=False`` it
        never suspends: it writes them at once, or raises ``BlockingIOError`` having written nothing."""
        ...


class OutboxEvents(Protocol):
    def update_coalesced(self) -> None:
        """An unsent update was replaced by a newer one."""
        ...

    def client_dropped(self) -> None:
        """A connection that stopped reading was cut off."""
        ...


class Outbox:
    __slots__ = ("_events", "_messages", "_on_stall", "_send", "_stall_timeout_s", "_writer")

    def __init__(
        self, send: Send, *, stall_timeout_s: float, on_stall: Callable[[], None], events: OutboxEvents
    ) -> None:
        self._send = send
        self._stall_timeout_s = stall_timeout_s
        self._on_stall = on_stall
        self._events = events
        self._messages: dict[Slot, str] = {}  # encoded, in the order they are to be sent
        # Who writes what waits: nobody (nothing waits), the event loop's flusher, or a task of this
        # outbox's own while its connection drains.
        self._writer: asyncio.Task[None] | _Flusher | None = None

    def put(
        self,
        operation_id: str,
        kind: Kind,
        message: str,
        *,
        about: str | None = None,
        supersedes: bool = False,
    ) -> None:
        if supersedes:
            self.discard_update(operation_id)  # it comes after them and says more
        key = (operation_id, kind, about)
        messages = self._messages
        if key in messages:
            self._events.update_coalesced()
        messages[key] = message
        if self._writer is None:
            self._writer = _flusher().queue(self)

    def discard_update(self, operation_id: str) -> None:
        """The operation's unsent updates, of no use any more (completed by the client, or superseded)."""
        for key in [key for key in self._messages if key[0] == operation_id and key[1] == "update"]:
            del self._messages[key]

    def close(self) -> None:
        self._messages.clear()  # the flusher, if it has this outbox queued, finds nothing to write
        if isinstance(self._writer, asyncio.Task):
            self._writer.cancel()

    def _take_batch(self) -> list[str]:
        """The messages to write next, in order: every one waiting, up to ``BATCH_CHARS``."""
        messages = self._messages
        if len(messages) == 1:  # the common case: one subscription's update
            return [messages.popitem()[1]]
        batch: list[str] = []
        size = 0
        for message in messages.values():
            batch.append(message)
            size += len(message)
            if size >= BATCH_CHARS:
                break
        if len(batch) == len(messages):
            messages.clear()
        else:
            for key in list(islice(messages, len(batch))):
                del messages[key]
        return batch

    async def _flush(self) -> None:
        """The flusher's turn: write what waits without waiting for the connection (this never suspends);
        if the connection cannot take a batch now, a task of this outbox's own takes over."""
        try:
            while self._messages:
                batch = self._take_batch()
                try:
                    await self._send(batch, wait=False)
                except BlockingIOError:
                    self._writer = asyncio.get_running_loop().create_task(self._write(batch))
                    return
        except Exception:  # the client left: the connection's shutdown cleans up
            self._messages.clear()
        self._writer = None

    async def _write(self, batch: list[str]) -> None:
        try:
            while True:
                async with asyncio.timeout(self._stall_timeout_s):
                    await self._send(batch)
                if not self._messages:
                    break
                batch = self._take_batch()
        except TimeoutError:
            logger.warning("dropping a subscriber that stopped reading")
            self._events.client_dropped()
            self._messages.clear()
            self._on_stall()
        except Exception:  # the client left: the connection's shutdown cleans up
            self._messages.clear()
        finally:
            self._writer = None


class _Flusher:
    """Writes, in one task, the outboxes queued with it, in the order they were queued."""

    __slots__ = ("__weakref__", "_outboxes", "_task")

    def __init__(self) -> None:
        self._outboxes: deque[Outbox] = deque()
        self._task: asyncio.Task[None] | None = None

    def queue(self, outbox: Outbox) -> "_Flusher":
        self._outboxes.append(outbox)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def _run(self) -> None:
        outboxes = self._outboxes
        try:
            while outboxes:
                await outboxes.popleft()._flush()
        finally:
            self._task = None
            while outboxes:  # cancelled with the loop: nothing will write these
                outboxes.popleft()._writer = None


_flushers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Flusher]" = weakref.WeakKeyDictionary()


def _flusher() -> _Flusher:
    """The running event loop's flusher."""
    loop = asyncio.get_running_loop()
    flusher = _flushers.get(loop)
    if flusher is None:
        flusher = _flushers[loop] = _Flusher()
    return flusher
