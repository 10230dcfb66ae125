"""``pixelpet``: run the service, mint development tokens, print the schema."""

import argparse
import sys
from datetime import timedelta

from pydantic import ValidationError

from pixelpet.auth import mint_development_token
from pixelpet.clock import SystemClock
from pixelpet.settings import Environment, Settings
from pixelpet.telemetry.tracing import TelemetryConfigurationError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pixelpet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the service (configured by PIXELPET_* variables)")
    token = commands.add_parser("token", help="print a development bearer token (HS256)")
    token.add_argument("--sub", default="dev-player", help="the owner id (JWT sub claim)")
    token.add_argument("--ttl-hours", type=float, default=24.0, help="lifetime in hours")
    commands.add_parser("schema", help="print the GraphQL schema (SDL)")
    commands.add_parser(
        "healthcheck",
        help="exit 0 if the instance on this machine is ready (/readyz is 200), else 1 (the HEALTHCHECK)",
    )
    args = parser.parse_args(argv)

    if args.command == "schema":
        from pixelpet.graphql.schema import sdl

        sys.stdout.write(sdl())
        return 0
    try:
        settings = Settings()
    except ValidationError as error:
        # Operators get the reasons, not a stack trace.
        reasons = "; ".join(str(problem["msg"]).removeprefix("Value error, ") for problem in error.errors())
        sys.stderr.write(f"pixelpet: invalid configuration: {reasons}\n")
        return 2
    if args.command == "healthcheck":
        from pixelpet.health import check_ready

        ok, detail = check_ready(port=settings.port)
        (sys.stdout if ok else sys.stderr).write(detail + "\n")
        return 0 if ok else 1
    if args.command == "token":
        if settings.environment is Environment.PRODUCTION:
            parser.error("development tokens are refused in production")
        sys.stdout.write(
            mint_development_token(
                secret=settings.auth.dev_secret.get_secret_value(),
                subject=args.sub,
                now=SystemClock().now(),
                ttl=timedelta(hours=args.ttl_hours),
            )
            + "\n"
        )
        return 0
    from pixelpet.server import serve

    try:
        return serve(settings)
    except TelemetryConfigurationError as error:  # raised by create_app, before anything listens
        sys.stderr.write(f"pixelpet: invalid configuration: {error}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
