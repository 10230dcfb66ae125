"""One runbook per alert, each complete, and every command in them real: PromQL that parses, links that
resolve, `pixelpet` commands that exist."""

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
            r"(?:^|[\s(])pixelpet ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", block, re.MULTILINE
        ):
            used.add(f"{first} {second}" if first in groups else first)
    assert len(used) >= 5, f"the runbooks use few pixelpet commands: {sorted(used)}"
    assert used <= commands, f"commands the CLI does not have: {sorted(used - commands)}"
