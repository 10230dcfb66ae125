"""The service as a real child process (`python -m pixelpet serve`), as deployments run it."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from pixelpet.devdb import free_port


def venv_tool(name: str) -> str:
    """A command installed in this virtual environment (check-jsonschema, hadolint), beside its Python."""
    return str(Path(sys.executable).parent / name)


def clean_environment(**overrides: str) -> dict[str, str]:
    """This environment without PIXELPET_* or OTEL_* from the developer's shell, plus ``overrides``."""
    base = {key: value for key, value in os.environ.items() if not key.startswith(("PIXELPET_", "OTEL_"))}
    return {**base, **overrides}


# Limits no test of something else should trip (tests of the limits set their own).
ROOMY_LIMITS = {
    "PIXELPET_LIMITS__MUTATIONS_PER_SECOND": "100000",
    "PIXELPET_LIMITS__MUTATION_BURST": "100000",
    "PIXELPET_LIMITS__QUERIES_PER_SECOND": "100000",
    "PIXELPET_LIMITS__QUERY_BURST": "100000",
}


def service_environment(database_uri: str, database: str, **settings: str) -> dict[str, str]:
    """What a service process needs to run on ``database`` of ``database_uri``, with roomy limits."""
    return {
        "PIXELPET_MONGODB_URI": database_uri,
        "PIXELPET_MONGO__DATABASE": database,
        **ROOMY_LIMITS,
        **settings,
    }


def run_pixelpet(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``pixelpet ARGS`` as an operator runs it, with only ``env`` set on top of a clean environment."""
    return subprocess.run(
        [sys.executable, "-m", "pixelpet", *args],
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def wait_until_ready(url: str, *, timeout_s: float, exited: Callable[[], bool] = lambda: False) -> bool:
    """Poll ``url``/readyz until it answers 200 (True), the server has ``exited()``, or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not exited():
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


class ServiceProcess:
    def __init__(self, *, env: dict[str, str], log_file: Path) -> None:
        self.port = free_port()
        self.log_file = log_file
        # Only what the test sets: no PIXELPET_* or OTEL_* from the developer's shell leaks in.
        self._env = clean_environment(PIXELPET_PORT=str(self.port), **env)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout_s: float = 30.0) -> None:
        with open(self.log_file, "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "pixelpet", "serve"],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process = self._process
        if wait_until_ready(self.url, timeout_s=timeout_s, exited=lambda: process.poll() is not None):
            return
        if process.poll() is not None:
            raise RuntimeError(f"service exited early:\n{self.log_file.read_text()}")
        raise RuntimeError(f"service not ready in {timeout_s} s:\n{self.log_file.read_text()}")

    def signal(self, sig: signal.Signals = signal.SIGTERM) -> None:
        assert self._process is not None
        self._process.send_signal(sig)

    def wait(self, timeout_s: float) -> int:
        assert self._process is not None
        return self._process.wait(timeout=timeout_s)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def log_lines(self) -> list[str]:
        return self.log_file.read_text().splitlines()
