"""Execute a subscription event once for all the subscribers that receive it, and encode it once.

GraphQL executes a subscription's selection set for every event and every subscriber. When many
subscribers receive the very same event object with the same operation and variables, the result
is the same for all of them, so it is computed on the first delivery and replayed to the others;
its JSON is encoded once too. Measured in docs/performance.md: this is most of what a delivery to a
thousand subscribers costs.

Results are keyed by the parsed operation node and the variables: the schema's document cache
makes the same query text the same node. The contract: an event is shared by carrying a
``shared_results`` dict (see ``Pet``), and the fields under it must not depend on who is asking
(the subscription's resolver checks access before it yields anything). Results with errors are
never shared: their errors are classified and logged per delivery as usual.
"""

import json
from typing import Any, cast

from graphql import ExecutionResult
from graphql.execution import Executor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


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


class _Replay:
    """Stands in for a per-event executor when the event's result is already known."""

    __slots__ = ("result",)

    def __init__(self, result: ExecutionResult) -> None:
        self.result = result

    def execute_operation(self, serially: bool | None = None) -> ExecutionResult:
        return self.result


class SharingExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with per-event results shared through the event."""

    _share_key: tuple[int, str] | None = None
    _shared_results: dict[Any, Any] | None = None

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        shared: dict[Any, Any] | None = getattr(payload, "shared_results", None)
        if shared is None:
            return super().build_per_event_executor(payload)
        if self._share_key is None:
            variables = json.dumps(self.variable_values.coerced, sort_keys=True, default=repr)
            self._share_key = (id(self.operation), variables)
        known = shared.get(self._share_key)
        if known is not None:
            return cast("Executor[Any]", _Replay(known[1]))
        executor = super().build_per_event_executor(payload)
        assert isinstance(executor, SharingExecutionContext)
        executor._shared_results = shared
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        result = super().execute_operation(serially)
        shared = self._shared_results
        if shared is not None and isinstance(result, ExecutionResult) and not result.errors:
            if result.data is not None:
                result.data = EncodedData(result.data)
            # The operation node is kept alive with the result, so its id in the key is never reused.
            shared[self._share_key] = (self.operation, result)
        return result
