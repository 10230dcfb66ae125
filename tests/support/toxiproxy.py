"""Toxiproxy (Shopify's TCP fault proxy, built from its Go module) between the service and its database."""

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from observability.tools import TOXIPROXY
from pixelpet.devdb import free_port


class Toxiproxy:
    """One toxiproxy server with one proxy, ``listen`` on loopback, to ``upstream``."""

    def __init__(self, *, upstream: str, log_file: Path) -> None:
        self._api_port = free_port()
        self.listen_port = free_port()
        self._upstream = upstream
        self._log = log_file.open("wb")
        self._process = subprocess.Popen(
            [str(TOXIPROXY.ensure()), "-host", "127.0.0.1", "-port", str(self._api_port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._api = httpx.Client(base_url=f"http://127.0.0.1:{self._api_port}", timeout=10)
        self._wait_for_api()
        self._api.post(
            "/proxies",
            json={"name": "mongodb", "listen": f"127.0.0.1:{self.listen_port}", "upstream": upstream},
        ).raise_for_status()

    def _wait_for_api(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"toxiproxy exited with {self._process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if self._api.get("/version").status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError("toxiproxy did not start")

    def mongodb_uri(self) -> str:
        # directConnection: the driver must not discover the server's own address and go around the proxy.
        return f"mongodb://127.0.0.1:{self.listen_port}/?directConnection=true"

    @contextlib.contextmanager
    def toxic(self, kind: str, attributes: dict[str, Any], *, stream: str = "downstream") -> Iterator[None]:
        """A toxic (latency, timeout, reset_peer, ...) on the link for the block's duration."""
        name = f"{kind}_{stream}"
        self._api.post(
            "/proxies/mongodb/toxics",
            json={"name": name, "type": kind, "stream": stream, "attributes": attributes},
        ).raise_for_status()
        try:
            yield
        finally:
            self._api.delete(f"/proxies/mongodb/toxics/{name}").raise_for_status()

    def close(self) -> None:
        self._api.close()
        self._process.terminate()
        self._process.wait(10)
        self._log.close()
