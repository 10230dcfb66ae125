"""An A/B of the service at two commits, alternating in one run on one database (docs/performance.md's log).

    python -m bench.ab --base REV [--head REV] [--rounds 3] [--requests-only | --crowd]

The base commit (and the head, if given; this checkout otherwise) is checked out beside this one (a git
worktree, its own locked environment), so one harness measures both sides, whatever their own; each round
starts a fresh process of each side in turn against the same database and measures the same workloads:
server CPU per request and throughput of a single-pet query and a list of 20, p99 delivery to 1,000
subscribers, and RSS per idle subscriber (``--requests-only``: the two request workloads alone, for a
change that cannot touch the live path; a round pair then takes about a minute). ``--crowd`` measures
the 10,000-subscriber rows instead (bench/crowd.py: all on one pet, and spread over 1,000 pets, each in
a fresh process) and RSS per idle subscriber, for a change to the fan-out; a round pair takes about three
minutes. Medians of the rounds and their ratio (head / base) are printed, and every round's value with
``--crowd`` (the fan-out's p99 is the noisiest number): ratios from one run, not absolute times, because
the machine is shared.
"""

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import crowd
from bench.__main__ import CROWD_LIMITS, LIST, OWNERS, PET, _environment, _token
from bench.processes import Server, stats
from bench.rawhttp import Connection, address, graphql_body, graphql_outcome, post, run_load
from bench.subscriptions import measure_fan_out, measure_idle_memory
from pixelpet.devdb import DevDatabase, free_port

HERE = Path(__file__).resolve().parent.parent
CREATE = "mutation($n: String!) { createPet(input: {name: $n, species: DOG}) { id } }"
Metrics = dict[str, float]


class Side(Server):
    """The service of one side of the A/B: `pixelpet serve` from that side's checkout and environment."""

    def __init__(self, name: str, checkout: Path, env: dict[str, str], log_dir: Path) -> None:
        # Started in its checkout: `python -m` imports from the working directory first, so a side started
        # anywhere else would run that directory's code (until session 8, both sides ran the head's).
        super().__init__(name, ["pixelpet", "serve"], env, log_dir, cwd=checkout)
        self._command = [str(checkout / ".venv" / "bin" / "python"), "-m", "pixelpet", "serve"]
        self._checkout = checkout

    def start(self, ready_path: str = "/readyz") -> None:
        imported = _imported_from(self._checkout)
        if imported != self._checkout.resolve():
            raise RuntimeError(f"the {self.name} side would run the code in {imported}, not {self._checkout}")
        super().start(ready_path)


