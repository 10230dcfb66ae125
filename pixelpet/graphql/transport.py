"""graphql-transport-ws with push-driven subscriptions: an idle subscription holds no task.

Strawberry's handler keeps, for every subscription, a task and a chain of async generators
suspended between events; that chain was most of what an idle subscriber cost (decision 11,
docs/performance.md). This handler keeps strawberry's protocol handling (connection_init, ping,
complete, limits, close codes), and strawberry still runs every query and mutation sent over the
socket, and every subscription it refuses. A valid subscription whose resolver returns a
``LiveSource`` is set up here instead: its first snapshot is executed and sent, then the source pushes
each later one. Between events, a subscription is a ``LiveOperation`` and its source.

The live path, in reading order: the change stream (pixelpet/storage/change_stream.py) -> the pet's
channel (pixelpet/pets/live/) -> the subscription (pixelpet/pets/live/subscription.py) -> its
``LiveOperation`` (live_operation.py: executed once per snapshot for all who share it) -> the
connection's outbox (outbox.py: sending, backpressure). This handler decides when subscriptions start
and end; endpoint.py owns the socket. What it overrides of strawberry's is listed in decision 11; what
it needs of strawberry's state, seam.py's ``ProtocolHandler`` does for it.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from graphql import GraphQLError, GraphQLSchema
from strawberry.schema import BaseSchema

from pixelpet.errors import RateLimited
from pixelpet.graphql.caching import DocumentCache
from pixelpet.graphql.close_codes import CLIENT_TOO_SLOW
from pixelpet.graphql.context import Context
from pixelpet.graphql.live_operation import (
    LiveConnection,
    LiveOperation,
    client_errors,
    open_source,
    valid_subscription,
)
from pixelpet.graphql.outbox import Outbox, OutboxEvents
from pixelpet.graphql.seam import ConnectionAuthenticator, Operation, ProtocolHandler, SubscribeMessage
from pixelpet.graphql.telemetry import OK, OperationRecorder, operation_outcome, outcome_code, root_field
from pixelpet.settings import SubscriptionSettings

_CLOSE_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class LiveServices:
    """What the handler of every connection shares, built once per process (see endpoint.py)."""

    schema: BaseSchema  # strawberry's: it runs queries, mutations and refused operations
    core_schema: GraphQLSchema  # what pushed events execute against
    documents: DocumentCache  # the parse and validation caches HTTP requests use too
    settings: SubscriptionSettings
    recorder: OperationRecorder
    outbox_events: OutboxEvents


class LiveTransportHandler(ProtocolHandler[Context]):
    def __init__(
        self,
        services: LiveServices,
        *,
        websocket: Any,
        context: Context,
        authenticator: ConnectionAuthenticator,
        max_operations: int,
    ) -> None:
        settings = services.settings
        super().__init__(
            websocket=websocket,
            context=context,
            authenticator=authenticator,
            schema=services.schema,
            connection_init_timeout=timedelta(seconds=settings.connection_init_timeout_s),
            max_operations=max_operations,
        )
        self._services = services
        self._live: dict[str, LiveOperation] = {}
        self._outbox = Outbox(
            websocket.send_texts,
            stall_timeout_s=settings.stall_timeout_s,
            on_stall=self._cut_off,
            events=services.outbox_events,
        )
        self._connection = LiveConnection(
            schema=services.core_schema,
            context=context,
            outbox=self._outbox,
            forget=self._forget,
            in_background=self._in_background,
        )
        self._background: set[asyncio.Task[None]] = set()  # referenced until done, as asyncio asks
        self._subscribes = context.limits.subscribe_messages()

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not _well_formed(message):
            # "A message of a type or format which is not specified" closes with 4400. Strawberry checks
            # the keys but not their types: a query that was no text reached its executor, and the client
            # got a bare `complete` and the log an ERROR.
            await self.handle_invalid_message("Invalid subscribe message")
            return
        # Strawberry's checks first (not acknowledged: 4401; a duplicate id: 4409), then the rate.
        if self.is_acknowledged() and not self.knows_operation(message["id"]):
            try:
                self._subscribes.acquire()
            except RateLimited as error:
                refusal = GraphQLError(error.message, extensions=error.extensions())
                await self.send_error(message["id"], [refusal.formatted])
                return
        await super().handle_subscribe(message)

    # Operations ----------------------------------------------------------------------------

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        services = self._services
        if not operation.query:
            # No query (null or empty): strawberry refuses it (MissingQueryError, a validation failure, as
            # HTTP's 400).
            await super().run_operation(operation)
            return
        try:
            document = services.documents.parse(operation.query)
        except GraphQLError as error:
            # Strawberry's parse hook (caching.py) would raise it out of strawberry's stream, past the
            # handler's error handling: the client got a bare `complete` and the log an ERROR.
            await self._refuse_unparsable(operation, error)
            return
        if not valid_subscription(
            services.documents, services.core_schema, document, operation.operation_name
        ):
            # Queries, mutations and anything invalid: strawberry runs and reports them.
            await super().run_operation(operation)
            return
        live = LiveOperation(
            self._connection, operation.id, document, operation.operation_name, operation.variables
        )
        root = root_field(services.core_schema, document, operation.operation_name)
        recording = services.recorder.start()
        code = OK
        try:
            with recording.current():
                code = await self._start(live)
            self.detach_task(operation)  # done: between events, a subscription holds no task
        except asyncio.CancelledError:
            code = "CANCELLED"  # the client completed it, or left, before its first result
            raise
        finally:
            recording.finish(*root, operation.operation_name, code)

    async def _refuse_unparsable(self, operation: Operation[Context, None], error: GraphQLError) -> None:
        """A syntax error, answered as one `error` message (an error before execution, as for invalid
        documents) with the error HTTP answers (GRAPHQL_PARSE_FAILED), and recorded as HTTP records it."""
        recording = self._services.recorder.start()
        try:
            with recording.current():  # the error carries the operation's trace id, as over HTTP
                errors = client_errors([error])
            self.release_operation(operation.id)
            await self.send_error(operation.id, errors)
        finally:
            outcome = operation_outcome(
                self._services.core_schema, None, operation.operation_name, None, parse_failed=True
            )
            operation_type, root, code = outcome
            recording.finish(operation_type, root, operation.operation_name, code)

    async def _start(self, live: LiveOperation) -> str:
        """Set the subscription up and send its first result; the outcome code to record."""
        source = await open_source(self._services.core_schema, live, self._connection.context)
        if isinstance(source, list):  # refused before it ran: one `error` message, as strawberry sends
            self.release_operation(live.id)
            await self.send_error(live.id, client_errors(source))
            return outcome_code(source)
        live.source = source
        self._live[live.id] = live  # from here, a complete or a disconnect cancels this task
        try:
            first = await source.subscription.first()
        except Exception as error:
            self._forget(live)
            return outcome_code(live.end_with(error))
        try:
            live.deliver(first)
            source.subscription.start(live.deliver, live.end)
        except Exception as error:
            # A bug presenting or starting it: end it as it would end later (classified and logged, its
            # place under the caps given back), not leave the client waiting.
            self._forget(live)
            return outcome_code(live.end_with(error))
        return OK

    def _forget(self, live: LiveOperation) -> None:
        if self._live.get(live.id) is live:
            del self._live[live.id]
            if live.source is not None:
                live.source.close()
                live.source = None
        # Its id is free at once, and its setup stops if still running: a subscription completed or dropped
        # during its first read must not go on to learn that read into a feed nobody watches, nor send a
        # ``next`` for an id the client gave up.
        self.release_operation(live.id)

    async def cleanup_operation(self, operation_id: str) -> None:
        # Strawberry's, plus what a live subscription holds (set up or still setting up).
        live = self._live.get(operation_id)
        if live is not None:
            self._forget(live)
            self._outbox.discard_update(operation_id)
        await super().cleanup_operation(operation_id)

    async def shutdown(self) -> None:
        # Strawberry cleans up every operation it knows (a live one, set up or still setting up, among
        # them: see cleanup_operation) and waits for the cancelled tasks to finish.
        await super().shutdown()
        self._outbox.close()

    # Sending -------------------------------------------------------------------------------

    def _cut_off(self) -> None:
        """The client stopped reading (see outbox.py): end its subscriptions and close the connection."""
        for live in list(self._live.values()):
            self._forget(live)
        self._in_background(self._close_quietly())

    def _in_background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _close_quietly(self) -> None:
        # Best effort: the peer stopped reading, so the close frame may never get through. The service's
        # protocol writes it at once and cuts off a client that does not read it (pixelpet/server.py); the
        # timeout bounds the wait under a server that waits for the buffer to drain.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.close_connection(*CLIENT_TOO_SLOW), _CLOSE_TIMEOUT_S)


def _well_formed(message: Mapping[str, Any]) -> bool:
    """A subscribe message as graphql-transport-ws specifies it: a text id, and a payload object whose query,
    variables, operation name and extensions are each of their type or null."""
    payload = message.get("payload")
    return (
        isinstance(message.get("id"), str)
        and isinstance(payload, dict)
        # A null query is a request without one, as over HTTP: a validation error, not a malformed message.
        and isinstance(payload.get("query"), str | None)
        and isinstance(payload.get("variables"), dict | None)
        and isinstance(payload.get("operationName"), str | None)
        and isinstance(payload.get("extensions"), dict | None)
    )
