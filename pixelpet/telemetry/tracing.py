"""OpenTelemetry tracing: one provider per app, exported over OTLP to a Collector.

The provider exists from ``create_app`` on (the ASGI middleware needs it); exporters attach in the
lifespan. MongoDB commands are traced by opentelemetry-instrumentation-pymongo's ``CommandTracer``
passed to our client as an event listener. ``PymongoInstrumentor().instrument()`` would register
that listener globally, once, bound to the first provider it sees, and only for clients created
afterwards; the per-client listener has neither the ordering trap nor the global state.
"""

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.pymongo import CommandTracer
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Tracer

from pixelpet.settings import TelemetrySettings

TRACER_NAME = "pixelpet"


class Tracing:
    def __init__(
        self,
        settings: TelemetrySettings,
        *,
        version: str,
        environment: str,
        exporter: SpanExporter | None = None,
    ) -> None:
        resource = Resource.create(
            {
                "service.name": settings.service_name,
                "service.version": version,
                "deployment.environment.name": environment,
            }
        )
        # Parent-based: follow the caller's sampling decision, so a trace is kept or dropped whole.
        sampler = ParentBased(TraceIdRatioBased(settings.sample_ratio))
        self.provider = TracerProvider(resource=resource, sampler=sampler)
        self.tracer: Tracer = self.provider.get_tracer(TRACER_NAME, version)
        self._version = version
        self._settings = settings
        self._exporter = exporter

    def start(self) -> None:
        """Attach the exporter."""
        if self._exporter is not None:
            # Given an exporter (tests), export synchronously so spans are visible at once.
            self.provider.add_span_processor(SimpleSpanProcessor(self._exporter))
        elif self._settings.traces_exporter == "otlp":
            # Endpoint, headers and timeout come from the standard OTEL_EXPORTER_OTLP_* variables.
            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))

    def mongo_listener(self) -> CommandTracer:
        """A PyMongo command listener that makes a span per command, child of the current span."""
        return CommandTracer(self.provider.get_tracer("opentelemetry.instrumentation.pymongo", self._version))

    def shutdown(self) -> None:
        """Flush what is buffered and stop exporting."""
        self.provider.shutdown()
