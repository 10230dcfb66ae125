"""The Helm chart: lint, render with each environment's values, and validate every object, built-in kinds
against Kubernetes' schemas (kubernetes-validate, strict) and CRD kinds (Rollout, AnalysisTemplate,
ServiceMonitor, PrometheusRule, MongoDBCommunity) against their CRDs' openAPIV3Schema, unknown fields refused.
The CRDs come from the projects' own Go modules (`go mod download`)."""

import copy
import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from observability import tools
from pixelpet.settings import LifecycleSettings
from tests.observability.rules import promtool_parses

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "pixelpet"
KUBERNETES = "1.33.0"
KUBE = ["--kube-version", KUBERNETES]
JWKS = [
    "--set", "config.auth.jwksUrl=https://id.example/.well-known/jwks.json",
    "--set", "config.auth.issuer=https://id.example/",
    "--set", "config.auth.audience=pixelpet",
]  # fmt: skip
VALUES = {"defaults": JWKS, "staging": ["-f", str(CHART / "values-staging.yaml")]}
VALUES["production"] = ["-f", str(CHART / "values-production.yaml")]
# API group: (Go module with its CRDs, the folder they are in).
CRD_MODULES = {
    "argoproj.io": ("github.com/argoproj/argo-rollouts@v1.8.3", "manifests/crds"),
    "monitoring.coreos.com": (
        "github.com/prometheus-operator/prometheus-operator@v0.85.0",
        "example/prometheus-operator-crd",
    ),
    "mongodbcommunity.mongodb.com": (
        "github.com/mongodb/mongodb-kubernetes-operator@v0.9.0",
        "config/crd/bases",
    ),
}


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tools.HELM.ensure()), *args], capture_output=True, text=True, check=False, timeout=120
    )


@cache
def render(environment: str) -> tuple[dict[str, Any], ...]:
    rendered = helm(
        "template", "pixelpet", str(CHART), "--namespace", "pixelpet", *KUBE, *VALUES[environment]
    )
    assert rendered.returncode == 0, rendered.stderr
    return tuple(document for document in yaml.safe_load_all(rendered.stdout) if document)


def objects(environment: str, kind: str) -> list[dict[str, Any]]:
    return [document for document in render(environment) if document["kind"] == kind]


def test_helm_lint_passes() -> None:
    linted = helm("lint", "--strict", str(CHART), *KUBE, *JWKS)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_production_without_a_jwks_url_does_not_render() -> None:
    rendered = helm("template", "pixelpet", str(CHART), *KUBE)
    assert rendered.returncode != 0
    assert "config.auth.jwksUrl is required in production" in rendered.stderr


@pytest.mark.parametrize("environment", sorted(VALUES))
def test_every_built_in_object_is_valid_kubernetes(environment: str) -> None:
    built_in = [
        document
        for document in render(environment)
        if document["apiVersion"].split("/")[0] not in CRD_MODULES
    ]
    assert {document["kind"] for document in built_in} >= {"Service", "ServiceAccount", "PodDisruptionBudget"}
    for document in built_in:
        kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_a_typo_in_a_field_is_refused() -> None:
    (deployment,) = objects("defaults", "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSecond"] = 5
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)
    (rollout,) = objects("production", "Rollout")
    broken_rollout = copy.deepcopy(rollout)
    broken_rollout["spec"]["strategy"]["canary"]["step"] = []
    with pytest.raises(jsonschema.ValidationError):
        validate_custom(broken_rollout)


@pytest.mark.parametrize("environment", sorted(VALUES))
def test_every_custom_object_matches_its_crd(environment: str) -> None:
    custom = [
        document for document in render(environment) if document["apiVersion"].split("/")[0] in CRD_MODULES
    ]
    for document in custom:
        validate_custom(document)
    expected = {"ServiceMonitor", "PrometheusRule"}
    if environment in ("staging", "production"):  # both deploy through the canary
        expected |= {"Rollout", "AnalysisTemplate"}
    if environment == "production":  # staging uses a managed database
        expected |= {"MongoDBCommunity"}
    assert {document["kind"] for document in custom} == expected


