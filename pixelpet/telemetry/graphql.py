"""Per-operation telemetry for GraphQL: a span, RED metrics and one log line.

Everything hooks in at the operation level and on the few root resolvers that do I/O. Strawberry's
async ``resolve`` hook (as in its ``OpenTelemetryExtension``) would wrap every field of every pet
in a coroutine, about 10x the cost of a list query; see docs/observability.md for the numbers.
"""

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, get_operation_ast
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanKind, Status, StatusCode, Tracer
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.types import Info
from strawberry.types.execution import ExecutionContext

from pixelpet.errors import ErrorCode
from pixelpet.telemetry.metrics import Metrics

logger = logging.getLogger("pixelpet.requests")

OK = "OK"
# Codes that mean the service failed, rather than the client asking for something refused.
SERVER_FAULTS = {ErrorCode.INTERNAL_SERVER_ERROR.value, ErrorCode.UNAVAILABLE.value}
_CLIENT_NAME_MAX = 100


def root_field(context: ExecutionContext) -> tuple[str, str]:
    """(operation type, root field) with bounded values, for span names and metric labels.

    The root field is a name from the schema, "introspection", "multiple" (several root fields or
    fragments) or "invalid" (unparsable, or a name the schema does not have): never free text.
    """
    document = context.graphql_document
    operation = get_operation_ast(document, context.operation_name) if document else None
    if not isinstance(operation, OperationDefinitionNode):
        return "unknown", "invalid"
    operation_type = operation.operation.value
    selections = operation.selection_set.selections
    names = {node.name.value for node in selections if isinstance(node, FieldNode)}
    if len(names) != 1 or not all(isinstance(node, FieldNode) for node in selections):
        return operation_type, "multiple"
    (name,) = names
    if name.startswith("__"):
        return operation_type, "introspection"
    root_type = context.schema._schema.get_root_type(operation.operation)
    return operation_type, name if root_type is not None and name in root_type.fields else "invalid"


def outcome_code(errors: list[GraphQLError] | None) -> str:
    if not errors:
        return OK
    extensions = errors[0].extensions or {}
    return str(extensions.get("code", ErrorCode.INTERNAL_SERVER_ERROR.value))


class OperationTelemetry(SchemaExtension):
    """A span, a request count, a latency observation and a log line for each operation.

    A subscription is recorded once it has sent its first result (or failed to): that is its
    latency as a client feels it, and its span reaches the Collector then, not when the client
    leaves hours later. Its later deliveries are counted by the subscription metrics.
    """

    def __init__(self, *, tracer: Tracer, metrics: Metrics) -> None:
        super().__init__()
        self._tracer = tracer
        self._metrics = metrics
        self._span: trace.Span | None = None
        self._started = 0.0
        self._root: tuple[str, str] | None = None

    def on_operation(self) -> Iterator[None]:
        self._started = time.perf_counter()
        self._span = self._tracer.start_span("graphql operation", kind=SpanKind.INTERNAL)
        # Children need the span's identity, not the span: it may end long before the operation.
        token = otel_context.attach(
            trace.set_span_in_context(NonRecordingSpan(self._span.get_span_context()))
        )
        parse_failed = False
        try:
            yield
        except GraphQLError:
            parse_failed = True  # the parser cache raises syntax errors through the hooks
            raise
        finally:
            otel_context.detach(token)
            if parse_failed:
                self._finish("unknown", "invalid", ErrorCode.GRAPHQL_PARSE_FAILED.value)
            else:
                result = self.execution_context.result
                self._finish(*self._root_field(), outcome_code(result.errors if result is not None else None))

    def get_results(self) -> dict[str, Any]:
        # Strawberry asks every extension for its results once per result, errors already
        # classified: for a subscription, the first ask is its setup's end. (The on_stream_result
        # hook would say the same, but costs a context manager per delivery to every subscriber.)
        if self._span is not None and self._root_field()[0] == "subscription":
            self._finish(*self._root_field(), outcome_code(self.execution_context.pre_execution_errors))
        return {}

    def _root_field(self) -> tuple[str, str]:
        """Computed once per operation: it walks the document."""
        if self._root is None:
            self._root = root_field(self.execution_context)
        return self._root

    def _finish(self, operation_type: str, operation: str, code: str) -> None:
        span, self._span = self._span, None
        if span is None:
            return  # a subscription, recorded at its first result
        elapsed = time.perf_counter() - self._started
        span.update_name(f"{operation_type} {operation}")
        span.set_attribute("graphql.operation.type", operation_type)
        span.set_attribute("graphql.root_field", operation)
        if self.execution_context.operation_name:
            span.set_attribute(
                "graphql.operation.name", self.execution_context.operation_name[:_CLIENT_NAME_MAX]
            )
        span.set_attribute("pixelpet.outcome", code)
        if code in SERVER_FAULTS:
            span.set_status(Status(StatusCode.ERROR, code))
        span_context = span.get_span_context()
        span.end()
        self._metrics.graphql_requests.labels(operation_type, operation, code).inc()
        exemplar = (
            {"trace_id": format(span_context.trace_id, "032x")} if span_context.trace_flags.sampled else None
        )
        self._metrics.graphql_duration.labels(operation_type, operation).observe(elapsed, exemplar=exemplar)
        logger.info(
            "graphql request",
            extra={
                "operation_type": operation_type,
                "operation": operation,
                "code": code,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )


class TracedResolver(FieldExtension):
    """A span around one root resolver (the ones that do I/O), parent of its MongoDB spans."""

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info[Any, Any], **kwargs: Any
    ) -> Any:
        tracer: Tracer = info.context.tracer
        with tracer.start_as_current_span(f"{info.path.typename}.{info.field_name}"):
            return await next_(source, info, **kwargs)
