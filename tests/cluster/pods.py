"""What the fake node lacks, made real: a service process for every pod, Prometheus scraping each as that pod,
players' traffic spread over the Service's ready endpoints, and an identity provider's JWKS.

Each process runs `python -m pixelpet serve` with the environment the API server holds for its pod: every
`value` expanded as the kubelet expands `$(NAME)` (only names defined earlier in the list), Secrets and field
references resolved. Only the addresses change, because every pod's process shares this machine's loopback:
PIXELPET_HOST, PIXELPET_PORT and PIXELPET_METRICS_PORT (when the pod sets it) get free loopback ports.
"""

import base64
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from pixelpet.devdb import free_port
from tests.cluster.controlplane import ControlPlane
from tests.support.service import ServiceProcess

WORKLOAD = "app.kubernetes.io/name=pixelpet"
_REFERENCE = re.compile(r"\$(\$|\(([A-Za-z_][A-Za-z0-9_.-]*)\))")


def expand(value: str, defined: dict[str, str]) -> str:
    """Kubernetes' $(NAME) expansion: a name defined earlier is replaced, `$$` is a literal `$`, and a
    reference to anything else stays as written (k8s.io/kubernetes third_party/forked/golang/expansion)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1) == "$":
            return "$"
        return defined.get(match.group(2), match.group(0))

    return _REFERENCE.sub(replace, value)


def pod_environment(plane: ControlPlane, pod: dict[str, Any], container: str = "pixelpet") -> dict[str, str]:
    """The container's environment as the kubelet would build it from what the API server holds."""
    namespace = pod["metadata"]["namespace"]
    (spec,) = [c for c in pod["spec"]["containers"] if c["name"] == container]
    resolved: dict[str, str] = {}
    for variable in spec.get("env", []):
        name = variable["name"]
        if "valueFrom" not in variable:
            resolved[name] = expand(variable.get("value", ""), resolved)
            continue
        source = variable["valueFrom"]
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secret = plane.get("secret", ref["name"], "-n", namespace)
            resolved[name] = base64.b64decode(secret["data"][ref["key"]]).decode()
        elif "fieldRef" in source:
            resolved[name] = field_value(pod, source["fieldRef"]["fieldPath"])
        else:
            raise AssertionError(f"{name}: a source the test does not resolve: {source}")
    return resolved


def field_value(pod: dict[str, Any], path: str) -> str:
    labels = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if labels:
        return str(pod["metadata"][labels.group(1)][labels.group(2)])
    value: Any = pod
    for part in path.split("."):
        value = value[part]
    return str(value)


def container_port(pod: dict[str, Any], name: str) -> int | None:
    ports = [
        port for c in pod["spec"]["containers"] for port in c.get("ports", []) if port.get("name") == name
    ]
    return int(ports[0]["containerPort"]) if ports else None


@dataclass
class PodProcess:
    pod: str
    pod_template_hash: str
    process: ServiceProcess
    metrics_port: int
    environment: dict[str, str]


class PodProcesses:
    """Keeps one service process per Running pod of the workload in ``namespace``, and Prometheus's file_sd
    targets in step with them (label `pod`: the pod's name, as the ServiceMonitor's scrape would give)."""

    def __init__(self, plane: ControlPlane, namespace: str, workdir: Path, targets: Path) -> None:
        self._plane = plane
        self._namespace = namespace
        self._workdir = workdir
        self._targets = targets
        self.running: dict[str, PodProcess] = {}
        self.started: list[PodProcess] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._write_targets()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        for running in list(self.running.values()):
            running.process.stop()
        self.running.clear()
        self._write_targets()

    def url_of(self, pod: str) -> str | None:
        running = self.running.get(pod)
        return running.process.url if running else None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._sync()
            except Exception as error:  # reported by the tests through `failures`
                self.failures.append(repr(error))
            self._stop.wait(1)

    def _sync(self) -> None:
        pods = {
            pod["metadata"]["name"]: pod
            for pod in self._plane.read(self._namespace, "pods", selector=WORKLOAD)["items"]
            if pod["status"].get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")
        }
        changed = False
        for name in list(self.running):
            if name not in pods:
                self.running.pop(name).process.stop()
                changed = True
        for name, pod in pods.items():
            if name not in self.running:
                self.running[name] = self._start(pod)
                self.started.append(self.running[name])
                changed = True
        if changed:
            self._write_targets()

    def _start(self, pod: dict[str, Any]) -> PodProcess:
        name = pod["metadata"]["name"]
        environment = pod_environment(self._plane, pod)
        overrides = {key: value for key, value in environment.items() if key != "PIXELPET_PORT"}
        overrides["PIXELPET_HOST"] = "127.0.0.1"
        metrics_port = 0
        if "PIXELPET_METRICS_PORT" in environment:
            metrics_port = free_port()
            overrides["PIXELPET_METRICS_PORT"] = str(metrics_port)
        process = ServiceProcess(env=overrides, log_file=self._workdir / f"{name}.log")
        process.start(timeout_s=60)
        return PodProcess(
            name,
            pod["metadata"]["labels"].get("rollouts-pod-template-hash", ""),
            process,
            metrics_port or process.port,
            environment,
        )

    def _write_targets(self) -> None:
        groups = [
            {
                "targets": [f"127.0.0.1:{running.metrics_port}"],
                "labels": {"pod": running.pod, "namespace": self._namespace},
            }
            for running in self.running.values()
        ]
        partial = self._targets.with_suffix(".partial")
        partial.write_text(json.dumps(groups))
        partial.replace(self._targets)


