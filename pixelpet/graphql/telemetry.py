"""Per-operation telemetry for GraphQL: a span, RED metrics and one log line.

Everything hooks in at the operation level and on the few root resolvers that do I/O. Strawberry's
async ``resolve`` hook (as in its ``OpenTelemetryExtension``) would wrap every field of every pet
in a coroutine, about 10x the cost of a list query; see docs/observability.md for the numbers.
"""

import contextlib
import logging
import time
from collections.abc import Callable, Iterator

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    get_operation_ast,
)
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanKind, Status, StatusCode, Tracer
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import SchemaExtension

from pixelpet.errors import ErrorCode
from pixelpet.graphql.seam import CannotGetOperationTypeError, InvalidOperationTypeError, core_schema
from pixelpet.telemetry.metrics import Metrics
from pixelpet.telemetry.tracing import below_unsampled_span

logger = logging.getLogger("pixelpet.requests")

OK = "OK"
# Codes that mean the service failed, rather than the client asking for something refused.
SERVER_FAULTS = {ErrorCode.INTERNAL_SERVER_ERROR.value, ErrorCode.UNAVAILABLE.value}
_CLIENT_NAME_MAX = 100


def root_field(
    schema: GraphQLSchema, document: DocumentNode | None, operation_name: str | None
) -> tuple[str, str]:
    """(operation type, root field) with bounded values, for span names and metric labels.

    The root field is a name from the schema, "introspection", "multiple" (several root fields or
    fragments) or "invalid" (unparsable, or a name the schema does not have): never free text.
    """
    operation = get_operation_ast(document, operation_name) if document else None
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
    root_type = schema.get_root_type(operation.operation)
    return operation_type, name if root_type is not None and name in root_type.fields else "invalid"


def outcome_code(errors: list[GraphQLError] | None) -> str:
    if not errors:
        return OK
    extensions = errors[0].extensions or {}
    return str(extensions.get("code", ErrorCode.INTERNAL_SERVER_ERROR.value))


class OperationRecorder:
    """Records GraphQL operations: one span, a request count, a latency observation and a log line each."""

    def __init__(self, *, tracer: Tracer, metrics: Metrics) -> None:
        self.tracer = tracer
        self.metrics = metrics

    def start(self) -> "Recording":
        return Recording(self)

    def extension(self) -> "OperationTelemetry":
        """The schema extension recording what strawberry executes."""
        return OperationTelemetry(self)


class Recording:
    """One operation being recorded. ``finish`` records it; later calls do nothing."""

    __slots__ = ("_finished", "_recorder", "_span", "_started")

    def __init__(self, recorder: OperationRecorder) -> None:
        self._recorder = recorder
        self._started = time.perf_counter()
        self._finished = False
        # Below a dropped span (tracing off, or a trace not sampled) there is nothing to record.
        self._span: trace.Span | None = (
            None
            if below_unsampled_span()
            else recorder.tracer.start_span("graphql operation", kind=SpanKind.INTERNAL)
        )

    @contextlib.contextmanager
    def current(self) -> Iterator[None]:
        """Make the operation's span the parent of what runs inside (resolvers, database calls)."""
        if self._span is None:
            yield
            return
        # Children need the span's identity, not the span: it may end long before the operation.
        token = otel_context.attach(
            trace.set_span_in_context(NonRecordingSpan(self._span.get_span_context()))
        )
        try:
            yield
        finally:
            otel_context.detach(token)

    def finish(self, operation_type: str, operation: str, operation_name: str | None, code: str) -> None:
        if self._finished:
            return
        self._finished = True
        elapsed = time.perf_counter() - self._started
        exemplar = None
        span = self._span
        if span is not None:
            span.update_name(f"{operation_type} {operation}")
            span.set_attribute("graphql.operation.type", operation_type)
            span.set_attribute("graphql.root_field", operation)
            if operation_name:
                # Whatever the client sent as the name (JSON allows a number): text, bounded.
                span.set_attribute("graphql.operation.name", str(operation_name)[:_CLIENT_NAME_MAX])
            span.set_attribute("pixelpet.outcome", code)
            if code in SERVER_FAULTS:
                span.set_status(Status(StatusCode.ERROR, code))
            span_context = span.get_span_context()
            span.end()
            if span_context.trace_flags.sampled:
                exemplar = {"trace_id": format(span_context.trace_id, "032x")}
        self._recorder.metrics.operation_finished(operation_type, operation, code, elapsed, exemplar)
        logger.info(
            "graphql request",
            extra={
                "operation_type": operation_type,
                "operation": operation,
                "code": code,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )


# What strawberry raises (and operation.py likewise) for a request that is no operation this endpoint
# runs: no query, an operation name the document lacks, or a subscription over HTTP. The view answers 400.
REFUSED_REQUESTS = (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError)


def operation_outcome(
    schema: GraphQLSchema,
    document: DocumentNode | None,
    operation_name: str | None,
    errors: list[GraphQLError] | None,
    *,
    parse_failed: bool = False,
    refused: bool = False,
    failed: bool = False,
    roots: Callable[[GraphQLSchema, DocumentNode | None, str | None], tuple[str, str]] = root_field,
) -> tuple[str, str, str]:
    """(operation type, root field, code) of a finished operation, as ``Recording.finish`` takes them:
    ``failed`` when it raised something other than a refusal (a bug, answered INTERNAL_SERVER_ERROR).
    ``roots`` is ``root_field`` or a cache of it (``DocumentCache.root_field``)."""
    if parse_failed:
        return "unknown", "invalid", ErrorCode.GRAPHQL_PARSE_FAILED.value
    operation_type, root = roots(schema, document, operation_name)
    if refused:
        return operation_type, root, ErrorCode.GRAPHQL_VALIDATION_FAILED.value
    if failed:
        return operation_type, root, ErrorCode.INTERNAL_SERVER_ERROR.value
    return operation_type, root, outcome_code(errors)


class OperationTelemetry(SchemaExtension):
    """Records each operation strawberry executes (see OperationRecorder) when strawberry's own path runs
    it (operation.py runs the rest): what it refuses too. Valid subscriptions are set up and recorded by
    our transport (pixelpet/graphql/transport.py), at their first result."""

    def __init__(self, recorder: OperationRecorder) -> None:
        super().__init__()
        self._recorder = recorder

    def on_operation(self) -> Iterator[None]:
        recording = self._recorder.start()
        context = self.execution_context
        parse_failed = refused = failed = False
        try:
            with recording.current():
                yield
        except GraphQLError:
            parse_failed = True  # the parser cache raises syntax errors through the hooks
            raise
        except REFUSED_REQUESTS:
            refused = True
            raise
        except Exception:
            failed = True  # strawberry answers it as the operation's one error: INTERNAL_SERVER_ERROR
            raise
        finally:
            result = context.result
            operation_type, root, code = operation_outcome(
                core_schema(context.schema),
                context.graphql_document,
                context.operation_name,
                result.errors if result is not None else None,
                parse_failed=parse_failed,
                refused=refused,
                failed=failed,
            )
            recording.finish(operation_type, root, context.operation_name, code)
