"""Everything the lifespan builds for one process, in one place (stored on ``app.state``)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from opentelemetry.trace import Tracer

from pixelpet.auth import TokenVerifier
from pixelpet.graphql.limits import Limits
from pixelpet.pets.live.channels import Channels
from pixelpet.pets.live.subscription import Subscriptions
from pixelpet.pets.ports import ChangeFeed
from pixelpet.pets.service import PetService


@dataclass(slots=True)
class Runtime:
    ping: Callable[[], Awaitable[None]]  # readiness: does the database answer?
    pets: PetService
    changes: ChangeFeed
    channels: Channels
    subscriptions: Subscriptions
    verifier: TokenVerifier
    limits: Limits
    tracer: Tracer
