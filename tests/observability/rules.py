"""Reading the committed alert rules, for the checks on rules and runbooks."""

from pathlib import Path
from typing import Any

import yaml

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
