"""Execute a subscription event once for all the subscribers that receive it, and encode it once.

GraphQL executes a subscription's selection set for every event and every subscriber. When many
subscribers receive the very same event object with the same operation and variables, the result
is the same for all of them, so it is computed on the first delivery and reused for the others;
its JSON is encoded once too. Measured in docs/performance.md: this is most of what a delivery to a
thousand subscribers costs.

Results are keyed by the parsed document, the operation name and the variables: the schema's
document cache makes the same query text the same document. The contract: an event is shared by
carrying a ``shared_results`` dict (see ``Pet``), and the fields under it must not depend on who is
asking (the subscription's source checks access before it pushes anything). Results with errors
are never shared: their errors are classified and logged per delivery as usual.
"""

import json
from collections.abc import Awaitable
from typing import Any, cast

from graphql import DocumentNode, ExecutionResult, GraphQLError, GraphQLSchema
from graphql.execution import Executor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

ShareKey = tuple[int, str | None, str]


class EncodedData(dict[str, Any]):
    """A result's data together with its JSON, encoded once for every subscriber."""

    __slots__ = ("json",)

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.json = encode(data)


def encode(data: object) -> str:
    """Strawberry's encoding: compact JSON."""
    return json.dumps(data, separators=(",", ":"))


def encode_message(message: object) -> str:
    """A graphql-transport-ws message as JSON, reusing a shared result's encoding when it has one."""
    if isinstance(message, dict) and message.get("type") == "next":
        payload = message["payload"]
        data = payload.get("data")
        if isinstance(data, EncodedData) and len(payload) == 1:
            return f'{{"id":{encode(message["id"])},"type":"next","payload":{{"data":{data.json}}}}}'
    return encode(message)


def share_key(
    document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None
) -> ShareKey:
    """What makes two subscriptions' results for one event the same."""
    return id(document), operation_name, json.dumps(variables, sort_keys=True, default=repr)


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
    ``Info`` needs it): the one place that names it. Errors if the variables do not fit the operation."""
    return StrawberryGraphQLCoreExecutionContext.build(
        schema,
        document,
        root_value=root_value,
        context_value=context,
        raw_variable_values=variables,
        operation_name=operation_name,
    )


def execute_event(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    event: Any,
    context: Any,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    key: ShareKey,
) -> ExecutionResult | Awaitable[ExecutionResult]:
    """The subscription's result for ``event``, executed once per event and ``key`` when shared."""
    shared: dict[ShareKey, Any] | None = getattr(event, "shared_results", None)
    if shared is not None and key in shared:
        return shared[key][1]  # type: ignore[no-any-return]
    executor = executor_for(
        schema,
        document,
        root_value=event,
        context=context,
        operation_name=operation_name,
        variables=variables,
    )
    if isinstance(executor, list):
        return ExecutionResult(None, errors=executor)
    # A subscription operation never defers or streams: its results are plain ExecutionResults.
    result = cast("ExecutionResult | Awaitable[ExecutionResult]", executor.execute_operation(False))
    if shared is not None and isinstance(result, ExecutionResult) and not result.errors:
        if result.data is not None:
            result.data = EncodedData(result.data)
        # The document is kept alive with the result, so its id in the key is never reused.
        shared[key] = (document, result)
    return result
