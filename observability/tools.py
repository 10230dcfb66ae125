"""The third-party programs the checks run, built from their Go modules and cached.

Jaeger v2 (which is also the OpenTelemetry Collector distribution we test with: decision 12), Sloth,
actionlint (the workflows), helm (the chart) and Toxiproxy (the network drills) are built with the
machine's Go into ``~/.cache/pixelpet/tools/<name>-<version>/``, once per machine. So is the Kubernetes
control plane the cluster tests run (tests/cluster/, decision 17): kube-apiserver, kube-controller-manager,
kube-scheduler and kubectl from the k8s.io/kubernetes module, kwok as the kubelet (with its stage files) and
the Argo Rollouts controller; the first build takes about 10 minutes on 2 cores.
Prometheus, Alertmanager, promtool and etcd come from Debian's packages (the Makefile installs them).

    python -m observability.tools            # build what is missing, print where each program is
    python -m observability.tools slo-rules  # regenerate prometheus/rules/slos.yml from slos.yaml
    python -m observability.tools missing-packages  # the Debian packages `make tools` must install
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CACHE = Path.home() / ".cache" / "pixelpet" / "tools"
HERE = Path(__file__).resolve().parent
SLO_RULES = HERE / "prometheus" / "rules" / "slos.yml"


@dataclass(frozen=True)
class GoTool:
    name: str
    package: str
    version: str
    # Jaeger's go.mod has replace directives, so `go install pkg@version` refuses it; it builds from a
    # small module that requires it as a tool instead.
    needs_module: bool = False

    @property
    def path(self) -> Path:
        return CACHE / f"{self.name}-{self.version}" / self.name

    def ensure(self) -> Path:
        """The binary, built first if this machine has none yet (minutes for Jaeger, cached after)."""
        if self.path.exists():
            return self.path
        go = shutil.which("go") or "/usr/local/go/bin/go"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        if self.needs_module:
            with tempfile.TemporaryDirectory() as module:
                _run([go, "mod", "init", "pixelpet-tools"], cwd=module)
                _run([go, "get", "-tool", f"{self.package}@{self.version}"], cwd=module)
                _run([go, "build", "-o", str(partial), self.package], cwd=module)
        else:
            with tempfile.TemporaryDirectory() as gobin:
                _run([go, "install", f"{self.package}@{self.version}"], env_extra={"GOBIN": gobin})
                shutil.move(str(Path(gobin) / Path(self.package).name), partial)
        partial.rename(self.path)  # only a finished build is ever found
        return self.path


JAEGER = GoTool("jaeger", "github.com/jaegertracing/jaeger/cmd/jaeger", "v1.76.0", needs_module=True)
SLOTH = GoTool("sloth", "github.com/slok/sloth/cmd/sloth", "v0.16.0")
ACTIONLINT = GoTool("actionlint", "github.com/rhysd/actionlint/cmd/actionlint", "v1.7.12")
HELM = GoTool("helm", "helm.sh/helm/v3/cmd/helm", "v3.22.0")
# The TCP fault proxy the network drills put between the service and its database (tests/faults/).
TOXIPROXY = GoTool("toxiproxy", "github.com/Shopify/toxiproxy/v2/cmd/server", "v2.12.0")

# The Kubernetes control plane (tests/cluster/). k8s.io/kubernetes maps its staging modules to ./staging in
# its own go.mod, which a dependent module cannot use: each is replaced by its published twin instead.
KUBERNETES_VERSION = "v1.34.2"
KUBERNETES_STAGING = [
    "api",
    "apiextensions-apiserver",
    "apimachinery",
    "apiserver",
    "cli-runtime",
    "client-go",
    "cloud-provider",
    "cluster-bootstrap",
    "code-generator",
    "component-base",
    "component-helpers",
    "controller-manager",
    "cri-api",
    "cri-client",
    "csi-translation-lib",
    "dynamic-resource-allocation",
    "endpointslice",
    "externaljwt",
    "kms",
    "kube-aggregator",
    "kube-controller-manager",
    "kube-proxy",
    "kube-scheduler",
    "kubectl",
    "kubelet",
    "metrics",
    "mount-utils",
    "pod-security-admission",
    "sample-apiserver",
    "sample-cli-plugin",
    "sample-controller",
]
ARGO_ROLLOUTS_VERSION = "v1.8.3"


@dataclass(frozen=True)
class GoModuleTools:
    """Programs of a module whose go.mod has replace directives, built in a tools module copying them."""

    name: str
    module: str
    version: str
    packages: tuple[str, ...]
    ldflags: str = ""

    @property
    def directory(self) -> Path:
        return CACHE / f"{self.name}-{self.version}"

    def path(self, program: str) -> Path:
        return self.directory / program

    def replaces(self, go: str) -> str:
        if self.module == "k8s.io/kubernetes":
            minor = self.version.replace("v1.", "v0.", 1)
            return "".join(f"replace k8s.io/{name} => k8s.io/{name} {minor}\n" for name in KUBERNETES_STAGING)
        # Argo Rollouts pins its Kubernetes libraries with a replace block in its own go.mod: copy it.
        go_mod = Path(module_dir(go, f"{self.module}@{self.version}", go_mod=True)).read_text()
        blocks = re.findall(r"^replace \((.*?)^\)", go_mod, flags=re.MULTILINE | re.DOTALL)
        lines = re.findall(r"^replace ([^(].*)$", go_mod, flags=re.MULTILINE)
        entries = [line.split("//")[0].strip() for block in blocks for line in block.splitlines()]
        entries += [line.split("//")[0].strip() for line in lines]
        return "".join(f"replace {entry}\n" for entry in entries if entry)

    def ensure(self) -> Path:
        """The folder holding every program, built first if this machine has none yet."""
        programs = [self.path(Path(package).name) for package in self.packages]
        if all(program.exists() for program in programs):
            return self.directory
        go = shutil.which("go") or "/usr/local/go/bin/go"
        self.directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as module:
            _run([go, "mod", "init", "pixelpet-tools"], cwd=module)
            with (Path(module) / "go.mod").open("a") as go_mod:
                go_mod.write(self.replaces(go))
            _run([go, "get", *(f"{package}@{self.version}" for package in self.packages)], cwd=module)
            for package, program in zip(self.packages, programs, strict=True):
                if program.exists():
                    continue
                partial = program.with_suffix(".partial")
                flags = ["-ldflags", self.ldflags] if self.ldflags else []
                _run([go, "build", *flags, "-o", str(partial), package], cwd=module)
                partial.rename(program)
        return self.directory


def module_dir(go: str, module: str, *, go_mod: bool = False) -> str:
    """Where `go mod download` put a module (or its go.mod): the Go module cache, offline once fetched."""
    downloaded = subprocess.run(  # noqa: S603 - our own command line
        [go, "mod", "download", "-json", module], capture_output=True, text=True, check=True
    )
    found: str = json.loads(downloaded.stdout)["GoMod" if go_mod else "Dir"]
    return found


_K8S_VERSION = KUBERNETES_VERSION.removeprefix("v")
KUBERNETES = GoModuleTools(
    "kubernetes",
    "k8s.io/kubernetes",
    KUBERNETES_VERSION,
    tuple(
        f"k8s.io/kubernetes/cmd/{name}"
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
    ),
    # Unstamped, they report v0.0.0-master and Helm's kubeVersion check refuses the chart.
    ldflags=(
        f"-X k8s.io/component-base/version.gitVersion={KUBERNETES_VERSION}"
        f" -X k8s.io/component-base/version.gitMajor={_K8S_VERSION.split('.')[0]}"
        f" -X k8s.io/component-base/version.gitMinor={_K8S_VERSION.split('.')[1]}"
    ),
)
ARGO_ROLLOUTS = GoModuleTools(
    "argo-rollouts",
    "github.com/argoproj/argo-rollouts",
    ARGO_ROLLOUTS_VERSION,
    ("github.com/argoproj/argo-rollouts/cmd/rollouts-controller",),
)
# kwok plays the kubelet: pods on its node become Running and Ready without a container.
KWOK = GoTool("kwok", "sigs.k8s.io/kwok/cmd/kwok", "v0.8.0")
KWOK_STAGES = ("kustomize/stage/node/fast", "kustomize/stage/node/heartbeat", "kustomize/stage/pod/fast")


def kwok_stages() -> list[Path]:
    """kwok's stage files (what it does to nodes and pods), copied from its module next to the binary."""
    folder = KWOK.path.parent / "stages"
    if not folder.exists():
        go = shutil.which("go") or "/usr/local/go/bin/go"
        source = Path(module_dir(go, f"sigs.k8s.io/kwok@{KWOK.version}"))
        partial = folder.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for stage in KWOK_STAGES:
            for path in sorted((source / stage).glob("*.yaml")):
                if path.name != "kustomization.yaml":
                    shutil.copy(
                        path, partial / f"{stage.rsplit('/', 2)[-2]}-{stage.rsplit('/', 1)[-1]}-{path.name}"
                    )
        partial.rename(folder)
    return sorted(folder.glob("*.yaml"))


