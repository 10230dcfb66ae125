"""Pure pet rules: no I/O, no clock. Time is always an argument.

Stats are never written on a schedule. A pet is stored as a snapshot (its stats at ``as_of``) and
``evolve`` computes the stats at any later moment in closed form. The drift is piecewise linear:
rates only change when hunger crosses ``HUNGRY_AT`` or a sleeping pet wakes, so evolution walks at
most a few segments. Because each segment is an exact flow, evolving to t1 and then to t2 equals
evolving straight to t2 (up to float rounding).
"""

import math
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from pixelpet.errors import ActionRefused, InvalidInput
from pixelpet.pets import rules
from pixelpet.pets.rules import Action, Activity, Species

_SECONDS_PER_HOUR = 3600.0
# Float slack for "reached a threshold"; far below anything a client can see.
_EPSILON = 1e-9
# A visible change is reported this long after the exact crossing, so the rounded value has moved.
_CROSSING_MARGIN = timedelta(milliseconds=1)


class Mood(StrEnum):
    ECSTATIC = "ECSTATIC"
    HAPPY = "HAPPY"
    CONTENT = "CONTENT"
    GRUMPY = "GRUMPY"
    MISERABLE = "MISERABLE"
    SLEEPING = "SLEEPING"


class Need(StrEnum):
    FOOD = "FOOD"
    PLAY = "PLAY"
    REST = "REST"


# PetState and PetView are named tuples rather than frozen dataclasses: as immutable, and built for every pet
# of every read (a stored snapshot, its state now, its view), where a frozen dataclass's __init__ (one
# object.__setattr__ per field) cost about twice as much (docs/performance.md, log entry 31).
class PetState(NamedTuple):
    """A pet's stats as they were at ``as_of`` (aware UTC)."""

    species: Species
    hunger: float
    happiness: float
    energy: float
    activity: Activity
    as_of: datetime


class PetView(NamedTuple):
    """What a client renders: rounded stats and what follows from them."""

    hunger: int
    happiness: int
    energy: int
    activity: Activity
    mood: Mood
    needs: tuple[Need, ...]


def new_pet(species: Species, *, at: datetime) -> PetState:
    return PetState(
        species=species,
        hunger=rules.NEW_PET_HUNGER,
        happiness=rules.NEW_PET_HAPPINESS,
        energy=rules.NEW_PET_ENERGY,
        activity=Activity.AWAKE,
        as_of=at,
    )


_STAT_MIN, _STAT_MAX = rules.STAT_MIN, rules.STAT_MAX


def _clamp(value: float) -> float:
    """Exactly ``min(STAT_MAX, max(STAT_MIN, value))``, NaN and -0.0 included, spelled out: it runs for every
    stat of every pet read, and comparisons cost a quarter of the two calls."""
    floored = value if value > _STAT_MIN else _STAT_MIN
    return floored if floored < _STAT_MAX else _STAT_MAX


@dataclass(frozen=True, slots=True)
class _Rates:
    hunger: float
    happiness: float
    energy: float


def _rates_for(species: Species, activity: Activity, *, hungry: bool) -> _Rates:
    rates = rules.SPECIES_RATES[species]
    if activity is Activity.ASLEEP:
        return _Rates(rates.hunger_asleep, 0.0, rates.energy_gain_asleep)
    happiness_loss = rates.happiness_loss
    if hungry:
        happiness_loss *= rates.hungry_happiness_multiplier
    return _Rates(rates.hunger_awake, -happiness_loss, -rates.energy_loss_awake)


# Every pet's rates are one of these few: worked out once instead of on every read of every pet.
_RATES = {
    (species, activity, hungry): _rates_for(species, activity, hungry=hungry)
    for species in Species
    for activity in Activity
    for hungry in (False, True)
}


def _rates(state: PetState) -> _Rates:
    return _RATES[state.species, state.activity, state.hunger >= rules.HUNGRY_AT]


def _hours_to_breakpoint(state: PetState, rates: _Rates) -> float:
    """Hours until the rates change: hunger turns hungry, or a sleeper wakes."""
    hours = math.inf
    if state.hunger < rules.HUNGRY_AT and rates.hunger > 0:
        hours = (rules.HUNGRY_AT - state.hunger) / rates.hunger
    if state.activity is Activity.ASLEEP:
        hours = min(hours, max(0.0, rules.RESTED_AT - state.energy) / rates.energy)
    return hours


