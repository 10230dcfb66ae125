"""Forecasts against the rules they predict: every event is checked with ``evolve``, ``render``,
``apply_action`` and ``next_visible_change``, never with the forecast's own arithmetic."""

from collections.abc import Hashable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pixelpet.errors import ActionRefused, InvalidInput
from pixelpet.pets import rules
from pixelpet.pets.domain import (
    Drift,
    Mood,
    Need,
    PetState,
    apply_action,
    drift,
    evolve,
    new_pet,
    next_visible_change,
    render,
)
from pixelpet.pets.forecast import (
    DEFAULT_HORIZON,
    DEFAULT_LIMIT,
    Forecast,
    ForecastEvent,
    ForecastKind,
    forecast,
)
from pixelpet.pets.rules import Action, Activity, Species

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# An event is reported a millisecond after the exact crossing that causes it (as next_visible_change does),
# and lists everything that changed by then: the change happens in that last millisecond, never earlier.
MARGIN = timedelta(milliseconds=1)
# The same crossing computed from two different snapshots lands on the same microsecond, give or take one.
SAME_INSTANT = timedelta(microseconds=10)
JUST_BEFORE = MARGIN + SAME_INSTANT
# Long enough for any pet left alone to settle: the slowest drift (1 point an hour) crosses the scale in 100 h
FOREVER = timedelta(days=30)

# Every threshold in the rules table: a stat starting near one reaches it before anything else happens.
THRESHOLDS = sorted(
    {value for name, value in vars(rules).items() if name.isupper() and isinstance(value, float)}
    - {rules.STAT_MIN, rules.STAT_MAX}
)
# Any value, the half points where a shown stat flips (where float edge cases live), and values just around a
# threshold.
stat = st.one_of(
    st.floats(min_value=0, max_value=100, allow_nan=False),
    st.integers(min_value=0, max_value=200).map(lambda halves: halves / 2),
    st.sampled_from(THRESHOLDS).flatmap(
        lambda threshold: st.floats(min_value=max(0.0, threshold - 3), max_value=min(100.0, threshold + 3))
    ),
)
species = st.sampled_from(list(Species))
activity = st.sampled_from(list(Activity))
# Mostly the first hours after the snapshot, where a pet has the most still to come; sometimes a moment before
# it (clock skew) or up to three days later.
offset = st.one_of(
    st.just(0.0),
    st.floats(min_value=0, max_value=4 * 3600, allow_nan=False),
    st.floats(min_value=-3600, max_value=72 * 3600, allow_nan=False),
).map(lambda seconds: timedelta(seconds=seconds))
fraction = st.floats(min_value=0, max_value=1, allow_nan=False)


@st.composite
def pet_states(draw: st.DrawFn) -> PetState:
    return PetState(draw(species), draw(stat), draw(stat), draw(stat), draw(activity), T0)


Aspect = Hashable


def aspect_of(event: ForecastEvent) -> tuple[Aspect, object]:
    """What an event is about, and the value that aspect takes at the event."""
    match event.kind:
        case ForecastKind.WAKES_UP:
            return "activity", Activity.AWAKE
        case ForecastKind.MOOD_CHANGES:
            return "mood", event.mood
        case ForecastKind.NEED_STARTS:
            return ("need", event.need), True
        case ForecastKind.NEED_ENDS:
            return ("need", event.need), False
        case ForecastKind.ACTION_ALLOWED:
            return ("action", event.action), None
        case ForecastKind.ACTION_REFUSED:
            return ("action", event.action), event.reason


def observe(pet: PetState, moment: datetime) -> dict[Aspect, object]:
    """Every aspect a forecast follows, as the public rules answer at ``moment``."""
    view = render(evolve(pet, at=moment))
    seen: dict[Aspect, object] = {"activity": view.activity, "mood": view.mood}
    for need in Need:
        seen["need", need] = need in view.needs
    for action in Action:
        try:
            apply_action(pet, action, at=moment)
        except ActionRefused as refused:
            seen["action", action] = refused.reason
        else:
            seen["action", action] = None
    return seen


