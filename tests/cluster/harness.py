"""One control plane for every cluster test, with a SecantusDB, an identity provider and a Prometheus of its
own, and the chart installed into namespaces the way `make deploy` installs it."""

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
import yaml

from observability import tools
from pixelpet.devdb import DevDatabase, free_port
from tests.cluster.controlplane import ControlPlane
from tests.cluster.pods import IdentityProvider, PodProcesses, Traffic

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "pixelpet"
TEST_VALUES = Path(__file__).resolve().parent / "values-test.yaml"
STAGING = yaml.safe_load((CHART / "values-staging.yaml").read_text())
T = TypeVar("T")


def eventually(check: Callable[[], T | None], *, timeout_s: float, what: str, every_s: float = 0.5) -> T:
    """Wait for ``check`` to return something truthy; bounds are generous, assertions are on events."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(every_s)


@dataclass
class Prometheus:
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def targets_file(self, namespace: str) -> Path:
        return self.workdir / "targets" / f"{namespace}.json"

    def start(self) -> None:
        (self.workdir / "targets").mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {
                    "job_name": "pixelpet",
                    "file_sd_configs": [
                        {"files": [str(self.workdir / "targets" / "*.json")], "refresh_interval": "1s"}
                    ],
                }
            ],
        }
        (self.workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self._log = log = open(self.workdir / "prometheus.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                str(tools.prometheus()),
                f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        eventually(self._ready, timeout_s=60, what="Prometheus ready")

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        assert response.status_code == 200, response.text
        result: list[dict[str, Any]] = response.json()["data"]["result"]
        return result

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
        if self._log is not None:
            self._log.close()


@dataclass
class Cluster:
    workdir: Path
    plane: ControlPlane
    database: DevDatabase
    prometheus: Prometheus
    identity: IdentityProvider

    def namespace(self, name: str) -> None:
        """A namespace as production should have it: Pod Security `restricted` enforced, and the Secrets the
        chart references (created by a secret manager there, by the test here)."""
        self.plane.kubectl("create", "namespace", name)
        # enforce refuses a pod that breaks `restricted`; warn has the API server say so for a Deployment too.
        self.plane.kubectl(
            "label", "namespace", name,
            "pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/warn=restricted",
        )  # fmt: skip
        self.plane.kubectl(
            "-n",
            name,
            "create",
            "secret",
            "generic",
            "pixelpet-mongodb",
            f"--from-literal=uri={self.database.uri}",
        )
        self.plane.kubectl(
            "-n", name, "create", "secret", "generic", "pixelpet-probe",
            f"--from-literal=token={self.identity.token('pixelpet-probe')}",
        )  # fmt: skip

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(tools.HELM.ensure()), *args],
            env=self.plane.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def canary_values(self) -> list[str]:
        """Staging's values, the test's shorter analysis, and what points at this machine."""
        return [
            "-f", str(CHART / "values-staging.yaml"),
            "-f", str(TEST_VALUES),
            "--set", f"canary.prometheusAddress={self.prometheus.url}",
            "--set", f"config.auth.jwksUrl={self.identity.jwks_url}",
        ]  # fmt: skip

    def workload(self, namespace: str) -> tuple[PodProcesses, Traffic]:
        processes = PodProcesses(
            self.plane, namespace, self.workdir / "pods" / namespace, self.prometheus.targets_file(namespace)
        )
        traffic = Traffic(self.plane, namespace, processes, self.identity.token("player-one"))
        return processes, traffic

    def rollout(self, namespace: str) -> dict[str, Any]:
        return self.plane.read(namespace, "rollouts", "pixelpet")

    def events(self, namespace: str) -> str:
        return json.dumps(
            [
                (event["involvedObject"]["kind"], event["reason"], event.get("message", ""))
                for event in self.plane.items("events", "-n", namespace)
            ],
            indent=1,
        )
