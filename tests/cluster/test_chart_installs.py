"""The chart installed for real, with every values file, on a real API server: admission (Pod Security
`restricted` enforced on the namespace), defaulting and the CRDs' schemas accept every object; the
workload's pods are Ready on the kwok node; the objects a kube-prometheus-stack release must select carry its
label; each pod's env is what the service needs (Secrets and field references resolved, `$(POD_NAME)` too)."""

from typing import Any

import pytest
import yaml

from tests.cluster.harness import CHART, Cluster, eventually
from tests.cluster.pods import WORKLOAD, pod_environment
from tests.observability.test_runbooks import KINDS, RUNTIME, kubectl_commands, named_objects

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

JWKS = [
    "--set", "config.auth.jwksUrl=https://id.example/.well-known/jwks.json",
    "--set", "config.auth.issuer=https://id.example/",
    "--set", "config.auth.audience=pixelpet",
]  # fmt: skip
VALUES = {
    "defaults": JWKS,
    "staging": ["-f", str(CHART / "values-staging.yaml")],
    "production": ["-f", str(CHART / "values-production.yaml")],
}
MONITORED = ("servicemonitors", "podmonitors", "prometheusrules")
KUBE_PROMETHEUS_STACK = "release=kube-prometheus-stack"  # its default selectors, release name as installed


def install(cluster: Cluster, environment: str) -> str:
    namespace = f"install-{environment}"
    cluster.namespace(namespace)
    installed = cluster.helm(
        "install", "pixelpet", str(CHART), "--namespace", namespace, *VALUES[environment]
    )
    # The API server warns (and with `enforce`, refuses pods) for anything Pod Security `restricted` forbids.
    assert "PodSecurity" not in installed.stderr, installed.stderr
    return namespace


@pytest.fixture(scope="module")
def installed(cluster: Cluster) -> dict[str, str]:
    return {environment: install(cluster, environment) for environment in VALUES}


def ready_pods(cluster: Cluster, namespace: str, selector: str = WORKLOAD) -> list[dict[str, Any]]:
    return [
        pod
        for pod in cluster.plane.items("pods", "-n", namespace, "-l", selector)
        if any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))
        and not pod["metadata"].get("deletionTimestamp")
    ]


@pytest.mark.parametrize("environment", sorted(VALUES))
def test_the_chart_installs_and_its_workload_is_ready(
    cluster: Cluster, installed: dict[str, str], environment: str
) -> None:
    namespace = installed[environment]
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    overrides = (
        yaml.safe_load((CHART / f"values-{environment}.yaml").read_text())
        if environment != "defaults"
        else {}
    )
    replicas = overrides.get("autoscaling", {}).get("minReplicas", values["autoscaling"]["minReplicas"])
    # The HPA owns the replica count (the workload sets none): it raises the workload to its minimum.
    eventually(
        lambda: len(ready_pods(cluster, namespace)) == replicas or None,
        timeout_s=120,
        what=f"{replicas} Ready pods in {namespace}:\n{cluster.events(namespace)}",
    )
    if environment in ("staging", "production"):
        eventually(
            lambda: cluster.rollout(namespace)["status"].get("phase") == "Healthy",
            timeout_s=60,
            what="the Rollout Healthy",
        )
    eventually(
        lambda: ready_pods(cluster, namespace, "app.kubernetes.io/name=pixelpet-probe"),
        timeout_s=60,
        what="the prober's pod Ready",
    )
    for kind in ("poddisruptionbudget", "horizontalpodautoscaler", "networkpolicy", *MONITORED):
        assert cluster.plane.items(kind, "-n", namespace), f"no {kind} in {namespace}"
    assert cluster.plane.get("hpa/pixelpet", "-n", namespace)["status"].get("desiredReplicas") == replicas


@pytest.mark.parametrize("environment", sorted(VALUES))
def test_a_kube_prometheus_stack_release_selects_every_monitor_and_rule(
    cluster: Cluster, installed: dict[str, str], environment: str
) -> None:
    namespace = installed[environment]
    for kind in MONITORED:
        every = {item["metadata"]["name"] for item in cluster.plane.items(kind, "-n", namespace)}
        selected = {
            item["metadata"]["name"]
            for item in cluster.plane.items(kind, "-n", namespace, "-l", KUBE_PROMETHEUS_STACK)
        }
        assert every, kind
        assert selected == every, (
            f"{kind} a kube-prometheus-stack release would not select: {every - selected}"
        )
    monitors = {
        item["metadata"]["name"]: item for item in cluster.plane.items("servicemonitors", "-n", namespace)
    }
    collector = monitors["pixelpet-otel-collector"]["spec"]
    # As the API server stored it, the CRD's defaults applied (action: replace).
    assert collector["endpoints"][0]["relabelings"] == [
        {"action": "replace", "targetLabel": "job", "replacement": "otel-collector"}
    ]
    service = cluster.plane.get("service/pixelpet", "-n", namespace)
    (scraped,) = [endpoint["port"] for endpoint in monitors["pixelpet"]["spec"]["endpoints"]]
    assert scraped in {port["name"] for port in service["spec"]["ports"]}
    assert scraped != "http", "/metrics must not be on the port an Ingress publishes"


@pytest.mark.parametrize("environment", sorted(VALUES))
def test_each_pod_gets_its_own_name_in_its_resource_attributes_and_metrics_on_their_own_port(
    cluster: Cluster, installed: dict[str, str], environment: str
) -> None:
    namespace = installed[environment]
    pod = ready_pods(cluster, namespace)[0]
    environment_of = pod_environment(cluster.plane, pod)
    name = pod["metadata"]["name"]
    assert environment_of["OTEL_RESOURCE_ATTRIBUTES"] == f"k8s.pod.name={name},k8s.namespace.name={namespace}"
    assert environment_of["PIXELPET_MONGODB_URI"] == cluster.database.uri
    assert environment_of["PIXELPET_METRICS_PORT"] != environment_of["PIXELPET_PORT"]


def test_every_object_a_runbook_names_exists_in_the_installed_release(
    cluster: Cluster, installed: dict[str, str]
) -> None:
    namespace = installed["production"]  # as `make deploy ENV=production` installs it
    checked = set()
    for _, command in kubectl_commands():
        for kind, name in named_objects(command):
            if kind in RUNTIME or kind not in KINDS:
                continue
            cluster.plane.kubectl("get", f"{KINDS[kind]}/{name}", "-n", namespace)
            checked.add((kind, name))
    assert len(checked) >= 4
