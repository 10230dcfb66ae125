"""The pure pet rules: evolution, actions, refusals and what the sprite shows."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pixelpet.errors import ActionRefused, InvalidInput
from pixelpet.pets import rules
from pixelpet.pets.domain import (
    Mood,
    Need,
    PetState,
    _clamp,
    _segments,
    _state_along,
    apply_action,
    evolve,
    new_pet,
    next_visible_change,
    render,
    validate_name,
)
from pixelpet.pets.rules import Action, Activity, Species

T0 = datetime(2026, 1, 1, tzinfo=UTC)
stat = st.floats(min_value=0, max_value=100, allow_nan=False)
species = st.sampled_from(list(Species))
activity = st.sampled_from(list(Activity))
offset = st.floats(min_value=0, max_value=72 * 3600, allow_nan=False).map(lambda s: timedelta(seconds=s))


@st.composite
def pet_states(draw: st.DrawFn) -> PetState:
    return PetState(draw(species), draw(stat), draw(stat), draw(stat), draw(activity), T0)


def state(**overrides: object) -> PetState:
    base = {
        "species": Species.CAT,
        "hunger": 50.0,
        "happiness": 50.0,
        "energy": 50.0,
        "activity": Activity.AWAKE,
        "as_of": T0,
    }
    return PetState(**{**base, **overrides})  # type: ignore[arg-type]


@given(pet_states(), offset, offset)
def test_evolving_in_two_steps_equals_evolving_at_once(
    pet: PetState, first: timedelta, second: timedelta
) -> None:
    stepwise = evolve(evolve(pet, at=T0 + first), at=T0 + first + second)
    direct = evolve(pet, at=T0 + first + second)
    assert stepwise.hunger == pytest.approx(direct.hunger, abs=1e-6)
    assert stepwise.happiness == pytest.approx(direct.happiness, abs=1e-6)
    assert stepwise.energy == pytest.approx(direct.energy, abs=1e-6)
    assert stepwise.activity is direct.activity
    assert stepwise.as_of == direct.as_of == T0 + first + second


@given(pet_states(), offset)
def test_evolving_within_the_first_segment_is_exactly_the_walk(pet: PetState, elapsed: timedelta) -> None:
    """``evolve``'s shortcut (no walk to the first segment's end) gives exactly what the walk gives."""
    hours = elapsed.total_seconds() / 3600
    if hours > 0:
        walked = _state_along(_segments(pet), hours, T0 + elapsed)
        assert evolve(pet, at=T0 + elapsed) == walked


@given(pet_states(), offset)
def test_stats_never_leave_their_bounds(pet: PetState, elapsed: timedelta) -> None:
    later = evolve(pet, at=T0 + elapsed)
    for value in (later.hunger, later.happiness, later.energy):
        assert rules.STAT_MIN <= value <= rules.STAT_MAX


@given(st.floats() | st.sampled_from([-0.0, 0.0, 100.0, math.nan, math.inf, -math.inf]))
def test_clamping_is_exactly_min_of_max(value: float) -> None:
    """``_clamp`` spells out ``min(max())`` for speed: the same float for any input, to a zero's sign."""
    expected = min(rules.STAT_MAX, max(rules.STAT_MIN, value))
    clamped = _clamp(value)
    assert (clamped, math.copysign(1.0, clamped)) == (expected, math.copysign(1.0, expected))


@given(pet_states(), offset, st.sampled_from(list(Action)))
def test_actions_keep_stats_in_bounds_or_refuse(pet: PetState, elapsed: timedelta, action: Action) -> None:
    try:
        after = apply_action(pet, action, at=T0 + elapsed)
    except ActionRefused:
        return
    for value in (after.hunger, after.happiness, after.energy):
        assert rules.STAT_MIN <= value <= rules.STAT_MAX


def test_time_makes_an_awake_pet_hungrier_sadder_and_more_tired() -> None:
    later = evolve(state(), at=T0 + timedelta(hours=2))
    cat = rules.SPECIES_RATES[Species.CAT]
    assert later.hunger == pytest.approx(50 + 2 * cat.hunger_awake)
    assert later.happiness == pytest.approx(50 - 2 * cat.happiness_loss)
    assert later.energy == pytest.approx(50 - 2 * cat.energy_loss_awake)


