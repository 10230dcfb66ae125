"""The pipeline (pixelpet/graphql/operation.py) against strawberry's own path, on the same requests.

Two apps on their own in-memory stores and the same clock take the same requests: one as shipped, one with
the pipeline taken away, so strawberry's ``Schema.execute`` runs the same steps as extensions. Answers
(status, media type, body), the operations' metrics and their spans must be the same; ids, which each
store and trace makes afresh, are compared by order of appearance.
"""

import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr
from starlette.applications import Starlette

from pixelpet.app import create_app
from pixelpet.clock import ManualClock
from pixelpet.graphql.schema import PixelPetSchema
from pixelpet.settings import LimitSettings, Settings
from pixelpet.storage.memory import InMemoryPetStore
from tests.conftest import T0
from tests.support.graphql import token_for

_IDS = re.compile(r"\b[0-9a-f]{32}\b|\b[0-9a-f]{24}\b|\b[0-9a-f]{16}\b")
PET_FIELDS = ("id", "name", "species", "mood", "needs", "version", "stats { hunger happiness energy asOf }")


@dataclass
class Side:
    http: httpx.AsyncClient
    schema: PixelPetSchema
    spans: InMemorySpanExporter
    app: Starlette

    async def send(self, body: Any, headers: dict[str, str]) -> tuple[int, str, str]:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = await self.http.post(
            "/graphql", content=content, headers={"content-type": "application/json", **headers}
        )
        # Every header, in order: the common POST answered without the view must send what it would.
        return response.status_code, json.dumps(response.headers.multi_items()), response.text

    async def operations_recorded(self) -> list[str]:
        """The request counter's samples, by operation type, root field and code."""
        text = (await self.http.get("/metrics")).text
        return sorted(
            line for line in text.splitlines() if line.startswith("pixelpet_graphql_requests_total{")
        )

    def spans_recorded(self) -> list[tuple[str, str]]:
        finished = [
            (span.name, json.dumps(dict(span.attributes or {}), sort_keys=True))
            for span in self.spans.get_finished_spans()
        ]
        self.spans.clear()
        return finished


def _schema(app: Starlette) -> PixelPetSchema:
    view = next(route for route in app.routes if getattr(route, "path", None) == "/graphql")
    schema = view.endpoint.schema  # type: ignore[attr-defined]
    assert isinstance(schema, PixelPetSchema)
    return schema


def _settings() -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        mongodb_uri=SecretStr("mongodb://in-memory.invalid/"),
        limits=LimitSettings(
            mutations_per_second=10_000, mutation_burst=10_000, queries_per_second=10_000, query_burst=10_000
        ),
    )


@contextlib.asynccontextmanager
async def _side(*, pipeline: bool) -> AsyncIterator[Side]:
    spans = InMemorySpanExporter()
    app = create_app(_settings(), clock=ManualClock(T0), store=InMemoryPetStore(), span_exporter=spans)
    schema = _schema(app)
    assert schema.pipeline is not None, "the service as shipped runs the pipeline"
    if not pipeline:
        schema.pipeline = None  # strawberry's path, with the same steps as extensions
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pixelpet.test") as http,
    ):
        yield Side(http, schema, spans, app)


@contextlib.asynccontextmanager
async def _both() -> AsyncIterator[tuple[Side, Side]]:
    async with _side(pipeline=True) as ours, _side(pipeline=False) as strawberrys:
        yield ours, strawberrys


def _normalized(text: str, seen: dict[str, str]) -> str:
    return _IDS.sub(lambda match: seen.setdefault(match.group(0), f"<id{len(seen)}>"), text)


async def _same(ours: Side, strawberrys: Side, body: Any, headers: dict[str, str] | None = None) -> str:
    """Send ``body`` to both; assert the same answer and spans; the answer (normalized)."""
    headers = headers if headers is not None else {"authorization": f"Bearer {token_for('ann')}"}
    a, b = await ours.send(body, headers), await strawberrys.send(body, headers)
    seen_a: dict[str, str] = {}
    seen_b: dict[str, str] = {}
    answer_a = (a[0], a[1], _normalized(a[2], seen_a))
    answer_b = (b[0], b[1], _normalized(b[2], seen_b))
    assert answer_a == answer_b, body
    spans_a = [(name, _normalized(attributes, seen_a)) for name, attributes in ours.spans_recorded()]
    spans_b = [(name, _normalized(attributes, seen_b)) for name, attributes in strawberrys.spans_recorded()]
    assert spans_a == spans_b, body
    return answer_a[2]


