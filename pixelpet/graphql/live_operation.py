"""One pushed subscription as GraphQL sees it: recognising it, opening its source, shaping its messages.

The protocol handler (transport.py) decides when each of these happens; this module knows nothing of
sockets. A ``LiveOperation`` is what a subscription is between events: its document, its variables,
its source, and the receiver its source pushes to.
"""

from collections.abc import Awaitable
from typing import Any, Protocol

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
from pixelpet.graphql.errors import classify_in_place
from pixelpet.graphql.sharing import execute_event, executor_for, share_key
from pixelpet.live_source import LiveSource


class Receiver(Protocol):
    """Whoever serves the operation: its source's events and its end go there."""

    def deliver(self, live: "LiveOperation", event: Any) -> None: ...

    def ended(self, live: "LiveOperation", error: Exception | None) -> None: ...


class LiveOperation:
    """A subscription between events: what executing its next event takes, and its source."""

    __slots__ = ("document", "id", "key", "operation_name", "receiver", "source", "variables")

    def __init__(
        self,
        receiver: Receiver,
        id: str,
        document: DocumentNode,
        operation_name: str | None,
        variables: dict[str, Any] | None,
    ) -> None:
        self.receiver = receiver
        self.id = id
        self.document = document
        self.operation_name = operation_name
        self.variables = variables
        self.key = share_key(document, operation_name, variables)
        self.source: LiveSource | None = None

    # What the source calls (bound methods: lighter than closures, one pair per subscription).

    def deliver(self, event: Any) -> None:
        self.receiver.deliver(self, event)

    def end(self, error: Exception | None) -> None:
        self.receiver.ended(self, error)

    # Messages ------------------------------------------------------------------------------

    def execute(self, schema: GraphQLSchema, event: Any, context: Any) -> ExecutionResult | Awaitable[Any]:
        """``event`` executed for this operation (once for all who share its document and variables)."""
        return execute_event(
            schema,
            self.document,
            event=event,
            context=context,
            operation_name=self.operation_name,
            variables=self.variables,
            key=self.key,
        )

    def next_message(self, result: ExecutionResult) -> dict[str, Any]:
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = client_errors(list(result.errors))
        return {"id": self.id, "type": "next", "payload": payload}

    def ending_error(self, error: Exception) -> tuple[dict[str, Any], list[GraphQLError]]:
        """The error that ends the operation, as a ``next`` with errors at its root field, and the errors."""
        errors = [GraphQLError(str(error), original_error=error, path=[self._response_name()])]
        message = {"id": self.id, "type": "next", "payload": {"data": None, "errors": client_errors(errors)}}
        return message, errors

    def complete_message(self) -> dict[str, Any]:
        return {"id": self.id, "type": "complete"}

    def _response_name(self) -> str:
        node = get_operation_ast(self.document, self.operation_name)
        assert node is not None
        field = node.selection_set.selections[0]
        assert isinstance(field, FieldNode), "subscriptions have a single root field"
        return field.alias.value if field.alias is not None else field.name.value


def valid_subscription(
    documents: DocumentCache, schema: GraphQLSchema, query: str, operation_name: str | None
) -> DocumentNode | None:
    """The document of ``query`` if it is a subscription that passes validation (both cached)."""
    try:
        document: DocumentNode = documents.parse(query)
    except GraphQLError:
        return None
    node = get_operation_ast(document, operation_name)
    if node is None or node.operation is not OperationType.SUBSCRIPTION:
        return None
    if documents.validate(schema, document, documents.all_rules):
        return None
    return document


async def open_source(
    schema: GraphQLSchema, live: LiveOperation, context: Any
) -> LiveSource | list[GraphQLError]:
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
