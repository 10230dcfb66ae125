"""Every error as a client sees it: a stable code, and nothing of the server's internals."""

import logging

import pytest
from graphql import GraphQLError
from strawberry.exceptions import MissingQueryError

from pixelpet.graphql.errors import INTERNAL_MESSAGE, classify
from pixelpet.graphql.seam import (
    CannotGetOperationTypeError,
    InvalidOperationTypeError,
    StrawberryOperationType,
)


@pytest.mark.parametrize(
    "refusal",
    [
        CannotGetOperationTypeError("Missing"),
        InvalidOperationTypeError(StrawberryOperationType.MUTATION),
        MissingQueryError(),
    ],
)
def test_a_request_that_is_no_operation_is_the_clients_mistake(
    refusal: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    """Strawberry's WebSocket path reports these as errors (over HTTP they are 400s): not a server fault."""
    with caplog.at_level(logging.ERROR, logger="pixelpet.errors"):
        shown = classify(GraphQLError("Can't get GraphQL operation type", original_error=refusal))
    assert shown.extensions is not None
    assert shown.extensions["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert shown.message == "Can't get GraphQL operation type"
    assert caplog.records == [], "nothing unexpected to log"


def test_anything_else_is_masked_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="pixelpet.errors"):
        shown = classify(GraphQLError("driver said: secret", original_error=RuntimeError("secret")))
    assert shown.message == INTERNAL_MESSAGE
    assert shown.extensions is not None
    assert shown.extensions["code"] == "INTERNAL_SERVER_ERROR"
    assert [record.getMessage() for record in caplog.records] == ["unexpected error in operation"]