def _ann() -> dict[str, str]:
    return {"authorization": f"Bearer {token_for('ann')}"}


PET = "query($id: ID!) { pet(id: $id) { id name mood stats { hunger } } }"
REQUESTS: list[tuple[str, Any, dict[str, str] | None]] = [
    ("a list", {"query": "{ pets(first: 5) { edges { cursor node { id name } } } }"}, None),
    ("a pet that is not there", {"query": PET, "variables": {"id": "0" * 24}}, None),
    ("a malformed id", {"query": PET, "variables": {"id": "nope"}}, None),
    ("variables that do not fit", {"query": PET, "variables": {}}, None),
    ("a variable of the wrong type", {"query": PET, "variables": {"id": {"x": 1}}}, None),
    ("a syntax error", {"query": "{ pets("}, None),
    ("an unknown field", {"query": "{ pest { id } }"}, None),
    ("no query", {"variables": {}}, None),
    ("an empty query", {"query": ""}, None),
    ("a subscription over HTTP", {"query": "subscription { pets { __typename } }"}, None),
    (
        "an operation name the document lacks",
        {"query": "query A { pets { edges { cursor } } }", "operationName": "B"},
        None,
    ),
    (
        "two operations, no name",
        {"query": "query A { pets { edges { cursor } } } query B { __typename }"},
        None,
    ),
    (
        "two operations, the second named",
        {"query": "query A { pets { edges { cursor } } } query B { __typename }", "operationName": "B"},
        None,
    ),
    ("introspection", {"query": "{ __schema { queryType { name } } }"}, None),
    ("too many aliases", {"query": "{ " + " ".join(f"a{n}: __typename" for n in range(20)) + " }"}, None),
    (
        "too many root fields",
        {"query": "{ " + " ".join(f"a{n}: pets {{ edges {{ cursor }} }}" for n in range(11)) + " }"},
        None,
    ),
    (
        "a rename refused",
        {
            "query": 'mutation($id: ID!) { renamePet(id: $id, name: "") { id } }',
            "variables": {"id": "0" * 24},
        },
        None,
    ),
    ("no token", {"query": "{ pets { edges { cursor } } }"}, {}),
    ("a bad token", {"query": "{ pets { edges { cursor } } }"}, {"authorization": "Bearer nope"}),
    (
        "graphql-response+json refused",
        {"query": "{ pest }"},
        _ann() | {"accept": "application/graphql-response+json"},
    ),
    (
        "graphql-response+json answered",
        {"query": "{ __typename }"},
        _ann() | {"accept": "application/graphql-response+json"},
    ),
    ("a number as the operation name", {"query": "{ __typename }", "operationName": 5}, None),
    ("a list as the operation name", {"query": "{ __typename }", "operationName": [1]}, None),
    ("an object as the operation name", {"query": "{ __typename }", "operationName": {"a": 1}}, None),
    ("a long operation name", {"query": "query Q { __typename }", "operationName": "Q" * 5000}, None),
    ("not JSON", b"{", None),
    ("a batch", [{"query": "{ __typename }"}], None),
    ("JSON that is no object", b"[1", None),
    ("a string as the body", b'"{ __typename }"', None),
    ("a number as the body", b"5", None),
    ("a list of numbers as the body", b"[1]", None),
    ("a null query", {"query": None}, None),
    ("a query that is no text", {"query": 5}, None),
    ("variables that are no object", {"query": "{ __typename }", "variables": [1]}, None),
    ("null variables", {"query": "{ __typename }", "variables": None}, None),
    ("extensions that are no object", {"query": "{ __typename }", "extensions": 1}, None),
    ("extensions", {"query": "{ __typename }", "extensions": {"persistedQuery": {}}}, None),
    ("an unknown key", {"query": "{ __typename }", "other": 1}, None),
    ("a null operation name", {"query": "{ __typename }", "operationName": None}, None),
    (
        "a charset",
        {"query": "{ __typename }"},
        _ann() | {"content-type": "application/json; charset=utf-8"},
    ),
    (
        "a media type in capitals",
        {"query": "{ __typename }"},
        _ann() | {"content-type": "Application/JSON"},
    ),
    ("form data", b"query=x", {"content-type": "application/x-www-form-urlencoded"}),
    ("no content type", {"query": "{ __typename }"}, {"content-type": ""}),
    (
        "a stream asked for",
        {"query": "{ __typename }"},
        _ann() | {"accept": "multipart/mixed"},
    ),
    (
        "events asked for",
        {"query": "{ __typename }"},
        _ann() | {"accept": "text/event-stream"},
    ),
    (
        "graphql-response+json, a syntax error",
        {"query": "{ pets("},
        _ann() | {"accept": "application/graphql-response+json"},
    ),
    (
        "graphql-response+json, variables that do not fit",
        {"query": PET, "variables": {"id": 5}},
        _ann() | {"accept": "application/graphql-response+json"},
    ),
    ("a mutation", {"query": 'mutation { renamePet(id: "x", name: "y") { id } }'}, None),
    (
        "UTF-8 in the body",
        json.dumps({"query": '{ pet(id: "é") { id } }'}, ensure_ascii=False).encode(),
        None,
    ),
    ("a body that is no UTF-8", b'{"query": "\xff"}', None),
    ("a body nested past the parser's depth", b"[" * 5_000, None),
]


