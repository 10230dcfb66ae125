"""Runs the app under uvicorn."""

import uvicorn

from pixelpet.app import create_app
from pixelpet.settings import Settings


def serve(settings: Settings) -> int:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        lifespan="on",
        proxy_headers=False,
        server_header=False,
        ws="websockets-sansio",
    )
    uvicorn.Server(config).run()
    return 0
