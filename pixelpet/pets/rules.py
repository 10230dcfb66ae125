"""The game's numbers, in one table. docs/game-rules.md explains them; change both together.

Scales (all 0..100):
- hunger: 0 is full, 100 is starving (it rises over time);
- happiness: 0 is miserable, 100 is delighted (it falls over time);
- energy: 0 is exhausted, 100 is fully rested (it falls awake, recovers asleep).
"""

from dataclasses import dataclass
from enum import StrEnum

STAT_MIN = 0.0
STAT_MAX = 100.0


class Species(StrEnum):
    CAT = "CAT"
    DOG = "DOG"
    DRAGON = "DRAGON"
    AXOLOTL = "AXOLOTL"


class Activity(StrEnum):
    AWAKE = "AWAKE"
    ASLEEP = "ASLEEP"


class Action(StrEnum):
    FEED = "FEED"
    PLAY = "PLAY"
    SLEEP = "SLEEP"
    WAKE = "WAKE"


@dataclass(frozen=True, slots=True)
class SpeciesRates:
    """How fast a species' stats drift, in points per hour."""

    hunger_awake: float
    hunger_asleep: float
    happiness_loss: float  # while awake and not hungry; asleep pets keep their happiness
    hungry_happiness_multiplier: float  # happiness falls this much faster while hungry
    energy_loss_awake: float
    energy_gain_asleep: float


@dataclass(frozen=True, slots=True)
class Effect:
    """What an accepted action adds to each stat (clamped to the scale afterwards)."""

    hunger: float = 0.0
    happiness: float = 0.0
    energy: float = 0.0


SPECIES_RATES: dict[Species, SpeciesRates] = {
    Species.CAT: SpeciesRates(6.0, 3.0, 4.0, 3.0, 8.0, 25.0),
    Species.DOG: SpeciesRates(8.0, 4.0, 3.0, 2.5, 10.0, 30.0),
    Species.DRAGON: SpeciesRates(4.0, 1.0, 2.0, 4.0, 5.0, 12.0),
    Species.AXOLOTL: SpeciesRates(2.0, 1.0, 1.5, 2.0, 3.0, 20.0),
}

ACTION_EFFECTS: dict[Action, Effect] = {
    Action.FEED: Effect(hunger=-35.0, happiness=5.0, energy=5.0),
    Action.PLAY: Effect(hunger=10.0, happiness=20.0, energy=-15.0),
    Action.SLEEP: Effect(),
    Action.WAKE: Effect(happiness=-10.0),  # woken early: grumpy
}

# Thresholds, on the scales above.
HUNGRY_AT = 70.0  # from here on, happiness falls faster
FULL_BELOW = 10.0  # feeding a pet this full is refused
STARVING_AT = 90.0  # too hungry to play
TOO_TIRED_BELOW = 15.0  # too tired to play
NOT_TIRED_FROM = 90.0  # too awake to go to sleep
RESTED_AT = 100.0  # a sleeping pet wakes by itself here

# Needs shown on the sprite.
NEEDS_FOOD_FROM = 60.0
NEEDS_PLAY_UP_TO = 40.0
NEEDS_REST_UP_TO = 25.0

# New pets.
NEW_PET_HUNGER = 20.0
NEW_PET_HAPPINESS = 80.0
NEW_PET_ENERGY = 80.0

NAME_MAX_LENGTH = 32
