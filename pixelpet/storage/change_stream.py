"""The change feed on MongoDB: one change stream per process, reported to the live core.

Every replica follows one change stream. A write made through any replica reaches the change stream of
every replica, so a subscriber sees every committed change whichever replica serves it. What it reads
goes to a ``ChangeSink`` (pixelpet/pets/live/channels.py), which never makes it wait. Implements
``ChangeFeed`` of pixelpet/pets/ports.py.
"""

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

import pymongo
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError

from pixelpet.pets.events import LiveEvents
from pixelpet.pets.ports import ChangeSink
from pixelpet.storage.documents import PETS, to_pet

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


class MongoChangeStream:
    def __init__(self, database: AsyncDatabase[Any], *, stale_after_s: float, events: LiveEvents) -> None:
        self._collection = database[PETS]
        self._stale_after_s = stale_after_s
        self._events = events
        self._sink: ChangeSink | None = None
        self._resume_token: Any = None
        self._last_heard: float | None = None
        self._created = time.monotonic()
        self._running = False
        self._tasks: list[asyncio.Task[None]] = []
        self._opened = asyncio.Event()

    async def start(self, sink: ChangeSink) -> None:
        self._sink = sink
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
        if silent_for > self._stale_after_s:
            return f"failing: change stream silent for {silent_for:.0f} s"
        return "ok"

    async def _follow(self) -> None:
        """Follow the change stream for as long as it runs, resuming after any error."""
        failures = 0
        while self._running:
            try:
                await self._stream_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except OperationFailure as error:
                if error.code in _UNRESUMABLE:
                    # Reopen from now. _stream_once resyncs every channel once the new stream is
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
                    self._sink_or_fail().resync()
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
        sink = self._sink_or_fail()
        pet_id = str(change["documentKey"]["_id"])
        document = change.get("fullDocument")
        owner = document.get("owner") if isinstance(document, dict) else None
        if not sink.watches(pet_id, owner if isinstance(owner, str) else None):  # most changes, most replicas
            return
        if change["operationType"] == "delete":
            sink.deleted(pet_id)
            return
        if document is None:  # updated, then deleted before the lookup: the delete event follows
            return
        sink.changed(to_pet(document), committed_at=_commit_time(change))

    def _sink_or_fail(self) -> ChangeSink:
        assert self._sink is not None, "started with a sink"
        return self._sink


def _commit_time(change: dict[str, Any]) -> float | None:
    wall_time = change.get("wallTime")
    if isinstance(wall_time, datetime):
        return wall_time.timestamp()
    cluster_time = change.get("clusterTime")
    return float(cluster_time.time) if cluster_time is not None else None
