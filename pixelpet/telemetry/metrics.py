"""Every Prometheus metric the service exports, on a registry of its own (one per app).

Naming follows Prometheus conventions: the ``pixelpet_`` prefix, base units, ``_total`` on
counters. No label ever holds a pet or owner id. docs/observability.md (Metrics) says why each one
exists and what to do when it moves.
"""

import asyncio
import platform
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_CONTENT_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from starlette.requests import Request
from starlette.responses import Response

from pixelpet.telemetry.deliveries import DeliveryMetrics

# Request latencies: the SLO thresholds (queries 300 ms, mutations 500 ms; observability/slos.yaml)
# must be bucket bounds, or the latency SLIs could only be estimated.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.175, 0.25, 0.3, 0.5, 1.0, 2.5, 5.0)
_DB_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Change delivery: the freshness SLO's threshold (2 s) is a bound.
_DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
_LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The service's metrics. Built once per app by ``create_app``."""

    def __init__(self, *, version: str, environment: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        # python_gc_*: full collections pause the one event loop (decision 10), so count them.
        GCCollector(registry=registry)

        self.build_info = Gauge(
            "pixelpet_build_info",
            "Always 1; the labels say which build is running.",
            ["version", "python_version", "environment"],
            registry=registry,
        )
        self.build_info.labels(version, platform.python_version(), environment).set(1)

        # GraphQL RED. `operation` is the root field (from the schema, so bounded), or "multiple"/"invalid".
        self.graphql_requests = Counter(
            "pixelpet_graphql_requests_total",
            "GraphQL operations by type, root field and outcome code (OK or the first error's code).",
            ["operation_type", "operation", "code"],
            registry=registry,
        )
        self.graphql_duration = Histogram(
            "pixelpet_graphql_request_duration_seconds",
            "GraphQL operation latency; exemplars carry the trace id.",
            ["operation_type", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )

        # MongoDB, from PyMongo's monitoring listeners.
        self.mongo_command_duration = Histogram(
            "pixelpet_mongodb_command_duration_seconds",
            "MongoDB command round trips, by command name.",
            ["command"],
            buckets=_DB_BUCKETS,
            registry=registry,
        )
        self.mongo_command_errors = Counter(
            "pixelpet_mongodb_command_errors_total",
            "MongoDB commands that failed, by command name.",
            ["command"],
            registry=registry,
        )
        self.mongo_pool_checkout_wait = Histogram(
            "pixelpet_mongodb_pool_checkout_wait_seconds",
            "Time spent waiting for a pooled connection: pool saturation shows here first.",
            buckets=_DB_BUCKETS,
            registry=registry,
        )
        self.mongo_pool_checkout_failures = Counter(
            "pixelpet_mongodb_pool_checkout_failures_total",
            "Connection checkouts that failed, by reason (timeout, connectionError, poolClosed).",
            ["reason"],
            registry=registry,
        )
        self.mongo_connections_in_use = Gauge(
            "pixelpet_mongodb_connections_in_use",
            "Connections checked out of the pool right now.",
            registry=registry,
        )

        # The event loop: every coroutine shares it, so a blocked loop delays everything.
        self.event_loop_tasks = Gauge(
            "pixelpet_event_loop_tasks",
            "asyncio tasks alive in the process: a count that only grows is a leak (see bench/soak.py).",
            registry=registry,
        )
        self.event_loop_tasks.set_function(_task_count)
        self.event_loop_lag = Histogram(
            "pixelpet_event_loop_lag_seconds",
            "How late a periodic timer fires: time the loop spent blocked or saturated.",
            buckets=_LAG_BUCKETS,
            registry=registry,
        )

        # Live subscriptions.
        self.subscriptions_active = Gauge(
            "pixelpet_subscriptions_active", "Open pet subscriptions in this process.", registry=registry
        )
        # Delivered updates and their lag are counted for every subscriber of every update: see deliveries.py.
        self.deliveries = DeliveryMetrics(_DELIVERY_BUCKETS)
        registry.register(self.deliveries)
        self.subscription_events_coalesced = Counter(
            "pixelpet_subscription_events_coalesced_total",
            "Updates replaced by a newer one before a slow subscriber took them.",
            registry=registry,
        )
        self.subscription_clients_dropped = Counter(
            "pixelpet_subscription_clients_dropped_total",
            "Subscribers cut off because they stopped reading.",
            registry=registry,
        )
        self.change_stream_bad_events = Counter(
            "pixelpet_change_stream_bad_events_total",
            "Change events skipped: their document could not be read (written behind the service's back).",
            registry=registry,
        )
        self.change_stream_restarts = Counter(
            "pixelpet_change_stream_restarts_total",
            "Change stream reopenings, by reason (error: resumed from its token; history_lost: resynced; "
            "unexpected: a bug, logged with its stack).",
            ["reason"],
            registry=registry,
        )

        # Health, read when scraped, so alerts do not depend on anyone calling /readyz.
        self.mongo_primary_reachable = Gauge(
            "pixelpet_mongodb_primary_reachable",
            "1 while the driver knows a writable primary, 0 when it has none (the database is unreachable).",
            registry=registry,
        )
        self.change_stream_silence = Gauge(
            "pixelpet_change_stream_silence_seconds",
            "Seconds since the change stream last heard from the database (it hears at least every second).",
            registry=registry,
        )

        # Business.
        self.pet_actions = Counter(
            "pixelpet_pet_actions_total",
            "Pet actions by action and outcome (ok, refused:<reason>, conflict).",
            ["action", "outcome"],
            registry=registry,
        )
        self.pets_created = Counter("pixelpet_pets_created_total", "Pets created.", registry=registry)
        self.pets_deleted = Counter("pixelpet_pets_deleted_total", "Pets deleted.", registry=registry)

        self._operations: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}
        self._commands: dict[str, Histogram] = {}

    def watch_health(
        self, *, primary_reachable: Callable[[], bool], change_stream_silence_s: Callable[[], float]
    ) -> None:
        """Read the database and change-stream health at every scrape."""
        self.mongo_primary_reachable.set_function(lambda: float(primary_reachable()))
        self.change_stream_silence.set_function(change_stream_silence_s)
        limit = cgroup_memory_limit()
        if limit is not None:  # without a limit the series is absent: a 0 would read as "over the limit"
            Gauge(
                "pixelpet_memory_limit_bytes",
                "The memory limit of this process's cgroup (absent when there is none).",
                registry=self.registry,
            ).set(limit)

    async def endpoint(self, request: Request) -> Response:
        """``/metrics``: OpenMetrics (with exemplars) when Prometheus asks for it, text 0.0.4 otherwise."""
        if "application/openmetrics-text" in request.headers.get("accept", ""):
            body = generate_openmetrics(self.registry)  # type: ignore[no-untyped-call]  # untyped upstream
            return Response(body, media_type=OPENMETRICS_CONTENT_TYPE)
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    # Labelled children by their label values, kept: prometheus_client's `labels` checks, converts and locks
    # on every call (about a microsecond), and these run for every operation and database command. Their
    # label values come from bounded sets (see each metric).
    def operation_finished(
        self, operation_type: str, operation: str, code: str, seconds: float, exemplar: dict[str, str] | None
    ) -> None:
        key = (operation_type, operation, code)
        children = self._operations.get(key)
        if children is None:
            children = self._operations[key] = (
                self.graphql_requests.labels(operation_type, operation, code),
                self.graphql_duration.labels(operation_type, operation),
            )
        children[0].inc()
        children[1].observe(seconds, exemplar=exemplar)

    def mongo_command_finished(self, command: str, seconds: float) -> None:
        child = self._commands.get(command)
        if child is None:
            child = self._commands[command] = self.mongo_command_duration.labels(command)
        child.observe(seconds)

    # PetEvents (see pixelpet/pets/events.py): business outcomes, counted where they are decided.
    def action_finished(self, action: str, outcome: str) -> None:
        self.pet_actions.labels(action, outcome).inc()

    def pet_created(self) -> None:
        self.pets_created.inc()

    def pet_deleted(self) -> None:
        self.pets_deleted.inc()

    # LiveEvents (pixelpet/pets/events.py): the live path.
    def subscription_opened(self) -> None:
        self.subscriptions_active.inc()

    def subscription_closed(self) -> None:
        self.subscriptions_active.dec()

    def update_shown(self, cause: str, lag_s: float | None) -> None:
        self.deliveries.shown(cause, lag_s)

    def change_stream_restarted(self, reason: str) -> None:
        self.change_stream_restarts.labels(reason).inc()

    def change_event_skipped(self) -> None:
        self.change_stream_bad_events.inc()

    # OutboxEvents (pixelpet/graphql/outbox.py): backpressure on WebSocket connections.
    def update_coalesced(self) -> None:
        self.subscription_events_coalesced.inc()

    def client_dropped(self) -> None:
        self.subscription_clients_dropped.inc()


# cgroup v2, then v1. v1 reports "no limit" as a huge number near the largest page-aligned int64.
_CGROUP_LIMIT_FILES = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
_NO_LIMIT_ABOVE = 2**60


def cgroup_memory_limit(files: tuple[Path, ...] = _CGROUP_LIMIT_FILES) -> int | None:
    """The container's memory limit in bytes, or None outside a limited cgroup."""
    for path in files:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < _NO_LIMIT_ABOVE:
            return int(text)
        return None
    return None


def _task_count() -> int:
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:  # read outside the event loop (a test's own registry read)
        return 0
