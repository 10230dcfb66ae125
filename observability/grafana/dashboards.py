"""The Grafana dashboards, as code: `make dashboards` writes observability/grafana/dashboards/*.json.

Read by: Grafana (compose.yaml provisions provisioning/ and dashboards/). Proved by:
tests/observability/test_dashboards.py (the committed JSON matches this file) and
tests/e2e/test_observability_stack.py (every panel's query returns data from a real Prometheus).

Each panel answers one on-call question; its description says which. Queries use only the service's
own metrics and Sloth's recording rules, except the span-derived RED panel (the Collector's
spanmetrics), so the dashboards keep working when tracing is down.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders.dashboard import Dashboard, DatasourceVariable, Row
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as Stat
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

OUTPUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
JOB = 'job="pixelpet"'
RATE = "$__rate_interval"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    exemplars: bool = False


@dataclass(frozen=True)
class PanelSpec:
    title: str
    description: str
    unit: str
    queries: tuple[Query, ...]
    stat: bool = False


@dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    rows: tuple[tuple[str, tuple[PanelSpec, ...]], ...]


def _p99(metric: str, by: str = "") -> str:
    group = f"le, {by}" if by else "le"
    return f"histogram_quantile(0.99, sum by ({group}) (rate({metric}_bucket{{{JOB}}}[{RATE}])))"


SLO_NAMES = ("availability", "query-latency", "mutation-latency", "subscription-freshness")

SLO = DashboardSpec(
    uid="pixelpet-slo",
    title="Pixel Pet / SLOs",
    description="Error budgets and burn rates of every SLO (observability/slos.yaml).",
    rows=(
        (
            "Error budget",
            tuple(
                PanelSpec(
                    title=f"{name}: budget remaining (30 d)",
                    description="Share of the 30-day error budget left. Below 0: the SLO is missed.",
                    unit="percentunit",
                    queries=(
                        Query(
                            f'slo:period_error_budget_remaining:ratio{{sloth_service="pixelpet",sloth_slo="{name}"}}'
                        ),
                    ),
                    stat=True,
                )
                for name in SLO_NAMES
            ),
        ),
        (
            "Burn rates",
            (
                PanelSpec(
                    title="Burn rate, last 5 minutes",
                    description="1 spends the budget exactly over 30 days; the fast page needs 14.4 over 1 h too.",
                    unit="none",
                    queries=(
                        Query('slo:current_burn_rate:ratio{sloth_service="pixelpet"}', "{{sloth_slo}}"),
                    ),
                ),
                PanelSpec(
                    title="Error ratio by alert window",
                    description="The SLI error ratios the burn-rate alerts compare (short and long windows).",
                    unit="percentunit",
                    queries=tuple(
                        Query(
                            f'slo:sli_error:ratio_rate{window}{{sloth_service="pixelpet"}}',
                            "{{sloth_slo}} " + window,
                        )
                        for window in ("5m", "1h", "6h")
                    ),
                ),
            ),
        ),
    ),
)

RED = DashboardSpec(
    uid="pixelpet-red",
    title="Pixel Pet / GraphQL RED",
    description="Rate, errors and duration per GraphQL operation; exemplars open the trace in Jaeger.",
    rows=(
        (
            "Operations",
            (
                PanelSpec(
                    title="Requests per second by operation",
                    description="Which operations players use; a sudden change is traffic or a client release.",
                    unit="reqps",
                    queries=(
                        Query(
                            f"sum by (operation_type, operation) (rate(pixelpet_graphql_requests_total{{{JOB}}}[{RATE}]))",
                            "{{operation_type}} {{operation}}",
                        ),
                    ),
                ),
                PanelSpec(
                    title="Errors per second by code",
                    description="UNAVAILABLE and INTERNAL_SERVER_ERROR burn the budget; the others are clients.",
                    unit="reqps",
                    queries=(
                        Query(
                            f'sum by (code) (rate(pixelpet_graphql_requests_total{{{JOB},code!="OK"}}[{RATE}]))',
                            "{{code}}",
                        ),
                    ),
                ),
                PanelSpec(
                    title="p99 latency by operation",
                    description="Against the SLO thresholds: queries 300 ms, mutations 500 ms. Dots are exemplars.",
                    unit="s",
                    queries=(
                        Query(
                            _p99("pixelpet_graphql_request_duration_seconds", "operation_type, operation"),
                            "{{operation_type}} {{operation}}",
                            exemplars=True,
                        ),
                    ),
                ),
            ),
        ),
        (
            "From traces (spanmetrics)",
            (
                PanelSpec(
                    title="Server spans per second (spanmetrics)",
                    description="The Collector's count of every span before sampling; compare with the service's own.",
                    unit="reqps",
                    queries=(
                        Query(
                            'sum by (span_name) (rate(traces_span_metrics_calls_total{service_name="pixelpet",'
                            f'span_kind="SPAN_KIND_SERVER"}}[{RATE}]))',
                            "{{span_name}}",
                        ),
                    ),
                ),
                PanelSpec(
                    title="p99 span duration by span (spanmetrics)",
                    description="Which resolver or MongoDB command is slow, from every span.",
                    unit="ms",
                    queries=(
                        Query(
                            "histogram_quantile(0.99, sum by (le, span_name) "
                            '(rate(traces_span_metrics_duration_milliseconds_bucket{service_name="pixelpet"}'
                            f"[{RATE}])))",
                            "{{span_name}}",
                            exemplars=True,
                        ),
                    ),
                ),
            ),
        ),
    ),
)

MONGODB = DashboardSpec(
    uid="pixelpet-mongodb",
    title="Pixel Pet / MongoDB",
    description="Is the database the cause? Command latency, the connection pool, reachability.",
    rows=(
        (
            "Commands",
            (
                PanelSpec(
                    title="p99 command duration by command",
                    description="If this tracks request latency, the database is the bottleneck.",
                    unit="s",
                    queries=(
                        Query(_p99("pixelpet_mongodb_command_duration_seconds", "command"), "{{command}}"),
                    ),
                ),
                PanelSpec(
                    title="Commands per second by command",
                    description="Load on the database from this service.",
                    unit="ops",
                    queries=(
                        Query(
                            f"sum by (command) (rate(pixelpet_mongodb_command_duration_seconds_count{{{JOB}}}[{RATE}]))",
                            "{{command}}",
                        ),
                    ),
                ),
                PanelSpec(
                    title="Primary reachable",
                    description="1: the driver knows a writable primary. 0: every database call fails.",
                    unit="none",
                    queries=(Query(f"pixelpet_mongodb_primary_reachable{{{JOB}}}", "{{instance}}"),),
                ),
            ),
        ),
        (
            "Connection pool",
            (
                PanelSpec(
                    title="p99 wait for a pooled connection",
                    description="Pool saturation shows here before latency does.",
                    unit="s",
                    queries=(
                        Query(
                            _p99("pixelpet_mongodb_pool_checkout_wait_seconds", "instance"), "{{instance}}"
                        ),
                    ),
                ),
                PanelSpec(
                    title="Connections in use",
                    description="Against PIXELPET_MONGO__MAX_POOL_SIZE per instance.",
                    unit="none",
                    queries=(Query(f"pixelpet_mongodb_connections_in_use{{{JOB}}}", "{{instance}}"),),
                ),
            ),
        ),
    ),
)

SUBSCRIPTIONS = DashboardSpec(
    uid="pixelpet-subscriptions",
    title="Pixel Pet / Live subscriptions",
    description="Open subscriptions, delivery, the change stream behind them.",
    rows=(
        (
            "Subscribers",
            (
                PanelSpec(
                    title="Open subscriptions",
                    description="Against PIXELPET_SUBSCRIPTIONS__MAX_PER_PROCESS per instance.",
                    unit="none",
                    queries=(Query(f"pixelpet_subscriptions_active{{{JOB}}}", "{{instance}}"),),
                ),
                PanelSpec(
                    title="Deliveries per second by cause",
                    description="initial, change, time, resync; resync means the change stream lost history.",
                    unit="ops",
                    queries=(
                        Query(
                            f"sum by (cause) (rate(pixelpet_subscription_events_delivered_total{{{JOB}}}[{RATE}]))",
                            "{{cause}}",
                        ),
                    ),
                ),
                PanelSpec(
                    title="p99 commit-to-delivery time",
                    description="The freshness SLO's threshold is 2 s.",
                    unit="s",
                    queries=(Query(_p99("pixelpet_subscription_delivery_lag_seconds"), "p99"),),
                ),
                PanelSpec(
                    title="Slow subscribers",
                    description="Updates coalesced for slow readers, and subscribers cut off for not reading.",
                    unit="ops",
                    queries=(
                        Query(
                            f"sum(rate(pixelpet_subscription_events_coalesced_total{{{JOB}}}[{RATE}]))",
                            "coalesced",
                        ),
                        Query(
                            f"sum(rate(pixelpet_subscription_clients_dropped_total{{{JOB}}}[{RATE}]))",
                            "cut off",
                        ),
                    ),
                ),
            ),
        ),
        (
            "Change stream",
            (
                PanelSpec(
                    title="Seconds since the change stream heard from MongoDB",
                    description="Stays near 1 s; readiness fails after 10 s, the alert after 30 s for 1 minute.",
                    unit="s",
                    queries=(Query(f"pixelpet_change_stream_silence_seconds{{{JOB}}}", "{{instance}}"),),
                ),
                PanelSpec(
                    title="Change stream restarts",
                    description="error: resumed from its token (database restarts); history_lost: resynced.",
                    unit="short",
                    queries=(
                        Query(
                            f"sum by (reason) (increase(pixelpet_change_stream_restarts_total{{{JOB}}}[1h]))",
                            "{{reason}}",
                        ),
                    ),
                ),
            ),
        ),
    ),
)

RUNTIME = DashboardSpec(
    uid="pixelpet-runtime",
    title="Pixel Pet / Runtime",
    description="The Python process: event loop, garbage collector, memory, CPU.",
    rows=(
        (
            "Process",
            (
                PanelSpec(
                    title="p99 event-loop lag",
                    description="Every request shares the loop; full GC pauses grow with open connections (decision 10).",
                    unit="s",
                    queries=(Query(_p99("pixelpet_event_loop_lag_seconds", "instance"), "{{instance}}"),),
                ),
                PanelSpec(
                    title="Garbage collections per second by generation",
                    description="Generation 2 collections are the long pauses.",
                    unit="ops",
                    queries=(
                        Query(
                            f"sum by (generation) (rate(python_gc_collections_total{{{JOB}}}[{RATE}]))",
                            "gen {{generation}}",
                        ),
                    ),
                ),
                PanelSpec(
                    title="Resident memory",
                    description="Growth without traffic growth is a leak; the alert compares it with the cgroup limit.",
                    unit="bytes",
                    queries=(Query(f"process_resident_memory_bytes{{{JOB}}}", "{{instance}}"),),
                ),
                PanelSpec(
                    title="CPU (cores)",
                    description="One core is the most one process can use.",
                    unit="none",
                    queries=(Query(f"rate(process_cpu_seconds_total{{{JOB}}}[{RATE}])", "{{instance}}"),),
                ),
                PanelSpec(
                    title="Open file descriptors",
                    description="Connections and sockets; against process_max_fds.",
                    unit="none",
                    queries=(Query(f"process_open_fds{{{JOB}}}", "{{instance}}"),),
                ),
                PanelSpec(
                    title="Running versions",
                    description="Which build runs where (during a canary, two).",
                    unit="none",
                    queries=(Query(f"count by (version) (pixelpet_build_info{{{JOB}}})", "{{version}}"),),
                ),
            ),
        ),
    ),
)

DASHBOARDS = (SLO, RED, MONGODB, SUBSCRIPTIONS, RUNTIME)


def build(spec: DashboardSpec) -> Dashboard:
    dashboard = (
        Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(["pixelpet", "generated"])
        .refresh("30s")
        .time("now-1h", "now")
        .with_variable(DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
    )
    panel_ids = iter(range(1, 1000))
    for row_title, panels in spec.rows:
        dashboard = dashboard.with_row(Row(row_title).id(next(panel_ids)))
        for panel in panels:
            builder = (Stat() if panel.stat else Timeseries()).id(next(panel_ids))
            builder = builder.height(8).span(6 if panel.stat else 12)
            builder = builder.title(panel.title).description(panel.description).unit(panel.unit)
            builder = builder.datasource(DATASOURCE)
            for ref_id, query in zip("ABCDEFGH", panel.queries, strict=False):
                target = Dataquery().ref_id(ref_id).expr(query.expr).legend_format(query.legend)
                target = target.datasource(DATASOURCE)
                builder = builder.with_target(target.exemplar(True) if query.exemplars else target)
            dashboard = dashboard.with_panel(builder)
    return dashboard


def render(spec: DashboardSpec) -> str:
    return JSONEncoder(sort_keys=True, indent=2).encode(build(spec).build()) + "\n"


def write(directory: Path = OUTPUT) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in DASHBOARDS:
        path = directory / f"{spec.uid}.json"
        path.write_text(render(spec))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT):
        sys.stdout.write(f"{path}\n")
