"""One runbook per alert, each complete, and every command in them real: PromQL that parses, links that
resolve, `pixelpet` commands that exist, `kubectl` commands that name objects the chart installs, and no
variable the conventions do not define."""

import re
import subprocess
from pathlib import Path

import yaml

from observability import tools
from pixelpet.cli import build
from tests.observability.rules import RUNBOOKS, alert_names

SECTIONS = ("## Meaning", "## Impact", "## Diagnosis", "## Mitigation", "## Escalation")
DOCS = Path(__file__).resolve().parents[2] / "docs"


def runbooks() -> list[Path]:
    return sorted(path for path in RUNBOOKS.rglob("*.md") if path.name != "README.md")


def blocks(language: str, paths: list[Path]) -> list[tuple[Path, str]]:
    pattern = re.compile(rf"```{language}\n(.*?)```", re.DOTALL)
    return [(path, match.strip()) for path in paths for match in pattern.findall(path.read_text())]


def test_every_alert_has_a_runbook_named_after_it_and_every_runbook_an_alert_or_a_scenario() -> None:
    alerts = {path.stem for path in RUNBOOKS.glob("*.md") if path.name != "README.md"}
    assert alerts == alert_names()
    index = (RUNBOOKS / "README.md").read_text()
    for path in runbooks():
        assert f"({path.relative_to(RUNBOOKS)})" in index, f"{path.name} is not listed in runbooks/README.md"


def test_every_runbook_has_the_five_sections_in_order() -> None:
    for path in runbooks():
        text = path.read_text()
        positions = [text.find(section + "\n") for section in SECTIONS]
        assert -1 not in positions, f"{path.name}: needs every section of {SECTIONS}"
        assert positions == sorted(positions), f"{path.name}: sections in the order {SECTIONS}"


def test_every_relative_link_in_the_runbooks_resolves() -> None:
    for path in [*runbooks(), RUNBOOKS / "README.md"]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", path.read_text()):
            if not target.startswith(("http://", "https://")):
                assert (path.parent / target).exists(), f"{path.name}: broken link {target}"


