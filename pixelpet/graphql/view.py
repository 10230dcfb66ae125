"""The GraphQL endpoint: strawberry's ASGI view with our context and WebSocket policy."""

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from pixelpet.errors import Unauthenticated
from pixelpet.graphql.context import Context
from pixelpet.graphql.sharing import encode_message
from pixelpet.graphql.transport import LiveTransportHandler
from pixelpet.runtime import Runtime
from pixelpet.settings import Environment, Settings
from pixelpet.telemetry.graphql import OperationRecorder
from pixelpet.telemetry.metrics import Metrics


class GraphQLView(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = LiveTransportHandler

    def __init__(self, schema: BaseSchema, settings: Settings, *, recorder: OperationRecorder) -> None:
        subscriptions = settings.subscriptions
        # Read by the transport handler of each connection.
        self.recorder = recorder
        self.metrics: Metrics = recorder.metrics
        self.stall_timeout_s = subscriptions.stall_timeout_s
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.environment is Environment.DEVELOPMENT else None,
            allow_queries_via_get=False,
            # Only graphql-transport-ws: the legacy graphql-ws protocol is unmaintained and has no
            # client we need to support.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=subscriptions.connection_init_timeout_s),
            # A backstop on all operations per connection; the broker enforces the subscription cap
            # with a typed error.
            max_subscriptions_per_connection=2 * subscriptions.max_per_connection,
            allowed_origins=subscriptions.allowed_origins,
        )

    def encode_json(self, data: object) -> str:
        return encode_message(data)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        runtime: Runtime = request.app.state.runtime
        return Context(
            request=request,
            pets=runtime.pets,
            watcher=runtime.watcher,
            verifier=runtime.verifier,
            tracer=runtime.tracer,
        )

    async def on_ws_connect(self, context: Context) -> None:
        """Authenticate the connection from its connection_init payload, or close it with 4403."""
        try:
            await context.owner()
        except Unauthenticated as error:
            raise ConnectionRejectionError({"message": error.message, "code": error.code.value}) from error