def timeline(pet: PetState, result: Forecast) -> list[tuple[datetime, dict[Aspect, object]]]:
    """The aspects from ``result.at`` on as the forecast tells them: one entry per instant, in order."""
    current = observe(pet, result.at)
    steps = [(result.at, dict(current))]
    for event in result.events:
        aspect, value = aspect_of(event)
        if steps[-1][0] != event.at:
            steps.append((event.at, dict(steps[-1][1])))
        steps[-1][1][aspect] = value
    return steps


def event_values(events: tuple[ForecastEvent, ...]) -> list[tuple[ForecastKind, object, object, object]]:
    return [(event.kind, event.mood, event.need, (event.action, event.reason)) for event in events]


# An ecstatic pet whose energy, then whose hunger, ends the ecstasy first; a sleeper that wakes to it.
ECSTATIC_ENDINGS = (
    PetState(Species.CAT, 20.0, 95.0, 52.0, Activity.AWAKE, T0),
    PetState(Species.CAT, 38.0, 95.0, 90.0, Activity.AWAKE, T0),
    PetState(Species.DOG, 10.0, 90.0, 40.0, Activity.ASLEEP, T0),
)


@given(pet_states(), offset)
@example(ECSTATIC_ENDINGS[0], timedelta(0))
@example(ECSTATIC_ENDINGS[1], timedelta(0))
@example(ECSTATIC_ENDINGS[2], timedelta(0))
@settings(max_examples=150)
def test_each_event_shows_at_its_instant_and_not_a_moment_before(pet: PetState, elapsed: timedelta) -> None:
    at = T0 + elapsed
    result = forecast(pet, at=at, horizon=FOREVER)
    assert result.at == at
    current = observe(pet, at)
    changed_at: dict[Aspect, datetime] = {}
    for event in result.events:
        aspect, value = aspect_of(event)
        assert event.at > at
        assert value != current[aspect], f"{event} changes nothing"
        assert observe(pet, event.at)[aspect] == value, event
        before = max(event.at - JUST_BEFORE, changed_at.get(aspect, at))
        assert observe(pet, before)[aspect] == current[aspect], event
        current[aspect] = value
        changed_at[aspect] = event.at


@given(pet_states(), offset, fraction)
@settings(max_examples=150)
def test_nothing_a_forecast_follows_changes_between_its_instants(
    pet: PetState, elapsed: timedelta, where: float
) -> None:
    at = T0 + elapsed
    result = forecast(pet, at=at, horizon=FOREVER)
    assert result.until is None  # the pet settles within FOREVER
    steps = timeline(pet, result)
    ends = [moment for moment, _ in steps[1:]] + [steps[-1][0] + FOREVER]
    for (start, expected), end in zip(steps, ends, strict=True):
        # The next change happens in the millisecond before its instant, so the view holds until just before
        # that: right at this instant, anywhere, halfway, and at the last moment.
        last = end - JUST_BEFORE
        if last < start:
            continue
        for moment in (start, start + (last - start) * where, start + (last - start) / 2, last):
            assert observe(pet, moment) == expected, (start, moment, end)


def visible_changes(
    pet: PetState, at: datetime, until: datetime
) -> list[tuple[datetime, dict[Aspect, object]]]:
    """Every moment ``render`` changes, found one at a time with ``next_visible_change``: slow and sure."""
    changes: list[tuple[datetime, dict[Aspect, object]]] = []
    moment: datetime | None = at
    while (moment := next_visible_change(pet, at=moment)) is not None and moment < until:
        view = render(evolve(pet, at=moment))
        changes.append((moment, {"activity": view.activity, "mood": view.mood, "needs": view.needs}))
    return changes


