"""The request's span when nothing records (pixelpet/telemetry/asgi.py): made without the SDK, it is the
span the SDK makes under ``ALWAYS_OFF``, compared on the same callers (tests/integration has the recorded)."""

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Decision, StaticSampler
from opentelemetry.trace import SpanContext
from starlette.types import Receive, Scope, Send

from pixelpet.settings import TelemetrySettings
from pixelpet.telemetry.asgi import TracingMiddleware
from pixelpet.telemetry.tracing import TraceExport, Tracing

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLERS: list[list[tuple[bytes, bytes]]] = [
    [],  # no trace: a new one
    [(b"traceparent", f"00-{TRACE_ID}-00f067aa0ba902b7-01".encode())],  # sampled by the caller
    [(b"traceparent", f"00-{TRACE_ID}-00f067aa0ba902b7-00".encode())],
    [(b"traceparent", f"00-{TRACE_ID}-00f067aa0ba902b7-03".encode())],  # level 2: a random trace id
    [(b"traceparent", f"00-{TRACE_ID}-00f067aa0ba902b7-01".encode()), (b"tracestate", b"vendor=abc,other=1")],
    [(b"traceparent", b"not a traceparent")],  # ignored: a new trace
    [(b"traceparent", f"00-{'0' * 32}-00f067aa0ba902b7-01".encode())],  # an invalid trace id
]


async def _nothing() -> Any:
    raise AssertionError("not read")


async def _ignore(message: Any) -> None:
    pass


class _DroppingEverything(StaticSampler):
    """Drops as ALWAYS_OFF does, but is not it: the middleware leaves the span to the SDK."""

    def __init__(self) -> None:
        super().__init__(Decision.DROP)


async def _span_seen_by_the_app(sampler: Any, headers: list[tuple[bytes, bytes]]) -> tuple[SpanContext, bool]:
    seen: list[tuple[SpanContext, bool]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        span = trace.get_current_span()
        seen.append((span.get_span_context(), span.is_recording()))

    middleware = TracingMiddleware(app, tracer_provider=TracerProvider(sampler=sampler), excluded_paths=())
    scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": headers}

    await middleware(scope, _nothing, _ignore)
    assert trace.get_current_span().get_span_context().is_valid is False, "detached after the request"
    return seen[0]


@pytest.mark.parametrize("headers", CALLERS)
async def test_unrecorded_the_request_s_span_is_the_one_the_sdk_makes_under_always_off(
    headers: list[tuple[bytes, bytes]],
) -> None:
    ours, ours_recording = await _span_seen_by_the_app(ALWAYS_OFF, headers)
    sdk, sdk_recording = await _span_seen_by_the_app(_DroppingEverything(), headers)
    assert ours_recording is sdk_recording is False
    assert ours.is_valid, "logs and errors carry its ids"
    assert sdk.is_valid
    assert ours.trace_flags == sdk.trace_flags
    assert ours.trace_state == sdk.trace_state
    assert ours.is_remote is sdk.is_remote is False
    if sdk.trace_id == int(TRACE_ID, 16):
        assert ours.trace_id == sdk.trace_id, "the caller's trace continues"
    else:
        assert ours.trace_id != sdk.trace_id, "a new trace each: random ids"


async def test_unrecorded_each_request_gets_its_own_span_id() -> None:
    ids = {(await _span_seen_by_the_app(ALWAYS_OFF, CALLERS[1]))[0].span_id for _ in range(20)}
    assert len(ids) == 20


def _refusing_the_sdk(tracing: Tracing, monkeypatch: pytest.MonkeyPatch) -> TracingMiddleware:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        pass

    middleware = TracingMiddleware(app, tracer_provider=tracing.provider, excluded_paths=())

    def refused(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the SDK made the request's span")

    monkeypatch.setattr(middleware._tracer, "start_span", refused)
    return middleware


async def test_the_service_without_export_takes_the_path_made_without_the_sdk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracing = Tracing(TelemetrySettings(), version="test", environment="test", export=TraceExport.NONE)
    middleware = _refusing_the_sdk(tracing, monkeypatch)
    await middleware({"type": "http", "method": "POST", "path": "/graphql", "headers": []}, _nothing, _ignore)


async def test_with_the_sdk_disabled_a_request_has_no_ids_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    seen: list[SpanContext] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(trace.get_current_span().get_span_context())

    tracing = Tracing(TelemetrySettings(), version="test", environment="test", export=TraceExport.DISABLED)
    middleware = TracingMiddleware(app, tracer_provider=tracing.provider, excluded_paths=())
    await middleware({"type": "http", "method": "POST", "path": "/graphql", "headers": []}, _nothing, _ignore)
    assert seen[0].is_valid is False, "as tracing.py promises, and as a WebSocket's"