GO_TOOLS = (JAEGER, SLOTH, ACTIONLINT, HELM, TOXIPROXY, KWOK)


# What `make tools` installs from Debian's (or Ubuntu's) packages, by the program or file that shows it.
# Only what is missing is installed: GitHub's Ubuntu runners have Docker's containerd.io, which ships its own
# runc and conflicts with the runc package, and Google Chrome instead of Chromium.
DEBIAN_PACKAGES = {
    "curl": "curl",
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
    "podman": "podman",
    "runc": "runc",
    "mmdebstrap": "mmdebstrap",
    # mmdebstrap's bookworm needs Debian's archive keys, which Ubuntu does not install by default.
    "/usr/share/keyrings/debian-archive-keyring.gpg": "debian-archive-keyring",
    "nginx": "nginx",
    "etcd": "etcd-server",  # the Kubernetes control plane's store (tests/cluster)
    "chromium|google-chrome": "chromium",
}


def missing_packages(
    which: Callable[[str], str | None] = shutil.which, exists: Callable[[str], bool] = os.path.exists
) -> list[str]:
    """The Debian packages to install: those whose program (any of `a|b`) or file is not here."""
    missing: list[str] = []
    for found_by, package in DEBIAN_PACKAGES.items():
        present = any(exists(name) if name.startswith("/") else which(name) for name in found_by.split("|"))
        if not present and package not in missing:
            missing.append(package)
    return missing


