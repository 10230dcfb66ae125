"""The server span of every request: OpenTelemetry's ASGI middleware for HTTP, a lighter one for WebSockets.

The ASGI instrumentation wraps ``send`` for the whole life of a connection. On a subscription's
WebSocket that wrapper ran for every message to every subscriber, about 10% of the fan-out's CPU,
to annotate messages that carry no HTTP status. A WebSocket gets one short server span instead,
continuing the client's ``traceparent``: it covers the handshake and ends when the connection is
accepted or refused. A span held open for a connection's lifetime would reach the Collector only
when the connection ends (never, if the process dies) and would keep its attributes in memory for
every idle connection. The connection's operations are its children all the same: what stays in
the context is the span's identity, not the span.
"""

from opentelemetry import context, propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, Span, SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Span names must stay bounded: a WebSocket to any other path gets the generic name.
_KNOWN_WEBSOCKET_PATHS = frozenset({"/graphql"})
_HANDSHAKE_DONE = frozenset({"websocket.accept", "websocket.close", "websocket.http.response.start"})


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
        span: Span | None = self._tracer.start_span(
            f"WebSocket {path}".rstrip(),
            context=_caller_context(scope),
            kind=SpanKind.SERVER,
            attributes={"url.path": path or "other", "network.protocol.name": "websocket"},
        )
        assert span is not None
        token = context.attach(trace.set_span_in_context(NonRecordingSpan(span.get_span_context())))

        async def send_ending_the_span(message: Message) -> None:
            nonlocal span
            if span is not None and message["type"] in _HANDSHAKE_DONE:
                span.set_attribute("pixelpet.websocket.accepted", message["type"] == "websocket.accept")
                span.end()
                span = None
            await send(message)

        try:
            await self._app(scope, receive, send_ending_the_span)
        finally:
            if span is not None:  # the client left before the app answered the handshake
                span.end()
            context.detach(token)


def _caller_context(scope: Scope) -> Context:
    carrier = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    return propagate.extract(carrier)
