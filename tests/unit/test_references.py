"""Every repository path and decision record cited in code comments and docs exists.

A file moved or renamed leaves its old name in comments and prose; this finds it. Paths are read where
they are spelled out (`pixelpet/...py`, `tests/...`, `docs/...`, `observability/...`, `deploy/...`,
`bench/...`), and decisions where cited by number ("decision 11", "docs/decisions/0011").
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATH = re.compile(
    r"(?<![\w/.-])((?:pixelpet|tests|docs|observability|deploy|bench|\.github)/[\w./-]*[\w/])(?![\w(])"
)
DECISION = re.compile(r"\b[Dd]ecision (\d{1,2})\b|docs/decisions/(\d{4})")
# Folders of generated or third-party text, and names that are patterns rather than paths.
SKIP_DIRS = {".venv", ".git", "node_modules", ".pixelpet", "__pycache__", ".mypy_cache", ".ruff_cache"}
SKIP_DIRS |= {".pytest_cache", ".hypothesis"}


def sources() -> list[Path]:
    found = []
    for pattern in ("*.py", "*.md", "*.yml", "*.yaml", "Makefile", "Dockerfile"):
        for path in ROOT.rglob(pattern):
            if not SKIP_DIRS.intersection(path.relative_to(ROOT).parts) and path != Path(__file__):
                found.append(path)
    return sorted(found)


# `kubectl exec deploy/pixelpet`: a Kubernetes object, not a folder.
KUBERNETES_OBJECT = re.compile(r"deploy/[\w-]+")


def cited_paths(text: str) -> set[str]:
    cited = set()
    for match in PATH.finditer(text):
        path = match.group(1).rstrip("./")
        if any(mark in path for mark in ("*", "<", "{", "...")) or KUBERNETES_OBJECT.fullmatch(path):
            continue
        cited.add(path)
    return cited


def exists(path: str) -> bool:
    """A file or folder, or the start of one's name (`docs/decisions/0006`, `values-$(ENV)`)."""
    candidate = ROOT / path
    return candidate.exists() or any(candidate.parent.glob(candidate.name + "*"))


DECISIONS = {int(p.name[:4]) for p in (ROOT / "docs" / "decisions").glob("[0-9][0-9][0-9][0-9]-*.md")}


@pytest.mark.parametrize("source", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cited_path_and_decision_exists(source: Path) -> None:
    text = source.read_text(errors="replace")
    missing = sorted(path for path in cited_paths(text) if not exists(path))
    assert not missing, f"{source.relative_to(ROOT)} cites paths that do not exist: {missing}"
    numbers = {int(a or b) for a, b in DECISION.findall(text)}
    assert numbers <= DECISIONS, f"{source.relative_to(ROOT)} cites decisions {sorted(numbers - DECISIONS)}"


def test_the_check_finds_a_stale_path() -> None:
    assert cited_paths("see pixelpet/pets/feed.py and `tests/unit/pets/`, not deploy/pixelpet.") == {
        "pixelpet/pets/feed.py",
        "tests/unit/pets",
    }
    assert not exists("pixelpet/pets/feed.py")
    assert exists("tests/unit/pets")
