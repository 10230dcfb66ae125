"""The GraphQL HTTP endpoint: strawberry's ASGI view with our context (WebSockets: endpoint.py)."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from pixelpet.graphql.context import Context, context_for
from pixelpet.runtime import Runtime
from pixelpet.settings import Environment, Settings


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, schema: BaseSchema, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.environment is Environment.DEVELOPMENT else None,
            allow_queries_via_get=False,
            # Subscriptions are served by the WebSocket route (pixelpet/graphql/endpoint.py).
            subscription_protocols=(),
        )

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        assert isinstance(request, Request), "WebSockets are served by GraphQLWebSocket"
        runtime: Runtime = request.app.state.runtime
        return context_for(runtime, client=request.scope.get("client"), request=request)
