"""Forecasts: when a pet left alone will wake, change mood, start or stop needing something, and when each
action becomes allowed or refused. Pure, like domain.py: no I/O, no clock; time is an argument.

A mobile app schedules "Mochi will be hungry at 18:40" from a forecast without keeping a socket open. The
forecast follows the same drift as ``evolve`` (the shared segment walk, ``domain._segments``) and computes
each instant in closed form: within a segment of constant rates a stat is linear, so the moment it reaches a
threshold is one division. What an instant means is not decided here: at each candidate instant the forecast
asks ``render`` (mood, needs, activity) and ``refusal`` (each action), so "hungry" in a forecast is exactly
the ``FOOD`` need the sprite shows (rounded stats), and "feeding allowed" is exactly what ``apply_action``
accepts (raw stats).

A pet left alone settles (hunger only rises, happiness only falls, energy turns around at most once, at the
wake), so the list of events is finite; ``Forecast.until`` says whether the horizon or the limit cut it.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pixelpet.errors import InvalidInput
from pixelpet.pets import domain
from pixelpet.pets.domain import Mood, Need, PetState
from pixelpet.pets.rules import Action, Activity

# Two days ahead covers a night's sleep and a day at work or school.
DEFAULT_HORIZON = timedelta(hours=48)
# Room for every event a pet left alone produces (at most 16 in 40,000 random pets with today's rules).
DEFAULT_LIMIT = 64


class ForecastKind(StrEnum):
    WAKES_UP = "WAKES_UP"  # a sleeping pet wakes by itself (its energy reached RESTED_AT)
    MOOD_CHANGES = "MOOD_CHANGES"  # ``mood`` is the new mood
    NEED_STARTS = "NEED_STARTS"  # ``need`` appears among the shown needs
    NEED_ENDS = "NEED_ENDS"  # ``need`` leaves the shown needs (not with today's rules: see game-rules.md)
    ACTION_ALLOWED = "ACTION_ALLOWED"  # ``action`` is accepted from now on
    ACTION_REFUSED = "ACTION_REFUSED"  # ``action`` is refused from now on, for ``reason``


@dataclass(frozen=True, slots=True)
class ForecastEvent:
    """Something a client sees change at ``at`` (aware UTC), if nobody acts on the pet before then.

    ``at`` is when the change shows, a millisecond after the exact crossing (as ``next_visible_change``
    reports it): ``render`` or ``apply_action`` at ``at`` already say the new thing, and said the old one
    until that crossing. ``mood`` is set for MOOD_CHANGES, ``need`` for NEED_STARTS and
    NEED_ENDS, ``action`` for ACTION_ALLOWED and ACTION_REFUSED, ``reason`` (``ActionRefused.reason``) for
    ACTION_REFUSED; the others are None.
    """

    at: datetime
    kind: ForecastKind
    mood: Mood | None = None
    need: Need | None = None
    action: Action | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Forecast:
    """What will change, in order, from ``at`` on.

    ``events`` are chronological; events at the same instant come as WAKES_UP, MOOD_CHANGES, NEED_ENDS,
    NEED_STARTS, then action events in ``Action`` order. ``until`` is the instant of the first event left
    off (past the horizon, or past the limit: an instant's events are listed all or none), so every event
    before ``until`` is listed and a client asks again by then; None when ``events`` holds every event there
    will ever be.
    """

    at: datetime
    events: tuple[ForecastEvent, ...]
    until: datetime | None


@dataclass(frozen=True, slots=True)
class _Outlook:
    """The aspects a forecast follows, as they are at one moment."""

    activity: Activity
    mood: Mood
    needs: tuple[Need, ...]
    refusals: tuple[str | None, ...]  # per action, in ``Action`` order


def _outlook(state: PetState) -> _Outlook:
    view = domain.render(state)
    reasons: list[str | None] = []
    for action in Action:
        refused = domain.refusal(state, action)
        reasons.append(None if refused is None else refused.reason)
    return _Outlook(view.activity, view.mood, view.needs, tuple(reasons))


def _changes(before: _Outlook, after: _Outlook, at: datetime) -> list[ForecastEvent]:
    events: list[ForecastEvent] = []
    if before.activity is Activity.ASLEEP and after.activity is Activity.AWAKE:
        events.append(ForecastEvent(at, ForecastKind.WAKES_UP))
    if after.mood is not before.mood:
        events.append(ForecastEvent(at, ForecastKind.MOOD_CHANGES, mood=after.mood))
    events.extend(
        ForecastEvent(at, ForecastKind.NEED_ENDS, need=need)
        for need in Need
        if need in before.needs and need not in after.needs
    )
    events.extend(
        ForecastEvent(at, ForecastKind.NEED_STARTS, need=need)
        for need in Need
        if need in after.needs and need not in before.needs
    )
    for action, was, now in zip(Action, before.refusals, after.refusals, strict=True):
        if now == was:
            continue
        if now is None:
            events.append(ForecastEvent(at, ForecastKind.ACTION_ALLOWED, action=action))
        else:
            events.append(ForecastEvent(at, ForecastKind.ACTION_REFUSED, action=action, reason=now))
    return events


def _crossings(segments: list[domain._Segment]) -> list[datetime]:
    """Every instant in a walk at which a forecast aspect may change, sorted.

    That is a stat reaching a level ``render`` or ``refusal`` compares it with, or a segment ending (where a
    sleeping pet wakes).
    """
    view, actions = domain._shown_levels(), domain._refusal_levels()
    instants: set[datetime] = set()
    for segment in segments:
        start, rates = segment.start, segment.rates
        for value, rate, levels in (
            (start.hunger, rates.hunger, view.hunger + actions.hunger),
            (start.happiness, rates.happiness, view.happiness + actions.happiness),
            (start.energy, rates.energy, view.energy + actions.energy),
        ):
            for level in levels:
                hours = domain._hours_to_level(value, rate, level)
                if not math.isinf(hours) and hours <= segment.hours:
                    instants.add(start.as_of + timedelta(hours=hours))
        if segment.end is not None:
            instants.add(segment.end.as_of)
    return sorted(instants)


def forecast(
    state: PetState, *, at: datetime, horizon: timedelta = DEFAULT_HORIZON, limit: int = DEFAULT_LIMIT
) -> Forecast:
    """What will change for a pet left alone from ``at`` until ``at + horizon``, at most ``limit`` events.

    Raises ``InvalidInput`` for a horizon that is not positive or a limit below 1.
    """
    if horizon <= timedelta(0):
        raise InvalidInput("A forecast's horizon must be positive.")
    if limit < 1:
        raise InvalidInput("A forecast lists at least one event.")
    current = domain.evolve(state, at=at)
    seen = _outlook(current)
    segments = list(domain._segments(current))
    events: list[ForecastEvent] = []
    for crossing in _crossings(segments):
        moment = crossing + domain._CROSSING_MARGIN
        hours = (moment - current.as_of).total_seconds() / domain._SECONDS_PER_HOUR
        outlook = _outlook(domain._state_along(segments, hours, moment))
        if outlook == seen:
            continue
        found = _changes(seen, outlook, moment)
        if moment - at >= horizon or len(events) + len(found) > limit:
            return Forecast(at, tuple(events), until=moment)
        events.extend(found)
        seen = outlook
    return Forecast(at, tuple(events), until=None)