def _advance(
    state: PetState, hours: float, rates: _Rates, *, to_breakpoint: bool, as_of: datetime | None = None
) -> PetState:
    """``state`` drifted at ``rates`` for ``hours``, as of ``as_of`` (given: the moment it stands for)."""
    hunger = _clamp(state.hunger + rates.hunger * hours)
    happiness = _clamp(state.happiness + rates.happiness * hours)
    energy = _clamp(state.energy + rates.energy * hours)
    activity = state.activity
    if to_breakpoint:
        # Snap to the threshold that ended the segment so float error cannot make it reappear.
        if state.hunger < rules.HUNGRY_AT <= hunger + _EPSILON:
            hunger = rules.HUNGRY_AT
        if activity is Activity.ASLEEP and energy >= rules.RESTED_AT - _EPSILON:
            energy, activity = rules.RESTED_AT, Activity.AWAKE
    if as_of is None:
        as_of = state.as_of + timedelta(seconds=hours * _SECONDS_PER_HOUR)
    return PetState(state.species, hunger, happiness, energy, activity, as_of)


@dataclass(frozen=True, slots=True)
class _Segment:
    """A stretch of constant rates: ``start`` drifts at ``rates`` for ``hours``, ending in ``end``.

    The last segment of a walk never ends: ``hours`` is infinite and ``end`` is None.
    """

    start: PetState
    rates: _Rates
    hours: float
    end: PetState | None

    def state_after(self, hours: float, *, as_of: datetime | None = None) -> PetState:
        """The state ``hours`` into the segment (at most ``self.hours``), as of ``as_of`` if given."""
        return _advance(self.start, hours, self.rates, to_breakpoint=False, as_of=as_of)


def _segments(state: PetState) -> Iterator[_Segment]:
    """The drift from ``state`` on, one segment of constant rates at a time; the last one is endless.

    The one walk behind ``evolve``, ``next_visible_change`` and the forecast (pixelpet/pets/forecast.py).
    """
    # Each segment ends at one breakpoint, and there are at most two of them.
    for _ in range(4):
        rates = _rates(state)
        hours = _hours_to_breakpoint(state, rates)
        if math.isinf(hours):
            yield _Segment(state, rates, hours, None)
            return
        end = _advance(state, hours, rates, to_breakpoint=True)
        yield _Segment(state, rates, hours, end)
        state = end
    raise AssertionError("the drift passed more breakpoints than the rules allow")  # pragma: no cover


def evolve(state: PetState, *, at: datetime) -> PetState:
    """The state at ``at``. A moment before the snapshot (clock skew) returns the snapshot."""
    remaining = (at - state.as_of).total_seconds() / _SECONDS_PER_HOUR
    if remaining <= 0:
        return state
    rates = _rates(state)
    if _hours_to_breakpoint(state, rates) >= remaining:
        # Within the walk's first segment, as most reads are: its end need not be worked out.
        return _advance(state, remaining, rates, to_breakpoint=False, as_of=at)
    return _state_along(_segments(state), remaining, at)


def _state_along(segments: Iterable[_Segment], hours: float, at: datetime) -> PetState:
    """The state ``hours`` (> 0) into a walk, at the moment ``at``: ``evolve`` on a walk already made."""
    for segment in segments:
        if segment.hours >= hours:
            return segment.state_after(hours, as_of=at)
        hours -= segment.hours
    raise AssertionError("the last segment never ends")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Drift:
    """How a pet's stats move on their own from a moment on, for a client animating between snapshots.

    Rates are signed, in points per hour (hunger rises, happiness and energy fall while awake; energy rises
    asleep); each stat stops at 0 and 100. They hold until ``until``, where they may change (hunger turns
    hungry, or a sleeping pet wakes), or forever when ``until`` is None.
    """

    hunger: float
    happiness: float
    energy: float
    until: datetime | None


def drift(state: PetState, *, at: datetime) -> Drift:
    """The rates at which the pet's stats move from ``at`` on, and until when they hold."""
    segment = next(_segments(evolve(state, at=at)))
    rates = segment.rates
    until = None if segment.end is None else segment.end.as_of
    return Drift(rates.hunger, rates.happiness, rates.energy, until)


