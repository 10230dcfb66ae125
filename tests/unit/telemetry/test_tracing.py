"""Trace export follows the OpenTelemetry SDK's standard variables, as operators expect."""

import pytest

from pixelpet.telemetry.tracing import TelemetryConfigurationError, TraceExport, trace_export
from tests.support.service import run_pixelpet


def test_nothing_set_records_spans_without_exporting_them() -> None:
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