async def test_every_request_is_answered_and_recorded_as_strawberry_would() -> None:
    async with _both() as (ours, strawberrys):
        created = await _same(
            ours,
            strawberrys,
            {
                "query": "mutation($n: String!) { createPet(input: {name: $n, species: CAT}) { id name } }",
                "variables": {"n": "Mochi"},
            },
        )
        assert "Mochi" in created
        for _, body, headers in REQUESTS:
            await _same(ours, strawberrys, body, headers)
        # Actions on the pet each side created: the same outcomes in the same order.
        ids = [
            json.loads((await side.send({"query": "{ pets { edges { node { id } } } }"}, _ann()))[2])["data"][
                "pets"
            ]["edges"][0]["node"]["id"]
            for side in (ours, strawberrys)
        ]
        for mutation in ("feedPet", "playWithPet", "putPetToSleep", "feedPet"):
            answers = []
            for side, pet_id in zip((ours, strawberrys), ids, strict=True):
                query = f"mutation($id: ID!) {{ {mutation}(id: $id) {{ id version mood }} }}"
                answers.append(
                    _normalized(
                        (await side.send({"query": query, "variables": {"id": pet_id}}, _ann()))[2], {}
                    )
                )
            assert answers[0] == answers[1], mutation
        assert await ours.operations_recorded() == await strawberrys.operations_recorded()
        recorded = "\n".join(await ours.operations_recorded())
        for code in (
            "GRAPHQL_PARSE_FAILED",
            "GRAPHQL_VALIDATION_FAILED",
            "NOT_FOUND",
            "BAD_USER_INPUT",
            "OK",
        ):
            assert f'code="{code}"' in recorded, code


# Fields graphql-core resolves (a resolver, arguments) beside the plain ones completion.py completes.
RESOLVED_FIELDS = ("drift { hunger until }", "forecast(hours: 2) { events { kind at mood need } until }")


