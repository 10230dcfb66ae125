"""One pushed subscription as GraphQL sees it: recognising it, opening its source, executing and queueing
each snapshot its source pushes.

The protocol handler (transport.py) decides when a subscription starts and ends; a ``LiveOperation``
does the rest by itself: between events it is its document, its variables, its source and the
connection's ``LiveConnection`` (what every subscription of the connection shares), and each pushed
snapshot goes straight from it to the connection's outbox.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    get_operation_ast,
)
from graphql.execution import create_source_event_stream

from pixelpet.graphql.caching import DocumentCache
from pixelpet.graphql.encoding import encode_text
from pixelpet.graphql.errors import classify_in_place
from pixelpet.graphql.live_source import LiveSource, Shared
from pixelpet.graphql.outbox import Outbox
from pixelpet.graphql.seam import executor_for
from pixelpet.graphql.sharing import SharedResult, execute_shared, next_message, share_key


@dataclass(frozen=True, slots=True)
class LiveConnection:
    """What the live operations of one connection share."""

    schema: GraphQLSchema
    context: Any
    outbox: Outbox
    # The handler's: the operation ended by itself (its id is free again).
    forget: Callable[["LiveOperation"], None]
    # The handler's: run a coroutine tied to the connection (a result that needs awaiting).
    in_background: Callable[[Awaitable[None]], None]


class LiveOperation:
    """A subscription between events: what executing its next snapshot takes, and its source."""

    __slots__ = ("connection", "document", "id", "key", "operation_name", "source", "variables")

    def __init__(
        self,
        connection: LiveConnection,
        id: str,
        document: DocumentNode,
        operation_name: str | None,
        variables: dict[str, Any] | None,
    ) -> None:
        self.connection = connection
        self.id = id
        self.document = document
        self.operation_name = operation_name
        self.variables = variables
        self.key = share_key(document, operation_name, variables)
        self.source: LiveSource[Any] | None = None

    # What the source pushes to (bound methods: lighter than closures, one pair per subscription).

    def deliver(self, event: Shared) -> None:
        """Execute ``event`` (once for all who share it) and queue its ``next`` message."""
        assert self.source is not None
        shared = event.derived.get(self.key)
        if isinstance(shared, SharedResult):  # executed for another subscriber already: most deliveries
            self._queue(next_message(self.id, shared), event)
            return
        result = execute_shared(
            self.connection.schema,
            self.document,
            root=self.source.present(event),
            cache=event.derived,
            context=self.connection.context,
            operation_name=self.operation_name,
            variables=self.variables,
            key=self.key,
        )
        if isinstance(result, Awaitable):
            # No pet field waits on anything; one that did would be sent once done.
            self.connection.in_background(self._deliver_when_done(result, event))
        else:
            self._queue(self._next_message(result), event)

    def end(self, error: Exception | None) -> None:
        """The source ended: send its error if any, then ``complete``."""
        self.connection.forget(self)
        if error is None:
            self.connection.outbox.put(self.id, "complete", self.complete_message())
        else:
            self.end_with(error)

    def end_with(self, error: Exception) -> list[GraphQLError]:
        """Queue the error that ends the operation (a ``next`` with errors at its root field) and its
        ``complete``; returns the errors as clients see them."""
        errors = [GraphQLError(str(error), original_error=error, path=[self._response_name()])]
        formatted = client_errors(errors)
        message = {"id": self.id, "type": "next", "payload": {"data": None, "errors": formatted}}
        self.connection.outbox.put(self.id, "last", encode_text(message))
        self.connection.outbox.put(self.id, "complete", self.complete_message())
        return errors

    def complete_message(self) -> str:
        return encode_text({"id": self.id, "type": "complete"})

    async def _deliver_when_done(self, result: Awaitable[ExecutionResult], event: Shared) -> None:
        done = await result
        if self.source is not None:  # still live
            self._queue(self._next_message(done), event)

    def _queue(self, message: str, event: Shared) -> None:
        self.connection.outbox.put(self.id, "update", message, about=event.about, supersedes=event.supersedes)

    def _next_message(self, result: SharedResult | ExecutionResult) -> str:
        if isinstance(result, SharedResult):
            return next_message(self.id, result)
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = client_errors(list(result.errors))
        return encode_text({"id": self.id, "type": "next", "payload": payload})

    def _response_name(self) -> str:
        node = get_operation_ast(self.document, self.operation_name)
        assert node is not None
        field = node.selection_set.selections[0]
        assert isinstance(field, FieldNode), "subscriptions have a single root field"
        return field.alias.value if field.alias is not None else field.name.value


def valid_subscription(
    documents: DocumentCache, schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> bool:
    """``document`` (parsed) is a subscription that passes validation (cached)."""
    node = get_operation_ast(document, operation_name)
    if node is None or node.operation is not OperationType.SUBSCRIPTION:
        return False
    return not documents.validate(schema, document, documents.all_rules)


async def open_source(
    schema: GraphQLSchema, live: LiveOperation, context: Any
) -> LiveSource[Any] | list[GraphQLError]:
    """Run the subscription's resolver: its source, or why the operation is refused."""
    executor = executor_for(
        schema, live.document, context=context, operation_name=live.operation_name, variables=live.variables
    )
    if isinstance(executor, list):  # the variables do not fit the operation
        return executor
    source = create_source_event_stream(executor)
    if isinstance(source, Awaitable):
        source = await source
    if isinstance(source, ExecutionResult):
        return list(source.errors or [])
    if not isinstance(source, LiveSource):
        wrong = TypeError(f"a subscription resolver must return a LiveSource, not {type(source).__name__}")
        return [GraphQLError(str(wrong), original_error=wrong)]
    return source


def client_errors(errors: list[GraphQLError]) -> list[Any]:
    """``errors`` as clients see them: classified (codes, masked internals), then formatted."""
    classify_in_place(errors)
    return [error.formatted for error in errors]
