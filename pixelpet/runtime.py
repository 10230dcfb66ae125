"""Everything the lifespan builds for one process, in one place (stored on ``app.state``)."""

from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient

from pixelpet.auth import TokenVerifier
from pixelpet.clock import Clock
from pixelpet.pets.service import PetService
from pixelpet.settings import Settings


@dataclass(slots=True)
class Runtime:
    settings: Settings
    clock: Clock
    client: AsyncMongoClient[Any]
    pets: PetService
    verifier: TokenVerifier
    # Set when shutdown begins: readiness fails so load balancers stop sending traffic.
    draining: bool = field(default=False)
