"""Pets for tests that need one without a store."""

from dataclasses import replace
from datetime import datetime

from pixelpet.pets.pet import Pet
from pixelpet.pets.rules import Species
from tests.conftest import T0


def a_pet(
    *,
    id: str = "0" * 23 + "1",
    owner: str = "alice",
    at: datetime = T0,
    version: int = 1,
    name: str = "Mochi",
) -> Pet:
    pet = Pet.adopt(id=id, owner=owner, name=name, species=Species.CAT, at=at, idempotency_key=None)
    return replace(pet, version=version)
