"""What wraps every root resolver (graphql/root.py): charged, within the deadline, traced, in that order."""

import asyncio
from dataclasses import dataclass, field

import strawberry
from graphql import OperationType
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from pixelpet.errors import Unavailable
from pixelpet.graphql.deadline import operation_budget
from pixelpet.graphql.root import RootResolver


@dataclass
class Charges:
    taken: list[tuple[OperationType, str]] = field(default_factory=list)

    def charge(self, operation: OperationType, owner: str) -> None:
        self.taken.append((operation, owner))


@dataclass
class FakeContext:
    tracer: trace.Tracer
    limits: Charges = field(default_factory=Charges)
    ran: int = 0
    raise_timeout: bool = False

    async def owner(self) -> str:
        return "alice"


@strawberry.type
class Query:
    @strawberry.field(extensions=[RootResolver()])
    async def work(self, info: strawberry.Info[FakeContext, None]) -> int:
        info.context.ran += 1
        if info.context.raise_timeout:
            raise TimeoutError  # a resolver's own timeout (a driver's, say), not the operation's deadline
        return 1


SCHEMA = strawberry.Schema(query=Query)


def _context() -> tuple[FakeContext, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return FakeContext(tracer=provider.get_tracer("test")), exporter


async def test_a_root_field_is_charged_then_runs_in_its_span() -> None:
    context, exporter = _context()
    with operation_budget(5.0):
        result = await SCHEMA.execute("{ work }", context_value=context)
    assert result.data == {"work": 1}
    assert context.limits.taken == [(OperationType.QUERY, "alice")]
    assert [span.name for span in exporter.get_finished_spans()] == ["Query.work"]


async def test_past_the_deadline_a_root_field_is_charged_but_neither_runs_nor_makes_a_span() -> None:
    context, exporter = _context()
    with operation_budget(0.0):
        await asyncio.sleep(0)  # the loop's clock has moved past a budget of nothing
        result = await SCHEMA.execute("{ work }", context_value=context)
    assert result.errors
    assert isinstance(result.errors[0].original_error, Unavailable)
    assert context.limits.taken == [(OperationType.QUERY, "alice")]
    assert context.ran == 0
    assert exporter.get_finished_spans() == ()


async def test_a_timeout_inside_the_resolver_is_unavailable_too() -> None:
    context, exporter = _context()
    context.raise_timeout = True
    with operation_budget(5.0):
        result = await SCHEMA.execute("{ work }", context_value=context)
    assert result.errors
    assert isinstance(result.errors[0].original_error, Unavailable)
    assert context.ran == 1
    assert [span.name for span in exporter.get_finished_spans()] == ["Query.work"]


async def test_without_an_operation_budget_the_field_just_runs() -> None:
    context, _ = _context()
    result = await SCHEMA.execute("{ work }", context_value=context)
    assert result.data == {"work": 1}
    assert context.limits.taken == [(OperationType.QUERY, "alice")]


async def test_below_a_span_the_sampler_dropped_no_span_is_made() -> None:
    context, exporter = _context()
    dropped = NonRecordingSpan(SpanContext(trace_id=1, span_id=2, is_remote=False, trace_flags=TraceFlags(0)))
    with trace.use_span(dropped), operation_budget(5.0):
        result = await SCHEMA.execute("{ work }", context_value=context)
    assert result.data == {"work": 1}
    assert context.ran == 1
    assert exporter.get_finished_spans() == ()
