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
