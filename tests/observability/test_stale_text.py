"""Text that went stale when what it waited for arrived: every document a file cites exists, no sentence still
waits for a file that exists, and the metrics table lists every reason the code reports."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    *ROOT.glob("pixelpet/**/*.py"),
    *ROOT.glob("observability/**/*.md"),
    *ROOT.glob("observability/**/*.py"),
    *ROOT.glob("docs/**/*.md"),
    ROOT / "README.md",
]


def test_every_document_a_file_cites_exists() -> None:
    missing = [
        f"{path.relative_to(ROOT)}: {cited}"
        for path in SOURCES
        for cited in re.findall(
            r"(?<![\w/.])((?:docs|observability|deploy)/[\w./-]+\.(?:md|yaml|yml))", path.read_text()
        )
        if not (ROOT / cited).exists()
    ]
    assert missing == []


def test_no_text_waits_for_a_file_that_exists() -> None:
    waiting = re.compile(
        r"(?:once|when|until) `?([\w./-]+\.\w+)`? (?:exists|is written|lands)|([\w./-]+\.\w+) when it exists"
    )
    stale = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in SOURCES
        for match in waiting.finditer(path.read_text())
        if any(name and list(ROOT.rglob(Path(name).name)) for name in match.groups())
    ]
    assert stale == []


def test_the_metrics_table_lists_every_change_stream_restart_reason() -> None:
    reasons = set(
        re.findall(
            r'change_stream_restarted\("(\w+)"\)',
            (ROOT / "pixelpet" / "storage" / "change_stream.py").read_text(),
        )
    )
    assert reasons >= {"error", "history_lost"}
    (row,) = [
        line
        for line in (ROOT / "docs" / "observability.md").read_text().splitlines()
        if "pixelpet_change_stream_restarts_total" in line and line.startswith("|")
    ]
    listed = set(re.search(r"reason \(([^)]*)\)", row).group(1).split(", "))  # type: ignore[union-attr]
    assert listed == reasons
