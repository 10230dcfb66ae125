"""The server span of every request: OpenTelemetry's ASGI middleware for HTTP, a lighter one for WebSockets.

The ASGI instrumentation wraps ``send`` for the whole life of a connection. On a subscription's
WebSocket that wrapper ran for every message to every subscriber, about 10% of the fan-out's CPU,
to annotate messages that carry no HTTP status. A WebSocket gets one server span for the
connection instead, continuing the client's ``traceparent`` like the HTTP path does.
"""

from opentelemetry import propagate
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Receive, Scope, Send

# Span names must stay bounded: a WebSocket to any other path gets the generic name.
_KNOWN_WEBSOCKET_PATHS = frozenset({"/graphql"})


class TracingMiddleware:
    def __init__(
        self, app: ASGIApp, *, tracer_provider: TracerProvider, excluded_paths: tuple[str, ...]
    ) -> None:
        self._app = app
        self._http = OpenTelemetryMiddleware(
            app,
            excluded_urls=",".join(excluded_paths),
            tracer_provider=tracer_provider,
            meter_provider=NoOpMeterProvider(),
            exclude_spans=["receive", "send"],
        )
        self._tracer = tracer_provider.get_tracer("pixelpet.websocket")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self._http(scope, receive, send)
            return
        path = scope["path"] if scope["path"] in _KNOWN_WEBSOCKET_PATHS else ""
        carrier = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        with self._tracer.start_as_current_span(
            f"WebSocket {path}".rstrip(),
            context=propagate.extract(carrier),
            kind=SpanKind.SERVER,
            attributes={"url.path": path or "other", "network.protocol.name": "websocket"},
        ):
            await self._app(scope, receive, send)
