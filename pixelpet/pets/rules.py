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
    """How fast a species' stats drift while nobody acts, on the 0..100 scales above.

    Every field is a positive magnitude; the sign (rise or fall) is in its name. A stat stops at 0 and 100.
    """

    hunger_awake: float  # points per hour hunger rises while awake
    hunger_asleep: float  # points per hour hunger rises while asleep
    happiness_loss: float  # points per hour happiness falls while awake and not hungry; asleep: no change
    hungry_happiness_multiplier: float  # unitless: happiness falls this many times faster from HUNGRY_AT on
    energy_loss_awake: float  # points per hour energy falls while awake
    energy_gain_asleep: float  # points per hour energy rises while asleep (until RESTED_AT wakes the pet)


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

# Needs shown on the sprite, compared with the shown (rounded) stats.
NEEDS_FOOD_FROM = 60.0
NEEDS_PLAY_UP_TO = 40.0
NEEDS_REST_UP_TO = 25.0

# Mood, compared with the shown (rounded) stats; the first match wins (domain._mood): SLEEPING while asleep,
# then MISERABLE, GRUMPY, ECSTATIC, HAPPY, and CONTENT otherwise.
MISERABLE_HAPPINESS_BELOW = 20.0  # MISERABLE: this unhappy, or hunger at STARVING_AT or more
GRUMPY_HAPPINESS_BELOW = 40.0  # GRUMPY: this unhappy, hunger from HUNGRY_AT, or energy below TOO_TIRED_BELOW
ECSTATIC_HAPPINESS_FROM = 80.0  # ECSTATIC: all three of happiness this high,
ECSTATIC_HUNGER_BELOW = 40.0  # hunger this low
ECSTATIC_ENERGY_FROM = 50.0  # and energy this high
HAPPY_HAPPINESS_FROM = 60.0  # HAPPY: this happy

# New pets.
NEW_PET_HUNGER = 20.0
NEW_PET_HAPPINESS = 80.0
NEW_PET_ENERGY = 80.0

NAME_MAX_LENGTH = 32
