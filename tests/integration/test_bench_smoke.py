"""The benchmark harness runs end to end with tiny counts. Timings are never asserted here."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


# The whole harness in one subprocess (its own 600 s bound): the suite's 120 s per test is for hangs, and
# a busy machine took longer than that for this test once.
@pytest.mark.timeout(600)
def test_the_benchmark_harness_runs_and_reports_every_workload(repo_root: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = completed.stdout
    for row in (
        "| pixelpet | pet query |",
        "| pixelpet | list of 20 |",
        "| pixelpet | feedPet |",
        "| pixelpet | create+delete |",
        "| (a) raw PyMongo | pet query |",
        "| pixelpet, trace export on | pet query |",
        "| (b) Starlette + PyMongo | pet query |",
        "| (b) Starlette + PyMongo | list of 20 |",
        "| (b) Starlette + PyMongo | feedPet |",
        "| (c) strawberry defaults | pet query |",
        "| pixelpet + async field tracing | list of 20 |",
        "| pixelpet | 5 |",
        "| pixelpet | 10 |",
        "| pixelpet + per-message deflate | 10 |",
        "| pixelpet, executed per subscriber | 10 |",
        "| pixelpet | 10 | 1 |",  # idle memory: one subscription per connection
        "| 5 | 3 |",  # account subscriptions: players connected, pets each
        "| pixelpet | 5 | 2 |",  # and two per connection
        "| pixelpet + per-message deflate | 10 | 1 |",
        "| spread | 20 x 2 | 4 | 4 | 40 |",  # 40 subscribers on one process: over 4 pets, 2 per connection
        "| one pet | 20 x 2 | 1 | 2 | 80 |",  # and all on one pet: each rename reaches all 40
        "| 900 repeated fields | 2,742 |",  # hostile documents, refused by the field limit
        "| fragment bomb (40 levels, each spread twice) |",
    ):
        assert row in report, row
    assert "http_" not in report, "every request got an HTTP answer"
    # The (b) ratios come from rounds alternating the two sides, each round's ratio listed.
    assert "The CPU ratio of each round:" in report, report
    for workload in ("pet query", "list of 20", "feedPet"):
        assert re.search(rf"    - {workload}: \d+\.\d\dx, \d+\.\d\dx\n", report), workload
    # The export-on row's spans reached the benchmark's OTLP receiver (a behaviour, not a timing).
    assert re.search(r"Received during the measured load: export requests [1-9]\d* ", report), report
    # Time passing must never write to the database: a behaviour, not a timing.
    assert "**0 database writes**" in report
