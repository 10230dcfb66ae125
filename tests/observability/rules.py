"""Reading the committed alert rules, for the checks on rules and runbooks."""

import subprocess
from pathlib import Path
from typing import Any

import yaml

from observability import tools

OBSERVABILITY = Path(__file__).resolve().parents[2] / "observability"
RULE_FILES = sorted((OBSERVABILITY / "prometheus" / "rules").glob("*.yml"))
RUNBOOKS = OBSERVABILITY / "runbooks"
RUNBOOK_BASE_URL = "https://github.com/pixelpet/pixelpet/blob/main/observability/runbooks/"


def rules(kind: str) -> list[dict[str, Any]]:
    """Every rule of ``kind`` ("alert" or "record") in the committed rule files."""
    found = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            found.extend(rule for rule in group["rules"] if kind in rule)
    return found


def alert_names() -> set[str]:
    return {rule["alert"] for rule in rules("alert")}


def promtool_parses(expressions: list[str], directory: Path) -> tuple[bool, str]:
    """Whether promtool parses every PromQL expression (each checked as a recording rule), and its output."""
    rules = [{"record": f"check:expression_{index}", "expr": expr} for index, expr in enumerate(expressions)]
    path = directory / "expressions.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "expressions", "rules": rules}]}))
    checked = subprocess.run(
        [str(tools.promtool()), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    return checked.returncode == 0, checked.stdout + checked.stderr
