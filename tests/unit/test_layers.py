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


# Strawberry's graphql-transport-ws handler keeps its state in plain attributes; seam.ProtocolHandler is the
# only code that reads or changes them. These names are its state, found anywhere in a module that can hold a
# handler (one importing strawberry, the seam or the transport):
HANDLER_STATE = {
    "operations",
    "connection_acknowledged",
    "connection_init_received",
    "connection_init_timeout_task",
    "connection_timed_out",
}
# and within a subclass of the handler (strawberry's or the seam's), what else of strawberry's it holds on
# ``self`` (its collaborators, its sending, its id bookkeeping) or on an operation (its task):
HANDLER_ATTRIBUTES = {
    "view",
    "websocket",
    "context",
    "root_value",
    "schema",
    "connection_init_wait_timeout",
    "max_subscriptions_per_connection",
    "send_message",
    "forget_id",
}
OPERATION_STATE = {"task", "completed", "handler"}
HANDLER_CLASSES = {"BaseGraphQLTransportWSHandler", "ProtocolHandler"}
HANDLER_MODULES = {"pixelpet.graphql.seam", "pixelpet.graphql.transport"}


def _base_name(base: ast.expr) -> str | None:
    if isinstance(base, ast.Subscript):  # BaseGraphQLTransportWSHandler[Context, None]
        base = base.value
    if isinstance(base, ast.Name):
        return base.id
    if isinstance(base, ast.Attribute):
        return base.attr
    return None


def _imported_names(tree: ast.Module) -> set[str]:
    """Modules imported, and what ``from`` imports name (``from pixelpet.graphql import seam``)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def handler_state_reached(module: Path) -> list[str]:
    """Where ``module`` reads or changes strawberry's protocol-handler state, as ``line: name``."""
    tree = ast.parse(module.read_text())
    holds_a_handler = any(
        name.split(".")[0] == "strawberry" or name in HANDLER_MODULES for name in _imported_names(tree)
    )
    found = [
        (node.lineno, node.attr)
        for node in ast.walk(tree)
        if holds_a_handler and isinstance(node, ast.Attribute) and node.attr in HANDLER_STATE
    ]
    for cls in ast.walk(tree):
        if not isinstance(cls, ast.ClassDef) or not HANDLER_CLASSES & {_base_name(b) for b in cls.bases}:
            continue
        for node in ast.walk(cls):
            if not isinstance(node, ast.Attribute):
                continue
            on_self = isinstance(node.value, ast.Name) and node.value.id == "self"
            if (on_self and node.attr in HANDLER_ATTRIBUTES) or node.attr in OPERATION_STATE:
                found.append((node.lineno, node.attr))
    return [f"{line}: {name}" for line, name in sorted(set(found))]


def test_strawberrys_handler_state_is_reached_only_through_the_seam() -> None:
    """Issue 21: an upgrade that changes the handler's state breaks seam.py's tests, not the transport."""
    for module in PACKAGE.rglob("*.py"):
        if module.name == "seam.py":
            continue
        reached = handler_state_reached(module)
        assert not reached, f"{module.relative_to(PACKAGE)} reaches strawberry's handler state at {reached}"


def test_the_handler_state_rule_sees_the_transport_handler() -> None:
    """The rule does not pass for want of a subclass to look at: transport.py's handler is one."""
    tree = ast.parse((PACKAGE / "graphql" / "transport.py").read_text())
    handlers = [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and HANDLER_CLASSES & {_base_name(b) for b in node.bases}
    ]
    assert handlers == ["LiveTransportHandler"]


def test_the_handler_state_rule_catches_what_it_is_for(tmp_path: Path) -> None:
    module = tmp_path / "leaky.py"
    module.write_text(
        "from pixelpet.graphql import seam\n"
        "class H(seam.BaseGraphQLTransportWSHandler[C, None]):\n"
        "    def f(self, operation):\n"
        "        operation.task = None\n"
        "        self.websocket.close()\n"
        "        self._websocket.close()\n"
        "def g(handler):\n"
        "    return handler.connection_acknowledged\n"
    )
    assert handler_state_reached(module) == ["4: task", "5: websocket", "8: connection_acknowledged"]
    unrelated = tmp_path / "counts.py"  # a name of the state, in a module that holds no handler
    unrelated.write_text("def f(load):\n    return load.operations\n")
    assert handler_state_reached(unrelated) == []


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
