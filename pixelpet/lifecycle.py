"""Graceful shutdown in podinfo's order: readiness off, drain, stop accepting, finish, flush, close.

``DrainingServer`` changes what uvicorn does with signals:

1. the first SIGTERM/SIGINT marks the app as draining, so ``/readyz`` fails at once while requests
   are still served, and load balancers take the pod out of rotation;
2. after ``drain_delay_s`` uvicorn stops accepting connections, closes WebSockets with 1012
   ("service restart": clients reconnect elsewhere) and waits up to ``shutdown_grace_s`` for
   in-flight requests;
3. the lifespan then flushes spans and closes the MongoDB client;

and a second signal exits at once. The same signal again within ``DUPLICATE_WINDOW_S`` is the first
one delivered twice, not a second request: a terminal's Ctrl-C reaches both ``uv run`` (``make run``)
and the service, and uv forwards it about 0.2 s later.
"""

import asyncio
import logging
import signal
import time
from dataclasses import dataclass
from types import FrameType

import uvicorn

logger = logging.getLogger("pixelpet.lifecycle")

DUPLICATE_WINDOW_S = 1.0


@dataclass(slots=True)
class Lifecycle:
    """Process-wide shutdown state, shared by the probes and the server."""

    shutting_down: bool = False  # a signal arrived: never undone
    maintenance: bool = False  # drained by an operator (`pixelpet drain`): undone by `pixelpet undrain`


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, lifecycle: Lifecycle, drain_delay_s: float) -> None:
        super().__init__(config)
        self._lifecycle = lifecycle
        self._drain_delay_s = drain_delay_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._first_signal: tuple[int, float] | None = None

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)  # type: ignore[arg-type]

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self._first_signal is not None:
            first, at = self._first_signal
            if sig == first and now - at < DUPLICATE_WINDOW_S:
                return  # the first signal, delivered twice
        else:
            self._first_signal = (sig, now)
        if self._lifecycle.shutting_down or self.should_exit:
            logger.warning("second signal: exiting now", extra={"signal": signal.Signals(sig).name})
            self.force_exit = True
            self.should_exit = True
            return
        self._lifecycle.shutting_down = True
        logger.info(
            "draining: readiness fails now, shutdown in %.1f s",
            self._drain_delay_s,
            extra={"signal": signal.Signals(sig).name},
        )
        if self._loop is None:  # a signal before startup finished: nothing to drain
            self.should_exit = True
            return
        self._loop.call_soon_threadsafe(self._loop.call_later, self._drain_delay_s, self._stop_accepting)

    def _stop_accepting(self) -> None:
        logger.info("drain delay over: closing listeners and waiting for in-flight requests")
        self.should_exit = True
