"""A contract test per strawberry internal named in pixelpet/graphql/seam.py: an upgrade that moves one
fails here first, with the name of what moved (`make test-strawberry-latest`)."""

import inspect
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult, GraphQLSchema, parse
from graphql.validation import ASTValidationRule
from strawberry.http.ides import get_graphql_ide_html
from strawberry.types import Info

from pixelpet.graphql import seam


@strawberry.type
class Query:
    @strawberry.field
    def who(self, info: Info) -> str:
        return f"{info.context['name']} at {info.path.key}"


SCHEMA = strawberry.Schema(query=Query)


def test_the_core_schema_is_graphql_cores_with_strawberrys_types() -> None:
    core = seam.core_schema(SCHEMA)
    assert isinstance(core, GraphQLSchema)
    assert core.query_type is not None
    assert "who" in core.query_type.fields


def test_executor_for_runs_strawberry_resolvers_with_their_info() -> None:
    executor = seam.executor_for(
        seam.core_schema(SCHEMA),
        parse("{ who }"),
        context={"name": "rex"},
        operation_name=None,
        variables=None,
    )
    assert not isinstance(executor, list)
    result = executor.execute_operation(False)
    assert isinstance(result, ExecutionResult)
    assert result.data == {"who": "rex at who"}


def test_executor_for_reports_variables_that_do_not_fit() -> None:
    document = parse("query($n: Int!) { who }")
    errors = seam.executor_for(
        seam.core_schema(SCHEMA), document, context={}, operation_name=None, variables={"n": "x"}
    )
    assert isinstance(errors, list)
    assert errors


def test_the_transport_handler_has_what_transport_py_overrides_and_reads() -> None:
    handler = seam.BaseGraphQLTransportWSHandler
    for method in ("handle_subscribe", "run_operation", "cleanup_operation", "handle_connection_init"):
        assert inspect.iscoroutinefunction(getattr(handler, method)), method
    assert inspect.iscoroutinefunction(handler.shutdown)
    assert inspect.iscoroutinefunction(handler.send_message)
    parameters = inspect.signature(handler.__init__).parameters
    for name in (
        "view",
        "websocket",
        "context",
        "root_value",
        "schema",
        "connection_init_wait_timeout",
        "max_subscriptions_per_connection",
    ):
        assert name in parameters, name
    source = inspect.getsource(handler)
    for state in ("self.operations", "self.connection_acknowledged", "self.connection_init_received"):
        assert state in source, state
    assert "self.connection_init_timeout_task" in source


def test_the_handlers_view_is_asked_only_on_ws_connect() -> None:
    source = inspect.getsource(seam.BaseGraphQLTransportWSHandler)
    uses = {line.split("self.view.")[1].split("(")[0] for line in source.splitlines() if "self.view." in line}
    assert uses == {"on_ws_connect"}, "strawberry_view passes an authenticator, not a whole view"


def test_an_operation_carries_what_the_transport_reads() -> None:
    fields = inspect.signature(seam.Operation.__init__).parameters
    for name in ("id", "query", "variables", "operation_name"):
        assert name in fields, name
    assert "task" in inspect.getsource(seam.Operation)


def test_message_types_and_socket_exceptions_exist() -> None:
    assert {"id", "type", "payload"} <= set(seam.SubscribeMessage.__annotations__)
    assert "type" in seam.ConnectionInitMessage.__annotations__
    for error in (seam.NonJsonMessageReceived, seam.NonTextMessageReceived, seam.WebSocketDisconnected):
        assert issubclass(error, Exception)


def test_origin_rules() -> None:
    allowed = seam.normalize_allowed_origins(["https://Play.Example/"])
    assert seam.normalize_origin("https://play.example") in allowed
    assert seam.is_same_origin("https://pets.example", "pets.example")
    assert not seam.is_same_origin("https://evil.example", "pets.example")


def test_http_rules_types() -> None:
    assert issubclass(seam.PreExecutionError, strawberry.types.ExecutionResult)
    error: Any = seam.ViewHTTPException(415, "no")
    assert (error.status_code, error.reason) == (415, "no")
    assert {op.name for op in seam.DEFAULT_ALLOWED_OPERATION_TYPES} == {"QUERY", "MUTATION", "SUBSCRIPTION"}


def test_strawberrys_validation_rules_are_graphql_core_rules() -> None:
    assert issubclass(seam.MaybeNullValidationRule, ASTValidationRule)
    assert issubclass(seam.OneOfInputValidationRule, ASTValidationRule)


def test_graphiql_still_has_the_lines_the_view_patches() -> None:
    html = get_graphql_ide_html(graphql_ide="graphiql")
    patched = seam.patch_graphiql(
        html, {seam.GRAPHIQL_INITIAL_QUERY: "QUERY_HERE", seam.GRAPHIQL_INITIAL_HEADERS: "HEADERS_HERE"}
    )
    assert "QUERY_HERE" in patched
    assert "HEADERS_HERE" in patched


def test_a_patch_of_a_line_that_moved_says_so() -> None:
    with pytest.raises(seam.GraphiQLChanged, match="gone"):
        seam.patch_graphiql("<html></html>", {"gone": "x"})
