"""Every strawberry internal this service relies on, named in one place.

Strawberry's public API covers queries and mutations over HTTP; the pushed subscriptions
(transport.py, decision 11), the cached validation (caching.py) and the HTTP rules (view.py) need a few
things beyond it. Each is imported or reached here and nowhere else, and tests/unit/graphql/test_seam.py
has a contract test per item, so a strawberry upgrade that moves one breaks that file's tests first
(`make test-strawberry-latest` runs them against the newest release). The protocol handler's state is
strawberry's plain attributes, not an API: ``ProtocolHandler`` is the only code that reads or changes it.
"""

import asyncio
from datetime import timedelta
from typing import Any, Protocol, TypeVar, cast

from cross_web import HTTPException as ViewHTTPException
from graphql import DocumentNode, ExecutionResult, GraphQLError, GraphQLField, GraphQLSchema, execute
from graphql.execution import Executor
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived, WebSocketDisconnected
from strawberry.http.websocket_origin import is_same_origin, normalize_allowed_origins, normalize_origin
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.types.execution import PreExecutionError
from strawberry.types.field import StrawberryField
from strawberry.types.graphql import OperationType as StrawberryOperationType
from strawberry.utils.operation import get_operation_type

__all__ = [
    "DEFAULT_ALLOWED_OPERATION_TYPES",
    "STRAWBERRY_ENUM_COERCION",
    "CannotGetOperationTypeError",
    "ConnectionAuthenticator",
    "InvalidOperationTypeError",
    "MaybeNullValidationRule",
    "NonJsonMessageReceived",
    "NonTextMessageReceived",
    "OneOfInputValidationRule",
    "Operation",
    "PreExecutionError",
    "ProtocolHandler",
    "StrawberryGraphQLCoreExecutionContext",
    "StrawberryOperationType",
    "SubscribeMessage",
    "ViewHTTPException",
    "WebSocketDisconnected",
    "core_schema",
    "execute_document",
    "executor_for",
    "get_operation_type",
    "is_same_origin",
    "normalize_allowed_origins",
    "normalize_origin",
    "patch_graphiql",
    "plain_attribute",
]


# How strawberry's enum types answer a Python enum member: the name of the first value whose value equals the
# member's (completion.py does that lookup once per type, for this method only).
STRAWBERRY_ENUM_COERCION = CustomGraphQLEnumType.coerce_output_value


def core_schema(schema: BaseSchema) -> GraphQLSchema:
    """graphql-core's schema behind strawberry's: strawberry has no public accessor."""
    core: GraphQLSchema = schema._schema  # type: ignore[attr-defined]
    return core


def plain_attribute(field: GraphQLField) -> str | None:
    """The attribute a strawberry field without a resolver, extensions or permissions returns as it is
    (strawberry's default resolver, ``getattr``), or None for any field graphql-core must resolve.
    Strawberry marks the resolver it gives such fields ``_is_default`` and keeps the field in the
    graphql-core field's extensions."""
    if not getattr(field.resolve, "_is_default", False):
        return None
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    if definition.default_resolver is not getattr:
        return None
    return definition.python_name


