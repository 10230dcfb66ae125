"""`python -m tests.suite [PYTEST OPTIONS]`: the whole suite as `make test` runs it, two pytest runs at once.

The tests in ALONGSIDE spend their minutes waiting, tests/e2e on Prometheus's real SLO windows, or in
processes of their own (the benchmark harness), and share nothing with the other tests: they run in a
second pytest process while the first runs everything else in the usual order (decision 23). The first
run's output comes as it runs, the second's follows it whole; then the slowest tests of both and one closing
line for both. It fails when either run fails. The options go to both runs; plain `pytest` still runs every
test in one process, one after another.
"""

import json
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import IO

import pytest

# Paths, and the prefixes of their tests' ids.
ALONGSIDE = ("tests/integration/test_bench_smoke.py", "tests/e2e/")
SLOWEST = 15
# pytest's exit codes that are not failures: all passed, and nothing was selected (in one run of the two).
OK, NO_TESTS = pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED


# The plugin each run loads (-p tests.suite): every phase of every test, one JSON line each.


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-to", metavar="FILE", help="write each test phase's outcome and duration to FILE"
    )


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("record_to")
    if path:
        config.pluginmanager.register(Recorder(open(path, "a")), "tests.suite.recorder")  # noqa: SIM115


class Recorder:
    def __init__(self, file: IO[str]) -> None:
        self._file = file

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = [report.nodeid, report.when, report.outcome, report.duration]
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def pytest_unconfigure(self) -> None:
        self._file.close()


# The runner.


@dataclass(frozen=True)
class Phase:
    nodeid: str
    when: str  # setup, call or teardown
    outcome: str
    duration: float


def main(options: list[str]) -> int:
    started = time.monotonic()
    # Stopped from outside (a CI timeout), it stops both runs on its way out.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="pixelpet-suite-") as folder:
        work = Path(folder)

        def pytest_run(name: str, *args: str) -> list[str]:
            return [sys.executable, "-m", "pytest", "-p", "tests.suite", f"--record-to={work / name}", *args]

        with open(work / "alongside.log", "wb") as log:
            # No cache: two runs writing .pytest_cache at once would race.
            alongside = subprocess.Popen(
                pytest_run("alongside.jsonl", "-p", "no:cacheprovider", *options, *ALONGSIDE),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        first = subprocess.Popen(
            # --deselect, not --ignore: tests/e2e is one of the testpaths, and those are never ignored.
            pytest_run("first.jsonl", *options, *(f"--deselect={path}" for path in ALONGSIDE))
        )
        try:
            codes = [first.wait(), alongside.wait()]
        # Ctrl-C reaches both runs too: they stop as pytest does, their fixtures torn down. SIGTERM reaches
        # this process only: it stops both runs as Ctrl-C would.
        except KeyboardInterrupt:
            codes = [pytest.ExitCode.INTERRUPTED]
        except SystemExit:
            for process in (first, alongside):
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            raise
        finally:
            for process in (first, alongside):
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        _banner(f"run alongside: {' '.join(ALONGSIDE)}")
        sys.stdout.write((work / "alongside.log").read_text(errors="replace"))
        phases = [
            Phase(*json.loads(line))
            for name in ("first.jsonl", "alongside.jsonl")
            if (work / name).exists()
            for line in (work / name).read_text().splitlines()
        ]
    _summary(phases, time.monotonic() - started)
    failed = [code for code in codes if code not in (OK, NO_TESTS)]
    if failed:
        return int(failed[0])
    return int(OK if OK in codes else NO_TESTS)


def _summary(phases: list[Phase], took_s: float) -> None:
    """The slowest phases of both runs and one closing line, in pytest's own format."""
    _banner(f"slowest {SLOWEST} durations of both runs")
    shown = [phase for phase in phases if phase.duration >= 0.005]  # pytest hides shorter ones too
    for phase in sorted(shown, key=lambda phase: -phase.duration)[:SLOWEST]:
        sys.stdout.write(f"{phase.duration:02.2f}s {phase.when:<8} {phase.nodeid}\n")
    # As pytest counts: a call's outcome, and a failed setup or teardown as an error.
    outcomes: Counter[str] = Counter()
    for phase in phases:
        if phase.when == "call":
            outcomes[phase.outcome] += 1
        elif phase.outcome != "passed":
            outcomes["error" if phase.outcome == "failed" else phase.outcome] += 1
    counts = ", ".join(
        f"{outcomes[name]} {'errors' if name == 'error' and outcomes[name] > 1 else name}"
        for name in ("failed", "passed", "skipped", "error")
        if outcomes[name]
    )
    _banner(f"{counts or 'no tests ran'} in {took_s:.2f}s ({timedelta(seconds=round(took_s))})")


def _banner(text: str) -> None:
    sys.stdout.write(f" {text} ".center(80, "=") + "\n")
    sys.stdout.flush()


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
