"""``pixelpet slo``: each SLO's standing, from the recording rules Sloth generates (observability/slos.yaml).

Burn rate over a window = the window's error ratio / the error budget (1 - objective): 1 spends the budget
exactly over the 30-day period. Whether a page fires is Prometheus' own verdict (its ``ALERTS`` series for
the SLO's page alert), not recomputed here, so the table and the pager never disagree.
"""

import math
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from rich.markup import escape

from pixelpet.cli.errors import FAILED, OK, CommandError, unreachable
from pixelpet.cli.output import Output, Styled

WINDOWS = ("5m", "1h", "6h", "3d")


@dataclass(frozen=True)
class SloStanding:
    slo: str
    objective: float  # e.g. 0.999
    budget_remaining: float  # of the 30-day budget: 1.0 untouched, 0 spent, below 0 overspent
    burn_rates: dict[str, float]
    paging: bool  # its page alert is pending or firing
    ticketing: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            key: (None if isinstance(value, float) and math.isnan(value) else value)
            for key, value in asdict(self).items()
        }


async def standings(prometheus_url: str) -> list[SloStanding]:
    async with httpx.AsyncClient(base_url=prometheus_url, timeout=5) as http:
        objectives = await _by_slo(http, "slo:objective:ratio")
        if not objectives:
            raise CommandError(
                f"{prometheus_url} has no SLO recording rules (slo:objective:ratio): load "
                "observability/prometheus/rules/slos.yml"
            )
        remaining = await _by_slo(http, "slo:period_error_budget_remaining:ratio")
        errors = {window: await _by_slo(http, f"slo:sli_error:ratio_rate{window}") for window in WINDOWS}
        alerts = await _query(http, 'ALERTS{sloth_slo!=""}')
    alerting = {(a["metric"]["sloth_slo"], a["metric"].get("sloth_severity", "")) for a in alerts}
    result = []
    for slo, objective in sorted(objectives.items()):
        budget = 1 - objective
        result.append(
            SloStanding(
                slo=slo,
                objective=objective,
                budget_remaining=remaining.get(slo, math.nan),
                burn_rates={
                    w: errors[w].get(slo, math.nan) / budget if budget else math.nan for w in WINDOWS
                },
                paging=(slo, "page") in alerting,
                ticketing=(slo, "ticket") in alerting,
            )
        )
    return result


async def slo(out: Output, prometheus_url: str) -> int:
    rows = await standings(prometheus_url)
    if out.as_json:
        out.json([row.as_dict() for row in rows])
    else:
        out.table(
            f"SLOs from {prometheus_url}",
            ("slo", "objective", "budget left (30 d)", *(f"burn {w}" for w in WINDOWS), "alert"),
            (_row(row) for row in rows),
        )
    return FAILED if any(row.paging for row in rows) else OK


def _row(row: SloStanding) -> list[str]:
    # Styled: our colours; SLO names come from our own rules.
    colour = "bold red" if row.paging else ("yellow" if row.ticketing else "green")
    alert = "PAGE" if row.paging else ("ticket" if row.ticketing else "none")
    return [
        Styled(f"[{colour}]{escape(row.slo)}[/]"),
        f"{row.objective * 100:g}%",
        _percent(row.budget_remaining),
        *(_number(row.burn_rates[w]) for w in WINDOWS),
        Styled(f"[{colour}]{alert}[/]"),
    ]


def _percent(value: float) -> str:
    return "no data" if math.isnan(value) else f"{value * 100:.1f}%"


def _number(value: float) -> str:
    return "no data" if math.isnan(value) else f"{value:.2f}"


async def _by_slo(http: httpx.AsyncClient, expression: str) -> dict[str, float]:
    return {
        sample["metric"]["sloth_slo"]: float(sample["value"][1]) for sample in await _query(http, expression)
    }


async def _query(http: httpx.AsyncClient, expression: str) -> list[dict[str, Any]]:
    try:
        response = await http.get("/api/v1/query", params={"query": expression})
    except httpx.HTTPError as error:
        raise unreachable(f"Prometheus at {http.base_url}", error) from error
    if response.status_code != 200:
        raise CommandError(
            f"Prometheus answered {response.status_code} to {expression}: {response.text[:200]}"
        )
    samples: list[dict[str, Any]] = response.json()["data"]["result"]
    return samples
