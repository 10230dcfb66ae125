"""Server-side fault injection through MongoDB's ``failCommand`` failpoint (SecantusDB supports it)."""

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

from pymongo import AsyncMongoClient, MongoClient

_OFF = {"configureFailPoint": "failCommand", "mode": "off"}


def _arm(times: int | None, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "configureFailPoint": "failCommand",
        "mode": {"times": times} if times else "alwaysOn",
        "data": data,
    }


@contextlib.asynccontextmanager
async def fail_command(uri: str, *, times: int | None = None, **data: Any) -> AsyncIterator[None]:
    """Arm ``failCommand`` with ``data`` (failCommands, errorCode, appName, ...) for the block.

    With ``times`` it fires that many times only; otherwise on every matching command.
    """
    admin: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=2000)
    try:
        await admin.admin.command(_arm(times, data))
        yield
    finally:
        await admin.admin.command(_OFF)
        await admin.close()


@contextlib.contextmanager
def fail_command_blocking(uri: str, *, times: int | None = None, **data: Any) -> Iterator[None]:
    """``fail_command`` for tests that drive other processes from plain (non-async) code."""
    admin: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=2000)
    try:
        admin.admin.command(_arm(times, data))
        yield
    finally:
        admin.admin.command(_OFF)
        admin.close()
