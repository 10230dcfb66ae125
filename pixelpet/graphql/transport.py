"""graphql-transport-ws with push-driven subscriptions: an idle subscription holds no task.

Strawberry's handler keeps, for every subscription, a task and a chain of async generators
suspended between events; that chain was most of what an idle subscriber cost (decision 11,
docs/performance.md). This handler keeps strawberry's protocol handling (connection_init, ping,
complete, limits, close codes), and strawberry still runs every query and mutation sent over the
socket, and every subscription it refuses. A valid subscription whose resolver returns a
``LiveSource`` is set up here instead: its first event is executed and sent, then the source pushes
each later one. Between events, a subscription is a ``LiveOperation`` and its source.

Each event is executed once per operation and variables, whoever receives it (see sharing.py).
Sends go through one outbox per connection holding at most one unsent update per subscription (the
newest wins); a connection that cannot take a message for ``stall_timeout_s`` is closed with 1008,
so a client that stopped reading never holds memory or delays anyone.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Coroutine
from typing import TYPE_CHECKING, Any, Literal, cast

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    OperationType,
    get_operation_ast,
)
from graphql.execution import create_source_event_stream
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)

from pixelpet.errors import RateLimited
from pixelpet.graphql.context import Context
from pixelpet.graphql.errors import classify_in_place
from pixelpet.graphql.sharing import execute_event, share_key
from pixelpet.graphql.source import LiveSource
from pixelpet.ratelimit import TokenBucket
from pixelpet.telemetry.graphql import OK, outcome_code, root_field

if TYPE_CHECKING:
    from pixelpet.graphql.endpoint import GraphQLWebSocket

logger = logging.getLogger("pixelpet.subscriptions")

# Close code for a client cut off for not reading: 1008, "policy violation" (RFC 6455).
SLOW_CLIENT_CLOSE_CODE = 1008
_CLOSE_TIMEOUT_S = 5.0

# An outbox key: an update may be replaced by a newer one; an operation's last messages never are.
Slot = tuple[str, Literal["update", "last", "complete"]]


class LiveOperation:
    """A subscription between events: what executing its next event takes, and its source."""

    __slots__ = ("document", "handler", "id", "key", "operation_name", "source", "variables")

    def __init__(
        self,
        handler: "LiveTransportHandler",
        id: str,
        document: DocumentNode,
        operation_name: str | None,
        variables: dict[str, Any] | None,
    ) -> None:
        self.handler = handler
        self.id = id
        self.document = document
        self.operation_name = operation_name
        self.variables = variables
        self.key = share_key(document, operation_name, variables)
        self.source: LiveSource | None = None

    # What the source calls (bound methods: lighter than closures, one pair per subscription).

    def deliver(self, event: Any) -> None:
        self.handler._deliver(self, event)

    def end(self, error: Exception | None) -> None:
        self.handler._ended(self, error)


class LiveTransportHandler(BaseGraphQLTransportWSHandler[Context, None]):
    view: "GraphQLWebSocket"  # type: ignore[assignment]  # what it reads of the view, it has

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._live: dict[str, LiveOperation] = {}
        # Unsent messages, in order (see Slot).
        self._outbox: dict[Slot, dict[str, Any]] = {}
        self._writer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()  # referenced until done, as asyncio asks
        settings = self.view.settings
        self._subscribes = TokenBucket(
            rate_per_second=settings.subscribes_per_second,
            burst=settings.subscribe_burst,
            clock=self.view.clock,
        )

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        # Strawberry's checks first (not acknowledged: 4401; a duplicate id: 4409), then the rate.
        if self.connection_acknowledged and message["id"] not in self.operations:
            try:
                self._subscribes.acquire()
            except RateLimited as error:
                refusal = GraphQLError(error.message, extensions=error.extensions())
                await self.send_message(
                    {"id": message["id"], "type": "error", "payload": [refusal.formatted]}
                )
                return
        await super().handle_subscribe(message)

    # Operations ----------------------------------------------------------------------------

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        document = self._valid_subscription(operation)
        if document is None:
            # Queries, mutations and anything invalid: strawberry runs and reports them.
            await super().run_operation(operation)
            return
        live = LiveOperation(self, operation.id, document, operation.operation_name, operation.variables)
        root = root_field(self.schema._schema, document, operation.operation_name)  # type: ignore[attr-defined]
        recording = self.view.recorder.start()
        code = OK
        try:
            with recording.current():
                code = await self._start(live)
            operation.task = None  # done: between events, a subscription holds no task
        except asyncio.CancelledError:
            code = "CANCELLED"  # the client completed it, or left, before its first result
            raise
        finally:
            recording.finish(*root, operation.operation_name, code)

    def _valid_subscription(self, operation: Operation[Context, None]) -> DocumentNode | None:
        """The operation's document if it is a subscription that passes validation (both cached)."""
        cache = self.schema.document_cache  # type: ignore[attr-defined]
        try:
            document: DocumentNode = cache.parse(operation.query)
        except GraphQLError:
            return None
        node = get_operation_ast(document, operation.operation_name)
        if node is None or node.operation is not OperationType.SUBSCRIPTION:
            return None
        if cache.validate(self.schema._schema, document, cache.all_rules):  # type: ignore[attr-defined]
            return None
        return document

    async def _start(self, live: LiveOperation) -> str:
        """Set the subscription up and send its first result; the outcome code to record."""
        executor = StrawberryGraphQLCoreExecutionContext.build(
            self.schema._schema,  # type: ignore[attr-defined]
            live.document,
            context_value=self.context,
            raw_variable_values=live.variables,
            operation_name=live.operation_name,
        )
        if isinstance(executor, list):  # the variables do not fit the operation
            return await self._refuse(live.id, executor)
        source = create_source_event_stream(executor)
        if isinstance(source, Awaitable):
            source = await source
        if isinstance(source, ExecutionResult):
            return await self._refuse(live.id, source.errors or [])
        if not isinstance(source, LiveSource):
            wrong = TypeError(
                f"a subscription resolver must return a LiveSource, not {type(source).__name__}"
            )
            return await self._refuse(live.id, [GraphQLError(str(wrong), original_error=wrong)])
        live.source = source
        self._live[live.id] = live
        try:
            event = await source.first()
        except Exception as error:
            self._forget(live)
            code = self._send_error(live, error)
            self._queue((live.id, "complete"), {"id": live.id, "type": "complete"})
            return code
        self._deliver(live, event)
        source.start(live.deliver, live.end)
        return OK

    async def _refuse(self, operation_id: str, errors: list[GraphQLError]) -> str:
        """An operation refused before it ran: one ``error`` message, as strawberry sends."""
        formatted = self._client_errors(errors)
        self._forget_id(operation_id)
        await self.send_message({"id": operation_id, "type": "error", "payload": formatted})
        return outcome_code(errors)

    def _client_errors(self, errors: list[GraphQLError]) -> list[Any]:
        classify_in_place(errors)
        return [error.formatted for error in errors]

    def _deliver(self, live: LiveOperation, event: Any) -> None:
        """Execute ``event`` for ``live`` (once for all who share it) and queue its ``next`` message."""
        result = execute_event(
            self.schema._schema,  # type: ignore[attr-defined]
            live.document,
            event=event,
            context=self.context,
            operation_name=live.operation_name,
            variables=live.variables,
            key=live.key,
        )
        if isinstance(result, Awaitable):
            # No pet field waits on anything; one that did would be sent once done.
            self._in_background(self._deliver_when_done(live, result))
        else:
            self._queue_result(live, result)

    async def _deliver_when_done(self, live: LiveOperation, result: Awaitable[ExecutionResult]) -> None:
        done = await result
        if self._live.get(live.id) is live:
            self._queue_result(live, done)

    def _queue_result(self, live: LiveOperation, result: ExecutionResult) -> None:
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = self._client_errors(list(result.errors))
        self._queue((live.id, "update"), {"id": live.id, "type": "next", "payload": payload})

    def _ended(self, live: LiveOperation, error: Exception | None) -> None:
        self._forget(live)
        if error is not None:
            self._send_error(live, error)
        self._queue((live.id, "complete"), {"id": live.id, "type": "complete"})

    def _send_error(self, live: LiveOperation, error: Exception) -> str:
        """The error that ends ``live``, as a ``next`` with errors; returns its code."""
        errors = [GraphQLError(str(error), original_error=error, path=[_response_name(live)])]
        formatted = self._client_errors(errors)
        self._queue(
            (live.id, "last"), {"id": live.id, "type": "next", "payload": {"data": None, "errors": formatted}}
        )
        return outcome_code(errors)

    def _forget(self, live: LiveOperation) -> None:
        if self._live.get(live.id) is live:
            del self._live[live.id]
            if live.source is not None:
                live.source.close()
        self._forget_id(live.id)

    def _forget_id(self, operation_id: str) -> None:
        """Free the id for reuse at once (strawberry keeps it until the task ends), and stop whatever
        still runs for it: a subscription completed or dropped during its first read must not go on to
        learn that read into a feed nobody watches, nor send a ``next`` for an id the client gave up."""
        operation = self.operations.pop(operation_id, None)
        if (
            operation is not None
            and operation.task is not None
            and operation.task is not asyncio.current_task()
        ):
            operation.task.cancel()

    async def cleanup_operation(self, operation_id: str) -> None:
        # Strawberry's, plus what a live subscription holds (set up or still setting up).
        live = self._live.get(operation_id)
        if live is not None:
            self._forget(live)
            self._outbox.pop((operation_id, "update"), None)
        self._forget_id(operation_id)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        # Strawberry keeps the cancelled timeout task for the connection's life.
        if self.connection_init_received:
            self.connection_init_timeout_task = None

    async def shutdown(self) -> None:
        # Strawberry cleans up every operation it knows (a live one, set up or still setting up, among
        # them: see cleanup_operation) and waits for the cancelled tasks to finish.
        await super().shutdown()
        if self._writer is not None:
            self._writer.cancel()

    # Sending -------------------------------------------------------------------------------

    def _queue(self, key: Slot, message: dict[str, Any]) -> None:
        if key in self._outbox:
            self.view.metrics.subscription_events_coalesced.inc()
        self._outbox[key] = message
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        """Send the outbox in order; cut the client off if one message waits too long on it."""
        stall_timeout = self.view.settings.stall_timeout_s
        try:
            while self._outbox:
                key = next(iter(self._outbox))
                message = self._outbox.pop(key)
                async with asyncio.timeout(stall_timeout):
                    await self.send_message(cast("Message", message))
        except TimeoutError:
            logger.warning("dropping a subscriber that stopped reading")
            self.view.metrics.subscription_clients_dropped.inc()
            self._outbox.clear()
            for live in list(self._live.values()):
                self._forget(live)
            self._in_background(self._close_quietly())
        except Exception:  # the client left: the connection's shutdown cleans up
            self._outbox.clear()
        finally:
            self._writer = None

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _close_quietly(self) -> None:
        # Best effort: the peer stopped reading, so the close frame may never get through.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self.websocket.close(SLOW_CLIENT_CLOSE_CODE, "client too slow"), _CLOSE_TIMEOUT_S
            )


def _response_name(live: LiveOperation) -> str:
    node = get_operation_ast(live.document, live.operation_name)
    assert node is not None
    field = node.selection_set.selections[0]
    assert isinstance(field, FieldNode), "subscriptions have a single root field"
    return field.alias.value if field.alias is not None else field.name.value
