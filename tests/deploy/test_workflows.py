"""The GitHub Actions workflows: actionlint and the workflow schema pass, every third-party action is pinned
by commit, permissions are least-privilege, every job is bounded, and CI runs this repository's own make
targets. The schema gate script is tested on real schema changes."""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from observability import tools
from tests.support.service import venv_tool

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BREAKING = ROOT / ".github" / "scripts" / "breaking_changes.py"


def load(path: Path) -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load(path.read_text())
    return workflow


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT, timeout=120)


def test_actionlint_finds_nothing() -> None:
    linted = run([str(tools.ACTIONLINT.ensure()), "-no-color", *map(str, WORKFLOWS)])
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_workflows_and_dependabot_follow_their_schemas() -> None:
    check = venv_tool("check-jsonschema")
    workflows = run([check, "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)])
    assert workflows.returncode == 0, workflows.stdout + workflows.stderr
    dependabot = run(
        [check, "--builtin-schema", "vendor.dependabot", str(ROOT / ".github" / "dependabot.yml")]
    )
    assert dependabot.returncode == 0, dependabot.stdout + dependabot.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_by_commit_with_its_version_named(path: Path) -> None:
    uses = re.findall(r"uses: (\S+)(.*)", path.read_text())
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), f"{path.name}: {action} is not pinned"
        assert re.fullmatch(r" # v\d+(\.\d+)*", comment), (
            f"{path.name}: {action} needs its version as a comment"
        )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_workflow_is_least_privilege_serialised_and_bounded(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {"contents": "read"}, "the default token may only read"
    assert workflow["concurrency"]["group"]
    for name, job in workflow["jobs"].items():
        assert 0 < job["timeout-minutes"] <= 60, f"{path.name}: {name}"
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, f"{path.name}: {name}"


def test_ci_runs_what_ci_run_runs_and_the_make_targets_exist() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    used = {target for path in WORKFLOWS for target in re.findall(r"\bmake ([a-z-]+)", path.read_text())}
    assert {"test", "lint", "schema", "deploy"} <= used
    assert used <= targets, f"workflows call make targets that do not exist: {used - targets}"


BASE = """
type Query { pet(id: ID!): Pet }
type Pet { id: ID! name: String! }
"""


@pytest.mark.parametrize(
    ("new", "breaking"),
    [
        ("type Query { pet(id: ID!): Pet }\ntype Pet { id: ID! name: String! mood: String }", False),
        ("type Query { pet(id: ID!): Pet }\ntype Pet { id: ID! }", True),
        ("type Query { pet(id: ID!, owner: ID!): Pet }\ntype Pet { id: ID! name: String! }", True),
    ],
    ids=["a new field passes", "a removed field fails", "a new required argument fails"],
)
def test_the_schema_gate_fails_exactly_on_breaking_changes(tmp_path: Path, new: str, breaking: bool) -> None:
    (tmp_path / "base.graphql").write_text(BASE)
    (tmp_path / "new.graphql").write_text(new)
    gate = run([sys.executable, str(BREAKING), str(tmp_path / "base.graphql"), str(tmp_path / "new.graphql")])
    assert gate.returncode == (1 if breaking else 0), gate.stdout
    assert ("BREAKING" in gate.stdout) is breaking


def test_the_committed_schema_passes_the_gate_against_itself() -> None:
    gate = run([sys.executable, str(BREAKING), "schema.graphql", "schema.graphql"])
    assert gate.returncode == 0, gate.stdout


# What a first run on GitHub's runners would meet (issue 20) -------------------------------------------------

SETUP_PYTHON = "actions/setup-python@"
RUNS_PYTHON = re.compile(r"(?:^|[\s;&|(\"'])(uv|uvx|make|pytest)\s")


def jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [(path.name, name, job) for path in WORKFLOWS for name, job in load(path)["jobs"].items()]


def provisions_the_python_version(step: dict[str, Any]) -> bool:
    return str(step.get("uses", "")).startswith(SETUP_PYTHON) and step.get("with", {}) == {
        "python-version-file": ".python-version"
    }


@pytest.mark.parametrize(("workflow", "job", "definition"), jobs(), ids=lambda value: str(value)[:20])
def test_every_job_that_runs_uv_make_or_pytest_first_provisions_the_python_version_file(
    workflow: str, job: str, definition: dict[str, Any]
) -> None:
    """pyproject.toml allows only the system's Python (no downloads) and .python-version names 3.11; the
    runners' own python3 is 3.12. A job that runs uv, make or pytest must set up .python-version first."""
    provisioned = False
    for step in definition["steps"]:
        provisioned = provisioned or provisions_the_python_version(step)
        if RUNS_PYTHON.search(str(step.get("run", ""))):
            assert provisioned, (
                f"{workflow}: job {job} runs {step['run']!r} before setting up .python-version"
            )


def test_the_python_check_notices_a_job_without_it() -> None:
    job = {"steps": [{"uses": "actions/checkout@x"}, {"run": "make lint"}]}
    with pytest.raises(AssertionError):
        test_every_job_that_runs_uv_make_or_pytest_first_provisions_the_python_version_file(
            "ci.yml", "lint", job
        )


def test_the_breaking_change_label_reruns_the_gate() -> None:
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    triggers = ci[True]  # PyYAML reads the key `on` as True
    assert {"labeled", "unlabeled", "opened", "synchronize", "reopened"} <= set(
        triggers["pull_request"]["types"]
    )
    assert "breaking-change" in str(ci["jobs"]["schema"])


def test_the_mongodb_wait_fails_after_its_last_try(tmp_path: Path) -> None:
    """The loop that waits for MongoDB's primary, run with a `docker` that never succeeds: it must fail."""
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    (script,) = [step["run"] for step in ci["jobs"]["mongodb"]["steps"] if "mongosh" in step.get("run", "")]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for fake, body in (("docker", "exit 1"), ("sleep", "exit 0")):
        (bin_dir / fake).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / fake).chmod(0o755)
    ran = subprocess.run(
        ["bash", "-e", "-c", script],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode != 0, "a MongoDB that never becomes primary must fail the step"
    healthy = bin_dir / "docker"
    healthy.write_text("#!/bin/sh\nexit 0\n")
    ran = subprocess.run(
        ["bash", "-e", "-c", script], env={"PATH": f"{bin_dir}:/usr/bin:/bin"}, timeout=60, check=False
    )
    assert ran.returncode == 0


def test_make_tools_installs_only_what_is_missing_so_runc_never_meets_containerd() -> None:
    """GitHub's Ubuntu runners have Docker's containerd.io (its own runc; the runc package conflicts with it),
    Google Chrome, and no Debian archive keys (mmdebstrap bookworm needs them)."""
    ubuntu_runner = {"runc", "podman", "curl", "google-chrome", "nginx"}
    missing = tools.missing_packages(
        which=lambda name: f"/usr/bin/{name}" if name in ubuntu_runner else None, exists=lambda path: False
    )
    assert "runc" not in missing
    assert "chromium" not in missing
    assert "debian-archive-keyring" in missing
    assert {"prometheus", "prometheus-alertmanager", "mmdebstrap", "etcd-server"} <= set(missing)
    everything = tools.missing_packages(which=lambda name: f"/usr/bin/{name}", exists=lambda path: True)
    assert everything == []
    recipe = (ROOT / "Makefile").read_text().split("\ntools:", 1)[1].split("\n.PHONY", 1)[0]
    install = next(line for line in recipe.splitlines() if "apt-get install" in line)
    assert "$$missing" in install, "install only the missing packages"
    assert "runc" not in install


def test_dependabot_watches_the_base_image_only_where_it_can_read_it() -> None:
    """Dependabot's docker updater reads `FROM image:tag@digest` lines; it does not resolve an ARG in FROM.
    So either a literal FROM carries the pinned base, or no docs claim Dependabot keeps it current."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    literal_from = re.search(r"^FROM [a-z0-9./-]+:[\w.-]+@sha256:[0-9a-f]{64}", dockerfile, re.MULTILINE)
    dependabot = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    ecosystems = {update["package-ecosystem"] for update in dependabot["updates"]}
    if literal_from is None:
        assert "docker" not in ecosystems, "Dependabot's docker updates cannot see an ARG in FROM"
        claims = [ROOT / "Dockerfile", ROOT / "docs" / "operations" / "deployment.md"]
        for path in claims:
            verb = r"Dependabot(?:'s docker updates)? (?:keeps?|updates?|refresh\w*)"
            claim = verb + r"[^.;(]*(?:digest|base|current)"
            assert not re.search(claim, path.read_text()), (
                f"{path.name} says Dependabot updates the base image"
            )
