"""Every error a client can see, each with a stable ``extensions.code``.

The tree::

    PixelPetError                      (never raised itself)
    ├── Unauthenticated      UNAUTHENTICATED   no or bad credentials
    ├── NotFound             NOT_FOUND         missing, or owned by someone else
    ├── InvalidInput         BAD_USER_INPUT    the request is malformed
    ├── VersionConflict      CONFLICT          expectedVersion did not match, or the pet changed too often
    ├── IdempotencyKeyReused CONFLICT          an idempotency key already used for another request
    ├── ActionRefused        ACTION_REFUSED    the game rules say no (carries a reason)
    ├── RateLimited          RATE_LIMITED      too many requests (carries retryAfterSeconds)
    ├── SubscriptionLimitReached  SUBSCRIPTION_LIMIT_REACHED  a cap only completing a subscription lifts
    └── Unavailable          UNAVAILABLE       the database cannot be reached

Anything else that escapes a resolver is reported as INTERNAL_SERVER_ERROR with a fixed message.
"""

from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    """The stable codes clients branch on."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    ACTION_REFUSED = "ACTION_REFUSED"
    RATE_LIMITED = "RATE_LIMITED"
    SUBSCRIPTION_LIMIT_REACHED = "SUBSCRIPTION_LIMIT_REACHED"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


class PixelPetError(Exception):
    """Base of every error whose message is safe to show a client."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_SERVER_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code.value}


class Unauthenticated(PixelPetError):
    code = ErrorCode.UNAUTHENTICATED


class NotFound(PixelPetError):
    code = ErrorCode.NOT_FOUND


class InvalidInput(PixelPetError):
    code = ErrorCode.BAD_USER_INPUT


class VersionConflict(PixelPetError):
    """With ``current_version`` when known; a stale expectedVersion also shows the pet as it is
    (``ExpectedVersionMismatch`` in pixelpet/pets/service.py, ``extensions.current``)."""

    code = ErrorCode.CONFLICT

    def __init__(self, message: str, *, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version

    def extensions(self) -> dict[str, Any]:
        extensions = super().extensions()
        if self.current_version is not None:
            extensions["currentVersion"] = self.current_version
        return extensions


class IdempotencyKeyReused(PixelPetError):
    code = ErrorCode.CONFLICT


class ActionRefused(PixelPetError):
    code = ErrorCode.ACTION_REFUSED

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def extensions(self) -> dict[str, Any]:
        return {**super().extensions(), "reason": self.reason}


class RateLimited(PixelPetError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after_seconds: float) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds

    def extensions(self) -> dict[str, Any]:
        return {**super().extensions(), "retryAfterSeconds": round(self.retry_after_seconds, 3)}


class SubscriptionLimitReached(PixelPetError):
    """A connection or a player at their subscription cap: waiting does not help, completing one does."""

    code = ErrorCode.SUBSCRIPTION_LIMIT_REACHED

    def __init__(self, message: str, *, limit: int, scope: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.scope = scope

    def extensions(self) -> dict[str, Any]:
        return {**super().extensions(), "limit": self.limit, "scope": self.scope}


class Unavailable(PixelPetError):
    code = ErrorCode.UNAVAILABLE
