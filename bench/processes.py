"""Child processes for a benchmark run, and what they cost (CPU and memory from /proc)."""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from pixelpet.devdb import free_port

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class ProcessStats:
    cpu_seconds: float
    rss_bytes: int
    peak_rss_bytes: int


def stats(pid: int) -> ProcessStats:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime + stime
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )

    def kib(name: str) -> int:
        return int(status[name].split()[0]) * 1024

    return ProcessStats(cpu, kib("VmRSS"), kib("VmHWM"))


class Server:
    """A service variant under test: `python -m <module>` with environment ``env``, on a free port."""

    def __init__(
        self, name: str, module: list[str], env: dict[str, str], log_dir: Path, *, cwd: Path | None = None
    ) -> None:
        self.name = name
        # `python -m` imports from its working directory first: a process meant to run another checkout's
        # code must start in that checkout, or it runs this one's (bench/ab.py).
        self.cwd = cwd
        self.port = free_port()
        self._command = [sys.executable, "-m", *module]
        # Only what the benchmark sets: the caller's PIXELPET_* or OTEL_* (an exporter, a disabled SDK) would
        # change what a row measures.
        base = {key: value for key, value in os.environ.items() if not key.startswith(("PIXELPET_", "OTEL_"))}
        self._env = {**base, **env, "PIXELPET_PORT": str(self.port), "PIXELPET_LOG_LEVEL": "WARNING"}
        self._log = log_dir / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self, ready_path: str = "/readyz") -> None:
        with open(self._log, "ab") as log:
            self._process = subprocess.Popen(
                self._command, env=self._env, stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self._log.read_text()}")
            try:
                if httpx.get(self.url + ready_path, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not become ready:\n{self._log.read_text()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
