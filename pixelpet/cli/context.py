"""What commands share: the settings, and a database client that gives up in about 2 s."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from pixelpet.cli.errors import USAGE, CommandError, unreachable
from pixelpet.devdb import REPLICA_SET
from pixelpet.settings import Settings

# A command that needs the database says so within about this long when it is away.
DATABASE_TIMEOUT_MS = 2000


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        # Operators get the reasons, not a stack trace.
        reasons = "; ".join(_reason(problem) for problem in error.errors())
        raise CommandError(f"invalid configuration: {reasons}", exit_code=USAGE) from error


def _reason(problem: Any) -> str:
    """One validation problem, naming the variable to fix when it is one field's."""
    message = str(problem["msg"]).removeprefix("Value error, ")
    location = [str(part) for part in problem.get("loc", ()) if not isinstance(part, int)]
    return f"PIXELPET_{'__'.join(location).upper()}: {message}" if location else message


def database_uri(settings: Settings) -> str:
    """The configured MongoDB, or the embedded development database that `make run` starts."""
    if settings.mongodb_uri is not None:
        return settings.mongodb_uri.get_secret_value()
    return f"mongodb://127.0.0.1:{settings.devdb.port}/?replicaSet={REPLICA_SET}"


def operator_client(settings: Settings, *, appname: str = "pixelpet-cli") -> AsyncMongoClient[dict[str, Any]]:
    """A client for operator commands: short timeouts and the service's write concern. Its appname is not the
    service's, so `pixelpet chaos` failpoints (aimed at the service's) never hit it."""
    return AsyncMongoClient(
        database_uri(settings),
        appname=appname,
        serverSelectionTimeoutMS=DATABASE_TIMEOUT_MS,
        connectTimeoutMS=DATABASE_TIMEOUT_MS,
        w="majority",
        journal=True,
        tz_aware=True,
    )


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    """An operator client once the database answers; CommandError (unreachable) if it does not."""
    client = operator_client(settings)
    try:
        try:
            await client.admin.command("ping")
        except PyMongoError as error:
            raise unreachable("the database", error) from error
        yield client
    finally:
        await client.close()
