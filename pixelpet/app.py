"""The composition root: ``create_app`` wires everything; the lifespan builds and tears it down."""

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from importlib.metadata import version as package_version

from opentelemetry.sdk.trace.export import SpanExporter
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from pixelpet import health
from pixelpet.admin import admin_routes
from pixelpet.auth import TokenVerifier
from pixelpet.clock import Clock, SystemClock
from pixelpet.cors import CORS
from pixelpet.devdb import DevDatabase
from pixelpet.graphql.body_limit import BodyLimit
from pixelpet.graphql.endpoint import GraphQLWebSocket, WebSocketShortcut
from pixelpet.graphql.limits import Limits
from pixelpet.graphql.post import GraphQLPost
from pixelpet.graphql.schema import build_schema
from pixelpet.graphql.telemetry import OperationRecorder
from pixelpet.graphql.view import GraphQLView
from pixelpet.headers import SecurityHeaders
from pixelpet.lifecycle import Lifecycle
from pixelpet.pets.live.channels import Channels
from pixelpet.pets.live.subscription import Subscriptions
from pixelpet.pets.service import PetService, UseCaseLimits
from pixelpet.play.routes import play_routes
from pixelpet.runtime import Runtime
from pixelpet.settings import Settings
from pixelpet.storage.change_stream import MongoChangeStream
from pixelpet.storage.client import Storage, create_client, init_storage, ping
from pixelpet.storage.memory import InMemoryPetStore
from pixelpet.storage.repository import MongoPetRepository
from pixelpet.telemetry.asgi import TracingMiddleware
from pixelpet.telemetry.exposition import MetricsServer
from pixelpet.telemetry.loop import watch_event_loop_lag
from pixelpet.telemetry.metrics import Metrics
from pixelpet.telemetry.mongo import listeners
from pixelpet.telemetry.tracing import Tracing, trace_export

logger = logging.getLogger("pixelpet")

