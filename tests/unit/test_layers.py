"""The package's layers point one way: the API layer (graphql/) depends on the domain (pets/), never back.

Read from the source, so a new import that breaks the rule fails here, not in a reviewer's head.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pixelpet"


def imports_of(module: Path) -> set[str]:
    """Every ``pixelpet...`` module ``module`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("pixelpet")}


def modules(package: str) -> list[Path]:
    return sorted((PACKAGE / package).glob("*.py"))


@pytest.mark.parametrize("module", modules("pets"), ids=lambda path: path.name)
def test_pets_code_never_imports_the_api_layer_or_concrete_metrics(module: Path) -> None:
    forbidden = {
        name
        for name in imports_of(module)
        if name.startswith("pixelpet.graphql") or name == "pixelpet.telemetry.metrics"
    }
    assert not forbidden, f"pets/{module.name} reports through pixelpet/pets/events.py protocols instead"


@pytest.mark.parametrize("neutral", ["live_source.py", "deadline.py", "auth.py", "clock.py", "errors.py"])
def test_what_both_layers_share_depends_on_neither(neutral: str) -> None:
    assert not {
        name
        for name in imports_of(PACKAGE / neutral)
        if name.startswith(("pixelpet.graphql", "pixelpet.pets"))
    }


def test_the_subscription_transport_does_not_reach_back_into_its_endpoint() -> None:
    # The endpoint builds the handler and hands it its collaborators; the handler never imports it.
    assert "pixelpet.graphql.endpoint" not in imports_of(PACKAGE / "graphql" / "transport.py")
    assert "pixelpet.graphql.endpoint" not in imports_of(PACKAGE / "graphql" / "live_operation.py")
