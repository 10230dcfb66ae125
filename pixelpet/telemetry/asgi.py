"""The server span of every HTTP request and WebSocket connection, continuing the caller's trace.

OpenTelemetry's ASGI instrumentation wraps ``send`` and ``receive`` for the life of a connection and
computes a dozen attributes per request. Measured on our single-pet query it was ~8% of the service's
CPU; on a subscription's WebSocket it ran for every message to every subscriber, ~10% of a fan-out.
This middleware makes the same server span with the attributes we use (semantic conventions names):
method, route, path, scheme, protocol version, status. Probes and /metrics are not traced.

A WebSocket's span covers the handshake and ends when the connection is accepted or refused. A span
held open for a connection's lifetime would reach the Collector only when the connection ends
(never, if the process dies) and would keep its attributes in memory for every idle connection.
The connection's operations are its children all the same: what stays in the context is the span's
identity, not the span.
"""

from opentelemetry import context, propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_UNSAMPLED = TraceFlags(TraceFlags.DEFAULT)
_UNSAMPLED_RANDOM = TraceFlags(TraceFlags.DEFAULT | TraceFlags.RANDOM_TRACE_ID)
# Span names must stay bounded: a request to any other path is named by its method alone.
_ROUTES = frozenset({"/graphql"})
_HANDSHAKE_DONE = frozenset({"websocket.accept", "websocket.close", "websocket.http.response.start"})


class TracingMiddleware:
    def __init__(
        self, app: ASGIApp, *, tracer_provider: TracerProvider, excluded_paths: tuple[str, ...]
    ) -> None:
        self._app = app
        self._excluded = frozenset(excluded_paths)
        self._tracer = tracer_provider.get_tracer("pixelpet.asgi")
        # Without export (telemetry/tracing.py), the sampler drops every span: the request's span is made
        # here as the SDK makes a dropped one, without its machinery (docs/performance.md, log entry 42).
        # Not under OTEL_SDK_DISABLED, where the SDK's tracers are no-ops and a request has no ids at all.
        self._unrecorded = tracer_provider.sampler is ALWAYS_OFF and not isinstance(
            self._tracer, trace.NoOpTracer
        )
        self._ids = tracer_provider.id_generator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self._excluded:
            if self._unrecorded:
                await self._http_unrecorded(scope, receive, send)
            else:
                await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self._app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        route = path if path in _ROUTES else None
        attributes = {
            "http.request.method": method,
            "url.path": path,
            "url.scheme": scope.get("scheme", "http"),
            "network.protocol.version": scope.get("http_version", "1.1"),
        }
        if route is not None:
            attributes["http.route"] = route
        span = self._tracer.start_span(
            f"{method} {route}" if route else method,
            context=_caller_context(scope),
            kind=SpanKind.SERVER,
            attributes=attributes,
        )

        async def send_recording_the_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
            await send(message)

        with trace.use_span(span, end_on_exit=True):
            await self._app(scope, receive, send_recording_the_status)

    async def _http_unrecorded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The span the SDK's ``start_span`` returns when its sampler is ``ALWAYS_OFF``: the caller's trace
        (or a new one), its trace state, a new span id, not sampled, recording nothing. Current while the
        app runs, so logs and errors carry its ids, and the spans below it are skipped (root.py)."""
        parent = trace.get_current_span(_caller_context(scope)).get_span_context()
        if parent.is_valid:
            trace_id, trace_state = parent.trace_id, parent.trace_state
            random_trace_id = parent.trace_flags.random_trace_id
        else:
            trace_id, trace_state = self._ids.generate_trace_id(), None
            random_trace_id = self._ids.is_trace_id_random()
        span = NonRecordingSpan(
            SpanContext(
                trace_id=trace_id,
                span_id=self._ids.generate_span_id(),
                is_remote=False,
                # W3C Trace Context level 2: whether the trace id is random, as the SDK says.
                trace_flags=_UNSAMPLED_RANDOM if random_trace_id else _UNSAMPLED,
                trace_state=trace_state,
            )
        )
        token = context.attach(trace.set_span_in_context(span))
        try:
            await self._app(scope, receive, send)
        finally:
            context.detach(token)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["path"] in _ROUTES else ""
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
