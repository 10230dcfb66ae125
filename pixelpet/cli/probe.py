"""``pixelpet probe``: the synthetic player's journey, once (an exit code) or forever (a metrics endpoint).

create a pet -> subscribe to it -> feed it -> see the feeding arrive on the subscription -> delete it.
Each step is timed and bounded; a failed step ends the journey, and the probe's pet is deleted anyway.
With ``--serve`` it is a blackbox-style exporter: Prometheus scrapes ``pixelpet_probe_success`` and the
step durations, and alerts when the journey fails (a CronJob or a sidecar can run it the same way).
"""

import asyncio
import contextlib
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import uvicorn
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pixelpet.auth import development_token
from pixelpet.cli.context import load_settings
from pixelpet.cli.errors import FAILED, OK, USAGE, CommandError
from pixelpet.cli.output import Output, status
from pixelpet.client.http import post_graphql
from pixelpet.client.websocket import GraphQLWebSocket, Subscription
from pixelpet.settings import Environment

STEP_TIMEOUT_S = 10.0
PROBE_PLAYER = "pixelpet-probe"
STEPS = ("create", "subscribe", "feed", "see update", "delete")

_CREATE = 'mutation { createPet(input: {name: "Probe", species: CAT}) { id version } }'
_FEED = "mutation($id: ID!) { feedPet(id: $id) { version } }"
_DELETE = "mutation($id: ID!) { deletePet(id: $id) }"
_WATCH = "subscription($id: ID!) { petStats(id: $id) { version } }"


@dataclass
class Step:
    step: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class Journey:
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return len(self.steps) == len(STEPS) and all(step.ok for step in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "steps": [asdict(step) for step in self.steps]}


class StepFailed(Exception):
    pass


def probe_token(token: str | None) -> str:
    if token is not None:
        return token
    settings = load_settings()
    if settings.environment is Environment.PRODUCTION:
        raise CommandError("in production, give the probe's player a token with --token", exit_code=USAGE)
    return development_token(settings.auth, PROBE_PLAYER, ttl=timedelta(hours=1))


async def journey(url: str, token: str) -> Journey:
    result = Journey()
    pet_id: str | None = None
    async with httpx.AsyncClient(base_url=url, timeout=STEP_TIMEOUT_S) as http:
        try:
            created = await _timed(result, "create", _graphql(http, token, _CREATE, {}))
            pet_id = created["createPet"]["id"]
            watching = await _timed(result, "subscribe", _subscribe(url, token, pet_id))
            async with watching.client:
                await _timed(result, "feed", _graphql(http, token, _FEED, {"id": pet_id}))
                await _timed(result, "see update", _next_version(watching, at_least=2))
            await _timed(result, "delete", _graphql(http, token, _DELETE, {"id": pet_id}))
            pet_id = None
        except StepFailed:
            pass
        finally:
            if pet_id is not None:  # a failed journey leaves no probe pet behind
                with contextlib.suppress(StepFailed, httpx.HTTPError):
                    await _graphql(http, token, _DELETE, {"id": pet_id})
    return result


async def _timed(result: Journey, name: str, work: Any) -> Any:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(STEP_TIMEOUT_S):
            value = await work
    except Exception as error:  # any failure is the step's verdict, reported, not raised
        detail = "timed out" if isinstance(error, TimeoutError) else (str(error) or type(error).__name__)
        result.steps.append(Step(name, False, time.perf_counter() - started, detail[:200]))
        raise StepFailed from error
    result.steps.append(Step(name, True, time.perf_counter() - started))
    return value


async def _graphql(
    http: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    answer = await post_graphql(http, query, variables, token=token)
    if answer.outcome != "OK" or answer.data is None:
        errors = (answer.body or {}).get("errors") or [{}]
        raise StepFailed(f"{answer.outcome}: {errors[0].get('message', 'no GraphQL answer')}")
    return answer.data


async def _subscribe(url: str, token: str, pet_id: str) -> Subscription:
    client = await GraphQLWebSocket.connect(url, token, ack_timeout_s=STEP_TIMEOUT_S)
    try:
        subscription = await client.subscribe(_WATCH, {"id": pet_id}, operation_id="probe")
        await _next_version(subscription, at_least=1)
    except BaseException:
        await client.close()
        raise
    return subscription


async def _next_version(subscription: Subscription, *, at_least: int) -> int:
    while True:
        payload = await subscription.next()
        if payload.get("errors"):
            raise StepFailed(str(payload["errors"][0].get("message")))
        version: int = payload["data"]["petStats"]["version"]
        if version >= at_least:
            return version


async def once(out: Output, url: str, token: str | None) -> int:
    result = await journey(url, probe_token(token))
    if out.as_json:
        out.json(result.as_dict())
    else:
        out.table(
            f"probe {url}",
            ("step", "", "ms", "detail"),
            ((s.step, status(s.ok), f"{s.seconds * 1000:.0f}", s.detail) for s in result.steps),
        )
    return OK if result.ok else FAILED


class ProbeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.success = Gauge(
            "pixelpet_probe_success", "1 if the last journey succeeded, else 0.", registry=self.registry
        )
        self.step_seconds = Gauge(
            "pixelpet_probe_step_duration_seconds",
            "Each step of the last journey.",
            ["step"],
            registry=self.registry,
        )
        self.journeys = Counter(
            "pixelpet_probe_journeys", "Journeys run, by outcome.", ["outcome"], registry=self.registry
        )
        self.last_run = Gauge(
            "pixelpet_probe_last_run_timestamp_seconds",
            "When the last journey ended.",
            registry=self.registry,
        )

    def record(self, result: Journey) -> None:
        self.success.set(1 if result.ok else 0)
        for step in result.steps:
            self.step_seconds.labels(step.step).set(step.seconds)
        self.journeys.labels("success" if result.ok else "failure").inc()
        self.last_run.set(time.time())

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_PLAIN_0_0_4)


def serve(url: str, token: str | None, *, port: int, interval_s: float) -> int:
    """Probe every ``interval_s`` and serve the latest results on ``port`` until interrupted."""
    bearer = probe_token(token)
    metrics = ProbeMetrics()

    async def keep_probing() -> None:
        while True:
            metrics.record(await journey(url, bearer))
            await asyncio.sleep(interval_s)

    async def lifespan(app: Starlette) -> Any:
        task = asyncio.create_task(keep_probing())
        yield
        task.cancel()

    app = Starlette(routes=[Route("/metrics", metrics.endpoint)], lifespan=lifespan)
    uvicorn.run(app, host="0.0.0.0", port=port, log_level="warning")  # noqa: S104 - scraped by Prometheus
    return OK
