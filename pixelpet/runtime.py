"""Everything the lifespan builds for one process, in one place (stored on ``app.state``)."""

from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import Tracer
from pymongo import AsyncMongoClient

from pixelpet.auth import TokenVerifier
from pixelpet.graphql.limits import Limits
from pixelpet.pets.live.channels import Channels
from pixelpet.pets.live.subscription import Subscriptions
from pixelpet.pets.ports import ChangeFeed
from pixelpet.pets.service import PetService


@dataclass(slots=True)
class Runtime:
    client: AsyncMongoClient[Any]
    pets: PetService
    changes: ChangeFeed
    channels: Channels
    subscriptions: Subscriptions
    verifier: TokenVerifier
    limits: Limits
    tracer: Tracer
