"""The per-request (or per-WebSocket-connection) context handed to every resolver."""

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Tracer
from starlette.requests import Request

from pixelpet.auth import Identity, TokenVerifier
from pixelpet.errors import Unauthenticated
from pixelpet.graphql.limits import Limits, SubscriptionCounter
from pixelpet.pets.live.subscription import Subscriptions
from pixelpet.pets.service import PetService
from pixelpet.runtime import Runtime


@dataclass(slots=True)
class Context:
    pets: PetService
    subscriptions: Subscriptions
    verifier: TokenVerifier
    tracer: Tracer
    limits: Limits
    client_address: str
    # An HTTP request authenticates with its Authorization header...
    request: Request | None = None
    # ...a WebSocket connection with the connection_init payload (set by the protocol handler).
    connection: object | None = None
    connection_params: dict[str, Any] | None = None
    identity: Identity | None = None
    # The live subscriptions open on this connection, for its cap.
    live: SubscriptionCounter = field(default_factory=SubscriptionCounter)

    async def owner(self) -> str:
        """The authenticated owner id; raises Unauthenticated. Verified once per request or connection."""
        if self.identity is None:
            self.identity = await self._authenticate()
        return self.identity.owner

    async def _authenticate(self) -> Identity:
        if self.request is not None:
            header = self.request.headers.get("authorization")
        else:
            token = (self.connection_params or {}).get("authorization")
            header = token if isinstance(token, str) else None
        remembered = self.verifier.remembered(header)
        if remembered is not None:  # the common case: a token already verified costs nothing
            return remembered
        attempts = self.limits.unauthenticated.bucket(self.client_address)
        attempts.check()  # RateLimited: this address sent too many bad or missing credentials
        try:
            return await self.verifier.identity_from_header(header)
        except Unauthenticated:
            attempts.spend()
            raise


def context_for(
    runtime: Runtime,
    *,
    client: tuple[str, int] | None,
    request: Request | None = None,
    connection: object | None = None,
) -> Context:
    """The context of one HTTP request or one WebSocket connection from ``client`` (ASGI's address)."""
    return Context(
        pets=runtime.pets,
        subscriptions=runtime.subscriptions,
        verifier=runtime.verifier,
        tracer=runtime.tracer,
        limits=runtime.limits,
        client_address=client[0] if client else "unknown",
        request=request,
        connection=connection,
    )