def debian_program(name: str) -> Path:
    """A program from Debian's packages (`make tools` installs them)."""
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed: run `make tools` (it installs Debian's packages)")
    return Path(found)


def promtool() -> Path:
    return debian_program("promtool")


def prometheus() -> Path:
    return debian_program("prometheus")


def alertmanager() -> Path:
    return debian_program("prometheus-alertmanager")


def etcd() -> Path:
    return debian_program("etcd")


def generate_slo_rules(output: Path) -> None:
    """Sloth: the SLO recording rules and burn-rate alerts, from slos.yaml and our alert windows."""
    subprocess.run(  # noqa: S603 - our own command line
        [
            str(SLOTH.ensure()),
            "generate",
            "--no-log",
            f"--input={HERE / 'slos.yaml'}",
            f"--slo-period-windows-path={HERE / 'sloth'}",
            f"--out={output}",
        ],
        check=True,
        capture_output=True,
    )


def _run(command: list[str], *, cwd: str | None = None, env_extra: dict[str, str] | None = None) -> None:
    env = {**os.environ, **(env_extra or {})}
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603


def main(argv: list[str]) -> int:
    if argv == ["slo-rules"]:
        generate_slo_rules(SLO_RULES)
        return 0
    if argv == ["missing-packages"]:
        sys.stdout.write(" ".join(missing_packages()) + "\n")
        return 0
    for tool in GO_TOOLS:
        sys.stdout.write(f"{tool.name} {tool.version}: {tool.ensure()}\n")
    sys.stdout.write(f"kwok stages: {len(kwok_stages())} files\n")
    for modular in (KUBERNETES, ARGO_ROLLOUTS):
        sys.stdout.write(f"{modular.name} {modular.version}: {modular.ensure()}\n")
    for program in (promtool(), prometheus(), alertmanager(), etcd()):
        sys.stdout.write(f"{program.name}: {program}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
