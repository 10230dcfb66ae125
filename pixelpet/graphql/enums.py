"""The core's enums as GraphQL enums, with descriptions, registered in one place.

Strawberry registers an enum in place, on the class itself; a type that meets an unregistered enum first
would register it under its own name and a second registration would clash. Every module defining types
imports this one first.
"""

import strawberry

from pixelpet.pets.domain import Mood, Need
from pixelpet.pets.forecast import ForecastKind
from pixelpet.pets.rules import Action, Activity, Species


def _register() -> None:
    strawberry.enum(Species, name="Species", description="Kinds of pet; each has its own rates.")
    strawberry.enum(Activity, name="Activity", description="Whether the pet is awake or asleep.")
    strawberry.enum(
        Mood,
        name="Mood",
        description="How the pet feels, derived from the shown stats; drives the sprite's face.",
    )
    strawberry.enum(Need, name="Need", description="Something the pet asks for: FOOD, PLAY or REST.")
    strawberry.enum(ForecastKind, name="ForecastKind", description="What a forecast event says will change.")
    strawberry.enum(Action, name="PetAction", description="A care action: FEED, PLAY, SLEEP or WAKE.")


_register()
