"""pixelpet/cors.py against Starlette's CORSMiddleware: the same messages for the same requests, answers."""

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Receive, Scope, Send

from pixelpet.cors import CORS

NAMES = st.sampled_from([b"vary", b"Vary", b"content-type", b"x-other", b"cookie", b"origin", b"accept"])
VALUES = st.sampled_from([b"Accept", b"Origin", b"accept-encoding", b"*", b"", b"https://play.example"])
HEADERS = st.lists(st.tuples(NAMES, VALUES), max_size=6)
CONFIGS = st.sampled_from(
    [
        {"allow_origins": []},
        {"allow_origins": ["https://play.example"], "allow_methods": ["GET", "POST"], "max_age": 600},
        {"allow_origins": ["*"], "allow_headers": ["authorization", "content-type"]},
    ]
)


def _sent(
    middleware_class: type[CORSMiddleware], config: dict[str, Any], scope: Scope, response: Any
) -> list[Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        start: Message = {"type": "http.response.start", "status": 200}
        if response is not None:  # an ASGI app may leave the headers out
            start["headers"] = response
        await send(start)
        await send({"type": "http.response.body", "body": b"{}"})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    asyncio.run(middleware_class(app, **config)(dict(scope), receive, send))
    return sent


@given(
    config=CONFIGS,
    request=HEADERS,
    response=HEADERS | HEADERS.map(tuple) | st.none(),
    method=st.sampled_from(["GET", "POST", "OPTIONS"]),
)
def test_every_answer_is_starlette_s(
    config: dict[str, Any], request: list[tuple[bytes, bytes]], response: Any, method: str
) -> None:
    scope = {"type": "http", "method": method, "path": "/graphql", "headers": request}
    # Each its own copy: Starlette changes the list it is given.
    ours = _sent(CORS, config, scope, list(response) if isinstance(response, list) else response)
    theirs = _sent(CORSMiddleware, config, scope, list(response) if isinstance(response, list) else response)
    assert ours == theirs


def test_a_request_without_an_origin_gets_vary_origin_merged_into_the_response_s_vary() -> None:
    scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": [(b"host", b"pets")]}
    response = [(b"vary", b"Accept"), (b"content-type", b"application/json"), (b"vary", b"Accept-Encoding")]
    start, _ = _sent(CORS, {"allow_origins": []}, scope, response)
    assert start["headers"] == [
        (b"vary", b"Accept, Accept-Encoding, Origin"),
        (b"content-type", b"application/json"),
    ]
