"""The third-party programs the checks run, built from their Go modules and cached.

Jaeger v2 (which is also the OpenTelemetry Collector distribution we test with: decision 12), Sloth,
actionlint (the workflows), helm (the chart) and Toxiproxy (the network drills) are built with the
machine's Go into ``~/.cache/pixelpet/tools/<name>-<version>/``, once per machine.
Prometheus, Alertmanager and promtool come from Debian's packages (the Makefile installs them).

    python -m observability.tools            # build what is missing, print where each program is
    python -m observability.tools slo-rules  # regenerate prometheus/rules/slos.yml from slos.yaml
"""

import os
import shutil
import subprocess
import sys
import tempfile
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
GO_TOOLS = (JAEGER, SLOTH, ACTIONLINT, HELM, TOXIPROXY)


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
    for tool in GO_TOOLS:
        sys.stdout.write(f"{tool.name} {tool.version}: {tool.ensure()}\n")
    for program in (promtool(), prometheus(), alertmanager()):
        sys.stdout.write(f"{program.name}: {program}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