@st.composite
def pet_documents(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A query for one pet or a page of them: some of its fields, perhaps aliased, in a fragment, or
    behind ``@include``/``@skip``, with an id or a page size that may not fit."""
    choices = (*PET_FIELDS, *RESOLVED_FIELDS, "__typename")
    fields = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=len(choices), unique=True))
    selections = []
    for n, field in enumerate(fields):
        selection = f"a{n}: {field}" if draw(st.booleans()) else field
        directive = draw(st.sampled_from(["", "", " @include(if: $flag)", " @skip(if: $flag)"]))
        head, brace, rest = selection.partition(" {")
        selections.append(f"{head}{directive}{brace}{rest}")
    in_fragment = draw(st.booleans())
    body = "...F" if in_fragment else " ".join(selections)
    fragment = f" fragment F on Pet {{ {' '.join(selections)} }}" if in_fragment else ""
    name = draw(st.sampled_from(["", "Named"]))
    if draw(st.booleans()):
        root = f"pet(id: $id) {{ {body} }}"
        parameters = "$id: ID!, $flag: Boolean!"
        variables: dict[str, Any] = {"id": draw(st.sampled_from(["MINE", "0" * 24, "x", 7, None]))}
    else:
        page_info = "pageInfo { hasNextPage endCursor }"
        root = f"pets(first: $first) {{ edges {{ cursor node {{ {body} }} }} {page_info} }}"
        parameters = "$first: Int!, $flag: Boolean!"
        variables = {"first": draw(st.sampled_from([1, 2, 3, 0, -1, 101]))}
    variables["flag"] = draw(st.booleans())
    return f"query {name}({parameters}) {{ {root} }}{fragment}", variables


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents=st.lists(pet_documents(), min_size=1, max_size=4))
async def test_any_pet_query_is_answered_as_strawberry_would(
    documents: list[tuple[str, dict[str, Any]]],
) -> None:
    async with _both() as (ours, strawberrys):
        mine = []
        for side in (ours, strawberrys):
            for name in ("Rex", "Mochi", "Tofu"):
                _, _, text = await side.send(
                    {"query": f'mutation {{ createPet(input: {{name: "{name}", species: DOG}}) {{ id }} }}'},
                    _ann(),
                )
            mine.append(json.loads(text)["data"]["createPet"]["id"])
        for document, variables in documents:
            answers = []
            for side, pet_id in zip((ours, strawberrys), mine, strict=True):
                values = {**variables, "id": pet_id} if variables.get("id") == "MINE" else variables
                answers.append(
                    _normalized((await side.send({"query": document, "variables": values}, _ann()))[2], {})
                )
            assert answers[0] == answers[1], document
        assert await ours.operations_recorded() == await strawberrys.operations_recorded()


def test_a_schema_given_other_extensions_keeps_strawberrys_path() -> None:
    app = create_app(_settings(), clock=ManualClock(T0), store=InMemoryPetStore())
    schema = _schema(app)
    assert schema.pipeline is not None
    schema.extensions = (*schema.extensions, object)  # type: ignore[assignment]  # as bench/baselines.py does
    assert schema.extensions is not schema._built_extensions


async def test_the_pipeline_runs_within_the_operations_budget() -> None:
    settings_ = _settings()
    settings_.limits.operation_timeout_s = 1e-9  # spent before the first resolver starts
    app = create_app(settings_, clock=ManualClock(T0), store=InMemoryPetStore())
    assert _schema(app).pipeline is not None
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pixelpet.test") as http,
    ):
        response = await http.post(
            "/graphql", json={"query": "{ pets { edges { cursor } } }"}, headers=_ann()
        )
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"


async def test_a_failure_outside_any_resolver_is_an_internal_error_on_both_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug in a step around execution (here: validation) is the operation's one error, classified and
    recorded as INTERNAL_SERVER_ERROR, as strawberry's execute reports it; never a bare 500."""
    async with _both() as (ours, strawberrys):

        def broken(*args: Any) -> None:
            raise RuntimeError("a bug")

        for side in (ours, strawberrys):
            monkeypatch.setattr(side.schema.document_cache, "validate", broken)
        answer = await _same(ours, strawberrys, {"query": "{ pets { edges { cursor } } }"})
        assert '"code":"INTERNAL_SERVER_ERROR"' in answer
        assert "a bug" not in answer
        assert await ours.operations_recorded() == await strawberrys.operations_recorded()
        assert 'code="INTERNAL_SERVER_ERROR"' in "\n".join(await ours.operations_recorded())