@given(pet_states(), offset)
@example(ECSTATIC_ENDINGS[0], timedelta(0))
@example(ECSTATIC_ENDINGS[1], timedelta(0))
@example(ECSTATIC_ENDINGS[2], timedelta(0))
@settings(max_examples=60)
def test_mood_needs_and_waking_match_every_visible_change(pet: PetState, elapsed: timedelta) -> None:
    at = T0 + elapsed
    result = forecast(pet, at=at, horizon=DEFAULT_HORIZON, limit=10_000)
    view = render(evolve(pet, at=at))
    before: dict[Aspect, object] = {"activity": view.activity, "mood": view.mood, "needs": view.needs}
    expected: list[tuple[datetime, Aspect, object]] = []
    for moment, seen in visible_changes(pet, at, at + DEFAULT_HORIZON):
        expected.extend((moment, aspect, value) for aspect, value in seen.items() if value != before[aspect])
        before = seen
    forecast_changes: list[tuple[datetime, Aspect, object]] = []
    needs = render(evolve(pet, at=at)).needs
    for event in result.events:
        if event.kind in (ForecastKind.NEED_STARTS, ForecastKind.NEED_ENDS):
            assert event.need is not None
            changed = set(needs) ^ {event.need}
            needs = tuple(need for need in Need if need in changed)
            if forecast_changes and forecast_changes[-1][:2] == (event.at, "needs"):
                forecast_changes.pop()
            forecast_changes.append((event.at, "needs", needs))
        elif event.kind is ForecastKind.MOOD_CHANGES:
            forecast_changes.append((event.at, "mood", event.mood))
        elif event.kind is ForecastKind.WAKES_UP:
            forecast_changes.append((event.at, "activity", Activity.AWAKE))
    for aspect in ("activity", "mood", "needs"):
        wanted = [(moment, value) for moment, name, value in expected if name == aspect]
        got = [(moment, value) for moment, name, value in forecast_changes if name == aspect]
        assert [value for _, value in got] == [value for _, value in wanted], aspect
        for (got_at, _), (wanted_at, _) in zip(got, wanted, strict=True):
            # Both report a change a millisecond after the crossing that first shows it. The walk stops
            # at every rounding, the forecast also at raw action thresholds, so a crossing less than a
            # millisecond after another one either watches is reported from that one: < MARGIN apart.
            assert abs(got_at - wanted_at) < MARGIN, aspect


@given(pet_states(), offset, offset)
@settings(max_examples=150)
def test_a_forecast_from_later_agrees_with_the_earlier_one(
    pet: PetState, first: timedelta, second: timedelta
) -> None:
    earlier_at = T0 + first
    later_at = earlier_at + abs(second)
    earlier = forecast(pet, at=earlier_at, horizon=FOREVER)
    later = forecast(evolve(pet, at=later_at), at=later_at, horizon=FOREVER)
    assert earlier.until is None
    assert later.until is None

    # Events whose crossing falls right at later_at may be shown already or still to come, by float rounding.
    def after_the_edge(events: tuple[ForecastEvent, ...]) -> tuple[ForecastEvent, ...]:
        return tuple(event for event in events if event.at - MARGIN > later_at + SAME_INSTANT)

    expected, got = after_the_edge(earlier.events), after_the_edge(later.events)
    assert event_values(got) == event_values(expected)
    for mine, theirs in zip(got, expected, strict=True):
        assert abs(mine.at - theirs.at) <= SAME_INSTANT


def flip_moment(pet: PetState, low: datetime, high: datetime) -> datetime:
    """The first microsecond at which ``evolve`` says the pet is awake, by bisection on ``evolve`` alone."""
    assert evolve(pet, at=low).activity is Activity.ASLEEP
    assert evolve(pet, at=high).activity is Activity.AWAKE
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) / 2
        if evolve(pet, at=middle).activity is Activity.AWAKE:
            high = middle
        else:
            low = middle
    return high


@given(species, stat, stat, stat)
def test_a_sleeping_pet_wakes_when_evolve_flips_its_activity(
    kind: Species, hunger: float, happiness: float, energy: float
) -> None:
    pet = PetState(kind, hunger, happiness, energy, Activity.ASLEEP, T0)
    result = forecast(pet, at=T0, horizon=FOREVER)
    wakes = [event for event in result.events if event.kind is ForecastKind.WAKES_UP]
    assert len(wakes) == 1
    (wake,) = wakes
    if energy >= rules.RESTED_AT:  # rested already: awake a moment after the snapshot
        assert wake.at == T0 + MARGIN
        return
    flipped = flip_moment(pet, T0, wake.at)
    assert abs(flipped + MARGIN - wake.at) <= SAME_INSTANT


