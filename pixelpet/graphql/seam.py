"""Every strawberry internal this service relies on, named in one place.

Strawberry's public API covers queries and mutations over HTTP; the pushed subscriptions
(transport.py, decision 11), the cached validation (caching.py) and the HTTP rules (view.py) need a few
things beyond it. Each is imported or reached here and nowhere else, and tests/unit/graphql/test_seam.py
has a contract test per item, so a strawberry upgrade that moves one breaks that file's tests first
(`make test-strawberry-latest` runs them against the newest release).
"""

from typing import Any, Protocol, cast

from cross_web import HTTPException as ViewHTTPException
from graphql import DocumentNode, GraphQLError, GraphQLSchema
from graphql.execution import Executor
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived, WebSocketDisconnected
from strawberry.http.websocket_origin import is_same_origin, normalize_allowed_origins, normalize_origin
from strawberry.schema import BaseSchema
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, StrawberryGraphQLCoreExecutionContext
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
from strawberry.types.graphql import OperationType as StrawberryOperationType

__all__ = [
    "DEFAULT_ALLOWED_OPERATION_TYPES",
    "BaseGraphQLTransportWSHandler",
    "ConnectionAuthenticator",
    "ConnectionInitMessage",
    "MaybeNullValidationRule",
    "NonJsonMessageReceived",
    "NonTextMessageReceived",
    "OneOfInputValidationRule",
    "Operation",
    "PreExecutionError",
    "StrawberryOperationType",
    "SubscribeMessage",
    "ViewHTTPException",
    "WebSocketDisconnected",
    "core_schema",
    "executor_for",
    "is_same_origin",
    "normalize_allowed_origins",
    "normalize_origin",
    "patch_graphiql",
    "strawberry_view",
]


def core_schema(schema: BaseSchema) -> GraphQLSchema:
    """graphql-core's schema behind strawberry's: strawberry has no public accessor."""
    core: GraphQLSchema = schema._schema  # type: ignore[attr-defined]
    return core


def executor_for(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    root_value: Any = None,
    context: Any,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> "Executor[Any] | list[GraphQLError]":
    """graphql-core's execution of ``document``, with strawberry's execution context (its resolvers'
    ``Info`` needs it). Errors if the variables do not fit the operation."""
    return StrawberryGraphQLCoreExecutionContext.build(
        schema,
        document,
        root_value=root_value,
        context_value=context,
        raw_variable_values=variables,
        operation_name=operation_name,
    )


class ConnectionAuthenticator(Protocol):
    """What strawberry's protocol handler asks of its "view": this, and only this, at connection_init."""

    async def on_ws_connect(self, context: Any) -> None: ...


def strawberry_view(authenticator: ConnectionAuthenticator) -> Any:
    """``authenticator`` in the place of the view strawberry's handler expects (a whole ASGI view there,
    of which it only calls ``on_ws_connect``)."""
    return cast("Any", authenticator)


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
