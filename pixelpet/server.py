"""Runs the app under uvicorn with JSON logs and podinfo-style graceful shutdown."""

import gc

import uvicorn

from pixelpet.app import create_app
from pixelpet.lifecycle import DrainingServer
from pixelpet.settings import Settings
from pixelpet.telemetry.logging import configure_logging


def serve(settings: Settings) -> int:
    configure_logging(settings.log_level)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        lifespan="on",
        log_config=None,  # configure_logging already routed uvicorn's loggers
        proxy_headers=False,
        server_header=False,
        ws="websockets-sansio",
        ws_ping_interval=settings.subscriptions.ping_interval_s,
        ws_ping_timeout=settings.subscriptions.ping_timeout_s,
        # Pet updates are a few hundred bytes: compression saves little, and its zlib state cost about
        # 50 KiB per connection (the fan-out rows of docs/performance.md measure both settings).
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=settings.lifecycle.shutdown_grace_s,
    )
    server = DrainingServer(
        config, lifecycle=app.state.lifecycle, drain_delay_s=settings.lifecycle.drain_delay_s
    )
    # Everything imported and built so far lives as long as the process: move it out of the
    # collector's sight, so a full collection scans connections and requests, not the schema and
    # every module (decision 10).
    gc.collect()
    gc.freeze()
    server.run()
    return 0
