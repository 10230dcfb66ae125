"""One MongoDB change stream per process, fanned out in memory to the feeds of watched pets.

Every replica runs one broker. A write made through any replica reaches the change stream of every
replica, so a subscriber sees every committed change whichever replica serves it. Each watched pet
has one feed (see feed.py) shared by all its subscribers; the broker never waits for a subscriber.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pymongo
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure, PyMongoError

from pixelpet.clock import Clock
from pixelpet.errors import TooManySubscriptions
from pixelpet.pets.documents import PetDocument
from pixelpet.pets.events import LiveEvents
from pixelpet.pets.feed import PetFeed, Subscriber, Update
from pixelpet.settings import SubscriptionSettings

logger = logging.getLogger("pixelpet.subscriptions")

_PIPELINE = [{"$match": {"operationType": {"$in": ["insert", "update", "replace", "delete"]}}}]
# getMore waits at most this long for a change, so the loop hears from the database regularly.
_MAX_AWAIT_MS = 1000
# ...and is abandoned past this (a black-holed connection would otherwise hang until TCP keepalive,
# hours): the stream then resumes on a fresh connection.
_GETMORE_BUDGET_S = _MAX_AWAIT_MS / 1000 + 5.0
# Server codes meaning the resume token can no longer be used (history lost, token invalid).
_UNRESUMABLE = {260, 280, 286}
_RETRY_DELAYS_S = (0.1, 0.25, 0.5, 1.0, 2.0)


class ChangeStreamBroker:
    def __init__(
        self,
        client: AsyncMongoClient[Any],
        database: str,
        *,
        settings: SubscriptionSettings,
        clock: Clock,
        events: LiveEvents,
    ) -> None:
        self._collection = client[database][PetDocument.Settings.name]
        self._settings = settings
        self._clock = clock
        self._min_interval = timedelta(seconds=settings.min_snapshot_interval_s)
        self._events = events
        self._feeds: dict[ObjectId, PetFeed] = {}
        self._per_connection: dict[int, int] = {}
        self._per_owner: dict[str, int] = {}
        self._count = 0
        self._resume_token: Any = None
        self._last_heard: float | None = None
        self._created = time.monotonic()
        self._running = False
        self._tasks: list[asyncio.Task[None]] = []
        self._opened = asyncio.Event()

    # Lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._running = True
        self._tasks = [asyncio.create_task(self._follow())]
        # Wait for the first open so that no write made after startup can be missed.
        await asyncio.wait_for(self._opened.wait(), timeout=30)

    async def stop(self) -> None:
        self._running = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def silence_s(self) -> float:
        """Seconds since the stream last heard from the database (since start, if it never has)."""
        return time.monotonic() - (self._last_heard if self._last_heard is not None else self._created)

    def health(self) -> str:
        """ "ok", or why readiness should fail."""
        if not self._running or self._last_heard is None:
            return "failing: change stream not running"
        silent_for = time.monotonic() - self._last_heard
        if silent_for > self._settings.change_stream_stale_after_s:
            return f"failing: change stream silent for {silent_for:.0f} s"
        return "ok"

    # Subscribers ---------------------------------------------------------------------------

    def watched(self) -> tuple[int, int]:
        """(subscriptions, pets with a feed) in this process: both return to zero when all leave."""
        return self._count, len(self._feeds)

    def subscribe(
        self, pet_id: ObjectId, connection: object, deliver: Callable[[Update], None], *, owner: str = ""
    ) -> Subscriber:
        if self._count >= self._settings.max_per_process:
            raise TooManySubscriptions("This server has too many live subscriptions; retry on another.")
        if self._per_connection.get(id(connection), 0) >= self._settings.max_per_connection:
            raise TooManySubscriptions(
                f"At most {self._settings.max_per_connection} subscriptions per connection."
            )
        # One player cannot take every place of a process (per replica: see the settings).
        if self._per_owner.get(owner, 0) >= self._settings.max_per_owner:
            raise TooManySubscriptions(
                f"At most {self._settings.max_per_owner} live subscriptions per player."
            )
        feed = self._feeds.get(pet_id)
        if feed is None:
            feed = self._feeds[pet_id] = PetFeed(pet_id, clock=self._clock, min_interval=self._min_interval)
        subscriber = Subscriber(feed, connection, deliver, owner)
        feed.members.add(subscriber)
        self._per_connection[id(connection)] = self._per_connection.get(id(connection), 0) + 1
        self._per_owner[owner] = self._per_owner.get(owner, 0) + 1
        self._count += 1
        self._events.subscription_opened()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        feed = subscriber.feed
        if subscriber not in feed.members:
            return
        feed.members.discard(subscriber)
        if not feed.members:
            feed.close()
            del self._feeds[feed.pet_id]
        key = id(subscriber.connection)
        self._per_connection[key] -= 1
        if not self._per_connection[key]:
            del self._per_connection[key]
        self._per_owner[subscriber.owner] -= 1
        if not self._per_owner[subscriber.owner]:
            del self._per_owner[subscriber.owner]
        self._count -= 1
        self._events.subscription_closed()

    # The stream ----------------------------------------------------------------------------

    async def _follow(self) -> None:
        """Follow the change stream for as long as the broker runs, resuming after any error."""
        failures = 0
        while self._running:
            try:
                await self._stream_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except OperationFailure as error:
                if error.code in _UNRESUMABLE:
                    # Reopen from now. _stream_once resyncs every subscriber once the new stream is
                    # open, so nothing committed in between can be missed.
                    logger.warning(
                        "change stream history lost; restarting from now and resyncing subscribers"
                    )
                    self._resume_token = None
                    self._events.change_stream_restarted("history_lost")
                else:
                    failures += 1
                    self._events.change_stream_restarted("error")
                    logger.warning("change stream failed, resuming", extra={"error": type(error).__name__})
            except PyMongoError as error:
                failures += 1
                self._events.change_stream_restarted("error")
                logger.warning("change stream interrupted, resuming", extra={"error": type(error).__name__})
            except Exception:
                # A bug must not end the stream for good (every subscriber would go silent and every
                # replica unready): log it with its stack, count it, and resume with backoff.
                failures += 1
                self._events.change_stream_restarted("unexpected")
                logger.exception("change stream failed unexpectedly, resuming")
            if failures:
                await asyncio.sleep(_RETRY_DELAYS_S[min(failures, len(_RETRY_DELAYS_S)) - 1])

    async def _stream_once(self) -> None:
        # A change stream is open-ended: no whole-operation timeout. Each getMore returns within
        # _MAX_AWAIT_MS, which is how health() knows the database is answering, and is bounded.
        with pymongo.timeout(None):
            stream = await self._collection.watch(
                _PIPELINE,
                full_document="updateLookup",
                resume_after=self._resume_token,
                max_await_time_ms=_MAX_AWAIT_MS,
            )
            async with stream:
                fresh_start = self._resume_token is None and self._opened.is_set()
                self._opened.set()
                self._last_heard = time.monotonic()
                if fresh_start:
                    for feed in self._feeds.values():
                        feed.resync()
                while self._running and stream.alive:
                    with pymongo.timeout(_GETMORE_BUDGET_S):
                        change = await stream.try_next()
                    self._last_heard = time.monotonic()
                    self._resume_token = stream.resume_token
                    if change is not None:
                        self._dispatch_or_skip(change)

    def _dispatch_or_skip(self, change: dict[str, Any]) -> None:
        """Dispatch ``change``; one that cannot be read (a document written behind the service's back that
        fails validation) is logged, counted and skipped, and the stream goes on past it."""
        try:
            self._dispatch(change)
        except Exception:
            self._events.change_event_skipped()
            key = change.get("documentKey", {}).get("_id")
            logger.exception("skipped a change event that could not be read", extra={"pet_id": str(key)})

    def _dispatch(self, change: dict[str, Any]) -> None:
        feed = self._feeds.get(change["documentKey"]["_id"])
        if feed is None:
            return
        if change["operationType"] == "delete":
            feed.deleted()
            return
        document = change.get("fullDocument")
        if document is None:  # updated, then deleted before the lookup: the delete event follows
            return
        feed.learn(PetDocument.model_validate(document), committed_at=_commit_time(change))


def _commit_time(change: dict[str, Any]) -> float | None:
    wall_time = change.get("wallTime")
    if isinstance(wall_time, datetime):
        return wall_time.timestamp()
    cluster_time = change.get("clusterTime")
    return float(cluster_time.time) if cluster_time is not None else None
