"""The observability stack as local processes: Collector, Jaeger, Prometheus and Alertmanager.

Runs the committed configuration files unchanged, except where a deployment differs anyway: addresses
(Collector and Jaeger take them from ``${env:...}``; Prometheus from its ``targets/*.json``), and, for
tests only, shorter scrape, evaluation and Alertmanager grouping intervals. The SLO windows are never
shortened. Used by the end-to-end test and by ``make observe``:

    python -m observability.stack    # against `make run` on 127.0.0.1:8000; Ctrl-C stops it
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import yaml

from observability import tools
from pixelpet.devdb import free_port

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Ports:
    """Where each part listens. The defaults are the well-known ports (`make observe`)."""

    collector_otlp_grpc: int = 4317
    collector_otlp_http: int = 4318
    collector_telemetry: int = 8888
    spanmetrics: int = 8889
    jaeger_otlp_grpc: int = 14317
    jaeger_otlp_http: int = 14318
    jaeger_ui: int = 16686
    jaeger_query_grpc: int = 16685
    jaeger_health: int = 13133
    jaeger_telemetry: int = 14269
    prometheus: int = 9090
    alertmanager: int = 9093

    @classmethod
    def free(cls) -> "Ports":
        return cls(*(free_port() for _ in range(len(cls.__dataclass_fields__))))


@dataclass
class StackOptions:
    """What differs between `make observe` and a test."""

    service_targets: Sequence[str] = ("127.0.0.1:8000",)
    probe_targets: Sequence[str] = ("127.0.0.1:9100",)  # `pixelpet probe --serve 9100`
    tail_sampling_percentage: int = 10
    scrape_interval: str | None = None  # None keeps prometheus.yml's
    evaluation_interval: str | None = None
    spanmetrics_flush_interval: str = "15s"
    # Alertmanager's receivers are pointed here (`<url>/pager`, `<url>/tickets`) when set.
    webhook_url: str | None = None
    alert_group_wait: str | None = None
    alert_group_interval: str | None = None
    # A Prometheus TSDB to start from (the e2e test backfills a clean history into one).
    prometheus_data: Path | None = None


@dataclass
class Stack:
    workdir: Path
    ports: Ports = field(default_factory=Ports)
    options: StackOptions = field(default_factory=StackOptions)
    _processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir = self.workdir.resolve()  # the programs run in it, and get paths to it

    @property
    def collector_otlp_http_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.collector_otlp_http}"

    @property
    def jaeger_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.jaeger_ui}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.alertmanager}"

    def start(self, *, timeout_s: float = 60.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        jaeger = tools.JAEGER.ensure()
        self._spawn(
            "jaeger", [str(jaeger), "--config", f"file:{HERE / 'jaeger' / 'config.yaml'}"], self._jaeger_env()
        )
        self._spawn(
            "collector",
            [str(jaeger), "--config", f"file:{HERE / 'collector' / 'config.yaml'}"],
            self._collector_env(),
        )
        self._spawn("alertmanager", self._alertmanager_command(), {})
        self._spawn("prometheus", self._prometheus_command(), {})
        self._wait_ready(timeout_s)

    def stop(self) -> None:
        for _, process in reversed(self._processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in reversed(self._processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self._logs:
            log.close()
        self._processes.clear()
        self._logs.clear()

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    # Each part -----------------------------------------------------------------------------

    def _jaeger_env(self) -> dict[str, str]:
        ports = self.ports
        return {
            "JAEGER_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports.jaeger_otlp_grpc}",
            "JAEGER_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{ports.jaeger_otlp_http}",
            "JAEGER_QUERY_HTTP_ENDPOINT": f"127.0.0.1:{ports.jaeger_ui}",
            "JAEGER_QUERY_GRPC_ENDPOINT": f"127.0.0.1:{ports.jaeger_query_grpc}",
            "JAEGER_HEALTH_ENDPOINT": f"127.0.0.1:{ports.jaeger_health}",
            "JAEGER_TELEMETRY_HOST": "127.0.0.1",
            "JAEGER_TELEMETRY_PORT": str(ports.jaeger_telemetry),
        }

    def _collector_env(self) -> dict[str, str]:
        ports = self.ports
        return {
            "OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports.collector_otlp_grpc}",
            "OTLP_HTTP_ENDPOINT": f"127.0.0.1:{ports.collector_otlp_http}",
            "JAEGER_OTLP_ENDPOINT": f"127.0.0.1:{ports.jaeger_otlp_grpc}",
            "SPANMETRICS_ENDPOINT": f"127.0.0.1:{ports.spanmetrics}",
            "SPANMETRICS_FLUSH_INTERVAL": self.options.spanmetrics_flush_interval,
            "COLLECTOR_TELEMETRY_HOST": "127.0.0.1",
            "COLLECTOR_TELEMETRY_PORT": str(ports.collector_telemetry),
            "TAIL_SAMPLING_PERCENTAGE": str(self.options.tail_sampling_percentage),
        }

    def _alertmanager_command(self) -> list[str]:
        config = yaml.safe_load((HERE / "alertmanager" / "alertmanager.yml").read_text())
        options = self.options
        if options.webhook_url is not None:
            for receiver in config["receivers"]:
                for webhook in receiver["webhook_configs"]:
                    webhook["url"] = f"{options.webhook_url}/{receiver['name']}"
        for route in [config["route"], *config["route"].get("routes", [])]:
            if options.alert_group_wait is not None:
                route["group_wait"] = options.alert_group_wait
            if options.alert_group_interval is not None:
                route["group_interval"] = options.alert_group_interval
        path = self.workdir / "alertmanager.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return [
            str(tools.alertmanager()),
            f"--config.file={path}",
            f"--storage.path={self.workdir / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{self.ports.alertmanager}",
            "--cluster.listen-address=",  # a single instance: no gossip port
        ]

    def _prometheus_command(self) -> list[str]:
        root = self.workdir / "prometheus"
        shutil.copytree(HERE / "prometheus", root, dirs_exist_ok=True)
        config = yaml.safe_load((root / "prometheus.yml").read_text())
        if self.options.scrape_interval is not None:
            config["global"]["scrape_interval"] = self.options.scrape_interval
        if self.options.evaluation_interval is not None:
            config["global"]["evaluation_interval"] = self.options.evaluation_interval
        (root / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        ports = self.ports
        targets = {
            "pixelpet": list(self.options.service_targets),
            "pixelpet-probe": list(self.options.probe_targets),
            "spanmetrics": [f"127.0.0.1:{ports.spanmetrics}"],
            "otel-collector": [f"127.0.0.1:{ports.collector_telemetry}"],
            "prometheus": [f"127.0.0.1:{ports.prometheus}"],
            "alertmanager": [f"127.0.0.1:{ports.alertmanager}"],
        }
        for job, addresses in targets.items():
            (root / "targets" / f"{job}.json").write_text(json.dumps([{"targets": addresses}]))
        data = self.options.prometheus_data or self.workdir / "prometheus-data"
        return [
            str(tools.prometheus()),
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{ports.prometheus}",
            "--enable-feature=exemplar-storage",
        ]

    # Processes -----------------------------------------------------------------------------

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        process = subprocess.Popen(  # noqa: S603 - our own command lines
            command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
        )
        self._processes.append((name, process))

    def _wait_ready(self, timeout_s: float) -> None:
        checks = {
            "jaeger": f"http://127.0.0.1:{self.ports.jaeger_health}/status",
            "collector": f"http://127.0.0.1:{self.ports.collector_telemetry}/metrics",
            "prometheus": f"{self.prometheus_url}/-/ready",
            "alertmanager": f"{self.alertmanager_url}/-/ready",
        }
        deadline = time.monotonic() + timeout_s
        pending = dict(checks)
        while pending and time.monotonic() < deadline:
            for name, process in self._processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log(name)[-3000:]}")
            for name, url in list(pending.items()):
                try:
                    if httpx.get(url, timeout=1).status_code == 200:
                        del pending[name]
                except httpx.TransportError:
                    pass
            time.sleep(0.2)
        if pending:
            raise RuntimeError(f"not ready within {timeout_s} s: {', '.join(pending)}")


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - interactive
    stack = Stack(Path(".pixelpet/observe"))
    try:
        stack.start()
        sys.stdout.write(
            "Observability stack running (logs in .pixelpet/observe/). Start the service with\n"
            f"  OTEL_EXPORTER_OTLP_ENDPOINT={stack.collector_otlp_http_url} make run\n"
            f"Jaeger UI:    {stack.jaeger_url}\n"
            f"Prometheus:   {stack.prometheus_url}/alerts\n"
            f"Alertmanager: {stack.alertmanager_url}\n"
            "Ctrl-C stops it.\n"
        )
        # Blocked only now: children inherit the signal mask, and they must still receive SIGTERM.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
