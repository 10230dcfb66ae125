"""Starlette's CORS middleware, with a lean path for requests that carry no ``Origin`` header.

Most requests carry none: programs, the load generator, same-origin pages' GETs. For them Starlette's
middleware builds a ``Headers`` view of the request and a ``MutableHeaders`` view of the response, only to add
``Vary: Origin`` (a shared cache must not serve an answer made without an Origin to a page that sent one).
Timed alone, that took 4.7 µs per request (docs/performance.md, log entry 43). Here such a request's
response gets the same header, merged the same way, from one scan of each header list (1.8 µs); requests
with an Origin go through Starlette's code unchanged. tests/unit/test_cors.py compares the two on generated
requests and responses.
"""

from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Receive, Scope, Send

_ORIGIN = b"origin"
_VARY = b"vary"


class CORS(CORSMiddleware):
    """``CORSMiddleware``, configured as Starlette's (its arguments and behaviour)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(name == _ORIGIN for name, _ in scope["headers"]):
            await super().__call__(scope, receive, send)
            return

        async def send_varying_by_origin(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _varying_by_origin(message.get("headers", ()))
            await send(message)

        await self.app(scope, receive, send_varying_by_origin)


def _varying_by_origin(
    headers: "list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...]",
) -> list[tuple[bytes, bytes]]:
    """``headers`` with ``Origin`` added to its ``Vary`` as Starlette's ``MutableHeaders`` would: every
    ``vary`` value joined, ``Origin`` last, in the first one's place (or appended), the others removed."""
    raw = list(headers)
    found = [index for index, (name, _) in enumerate(raw) if name == _VARY]
    if not found:
        raw.append((_VARY, b"Origin"))
        return raw
    joined = b", ".join([*(raw[index][1] for index in found), b"Origin"])
    for index in reversed(found[1:]):
        del raw[index]
    raw[found[0]] = (_VARY, joined)
    return raw