def executor_for(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    executor_class: type[StrawberryGraphQLCoreExecutionContext] = StrawberryGraphQLCoreExecutionContext,
    root_value: Any = None,
    context: Any,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> "Executor[Any] | list[GraphQLError]":
    """graphql-core's execution of ``document``, with strawberry's execution context (its resolvers'
    ``Info`` needs it). Errors if the variables do not fit the operation."""
    return executor_class.build(
        schema,
        document,
        root_value=root_value,
        context_value=context,
        raw_variable_values=variables,
        operation_name=operation_name,
    )


async def execute_document(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    executor_class: type[StrawberryGraphQLCoreExecutionContext] = StrawberryGraphQLCoreExecutionContext,
    root_value: Any = None,
    context: Any,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> ExecutionResult:
    """graphql-core's execution of ``document`` with the arguments strawberry's ``Schema.execute`` passes
    it (its execution context class and awaitable check; its middleware is empty for our extensions)."""
    result = execute(
        schema,
        document,
        root_value=root_value,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
        is_awaitable=cast("Any", optimized_is_awaitable),  # a TypeGuard in all but its annotation
        executor_class=executor_class,
    )
    if isinstance(result, ExecutionResult):
        return result
    return await result


class ConnectionAuthenticator(Protocol):
    """What strawberry's protocol handler asks of its "view": this, and only this, at connection_init."""

    async def on_ws_connect(self, context: Any) -> None: ...


ContextT = TypeVar("ContextT")


class ProtocolHandler(BaseGraphQLTransportWSHandler[ContextT, None]):
    """Strawberry's graphql-transport-ws handler (connection_init, ping, complete, limits, close codes), with
    the few moves on its state that pushed subscriptions need (transport.py, decision 11).

    A subclass overrides strawberry's hooks (``handle_subscribe``, ``run_operation``, ``cleanup_operation``,
    ``shutdown``) and calls them through ``super()``; it reaches the handler's state only through the
    methods here (tests/unit/test_layers.py checks).
    """

    def __init__(
        self,
        *,
        websocket: Any,
        context: ContextT,
        authenticator: ConnectionAuthenticator,
        schema: BaseSchema,
        connection_init_timeout: timedelta,
        max_operations: int,
    ) -> None:
        super().__init__(
            # In the place of the whole ASGI view strawberry expects: it only calls on_ws_connect.
            view=cast("Any", authenticator),
            websocket=websocket,
            context=context,
            root_value=None,
            schema=schema,
            connection_init_wait_timeout=connection_init_timeout,
            max_subscriptions_per_connection=max_operations,
        )

    def is_acknowledged(self) -> bool:
        """The connection_ack was sent: strawberry closes a subscribe before it with 4401."""
        return self.connection_acknowledged

    def knows_operation(self, operation_id: str) -> bool:
        """``operation_id`` is in use: strawberry closes a subscribe reusing it with 4409."""
        return operation_id in self.operations

    def release_operation(self, operation_id: str) -> None:
        """Free the id for reuse at once (strawberry keeps it until the task ends), and cancel what still
        runs for it, unless that is the caller's own task (an operation ending itself finishes its work)."""
        operation = self.operations.pop(operation_id, None)
        if (
            operation is not None
            and operation.task is not None
            and operation.task is not asyncio.current_task()
        ):
            operation.task.cancel()

    def detach_task(self, operation: Operation[ContextT, None]) -> None:
        """``operation``'s task is ending while the operation goes on (a pushed subscription, set up): it
        lets go of the task, so a finished one is not kept for the subscription's life (see
        ``cleanup_operation``, which strawberry's would refuse without one)."""
        operation.task = None

    async def send_error(self, operation_id: str, errors: list[Any]) -> None:
        """An ``error`` message for ``operation_id`` (formatted errors), sent as strawberry sends its own."""
        await self.send_message({"id": operation_id, "type": "error", "payload": errors})

    async def close_connection(self, code: int, reason: str) -> None:
        """Close the connection, on the socket strawberry's handler holds."""
        await self.websocket.close(code, reason)

    async def cleanup_operation(self, operation_id: str) -> None:
        # Strawberry's (on complete and at shutdown), for operations that may no longer hold a task.
        self.release_operation(operation_id)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        # Strawberry cancels the init-timeout task but keeps it for the connection's life: let it go.
        if self.connection_init_received:
            self.connection_init_timeout_task = None


class GraphiQLChanged(RuntimeError):
    """Strawberry's GraphiQL page no longer has a line ``patch_graphiql`` replaces."""


def patch_graphiql(html: str, replacements: dict[str, str]) -> str:
    """Strawberry's GraphiQL page with each line of ``replacements`` replaced (it has no options for the
    initial query and headers)."""
    for old, new in replacements.items():
        if old not in html:
            raise GraphiQLChanged(f"strawberry's GraphiQL page no longer has {old!r}")
        html = html.replace(old, new)
    return html


# The lines of strawberry's GraphiQL page patch_graphiql replaces (view.py), checked by the seam's tests.
GRAPHIQL_INITIAL_QUERY = "parameters.q || EXAMPLE_QUERY"
GRAPHIQL_INITIAL_HEADERS = "React.useState(parameters.headers)"