def test_the_pods_are_hardened_probed_and_drain_within_their_grace() -> None:
    (deployment,) = objects("defaults", "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["startupProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = {variable["name"]: variable.get("value") for variable in container["env"]}
    lifecycle = LifecycleSettings(
        drain_delay_s=float(env["PIXELPET_LIFECYCLE__DRAIN_DELAY_S"]),
        shutdown_grace_s=int(env["PIXELPET_LIFECYCLE__SHUTDOWN_GRACE_S"]),
    )
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert (
        pod["terminationGracePeriodSeconds"] > pre_stop + lifecycle.drain_delay_s + lifecycle.shutdown_grace_s
    )
    assert "resources" in container
    assert "limits" in container["resources"]


def test_the_prometheus_rule_is_rendered_from_the_observability_rule_files() -> None:
    assert (CHART / "rules").is_symlink(), "one source: the chart links to observability/prometheus/rules"
    assert (CHART / "rules").resolve() == ROOT / "observability" / "prometheus" / "rules"
    (rule,) = objects("defaults", "PrometheusRule")
    expected = [
        group
        for path in sorted((ROOT / "observability" / "prometheus" / "rules").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
    ]
    assert rule["spec"]["groups"] == expected


def test_the_canary_steps_up_and_analyses_the_slis_of_the_canary_pods(tmp_path: Path) -> None:
    (rollout,) = objects("production", "Rollout")
    canary = rollout["spec"]["strategy"]["canary"]
    weights = [step["setWeight"] for step in canary["steps"] if "setWeight" in step]
    assert weights == [5, 25, 50]  # then 100% when the last pause ends
    (template,) = objects("production", "AnalysisTemplate")
    assert canary["analysis"]["templates"] == [{"templateName": template["metadata"]["name"]}]
    metrics = {metric["name"]: metric for metric in template["spec"]["metrics"]}
    assert set(metrics) == {"availability", "query-latency-p99"}
    queries = [metric["provider"]["prometheus"]["query"] for metric in metrics.values()]
    assert all('pod=~"pixelpet-{{args.canary-hash}}-.*"' in query for query in queries)
    parsed, output = promtool_parses(
        [query.replace("{{args.canary-hash}}", "abc") for query in queries], tmp_path
    )
    assert parsed, output
    (hpa,) = objects("production", "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Rollout"
    assert {metric["type"] for metric in hpa["spec"]["metrics"]} == {"Resource", "Pods"}


def test_the_network_policy_admits_only_ingress_and_prometheus_and_reaches_only_mongodb_collector_dns() -> (
    None
):
    (policy,) = objects("defaults", "NetworkPolicy")
    sources = [
        peer["namespaceSelector"]["matchLabels"]
        for rule in policy["spec"]["ingress"]
        for peer in rule["from"]
    ]
    assert sources == [
        {"kubernetes.io/metadata.name": "ingress-nginx"},
        {"kubernetes.io/metadata.name": "monitoring"},
    ]
    ports = sorted(
        (port["port"], port["protocol"]) for rule in policy["spec"]["egress"] for port in rule["ports"]
    )
    assert ports == [(53, "TCP"), (53, "UDP"), (4318, "TCP"), (27017, "TCP")]


def test_no_secret_value_is_in_the_values_files() -> None:
    for document in render("production"):
        assert document["kind"] != "Secret"
    for path in CHART.glob("values*.yaml"):
        text = path.read_text().lower()
        assert "password:" not in text
        assert "mongodb://" not in text


# CRD schemas -------------------------------------------------------------------------------------


def validate_custom(document: dict[str, Any]) -> None:
    group, version = document["apiVersion"].split("/")
    schema = crd_schemas()[(group, version, document["kind"])]
    # Not jsonschema.validate: it first checks the schema itself, whose Go regular expressions
    # (`^(?i)...`) Python's re refuses; patterns of fields we do not set are never compiled this way.
    jsonschema.Draft7Validator(schema).validate(document)


@cache
def crd_schemas() -> dict[tuple[str, str, str], dict[str, Any]]:
    schemas = {}
    go = shutil.which("go") or "/usr/local/go/bin/go"
    for group, (module, folder) in CRD_MODULES.items():
        downloaded = subprocess.run(
            [go, "mod", "download", "-json", module],
            capture_output=True,
            text=True,
            check=True,
        )
        directory = Path(json.loads(downloaded.stdout)["Dir"]) / folder
        for path in sorted(directory.glob("*.yaml")):
            for crd in yaml.load_all(path.read_text(), Loader=_CrdLoader):
                if not crd or crd.get("kind") != "CustomResourceDefinition" or crd["spec"]["group"] != group:
                    continue
                for served in crd["spec"]["versions"]:
                    schema = closed(served["schema"]["openAPIV3Schema"])
                    schema["properties"]["apiVersion"] = {"type": "string"}
                    schema["properties"]["kind"] = {"type": "string"}
                    schema["properties"]["metadata"] = {"type": "object"}
                    schemas[(group, served["name"], crd["spec"]["names"]["kind"])] = schema
    return schemas


class _CrdLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading a bare `=` (YAML 1.1's value tag, in enums) as the string."""


_CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def closed(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with unknown fields refused wherever it lists its fields, as the API server's pruning
    would silently drop them (a typo would vanish instead of failing)."""
    schema = dict(schema)
    if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        schema["properties"] = {name: closed(value) for name, value in schema["properties"].items()}
        schema.setdefault("additionalProperties", False)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            schema[key] = closed(schema[key])
    return schema


def test_the_admin_token_comes_from_a_secret_only_when_one_is_named() -> None:
    def admin_env(*extra: str) -> list[dict[str, Any]]:
        rendered = helm("template", "pixelpet", str(CHART), *KUBE, *JWKS, *extra)
        assert rendered.returncode == 0, rendered.stderr
        workloads = [
            d for d in yaml.safe_load_all(rendered.stdout) if d and d["kind"] in ("Deployment", "Rollout")
        ]
        container = workloads[0]["spec"]["template"]["spec"]["containers"][0]
        return [variable for variable in container["env"] if variable["name"] == "PIXELPET_ADMIN_TOKEN"]

    assert admin_env() == [], "no admin endpoints unless asked for"
    assert admin_env("--set", "secrets.adminToken.name=pixelpet-admin") == [
        {
            "name": "PIXELPET_ADMIN_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "pixelpet-admin", "key": "token"}},
        }
    ]
