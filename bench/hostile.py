"""How long the event loop spends refusing hostile documents, against parsing and validating a normal one.

Each document is fresh (varied per sample, so no cache serves it), as an attacker would send it. Measured
in process, on the service's own schema and limits: this is the CPU the one event loop gives to each.

    python -m bench.hostile     # prints the table (make bench puts it in docs/performance.md)
"""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from graphql import GraphQLError

from pixelpet.graphql.schema import build_schema
from pixelpet.settings import LimitSettings

SAMPLES = 30
# The target: each hostile document refused in under 50 ms.
TARGET_MS = 50.0


@dataclass(frozen=True)
class HostileResult:
    document: str
    characters: int
    median_ms: float
    p95_ms: float
    outcome: str


def _node_fields(fields: str) -> Callable[[int], str]:
    """A pets query selecting ``fields`` on each node; ``first`` varies so each sample is a fresh text."""
    return lambda n: f"{{ pets(first: {n % 90 + 1}) {{ edges {{ node {{ {fields} }} }} }} }}"


def _aliases(n: int) -> str:
    return "{ " + " ".join(f"a{n}x{i}: pets {{ edges {{ cursor }} }}" for i in range(1000)) + " }"


def _fragment_bomb(n: int) -> str:
    """40 fragments, each spreading the previous one twice: 3 * 2^39 fields once expanded."""
    fragments = [f"fragment F0x{n} on Pet {{ id name mood }}"]
    fragments += [f"fragment F{i}x{n} on Pet {{ ...F{i - 1}x{n} ...F{i - 1}x{n} }}" for i in range(1, 40)]
    return f"{{ pets(first: 1) {{ edges {{ node {{ ...F39x{n} }} }} }} }} " + " ".join(fragments)


def _many_fragments(n: int) -> str:
    """60 fragments spread side by side (under the token limit, over the field limit once expanded)."""
    fragments = [f"fragment G{i}x{n} on Pet {{ id name mood needs stats {{ hunger }} }}" for i in range(60)]
    spreads = " ".join(f"...G{i}x{n}" for i in range(60))
    return f"{{ pets(first: 1) {{ edges {{ node {{ {spreads} }} }} }} }} " + " ".join(fragments)


def _documents() -> dict[str, Callable[[int], str]]:
    return {
        "normal query (baseline)": _node_fields("id name mood"),
        "1,000 aliases": _aliases,
        "20,000 tokens": _node_fields("id " * 20_000),
        "900 repeated fields": _node_fields("id " * 900),
        "190 repeated fields (under the field limit)": _node_fields("id " * 190),
        "fragment bomb (40 levels, each spread twice)": _fragment_bomb,
        "60 fragments side by side": _many_fragments,
    }


def measure(samples: int = SAMPLES) -> list[HostileResult]:
    schema = build_schema(LimitSettings())
    cache = schema.document_cache
    results = []
    for name, make in _documents().items():
        timings = []
        outcome = "accepted"
        for sample in range(samples):
            document = make(sample)
            started = time.perf_counter()
            try:
                errors = cache.validate(schema._schema, cache.parse(document), cache.all_rules)
            except GraphQLError as error:
                errors = [error]
            timings.append((time.perf_counter() - started) * 1000)
            outcome = errors[0].message.splitlines()[0] if errors else "accepted"
        results.append(HostileResult(name, len(make(0)), statistics.median(timings), max(timings), outcome))
    return results


def render(results: list[HostileResult]) -> list[str]:
    baseline = results[0].median_ms
    lines = [
        "## Hostile documents",
        "",
        "Time on the event loop to parse and validate a fresh document "
        f"({SAMPLES} samples each, each varied so that no",
        "cache serves it; `bench/hostile.py`). "
        f"Target: every hostile document refused in under {TARGET_MS:.0f} ms at the median.",
        "The p95 column is mostly garbage-collection pauses (a run with the collector off has p95 within",
        "10% of the median); see decision 10.",
        "",
        "| document | characters | median ms | p95 ms | x normal | outcome |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        ratio = result.median_ms / baseline if baseline else float("nan")
        lines.append(
            f"| {result.document} | {result.characters:,} | {result.median_ms:.2f} | {result.p95_ms:.2f} "
            f"| {ratio:.1f} | {result.outcome} |"
        )
    return lines


if __name__ == "__main__":
    print("\n".join(render(measure())))
