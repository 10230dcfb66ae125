"""OpenTelemetry tracing: one provider per app, exported over OTLP to a Collector.

The provider exists from ``create_app`` on (the ASGI middleware needs it); exporters attach in the
lifespan. MongoDB commands are traced by opentelemetry-instrumentation-pymongo's ``CommandTracer``
passed to our client as an event listener. ``PymongoInstrumentor().instrument()`` would register
that listener globally, once, bound to the first provider it sees, and only for clients created
afterwards; the per-client listener has neither the ordering trap nor the global state.

Export follows the OpenTelemetry SDK's standard variables, as every OpenTelemetry guide says to set
them (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/):
``OTEL_SDK_DISABLED=true`` records nothing; ``OTEL_TRACES_EXPORTER`` (``otlp`` or ``none``) decides;
unset, an OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``..._TRACES_ENDPOINT``) turns export on.
Without export, spans are not recorded at all; their ids still reach logs and error responses (not under
``OTEL_SDK_DISABLED``, where the SDK hands out no-op tracers: no ids at all).
"""

from collections.abc import Mapping
from enum import StrEnum

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.pymongo import CommandTracer
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import Tracer

from pixelpet.settings import TelemetrySettings

TRACER_NAME = "pixelpet"
_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_PROTOCOLS = ("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")


class TraceExport(StrEnum):
    """What happens to finished spans."""

    OTLP = "otlp"  # OTLP/HTTP to a Collector
    NONE = "none"  # not recorded: trace ids in logs and errors only
    DISABLED = "disabled"  # OTEL_SDK_DISABLED: nothing is recorded


class TelemetryConfigurationError(ValueError):
    """The OTEL_* variables ask for something this service cannot do."""


def trace_export(environ: Mapping[str, str]) -> TraceExport:
    """The export the standard OpenTelemetry variables in ``environ`` ask for."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return TraceExport.DISABLED
    for name in _PROTOCOLS:
        protocol = environ.get(name, "").strip()
        if protocol and protocol != "http/protobuf":
            raise TelemetryConfigurationError(
                f"{name}={protocol} is not supported: this service exports OTLP over HTTP "
                "(http/protobuf, the Collector's port 4318)"
            )
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not exporter:
        return (
            TraceExport.OTLP
            if any(environ.get(name, "").strip() for name in _ENDPOINTS)
            else TraceExport.NONE
        )
    if exporter in (TraceExport.OTLP, TraceExport.NONE):
        return TraceExport(exporter)
    raise TelemetryConfigurationError(
        f"OTEL_TRACES_EXPORTER={exporter} is not supported: use otlp (to a Collector) or none"
    )


def otlp_traces_url(environ: Mapping[str, str]) -> str | None:
    """Where spans are posted (the SDK's rules for the standard variables), or None if not exported."""
    if trace_export(environ) is not TraceExport.OTLP:
        return None
    traces = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if traces:
        return traces
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or "http://localhost:4318"
    return base.rstrip("/") + "/v1/traces"


class Tracing:
    def __init__(
        self,
        settings: TelemetrySettings,
        *,
        version: str,
        environment: str,
        export: TraceExport,
        exporter: SpanExporter | None = None,
    ) -> None:
        resource = Resource.create(
            {
                "service.name": settings.service_name,
                "service.version": version,
                "deployment.environment.name": environment,
            }
        )
        # Spans are recorded only when something exports them. Unrecorded, a span still has its ids,
        # so logs and errors carry a trace id to search by, but the SDK builds no span object and our
        # code skips the spans below an unsampled one (docs/performance.md, log entry 19).
        self.records = exporter is not None or export is TraceExport.OTLP
        # Parent-based: follow the caller's sampling decision, so a trace is kept or dropped whole.
        sampler: Sampler = (
            ParentBased(TraceIdRatioBased(settings.sample_ratio)) if self.records else ALWAYS_OFF
        )
        self.provider = TracerProvider(resource=resource, sampler=sampler)
        self.tracer: Tracer = self.provider.get_tracer(TRACER_NAME, version)
        self._version = version
        self._export = export
        self._exporter = exporter

    def start(self) -> None:
        """Attach the exporter."""
        if self._exporter is not None:
            # Given an exporter (tests), export synchronously so spans are visible at once.
            self.provider.add_span_processor(SimpleSpanProcessor(self._exporter))
        elif self._export is TraceExport.OTLP:
            # Endpoint, headers and timeout come from the standard OTEL_EXPORTER_OTLP_* variables.
            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))

    def mongo_listeners(self) -> list[CommandTracer]:
        """A PyMongo command listener that makes a span per command, child of the current span; none
        when spans are not recorded (each command would still make and end an unrecorded one)."""
        if not self.records:
            return []
        return [
            CommandTracer(self.provider.get_tracer("opentelemetry.instrumentation.pymongo", self._version))
        ]

    def shutdown(self) -> None:
        """Flush what is buffered and stop exporting."""
        self.provider.shutdown()


def below_unsampled_span() -> bool:
    """Whether the current span is one the sampler dropped. A parent-based sampler drops its children
    too, so code about to start a child span can skip it (and the context switching around it)."""
    parent = trace.get_current_span().get_span_context()
    return parent.is_valid and not parent.trace_flags.sampled
