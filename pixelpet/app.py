"""The composition root: ``create_app`` wires everything; the lifespan builds and tears it down."""

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from pixelpet import db, health
from pixelpet.auth import TokenVerifier
from pixelpet.clock import Clock, SystemClock
from pixelpet.devdb import DevDatabase
from pixelpet.graphql.schema import build_schema
from pixelpet.graphql.view import GraphQLView
from pixelpet.pets.repository import PetRepository
from pixelpet.pets.service import PetService
from pixelpet.ratelimit import TokenBucketLimiter
from pixelpet.runtime import Runtime
from pixelpet.settings import Environment, Settings

logger = logging.getLogger("pixelpet")


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> Starlette:
    """Build the ASGI app. Nothing connects until the lifespan starts."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    schema = build_schema(settings.limits)
    graphql = GraphQLView(
        schema,
        graphql_ide="graphiql" if settings.environment is Environment.DEVELOPMENT else None,
        allow_queries_via_get=False,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            uri = await _database_uri(settings, stack)
            client = db.create_client(uri, settings.mongo)
            stack.push_async_callback(client.close)
            await db.init_storage(client, settings.mongo.database)
            limiter = TokenBucketLimiter(
                rate_per_second=settings.limits.mutations_per_second,
                burst=settings.limits.mutation_burst,
                clock=clock,
            )
            pets = PetService(
                repository=PetRepository(client),
                clock=clock,
                limits=settings.limits,
                mutation_limiter=limiter,
            )
            app.state.runtime = Runtime(
                settings=settings,
                clock=clock,
                client=client,
                pets=pets,
                verifier=TokenVerifier(settings.auth),
            )
            logger.info("pixelpet ready", extra={"environment": settings.environment.value})
            yield

    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/livez", health.livez),
        Route("/readyz", health.readyz),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


async def _database_uri(settings: Settings, stack: contextlib.AsyncExitStack) -> str:
    if settings.mongodb_uri is not None:
        return settings.mongodb_uri.get_secret_value()
    devdb = DevDatabase(storage=settings.devdb.data_dir, port=settings.devdb.port)
    await devdb.start_async(timeout_s=settings.devdb.startup_timeout_s)
    stack.push_async_callback(devdb.stop_async)
    logger.warning(
        "DEVELOPMENT DATABASE: no PIXELPET_MONGODB_URI set, so an embedded SecantusDB runs at %s with its "
        "data in %s. Never use this in production.",
        devdb.uri,
        settings.devdb.data_dir.resolve(),
    )
    return devdb.uri
