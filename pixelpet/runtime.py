"""Everything the lifespan builds for one process, in one place (stored on ``app.state``)."""

from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import Tracer
from pymongo import AsyncMongoClient

from pixelpet.auth import TokenVerifier
from pixelpet.pets.broker import ChangeStreamBroker
from pixelpet.pets.live import PetWatcher
from pixelpet.pets.service import PetService
from pixelpet.ratelimit import TokenBucketLimiter


@dataclass(slots=True)
class Runtime:
    client: AsyncMongoClient[Any]
    pets: PetService
    broker: ChangeStreamBroker
    watcher: PetWatcher
    verifier: TokenVerifier
    # Failed or missing credentials per client address.
    unauthenticated: TokenBucketLimiter
    tracer: Tracer
