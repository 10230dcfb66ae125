"""Spans leave the process over OTLP/HTTP (standard OTEL_* variables) and are flushed at shutdown."""

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pixelpet.devdb import DevDatabase
from tests.conftest import unique_database
from tests.support.graphql import GraphQLClient, create_pet
from tests.support.server import running_server
from tests.support.service import ServiceProcess

pytestmark = pytest.mark.slow


@pytest.fixture
async def collector() -> AsyncIterator[tuple[str, list[ExportTraceServiceRequest]]]:
    """A stand-in for the OpenTelemetry Collector's OTLP/HTTP receiver."""
    received: list[ExportTraceServiceRequest] = []

    async def traces(request: Request) -> Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.body())
        received.append(export)
        return Response(status_code=200)

    async with running_server(Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])) as url:
        yield url, received


async def test_spans_are_exported_over_otlp_and_flushed_on_shutdown(
    collector: tuple[str, list[ExportTraceServiceRequest]], database: DevDatabase, tmp_path: Path
) -> None:
    url, received = collector
    service = ServiceProcess(
        env={
            "PIXELPET_MONGODB_URI": database.uri,
            "PIXELPET_MONGO__DATABASE": unique_database(),
            "PIXELPET_LIFECYCLE__DRAIN_DELAY_S": "0",
            # The standard variable alone turns export on, as OpenTelemetry's guides say.
            "OTEL_EXPORTER_OTLP_ENDPOINT": url,
            # Batch for a minute: only the shutdown flush can deliver these spans in time.
            "OTEL_BSP_SCHEDULE_DELAY": "60000",
        },
        log_file=tmp_path / "service.log",
    )
    service.start()
    try:
        async with httpx.AsyncClient(base_url=service.url) as http:
            await create_pet(GraphQLClient(http))
        assert received == [], "nothing is exported before the batch is due"
        service.signal(signal.SIGTERM)
        await asyncio.to_thread(service.wait, 20)
    finally:
        service.stop()
    spans = [
        (span.name, resource_spans.resource)
        for export in received
        for resource_spans in export.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    names = {name for name, _ in spans}
    assert {"POST /graphql", "mutation createPet", "Mutation.createPet"} <= names, names
    assert any(name.endswith(".insert") for name in names), names
    resource = {attribute.key: attribute.value.string_value for attribute in spans[0][1].attributes}
    assert resource["service.name"] == "pixelpet"
