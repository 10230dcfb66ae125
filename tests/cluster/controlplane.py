"""A real Kubernetes control plane as local processes: etcd (Debian's), kube-apiserver,
kube-controller-manager, kube-scheduler (built from k8s.io/kubernetes 1.34), kwok as the kubelet of one fake
node (pods become Running and Ready without containers) and the Argo Rollouts controller, out of cluster.
observability/tools.py builds them.

Admission is the API server's own (Pod Security included), CRDs are applied server-side from the operators' Go
modules, and controllers reconcile for real; only the containers are missing: tests/cluster/pods.py starts a
real service process for each pod.
"""

import base64
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from observability import tools
from pixelpet.devdb import free_port

NODE = "kwok-node-0"
# The API paths of the resources the tests poll.
RESOURCES = {
    "pods": "/api/v1",
    "endpointslices": "/apis/discovery.k8s.io/v1",
    "rollouts": "/apis/argoproj.io/v1alpha1",
    "analysisruns": "/apis/argoproj.io/v1alpha1",
}
# API group: (Go module with its CRDs, the folder they are in); the chart's kinds and the MongoDB operator's.
CRD_MODULES = (
    ("github.com/argoproj/argo-rollouts@v1.8.3", "manifests/crds"),
    ("github.com/prometheus-operator/prometheus-operator@v0.85.0", "example/prometheus-operator-crd"),
    ("github.com/mongodb/mongodb-kubernetes-operator@v0.9.0", "config/crd/bases"),
)


