"""``POST /graphql`` answered in straight-line code for the request every game client sends (decision 22).

Strawberry's HTTP view wraps each request in adapters, a sub-response and hooks, behind Starlette's
exception middleware and router: about a tenth of a single-pet query's CPU (docs/performance.md, log
entry 25). ``GraphQLPost`` answers the common request itself, with the pipeline the view would call and
the view's own rules for the answer (view.py: the media type negotiated from ``Accept``, a refused
request a 400 under ``graphql-response+json``):

- a POST to the path, with ``Content-Type: application/json``, an ``Accept`` that asks for no streaming;
- a JSON object whose ``query`` is a document that parses (from the cache) into a query or a mutation
  (the one ``operationName`` names, a text or absent), with ``variables`` and ``extensions`` objects or
  absent.

Anything else (GET, the IDE, another media type, a batch, a body that is no JSON, a syntax error, a
subscription, an unknown operation name, an app mounted under a ``root_path``, a schema without the
pipeline) goes on to the view with the
body as it came, and is answered there, as before. tests/unit/graphql/test_operation.py sends the same
requests, generated ones too, to the service with and without this path: status, headers and body must
be the same.
"""

import json
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.http import process_result

from pixelpet.graphql.body_limit import replay
from pixelpet.graphql.context import context_for
from pixelpet.graphql.encoding import encode
from pixelpet.graphql.operation import OperationPipeline
from pixelpet.graphql.schema import PixelPetSchema
from pixelpet.graphql.seam import StrawberryOperationType, get_operation_type
from pixelpet.graphql.view import JSON, GraphQLView, answer, negotiate

_ALLOWED = (StrawberryOperationType.QUERY, StrawberryOperationType.MUTATION)


class GraphQLPost:
    """Serves the common ``POST`` at ``path`` (module docstring); everything else passes through."""

    def __init__(self, app: ASGIApp, *, path: str, view: GraphQLView) -> None:
        self._app = app
        self._path = path
        self._view = view

    def _pipeline(self) -> tuple[OperationPipeline, PixelPetSchema] | None:
        """The pipeline the view's schema would run the request with, if any: the view's schema is the one
        answering (the benchmark's baselines give it another, and extensions turn the pipeline off)."""
        schema = self._view.schema
        if not isinstance(schema, PixelPetSchema):
            return None
        pipeline = schema.active_pipeline
        return (pipeline, schema) if pipeline is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != self._path
            or scope.get("root_path")  # mounted under a prefix: the router decides what the path is
        ):
            await self._app(scope, receive, send)
            return
        content_type, accept = _headers(scope)
        # Exactly: strawberry refuses the type in capitals, which the view then answers.
        if content_type is None or content_type.split(";", 1)[0].strip() != JSON:
            await self._app(scope, receive, send)
            return
        if accept is not None and ("multipart" in accept or "event-stream" in accept):
            await self._app(scope, receive, send)  # streaming asked for: the view says what it offers
            return
        message = await receive()
        if message["type"] != "http.request" or message.get("more_body", False):
            # BodyLimit (outside) hands the body whole; anything else is the view's to handle.
            await self._app(scope, replay([message], receive), send)
            return
        body = message.get("body", b"")
        request = self._request(body)
        if request is None:
            await self._app(scope, replay([message], receive), send)
            return
        await self._answer(scope, send, request, negotiate(accept))

    def _request(
        self, body: bytes
    ) -> tuple[OperationPipeline, str, dict[str, Any] | None, str | None] | None:
        """The pipeline, query, variables and operation name of a request this path serves, else None."""
        serving = self._pipeline()
        if serving is None:
            return None
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # the view answers it
            return None
        if not isinstance(data, dict):
            return None
        query = data.get("query")
        variables = data.get("variables")
        operation_name = data.get("operationName")
        if (
            not isinstance(query, str)
            or not query
            or not isinstance(variables, dict | None)
            or not isinstance(data.get("extensions"), dict | None)
            or not isinstance(operation_name, str | None)
        ):
            return None
        try:
            document = serving[1].document_cache.parse(query)
            operation_type = get_operation_type(document, operation_name)
        except (GraphQLError, RuntimeError):
            return None
        return (serving[0], query, variables, operation_name) if operation_type in _ALLOWED else None

    async def _answer(
        self,
        scope: Scope,
        send: Send,
        request: tuple[OperationPipeline, str, dict[str, Any] | None, str | None],
        media_type: str,
    ) -> None:
        pipeline, query, variables, operation_name = request
        context = context_for(scope["app"].state.runtime, client=scope.get("client"), request=Request(scope))
        result = await pipeline.execute(
            query,
            variables=variables,
            context=context,
            root_value=None,
            operation_name=operation_name,
            allowed=_ALLOWED,
        )
        status, data = answer(process_result(result), result, media_type)
        content = encode(data)  # as the view encodes (encoding.py)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                # As strawberry's view, through Starlette's Response: the length, then the type.
                "headers": [
                    (b"content-length", str(len(content)).encode()),
                    (b"content-type", media_type.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})


def _headers(scope: Scope) -> tuple[str | None, str | None]:
    """The first Content-Type and Accept, as Starlette's ``Request.headers.get`` reads them."""
    content_type = accept = None
    for name, value in scope["headers"]:
        if name == b"content-type" and content_type is None:
            content_type = value.decode("latin-1")
        elif name == b"accept" and accept is None:
            accept = value.decode("latin-1")
    return content_type, accept
