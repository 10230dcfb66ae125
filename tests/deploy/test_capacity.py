"""capacity.md's replica arithmetic, recomputed from the chart's values: the HPA's target is a share of the
CPU request (not of a core), so the replicas a load needs follow from the request times the target."""

import math
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CAPACITY = (ROOT / "docs" / "operations" / "capacity.md").read_text()
VALUES = yaml.safe_load((ROOT / "deploy" / "helm" / "pixelpet" / "values.yaml").read_text())
TIMES = "\N{MULTIPLICATION SIGN}"  # as capacity.md writes a product
MIX = re.compile(rf"((?:[\d.]+ {TIMES} [\d.]+(?: \+ )?)+) = \*\*([\d.]+) CPU-s per 1,000 requests\*\*")


def mix_cores_per_thousand() -> float:
    """The typical mix's CPU-seconds per 1,000 requests, summed from capacity.md's own terms."""
    mix = MIX.search(CAPACITY)
    assert mix, "capacity.md states the mix's CPU per 1,000 requests"
    total = sum(float(a) * float(b) for a, b in re.findall(rf"([\d.]+) {TIMES} ([\d.]+)", mix.group(1)))
    assert round(total, 1) == float(mix.group(2))
    return total


def cores_per_replica_at_target() -> float:
    request = VALUES["resources"]["requests"]["cpu"]
    cores = int(request.removesuffix("m")) / 1000 if request.endswith("m") else float(request)
    return cores * VALUES["autoscaling"]["targetCPUUtilizationPercentage"] / 100


def test_the_replicas_per_thousand_requests_follow_from_the_hpa_target_of_the_cpu_request() -> None:
    per_replica = cores_per_replica_at_target()
    replicas = math.ceil(mix_cores_per_thousand() / per_replica)
    assert f"**{round(per_replica * 1000)}m per replica**" in CAPACITY
    assert re.search(rf"\*\*{replicas}\s+replicas\*\*", CAPACITY), f"{replicas} replicas at the target"
    assert f"**{replicas + 1} replicas per 1,000 req/s**" in CAPACITY


def test_the_hpa_maximum_is_stated_as_the_load_it_holds() -> None:
    maximum = VALUES["autoscaling"]["maxReplicas"]
    per_replica = cores_per_replica_at_target()
    held = maximum * per_replica
    assert (
        f"maximum of {maximum} replicas holds {maximum} {TIMES} {per_replica:g} = **{held:.1f} cores**"
        in CAPACITY
    )
    load = held / mix_cores_per_thousand() * 1000
    # Rounded down: a load the maximum holds, never one just past it.
    assert f"about **{math.floor(load / 50) * 50:,} req/s**" in CAPACITY
