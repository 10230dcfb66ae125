"""The GraphQL HTTP endpoint: strawberry's ASGI view with our context and the GraphQL over HTTP rules
(decision 16). WebSockets: endpoint.py.

The response's media type is negotiated from ``Accept``: ``application/graphql-response+json`` when the client
prefers it, ``application/json`` otherwise (no Accept, ``*/*``, or types we do not speak, as the spec allows).
With ``graphql-response+json`` a request that fails before execution (parse, validation) is a 400 without
``data``; ``application/json`` keeps strawberry's behaviour (200, the errors in the body).
"""

import json
from datetime import timedelta
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema import BaseSchema
from strawberry.types import ExecutionResult

from pixelpet.auth import development_token
from pixelpet.graphql.context import Context, context_for
from pixelpet.graphql.encoding import encode
from pixelpet.graphql.seam import (
    GRAPHIQL_INITIAL_HEADERS,
    GRAPHIQL_INITIAL_QUERY,
    PreExecutionError,
    ViewHTTPException,
    patch_graphiql,
)
from pixelpet.runtime import Runtime
from pixelpet.settings import Environment, Settings

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_IDE_PLAYER = "graphiql-player"
_IDE_QUERY = """# Pixel Pet in development. The Headers tab below holds a token for the player
# "graphiql-player", minted with the development secret (`pixelpet token --sub you` prints another).
# Run this with Ctrl-Enter, or the play button. Then try:
#   mutation { createPet(input: {name: "Mochi", species: CAT}) { id name mood } }
#   subscription { petStats(id: "<an id from above>") { name mood stats { hunger happiness energy } } }
query MyPets {
  pets(first: 10) {
    edges { node { id name species mood needs stats { hunger happiness energy } } }
  }
}
"""


def negotiate(accept: str | None) -> str:
    """The media type to answer with: the client's preferred of the two we speak, ties to the first listed."""
    best, best_q = JSON, 0.0
    for part in (accept or "").split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        if media not in (GRAPHQL_RESPONSE, JSON):
            continue
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q:  # strictly: of two equally preferred, the first listed stays
            best, best_q = media, q
    return best


def answer(
    response: GraphQLHTTPResponse, result: ExecutionResult, media_type: str
) -> tuple[int, GraphQLHTTPResponse]:
    """The status and body of ``result`` (strawberry's ``response``) answered as ``media_type``."""
    if media_type == GRAPHQL_RESPONSE and isinstance(result, PreExecutionError):
        # Execution never started: no data entry, and a status that says the request was refused.
        response.pop("data", None)
        return 400, response
    return 200, response


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, schema: BaseSchema, settings: Settings) -> None:
        self._settings = settings
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.environment is Environment.DEVELOPMENT else None,
            allow_queries_via_get=False,
            # Subscriptions are served by the WebSocket route (pixelpet/graphql/endpoint.py).
            subscription_protocols=(),
        )

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        assert isinstance(request, Request), "WebSockets are served by GraphQLWebSocket"
        if request.method == "GET" and not self._wants_the_ide(request):
            # Operations only over POST (decision 14); the spec's answer to a method we do not offer.
            raise HTTPException(405, "GraphQL operations are sent with POST.", headers={"Allow": "POST"})
        assert isinstance(response, Response)
        # Kept on the response strawberry hands to process_result (through the request) and create_response.
        response.graphql_media_type = negotiate(request.headers.get("accept"))  # type: ignore[attr-defined]
        request.state.graphql_response = response
        runtime: Runtime = request.app.state.runtime
        return context_for(runtime, client=request.scope.get("client"), request=request)

    def _wants_the_ide(self, request: Request) -> bool:
        return self.graphql_ide is not None and "text/html" in request.headers.get("accept", "")

    async def parse_http_body(self, request: Any) -> Any:
        if request.method == "POST":
            content_type = (request.content_type or "").split(";")[0].strip().lower()
            if content_type != JSON:
                raise ViewHTTPException(415, "Send GraphQL requests as application/json.")
        return await super().parse_http_body(request)

    def encode_json(self, data: object) -> bytes:
        # As post.py's answers (encoding.py). Bytes: were this view to serve WebSockets (it does not:
        # subscription_protocols=()), strawberry would send them as binary frames.
        return encode(data)

    def decode_json(self, data: str | bytes) -> object:
        try:
            decoded = super().decode_json(data)
        except (UnicodeDecodeError, RecursionError) as error:  # strawberry catches only JSONDecodeError
            raise ViewHTTPException(400, "Unable to parse request body as JSON") from error
        if not isinstance(decoded, dict | list):  # strawberry would fail on it: a 500
            raise ViewHTTPException(400, "The request body must be a JSON object.")
        return decoded

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        sub_response = request.state.graphql_response
        status, response = answer(
            await super().process_result(request, result), result, sub_response.graphql_media_type
        )
        if status != 200:
            sub_response.status_code = status
        return response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if sub_response.graphql_media_type == GRAPHQL_RESPONSE:  # type: ignore[attr-defined]  # see get_context
            response.headers["content-type"] = GRAPHQL_RESPONSE
        return response

    @property
    def graphql_ide_html(self) -> str:
        """Strawberry's GraphiQL, opening on a query that works, with a development token in its headers."""
        html = super().graphql_ide_html
        token = development_token(self._settings.auth, _IDE_PLAYER, ttl=timedelta(hours=12))
        headers = json.dumps(json.dumps({"Authorization": f"Bearer {token}"}, indent=2))
        return patch_graphiql(
            html,
            {
                GRAPHIQL_INITIAL_QUERY: f"parameters.q || {json.dumps(_IDE_QUERY)}",
                GRAPHIQL_INITIAL_HEADERS: f"React.useState(parameters.headers || {headers})",
            },
        )
