"""The observability stack end to end, on real programs: two service instances and SecantusDB, the black-box
prober (`pixelpet probe --serve`), the OpenTelemetry Collector and Jaeger (the jaeger binary, built from its
Go module), Prometheus and Alertmanager (Debian's packages), each run on the committed configuration
(observability/).

Only what a test environment must change is changed: addresses, a tail-sampling share of 0 (so that a
kept trace proves its policy), 1 s scrape and evaluation intervals and short Alertmanager grouping.
The SLO windows are the real ones: Prometheus starts from seven hours of clean history (backfilled with
promtool), as a service that has been running has, so that a burn-rate page means what it would mean
in production, and can resolve.
"""

import json
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from observability import tools
from observability.grafana.dashboards import DASHBOARDS, render
from observability.stack import HERE as OBSERVABILITY
from observability.stack import Ports, Stack, StackOptions
from pixelpet.devdb import DevDatabase, free_port
from pixelpet.settings import DEVELOPMENT_SECRET
from tests.e2e.traffic import Traffic
from tests.support.failpoints import fail_command_blocking
from tests.support.graphql import token_for
from tests.support.service import ServiceProcess, clean_environment, run_pixelpet

# The outage test waits for a real 5-minute window to forget the outage.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
# Seconds between the prober's journeys (30 in compose and the chart; shorter here, the alert's `for` is not).
PROBE_INTERVAL_S = 5

# Requests per second across both instances, live and in the backfilled history alike.
RATE_PER_S = 10.0
HISTORY_HOURS = 7
RUNBOOKS = "https://github.com/pixelpet/pixelpet/blob/main/observability/runbooks/"
SLO_NAMES = [slo["name"] for slo in yaml.safe_load((OBSERVABILITY / "slos.yaml").read_text())["slos"]]
T = TypeVar("T")


class Webhook:
    """Alertmanager's receiver: keeps every notification it is sent."""

    def __init__(self) -> None:
        self.notifications: list[tuple[str, dict[str, Any]]] = []
        received = self.notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.append((self.path.strip("/"), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def alerts(self, receiver: str, alertname: str, status: str) -> list[dict[str, Any]]:
        return [
            alert
            for path, body in list(self.notifications)
            if path == receiver
            for alert in body["alerts"]
            if alert["labels"]["alertname"] == alertname and alert["status"] == status
        ]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Outage:
    page: dict[str, Any]  # the firing notification's alert, as Alertmanager sent it
    fired_after_s: float
    resolved_after_s: float
    slo_while_paging: tuple[int, list[dict[str, Any]]]  # `pixelpet slo --json`: exit code and rows


class Prober:
    """`pixelpet probe --serve`: a player's journey against the first instance, exported for Prometheus."""

    def __init__(self, url: str, log_file: Path) -> None:
        self.port = free_port()
        self._command = [
            sys.executable, "-m", "pixelpet", "probe", "--url", url,
            "--serve", str(self.port), "--interval", str(PROBE_INTERVAL_S),
        ]  # fmt: skip
        self._log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self._log_file, "ab") as log:
            self._process = subprocess.Popen(
                self._command, env=clean_environment(), stdout=log, stderr=subprocess.STDOUT
            )

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)