def test_every_promql_expression_in_the_runbooks_and_the_docs_parses(tmp_path: Path) -> None:
    expressions = blocks("promql", [*runbooks(), DOCS / "observability.md"])
    assert len(expressions) > 40
    rules = [
        {"record": f"runbook:check_{index}", "expr": expr} for index, (_, expr) in enumerate(expressions)
    ]
    path = tmp_path / "runbook-expressions.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "runbooks", "rules": rules}]}))
    checked = subprocess.run(
        [str(tools.promtool()), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def cli_commands() -> set[str]:
    """Every command line the CLI has: "doctor", "db recount", ..."""
    app = build()
    names = {command.name or command.callback.__name__ for command in app.registered_commands}  # type: ignore[union-attr]
    for group in app.registered_groups:
        assert group.typer_instance is not None
        names |= {
            f"{group.name} {command.name or command.callback.__name__}"  # type: ignore[union-attr]
            for command in group.typer_instance.registered_commands
        }
    return names


def test_every_pixelpet_command_in_the_runbooks_exists() -> None:
    commands = cli_commands()
    groups = {name.split()[0] for name in commands if " " in name}
    used = set()
    for _, block in blocks("bash", runbooks()):
        for first, second in re.findall(
            r"(?:^|[\s(])(?<!-n )pixelpet ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", block, re.MULTILINE
        ):
            used.add(f"{first} {second}" if first in groups else first)
    assert len(used) >= 5, f"the runbooks use few pixelpet commands: {sorted(used)}"
    assert used <= commands, f"commands the CLI does not have: {sorted(used - commands)}"


# Kubernetes objects the runbooks name --------------------------------------------------------------------

KINDS = {
    "deploy": "Deployment", "deployment": "Deployment", "deployments": "Deployment",
    "rollout": "Rollout", "rollouts": "Rollout", "ro": "Rollout",
    "svc": "Service", "service": "Service",
    "hpa": "HorizontalPodAutoscaler", "horizontalpodautoscaler": "HorizontalPodAutoscaler",
    "pdb": "PodDisruptionBudget", "netpol": "NetworkPolicy", "networkpolicy": "NetworkPolicy",
    "servicemonitor": "ServiceMonitor", "prometheusrule": "PrometheusRule", "podmonitor": "PodMonitor",
    "analysistemplate": "AnalysisTemplate",
}  # fmt: skip
# Kinds that exist only at run time (pods, the runs of an analysis, events): named by a variable, or listed.
RUNTIME = {"pod", "pods", "po", "analysisruns", "analysisrun", "events", "replicasets", "rs"}
VERBS = {"get", "describe", "scale", "patch", "exec", "logs", "delete", "edit", "port-forward", "rollout"}


def kubectl_commands() -> list[tuple[Path, str]]:
    """Every `kubectl ...` command in the runbooks, in code blocks or inline, as one line each."""
    found = []
    for path in [*runbooks(), RUNBOOKS / "README.md"]:
        for match in re.finditer(r"kubectl [^`\n]+", path.read_text()):
            found.append((path, match.group(0)))
    return found


def named_objects(command: str) -> list[tuple[str, str]]:
    """(kind, name) pairs a kubectl command names in the release's namespace (`pixelpet`): `kind/name`,
    `VERB kind name`, `argo rollouts VERB x`. Commands about other installs (`-n observability`) name none."""
    namespace = re.search(r"(?:-n|--namespace)[ =](\S+)", command)
    if namespace and namespace.group(1) != "pixelpet":
        return []
    words = [word.strip("\"'") for word in command.split()[1:]]
    valued = {"-n", "-l", "-o", "-c", "-p", "--tail", "--type", "--subresource", "--sort-by", "--timeout"}
    words = [word for index, word in enumerate(words) if not (index and words[index - 1] in valued)]
    words = [word for word in words if not word.startswith("-") and word not in ("--",)]
    named = []
    if words[:2] == ["argo", "rollouts"]:
        return [("rollout", words[3])] if len(words) > 3 else []
    for word in words:
        if "/" in word and not word.startswith(("http", "$")):
            kind, name = word.split("/", 1)
            named.append((kind, name))
    if words and words[0] in VERBS and len(words) >= 3 and "/" not in words[1] and words[1] != "restart":
        named.append((words[1], words[2]))
    return named


def test_every_kubectl_command_in_the_runbooks_names_an_object_the_chart_installs() -> None:
    from tests.deploy.test_chart import render  # the chart as `make deploy` installs it (release pixelpet)

    installed = {(document["kind"], document["metadata"]["name"]) for document in render("production")}
    checked = 0
    for path, command in kubectl_commands():
        for kind, name in named_objects(command):
            if kind in RUNTIME:
                assert name.startswith("$") or "<" not in name, f"{path.name}: {command}"
                continue
            assert kind in KINDS, f"{path.name}: {command}: unknown kind {kind}"
            assert (KINDS[kind], name) in installed, (
                f"{path.name}: `{command}` names {KINDS[kind]} {name}, which the chart does not install"
            )
            checked += 1
    assert checked >= 8, "the runbooks name the chart's objects"


def test_a_runbook_naming_an_object_the_chart_lacks_fails_the_check() -> None:
    from tests.deploy.test_chart import render

    installed = {(document["kind"], document["metadata"]["name"]) for document in render("production")}
    for command in ("kubectl exec deploy/pixelpet -- pixelpet doctor", "kubectl scale deployment pixelpet"):
        ((kind, name),) = named_objects(command)
        assert (KINDS[kind], name) not in installed, "the canary's workload is a Rollout, not a Deployment"


def test_every_variable_a_runbook_command_uses_is_one_the_conventions_define() -> None:
    index = (RUNBOOKS / "README.md").read_text()
    conventions = index.split("Conventions in the commands", 1)[1].split("\n\n## ", 1)[0]
    defined = set(re.findall(r"`([A-Z][A-Z_]+)`", conventions))
    assert {"PIXELPET_URL", "PROM"} <= defined
    used = {
        (path.name, name)
        for path, block in blocks("bash", runbooks())
        for name in re.findall(r"\$\{?([A-Z][A-Z_]+)", block)
    }
    used |= {
        (path.name, name)
        for path, command in kubectl_commands()
        for name in re.findall(r"\$([A-Z_]+)", command)
    }
    assert used, "the runbooks use variables"
    undefined = sorted((path, name) for path, name in used if name not in defined)
    assert undefined == [], "variables the runbook index does not define"
