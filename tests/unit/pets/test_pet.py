"""The Pet aggregate: every change is the next version, decided by the pure rules."""

from datetime import timedelta

import pytest

from pixelpet.errors import ActionRefused, InvalidInput
from pixelpet.pets.rules import Action, Activity, Species
from tests.conftest import T0
from tests.support.pets import a_pet


def test_an_action_is_the_next_version_at_its_moment() -> None:
    pet = a_pet()
    later = T0 + timedelta(hours=2)
    played = pet.acted_on(Action.PLAY, at=later)
    assert (played.version, played.updated_at, played.state.as_of) == (2, later, later)
    assert played.state.happiness > pet.at(later).happiness
    assert pet.version == 1, "the pet itself never changes"


def test_a_refused_action_changes_nothing() -> None:
    pet = a_pet()
    with pytest.raises(ActionRefused):
        pet.acted_on(Action.WAKE, at=T0)


def test_a_rename_is_validated_and_versioned() -> None:
    renamed = a_pet().renamed("  Rex ", at=T0)
    assert (renamed.name, renamed.version) == ("Rex", 2)
    with pytest.raises(InvalidInput):
        a_pet().renamed("", at=T0)


def test_a_moment_before_the_snapshot_shows_the_snapshot() -> None:
    """Another replica's clock may be behind the writer's: the stored stats are shown, never older ones."""
    pet = a_pet()
    assert pet.at(T0 - timedelta(seconds=5)) == pet.state
    state, view = pet.view(T0 - timedelta(seconds=5))
    assert state == pet.state
    assert view.activity is Activity.AWAKE


def test_the_same_adoption_is_the_same_name_and_species() -> None:
    pet = a_pet(name="Mochi")
    assert pet.is_same_adoption(name="Mochi", species=Species.CAT)
    assert not pet.is_same_adoption(name="Mochi", species=Species.DOG)
    assert not pet.is_same_adoption(name="Rex", species=Species.CAT)
