"""Forecasts and drift as GraphQL types: what a pet left alone will do, for clients without a socket."""

from datetime import datetime, timedelta

import strawberry

from pixelpet.errors import InvalidInput
from pixelpet.graphql import enums  # noqa: F401 - registers the core's enums before any type uses them
from pixelpet.pets import domain, forecast
from pixelpet.pets.domain import PetState
from pixelpet.pets.rules import Action

MAX_FORECAST_HOURS = 168


@strawberry.type(description="Something a client will see change, if nobody acts on the pet before then.")
class ForecastEvent:
    at: datetime = strawberry.field(
        description="When it shows (UTC), a millisecond after the exact crossing: the pet read at `at` "
        "already shows it."
    )
    kind: forecast.ForecastKind = strawberry.field(description="What changes.")
    mood: domain.Mood | None = strawberry.field(description="The new mood, for MOOD_CHANGES.")
    need: domain.Need | None = strawberry.field(description="The need, for NEED_STARTS and NEED_ENDS.")
    action: Action | None = strawberry.field(description="The action, for ACTION_ALLOWED and ACTION_REFUSED.")
    reason: str | None = strawberry.field(
        description="Why the action will be refused (the `reason` an ACTION_REFUSED error would carry)."
    )


@strawberry.type(description="What will change, in order, if nobody acts on the pet (any action changes it).")
class Forecast:
    events: list[ForecastEvent] = strawberry.field(
        description="Chronological; several at one instant come as WAKES_UP, MOOD_CHANGES, NEED_ENDS, "
        "NEED_STARTS, then actions."
    )
    until: datetime | None = strawberry.field(
        description="Every event before this instant is listed; ask again by then. Null: the list is "
        "complete, the pet settles and nothing else will change on its own."
    )


@strawberry.type(
    description="How the stats move on their own, in points per hour (signed), for animating between states. "
    "Each stat stops at 0 and 100."
)
class Drift:
    hunger: float = strawberry.field(description="Points per hour; positive: getting hungrier.")
    happiness: float = strawberry.field(description="Points per hour; negative while awake.")
    energy: float = strawberry.field(description="Points per hour; negative awake, positive asleep.")
    until: datetime | None = strawberry.field(
        description="The rates hold until then (the pet turns hungry, or wakes); null: for good."
    )


def forecast_of(state: PetState, *, hours: int) -> Forecast:
    if not 1 <= hours <= MAX_FORECAST_HOURS:
        raise InvalidInput(f"`hours` must be between 1 and {MAX_FORECAST_HOURS}.")
    found = forecast.forecast(state, at=state.as_of, horizon=timedelta(hours=hours))
    return Forecast(
        events=[
            ForecastEvent(
                at=event.at,
                kind=event.kind,
                mood=event.mood,
                need=event.need,
                action=event.action,
                reason=event.reason,
            )
            for event in found.events
        ],
        until=found.until,
    )


def drift_of(state: PetState) -> Drift:
    rates = domain.drift(state, at=state.as_of)
    return Drift(hunger=rates.hunger, happiness=rates.happiness, energy=rates.energy, until=rates.until)