@dataclass
class ControlPlane:
    workdir: Path
    token: str = field(default_factory=lambda: base64.b32encode(os.urandom(20)).decode().lower())
    _processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.apiserver_port = free_port()
        self.kubeconfig = self.workdir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    # Starting and stopping ----------------------------------------------------------------------------

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        binaries = tools.KUBERNETES.ensure()
        argo = tools.ARGO_ROLLOUTS.ensure()
        kwok = tools.KWOK.ensure()
        stages = tools.kwok_stages()
        certs = self.workdir / "certs"
        certs.mkdir(exist_ok=True)
        service_account_key = self._service_account_key()
        (self.workdir / "tokens.csv").write_text(f'{self.token},admin,admin,"system:masters"\n')
        self._write_kubeconfig()

        etcd_client, etcd_peer = free_port(), free_port()
        self._spawn(
            "etcd",
            [
                str(tools.etcd()),
                "--name=pixelpet",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_client}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_client}",
                f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-cluster=pixelpet=http://127.0.0.1:{etcd_peer}",
            ],
        )
        self._spawn(
            "kube-apiserver",
            [
                str(binaries / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{etcd_client}",
                f"--secure-port={self.apiserver_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--cert-dir={certs}",
                f"--token-auth-file={self.workdir / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                f"--service-account-key-file={service_account_key}.pub",
                f"--service-account-signing-key-file={service_account_key}",
                "--service-account-issuer=https://kubernetes.default.svc",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--enable-admission-plugins=PodSecurity",
                "--allow-privileged=false",
                # With WatchList on (the default since 1.32) the API server serves a watch from
                # resourceVersion 0, as kwok's informers open theirs, as a stream that needs etcd's
                # RequestWatchProgress, which Debian's etcd 3.4.23 lacks: each such watch ended at once, kwok
                # re-listed on a growing backoff, and a pod became Running up to a minute after it was
                # created. Off, watches are served as before 1.32; a client asking for a stream falls back to
                # LIST and WATCH by itself.
                "--feature-gates=WatchList=false",
            ],
        )
        self._wait_for_api()
        # The CRDs before the controllers: the controller manager then maps the HPA's target kind (Rollout)
        # from its first discovery, instead of after its next refresh (every 30 s).
        self.kubectl("apply", "--server-side", *(f"--filename={path}" for path in crd_files()))
        self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        common = [
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--leader-elect=false",
        ]
        self._spawn(
            "kube-controller-manager",
            [
                str(binaries / "kube-controller-manager"),
                *common,
                f"--secure-port={free_port()}",
                f"--service-account-private-key-file={service_account_key}",
                f"--root-ca-file={certs / 'apiserver.crt'}",
                "--controllers=*,-serviceaccount-token",
                "--use-service-account-credentials=false",
                # An HPA reconciles every 15 s by default, and a new one waits that long for its first pass:
                # the chart's HPA raised a fresh workload to its minimum 15 to 30 s after the install.
                # Reconciling every 2 s changes when, not what (the tests wait for the replicas it sets).
                "--horizontal-pod-autoscaler-sync-period=2s",
            ],
        )
        self._spawn(
            "kube-scheduler", [str(binaries / "kube-scheduler"), *common, f"--secure-port={free_port()}"]
        )
        self._spawn(
            "kwok",
            [
                str(kwok),
                f"--kubeconfig={self.kubeconfig}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                f"--server-address=127.0.0.1:{free_port()}",
                *(f"--config={stage}" for stage in stages),
            ],
        )
        self.apply_server_side(self._fake_node())
        self.kubectl("create", "namespace", "argo-rollouts")  # the controller's leader-election record
        self._spawn(
            "argo-rollouts",
            [
                str(argo / "rollouts-controller"),
                f"--kubeconfig={self.kubeconfig}",
                f"--metricsport={free_port()}",
                f"--healthzPort={free_port()}",
                "--leader-elect=false",
            ],
        )
        self.kubectl("wait", f"node/{NODE}", "--for=condition=Ready", "--timeout=60s")

    def stop(self) -> None:
        # etcd last: the API server's shutdown needs it (stopped together, the API server retried etcd until
        # it was killed). What is still running 3 s after SIGTERM is killed: the cluster's state goes with its
        # folder, and on a busy machine the API server's graceful shutdown alone has taken over 10 s.
        processes = [process for _, process in self._processes]  # etcd first
        for group in (processes[1:], processes[:1]):
            for process in group:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 3
            for process in reversed(group):
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for log in self._logs:
            log.close()

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def check_alive(self) -> None:
        for name, process in self._processes:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log(name)[-3000:]}")

    # Talking to it ------------------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The environment kubectl and helm need to reach this cluster (and nothing of another)."""
        return {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "HELM_CACHE_HOME": str(self.workdir / "helm"),
        }

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(tools.KUBERNETES.path("kubectl")), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {done.stderr}")
        return done

    def get(self, *args: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.kubectl("get", *args, "-o", "json").stdout)
        return found

    def items(self, *args: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get(*args)["items"]
        return found

    def read(self, namespace: str, resource: str, name: str = "", selector: str = "") -> dict[str, Any]:
        """GET a namespaced resource over the API directly: the tests' polling loops use this instead of
        starting a kubectl process each time (several a second would take a core of this 2-core machine)."""
        path = f"{RESOURCES[resource]}/namespaces/{namespace}/{resource}" + (f"/{name}" if name else "")
        response = httpx.get(
            f"{self.server}{path}",
            params={"labelSelector": selector} if selector else None,
            headers={"Authorization": f"Bearer {self.token}"},
            verify=False,  # noqa: S501 - loopback, and the certificate is the self-signed one the server made
            timeout=10,
        )
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
        found: dict[str, Any] = response.json()
        return found

    def apply_server_side(self, document: dict[str, Any]) -> None:
        done = subprocess.run(
            [str(tools.KUBERNETES.path("kubectl")), "apply", "--server-side", "-f", "-"],
            input=yaml.safe_dump(document),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    # Parts --------------------------------------------------------------------------------------------

    def _service_account_key(self) -> Path:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path = self.workdir / "service-account.key"
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        path.with_suffix(".key.pub").write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return path

    def _write_kubeconfig(self) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "local", "cluster": {"server": self.server, "insecure-skip-tls-verify": True}}
            ],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
            "current-context": "local",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))

    def _fake_node(self) -> dict[str, Any]:
        resources = {"cpu": "32", "memory": "256Gi", "pods": "110"}
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": NODE,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "kubernetes.io/hostname": NODE,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "topology.kubernetes.io/zone": "zone-a",
                    "type": "kwok",
                },
            },
            "status": {"allocatable": resources, "capacity": resources},
        }

    def _wait_for_api(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        headers = {"Authorization": f"Bearer {self.token}"}
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                # Loopback, and the server's certificate is the self-signed one it just made.
                ready = httpx.get(f"{self.server}/readyz", headers=headers, verify=False, timeout=2)  # noqa: S501
                if ready.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise RuntimeError(
            f"kube-apiserver not ready in {timeout_s} s:\n{self.log('kube-apiserver')[-3000:]}"
        )

    def _spawn(self, name: str, command: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, env=self.env
        )
        self._processes.append((name, process))


def crd_files() -> Iterator[Path]:
    """The operators' CRD files, from their Go modules (the module cache, offline once fetched)."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    for module, folder in CRD_MODULES:
        directory = Path(tools.module_dir(go, module)) / folder
        for path in sorted(directory.glob("*.yaml")):
            if path.name != "kustomization.yaml" and "CustomResourceDefinition" in path.read_text():
                yield path
