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

The three run at once, each in its own namespace with its own release, processes and traffic (a rollout takes
about a minute); the tests then read what each recorded.
"""

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from observability import tools
from tests.cluster.harness import CHART, ROOT, Cluster, eventually
from tests.cluster.pods import WORKLOAD, PodProcesses, Served, Traffic, count_by
from tests.support.failpoints import fail_command_blocking

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# The test's timing (values-test.yaml): how long a failing canary may take to be aborted, counted from the
# start of `make deploy`: pods up, the analysis's initial delay (20 s), a measurement every 5 s, then the
# controller's reaction. Production's timing is in deployment.md.
ABORT_BOUND_S = 120
# From the abort to every request answered by the stable version (the canary's pods scaled away and gone from
# the Service's endpoints). Generous: on a loaded 2-core machine it has taken up to 40 s.
STABLE_AGAIN_BOUND_S = 60
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
            "ROLLOUT_POLL_SECONDS": "1",
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
            with contextlib.suppress(AssertionError):
                step = self.status().get("currentStepIndex")
                self.samples.append((step, self.revisions()))
            stop.wait(1)

    def revisions(self) -> dict[str, int]:
        """Running pods by revision (pod-template hash)."""
        by_hash: dict[str, int] = {}
        for pod in self.cluster.plane.read(self.namespace, "pods", selector=WORKLOAD)["items"]:
            if pod["status"].get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp"):
                revision = pod["metadata"]["labels"]["rollouts-pod-template-hash"]
                by_hash[revision] = by_hash.get(revision, 0) + 1
        return by_hash

    def analysis_runs(self) -> list[dict[str, Any]]:
        runs = self.cluster.plane.items("analysisruns", "-n", self.namespace)
        return sorted(runs, key=lambda run: run["metadata"]["creationTimestamp"])


@dataclass
class Outcome:
    """What a scenario saw: `make deploy`'s answer and the cluster's state right after it."""

    release: Release
    before: str
    deployed: subprocess.CompletedProcess[str]
    took_s: float
    status: dict[str, Any]
    runs: list[dict[str, Any]]
    served: list[Served] = field(default_factory=list)
    stable_again_after_s: float | None = None
    aborted_by_hand: dict[str, Any] | None = None
    revisions_after: dict[str, int] = field(default_factory=dict)


def healthy(release: Release) -> Outcome:
    release.traffic.start()
    before = release.status()["stableRS"]
    done, took = release.deploy("0.2.0")
    return Outcome(
        release, before, done, took, release.status(), release.analysis_runs(), release.traffic.served
    )


def failing(release: Release) -> Outcome:
    release.traffic.start()
    before = release.status()["stableRS"]
    # The new release names itself to MongoDB (config.extraEnv); the failpoint fails its finds only.
    with fail_command_blocking(
        release.cluster.database.uri, failCommands=["find"], appName="pixelpet-canary", errorCode=2
    ):
        done, took = release.deploy(
            "0.3.0", "--set", "config.extraEnv.PIXELPET_MONGO__APP_NAME=pixelpet-canary"
        )
        aborted_at = time.monotonic()
        status, runs = release.status(), release.analysis_runs()
        canary_pods = {
            p.pod for p in release.processes.started if p.pod_template_hash == status["currentPodHash"]
        }

        def stable_only() -> bool:  # the last eight answers since the abort: all the stable version's, all OK
            recent = release.traffic.since(aborted_at)[-8:]
            return len(recent) == 8 and all(a.pod not in canary_pods and a.code == "OK" for a in recent)

        eventually(stable_only, timeout_s=STABLE_AGAIN_BOUND_S * 2, what="only the stable version answering")
    outcome = Outcome(release, before, done, took, status, runs, release.traffic.served)
    outcome.stable_again_after_s = time.monotonic() - aborted_at
    return outcome


def idle(release: Release) -> Outcome:
    before = release.status()["stableRS"]  # no traffic at all: a quiet hour
    done, took = release.deploy("0.4.0")
    outcome = Outcome(release, before, done, took, release.status(), release.analysis_runs())
    outcome.revisions_after = release.revisions()
    # The person decides: the runbook's abort (bad-deploy-rollback.md) scales the canary away.
    release.cluster.plane.kubectl(
        "-n", release.namespace, "patch", "rollout/pixelpet", "--subresource", "status", "--type", "merge",
        "-p", '{"status": {"abort": true}}',
    )  # fmt: skip
    eventually(lambda: release.status().get("phase") == "Degraded", timeout_s=60, what="aborted by hand")
    eventually(lambda: set(release.revisions()) == {before}, timeout_s=60, what="only the stable pods left")
    outcome.aborted_by_hand = release.status()
    return outcome


SCENARIOS: dict[str, Callable[[Release], Outcome]] = {"healthy": healthy, "failing": failing, "idle": idle}


@contextlib.contextmanager
def installed(cluster: Cluster, name: str) -> Iterator[Release]:
    namespace = f"canary-{name}"
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


def run_scenario(cluster: Cluster, name: str) -> Outcome | BaseException:
    try:
        with installed(cluster, name) as release:
            return SCENARIOS[name](release)
    except BaseException as failure:  # each test reports its own scenario's failure
        return failure


@pytest.fixture(scope="module")
def outcomes(cluster: Cluster) -> dict[str, Outcome | BaseException]:
    with ThreadPoolExecutor(len(SCENARIOS)) as pool:
        futures = {name: pool.submit(run_scenario, cluster, name) for name in SCENARIOS}
        return {name: future.result() for name, future in futures.items()}


def outcome_of(outcomes: dict[str, Outcome | BaseException], name: str) -> Outcome:
    outcome = outcomes[name]
    if isinstance(outcome, BaseException):
        raise AssertionError(f"the {name} scenario failed") from outcome
    return outcome


def measurements(run: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        metric["name"]: metric.get("measurements", []) for metric in run["status"].get("metricResults", [])
    }


def test_a_healthy_canary_walks_every_step_and_is_promoted(
    outcomes: dict[str, Outcome | BaseException],
) -> None:
    outcome = outcome_of(outcomes, "healthy")
    assert outcome.deployed.returncode == 0, outcome.deployed.stdout + outcome.deployed.stderr
    status = outcome.status
    assert status["phase"] == "Healthy"
    assert status["stableRS"] == status["currentPodHash"] != outcome.before, (
        "make deploy passed before its canary"
    )
    # Each step held the documented share of the pods: (canary, stable).
    canary = status["currentPodHash"]
    steps = list(STAGING_STEPS)
    seen: dict[int, set[tuple[int, int]]] = {}
    for index, by_hash in outcome.release.samples:
        if index is not None and index % 2 == 1 and index // 2 < len(steps):  # during a step's pause
            seen.setdefault(steps[index // 2], set()).add(
                (by_hash.get(canary, 0), by_hash.get(outcome.before, 0))
            )
    for weight, pods in STAGING_STEPS.items():
        assert pods in seen.get(weight, set()), f"{weight}%: {seen.get(weight)}"
    # The canary was judged on data, not waved through: every metric passed measurements with a value, none
    # failed, and no more were inconclusive than the limit allows (a first window with little data).
    (run,) = outcome.runs
    assert run["status"]["phase"] == "Successful", run["status"]
    for name, taken in measurements(run).items():
        phases = count_by([Served(0, "", m["phase"]) for m in taken], lambda m: m.code)
        assert phases["Successful"] >= 1, (name, taken)
        assert set(phases) <= {"Successful", "Inconclusive"}, (name, taken)
        assert phases["Inconclusive"] <= 1, (name, taken)
        assert all(m["value"] not in ("", "[]") for m in taken if m["phase"] == "Successful"), (name, taken)
    assert set(count_by(outcome.served, lambda answer: answer.code)) == {"OK"}
    new_pods = {p.pod for p in outcome.release.processes.started if p.pod_template_hash == canary}
    assert any(answer.pod in new_pods for answer in outcome.served), "the canary served players"
    # Its processes ran with the pod's own name in their resource attributes (item 6 of issue 20).
    for started in outcome.release.processes.started:
        assert started.environment["OTEL_RESOURCE_ATTRIBUTES"].startswith(f"k8s.pod.name={started.pod},")


def test_a_canary_whose_requests_fail_is_aborted_and_the_stable_version_serves_again(
    outcomes: dict[str, Outcome | BaseException],
) -> None:
    outcome = outcome_of(outcomes, "failing")
    assert outcome.deployed.returncode != 0, outcome.deployed.stdout + outcome.deployed.stderr
    assert "was aborted" in outcome.deployed.stderr
    assert outcome.took_s < ABORT_BOUND_S, f"aborted after {outcome.took_s:.0f} s"
    status = outcome.status
    assert status["abort"] is True
    assert status["phase"] == "Degraded"
    assert status["stableRS"] == outcome.before, "the failing release never became stable"
    (run,) = outcome.runs
    assert run["status"]["phase"] == "Failed", run["status"]
    failed = [m for m in measurements(run)["availability"] if m["phase"] == "Failed"]
    assert len(failed) == 1, "the first failed measurement aborts"
    assert failed[0]["value"] == "[0]", "a canary failing every request measures 0, not nothing"
    canary_pods = {
        p.pod for p in outcome.release.processes.started if p.pod_template_hash == status["currentPodHash"]
    }
    assert canary_pods, "the failing canary ran"
    answers = count_by(outcome.served, lambda a: f"{'canary' if a.pod in canary_pods else 'stable'} {a.code}")
    assert answers["canary INTERNAL_SERVER_ERROR"] > 0, f"its requests failed: {answers}"
    assert answers["canary OK"] == 0, answers
    assert outcome.stable_again_after_s is not None
    assert outcome.stable_again_after_s < STABLE_AGAIN_BOUND_S, "the stable version alone answers again"


def test_a_canary_without_traffic_is_paused_for_a_person_neither_promoted_nor_aborted(
    outcomes: dict[str, Outcome | BaseException],
) -> None:
    outcome = outcome_of(outcomes, "idle")
    assert outcome.deployed.returncode != 0, outcome.deployed.stdout + outcome.deployed.stderr
    assert "analysis was inconclusive" in outcome.deployed.stderr, outcome.deployed.stderr
    status = outcome.status
    assert status["phase"] == "Paused", status
    assert "InconclusiveAnalysisRun" in [c["reason"] for c in status.get("pauseConditions", [])]
    assert not status.get("abort"), "not aborted as failed"
    assert status["stableRS"] == outcome.before, "not promoted blindly"
    assert outcome.revisions_after.get(status["currentPodHash"], 0) > 0, "the canary still runs"
    (run,) = outcome.runs
    assert run["status"]["phase"] == "Inconclusive", run["status"]
    assert all(m["phase"] == "Inconclusive" for taken in measurements(run).values() for m in taken)
    assert outcome.aborted_by_hand is not None
    assert outcome.aborted_by_hand["phase"] == "Degraded", "the runbook's abort works"
