"""Comparison servers for the benchmark, each run as `python -m bench.baselines VARIANT`.

- ``starlette``: baseline (b), hand-written Starlette JSON endpoints making the same PyMongo calls as
  the service: ``POST /pet`` the `pet` query's ``find_one``, ``POST /pets`` the ``pets(first: 20)`` page
  (the repository's filter, sort and limit), ``POST /feed`` ``feedPet``'s read and version-checked
  ``find_one_and_update``: the ceiling for a Python HTTP service on this stack.
- ``strawberry-default``: baseline (c), our types and resolvers under strawberry's defaults: no parser
  or validation cache, and the async ``OpenTelemetryExtension``.
- ``pixelpet-otel-async`` / ``pixelpet-otel-sync``: the service as shipped plus strawberry's
  field-level tracing extension, to measure what that hook would cost.
- ``pixelpet-deflate``: the service with WebSocket compression on (uvicorn's default), to measure
  what turning it off saves per subscriber.
- ``pixelpet-wsproto``: the service with uvicorn's wsproto WebSocket protocol instead of
  websockets-sansio, to measure what that choice is worth in memory and delivery latency.
- ``websocket-floor``: a bare uvicorn and Starlette WebSocket endpoint answering the probes'
  subscriptions without any GraphQL: the least an idle subscription can cost on this stack.
- ``pixelpet-unshared``: the service executing and encoding every subscription update once per
  subscriber, as strawberry does by default, to measure what sharing them saves.

All read the same PIXELPET_* settings as the service and are served as it is (pixelpet/server.py),
compression and the WebSocket protocol being the one difference of ``pixelpet-deflate`` and
``pixelpet-wsproto``.
"""

import contextlib
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import strawberry
import uvicorn
from bson import ObjectId
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from pymongo import ASCENDING, ReturnDocument
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.extensions.tracing import OpenTelemetryExtension, OpenTelemetryExtensionSync

from pixelpet.app import create_app
from pixelpet.graphql import live_operation, sharing
from pixelpet.graphql.pets import Pet
from pixelpet.graphql.schema import Mutation, Query, Subscription
from pixelpet.graphql.view import GraphQLView
from pixelpet.pets.rules import ACTION_EFFECTS, FULL_BELOW, STAT_MAX, STAT_MIN, Action
from pixelpet.server import configure_garbage_collector, uvicorn_config
from pixelpet.settings import Settings
from pixelpet.storage.client import create_client
from pixelpet.telemetry.logging import configure_logging


def starlette_baseline(settings: Settings) -> Starlette:
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        assert settings.mongodb_uri is not None
        client = create_client(settings.mongodb_uri.get_secret_value(), settings.mongo)
        state["pets"] = client[settings.mongo.database]["pets"]
        yield
        await client.close()

    async def pet(request: Request) -> JSONResponse:
        payload = await request.json()
        document = await state["pets"].find_one({"_id": ObjectId(payload["id"]), "owner": payload["owner"]})
        if document is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(_shown(document))

    async def pets(request: Request) -> JSONResponse:
        """One owner's first page as ``pets(first: 20)`` reads it: the repository's filter, order and limit
        (one more than the page, to know whether another follows)."""
        payload = await request.json()
        cursor = (
            state["pets"]
            .find({"owner": payload["owner"]})
            .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            .limit(PAGE + 1)
        )
        documents = [document async for document in cursor]
        return JSONResponse(
            {
                "pets": [_shown(document) for document in documents[:PAGE]],
                "hasNextPage": len(documents) > PAGE,
            }
        )

    async def feed(request: Request) -> JSONResponse:
        """``feedPet`` without the idempotency key (as the benchmark sends it): read, decide, then write only
        if the version read is still current; the same refusal of a full pet, no retry."""
        payload = await request.json()
        mine = {"_id": ObjectId(payload["id"]), "owner": payload["owner"]}
        document = await state["pets"].find_one(mine)
        if document is None:
            return JSONResponse({"outcome": "NOT_FOUND"}, status_code=404)
        if document["hunger"] < FULL_BELOW:
            return JSONResponse({"outcome": "ACTION_REFUSED"}, status_code=409)
        now = datetime.now(UTC)
        changed = await state["pets"].find_one_and_update(
            {**mine, "version": document["version"]},
            {
                "$set": {
                    "hunger": _clamp(document["hunger"] + FEED.hunger),
                    "happiness": _clamp(document["happiness"] + FEED.happiness),
                    "energy": _clamp(document["energy"] + FEED.energy),
                    "as_of": now,
                    "updated_at": now,
                },
                "$inc": {"version": 1},
            },
            return_document=ReturnDocument.AFTER,
        )
        if changed is None:
            return JSONResponse({"outcome": "CONFLICT"}, status_code=409)
        return JSONResponse({"outcome": "OK", "version": changed["version"], "hunger": changed["hunger"]})

    return Starlette(
        routes=[
            Route("/pet", pet, methods=["POST"]),
            Route("/pets", pets, methods=["POST"]),
            Route("/feed", feed, methods=["POST"]),
            Route("/readyz", _ready),
        ],
        lifespan=lifespan,
    )


