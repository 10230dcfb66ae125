"""``pixelpet doctor``: can this configuration serve? Each failure says how to fix it."""

import asyncio
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from pixelpet.cli.context import load_settings, operator_client
from pixelpet.cli.errors import CommandError, first_line
from pixelpet.cli.indexes import index_differences
from pixelpet.settings import Environment, Settings
from pixelpet.storage.documents import PetDocument
from pixelpet.telemetry.tracing import TelemetryConfigurationError, otlp_traces_url

# More skew than this and time-based stats, token expiry and the change stream's commit times disagree.
MAX_CLOCK_SKEW_S = 2.0
_HTTP_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""  # how to fix it, when it failed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def run_checks() -> list[Check]:
    """Every check, in the order an operator would look; those that cannot mean anything are skipped."""
    try:
        settings = load_settings()
        otlp = otlp_traces_url(os.environ)
    except (CommandError, TelemetryConfigurationError) as error:
        message = error.message if isinstance(error, CommandError) else str(error)
        return [Check("configuration", False, message, "fix the PIXELPET_* / OTEL_* variables it names")]
    checks = [Check("configuration", True, f"environment {settings.environment.value}")]
    checks += await _database_checks(settings)
    checks.append(await _otlp_check(otlp))
    checks.append(await _jwks_check(settings))
    return checks


async def _database_checks(settings: Settings) -> list[Check]:
    client = operator_client(settings, appname="pixelpet-doctor")
    try:
        try:
            hello = await client.admin.command("hello")
        except PyMongoError as error:
            return [
                Check(
                    "database reachable",
                    False,
                    first_line(error),
                    "check PIXELPET_MONGODB_URI, the network path and that mongod runs "
                    "(`make run` starts the development one)",
                )
            ]
        checks = [Check("database reachable", True, f"{', '.join(hello.get('hosts', [])) or 'answering'}")]
        set_name = hello.get("setName")
        checks.append(
            Check("replica set", True, f"set {set_name!r}")
            if set_name
            else Check(
                "replica set",
                False,
                "a standalone server: change streams, retryable writes and transactions need a replica set",
                "run MongoDB as a replica set (one node is enough: `rs.initiate()`)",
            )
        )
        primary = hello.get("primary")
        checks.append(
            Check("primary known", True, str(primary))
            if primary
            else Check(
                "primary known", False, "no primary elected", "wait for the election, or check rs.status()"
            )
        )
        checks.append(_clock_check(hello.get("localTime")))
        checks.append(await _index_check(client, settings.mongo.database))
        checks.append(await _change_stream_check(client, settings.mongo.database))
        return checks
    finally:
        await client.close()


def _clock_check(server_time: datetime | None) -> Check:
    if server_time is None:
        return Check("clock skew", True, "the server does not report its time: not checked")
    skew = abs((datetime.now(UTC) - server_time.replace(tzinfo=UTC)).total_seconds())
    if skew > MAX_CLOCK_SKEW_S:
        return Check(
            "clock skew",
            False,
            f"{skew:.1f} s from the database's clock",
            "run NTP (chrony) on both machines",
        )
    return Check("clock skew", True, f"{skew:.2f} s")


async def _index_check(client: AsyncMongoClient[dict[str, Any]], database: str) -> Check:
    try:
        differences = await index_differences(client[database])
    except PyMongoError as error:
        return Check("indexes", False, first_line(error), "check the database user's read access")
    if differences:
        summary = "; ".join(f"{d.collection}.{d.name}: {d.state}" for d in differences)
        return Check("indexes", False, summary, "run `pixelpet db indexes --apply`")
    return Check("indexes", True, "all present and matching the code")


async def _change_stream_check(client: AsyncMongoClient[dict[str, Any]], database: str) -> Check:
    try:
        async with await client[database][PetDocument.Settings.name].watch(max_await_time_ms=100) as stream:
            await asyncio.wait_for(stream.try_next(), 3)
    except (PyMongoError, TimeoutError) as error:
        return Check(
            "change stream",
            False,
            first_line(error),
            "live subscriptions need change streams: a replica set, and the changeStream privilege",
        )
    return Check("change stream", True, "opens")


async def _otlp_check(url: str | None) -> Check:
    if url is None:
        return Check("OTLP endpoint", True, "trace export off (no OTEL_EXPORTER_OTLP_* set): not checked")
    try:
        async with httpx.AsyncClient(timeout=_HTTP_TIMEOUT_S) as http:
            response = await http.get(url)  # any answer proves a server listens (a Collector says 405)
    except httpx.HTTPError as error:
        return Check(
            "OTLP endpoint",
            False,
            f"{url}: {first_line(error)}",
            "start the Collector or fix OTEL_EXPORTER_OTLP_ENDPOINT",
        )
    return Check("OTLP endpoint", True, f"{url} answers ({response.status_code})")


async def _jwks_check(settings: Settings) -> Check:
    url = settings.auth.jwks_url
    if url is None:
        detail = (
            "development tokens (HS256)"
            if settings.environment is Environment.DEVELOPMENT
            else "a configured public key: no JWKS to check"
        )
        return Check("JWKS", True, detail)
    hint = "fix PIXELPET_AUTH__JWKS_URL or the identity provider's availability"
    try:
        async with httpx.AsyncClient(timeout=_HTTP_TIMEOUT_S) as http:
            response = await http.get(url)
        keys = response.json().get("keys") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as error:
        return Check("JWKS", False, f"{url}: {first_line(error)}", hint)
    if not keys:
        return Check("JWKS", False, f"{url} answered {response.status_code} without keys", hint)
    return Check("JWKS", True, f"{url}: {len(keys)} key(s)")
