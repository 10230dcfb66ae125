"""The Helm chart: lint, render with each environment's values, and validate every object, built-in kinds
against Kubernetes' schemas (kubernetes-validate, strict) and CRD kinds (Rollout, AnalysisTemplate,
ServiceMonitor, PrometheusRule, MongoDBCommunity) against their CRDs' openAPIV3Schema, unknown fields refused.
The CRDs come from the projects' own Go modules (`go mod download`)."""

import copy
import json
import re
import shutil
import subprocess
import textwrap
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


def main_workload(environment: str) -> dict[str, Any]:
    """The service's Deployment (not the prober's)."""
    (deployment,) = [d for d in objects(environment, "Deployment") if d["metadata"]["name"] == "pixelpet"]
    return deployment


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
    deployment = main_workload("defaults")
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
    expected = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    if environment in ("staging", "production"):  # both deploy through the canary
        expected |= {"Rollout", "AnalysisTemplate"}
    if environment == "production":  # staging uses a managed database
        expected |= {"MongoDBCommunity"}
    assert {document["kind"] for document in custom} == expected


def test_the_pods_are_hardened_probed_and_drain_within_their_grace() -> None:
    deployment = main_workload("defaults")
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
    assert weights == [25, 50, 75]  # then 100% when the last pause ends (shares of pods: deployment.md)
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
    for metric in metrics.values():
        # One failed measurement aborts (a failureLimit of n aborts on the n+1th); no data is not a pass.
        assert metric["failureLimit"] == 0
        assert "len(result) == 0" not in metric["successCondition"]
        assert metric["failureCondition"], (
            "without one, a measurement is a pass or a failure, never inconclusive"
        )
    (hpa,) = objects("production", "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Rollout"


CANARY_SERIES = (
    'pixelpet_graphql_requests_total{{pod="pixelpet-abc-x1",operation_type="query",code="{code}"}}'
)


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"OK": "0+600x10"}, [1.0]),
        ({"OK": "0+300x10", "INTERNAL_SERVER_ERROR": "0+300x10"}, [0.5]),
        ({"INTERNAL_SERVER_ERROR": "0+600x10"}, [0.0]),
        ({"UNAVAILABLE": "0+300x10", "INTERNAL_SERVER_ERROR": "0+300x10"}, [0.0]),
        ({"OK": "0x10"}, ["NaN"]),
        ({}, []),
    ],
    ids=["healthy", "half faults", "only faults", "only faults of two kinds", "idle", "no series"],
)
def test_the_availability_query_measures_a_canary_that_fails_everything_as_zero(
    tmp_path: Path, answers: dict[str, str], expected: list[float | str]
) -> None:
    """The analysis's availability query, evaluated by promtool on a canary's counters: a canary that answers
    only faults measures 0 (a failure), not an empty result; an idle one measures NaN or nothing
    (inconclusive)."""
    (template,) = objects("production", "AnalysisTemplate")
    (availability,) = [m for m in template["spec"]["metrics"] if m["name"] == "availability"]
    query = availability["provider"]["prometheus"]["query"].replace("{{args.canary-hash}}", "abc")
    series = [
        {"series": CANARY_SERIES.format(code=code), "values": values} for code, values in answers.items()
    ]
    series.append({"series": 'up{job="pixelpet"}', "values": "1x10"})
    if expected == [
        "NaN"
    ]:  # NaN equals nothing, itself included: count the samples that differ from themselves
        query, expected = f"count(({query}) != ({query}))", [1.0]
    samples = [{"labels": "{}", "value": value} for value in expected]
    tests = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [{"expr": query, "eval_time": "8m", "exp_samples": samples}],
            }
        ],
    }
    path = tmp_path / "availability.test.yml"
    path.write_text(yaml.safe_dump(tests))
    result = subprocess.run(
        [str(tools.promtool()), "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_scales_only_on_metrics_a_cluster_serves() -> None:
    """A Pods metric nobody serves keeps the HPA from ever scaling down: production scales on CPU, and the
    requests-per-second metric is only on where prometheus-adapter's rule (deployment.md) is installed."""
    for environment in VALUES:
        for hpa in objects(environment, "HorizontalPodAutoscaler"):
            assert {metric["type"] for metric in hpa["spec"]["metrics"]} == {"Resource"}, environment
    deployment = (ROOT / "docs" / "operations" / "deployment.md").read_text()
    adapter = re.search(r"```yaml\n( *# prometheus-adapter.*?)```", deployment, re.DOTALL)
    assert adapter, "deployment.md gives the prometheus-adapter rule for the requests-per-second metric"
    rule = yaml.safe_load(textwrap.dedent(adapter.group(1)))["rules"]["custom"][0]
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert rule["name"]["as"] == values["autoscaling"]["requestsPerSecond"]["metricName"]


def test_every_variable_reference_in_the_pod_env_names_one_defined_before_it() -> None:
    """Kubernetes expands $(NAME) only for variables defined earlier; a later one stays literal."""
    for environment in VALUES:
        for workload in [
            *objects(environment, "Deployment"),
            *objects(environment, "Rollout"),
        ]:  # the prober too
            for container in workload["spec"]["template"]["spec"]["containers"]:
                defined: set[str] = set()
                for variable in container.get("env", []):
                    for name in re.findall(
                        r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)", variable.get("value", "")
                    ):
                        assert name in defined, (
                            f"{environment}: {variable['name']} uses $({name}) before it is set"
                        )
                    defined.add(variable["name"])
                for argument in container.get("args", []):
                    for name in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", argument):
                        assert name in defined, f"{environment}: an argument uses $({name}), which is not set"


def test_metrics_are_served_and_scraped_on_their_own_port() -> None:
    deployment = main_workload("defaults")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {variable["name"]: variable.get("value") for variable in container["env"]}
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert int(env["PIXELPET_METRICS_PORT"]) == ports["metrics"] != ports["http"] == int(env["PIXELPET_PORT"])
    monitors = {monitor["metadata"]["name"]: monitor for monitor in objects("defaults", "ServiceMonitor")}
    assert [endpoint["port"] for endpoint in monitors["pixelpet"]["spec"]["endpoints"]] == ["metrics"]


def test_the_monitors_and_rules_carry_the_label_kube_prometheus_stack_selects() -> None:
    for environment in VALUES:
        for kind in ("ServiceMonitor", "PodMonitor", "PrometheusRule"):
            for document in objects(environment, kind):
                assert document["metadata"]["labels"]["release"] == "kube-prometheus-stack", (
                    environment,
                    kind,
                )
    monitors = {monitor["metadata"]["name"]: monitor for monitor in objects("defaults", "ServiceMonitor")}
    collector = monitors["pixelpet-otel-collector"]["spec"]
    assert collector["namespaceSelector"] == {"matchNames": ["observability"]}
    assert collector["endpoints"][0]["relabelings"][0] == {
        "targetLabel": "job",
        "replacement": "otel-collector",
    }


def test_the_prober_runs_in_every_environment_and_is_scraped_as_pixelpet_probe() -> None:
    for environment in VALUES:
        (probe,) = [
            d for d in objects(environment, "Deployment") if d["metadata"]["name"] == "pixelpet-probe"
        ]
        (container,) = probe["spec"]["template"]["spec"]["containers"]
        assert container["args"][:3] == ["probe", "--url", "http://pixelpet:80"]
        assert "--serve" in container["args"]
        assert "--token" in container["args"], "production cannot mint the probe's token"
        (monitor,) = objects(environment, "PodMonitor")
        assert monitor["spec"]["podMetricsEndpoints"][0]["relabelings"] == [
            {"targetLabel": "job", "replacement": "pixelpet-probe"}
        ]


def policy_of(documents: tuple[dict[str, Any], ...] | list[dict[str, Any]], name: str) -> dict[str, Any]:
    (policy,) = [d for d in documents if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == name]
    return policy


def test_the_network_policy_admits_only_ingress_prometheus_and_the_prober() -> None:
    policy = policy_of(render("defaults"), "pixelpet")
    sources = [
        (peer, [p["port"] for p in rule["ports"]])
        for rule in policy["spec"]["ingress"]
        for peer in rule["from"]
    ]
    assert sources == [
        ({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}, ["http"]),
        ({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}, ["metrics"]),
        (
            {
                "podSelector": {
                    "matchLabels": {
                        "app.kubernetes.io/name": "pixelpet-probe",
                        "app.kubernetes.io/instance": "pixelpet",
                    }
                }
            },
            ["http"],
        ),
    ]


def egress_ports(policy: dict[str, Any]) -> list[tuple[int, str]]:
    return sorted(
        (port["port"], port["protocol"]) for rule in policy["spec"]["egress"] for port in rule["ports"]
    )


def test_the_pods_reach_the_identity_provider_and_the_collector_and_dns() -> None:
    """Production verifies tokens with keys from config.auth.jwksUrl over HTTPS; without an egress rule
    for it every authenticated request is UNAVAILABLE."""
    policy = policy_of(render("defaults"), "pixelpet")
    assert egress_ports(policy) == [(53, "TCP"), (53, "UDP"), (443, "TCP"), (4318, "TCP")]
    (https,) = [rule for rule in policy["spec"]["egress"] if rule["ports"][0]["port"] == 443]
    assert {peer["ipBlock"]["cidr"] for peer in https["to"]} == {"0.0.0.0/0", "::/0"}


def test_the_mongodb_egress_follows_the_release_and_reaches_a_managed_database() -> None:
    """The operator labels its pods app: <MongoDBCommunity name>-svc, and that name follows the release."""

    def rendered(release: str, *extra: str) -> list[dict[str, Any]]:
        done = helm("template", release, str(CHART), *KUBE, *VALUES["production"], *extra)
        assert done.returncode == 0, done.stderr
        return [d for d in yaml.safe_load_all(done.stdout) if d]

    for release in ("pixelpet", "blue"):
        documents = rendered(release)
        (mongodb,) = [d for d in documents if d["kind"] == "MongoDBCommunity"]
        fullname = "pixelpet" if release == "pixelpet" else f"{release}-pixelpet"
        policy = policy_of(documents, fullname)
        selectors = [
            peer["podSelector"]["matchLabels"]
            for rule in policy["spec"]["egress"]
            for peer in rule["to"]
            if "podSelector" in peer
        ]
        assert selectors == [{"app": f"{mongodb['metadata']['name']}-svc"}], release
    atlas = rendered(
        "pixelpet",
        "--set",
        "mongodb.enabled=false",
        "--set",
        "networkPolicy.mongodb.cidrs={192.168.248.0/21}",
    )
    policy = policy_of(atlas, "pixelpet")
    blocks = [
        (peer["ipBlock"]["cidr"], rule["ports"][0]["port"])
        for rule in policy["spec"]["egress"]
        for peer in rule["to"]
        if "ipBlock" in peer
    ]
    assert ("192.168.248.0/21", 27017) in blocks
    assert not [peer for rule in policy["spec"]["egress"] for peer in rule["to"] if "podSelector" in peer]


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
        (service,) = [w for w in workloads if w["metadata"]["name"] == "pixelpet"]
        container = service["spec"]["template"]["spec"]["containers"][0]
        return [variable for variable in container["env"] if variable["name"] == "PIXELPET_ADMIN_TOKEN"]

    assert admin_env() == [], "no admin endpoints unless asked for"
    assert admin_env("--set", "secrets.adminToken.name=pixelpet-admin") == [
        {
            "name": "PIXELPET_ADMIN_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "pixelpet-admin", "key": "token"}},
        }
    ]
