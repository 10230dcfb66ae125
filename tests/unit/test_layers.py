"""The package's layers, read from the source: a new import that breaks a rule fails here.

- ``pets/`` is the core: pure rules, the aggregate, the use cases, the ports and the live core. It knows
  no framework, driver or protocol, and none of the other layers.
- ``storage/`` adapts MongoDB to the ports; it knows nothing of GraphQL or HTTP.
- ``graphql/`` is the API edge; it reaches the database only through the core.
- What every layer shares (errors, the clock) depends on none of them.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pixelpet"

# Third-party packages and our own packages each layer must not import.
FORBIDDEN = {
    "pets": {
        "strawberry",
        "graphql",
        "beanie",
        "pymongo",
        "bson",
        "motor",
        "starlette",
        "uvicorn",
        "httpx",
        "opentelemetry",
        "prometheus_client",
        "pydantic",
        "pydantic_settings",
        "pixelpet.graphql",
        "pixelpet.storage",
        "pixelpet.telemetry",
        "pixelpet.app",
        "pixelpet.runtime",
        "pixelpet.settings",
        "pixelpet.cli",
    },
    "storage": {"strawberry", "graphql", "starlette", "uvicorn", "pixelpet.graphql", "pixelpet.cli"},
    "graphql": {"beanie", "pymongo", "bson", "motor", "pixelpet.storage", "pixelpet.cli"},
}
SHARED = ["errors.py", "clock.py"]


def imports_of(module: Path) -> set[str]:
    """Every module ``module`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def breaks(imported: str, forbidden: set[str]) -> bool:
    return any(imported == name or imported.startswith(name + ".") for name in forbidden)


def modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize(
    ("layer", "module"),
    [(layer, module) for layer in FORBIDDEN for module in modules(layer)],
    ids=lambda value: value if isinstance(value, str) else str(value.relative_to(PACKAGE)),
)
def test_each_layer_imports_only_what_it_may(layer: str, module: Path) -> None:
    wrong = {name for name in imports_of(module) if breaks(name, FORBIDDEN[layer])}
    assert not wrong, f"{module.relative_to(PACKAGE)} must not import {sorted(wrong)}"


@pytest.mark.parametrize("shared", SHARED)
def test_what_every_layer_shares_depends_on_none(shared: str) -> None:
    ours = {name for name in imports_of(PACKAGE / shared) if name.startswith("pixelpet")}
    assert not ours


def test_the_rules_catch_what_they_are_for(tmp_path: Path) -> None:
    """The check itself: an import from a forbidden package, even nested or aliased, is found."""
    module = tmp_path / "leaky.py"
    module.write_text(
        "def f():\n    from pymongo.errors import PyMongoError as E\n    import strawberry.types\n"
    )
    assert {name for name in imports_of(module) if breaks(name, FORBIDDEN["pets"])} == {
        "pymongo.errors",
        "strawberry.types",
    }
    assert not breaks("pymongoose", {"pymongo"})


def test_the_subscription_transport_does_not_reach_back_into_its_endpoint() -> None:
    # The endpoint builds the handler and hands it its collaborators; the handler never imports it.
    assert "pixelpet.graphql.endpoint" not in imports_of(PACKAGE / "graphql" / "transport.py")
    assert "pixelpet.graphql.endpoint" not in imports_of(PACKAGE / "graphql" / "live_operation.py")


def test_strawberry_internals_are_reached_only_through_the_seam() -> None:
    """Strawberry's private modules (anything beyond its documented top-level API) appear in seam.py only."""
    public = {
        "strawberry",
        "strawberry.extensions",
        "strawberry.types",
        "strawberry.asgi",
        "strawberry.http",
        "strawberry.schema",
        "strawberry.exceptions",
        "strawberry.subscriptions",
    }
    for module in PACKAGE.rglob("*.py"):
        if module.name == "seam.py":
            continue
        private = {n for n in imports_of(module) if n.startswith("strawberry") and n not in public}
        assert not private, f"{module.relative_to(PACKAGE)} imports {sorted(private)}: go through seam.py"
        assert "._schema" not in module.read_text(), f"{module.relative_to(PACKAGE)} reads Schema._schema"


# Tests about the repository as a whole, not one module.
WHOLE_REPOSITORY = {"test_layers.py", "test_references.py", "storage/test_contract.py"}


def test_unit_tests_mirror_the_package() -> None:
    """tests/unit/<path>/test_<module>.py tests pixelpet/<path>/<module>.py: a reader finds it by name."""
    unit = Path(__file__).resolve().parent
    strays = []
    for test in sorted(unit.rglob("test_*.py")):
        relative = test.relative_to(unit)
        if str(relative) in WHOLE_REPOSITORY:
            continue
        module = PACKAGE / relative.parent / relative.name.removeprefix("test_")
        if not module.exists():
            strays.append(str(relative))
    assert strays == [], "each unit test file is named after the module it tests"


def test_the_core_has_a_unit_test_per_module() -> None:
    unit = Path(__file__).resolve().parent
    untested = [
        str(module.relative_to(PACKAGE))
        for module in sorted((PACKAGE / "pets").rglob("*.py"))
        if module.name != "__init__.py"
        and module.name not in {"events.py", "ports.py", "rules.py"}  # protocols and a table
        and not (unit / module.relative_to(PACKAGE).parent / f"test_{module.name}").exists()
    ]
    assert untested == []
