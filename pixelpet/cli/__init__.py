"""``pixelpet``: the service and the tools an operator reaches for (docs/decisions/0015-operations-cli.md).

Every command has ``--help`` with an example; failures are one line on stderr and an exit code
(pixelpet/cli/output.py). The command modules are imported when their command runs, so
``pixelpet healthcheck`` (a container's HEALTHCHECK, every few seconds) stays cheap.
"""

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pixelpet.cli.errors import OK, USAGE, CommandError

if TYPE_CHECKING:
    from pixelpet.cli.output import Output


def _output(as_json: bool) -> "Output":
    from pixelpet.cli.output import Output

    return Output(as_json=as_json)


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
ServiceUrl = Annotated[str, typer.Option("--url", help="The service's base URL.")]


def _run(work: Callable[[], int | Coroutine[Any, Any, int]], *, as_json: bool = False) -> None:
    """Run a command; a CommandError becomes one readable line and its exit code."""
    try:
        result = work()
        code = asyncio.run(result) if isinstance(result, Coroutine) else result
    except CommandError as error:
        _output(as_json).report(error)  # rich only when there is something to say
        code = error.exit_code
    raise typer.Exit(code)


def build() -> typer.Typer:
    app = typer.Typer(
        name="pixelpet",
        help="Pixel Pet: run the service, and operate it.",
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode="rich",
        pretty_exceptions_enable=False,
    )
    db = typer.Typer(help="Database maintenance: indexes, per-owner counts, backups.", no_args_is_help=True)
    chaos = typer.Typer(
        help="Fault injection for drills (development only): arm and clear MongoDB failpoints.",
        no_args_is_help=True,
    )
    app.add_typer(db, name="db")
    app.add_typer(chaos, name="chaos")

    @app.command(epilog="Example: PIXELPET_MONGODB_URI=mongodb://db:27017/?replicaSet=rs0 pixelpet serve")
    def serve() -> None:
        """Run the service (configured by PIXELPET_* variables; without PIXELPET_MONGODB_URI, on an embedded
        development database)."""
        from pixelpet.cli import service

        _run(service.serve)

    @app.command(epilog="Example: pixelpet token --sub alice --ttl-hours 1")
    def token(
        sub: Annotated[str, typer.Option(help="The owner id (the JWT sub claim).")] = "dev-player",
        ttl_hours: Annotated[float, typer.Option(help="Lifetime in hours.")] = 24.0,
    ) -> None:
        """Print a development bearer token (HS256). Refused in production."""
        from pixelpet.cli import service

        _run(lambda: service.token(sub, ttl_hours))

    @app.command(epilog="Example: pixelpet schema > schema.graphql")
    def schema() -> None:
        """Print the GraphQL schema (SDL)."""
        from pixelpet.cli import service

        _run(service.schema)

    @app.command(epilog="Example: pixelpet healthcheck || echo not ready")
    def healthcheck() -> None:
        """Exit 0 if the instance on this machine is ready (/readyz is 200), else 1: the HEALTHCHECK."""
        from pixelpet.cli import service

        _run(service.healthcheck)

    @app.command(epilog="Example: pixelpet doctor --json | jq '.[] | select(.ok == false)'")
    def doctor(as_json: JsonOption = False) -> None:
        """Check the configuration and everything it points at: database (replica set, primary, clock skew,
        indexes, change streams), the OTLP endpoint, the JWKS URL. Exit 1 if any check fails."""
        from pixelpet.cli import commands

        _run(lambda: commands.doctor(_output(as_json)), as_json=as_json)

    @db.command("indexes", epilog="Example: pixelpet db indexes --apply")
    def db_indexes(
        apply: Annotated[
            bool, typer.Option("--apply", help="Create missing indexes, rebuild different ones.")
        ] = False,
        as_json: JsonOption = False,
    ) -> None:
        """List the indexes the code declares against the database's; exit 1 if any is missing or different
        (unless --apply fixed it)."""
        from pixelpet.cli import commands

        _run(lambda: commands.indexes(_output(as_json), apply=apply), as_json=as_json)

    @db.command("recount", epilog="Example: pixelpet db recount && pixelpet db recount --apply")
    def db_recount(
        apply: Annotated[
            bool, typer.Option("--apply", help="Write the corrected counts (default: dry run).")
        ] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Compare each owner's stored pet count (which enforces the per-player cap) with their pets; --apply
        repairs the ones that drifted (pets deleted behind the service's back). Exit 1 on a dry run that
        finds drift."""
        from pixelpet.cli import commands

        _run(lambda: commands.recount(_output(as_json), apply=apply), as_json=as_json)

    @db.command("backup", epilog="Example: pixelpet db backup backups/2026-12-01")
    def db_backup(
        directory: Annotated[Path, typer.Argument(help="A new or empty directory for the backup.")],
        as_json: JsonOption = False,
    ) -> None:
        """Export pets and owners, read at one moment, to gzipped Extended JSON lines, with counts and SHA-256
        checksums in manifest.json."""
        from pixelpet.cli import backup

        _run(lambda: backup.backup(_output(as_json), directory), as_json=as_json)

    @db.command("restore", epilog="Example: pixelpet db restore backups/2026-12-01 --dry-run")
    def db_restore(
        directory: Annotated[Path, typer.Argument(help="A directory written by `pixelpet db backup`.")],
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Verify and report; write nothing.")] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Verify a backup's checksums and counts, then restore it. Idempotent: each document replaces the one
        with its id, so running it twice leaves the same data."""
        from pixelpet.cli import backup

        _run(lambda: backup.restore(_output(as_json), directory, dry_run=dry_run), as_json=as_json)

    @app.command(epilog="Example: pixelpet loadgen --rate 50 --duration 60 --subscribers 20")
    def loadgen(
        url: ServiceUrl = "http://127.0.0.1:8000",
        rate: Annotated[
            float, typer.Option(help="Target requests per second (queries and mutations).")
        ] = 20.0,
        duration: Annotated[float, typer.Option(help="Seconds to run at most.")] = 30.0,
        max_requests: Annotated[int, typer.Option(help="Requests to send at most.")] = 10_000,
        players: Annotated[int, typer.Option(help="Players to act as, each with their own pets.")] = 5,
        subscribers: Annotated[int, typer.Option(help="Live subscriptions to hold open meanwhile.")] = 5,
        allow_remote: Annotated[bool, typer.Option(help="Allow a URL that is not this machine.")] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Drive a mix of queries, mutations and subscriptions at a target rate, bounded by count and time;
        a live display, then a summary (rate achieved, latency percentiles, outcome codes). Loopback only
        unless --allow-remote; tokens are minted with the development secret."""
        from pixelpet.cli import loadgen as generator

        plan = generator.Plan(url, rate, duration, max_requests, players, subscribers)
        _run(lambda: generator.run(_output(as_json), plan, allow_remote=allow_remote), as_json=as_json)

    @app.command(epilog="Example: pixelpet probe --url https://pets.example --token $TOKEN")
    def probe(
        url: ServiceUrl = "http://127.0.0.1:8000",
        token: Annotated[
            str | None,
            typer.Option(help="A bearer token for the probe's player (default: a development one)."),
        ] = None,
        serve_port: Annotated[
            int | None,
            typer.Option("--serve", help="Keep probing and serve the results as metrics on this port."),
        ] = None,
        interval: Annotated[float, typer.Option(help="Seconds between journeys with --serve.")] = 30.0,
        as_json: JsonOption = False,
    ) -> None:
        """The synthetic player's journey: create a pet, subscribe, feed it, see the update arrive live,
        delete it. Each step's latency; exit 1 if a step fails. With --serve, a blackbox-style exporter:
        /metrics has pixelpet_probe_success and the step durations."""
        from pixelpet.cli import probe as prober

        if serve_port is not None:
            _run(lambda: prober.serve(url, token, port=serve_port, interval_s=interval))
        _run(lambda: prober.once(_output(as_json), url, token), as_json=as_json)

    @app.command(epilog="Example: pixelpet slo --prometheus-url http://prometheus:9090")
    def slo(
        prometheus_url: Annotated[str, typer.Option(help="Prometheus' base URL.")] = "http://127.0.0.1:9090",
        as_json: JsonOption = False,
    ) -> None:
        """Each SLO's objective, error budget remaining over its 30 days, and burn rates (5m, 1h, 6h, 3d); red
        where its page is firing. Exit 1 if a page fires."""
        from pixelpet.cli import slo as report

        _run(lambda: report.slo(_output(as_json), prometheus_url), as_json=as_json)

    @app.command(epilog="Example: PIXELPET_ADMIN_TOKEN=... pixelpet drain --url http://10.0.0.7:8000")
    def drain(url: ServiceUrl = "http://127.0.0.1:8000", as_json: JsonOption = False) -> None:
        """Take one instance out of rotation (its /readyz fails) without stopping it; `undrain` puts it back.
        Needs the admin token (PIXELPET_ADMIN_TOKEN)."""
        from pixelpet.cli import commands

        _run(lambda: commands.drain(_output(as_json), url, drained=True), as_json=as_json)

    @app.command(epilog="Example: PIXELPET_ADMIN_TOKEN=... pixelpet undrain --url http://10.0.0.7:8000")
    def undrain(url: ServiceUrl = "http://127.0.0.1:8000", as_json: JsonOption = False) -> None:
        """Put an instance drained with `drain` back into rotation."""
        from pixelpet.cli import commands

        _run(lambda: commands.drain(_output(as_json), url, drained=False), as_json=as_json)

    @chaos.command(
        "arm", epilog="Example: pixelpet chaos arm --mode block --commands find --block-ms 3000 --times 5"
    )
    def chaos_arm(
        mode: Annotated[str, typer.Option(help="close-connection, block, or error.")],
        commands_: Annotated[
            str, typer.Option("--commands", help="Comma-separated commands to fail.")
        ] = "find",
        error_code: Annotated[int, typer.Option(help="With --mode error: the server error code.")] = 91,
        block_ms: Annotated[
            int, typer.Option(help="With --mode block: how long each command blocks.")
        ] = 3000,
        times: Annotated[
            int | None, typer.Option(help="Fire this many times only (default: until cleared).")
        ] = None,
    ) -> None:
        """Arm MongoDB's failCommand failpoint on the configured database. Refused outside development."""
        from pixelpet.cli import commands

        failure = commands.Failure(mode, commands_.split(","), error_code, block_ms, times)
        _run(lambda: commands.chaos_arm(_output(False), failure))

    @chaos.command("clear", epilog="Example: pixelpet chaos clear")
    def chaos_clear() -> None:
        """Turn the failCommand failpoint off. Refused outside development."""
        from pixelpet.cli import commands

        _run(lambda: commands.chaos_clear(_output(False)))

    return app


def main(argv: list[str] | None = None) -> int:
    """The console script; returns the exit code (tests call it in-process)."""
    command = typer.main.get_command(build())
    try:
        command.main(args=argv, prog_name="pixelpet")
    except SystemExit as done:  # every way out: a command's code, --help, a usage error (2)
        return done.code if isinstance(done.code, int) else (OK if done.code is None else USAGE)
    return OK
