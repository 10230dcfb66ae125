"""``/metrics`` on a port of its own (``PIXELPET_METRICS_PORT``), so scrapes never share the API's port.

Network policy can then open the metrics port to Prometheus alone, and the API's port never shows
internal series to the internet. The server lives inside the service's process and lifespan.
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from pixelpet.telemetry.metrics import Metrics

logger = logging.getLogger("pixelpet")


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the service's own server (it stops with the lifespan)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class MetricsServer:
    def __init__(self, metrics: Metrics, *, host: str, port: int) -> None:
        app = Starlette(routes=[Route("/metrics", metrics.endpoint)])
        config = uvicorn.Config(app, host=host, port=port, lifespan="off", log_config=None, access_log=False)
        self._server = _QuietServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # it could not bind: the error says why
                raise RuntimeError("the metrics server stopped before it started")
            await asyncio.sleep(0.01)
        logger.info("metrics served on their own port", extra={"port": self.port})

    @property
    def port(self) -> int:
        servers = self._server.servers
        return int(servers[0].sockets[0].getsockname()[1]) if servers else 0

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