class IdentityProvider:
    """A JWKS endpoint on loopback and RS256 tokens signed by its key, as the chart's production settings
    expect (PIXELPET_AUTH__JWKS_URL, issuer, audience)."""

    def __init__(self, *, issuer: str, audience: str) -> None:
        self.issuer = issuer
        self.audience = audience
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": "test", "alg": "RS256", "use": "sig"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.jwks_url = f"http://127.0.0.1:{self._server.server_address[1]}/jwks.json"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def token(self, subject: str) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": subject,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + timedelta(hours=2),
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "test"})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Served:
    at: float
    pod: str
    code: str


@dataclass
class Traffic:
    """Players' requests at `rate_per_s`, each to the next ready endpoint of the Service (its EndpointSlices,
    as kube-proxy would route), answered by that pod's process. Every answer is recorded with its pod."""

    plane: ControlPlane
    namespace: str
    processes: PodProcesses
    token: str
    rate_per_s: float = 8.0
    served: list[Served] = field(default_factory=list)
    _running: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _endpoints: list[str] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self._running.set()
        self._threads = [
            threading.Thread(target=self._watch_endpoints, daemon=True),
            threading.Thread(target=self._send, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def since(self, started: float) -> list[Served]:
        return [answer for answer in list(self.served) if answer.at >= started]

    def _watch_endpoints(self) -> None:
        while not self._stop.is_set():
            try:
                slices = self.plane.read(
                    self.namespace, "endpointslices", selector="kubernetes.io/service-name=pixelpet"
                )["items"]
            except (AssertionError, httpx.HTTPError):
                self._stop.wait(1)
                continue
            self._endpoints = sorted(
                endpoint["targetRef"]["name"]
                for endpoint_slice in slices
                for endpoint in endpoint_slice.get("endpoints") or []
                if endpoint.get("conditions", {}).get("ready") and endpoint.get("targetRef")
            )
            self._stop.wait(1)

    def _send(self) -> None:
        query = {"query": "{ pets(first: 5) { edges { node { id } } } }"}
        headers = {"Authorization": f"Bearer {self.token}"}
        turn = 0
        with httpx.Client(timeout=5) as http:
            while not self._stop.is_set():
                self._running.wait()
                time.sleep(1 / self.rate_per_s)
                endpoints = self._endpoints
                if not endpoints or self._stop.is_set():
                    continue
                pod = endpoints[turn % len(endpoints)]
                turn += 1
                url = self.processes.url_of(pod)
                if url is None:
                    continue  # its process is still starting: as a connection refused, not an answer
                try:
                    body = http.post(f"{url}/graphql", json=query, headers=headers).json()
                except (httpx.HTTPError, ValueError):
                    continue
                errors = body.get("errors") or []
                code = errors[0].get("extensions", {}).get("code", "ERROR") if errors else "OK"
                self.served.append(Served(time.monotonic(), pod, code))


def count_by(answers: list[Served], key: Callable[[Served], str]) -> Counter[str]:
    return Counter(key(answer) for answer in answers)
