"""``serve``, ``token``, ``schema`` and ``healthcheck``: running the service and what it needs at hand."""

import sys
from datetime import timedelta

from pixelpet.auth import development_token
from pixelpet.cli.context import load_settings
from pixelpet.cli.errors import FAILED, OK, USAGE, CommandError
from pixelpet.settings import Environment
from pixelpet.telemetry.tracing import TelemetryConfigurationError


def serve() -> int:
    settings = load_settings()
    from pixelpet.server import serve as run  # the server's imports are for this command only

    try:
        return run(settings)
    except TelemetryConfigurationError as error:  # raised by create_app, before anything listens
        raise CommandError(f"invalid configuration: {error}", exit_code=USAGE) from error


def token(subject: str, ttl_hours: float) -> int:
    settings = load_settings()
    if settings.environment is Environment.PRODUCTION:
        raise CommandError("development tokens are refused in production", exit_code=USAGE)
    sys.stdout.write(development_token(settings.auth, subject, ttl=timedelta(hours=ttl_hours)) + "\n")
    return OK


def schema() -> int:
    from pixelpet.graphql.schema import sdl

    sys.stdout.write(sdl())
    return OK


def healthcheck() -> int:
    from pixelpet.health import check_ready

    ok, detail = check_ready(port=load_settings().port)
    (sys.stdout if ok else sys.stderr).write(detail + "\n")
    return OK if ok else FAILED
