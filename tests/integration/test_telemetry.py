"""Traces, metrics and logs, checked against a real server and database."""

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from pixelpet.app import create_app
from pixelpet.clock import ManualClock
from pixelpet.devdb import DevDatabase
from pixelpet.settings import Settings, TelemetrySettings
from pixelpet.telemetry.metrics import cgroup_memory_limit
from tests.conftest import make_settings
from tests.support.graphql import PET_FIELDS, GraphQLClient, create_pet, token_for
from tests.support.logs import JsonLines, captured_json_logs
from tests.support.server import running_server
from tests.support.ws import SubscriptionClient

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def traced(
    settings: Settings, clock: ManualClock, spans: InMemorySpanExporter
) -> AsyncIterator[GraphQLClient]:
    async with (
        running_server(create_app(settings, clock=clock, span_exporter=spans)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        yield GraphQLClient(http)


@pytest.fixture
def json_logs() -> Iterator[JsonLines]:
    with captured_json_logs() as stream:
        yield stream


def tree(spans: list[ReadableSpan], trace_id: int) -> dict[str, list[str]]:
    """Each span's name mapped to its children's names, for one trace."""
    in_trace = [span for span in spans if span.context.trace_id == trace_id]
    by_id = {span.context.span_id: span for span in in_trace}
    children: dict[str, list[str]] = {span.name: [] for span in in_trace}
    for span in in_trace:
        if span.parent is not None and span.parent.span_id in by_id:
            children[by_id[span.parent.span_id].name].append(span.name)
    return children


def span_named(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    matches = [span for span in spans if span.name == name]
    assert len(matches) == 1, [span.name for span in spans]
    return matches[0]


async def test_a_query_traces_request_operation_resolver_and_mongo(
    traced: GraphQLClient, spans: InMemorySpanExporter
) -> None:
    pet = await create_pet(traced)
    spans.clear()
    await traced.execute(
        f"query Fetch($id: ID!) {{ pet(id: $id) {{ {PET_FIELDS} }} }}",
        {"id": pet["id"]},
        headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"},
    )
    finished = list(spans.get_finished_spans())
    request = span_named(finished, "POST /graphql")
    assert format(request.context.trace_id, "032x") == TRACE_ID, "the caller's traceparent continues"
    assert request.parent is not None
    assert format(request.parent.span_id, "016x") == PARENT_SPAN_ID
    assert request.kind is SpanKind.SERVER
    assert request.attributes is not None
    assert {key: request.attributes.get(key) for key in ("http.request.method", "http.route")} == {
        "http.request.method": "POST",
        "http.route": "/graphql",
    }
    assert request.attributes["http.response.status_code"] == 200
    children = tree(finished, request.context.trace_id)
    assert children["POST /graphql"] == ["query pet"]
    assert children["query pet"] == ["Query.pet"]
    assert [name.rsplit(".", 1)[-1] for name in children["Query.pet"]] == ["find"], children
    operation = span_named(finished, "query pet")
    assert operation.attributes is not None
    assert operation.attributes["graphql.operation.name"] == "Fetch"
    assert operation.resource.attributes["service.name"] == "pixelpet"
    assert operation.resource.attributes["service.version"]
    assert operation.resource.attributes["deployment.environment.name"] == "development"


async def test_a_mutation_traces_each_mongo_command_under_its_resolver(
    traced: GraphQLClient, spans: InMemorySpanExporter, clock: ManualClock
) -> None:
    pet = await create_pet(traced)
    clock.advance(timedelta(hours=5))
    spans.clear()
    await traced.execute("mutation($id: ID!) { feedPet(id: $id) { version } }", {"id": pet["id"]})
    finished = list(spans.get_finished_spans())
    resolver = span_named(finished, "Mutation.feedPet")
    mongo = [span for span in finished if span.parent and span.parent.span_id == resolver.context.span_id]
    assert sorted(span.name.rsplit(".", 1)[-1] for span in mongo) == ["find", "findAndModify"]
    assert all(span.attributes and span.attributes.get("db.system") == "mongodb" for span in mongo)
    assert span_named(finished, "mutation feedPet").parent is not None


async def test_an_unknown_path_is_a_server_span_named_by_its_method_alone(
    traced: GraphQLClient, spans: InMemorySpanExporter
) -> None:
    """Span names stay bounded whatever paths clients (or scanners) ask for."""
    spans.clear()
    assert (await traced._http.get("/wp-admin/setup.php")).status_code == 404
    (request,) = spans.get_finished_spans()
    assert (request.name, request.kind) == ("GET", SpanKind.SERVER)
    assert request.attributes is not None
    assert request.attributes["http.response.status_code"] == 404
    assert "http.route" not in request.attributes


async def test_probes_and_metrics_are_not_traced(
    traced: GraphQLClient, spans: InMemorySpanExporter, settings: Settings
) -> None:
    spans.clear()
    http = traced._http
    for path in ("/livez", "/readyz", "/metrics"):
        assert (await http.get(path)).status_code == 200
    assert list(spans.get_finished_spans()) == []


async def test_errors_carry_the_trace_id_that_logs_and_spans_share(
    traced: GraphQLClient, spans: InMemorySpanExporter, json_logs: JsonLines
) -> None:
    pet = await create_pet(traced)
    spans.clear()
    await traced.execute("mutation($id: ID!) { feedPet(id: $id) { version } }", {"id": pet["id"]})  # 20 -> 0
    refused = await traced.execute("mutation($id: ID!) { feedPet(id: $id) { version } }", {"id": pet["id"]})
    trace_id = refused.error["extensions"]["traceId"]
    assert any(format(span.context.trace_id, "032x") == trace_id for span in spans.get_finished_spans())
    lines = json_logs.records()
    requests = [line for line in lines if line["msg"] == "graphql request"]
    assert requests, lines
    for line in requests:
        assert {"operation_type", "operation", "code", "duration_ms", "trace_id", "span_id"} <= line.keys()
    matching = [line for line in requests if line["trace_id"] == trace_id]
    assert matching[0]["code"] == "ACTION_REFUSED"
    assert matching[0]["operation"] == "feedPet"


async def test_tokens_never_reach_the_logs(traced: GraphQLClient, json_logs: JsonLines) -> None:
    await create_pet(traced)
    await traced.as_owner(None).execute(
        "{ pets { edges { cursor } } }", headers={"Authorization": "Bearer abc.def.ghi"}
    )
    logged = json_logs.getvalue()
    assert token_for("alice").split(".")[0] not in logged
    assert "abc.def.ghi" not in logged
    assert "Bearer" not in logged


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_known_traffic(traced: GraphQLClient, clock: ManualClock) -> None:
    pet = await create_pet(traced)
    clock.advance(timedelta(hours=13))
    feed = "mutation($id: ID!) { feedPet(id: $id) { version } }"
    for _ in range(4):  # 98 -> 63 -> 28 -> 0, then refused
        await traced.execute(feed, {"id": pet["id"]})
    await traced.execute("{ pets { edges { cursor } } }")
    await traced.execute("{ nope }")
    await traced.execute("mutation($id: ID!) { deletePet(id: $id) }", {"id": pet["id"]})
    http = traced._http
    for _ in range(3):
        await http.get("/readyz")
    values = samples((await http.get("/metrics")).text)

    def value(name: str, **labels: str) -> float:
        return values.get((name, frozenset(labels.items())), 0.0)

    requests = "pixelpet_graphql_requests_total"
    assert value(requests, operation_type="mutation", operation="feedPet", code="OK") == 3
    assert value(requests, operation_type="mutation", operation="feedPet", code="ACTION_REFUSED") == 1
    assert value(requests, operation_type="mutation", operation="createPet", code="OK") == 1
    assert value(requests, operation_type="query", operation="pets", code="OK") == 1
    assert value(requests, operation_type="query", operation="invalid", code="GRAPHQL_VALIDATION_FAILED") == 1
    total = sum(v for (name, _), v in values.items() if name == requests)
    assert total == 8, "probes and scrapes are not GraphQL requests"
    duration = "pixelpet_graphql_request_duration_seconds_count"
    assert value(duration, operation_type="mutation", operation="feedPet") == 4
    assert value("pixelpet_pet_actions_total", action="FEED", outcome="ok") == 3
    assert value("pixelpet_pet_actions_total", action="FEED", outcome="refused:NOT_HUNGRY") == 1
    assert value("pixelpet_pets_created_total") == 1
    assert value("pixelpet_pets_deleted_total") == 1
    assert value("pixelpet_mongodb_command_duration_seconds_count", command="findAndModify") == 3
    assert value("pixelpet_mongodb_pool_checkout_wait_seconds_count") > 0
    assert value("pixelpet_mongodb_connections_in_use") >= 0
    assert value("pixelpet_event_loop_lag_seconds_count") >= 0
    build = [labels for (name, labels), _ in values.items() if name == "pixelpet_build_info"]
    assert dict(build[0])["environment"] == "development"
    assert not any("alice" in str(labels) or pet["id"] in str(labels) for (_, labels) in values)


async def test_latency_exemplars_link_to_traces(traced: GraphQLClient, spans: InMemorySpanExporter) -> None:
    await create_pet(traced)
    response = await traced._http.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    exemplar_lines = [
        line
        for line in response.text.splitlines()
        if line.startswith("pixelpet_graphql_request_duration_seconds_bucket") and "# {trace_id=" in line
    ]
    assert exemplar_lines
    trace_ids = {format(span.context.trace_id, "032x") for span in spans.get_finished_spans()}
    exemplar_trace = exemplar_lines[0].split('trace_id="')[1].split('"')[0]
    assert exemplar_trace in trace_ids


async def test_sampling_follows_the_ratio_unless_the_caller_decided(
    database: DevDatabase, clock: ManualClock, spans: InMemorySpanExporter
) -> None:
    settings = make_settings(database.uri, telemetry=TelemetrySettings(sample_ratio=0.0))
    async with (
        running_server(create_app(settings, clock=clock, span_exporter=spans)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        client = GraphQLClient(http)
        await client.execute("{ pets { edges { cursor } } }")
        assert list(spans.get_finished_spans()) == [], "a ratio of 0 keeps no new traces"
        await client.execute(
            "{ pets { edges { cursor } } }", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"}
        )
        kept = {format(span.context.trace_id, "032x") for span in spans.get_finished_spans()}
        assert kept == {TRACE_ID}, "a sampled caller's trace is always kept"


async def test_a_subscription_is_traced_from_the_callers_trace_and_reported_while_it_runs(
    traced: GraphQLClient, spans: InMemorySpanExporter, settings: Settings
) -> None:
    """Handshake and setup spans end at once: a subscription's trace must not wait for its client to leave."""
    pet = await create_pet(traced)
    url = str(traced._http.base_url).rstrip("/")
    spans.clear()
    watcher = await SubscriptionClient.connect(
        url, additional_headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"}
    )
    await watcher.acknowledged()
    await watcher.subscribe(pet["id"])
    await watcher.next_pet()
    finished = list(spans.get_finished_spans())  # the subscription is still open
    connection = span_named(finished, "WebSocket /graphql")
    assert format(connection.context.trace_id, "032x") == TRACE_ID
    assert connection.kind is SpanKind.SERVER
    assert connection.attributes is not None
    assert connection.attributes["pixelpet.websocket.accepted"]
    find = f"{settings.mongo.database}.find"
    assert tree(finished, connection.context.trace_id) == {
        "WebSocket /graphql": ["subscription petStats"],
        "subscription petStats": [find],
        find: [],
    }
    refused = await watcher.subscribe("0" * 24)  # no such pet: recorded with its code, like a query
    assert (await watcher.receive())["id"] == refused
    samples = {
        (sample.labels.get("operation_type"), sample.labels.get("operation"), sample.labels.get("code"))
        for family in text_string_to_metric_families((await traced._http.get("/metrics")).text)
        for sample in family.samples
        if sample.name == "pixelpet_graphql_requests_total"
    }
    assert {("subscription", "petStats", "OK"), ("subscription", "petStats", "NOT_FOUND")} <= samples
    await watcher.close()


async def test_database_and_change_stream_health_are_read_at_every_scrape(traced: GraphQLClient) -> None:
    values = samples((await traced._http.get("/metrics")).text)
    assert values[("pixelpet_mongodb_primary_reachable", frozenset())] == 1
    # The stream hears from the database at least every second (each getMore waits at most 1 s).
    assert 0 <= values[("pixelpet_change_stream_silence_seconds", frozenset())] < 5
    limit = cgroup_memory_limit()
    limits = [value for (name, _), value in values.items() if name == "pixelpet_memory_limit_bytes"]
    assert limits == ([] if limit is None else [limit]), "no limit, no series: a 0 would read as over it"
