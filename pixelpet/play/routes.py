"""/play: a small page where a player's pets live, served from this package (static/: no build step).

On in development, optional in production (``PIXELPET_PLAY``). In development the page can ask for a token
minted with the development secret (``POST /play/token``); elsewhere the player pastes one. The page talks to
the API like any other client: GraphQL over HTTP, and graphql-transport-ws for the live stats.
"""

import re
from datetime import timedelta
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixelpet.auth import development_token
from pixelpet.settings import Environment, Settings

STATIC = Path(__file__).parent / "static"
# Everything from this origin, nothing inline, no framing: the page needs no more.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PLAYER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DEV_TOKEN_TTL = timedelta(hours=12)


class _WithPolicy:
    """The page's Content-Security-Policy on each of its responses."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    *message.get("headers", []),
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_with_policy)


def play_routes(settings: Settings) -> list[BaseRoute]:
    development = settings.environment is Environment.DEVELOPMENT

    async def config(request: Request) -> JSONResponse:
        return JSONResponse({"developmentTokens": development})

    async def token(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        player = body.get("player") if isinstance(body, dict) else None
        if not isinstance(player, str) or not PLAYER_NAME.match(player):
            return JSONResponse({"error": "player: 1-64 letters, digits, '_', '.' or '-'"}, status_code=400)
        return JSONResponse({"token": development_token(settings.auth, player, ttl=DEV_TOKEN_TTL)})

    async def to_the_page(request: Request) -> Response:
        return RedirectResponse("/play/")

    routes: list[BaseRoute] = [
        Route("/play", to_the_page),
        Route("/play/config.json", config),
    ]
    if development:  # a token for anyone who asks: the development secret's whole point, nowhere else
        routes.append(Route("/play/token", token, methods=["POST"]))
    routes.append(Mount("/play", app=_WithPolicy(StaticFiles(directory=STATIC, html=True)), name="play"))
    return routes
