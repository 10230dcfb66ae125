"""Probes. Liveness never touches the database; readiness says which check failed.

A database outage must not restart every pod (that turns an outage into a restart storm), so
``/livez`` only proves the event loop answers. ``/readyz`` takes the pod out of rotation instead.
"""

import asyncio
import urllib.error
import urllib.request
from typing import Any

from opentelemetry.instrumentation.utils import suppress_instrumentation
from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import JSONResponse

from pixelpet.lifecycle import Lifecycle
from pixelpet.runtime import Runtime

READINESS_PING_TIMEOUT_S = 1.0


async def livez(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    lifecycle: Lifecycle = request.app.state.lifecycle
    checks: dict[str, Any] = {
        "shutdown": "failing: draining" if lifecycle.shutting_down else "ok",
        "maintenance": "failing: drained by an operator (pixelpet undrain)"
        if lifecycle.maintenance
        else "ok",
    }
    try:
        with suppress_instrumentation():  # a probe every few seconds would be a lone trace each time
            await asyncio.wait_for(runtime.ping(), READINESS_PING_TIMEOUT_S)
        checks["database"] = "ok"
    except (TimeoutError, PyMongoError) as error:
        checks["database"] = f"failing: {type(error).__name__}"
    checks["change_stream"] = runtime.changes.health()
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503
    )


def check_ready(*, port: int, timeout_s: float = 2.0) -> tuple[bool, str]:
    """Ask the instance on this machine whether it is ready (``pixelpet healthcheck``, for container engines).

    Plain urllib: the image carries no HTTP client, and a health check must not need curl.
    """
    url = f"http://127.0.0.1:{port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return True, f"ready: {response.read().decode()}"
    except urllib.error.HTTPError as error:
        return False, f"not ready ({error.code}): {error.read().decode()}"
    except (urllib.error.URLError, TimeoutError) as error:
        return False, f"not answering at {url}: {getattr(error, 'reason', error)}"