PAGE = 20
FEED = ACTION_EFFECTS[Action.FEED]


def _shown(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(document["_id"]),
        "name": document["name"],
        "hunger": document["hunger"],
        "happiness": document["happiness"],
        "energy": document["energy"],
    }


def _clamp(value: float) -> float:
    return min(STAT_MAX, max(STAT_MIN, value))


async def _ready(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def websocket_floor(settings: Settings) -> Starlette:
    """An idle subscription's least possible cost here: uvicorn and Starlette, no GraphQL at all.

    It speaks just enough graphql-transport-ws for the benchmark's probes: an ack, then one
    ``next`` per ``subscribe``, then it waits.
    """

    async def subscriptions(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol="graphql-transport-ws")
        await websocket.receive_text()  # connection_init
        await websocket.send_text('{"type":"connection_ack"}')
        while True:
            message = json.loads(await websocket.receive_text())
            if message.get("type") == "subscribe":
                data = {"petStats": {"version": 1}}
                await websocket.send_text(
                    json.dumps({"id": message["id"], "type": "next", "payload": {"data": data}})
                )

    return Starlette(routes=[WebSocketRoute("/graphql", subscriptions), Route("/readyz", _ready)])


def _view(app: Starlette) -> GraphQLView:
    for route in app.routes:
        endpoint = getattr(route, "endpoint", None)
        if isinstance(endpoint, GraphQLView):
            return endpoint
    raise LookupError("no GraphQL route")


def strawberry_default(settings: Settings) -> Starlette:
    # The extension reads the global tracer provider; give it a recording one, as ours records.
    trace.set_tracer_provider(TracerProvider())
    app = create_app(settings)
    _view(app).schema = strawberry.Schema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=[OpenTelemetryExtension]
    )
    return app


def with_field_tracing(settings: Settings, extension: type) -> Starlette:
    trace.set_tracer_provider(TracerProvider())
    app = create_app(settings)
    schema = _view(app).schema
    schema.extensions = (*schema.extensions, extension)  # type: ignore[attr-defined]
    return app


def unshared(settings: Settings) -> Starlette:
    # Snapshots shown without their shared cache: each subscriber's update is built, executed and
    # encoded for it alone (pixelpet/graphql/sharing.py).
    shared = sharing.execute_shared

    def execute_alone(*args: Any, cache: dict[object, object], **kwargs: Any) -> Any:
        return shared(*args, cache={}, **kwargs)

    live_operation.execute_shared = execute_alone  # type: ignore[attr-defined]
    Pet.shown = classmethod(lambda cls, snapshot: cls.at(snapshot.pet, snapshot.at))  # type: ignore[method-assign,assignment]
    return create_app(settings)


VARIANTS = {
    "starlette": starlette_baseline,
    "strawberry-default": strawberry_default,
    "pixelpet-otel-async": lambda settings: with_field_tracing(settings, OpenTelemetryExtension),
    "pixelpet-otel-sync": lambda settings: with_field_tracing(settings, OpenTelemetryExtensionSync),
    # The service as shipped, but served with permessage-deflate on, or with wsproto (see main()).
    "pixelpet-deflate": create_app,
    "pixelpet-wsproto": create_app,
    "websocket-floor": websocket_floor,
    "pixelpet-unshared": unshared,
}


def main() -> None:
    variant = sys.argv[1]
    settings = Settings()
    configure_logging(settings.log_level)
    app = VARIANTS[variant](settings)
    # Served exactly as the service is, so that each comparison changes one thing.
    overrides: dict[str, object] = {"ws_per_message_deflate": variant == "pixelpet-deflate"}
    if variant == "pixelpet-wsproto":
        overrides["ws"] = "wsproto"
    config = uvicorn_config(app, settings, **overrides)
    configure_garbage_collector()
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