def apply_action(state: PetState, action: Action, *, at: datetime) -> PetState:
    """Evolve to ``at`` and apply ``action``, or raise ``ActionRefused`` saying why."""
    current = evolve(state, at=at)
    refused = refusal(current, action)
    if refused is not None:
        raise refused
    effect = rules.ACTION_EFFECTS[action]
    activity = current.activity
    if action is Action.SLEEP:
        activity = Activity.ASLEEP
    elif action is Action.WAKE:
        activity = Activity.AWAKE
    return current._replace(
        hunger=_clamp(current.hunger + effect.hunger),
        happiness=_clamp(current.happiness + effect.happiness),
        energy=_clamp(current.energy + effect.energy),
        activity=activity,
    )


def refusal(state: PetState, action: Action) -> ActionRefused | None:
    """Why the pet as it is in ``state`` refuses ``action`` (what ``apply_action`` raises), or None."""
    asleep = state.activity is Activity.ASLEEP
    if action in (Action.FEED, Action.PLAY) and asleep:
        return ActionRefused("ASLEEP", "The pet is asleep; wake it first.")
    if action is Action.FEED and state.hunger < rules.FULL_BELOW:
        return ActionRefused("NOT_HUNGRY", "The pet is full and refuses food.")
    if action is Action.PLAY and state.energy < rules.TOO_TIRED_BELOW:
        return ActionRefused("TOO_TIRED", "The pet is too tired to play; let it sleep.")
    if action is Action.PLAY and state.hunger >= rules.STARVING_AT:
        return ActionRefused("TOO_HUNGRY", "The pet is too hungry to play; feed it first.")
    if action is Action.SLEEP and asleep:
        return ActionRefused("ALREADY_ASLEEP", "The pet is already asleep.")
    if action is Action.SLEEP and state.energy >= rules.NOT_TIRED_FROM:
        return ActionRefused("NOT_TIRED", "The pet is not tired enough to sleep.")
    if action is Action.WAKE and not asleep:
        return ActionRefused("ALREADY_AWAKE", "The pet is already awake.")
    return None


@dataclass(frozen=True, slots=True)
class _Levels:
    """Raw stat values, per stat, at which something derived from the stats can flip."""

    hunger: tuple[float, ...]
    happiness: tuple[float, ...]
    energy: tuple[float, ...]


def _refusal_levels() -> _Levels:
    """Where ``refusal`` can change its answer: the raw stats it compares with the rules' thresholds.

    Keep in step with ``refusal``; tests/unit/pets/test_forecast.py checks the forecast built on it.
    """
    return _Levels(
        hunger=(rules.FULL_BELOW, rules.STARVING_AT),
        happiness=(),
        energy=(rules.TOO_TIRED_BELOW, rules.NOT_TIRED_FROM),
    )


def validate_name(name: str) -> str:
    """A trimmed, printable name of 1 to NAME_MAX_LENGTH characters, or ``InvalidInput``."""
    cleaned = unicodedata.normalize("NFC", name.strip())
    if not cleaned:
        raise InvalidInput("A pet's name cannot be empty.")
    if len(cleaned) > rules.NAME_MAX_LENGTH:
        raise InvalidInput(f"A pet's name has at most {rules.NAME_MAX_LENGTH} characters.")
    if any(unicodedata.category(char).startswith("C") for char in cleaned):
        raise InvalidInput("A pet's name cannot contain control or invisible characters.")
    return cleaned


def rounded(value: float) -> int:
    """Round half up: Python's round() rounds half to even, which would make 0.5 steps uneven."""
    return math.floor(value + 0.5)


def render(state: PetState) -> PetView:
    """The client's view. Mood and needs come from the rounded stats, so they agree on screen."""
    hunger, happiness, energy = rounded(state.hunger), rounded(state.happiness), rounded(state.energy)
    asleep = state.activity is Activity.ASLEEP
    needs: list[Need] = []
    if hunger >= rules.NEEDS_FOOD_FROM:
        needs.append(Need.FOOD)
    if not asleep and happiness <= rules.NEEDS_PLAY_UP_TO:
        needs.append(Need.PLAY)
    if not asleep and energy <= rules.NEEDS_REST_UP_TO:
        needs.append(Need.REST)
    return PetView(
        hunger,
        happiness,
        energy,
        state.activity,
        _mood(hunger, happiness, energy, asleep=asleep),
        tuple(needs),
    )


