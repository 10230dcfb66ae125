"""Execute a pushed snapshot once for all the subscribers that receive it, and encode it once.

GraphQL executes a subscription's selection set for every event and every subscriber. Every subscriber
of a pet receives the very same snapshot (pixelpet/pets/live/channel.py); with the same operation and
variables the result is the same for all of them, so it is computed on the first delivery and kept in
the snapshot's one cache (``Snapshot.derived``) for the others, with its JSON encoded once too. Measured
in docs/performance.md: this is most of what a delivery to a thousand subscribers costs.

Results are keyed by the parsed document, the operation name and the variables: the schema's document
cache makes the same query text the same document. The contract: the fields under a pushed root must not
depend on who is asking (the subscription checks access before it pushes anything). Results with errors
are never shared: their errors are classified and logged per delivery as usual.
"""

import json
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, cast

from graphql import DocumentNode, ExecutionResult, GraphQLSchema

from pixelpet.graphql.completion import PlainCompletingExecutor
from pixelpet.graphql.encoding import encode_text
from pixelpet.graphql.seam import executor_for

ShareKey = tuple[int, str | None, str]


@dataclass(frozen=True, slots=True)
class SharedResult:
    """A result every subscriber of a snapshot receives, with its data's JSON."""

    document: DocumentNode  # kept alive with the result, so its id in the key is never reused
    result: ExecutionResult
    data_json: str


def share_key(
    document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None
) -> ShareKey:
    """What makes two subscriptions' results for one snapshot the same."""
    return id(document), operation_name, json.dumps(variables, sort_keys=True, default=repr)


def execute_shared(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    root: Any,
    cache: dict[object, object],
    context: Any,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    key: ShareKey,
) -> SharedResult | ExecutionResult | Awaitable[ExecutionResult]:
    """The result for ``root``: shared through ``cache`` when it can be, else this subscriber's own."""
    shared = cache.get(key)
    if isinstance(shared, SharedResult):
        return shared
    executor = executor_for(
        schema,
        document,
        executor_class=PlainCompletingExecutor,
        root_value=root,
        context=context,
        operation_name=operation_name,
        variables=variables,
    )
    if isinstance(executor, list):
        return ExecutionResult(None, errors=executor)
    # A subscription operation never defers or streams: its results are plain ExecutionResults.
    result = cast("ExecutionResult | Awaitable[ExecutionResult]", executor.execute_operation(False))
    if isinstance(result, ExecutionResult) and not result.errors and result.data is not None:
        shared = cache[key] = SharedResult(document, result, encode_text(result.data))
        return shared
    return result


def next_message(operation_id: str, shared: SharedResult) -> str:
    """The ``next`` message of a shared result, its data encoded once for every subscriber."""
    return f'{{"id":{encode_text(operation_id)},"type":"next","payload":{{"data":{shared.data_json}}}}}'