def test_hunger_past_the_threshold_makes_happiness_fall_faster() -> None:
    cat = rules.SPECIES_RATES[Species.CAT]
    fed = evolve(state(hunger=0.0, happiness=90.0), at=T0 + timedelta(hours=1))
    hungry = evolve(state(hunger=80.0, happiness=90.0), at=T0 + timedelta(hours=1))
    assert 90 - fed.happiness == pytest.approx(cat.happiness_loss)
    assert 90 - hungry.happiness == pytest.approx(cat.happiness_loss * cat.hungry_happiness_multiplier)


def test_happiness_speeds_up_exactly_when_hunger_crosses_the_threshold() -> None:
    cat = rules.SPECIES_RATES[Species.CAT]
    # Hunger 64 reaches 70 after one hour, then the second hour is spent hungry.
    later = evolve(state(hunger=64.0, happiness=90.0), at=T0 + timedelta(hours=2))
    expected_loss = cat.happiness_loss * (1 + cat.hungry_happiness_multiplier)
    assert later.happiness == pytest.approx(90 - expected_loss)


def test_a_sleeping_pet_recovers_energy_and_wakes_by_itself_once_rested() -> None:
    cat = rules.SPECIES_RATES[Species.CAT]
    asleep = state(energy=50.0, activity=Activity.ASLEEP)
    to_rest = (rules.RESTED_AT - 50.0) / cat.energy_gain_asleep
    still_asleep = evolve(asleep, at=T0 + timedelta(hours=to_rest * 0.5))
    assert still_asleep.activity is Activity.ASLEEP
    assert still_asleep.energy == pytest.approx(75.0)
    after = evolve(asleep, at=T0 + timedelta(hours=to_rest + 1))
    assert after.activity is Activity.AWAKE
    assert after.energy == pytest.approx(rules.RESTED_AT - cat.energy_loss_awake)


def test_sleeping_pets_keep_their_happiness() -> None:
    later = evolve(state(energy=10.0, activity=Activity.ASLEEP), at=T0 + timedelta(hours=1))
    assert later.happiness == 50.0


def test_evolving_to_the_past_returns_the_snapshot() -> None:
    pet = state()
    assert evolve(pet, at=T0 - timedelta(minutes=5)) is pet


def test_feeding_lowers_hunger_and_cheers_the_pet_up() -> None:
    fed = apply_action(state(hunger=60.0), Action.FEED, at=T0)
    effect = rules.ACTION_EFFECTS[Action.FEED]
    assert fed.hunger == 60.0 + effect.hunger
    assert fed.happiness == 50.0 + effect.happiness
    assert fed.energy == 50.0 + effect.energy


def test_playing_trades_energy_and_food_for_happiness() -> None:
    played = apply_action(state(), Action.PLAY, at=T0)
    effect = rules.ACTION_EFFECTS[Action.PLAY]
    assert (played.hunger, played.happiness, played.energy) == (
        50 + effect.hunger,
        50 + effect.happiness,
        50 + effect.energy,
    )


def test_sleeping_and_waking_switch_the_activity() -> None:
    asleep = apply_action(state(energy=30.0), Action.SLEEP, at=T0)
    assert asleep.activity is Activity.ASLEEP
    awake = apply_action(asleep, Action.WAKE, at=T0)
    assert awake.activity is Activity.AWAKE
    assert awake.happiness == 50.0 + rules.ACTION_EFFECTS[Action.WAKE].happiness


@pytest.mark.parametrize(
    ("pet", "action", "reason"),
    [
        (state(hunger=5.0), Action.FEED, "NOT_HUNGRY"),
        (state(activity=Activity.ASLEEP, energy=20.0), Action.FEED, "ASLEEP"),
        (state(activity=Activity.ASLEEP, energy=20.0), Action.PLAY, "ASLEEP"),
        (state(energy=10.0), Action.PLAY, "TOO_TIRED"),
        (state(hunger=95.0), Action.PLAY, "TOO_HUNGRY"),
        (state(activity=Activity.ASLEEP, energy=20.0), Action.SLEEP, "ALREADY_ASLEEP"),
        (state(energy=95.0), Action.SLEEP, "NOT_TIRED"),
        (state(), Action.WAKE, "ALREADY_AWAKE"),
    ],
)
def test_refused_actions_say_why(pet: PetState, action: Action, reason: str) -> None:
    with pytest.raises(ActionRefused) as refusal:
        apply_action(pet, action, at=T0)
    assert refusal.value.reason == reason


def test_actions_apply_to_the_evolved_state() -> None:
    # Full at the snapshot, hungry enough to eat six hours later.
    cat = rules.SPECIES_RATES[Species.CAT]
    fed = apply_action(state(hunger=5.0), Action.FEED, at=T0 + timedelta(hours=6))
    assert fed.hunger == pytest.approx(5.0 + 6 * cat.hunger_awake + rules.ACTION_EFFECTS[Action.FEED].hunger)
    assert fed.as_of == T0 + timedelta(hours=6)