@dataclass
class EndToEnd:
    database: DevDatabase
    services: list[ServiceProcess]
    stack: Stack
    webhook: Webhook
    traffic: Traffic
    prober: Prober
    outage: Outage | BaseException | None = None

    def prometheus(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.stack.prometheus_url}/api/v1/query", params={"query": expr}, timeout=10)
        assert response.status_code == 200, (expr, response.text)
        result: list[dict[str, Any]] = response.json()["data"]["result"]
        return result

    def exemplars(self, metric: str) -> list[dict[str, Any]]:
        now = time.time()
        response = httpx.get(
            f"{self.stack.prometheus_url}/api/v1/query_exemplars",
            params={"query": metric, "start": now - 300, "end": now},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return [exemplar for series in response.json()["data"] for exemplar in series["exemplars"]]

    def jaeger_trace(self, trace_id: str) -> list[dict[str, Any]] | None:
        response = httpx.get(f"{self.stack.jaeger_url}/api/v3/traces/{trace_id}", timeout=10)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        return [
            span
            for resource in response.json()["result"]["resourceSpans"]
            for scope in resource["scopeSpans"]
            for span in scope["spans"]
        ]


def eventually(check: Callable[[], T | None], *, timeout_s: float, what: str, every_s: float = 1.0) -> T:
    """Wait for ``check`` to return something; the bounds are generous, the assertions are on events."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(every_s)


def backfill_clean_history(data_dir: Path, *, hours: int, rate_per_s: float) -> Path:
    """Seven hours of error-free traffic, written as TSDB blocks by promtool, ending a minute ago."""
    end = time.time() - 60
    start = end - hours * 3600
    lines = ["# TYPE pixelpet_graphql_requests counter"]
    series = (
        'pixelpet_graphql_requests_total{job="pixelpet",instance="history",'
        'operation_type="query",operation="pets",code="OK"}'
    )
    for step in range(int((end - start) // 15) + 1):
        lines.append(f"{series} {step * 15 * rate_per_s:.0f} {start + step * 15:.3f}")
    lines.append("# EOF")
    source = data_dir.parent / "history.om"
    source.write_text("\n".join(lines) + "\n")
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(tools.promtool()), "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
        check=True,
        capture_output=True,
    )
    return data_dir


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EndToEnd]:
    root = tmp_path_factory.mktemp("e2e")
    database = DevDatabase(
        storage=root / "db", port=free_port(), test_commands=True, log_file=root / "db.log"
    )
    database.start()
    ports = Ports.free()
    webhook = Webhook()
    services = [
        ServiceProcess(
            env={
                "PIXELPET_MONGODB_URI": database.uri,
                "PIXELPET_MONGO__DATABASE": "pixelpet_e2e",
                # Each instance names itself to MongoDB, so a failpoint can pick one.
                "PIXELPET_MONGO__APP_NAME": f"pixelpet-{index}",
                "PIXELPET_LIMITS__MUTATIONS_PER_SECOND": "1000",
                "PIXELPET_LIMITS__MUTATION_BURST": "1000",
                "PIXELPET_LIFECYCLE__DRAIN_DELAY_S": "0",
                # The standard variable alone turns OTLP export on.
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{ports.collector_otlp_http}",
                "OTEL_BSP_SCHEDULE_DELAY": "500",
            },
            log_file=root / f"service-{index}.log",
        )
        for index in range(2)
    ]
    prober = Prober(services[0].url, root / "prober.log")
    stack = Stack(
        root / "stack",
        ports=ports,
        options=StackOptions(
            service_targets=[f"127.0.0.1:{service.port}" for service in services],
            probe_targets=[f"127.0.0.1:{prober.port}"],
            tail_sampling_percentage=0,
            scrape_interval="1s",
            evaluation_interval="1s",
            spanmetrics_flush_interval="1s",
            webhook_url=webhook.url,
            alert_group_wait="1s",
            alert_group_interval="5s",
            prometheus_data=backfill_clean_history(
                root / "prometheus-data", hours=HISTORY_HOURS, rate_per_s=RATE_PER_S
            ),
        ),
    )
    traffic = Traffic([service.url for service in services], rate_per_s=RATE_PER_S)
    try:
        stack.start()
        for service in services:
            service.start()
        traffic.start()
        prober.start()
        yield EndToEnd(database, services, stack, webhook, traffic, prober)
    finally:
        prober.stop()
        traffic.stop()
        for service in services:
            service.stop()
        stack.stop()
        webhook.close()
        database.stop()


def traceparent() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def pet_query(service: ServiceProcess, header: str, pet_id: str) -> dict[str, Any]:
    response = httpx.post(
        f"{service.url}/graphql",
        json={"query": "query($id: ID!) { pet(id: $id) { id name } }", "variables": {"id": pet_id}},
        headers={"Authorization": f"Bearer {token_for('tracer')}", "traceparent": header},
        timeout=10,
    )
    body: dict[str, Any] = response.json()
    return body


def test_slow_and_failed_requests_reach_jaeger_whole_and_the_rest_is_sampled_away(
    e2e: EndToEnd,
) -> None:
    service = e2e.services[0]
    created = httpx.post(
        f"{service.url}/graphql",
        json={"query": 'mutation { createPet(input: {name: "Trace", species: DOG}) { id } }'},
        headers={"Authorization": f"Bearer {token_for('tracer')}"},
        timeout=10,
    ).json()
    pet_id = created["data"]["createPet"]["id"]
    dropped_id, dropped_header = traceparent()
    slow_id, slow_header = traceparent()
    failed_id, failed_header = traceparent()
    with e2e.traffic.paused():  # the one-shot failpoints must hit our requests, not the load's
        assert pet_query(service, dropped_header, pet_id)["data"]["pet"]["id"] == pet_id
        with fail_command_blocking(
            e2e.database.uri,
            times=1,
            failCommands=["find"],
            appName="pixelpet-0",
            blockConnection=True,
            blockTimeMS=600,
        ):
            assert pet_query(service, slow_header, pet_id)["data"]["pet"]["id"] == pet_id
        with fail_command_blocking(
            e2e.database.uri, times=1, failCommands=["find"], appName="pixelpet-0", errorCode=2
        ):
            failed = pet_query(service, failed_header, pet_id)
        assert failed["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"

    # Kept: slower than the latency threshold, and a server fault. Each arrives whole.
    for trace_id in (slow_id, failed_id):
        spans = eventually(
            lambda trace_id=trace_id: e2e.jaeger_trace(trace_id),
            timeout_s=60,
            what=f"trace {trace_id} in Jaeger",
        )
        names = {span["name"] for span in spans}
        assert {"POST /graphql", "query pet", "Query.pet"} <= names, names
        assert any(name.endswith(".find") for name in names), names
        server = next(span for span in spans if span["name"] == "POST /graphql")
        assert server["parentSpanId"] == (slow_header if trace_id == slow_id else failed_header).split("-")[2]
    operation = next(span for span in e2e.jaeger_trace(failed_id) or [] if span["name"] == "query pet")
    assert operation["status"]["code"] == 2, operation  # STATUS_CODE_ERROR: what the sampler keeps it for

    # Dropped: fast and fine, sent before the kept ones, so its decision has been made.
    assert e2e.jaeger_trace(dropped_id) is None


def test_prometheus_scrapes_the_service_the_spanmetrics_and_the_collector(e2e: EndToEnd) -> None:
    for job in ("pixelpet", "spanmetrics", "otel-collector", "prometheus"):
        eventually(
            lambda job=job: e2e.prometheus(f'up{{job="{job}"}} == 1'), timeout_s=60, what=f"{job} scraped"
        )
    assert len(e2e.prometheus('up{job="pixelpet"} == 1')) == 2
    eventually(
        lambda: e2e.prometheus(
            'traces_span_metrics_calls_total{service_name="pixelpet",span_name="query pets"}'
        ),
        timeout_s=60,
        what="spanmetrics series for the pets query",
    )
    eventually(
        lambda: e2e.prometheus('pixelpet_graphql_requests_total{job="pixelpet",code="OK"}'),
        timeout_s=60,
        what="the service's own request counter",
    )
    eventually(
        lambda: e2e.prometheus("otelcol_exporter_sent_spans_total > 0"),
        timeout_s=60,
        what="the Collector's own telemetry",
    )
    # Latency exemplars (OpenMetrics scrape, exemplar storage on) carry the trace id the dashboards link to.
    exemplars = eventually(
        lambda: e2e.exemplars("pixelpet_graphql_request_duration_seconds_bucket"),
        timeout_s=60,
        what="latency exemplars",
    )
    assert all(len(exemplar["labels"]["trace_id"]) == 32 for exemplar in exemplars)


def ensure_outage_happened(e2e: EndToEnd) -> Outage:
    """Stop the database until the availability page reaches the pager, then restart it and wait for
    the resolution. Runs once; the tests after it read what it recorded (or its failure)."""
    if isinstance(e2e.outage, BaseException):
        raise AssertionError("the outage test failed") from e2e.outage
    if e2e.outage is not None:
        return e2e.outage
    try:
        e2e.outage = _outage(e2e)
    except BaseException as failure:
        e2e.outage = failure
        raise
    return e2e.outage


def _outage(e2e: EndToEnd) -> Outage:
    page = "PixelpetAvailabilityBudgetBurn"
    # On a busy machine real errors may page before we cause any: start from a quiet page.
    eventually(
        lambda: not e2e.prometheus(f'ALERTS{{alertname="{page}",sloth_severity="page"}}'),
        timeout_s=420,
        what="no availability page before the outage",
    )
    stopped_at = time.time()
    stopped = time.monotonic()
    e2e.database.stop()
    try:
        fired = eventually(
            lambda: [
                alert for alert in e2e.webhook.alerts("pager", page, "firing") if _starts(alert) >= stopped_at
            ],
            timeout_s=180,
            what="the availability page",
        )
        slo_while_paging = slo_report(e2e)  # what on-call sees while paged
    finally:
        e2e.database.start()
    fired_after_s = time.monotonic() - stopped
    restarted = time.monotonic()
    # The 5-minute window must first forget the outage: about five minutes.
    eventually(
        lambda: [
            alert for alert in e2e.webhook.alerts("pager", page, "resolved") if _starts(alert) >= stopped_at
        ],
        timeout_s=480,
        what="the page's resolution",
    )
    return Outage(fired[0], fired_after_s, time.monotonic() - restarted, slo_while_paging)


def slo_report(e2e: EndToEnd) -> tuple[int, list[dict[str, Any]]]:
    completed = run_pixelpet("slo", "--prometheus-url", e2e.stack.prometheus_url, "--json", env={})
    assert completed.stdout, completed.stderr
    rows: list[dict[str, Any]] = json.loads(completed.stdout)
    return completed.returncode, rows


def _starts(alert: dict[str, Any]) -> float:
    return datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00")).timestamp()


def test_a_database_outage_pages_with_its_runbook_and_the_recovery_resolves_it(e2e: EndToEnd) -> None:
    outage = ensure_outage_happened(e2e)
    assert outage.fired_after_s < 180
    assert outage.page["labels"]["severity"] == "critical"
    assert outage.page["labels"]["sloth_slo"] == "availability"
    assert outage.page["annotations"]["runbook_url"] == RUNBOOKS + "PixelpetAvailabilityBudgetBurn.md"
    assert (OBSERVABILITY / "runbooks" / "PixelpetAvailabilityBudgetBurn.md").is_file()
    # Cause alerts open tickets; only the SLO pages.
    assert not e2e.webhook.alerts("pager", "PixelpetDatabaseUnreachable", "firing")
    # Readiness came back without restarting either instance.
    for service in e2e.services:
        eventually(
            lambda url=service.url: httpx.get(f"{url}/readyz", timeout=2).status_code == 200,
            timeout_s=30,
            what=f"{service.url} ready again",
        )


def test_pixelpet_slo_shows_the_page_while_it_fires_and_the_budget_it_cost(e2e: EndToEnd) -> None:
    outage = ensure_outage_happened(e2e)
    code, rows = outage.slo_while_paging
    slos = {row["slo"]: row for row in rows}
    assert set(slos) == set(SLO_NAMES)
    assert code == 1, "a firing page is a failing answer"
    availability = slos["availability"]
    assert availability["paging"] is True
    assert availability["objective"] == pytest.approx(0.999)
    assert availability["burn_rates"]["5m"] > 14.4, "the page's own threshold"
    code, rows = slo_report(e2e)  # after the resolution: no availability page, and the outage's cost remains
    after = {row["slo"]: row for row in rows}
    assert after["availability"]["paging"] is False
    assert after["availability"]["budget_remaining"] < 1.0
    # The exit code follows the pages: slow answers during the outage may still page a latency SLO.
    assert code == (1 if any(row["paging"] for row in rows) else 0)
    table = run_pixelpet("slo", "--prometheus-url", e2e.stack.prometheus_url, env={"COLUMNS": "200"}).stdout
    assert "availability" in table
    assert "budget left" in table


def test_every_recording_rule_and_dashboard_panel_returns_data(e2e: EndToEnd) -> None:
    ensure_outage_happened(e2e)  # errors, restarts and recoveries exist only after one
    rules = httpx.get(f"{e2e.stack.prometheus_url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    recorded = {rule["name"] for group in rules for rule in group["rules"] if rule["type"] == "recording"}
    assert recorded, "no recording rules loaded"
    for name in sorted(recorded):
        assert e2e.prometheus(name), f"recording rule {name} has no data"
    dead = []
    for spec in DASHBOARDS:
        dashboard = json.loads(render(spec))
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"].replace("$__rate_interval", "1m")
                if not e2e.prometheus(expr):
                    dead.append(f"{spec.uid} / {panel['title']}: {expr}")
    assert not dead, "panels without data:\n" + "\n".join(dead)


def test_no_token_or_signing_secret_reaches_the_logs_of_a_whole_run(e2e: EndToEnd) -> None:
    ensure_outage_happened(e2e)  # the logs then hold every path: requests, errors, an outage, a recovery
    logs = "\n".join(path.read_text() for path in (service.log_file for service in e2e.services))
    assert '"graphql request"' in logs
    assert DEVELOPMENT_SECRET not in logs
    assert not re.findall(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", logs), "a JWT in the logs"
    assert "Bearer" not in logs


def test_stopping_every_instance_pages_by_absence_and_by_the_prober_and_their_return_resolves_it(
    e2e: EndToEnd,
) -> None:
    """A total outage: with every instance down there are no request counters to burn, so the SLO alerts stay
    silent; PixelpetDown (absent()) and PixelpetProbeFailing (the black-box prober) page within 3 minutes
    through Alertmanager, and resolve when the instances return."""
    ensure_outage_happened(e2e)  # after the database outage, whose pages have resolved
    pages = ("PixelpetDown", "PixelpetProbeFailing")
    eventually(
        lambda: e2e.prometheus('pixelpet_probe_success{job="pixelpet-probe"} == 1'),
        timeout_s=120,
        what="the prober's journey succeeding before the outage",
    )
    for page in pages:
        eventually(
            lambda page=page: not e2e.prometheus(f'ALERTS{{alertname="{page}"}}'),
            timeout_s=120,
            what=f"no {page} before the outage",
        )
    stopped_at = time.time()
    stopped = time.monotonic()
    for service in e2e.services:
        service.stop()
    try:
        fired = {}
        for page in pages:
            fired[page] = eventually(
                lambda page=page: [
                    alert
                    for alert in e2e.webhook.alerts("pager", page, "firing")
                    if _starts(alert) >= stopped_at
                ],
                timeout_s=180 - (time.monotonic() - stopped),
                what=f"{page} paging",
            )[0]
        assert time.monotonic() - stopped < 180
    finally:
        restarted_at = time.time()
        for service in e2e.services:
            service.start()
    for page, alert in fired.items():
        assert alert["labels"]["severity"] == "critical"
        assert alert["annotations"]["runbook_url"] == RUNBOOKS + f"{page}.md"
        assert (OBSERVABILITY / "runbooks" / f"{page}.md").is_file()
        eventually(
            lambda page=page: [
                alert
                for alert in e2e.webhook.alerts("pager", page, "resolved")
                if _starts(alert) >= stopped_at
            ],
            timeout_s=180,
            what=f"{page} resolved after the instances returned",
        )
    # While everything was down nothing burned: the SLO pages had no samples, which is why these two exist.
    burned = [
        alert
        for alert in e2e.webhook.alerts("pager", "PixelpetAvailabilityBudgetBurn", "firing")
        if stopped_at <= _starts(alert) < restarted_at
    ]
    assert burned == []
