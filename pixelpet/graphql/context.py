"""The per-request (or per-WebSocket-connection) context handed to every resolver."""

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Tracer
from starlette.requests import Request

from pixelpet.auth import TokenVerifier
from pixelpet.pets.live import PetWatcher
from pixelpet.pets.service import PetService


@dataclass(slots=True)
class Context:
    pets: PetService
    watcher: PetWatcher
    verifier: TokenVerifier
    tracer: Tracer
    # An HTTP request authenticates with its Authorization header...
    request: Request | None = None
    # ...a WebSocket connection with the connection_init payload (set by the protocol handler).
    connection: object | None = None
    connection_params: dict[str, Any] | None = None
    _owner: str | None = field(default=None, repr=False)

    async def owner(self) -> str:
        """The authenticated owner id; raises Unauthenticated. Verified once per request or connection."""
        if self._owner is None:
            if self.request is not None:
                header = self.request.headers.get("authorization")
            else:
                token = (self.connection_params or {}).get("authorization")
                header = token if isinstance(token, str) else None
            self._owner = await self.verifier.owner_from_header(header)
        return self._owner