def test_a_new_pet_starts_awake_and_content() -> None:
    pet = new_pet(Species.DRAGON, at=T0)
    view = render(pet)
    assert view.activity is Activity.AWAKE
    assert view.needs == ()
    assert view.mood is Mood.ECSTATIC


@pytest.mark.parametrize(
    ("pet", "mood", "needs"),
    [
        (state(activity=Activity.ASLEEP, hunger=65.0), Mood.SLEEPING, (Need.FOOD,)),
        (state(hunger=95.0), Mood.MISERABLE, (Need.FOOD,)),
        (state(happiness=30.0, energy=20.0), Mood.GRUMPY, (Need.PLAY, Need.REST)),
        (state(happiness=65.0), Mood.HAPPY, ()),
        (state(), Mood.CONTENT, ()),
    ],
)
def test_mood_and_needs_follow_the_shown_stats(pet: PetState, mood: Mood, needs: tuple[Need, ...]) -> None:
    view = render(pet)
    assert (view.mood, view.needs) == (mood, needs)


def test_shown_stats_round_half_up() -> None:
    view = render(state(hunger=10.5, happiness=11.49, energy=0.5))
    assert (view.hunger, view.happiness, view.energy) == (11, 11, 1)


@pytest.mark.parametrize("name", ["", "   ", "x" * 33, "bad\u0000name", "zero\u200bwidth"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        validate_name(name)


def test_names_are_trimmed() -> None:
    assert validate_name("  Mochi ") == "Mochi"


@given(pet_states(), offset)
def test_the_view_holds_until_the_next_visible_change(pet: PetState, elapsed: timedelta) -> None:
    at = T0 + elapsed
    change = next_visible_change(pet, at=at)
    before = render(evolve(pet, at=at))
    if change is None:
        assert render(evolve(pet, at=at + timedelta(days=30))) == before
        return
    assert change > at
    assert render(evolve(pet, at=change)) != before
    just_before = change - timedelta(milliseconds=2)
    if just_before > at:
        assert render(evolve(pet, at=just_before)) == before
        assert render(evolve(pet, at=at + (just_before - at) / 2)) == before


def test_a_settled_pet_never_changes_on_screen() -> None:
    # Starving, miserable and exhausted: every stat is pinned at its bound.
    pet = state(hunger=100.0, happiness=0.0, energy=0.0)
    assert next_visible_change(pet, at=T0) is None


@pytest.mark.parametrize(
    ("constant", "moved_to", "stats_at", "mood_at", "stats_below", "mood_below"),
    [
        ("MISERABLE_HAPPINESS_BELOW", 30.0, (50, 30, 50), Mood.GRUMPY, (50, 29, 50), Mood.MISERABLE),
        ("GRUMPY_HAPPINESS_BELOW", 50.0, (50, 50, 50), Mood.CONTENT, (50, 49, 50), Mood.GRUMPY),
        ("ECSTATIC_HAPPINESS_FROM", 90.0, (20, 90, 60), Mood.ECSTATIC, (20, 89, 60), Mood.HAPPY),
        ("ECSTATIC_HUNGER_BELOW", 30.0, (30, 90, 60), Mood.HAPPY, (29, 90, 60), Mood.ECSTATIC),
        ("ECSTATIC_ENERGY_FROM", 60.0, (20, 90, 60), Mood.ECSTATIC, (20, 90, 59), Mood.HAPPY),
        ("HAPPY_HAPPINESS_FROM", 70.0, (50, 70, 50), Mood.HAPPY, (50, 69, 50), Mood.CONTENT),
    ],
)
def test_every_mood_threshold_comes_from_the_rules_table(
    monkeypatch: pytest.MonkeyPatch,
    constant: str,
    moved_to: float,
    stats_at: tuple[int, int, int],
    mood_at: Mood,
    stats_below: tuple[int, int, int],
    mood_below: Mood,
) -> None:
    # Moving the constant moves the boundary: with the number written into _mood, one side would not follow.
    monkeypatch.setattr(rules, constant, moved_to)
    for (hunger, happiness, energy), mood in ((stats_at, mood_at), (stats_below, mood_below)):
        pet = state(hunger=float(hunger), happiness=float(happiness), energy=float(energy))
        assert render(pet).mood is mood, (hunger, happiness, energy)
