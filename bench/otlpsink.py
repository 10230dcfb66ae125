"""An OTLP/HTTP trace receiver for the export-on row: it takes what the service exports and keeps nothing.

The service exports to ``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces`` (pixelpet/telemetry/tracing.py).
This answers each POST with 200 and an empty ExportTraceServiceResponse (zero bytes of protobuf), as a
Collector that accepted everything does, and counts requests, bytes and spans, so the row shows that spans
really left the service. It runs on the benchmark process's event loop: a few requests a second.
"""

import asyncio
import gzip
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

ACCEPTED = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


@dataclass(frozen=True)
class Received:
    requests: int
    bytes: int  # request bodies as sent (compressed, if they were)
    spans: int

    def __sub__(self, other: "Received") -> "Received":
        return Received(self.requests - other.requests, self.bytes - other.bytes, self.spans - other.spans)


class TraceSink:
    def __init__(self) -> None:
        self.received = Received(0, 0, 0)
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        """Listen on a free local port; returns the base URL for OTEL_EXPORTER_OTLP_ENDPOINT."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: the exporter's session reuses its connection
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, path, _ = head[0].split(" ", 2)
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in head[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if method == "POST" and path == "/v1/traces":
                    self._count(body, gzipped=headers.get("content-encoding") == "gzip")
                    writer.write(ACCEPTED)
                else:
                    writer.write(NOT_FOUND)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the exporter closed its connection
        finally:
            writer.close()

    def _count(self, body: bytes, *, gzipped: bool) -> None:
        request = ExportTraceServiceRequest.FromString(gzip.decompress(body) if gzipped else body)
        spans = sum(len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans)
        seen = self.received
        self.received = Received(seen.requests + 1, seen.bytes + len(body), seen.spans + spans)
