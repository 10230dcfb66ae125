"""The 10,000-subscriber rows' layout and frame counting (bench/crowd.py, bench/subscriptions.py).

No processes; beside the harness's smoke run (test_bench_smoke.py), as unit tests mirror pixelpet/ only.
"""

from collections import Counter
from itertools import pairwise

from bench.crowd import one_pet, spread
from bench.subscriptions import _Probe


def test_spread_watches_every_pet_equally_with_distinct_pets_of_one_owner_per_connection() -> None:
    pets_by_owner = [[f"o{owner}p{pet}" for pet in range(50)] for owner in range(20)]
    watches, renames = spread(pets_by_owner, pets=1000, subscriptions=10_000, per_connection=10)
    assert len(watches) == 1000
    assert all(len(set(watch.pets)) == 10 for watch in watches)
    assert all(pet.startswith(f"o{watch.owner}p") for watch in watches for pet in watch.pets)
    assert set(Counter(pet for watch in watches for pet in watch.pets).values()) == {10}
    # Renames go round every pet once, consecutive ones of different owners.
    assert len({pet for _, pet in renames}) == 1000
    assert all(a[0] != b[0] for a, b in pairwise(renames))


def test_one_pet_puts_every_subscription_on_it() -> None:
    watches = one_pet(0, "hot", subscriptions=10_000, per_connection=10)
    assert len(watches) == 1000
    assert {pet for watch in watches for pet in watch.pets} == {"hot"}


def test_frames_are_counted_across_and_within_reads() -> None:
    probe = _Probe()
    probe.count_frames()
    short, medium = b"\x81\x03abc", b"\x81\x7e\x01\x00" + b"x" * 256  # 7-bit and 16-bit lengths
    stream = short + medium + short
    probe.data_received(stream[:3])
    probe.data_received(stream[3:10])
    assert len(probe.frames) == 1
    probe.data_received(stream[10:])
    assert len(probe.frames) == 3
