"""Trace export follows the OpenTelemetry SDK's standard variables, as operators expect."""

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from pixelpet.settings import TelemetrySettings
from pixelpet.telemetry.tracing import (
    TelemetryConfigurationError,
    TraceExport,
    Tracing,
    below_unsampled_span,
    trace_export,
)
from tests.support.service import run_pixelpet


def test_nothing_set_exports_nothing() -> None:
    assert trace_export({}) is TraceExport.NONE


@pytest.mark.parametrize("name", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"])
def test_an_otlp_endpoint_alone_turns_export_on(name: str) -> None:
    assert trace_export({name: "http://collector:4318"}) is TraceExport.OTLP


def test_the_exporter_variable_wins_over_the_endpoint() -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}
    assert trace_export(environ) is TraceExport.NONE
    assert trace_export({"OTEL_TRACES_EXPORTER": "otlp"}) is TraceExport.OTLP


def test_sdk_disabled_wins_over_everything() -> None:
    environ = {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}
    assert trace_export(environ) is TraceExport.DISABLED
    assert trace_export({"OTEL_SDK_DISABLED": "false"}) is TraceExport.NONE


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER=zipkin is not supported"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported"),
    ],
)
def test_an_unsupported_choice_is_refused_with_the_reason(environ: dict[str, str], says: str) -> None:
    with pytest.raises(TelemetryConfigurationError, match=says):
        trace_export(environ)


def test_the_service_refuses_an_unsupported_exporter_in_one_line() -> None:
    completed = run_pixelpet("serve", env={"OTEL_TRACES_EXPORTER": "jaeger"})
    assert completed.returncode == 2
    assert completed.stderr == (
        "pixelpet: invalid configuration: OTEL_TRACES_EXPORTER=jaeger is not supported: "
        "use otlp (to a Collector) or none\n"
    )


def _tracing(export: TraceExport, exporter: InMemorySpanExporter | None = None) -> Tracing:
    return Tracing(TelemetrySettings(), version="test", environment="test", export=export, exporter=exporter)


@pytest.mark.parametrize("export", [TraceExport.NONE, TraceExport.DISABLED])
def test_without_export_spans_keep_their_ids_but_nothing_is_recorded(export: TraceExport) -> None:
    tracing = _tracing(export)
    span = tracing.tracer.start_span("request")
    assert span.get_span_context().is_valid, "logs and errors still carry a trace id"
    assert not span.is_recording()
    assert not span.get_span_context().trace_flags.sampled
    assert tracing.mongo_listeners() == [], "no unrecorded span per MongoDB command"


def test_with_export_spans_are_recorded_and_database_commands_traced() -> None:
    exporter = InMemorySpanExporter()
    tracing = _tracing(TraceExport.NONE, exporter)  # an exporter given (tests) records as OTLP does
    tracing.start()
    with tracing.tracer.start_as_current_span("request") as span:
        assert span.is_recording()
    assert [s.name for s in exporter.get_finished_spans()] == ["request"]
    assert len(tracing.mongo_listeners()) == 1
    assert _tracing(TraceExport.OTLP).records


def test_below_an_unsampled_span_children_can_be_skipped() -> None:
    assert not below_unsampled_span(), "no span at all: a child would be a root, sampled on its own"
    recorded = _tracing(TraceExport.NONE, InMemorySpanExporter()).tracer
    with recorded.start_as_current_span("sampled"):
        assert not below_unsampled_span()
    with _tracing(TraceExport.NONE).tracer.start_as_current_span("dropped"):
        assert below_unsampled_span()
