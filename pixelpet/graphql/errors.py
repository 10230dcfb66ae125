"""Turn every error into one a client can act on, and mask the rest.

Known errors (``PixelPetError``) keep their message and gain ``extensions.code``; database outages reach
here as one of them (``StoreUnavailable``, raised by the storage adapter: UNAVAILABLE). A stale
``expectedVersion`` also shows the pet as it is (``extensions.current``): no re-read needed. Parse and
validation errors stay readable. Anything else is logged with its stack trace and reaches the client
only as INTERNAL_SERVER_ERROR.
"""

import logging
from typing import Any

from graphql import GraphQLError
from opentelemetry import trace

from pixelpet.errors import ErrorCode, PixelPetError
from pixelpet.graphql.pets import Pet
from pixelpet.graphql.telemetry import REFUSED_REQUESTS
from pixelpet.pets.ports import StoreUnavailable
from pixelpet.pets.service import ExpectedVersionMismatch

logger = logging.getLogger("pixelpet.errors")

INTERNAL_MESSAGE = "Internal server error."


def classify(error: GraphQLError) -> GraphQLError:
    """A copy of ``error`` fit for the client, with a stable ``extensions.code``."""
    original = error.original_error
    if original is None:
        syntax = error.message.startswith("Syntax Error")
        code = ErrorCode.GRAPHQL_PARSE_FAILED if syntax else ErrorCode.GRAPHQL_VALIDATION_FAILED
        return _copy(error, error.message, {**(error.extensions or {}), "code": code.value})
    if error.path is None and error.message.startswith("Variable '$"):
        # graphql-core's variable coercion: the message describes the client's own values.
        return _copy(error, error.message, {"code": ErrorCode.BAD_USER_INPUT.value})
    if isinstance(original, REFUSED_REQUESTS):
        # No query, an operation name the document lacks, a type the transport does not run: strawberry's
        # WebSocket path reports these as errors (HTTP answers 400). The client's mistake, not ours.
        return _copy(error, error.message, {"code": ErrorCode.GRAPHQL_VALIDATION_FAILED.value})
    client_error = original if isinstance(original, PixelPetError) else None
    if client_error is None:
        logger.error("unexpected error in %s", _path(error), exc_info=original)
        return _copy(error, INTERNAL_MESSAGE, {"code": ErrorCode.INTERNAL_SERVER_ERROR.value})
    if isinstance(client_error, StoreUnavailable):
        logger.warning("database unavailable in %s: %s", _path(error), client_error.cause)
    extensions = client_error.extensions()
    if isinstance(client_error, ExpectedVersionMismatch):
        extensions["current"] = current_pet(client_error)
    return _copy(error, client_error.message, extensions)


def current_pet(conflict: ExpectedVersionMismatch) -> dict[str, Any]:
    """The pet as it is, as a query selecting every field of ``Pet`` but ``forecast`` and ``drift`` returns
    it (the same names and values): an error's extensions take no selection set."""
    shown = Pet.at(conflict.current, conflict.at)
    return {
        "id": shown.id,
        "name": shown.name,
        "species": shown.species.name,
        "version": shown.version,
        "activity": shown.activity.name,
        "mood": shown.mood.name,
        "needs": [need.name for need in shown.needs],
        "stats": {
            "hunger": shown.stats.hunger,
            "happiness": shown.stats.happiness,
            "energy": shown.stats.energy,
            "asOf": shown.stats.as_of.isoformat(),
        },
        "createdAt": shown.created_at.isoformat(),
        "updatedAt": shown.updated_at.isoformat(),
    }


def classify_in_place(errors: list[GraphQLError]) -> None:
    """Replace each error by its client form; strawberry returns this very list to the client."""
    errors[:] = [classify(error) for error in errors]


def _copy(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        # Support can find the whole request from what the client saw.
        extensions = {**extensions, "traceId": format(span_context.trace_id, "032x")}
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
