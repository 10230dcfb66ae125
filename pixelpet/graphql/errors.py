"""Turn every error into one a client can act on, and mask the rest.

Known errors (``PixelPetError``) keep their message and gain ``extensions.code``. Database
outages become UNAVAILABLE. Parse and validation errors stay readable. Anything else is logged
with its stack trace and reaches the client only as INTERNAL_SERVER_ERROR.
"""

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, PyMongoError, WTimeoutError
from strawberry.extensions import SchemaExtension

from pixelpet.errors import ErrorCode, PixelPetError, Unavailable

logger = logging.getLogger("pixelpet.errors")

INTERNAL_MESSAGE = "Internal server error."
UNAVAILABLE_MESSAGE = "The pet store is temporarily unavailable; retry shortly."


def as_client_error(error: BaseException) -> PixelPetError | None:
    """The client-safe form of ``error``, or None when it is unexpected."""
    if isinstance(error, PixelPetError):
        return error
    if isinstance(error, ConnectionFailure | ExecutionTimeout | WTimeoutError):
        return Unavailable(UNAVAILABLE_MESSAGE)
    if isinstance(error, PyMongoError) and error.timeout:
        return Unavailable(UNAVAILABLE_MESSAGE)
    return None


def classify(error: GraphQLError, *, pre_execution: bool) -> GraphQLError:
    """A copy of ``error`` fit for the client, with a stable ``extensions.code``."""
    original = error.original_error
    extensions: dict[str, Any]
    if original is None:
        if pre_execution:
            syntax = error.message.startswith("Syntax Error")
            code = ErrorCode.GRAPHQL_PARSE_FAILED if syntax else ErrorCode.GRAPHQL_VALIDATION_FAILED
        else:
            code = ErrorCode.BAD_USER_INPUT  # variable coercion: the request's values are wrong
        extensions = {**(error.extensions or {}), "code": code.value}
        return _copy(error, error.message, extensions)
    client_error = as_client_error(original)
    if client_error is None:
        logger.error("unexpected error in %s", _path(error), exc_info=original)
        return _copy(error, INTERNAL_MESSAGE, {"code": ErrorCode.INTERNAL_SERVER_ERROR.value})
    if client_error is not original:
        logger.warning("database unavailable in %s: %s", _path(error), type(original).__name__)
    return _copy(error, client_error.message, client_error.extensions())


def _copy(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def _path(error: GraphQLError) -> str:
    return ".".join(str(part) for part in error.path or ()) or "operation"


class ClassifyErrors(SchemaExtension):
    """Applies ``classify`` to every error of an operation's result."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        pre_execution = {id(error) for error in self.execution_context.pre_execution_errors or ()}
        result.errors = [classify(error, pre_execution=id(error) in pre_execution) for error in result.errors]
