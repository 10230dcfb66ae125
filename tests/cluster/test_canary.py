"""The canary judged for real: the Argo Rollouts controller runs the chart's AnalysisTemplate against a real
Prometheus that scrapes a real service process for every stable and canary pod (tests/cluster/pods.py), while
players' requests go to the Service's ready endpoints. Each release goes out through `make deploy`, as
deploy.yml runs it. The chart's staging values, with the test's shorter timing (values-test.yaml).

- a healthy canary walks every step, each a share of the pods (the table in docs/operations/deployment.md),
  and is promoted; `make deploy` succeeds only then;
- a canary whose requests fail (a failpoint on its own database connections) is aborted at its first failed
  measurement, `make deploy` fails at once, and the stable version serves every request again;
- a canary without traffic is neither promoted nor aborted: its analysis is inconclusive and the rollout
  waits for a person (`make deploy` says so); the runbook's abort then works.
"""

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from observability import tools
from tests.cluster.harness import CHART, ROOT, TEST_VALUES, Cluster, eventually
from tests.cluster.pods import WORKLOAD, PodProcesses, Traffic, count_by
from tests.support.failpoints import fail_command_blocking

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

# The test's timing (values-test.yaml): how long a failing canary may take to be aborted, counted from the
# start of `make deploy`: pods up, the analysis's initial delay (15 s), a measurement every 5 s, then the
# controller's reaction. Production's timing is in deployment.md.
ABORT_BOUND_S = 120
# From the abort to every request answered by the stable version (the canary's pods scaled away).
STABLE_AGAIN_BOUND_S = 30
# Staging's replicas (2): the canary's pods and the stable version's at each step, as Argo Rollouts rounds a
# weight without a traffic router. docs/operations/deployment.md has this table.
STAGING_STEPS = {25: (1, 2), 50: (1, 1), 75: (2, 1)}


