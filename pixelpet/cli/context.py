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


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    """A client for operator commands: short timeouts, the service's write concern, reachable or an error."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        database_uri(settings),
        appname="pixelpet-cli",
        serverSelectionTimeoutMS=DATABASE_TIMEOUT_MS,
        connectTimeoutMS=DATABASE_TIMEOUT_MS,
        w="majority",
        journal=True,
        tz_aware=True,
    )
    try:
        try:
            await client.admin.command("ping")
        except PyMongoError as error:
            raise unreachable("the database", error) from error
        yield client
    finally:
        await client.close()
