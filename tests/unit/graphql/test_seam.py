"""A contract test per strawberry internal named in pixelpet/graphql/seam.py: an upgrade that moves one
fails here first, with the name of what moved (`make test-strawberry-latest`)."""

import asyncio
import enum
import inspect
from datetime import timedelta
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult, GraphQLError, GraphQLSchema, parse
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


def test_the_transport_handler_has_what_the_seam_and_transport_py_override_and_read() -> None:
    handler = seam.BaseGraphQLTransportWSHandler
    for method in ("handle_subscribe", "run_operation", "cleanup_operation", "handle_connection_init"):
        assert inspect.iscoroutinefunction(getattr(handler, method)), method
    assert inspect.iscoroutinefunction(handler.shutdown)
    assert inspect.iscoroutinefunction(handler.send_message)
    assert inspect.iscoroutinefunction(handler.handle)  # endpoint.py's entry point
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
    assert uses == {"on_ws_connect"}, "ProtocolHandler passes an authenticator, not a whole view"


# ProtocolHandler: its moves on strawberry's state, run against strawberry's handler itself.


class Socket:
    """What strawberry's handler sees of a WebSocket: what was sent, and how it was closed."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed_with: tuple[int, str] | None = None

    async def send_json(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)


class Authenticator:
    def __init__(self) -> None:
        self.asked: list[object] = []

    async def on_ws_connect(self, context: object) -> None:
        self.asked.append(context)


Handler = seam.ProtocolHandler[dict[str, Any]]


def a_handler(kind: type[Handler] = Handler, *, max_operations: int = 10) -> tuple[Handler, Socket]:
    socket = Socket()
    handler = kind(
        websocket=socket,
        context={"name": "rex"},
        authenticator=Authenticator(),
        schema=SCHEMA,
        connection_init_timeout=timedelta(seconds=5),
        max_operations=max_operations,
    )
    return handler, socket


async def acknowledged(kind: type[Handler] = Handler, *, max_operations: int = 10) -> tuple[Handler, Socket]:
    handler, socket = a_handler(kind, max_operations=max_operations)
    await handler.handle_message({"type": "connection_init", "payload": {}})
    assert socket.sent.pop(0)["type"] == "connection_ack"
    return handler, socket


def subscribe(operation_id: str, query: str = "{ who }") -> Any:
    return {"id": operation_id, "type": "subscribe", "payload": {"query": query}}


def task_of(handler: Handler, operation_id: str) -> "asyncio.Task[None]":
    task = handler.operations[operation_id].task
    assert task is not None
    return task


async def test_the_protocol_handler_hands_strawberry_its_authenticator_and_limits() -> None:
    handler, socket = await acknowledged(max_operations=1)
    authenticator = handler.view
    assert isinstance(authenticator, Authenticator)
    assert authenticator.asked == [handler.context], "asked at connection_init, with the context"
    assert handler.connection_init_wait_timeout == timedelta(seconds=5)
    await handler.handle_message(subscribe("1"))
    await handler.handle_message(subscribe("2"))
    assert socket.sent == [
        {"id": "2", "type": "error", "payload": [{"message": "Subscription limit reached"}]}
    ]
    await task_of(handler, "1")


async def test_acknowledged_only_after_connection_init() -> None:
    handler, socket = a_handler()
    assert not handler.is_acknowledged()
    await handler.handle_message(subscribe("1"))
    assert socket.closed_with is not None
    assert socket.closed_with[0] == 4401, "strawberry's rule the seam method reports on"
    handler, _ = await acknowledged()
    assert handler.is_acknowledged()


async def test_an_operation_is_known_from_its_subscribe_until_it_ends() -> None:
    handler, socket = await acknowledged()
    assert not handler.knows_operation("1")
    await handler.handle_message(subscribe("1"))
    assert handler.knows_operation("1")
    await task_of(handler, "1")
    assert [message["type"] for message in socket.sent] == ["next", "complete"]
    assert not handler.knows_operation("1")


async def test_releasing_an_operation_frees_its_id_and_cancels_its_task() -> None:
    handler, socket = await acknowledged()
    await handler.handle_message(subscribe("1"))
    task = task_of(handler, "1")
    handler.release_operation("1")
    assert not handler.knows_operation("1")
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert socket.sent == []
    handler.release_operation("1")  # an id no longer known: nothing to do


async def test_an_operation_releasing_itself_is_not_cancelled() -> None:
    class EndsItself(Handler):
        finished = False

        async def run_operation(self, operation: seam.Operation[dict[str, Any], None]) -> None:
            self.release_operation(operation.id)
            await asyncio.sleep(0)  # a cancel would land here
            self.finished = True

    handler, _ = await acknowledged(EndsItself)
    await handler.handle_message(subscribe("1"))
    task = task_of(handler, "1")
    await task
    assert not task.cancelled()
    assert isinstance(handler, EndsItself)
    assert handler.finished
    assert not handler.knows_operation("1")


class Detaches(Handler):
    """Runs no operation: it only lets go of the task, as a pushed subscription does once set up."""

    async def run_operation(self, operation: seam.Operation[dict[str, Any], None]) -> None:
        self.detach_task(operation)


async def test_a_detached_operation_holds_no_task_and_still_completes() -> None:
    handler, _ = await acknowledged(Detaches)
    await handler.handle_message(subscribe("1"))
    await task_of(handler, "1")
    assert handler.knows_operation("1")
    assert handler.operations["1"].task is None
    await handler.handle_message({"id": "1", "type": "complete"})  # strawberry's own asserts a task
    assert not handler.knows_operation("1")


async def test_shutdown_cleans_up_a_detached_operation() -> None:
    handler, _ = await acknowledged(Detaches)
    await handler.handle_message(subscribe("1"))
    await task_of(handler, "1")
    await handler.shutdown()
    assert not handler.knows_operation("1")


async def test_connection_init_lets_go_of_the_spent_timeout_task() -> None:
    handler, _ = a_handler()
    handler.on_request_accepted()  # what strawberry's handle() does first: start the init timeout
    timeout = handler.connection_init_timeout_task
    assert timeout is not None
    await handler.handle_message({"type": "connection_init", "payload": {}})
    assert handler.connection_init_timeout_task is None
    await asyncio.gather(timeout, return_exceptions=True)
    assert timeout.cancelled()


async def test_a_refused_connection_init_keeps_the_timeout() -> None:
    handler, socket = a_handler()
    handler.on_request_accepted()
    await handler.handle_message({"type": "connection_init", "payload": "not an object"})
    assert socket.closed_with is not None
    assert socket.closed_with[0] == 4400
    assert handler.connection_init_timeout_task is not None, "init never received: strawberry's to shut down"
    await handler.shutdown()


async def test_send_error_and_close_connection_go_through_strawberrys_socket() -> None:
    handler, socket = a_handler()
    await handler.send_error("7", [GraphQLError("no").formatted])
    assert socket.sent == [{"id": "7", "type": "error", "payload": [{"message": "no"}]}]
    await handler.close_connection(4008, "too slow")
    assert socket.closed_with == (4008, "too slow")


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


async def test_execute_document_runs_strawberry_resolvers_as_strawberry_executes_them() -> None:
    result = await seam.execute_document(
        seam.core_schema(SCHEMA),
        parse("{ who }"),
        context={"name": "rex"},
        operation_name=None,
        variables=None,
    )
    assert result.data == {"who": "rex at who"}
    expected = await SCHEMA.execute("{ who }", context_value={"name": "rex"})
    assert result.data == expected.data
    errors = await seam.execute_document(
        seam.core_schema(SCHEMA),
        parse("query($n: Int!) { who }"),
        context={},
        operation_name=None,
        variables={},
    )
    assert errors.data is None
    assert errors.errors


def test_operation_types_are_found_and_refused_as_strawberry_does() -> None:
    document = parse("query A { who } mutation B { who }")
    assert seam.get_operation_type(document) is seam.StrawberryOperationType.QUERY
    assert seam.get_operation_type(document, "B") is seam.StrawberryOperationType.MUTATION
    with pytest.raises(RuntimeError):
        seam.get_operation_type(document, "C")
    assert "C" in seam.CannotGetOperationTypeError("C").as_http_error_reason()
    refused = seam.InvalidOperationTypeError(seam.StrawberryOperationType.SUBSCRIPTION)
    assert "subscriptions" in refused.as_http_error_reason("POST")


class Doubled(strawberry.extensions.FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        return next_(source, info, **kwargs) * 2


@strawberry.type
class Plain:
    read: int
    renamed_field: int = strawberry.field(name="other")
    extended: int = strawberry.field(extensions=[Doubled()])

    @strawberry.field
    def resolved(self) -> int:
        return 1


@strawberry.type
class PlainQuery:
    plain: Plain


def test_a_plain_field_is_known_by_the_attribute_strawberry_reads() -> None:
    fields = seam.core_schema(strawberry.Schema(query=PlainQuery)).get_type("Plain").fields  # type: ignore[union-attr]
    assert seam.plain_attribute(fields["read"]) == "read"
    assert seam.plain_attribute(fields["other"]) == "renamed_field"
    assert seam.plain_attribute(fields["extended"]) is None
    assert seam.plain_attribute(fields["resolved"]) is None


def test_a_field_read_by_another_default_resolver_is_not_plain() -> None:
    config = strawberry.schema.config.StrawberryConfig(default_resolver=lambda source, name: source[name])
    fields = seam.core_schema(strawberry.Schema(query=PlainQuery, config=config)).get_type("Plain").fields  # type: ignore[union-attr]
    assert seam.plain_attribute(fields["read"]) is None


@strawberry.enum
class Shade(enum.Enum):
    LIGHT = "light"
    PALE = "light"  # an alias: the same member as LIGHT
    DARK = "dark"


@strawberry.type
class ShadeQuery:
    shade: Shade


def test_strawberrys_enum_answers_a_member_with_the_first_name_of_its_value() -> None:
    """What completion.py's enum lookup does once per type, strawberry's enum coercion does per value."""
    enum_type = seam.core_schema(strawberry.Schema(query=ShadeQuery)).get_type("Shade")
    assert type(enum_type).coerce_output_value is seam.STRAWBERRY_ENUM_COERCION
    assert enum_type.wrapped_cls is Shade  # type: ignore[union-attr]
    assert {name: value.value for name, value in enum_type.values.items()} == {
        "LIGHT": "light",
        "DARK": "dark",
    }  # type: ignore[union-attr]
    assert enum_type.coerce_output_value(Shade.DARK) == "DARK"  # type: ignore[union-attr]
    assert enum_type.coerce_output_value(Shade.PALE) == "LIGHT"  # type: ignore[union-attr]