@dataclass
class Release:
    """The chart installed in its own namespace at version 0.1.0, with a process per pod and traffic."""

    cluster: Cluster
    namespace: str
    processes: PodProcesses
    traffic: Traffic
    samples: list[tuple[int | None, dict[str, int]]] = field(default_factory=list)

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.cluster.rollout(self.namespace)["status"]
        return status

    def deploy(self, version: str, *settings: str) -> tuple[subprocess.CompletedProcess[str], float]:
        """`make deploy ENV=staging` to `version`, recording the pods by revision at each step meanwhile."""
        values = " ".join([*self.cluster.canary_values(), *settings])
        env = {
            **self.cluster.plane.env,
            "PATH": f"{tools.HELM.path.parent}:{os.environ['PATH']}",
        }
        stop = threading.Event()
        sampler = threading.Thread(target=self._sample, args=(stop,), daemon=True)
        sampler.start()
        started = time.monotonic()
        try:
            done = subprocess.run(
                [
                    "make", "--no-print-directory", "deploy", "ENV=staging", f"VERSION={version}",
                    f"NAMESPACE={self.namespace}", f"HELM={tools.HELM.path}",
                    f"KUBECTL={tools.KUBERNETES.path('kubectl')}", f"DEPLOY_VALUES={values}",
                    "ROLLOUT_TIMEOUT=5m",
                ],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=400, check=False,
            )  # fmt: skip
        finally:
            stop.set()
            sampler.join(timeout=10)
        return done, time.monotonic() - started

    def _sample(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                step = self.status().get("currentStepIndex")
                pods = self.cluster.plane.items("pods", "-n", self.namespace, "-l", WORKLOAD)
                by_hash: dict[str, int] = {}
                for pod in pods:
                    if pod["status"].get("phase") == "Running" and not pod["metadata"].get(
                        "deletionTimestamp"
                    ):
                        revision = pod["metadata"]["labels"]["rollouts-pod-template-hash"]
                        by_hash[revision] = by_hash.get(revision, 0) + 1
                self.samples.append((step, by_hash))
            except AssertionError:
                pass
            stop.wait(0.5)

    def analysis_runs(self) -> list[dict[str, Any]]:
        runs = self.cluster.plane.items("analysisruns", "-n", self.namespace)
        return sorted(runs, key=lambda run: run["metadata"]["creationTimestamp"])


@pytest.fixture
def release(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[Release]:
    namespace = f"canary-{request.node.name.removeprefix('test_')[:40].replace('_', '-').strip('-')}"
    cluster.namespace(namespace)
    cluster.helm("install", "pixelpet", str(CHART), "--namespace", namespace, *cluster.canary_values())
    processes, traffic = cluster.workload(namespace)
    processes.start()
    try:
        eventually(
            lambda: cluster.rollout(namespace).get("status", {}).get("phase") == "Healthy",
            timeout_s=120,
            what=f"the first release Healthy:\n{cluster.events(namespace)}",
        )
        eventually(lambda: len(processes.running) == 2, timeout_s=120, what="a process for each of 2 pods")
        yield Release(cluster, namespace, processes, traffic)
    finally:
        traffic.stop()
        processes.stop()
        cluster.plane.kubectl("delete", "namespace", namespace, "--wait=false")
    assert processes.failures == [], processes.failures


def stable_hash(release: Release) -> str:
    stable: str = release.status()["stableRS"]
    return stable


def measurements(run: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        metric["name"]: metric.get("measurements", []) for metric in run["status"].get("metricResults", [])
    }


def test_a_healthy_canary_walks_every_step_and_is_promoted(release: Release) -> None:
    release.traffic.start()
    before = stable_hash(release)
    done, _ = release.deploy("0.2.0")
    assert done.returncode == 0, done.stdout + done.stderr
    status = release.status()
    assert status["phase"] == "Healthy"
    assert status["stableRS"] == status["currentPodHash"] != before, "make deploy passed before its canary"
    # Each step held the documented share of the pods: (canary, stable).
    strategy = release.cluster.rollout(release.namespace)["spec"]["strategy"]["canary"]
    steps = [step["setWeight"] for step in strategy["steps"] if "setWeight" in step]
    canary = status["currentPodHash"]
    seen = {}
    for index, by_hash in release.samples:
        if index is not None and index % 2 == 1 and index // 2 < len(steps):  # during a step's pause
            seen.setdefault(steps[index // 2], set()).add((by_hash.get(canary, 0), by_hash.get(before, 0)))
    for weight, (canary_pods, stable_pods) in STAGING_STEPS.items():
        assert (canary_pods, stable_pods) in seen.get(weight, set()), f"{weight}%: {seen.get(weight)}"
    # Every measurement had data and passed: the canary was judged, not waved through.
    (run,) = release.analysis_runs()
    assert run["status"]["phase"] == "Successful", run["status"]
    for name, taken in measurements(run).items():
        assert taken, name
        assert all(m["phase"] == "Successful" and m["value"] not in ("", "[]") for m in taken), (name, taken)
    served = release.traffic.served
    assert count_by(served, lambda answer: answer.code).keys() == {"OK"}
    new_pods = {p.pod for p in release.processes.started if p.pod_template_hash == canary}
    assert any(answer.pod in new_pods for answer in served), "the canary served players"
    # Its processes ran with the pod's own name in their resource attributes (item 6 of issue 20).
    for started in release.processes.started:
        assert started.environment["OTEL_RESOURCE_ATTRIBUTES"].startswith(f"k8s.pod.name={started.pod},")


def test_a_canary_whose_requests_fail_is_aborted_and_the_stable_version_serves_again(
    release: Release,
) -> None:
    release.traffic.start()
    before = stable_hash(release)
    # The new release names itself to MongoDB (config.extraEnv); the failpoint fails its finds only.
    with fail_command_blocking(
        release.cluster.database.uri, failCommands=["find"], appName="pixelpet-canary", errorCode=2
    ):
        done, took_s = release.deploy(
            "0.3.0", "--set", "config.extraEnv.PIXELPET_MONGO__APP_NAME=pixelpet-canary"
        )
        aborted_at = time.monotonic()
    assert done.returncode != 0, done.stdout + done.stderr
    assert "was aborted" in done.stderr
    assert took_s < ABORT_BOUND_S, f"aborted after {took_s:.0f} s"
    status = release.status()
    assert status["abort"] is True
    assert status["phase"] == "Degraded"
    assert status["stableRS"] == before, "the failing release never became stable"
    (run,) = release.analysis_runs()
    assert run["status"]["phase"] == "Failed", run["status"]
    failed = [m for m in measurements(run)["availability"] if m["phase"] == "Failed"]
    assert len(failed) == 1, "the first failed measurement aborts"
    assert failed[0]["value"] == "[0]", "a canary failing every request measures 0, not nothing"
    canary_pods = {
        p.pod for p in release.processes.started if p.pod_template_hash == status["currentPodHash"]
    }
    assert canary_pods, "the failing canary ran"

    # The stable version alone answers again, and answers well.
    def stable_only() -> bool:
        recent = release.traffic.since(time.monotonic() - 3)
        return len(recent) >= 5 and all(a.pod not in canary_pods and a.code == "OK" for a in recent)

    eventually(stable_only, timeout_s=STABLE_AGAIN_BOUND_S, what="every request served by the stable version")
    assert time.monotonic() - aborted_at < STABLE_AGAIN_BOUND_S + 5


def test_a_canary_without_traffic_is_paused_for_a_person_neither_promoted_nor_aborted(
    release: Release,
) -> None:
    before = stable_hash(release)  # no traffic at all: a quiet hour
    done, _ = release.deploy("0.4.0")
    assert done.returncode != 0, done.stdout + done.stderr
    assert "analysis was inconclusive" in done.stderr, done.stderr
    status = release.status()
    assert status["phase"] == "Paused", status
    assert [c["reason"] for c in status.get("pauseConditions", [])] == ["InconclusiveAnalysisRun"]
    assert not status.get("abort"), "not aborted as failed"
    assert status["stableRS"] == before, "not promoted blindly"
    canary = status["currentPodHash"]
    assert sum(by_hash.get(canary, 0) for _, by_hash in release.samples[-3:]) > 0, "the canary still runs"
    (run,) = release.analysis_runs()
    assert run["status"]["phase"] == "Inconclusive", run["status"]
    assert all(m["phase"] == "Inconclusive" for taken in measurements(run).values() for m in taken)
    # The person decides: the runbook's abort (bad-deploy-rollback.md) scales the canary away.
    release.cluster.plane.kubectl(
        "-n", release.namespace, "patch", "rollout/pixelpet", "--subresource", "status", "--type", "merge",
        "-p", '{"status": {"abort": true}}',
    )  # fmt: skip
    eventually(lambda: release.status().get("phase") == "Degraded", timeout_s=60, what="aborted by hand")

    def revisions() -> set[str]:
        pods = release.cluster.plane.items("pods", "-n", release.namespace, "-l", WORKLOAD)
        return {
            pod["metadata"]["labels"]["rollouts-pod-template-hash"]
            for pod in pods
            if not pod["metadata"].get("deletionTimestamp")
        }

    eventually(lambda: revisions() == {before}, timeout_s=60, what="only the stable version's pods")
    assert TEST_VALUES.exists()
