"""Server-side fault injection through MongoDB's ``failCommand`` failpoint (SecantusDB supports it)."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from pymongo import AsyncMongoClient


@contextlib.asynccontextmanager
async def fail_command(uri: str, *, times: int | None = None, **data: Any) -> AsyncIterator[None]:
    """Arm ``failCommand`` with ``data`` (failCommands, errorCode, appName, ...) for the block.

    With ``times`` it fires that many times only; otherwise on every matching command.
    """
    admin: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=2000)
    try:
        await admin.admin.command(
            {
                "configureFailPoint": "failCommand",
                "mode": {"times": times} if times else "alwaysOn",
                "data": data,
            }
        )
        yield
    finally:
        await admin.admin.command({"configureFailPoint": "failCommand", "mode": "off"})
        await admin.close()