# Probes and scrapes are neither traced nor counted in the SLO metrics.
UNOBSERVED_PATHS = ("/livez", "/readyz", "/metrics")


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    span_exporter: SpanExporter | None = None,
    store: InMemoryPetStore | None = None,
) -> Starlette:
    """Build the ASGI app. Nothing connects until the lifespan starts.

    ``span_exporter`` replaces the configured trace exporter (tests pass an in-memory one). Whether spans
    are exported otherwise comes from the standard OTEL_* variables (pixelpet/telemetry/tracing.py).
    ``store`` replaces MongoDB with an in-memory store (fast API tests: tests/api/).
    """
    settings = settings or Settings()
    clock = clock or SystemClock()
    version = package_version("pixelpet")
    metrics = Metrics(version=version, environment=settings.environment.value)
    tracing = Tracing(
        settings.telemetry,
        version=version,
        environment=settings.environment.value,
        export=trace_export(os.environ),
        exporter=span_exporter,
    )
    lifecycle = Lifecycle()
    recorder = OperationRecorder(tracer=tracing.tracer, metrics=metrics)
    schema = build_schema(
        settings.limits,
        introspection=settings.introspection,
        field_suggestions=settings.field_suggestions,
        recorder=recorder,
    )
    graphql = GraphQLView(schema, settings)
    subscriptions = GraphQLWebSocket(
        schema,
        settings.subscriptions,
        recorder=recorder,
        allowed_origins=settings.cors.allowed_origins,
        max_connections=settings.limits.max_connections,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            tracing.start()
            stack.callback(tracing.shutdown)  # runs after the client closes: flushes its last spans
            storage = (
                store.storage() if store is not None else await _mongodb(settings, stack, tracing, metrics)
            )
            if settings.metrics_port is not None:
                metrics_server = MetricsServer(metrics, host=settings.host, port=settings.metrics_port)
                await metrics_server.start()
                stack.push_async_callback(metrics_server.stop)
                app.state.metrics_server = metrics_server
            lag_watch = asyncio.create_task(watch_event_loop_lag(metrics.event_loop_lag))
            stack.callback(lag_watch.cancel)
            live = settings.subscriptions
            channels = Channels(clock=clock, min_interval=timedelta(seconds=live.min_snapshot_interval_s))
            await storage.changes.start(channels)
            stack.push_async_callback(storage.changes.stop)
            metrics.watch_health(
                primary_reachable=storage.primary_reachable, change_stream_silence_s=storage.changes.silence_s
            )
            limits = settings.limits
            pets = PetService(
                repository=storage.repository,
                clock=clock,
                limits=UseCaseLimits(
                    max_page_size=limits.max_page_size,
                    max_pets_per_owner=limits.max_pets_per_owner,
                    max_action_retries=limits.max_action_retries,
                ),
                events=metrics,
            )
            app.state.runtime = Runtime(
                ping=storage.ping,
                pets=pets,
                changes=storage.changes,
                channels=channels,
                subscriptions=Subscriptions(pets=pets, channels=channels, events=metrics),
                verifier=TokenVerifier(settings.auth),
                limits=Limits(limits, live, clock=clock),
                tracer=tracing.tracer,
            )
            logger.info(
                "pixelpet ready", extra={"environment": settings.environment.value, "version": version}
            )
            yield
            logger.info("pixelpet stopping: closing the database client and flushing spans")

    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/livez", health.livez),
        Route("/readyz", health.readyz),
    ]
    if settings.metrics_port is None:
        routes.append(Route("/metrics", metrics.endpoint))
    if settings.admin_token is not None:
        routes += admin_routes(settings.admin_token, lifecycle)
    if settings.play_page:
        routes += play_routes(settings)
    cors = settings.cors
    middleware = [
        Middleware(TracingMiddleware, tracer_provider=tracing.provider, excluded_paths=UNOBSERVED_PATHS),
        Middleware(SecurityHeaders),
        # Pages on other origins: only those listed (WebSockets check the same list: endpoint.py).
        Middleware(
            CORS,
            allow_origins=cors.allowed_origins,
            allow_methods=cors.allowed_methods,
            allow_headers=cors.allowed_headers,
            max_age=cors.max_age_s,
        ),
        Middleware(BodyLimit, max_bytes=settings.limits.max_body_bytes),
        # graphql-transport-ws on the same path as HTTP GraphQL.
        Middleware(WebSocketShortcut, path="/graphql", endpoint=subscriptions),
        # The common POST /graphql without the router and strawberry's view (decision 22).
        Middleware(GraphQLPost, path="/graphql", view=graphql),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.lifecycle = lifecycle
    app.state.settings = settings
    return app


async def _mongodb(
    settings: Settings, stack: contextlib.AsyncExitStack, tracing: Tracing, metrics: Metrics
) -> Storage:
    """MongoDB (or the embedded development database): the client, its collections and change stream."""
    uri = await _database_uri(settings, stack)
    client = create_client(uri, settings.mongo, listeners=[*tracing.mongo_listeners(), *listeners(metrics)])
    stack.push_async_callback(client.close)
    await init_storage(client, settings.mongo.database)
    database = client[settings.mongo.database]
    return Storage(
        repository=MongoPetRepository(database),
        changes=MongoChangeStream(
            database, stale_after_s=settings.subscriptions.change_stream_stale_after_s, events=metrics
        ),
        ping=lambda: ping(client),
        # A lambda: the client replaces its topology description on every change.
        primary_reachable=lambda: client.topology_description.has_writable_server(),
    )


async def _database_uri(settings: Settings, stack: contextlib.AsyncExitStack) -> str:
    if settings.mongodb_uri is not None:
        return settings.mongodb_uri.get_secret_value()
    # Test commands on: development drills arm failpoints with `pixelpet chaos`.
    devdb = DevDatabase(storage=settings.devdb.data_dir, port=settings.devdb.port, test_commands=True)
    await devdb.start_async(timeout_s=settings.devdb.startup_timeout_s)
    stack.push_async_callback(devdb.stop_async)
    logger.warning(
        "DEVELOPMENT DATABASE: no PIXELPET_MONGODB_URI set, so an embedded SecantusDB runs at %s with its "
        "data in %s. Never use this in production.",
        devdb.uri,
        settings.devdb.data_dir.resolve(),
    )
    return devdb.uri
