"""The GraphQL endpoint: strawberry's ASGI view with our context."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from pixelpet.graphql.context import Context
from pixelpet.runtime import Runtime


class GraphQLView(GraphQL[Context, None]):
    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        runtime: Runtime = request.app.state.runtime
        return Context(
            request=request,
            pets=runtime.pets,
            verifier=runtime.verifier,
            clock=runtime.clock,
            tracer=runtime.tracer,
        )
