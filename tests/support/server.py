"""A real uvicorn server on a loopback port, running in the test's event loop."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette

from pixelpet.app import create_app
from pixelpet.clock import Clock
from pixelpet.server import uvicorn_config
from pixelpet.settings import Settings
from tests.support.graphql import GraphQLClient


@contextlib.asynccontextmanager
async def running_server(
    app: Starlette, *, send_buffer_bytes: int | None = None, port: int = 0
) -> AsyncIterator[str]:
    """Serve ``app`` over TCP until the block ends; yields the base URL.

    ``send_buffer_bytes`` shrinks the kernel send buffer of every accepted connection (Linux
    copies it from the listening socket), standing in for a slow network path. ``port`` 0 picks a free
    one; a given port serves again where clients expect the server to come back (a restart).
    """
    settings = getattr(app.state, "settings", None)
    if settings is not None:  # the service: served as pixelpet/server.py serves it
        config = uvicorn_config(app, settings, host="127.0.0.1", port=0)
    else:  # a stand-in (an OTLP receiver, a JWKS endpoint)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_config=None)
    server = uvicorn.Server(config)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if send_buffer_bytes is not None:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer_bytes)
    listener.bind(("127.0.0.1", port))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    port = listener.getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        listener.close()


@contextlib.asynccontextmanager
async def serving(settings: Settings, clock: Clock) -> AsyncIterator[tuple[str, GraphQLClient]]:
    """The service built from ``settings`` and ``clock``, served; its URL and a GraphQL client for it."""
    async with (
        running_server(create_app(settings, clock=clock)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        yield url, GraphQLClient(http)
