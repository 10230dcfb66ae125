"""`pixelpet doctor`: every check passes on a healthy setup, and each failure names its fix."""

import asyncio
from typing import Any

from pymongo import MongoClient
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from pixelpet.devdb import DevDatabase, free_port
from tests.conftest import unique_database
from tests.ops.conftest import Ops
from tests.support.server import running_server

CHECKS = [
    "configuration",
    "database reachable",
    "replica set",
    "primary known",
    "clock skew",
    "indexes",
    "change stream",
    "OTLP endpoint",
    "JWKS",
]


def by_name(report: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in report}


def test_a_healthy_setup_passes_every_check(ops: Ops) -> None:
    code, report = ops.run_json("doctor")
    assert [check["name"] for check in report] == CHECKS
    assert all(check["ok"] for check in report), report
    assert code == 0
    table = ops.run("doctor").stdout
    assert "database reachable" in table
    assert "fail" not in table


def test_a_database_that_is_away_fails_with_a_hint(ops: Ops) -> None:
    code, report = ops.run_json(
        "doctor", PIXELPET_MONGODB_URI=f"mongodb://127.0.0.1:{free_port()}/?replicaSet=rs0"
    )
    assert code == 1
    reachable = by_name(report)["database reachable"]
    assert not reachable["ok"]
    assert "PIXELPET_MONGODB_URI" in reachable["hint"]
    assert "replica set" not in by_name(report), "checks that need the database are not guessed at"


def test_invalid_configuration_is_the_first_and_only_failure(ops: Ops) -> None:
    code, report = ops.run_json("doctor", PIXELPET_PORT="not-a-port")
    assert code == 1
    assert [check["name"] for check in report] == ["configuration"]
    assert report[0]["detail"].startswith("invalid configuration: PIXELPET_PORT: ")


def test_missing_indexes_are_found_and_the_fix_is_named(ops: Ops, database: DevDatabase) -> None:
    scratch = unique_database()  # a database without the service's indexes
    with MongoClient(database.uri) as client:
        client[scratch]["pets"].insert_one({"owner": "nobody"})
    code, report = ops.run_json("doctor", PIXELPET_MONGO__DATABASE=scratch)
    indexes = by_name(report)["indexes"]
    assert (code, indexes["ok"]) == (1, False)
    assert "owner_created_at: missing" in indexes["detail"]
    assert indexes["hint"] == "run `pixelpet db indexes --apply`"
    assert ops.run("db", "indexes", "--apply", PIXELPET_MONGO__DATABASE=scratch).returncode == 0
    code, _ = ops.run_json("doctor", PIXELPET_MONGO__DATABASE=scratch)
    assert code == 0


async def test_the_otlp_endpoint_and_jwks_are_checked_when_configured(ops: Ops) -> None:
    async def jwks(request: object) -> JSONResponse:
        return JSONResponse({"keys": [{"kty": "RSA", "kid": "k1", "n": "AQAB", "e": "AQAB"}]})

    async def traces(request: object) -> JSONResponse:
        return JSONResponse({}, status_code=405)  # what a Collector says to a GET

    stub = Starlette(routes=[Route("/jwks.json", jwks), Route("/v1/traces", traces, methods=["GET"])])
    async with running_server(stub) as url:
        production = {
            "PIXELPET_ENVIRONMENT": "production",
            "PIXELPET_AUTH__ALGORITHMS": '["RS256"]',
            "PIXELPET_AUTH__ISSUER": "https://id.example",
            "PIXELPET_AUTH__AUDIENCE": "pixelpet",
            "PIXELPET_AUTH__JWKS_URL": f"{url}/jwks.json",
            "OTEL_EXPORTER_OTLP_ENDPOINT": url,
        }
        answered = by_name((await _doctor(ops, production))[1])
        assert answered["OTLP endpoint"]["ok"]
        assert "405" in answered["OTLP endpoint"]["detail"]
        assert answered["JWKS"]["ok"]
        assert "1 key" in answered["JWKS"]["detail"]
        gone = f"http://127.0.0.1:{free_port()}"
        code, report = await _doctor(
            ops,
            {
                **production,
                "PIXELPET_AUTH__JWKS_URL": f"{gone}/jwks.json",
                "OTEL_EXPORTER_OTLP_ENDPOINT": gone,
            },
        )
    failing = {name for name, check in by_name(report).items() if not check["ok"]}
    assert (code, failing) == (1, {"OTLP endpoint", "JWKS"})
    assert "JWKS_URL" in by_name(report)["JWKS"]["hint"]


async def _doctor(ops: Ops, env: dict[str, str]) -> tuple[int, Any]:
    # In a thread: the stub servers run on this test's event loop.
    return await asyncio.to_thread(ops.run_json, "doctor", **env)
