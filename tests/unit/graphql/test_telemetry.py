"""An operation's record: a span when its trace is sampled, metrics and a log line always."""

import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import get_current_span

from pixelpet.graphql.telemetry import OperationRecorder
from pixelpet.telemetry.metrics import Metrics


def _recorder(provider: TracerProvider) -> tuple[OperationRecorder, Metrics]:
    metrics = Metrics(version="test", environment="test")
    return OperationRecorder(tracer=provider.get_tracer("test"), metrics=metrics), metrics


def _count(metrics: Metrics, code: str) -> float | None:
    return metrics.registry.get_sample_value(
        "pixelpet_graphql_requests_total", {"operation_type": "query", "operation": "pet", "code": code}
    )


def test_a_sampled_operation_has_its_span_with_the_outcome() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    recorder, metrics = _recorder(provider)
    with provider.get_tracer("test").start_as_current_span("POST /graphql"):
        recording = recorder.start()
        with recording.current():
            inner = get_current_span().get_span_context()
        recording.finish("query", "pet", "Pet", "OK")
        recording.finish("query", "pet", "Pet", "OK")  # later calls do nothing
    (operation,) = [span for span in exporter.get_finished_spans() if span.name == "query pet"]
    assert operation.context.span_id == inner.span_id, "what runs inside is its child"
    assert operation.attributes is not None
    assert operation.attributes["pixelpet.outcome"] == "OK"
    assert _count(metrics, "OK") == 1


def test_below_a_dropped_span_no_span_is_made_but_metrics_and_the_log_line_remain(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    recorder, metrics = _recorder(provider)
    with provider.get_tracer("test").start_as_current_span("POST /graphql") as request:
        recording = recorder.start()
        with recording.current():
            assert get_current_span() is request, "resolvers see the request's ids"
        with caplog.at_level(logging.INFO, logger="pixelpet.requests"):
            recording.finish("query", "pet", None, "NOT_FOUND")
    assert exporter.get_finished_spans() == ()
    assert _count(metrics, "NOT_FOUND") == 1
    assert [record.getMessage() for record in caplog.records] == ["graphql request"]