@given(pet_states(), offset)
def test_an_awake_pet_never_wakes_and_no_pet_left_alone_loses_a_need(
    pet: PetState, elapsed: timedelta
) -> None:
    # What docs/game-rules.md promises: needs only start, and only a sleeper wakes, once.
    result = forecast(pet, at=T0 + elapsed, horizon=FOREVER)
    kinds = [event.kind for event in result.events]
    assert ForecastKind.NEED_ENDS not in kinds
    awake_at_start = evolve(pet, at=T0 + elapsed).activity is Activity.AWAKE
    assert kinds.count(ForecastKind.WAKES_UP) == (0 if awake_at_start else 1)


@given(pet_states(), offset)
def test_every_pet_settles_within_the_default_limit(pet: PetState, elapsed: timedelta) -> None:
    result = forecast(pet, at=T0 + elapsed, horizon=FOREVER, limit=10_000)
    assert result.until is None
    assert len(result.events) <= DEFAULT_LIMIT


@given(pet_states(), st.floats(min_value=0.01, max_value=60).map(lambda hours: timedelta(hours=hours)))
def test_a_horizon_cuts_the_full_forecast_and_says_where(pet: PetState, horizon: timedelta) -> None:
    full = forecast(pet, at=T0, horizon=FOREVER)
    cut = forecast(pet, at=T0, horizon=horizon)
    assert cut.events == tuple(event for event in full.events if event.at < T0 + horizon)
    left_off = [event.at for event in full.events if event.at >= T0 + horizon]
    assert cut.until == (left_off[0] if left_off else None)


def test_an_event_right_at_the_horizon_is_left_for_the_next_forecast() -> None:
    pet = new_pet(Species.CAT, at=T0)
    first = forecast(pet, at=T0).events[0]
    cut = forecast(pet, at=T0, horizon=first.at - T0)
    assert cut == Forecast(T0, (), until=first.at)
    assert forecast(pet, at=T0, horizon=first.at - T0 + timedelta(microseconds=1)).events[0] == first


@given(pet_states(), st.integers(min_value=1, max_value=40))
def test_a_limit_lists_whole_instants_and_says_where_it_stopped(pet: PetState, limit: int) -> None:
    full = forecast(pet, at=T0, horizon=FOREVER)
    cut = forecast(pet, at=T0, horizon=FOREVER, limit=limit)
    assert len(cut.events) <= limit
    assert cut.events == full.events[: len(cut.events)]
    if cut.until is None:
        assert cut.events == full.events
        return
    rest = full.events[len(cut.events) :]
    assert rest[0].at == cut.until
    assert all(event.at < cut.until for event in cut.events)
    # Not one more instant would have fitted.
    assert len(cut.events) + sum(1 for event in rest if event.at == cut.until) > limit


def test_a_new_cat_will_be_hungry_when_its_shown_hunger_reaches_the_food_need() -> None:
    cat = rules.SPECIES_RATES[Species.CAT]
    result = forecast(new_pet(Species.CAT, at=T0), at=T0)
    hungry = [
        event for event in result.events if event.kind is ForecastKind.NEED_STARTS and event.need is Need.FOOD
    ]
    # Shown hunger is rounded half up: it shows NEEDS_FOOD_FROM once the raw value is half a point below it.
    raw_hours = (rules.NEEDS_FOOD_FROM - 0.5 - rules.NEW_PET_HUNGER) / cat.hunger_awake
    assert [event.at for event in hungry] == [T0 + timedelta(hours=raw_hours) + MARGIN]
    assert render(evolve(new_pet(Species.CAT, at=T0), at=hungry[0].at)).needs == (Need.FOOD,)


