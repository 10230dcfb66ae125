"""The failure-mode catalogue names real tests: each `tests/...py::name` in it exists, and so do the files
and parametrised tests it names with a leading `::` after another reference."""

import ast
import re
from pathlib import Path

REFERENCE = re.compile(r"`(tests/[\w/]+\.py)((?:::\w+)?)`|`::(\w+)`")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    }


def test_every_test_the_catalogue_names_exists(repo_root: Path) -> None:
    catalogue = (repo_root / "docs" / "operations" / "failure-modes.md").read_text()
    missing = []
    checked = 0
    for line in catalogue.splitlines():
        current: Path | None = None  # a bare `::name` belongs to the file named before it on the line
        for match in REFERENCE.finditer(line):
            file, name, bare = match.groups()
            if file:
                current = repo_root / file
                if not current.exists():
                    missing.append(file)
                    continue
            name = (name or "").removeprefix("::") or bare
            if name and (current is None or name not in _test_names(current)):
                missing.append(f"{current}::{name}")
            checked += bool(name)
    assert missing == []
    assert checked > 20, "the catalogue names its tests"