def _mood(hunger: int, happiness: int, energy: int, *, asleep: bool) -> Mood:
    if asleep:
        return Mood.SLEEPING
    if hunger >= rules.STARVING_AT or happiness < rules.MISERABLE_HAPPINESS_BELOW:
        return Mood.MISERABLE
    if (
        hunger >= rules.HUNGRY_AT
        or happiness < rules.GRUMPY_HAPPINESS_BELOW
        or energy < rules.TOO_TIRED_BELOW
    ):
        return Mood.GRUMPY
    if (
        happiness >= rules.ECSTATIC_HAPPINESS_FROM
        and hunger < rules.ECSTATIC_HUNGER_BELOW
        and energy >= rules.ECSTATIC_ENERGY_FROM
    ):
        return Mood.ECSTATIC
    if happiness >= rules.HAPPY_HAPPINESS_FROM:
        return Mood.HAPPY
    return Mood.CONTENT


def _shown_levels() -> _Levels:
    """Where ``render`` can change needs or mood: the raw values at which a shown stat crosses a threshold.

    A shown stat is rounded half up, so ``rounded(x) >= c`` flips at ``ceil(c) - 0.5`` and ``rounded(x) <= c``
    at ``floor(c) + 0.5``; both are listed, whichever comparison render makes. Keep in step with ``render``
    and ``_mood``: tests/unit/pets/test_forecast.py checks the forecast built on it against every visible
    change.
    """

    def around(*thresholds: float) -> tuple[float, ...]:
        return tuple(
            sorted({level for c in thresholds for level in (math.ceil(c) - 0.5, math.floor(c) + 0.5)})
        )

    return _Levels(
        hunger=around(rules.NEEDS_FOOD_FROM, rules.STARVING_AT, rules.HUNGRY_AT, rules.ECSTATIC_HUNGER_BELOW),
        happiness=around(
            rules.NEEDS_PLAY_UP_TO,
            rules.MISERABLE_HAPPINESS_BELOW,
            rules.GRUMPY_HAPPINESS_BELOW,
            rules.ECSTATIC_HAPPINESS_FROM,
            rules.HAPPY_HAPPINESS_FROM,
        ),
        energy=around(rules.NEEDS_REST_UP_TO, rules.TOO_TIRED_BELOW, rules.ECSTATIC_ENERGY_FROM),
    )


def _hours_to_level(value: float, rate: float, level: float) -> float:
    """Hours until ``value``, moving at ``rate``, reaches ``level``: 0 if there, inf if it never does."""
    if rate > 0 and value <= level:
        return (level - value) / rate
    if rate < 0 and value >= level:
        return (value - level) / -rate
    return math.inf


def _hours_to_rounding_change(value: float, rate: float) -> float:
    """Hours until ``rounded(value)`` changes while ``value`` moves at ``rate`` (clamped)."""
    shown = rounded(value)
    if rate > 0 and shown < rules.STAT_MAX:
        return (shown + 0.5 - value) / rate
    if rate < 0 and shown > rules.STAT_MIN:
        return (value - (shown - 0.5)) / -rate
    return math.inf


def next_visible_change(state: PetState, *, at: datetime) -> datetime | None:
    """The first moment after ``at`` when ``render`` differs from now, or None if it never will."""
    current = evolve(state, at=at)
    view = render(current)
    for segment in _segments(current):
        start, rates = segment.start, segment.rates
        crossing = min(
            _hours_to_rounding_change(start.hunger, rates.hunger),
            _hours_to_rounding_change(start.happiness, rates.happiness),
            _hours_to_rounding_change(start.energy, rates.energy),
        )
        end = segment.end
        if end is None or crossing <= segment.hours:
            if math.isinf(crossing):
                return None  # the last segment, with every stat pinned at a bound
            return start.as_of + timedelta(hours=crossing) + _CROSSING_MARGIN
        if render(end) != view:
            return end.as_of + _CROSSING_MARGIN
    raise AssertionError("the last segment never ends")  # pragma: no cover