def test_a_full_pet_accepts_food_once_its_raw_hunger_reaches_full_below() -> None:
    pet = PetState(Species.DOG, 2.0, 50.0, 50.0, Activity.AWAKE, T0)
    result = forecast(pet, at=T0)
    dog = rules.SPECIES_RATES[Species.DOG]
    feeding = [event for event in result.events if event.action is Action.FEED]
    assert feeding == [
        ForecastEvent(
            T0 + timedelta(hours=(rules.FULL_BELOW - 2.0) / dog.hunger_awake) + MARGIN,
            ForecastKind.ACTION_ALLOWED,
            action=Action.FEED,
        )
    ]


def test_a_sleeping_dog_wakes_happy_and_everything_that_follows_comes_at_once() -> None:
    pet = PetState(Species.DOG, 50.0, 60.0, 30.0, Activity.ASLEEP, T0)
    result = forecast(pet, at=T0)
    dog = rules.SPECIES_RATES[Species.DOG]
    woken = T0 + timedelta(hours=(rules.RESTED_AT - 30.0) / dog.energy_gain_asleep) + MARGIN
    assert [event for event in result.events if event.at == woken] == [
        ForecastEvent(woken, ForecastKind.WAKES_UP),
        ForecastEvent(woken, ForecastKind.MOOD_CHANGES, mood=Mood.HAPPY),
        ForecastEvent(woken, ForecastKind.ACTION_ALLOWED, action=Action.FEED),
        ForecastEvent(woken, ForecastKind.ACTION_ALLOWED, action=Action.PLAY),
        ForecastEvent(woken, ForecastKind.ACTION_REFUSED, action=Action.SLEEP, reason="NOT_TIRED"),
        ForecastEvent(woken, ForecastKind.ACTION_REFUSED, action=Action.WAKE, reason="ALREADY_AWAKE"),
    ]
    assert result.events[0].at == woken


def test_a_settled_pet_has_nothing_left_to_forecast() -> None:
    pet = PetState(Species.CAT, 100.0, 0.0, 0.0, Activity.AWAKE, T0)
    assert forecast(pet, at=T0) == Forecast(T0, (), None)


@pytest.mark.parametrize(
    ("horizon", "limit"), [(timedelta(0), 10), (-DEFAULT_HORIZON, 10), (DEFAULT_HORIZON, 0)]
)
def test_a_forecast_needs_a_positive_horizon_and_limit(horizon: timedelta, limit: int) -> None:
    with pytest.raises(InvalidInput):
        forecast(new_pet(Species.CAT, at=T0), at=T0, horizon=horizon, limit=limit)


@given(pet_states(), offset, fraction)
def test_drift_is_how_evolve_moves_until_it_says_otherwise(
    pet: PetState, elapsed: timedelta, where: float
) -> None:
    at = T0 + elapsed
    rates = drift(pet, at=at)
    current = evolve(pet, at=at)
    end = rates.until if rates.until is not None else at + FOREVER
    moment = max(at, current.as_of) + (end - max(at, current.as_of)) * where
    later = evolve(pet, at=moment)
    hours = (moment - current.as_of).total_seconds() / 3600
    for now, then, rate in (
        (current.hunger, later.hunger, rates.hunger),
        (current.happiness, later.happiness, rates.happiness),
        (current.energy, later.energy, rates.energy),
    ):
        assert then == pytest.approx(min(rules.STAT_MAX, max(rules.STAT_MIN, now + rate * hours)), abs=1e-6)


def test_drift_reads_the_species_table() -> None:
    cat = rules.SPECIES_RATES[Species.CAT]
    awake = drift(PetState(Species.CAT, 10.0, 50.0, 50.0, Activity.AWAKE, T0), at=T0)
    hours_to_hungry = (rules.HUNGRY_AT - 10.0) / cat.hunger_awake
    assert awake == Drift(
        cat.hunger_awake, -cat.happiness_loss, -cat.energy_loss_awake, T0 + timedelta(hours=hours_to_hungry)
    )
    hungry = drift(PetState(Species.CAT, 80.0, 50.0, 50.0, Activity.AWAKE, T0), at=T0)
    assert hungry == Drift(
        cat.hunger_awake, -cat.happiness_loss * cat.hungry_happiness_multiplier, -cat.energy_loss_awake, None
    )