def _imported_from(checkout: Path) -> Path:
    """The checkout whose pixelpet package a side's interpreter imports, started as a side is."""
    found = subprocess.run(
        [str(checkout / ".venv" / "bin" / "python"), "-c", "import pixelpet; print(pixelpet.__file__)"],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(found.stdout.strip()).resolve().parent.parent


def _checkout(revision: str, where: Path) -> Path:
    subprocess.run(["git", "worktree", "add", "--detach", str(where), revision], cwd=HERE, check=True)
    subprocess.run(["uv", "sync", "--frozen", "--quiet"], cwd=where, check=True)
    return where


# The 10,000-subscriber rows as `make bench` runs them (bench/__main__.py's plan).
CROWD_SUBSCRIPTIONS = 10_000
CROWD_PER_CONNECTION = 10
CROWD_PETS = 1000
ONE_PET_RENAMES = 20


async def _seed(url: str, token: str, pets: int) -> list[str]:
    connection = Connection(*address(url), {"Authorization": f"Bearer {token}"})
    ids = []
    for number in range(pets):
        _, body = await connection.post("/graphql", graphql_body(CREATE, {"n": f"ab{number}"}))
        ids.append(json.loads(body)["data"]["createPet"]["id"])
    await connection.close()
    return ids


async def _cpu_per_request(server: Side, token: str, build: Callable[[int], tuple[str, bytes]]) -> Metrics:
    headers = [{"Authorization": f"Bearer {token}"}]
    step = post(build, graphql_outcome)
    await run_load(url=server.url, step=step, requests=300, concurrency=8, max_seconds=20, headers=headers)
    before = stats(server.pid)
    tally = await run_load(
        url=server.url, step=step, requests=3000, concurrency=16, max_seconds=40, headers=headers
    )
    after = stats(server.pid)
    return {
        "cpu_ms": (after.cpu_seconds - before.cpu_seconds) / max(1, tally.answered) * 1000,
        "rps": tally.rate_per_s(),
    }


async def _round(side: Side, token: str, pet_ids: list[str], requests_only: bool) -> Metrics:
    side.start()
    try:
        pet = await _cpu_per_request(
            side, token, lambda n: ("/graphql", graphql_body(PET, {"id": pet_ids[n % len(pet_ids)]}))
        )
        listed = await _cpu_per_request(side, token, lambda _: ("/graphql", graphql_body(LIST)))
        requests = {
            "pet query CPU ms": pet["cpu_ms"],
            "pet query req/s": pet["rps"],
            "list of 20 CPU ms": listed["cpu_ms"],
            "list of 20 req/s": listed["rps"],
        }
        if requests_only:
            return requests
        fan_out = await measure_fan_out(
            server=side.name, url=side.url, token=token, pet_id=pet_ids[0], subscribers=1000, mutations=20
        )
    finally:
        side.stop()
    side.start()  # a fresh process: memory freed by the work above would hide what idle subscribers cost
    try:
        idle = await measure_idle_memory(
            server=side.name, url=side.url, pid=side.pid, token=token, pet_ids=pet_ids[:1], connections=1000
        )
    finally:
        side.stop()
    return {
        **requests,
        "p99 to 1,000 subscribers ms": fan_out.p99_ms,
        "KiB per idle subscriber": idle.rss_per_subscription_bytes / 1024,
    }


async def _crowd_row(
    side: Side, layout: str, tokens: list[str], watches: list[crowd.Watch], renames: list[tuple[int, str]]
) -> crowd.CrowdResult:
    side.start()
    try:
        return await crowd.measure_crowd(
            layout=layout, url=side.url, pid=side.pid, tokens=tokens, watches=watches, renames=renames
        )
    finally:
        side.stop()


async def _crowd_round(
    name: str,
    checkout: Path,
    env: dict[str, str],
    workdir: Path,
    tokens: list[str],
    pets_by_owner: list[list[str]],
) -> Metrics:
    """bench/crowd.py's two rows and RSS per idle subscriber, each in a fresh process of the side."""
    crowd_env = {**env, **CROWD_LIMITS}
    hot = pets_by_owner[0][0]
    watches = crowd.one_pet(0, hot, subscriptions=CROWD_SUBSCRIPTIONS, per_connection=CROWD_PER_CONNECTION)
    one_pet = await _crowd_row(
        Side(name, checkout, crowd_env, workdir), crowd.ONE_PET, tokens, watches, [(0, hot)] * ONE_PET_RENAMES
    )
    watches, chosen = crowd.spread(
        pets_by_owner, pets=CROWD_PETS, subscriptions=CROWD_SUBSCRIPTIONS, per_connection=CROWD_PER_CONNECTION
    )
    renames = [chosen[number % len(chosen)] for number in range(CROWD_PETS)]
    spread = await _crowd_row(
        Side(name, checkout, crowd_env, workdir), crowd.SPREAD, tokens, watches, renames
    )
    side = Side(name, checkout, env, workdir)
    side.start()
    try:
        idle = await measure_idle_memory(
            server=name,
            url=side.url,
            pid=side.pid,
            token=tokens[0],
            pet_ids=pets_by_owner[0][:1],
            connections=1000,
        )
    finally:
        side.stop()
    return {
        "p99, 10,000 on one pet ms": one_pet.p99_ms,
        "p50, 10,000 on one pet ms": one_pet.p50_ms,
        "p99, 10,000 over 1,000 pets ms": spread.p99_ms,
        "KiB per subscription, 10 per connection (one pet)": (one_pet.rss_bytes - one_pet.rss_before_bytes)
        / one_pet.subscriptions
        / 1024,
        "KiB per idle subscriber": idle.rss_per_subscription_bytes / 1024,
    }


async def run(
    base: Path,
    rounds: int,
    workdir: Path,
    *,
    head: Path = HERE,
    requests_only: bool = False,
    crowd_rows: bool = False,
) -> dict[str, dict[str, list[float]]]:
    database = DevDatabase(storage=workdir / "db", port=free_port(), log_file=workdir / "db.log")
    await database.start_async()
    tokens = [_token(f"owner-{n}") for n in range(OWNERS if crowd_rows else 1)]
    token = tokens[0]
    results: dict[str, dict[str, list[float]]] = {"base": {}, "head": {}}
    try:
        env = _environment(database.uri)
        seeder = Side("seed", head, env, workdir)
        seeder.start()
        try:
            # The crowd's spread row watches 1,000 pets: 50 (the cap) of each of 20 owners.
            pets_by_owner = [await _seed(seeder.url, each, 50 if crowd_rows else 20) for each in tokens]
        finally:
            seeder.stop()
        pet_ids = pets_by_owner[0]
        for number in range(rounds):
            order = [("base", base), ("head", head)] if number % 2 == 0 else [("head", head), ("base", base)]
            for name, checkout in order:
                if crowd_rows:
                    metrics = await _crowd_round(name, checkout, env, workdir, tokens, pets_by_owner)
                else:
                    metrics = await _round(Side(name, checkout, env, workdir), token, pet_ids, requests_only)
                shown = ", ".join(f"{key} {value:.2f}" for key, value in metrics.items())
                print(f"round {number + 1}, {name}: {shown}", flush=True)  # every round, not only the medians
                for key, value in metrics.items():
                    results[name].setdefault(key, []).append(value)
    finally:
        await database.stop_async()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("--base", required=True, help="the commit to compare against")
    parser.add_argument("--head", help="the commit to measure against it (default: this checkout)")
    parser.add_argument("--rounds", type=int, default=3)
    only = parser.add_mutually_exclusive_group()
    only.add_argument(
        "--requests-only", action="store_true", help="only the request workloads (no fan-out, no idle memory)"
    )
    only.add_argument(
        "--crowd",
        action="store_true",
        help="the 10,000-subscriber rows and idle memory (no request workloads)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pixelpet-ab-") as workdir:
        base = _checkout(args.base, Path(workdir) / "base")
        head = _checkout(args.head, Path(workdir) / "head") if args.head else HERE
        try:
            results = asyncio.run(
                run(
                    base,
                    args.rounds,
                    Path(workdir),
                    head=head,
                    requests_only=args.requests_only,
                    crowd_rows=args.crowd,
                )
            )
        finally:
            for checkout in {base, head} - {HERE}:
                subprocess.run(["git", "worktree", "remove", "--force", str(checkout)], cwd=HERE, check=False)
    head_name = args.head[:7] if args.head else "head"
    print(f"| measure ({args.rounds} rounds, medians) | base {args.base[:7]} | {head_name} | head / base |")
    print("|---|---|---|---|")
    for key, values in results["base"].items():
        a, b = statistics.median(values), statistics.median(results["head"][key])
        ratio = f"{b / a:.2f}x" if a else "-"  # a p50 may be 0 ms (deliveries that beat the response)
        print(f"| {key} | {a:.2f} | {b:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
