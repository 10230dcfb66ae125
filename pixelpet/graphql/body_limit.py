"""Request bodies over a size limit are refused with 413 before anything parses them.

A client that declares a `Content-Length` over the limit is answered at once, without reading the body; one
that streams (chunked) is answered after at most ``max_bytes + 1`` bytes. Either way GraphQL never sees the
body, and no more than the limit is held in memory.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixelpet.errors import ErrorCode


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._max_bytes):
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: let the app see it
                await self._app(scope, replay([message], receive), send)
                return
            size += len(message.get("body", b""))
            if size > self._max_bytes:
                await self._refuse(send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self._app(scope, replay([body], receive), send)

    async def _refuse(self, send: Send) -> None:
        payload = (
            b'{"errors":[{"message":"The request body is larger than %d bytes.","extensions":{"code":"%s"}}]}'
            % (self._max_bytes, ErrorCode.BAD_USER_INPUT.value.encode())
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    # The rest of the body is never read: the connection cannot carry another request.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` that first hands out ``messages`` (the body already read), then the client's own."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
