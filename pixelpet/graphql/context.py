"""The per-request (or per-WebSocket-connection) context handed to every resolver."""

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Tracer
from starlette.requests import Request
from starlette.websockets import WebSocket

from pixelpet.auth import TokenVerifier
from pixelpet.pets.live import PetWatcher
from pixelpet.pets.service import PetService


@dataclass(slots=True)
class Context:
    request: Request | WebSocket
    pets: PetService
    watcher: PetWatcher
    verifier: TokenVerifier
    tracer: Tracer
    # Set by strawberry from the graphql-transport-ws connection_init payload.
    connection_params: dict[str, Any] | None = None
    _owner: str | None = field(default=None, repr=False)

    async def owner(self) -> str:
        """The authenticated owner id; raises Unauthenticated. Verified once per request."""
        if self._owner is None:
            if isinstance(self.request, WebSocket):
                token = (self.connection_params or {}).get("authorization")
                self._owner = await self.verifier.owner_from_header(token if isinstance(token, str) else None)
            else:
                self._owner = await self.verifier.owner_from_header(self.request.headers.get("authorization"))
        return self._owner
