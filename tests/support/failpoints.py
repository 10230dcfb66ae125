"""Server-side fault injection through MongoDB's ``failCommand`` failpoint (SecantusDB supports it)."""

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

from pymongo import AsyncMongoClient, MongoClient

_OFF = {"configureFailPoint": "failCommand", "mode": "off"}


def _arm(times: int | None, skip: int, data: dict[str, Any]) -> dict[str, Any]:
    mode: str | dict[str, int] = {"times": times, "skip": skip} if times else "alwaysOn"
    return {"configureFailPoint": "failCommand", "mode": mode, "data": data}


class Arm(Protocol):
    async def __call__(self, *, times: int | None = None, skip: int = 0, **data: Any) -> None: ...


@contextlib.asynccontextmanager
async def failpoints(uri: str) -> AsyncIterator[Arm]:
    """Re-arm ``failCommand`` as often as a drill needs (one admin connection); off when the block ends.

    ``times`` fires that many times only (after ``skip`` matches); without it, on every matching command.
    """
    admin: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=2000)

    async def arm(*, times: int | None = None, skip: int = 0, **data: Any) -> None:
        await admin.admin.command(_arm(times, skip, data))

    try:
        yield arm
    finally:
        await admin.admin.command(_OFF)
        await admin.close()


@contextlib.asynccontextmanager
async def fail_command(
    uri: str, *, times: int | None = None, skip: int = 0, **data: Any
) -> AsyncIterator[None]:
    """Arm ``failCommand`` with ``data`` (failCommands, errorCode, appName, ...) for the block."""
    async with failpoints(uri) as arm:
        await arm(times=times, skip=skip, **data)
        yield


@contextlib.contextmanager
def fail_command_blocking(
    uri: str, *, times: int | None = None, skip: int = 0, **data: Any
) -> Iterator[None]:
    """``fail_command`` for tests that drive other processes from plain (non-async) code."""
    admin: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=2000)
    try:
        admin.admin.command(_arm(times, skip, data))
        yield
    finally:
        admin.admin.command(_OFF)
        admin.close()
