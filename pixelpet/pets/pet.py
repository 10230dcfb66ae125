"""The pet aggregate: who owns it, what it is called, its stats snapshot and its version.

A ``Pet`` is immutable. Every change is a method that returns the next ``Pet`` (one version later),
decided by the pure rules in domain.py; the use cases (service.py) store it only if nobody wrote in
between. Nothing here knows how pets are stored or shown.
"""

from dataclasses import dataclass, replace
from datetime import datetime

from pixelpet.pets import domain
from pixelpet.pets.domain import PetState
from pixelpet.pets.rules import Action, Species


@dataclass(frozen=True, slots=True)
class Pet:
    id: str
    owner: str
    name: str
    species: Species
    state: PetState  # its stats as of ``state.as_of``; ``at`` gives them at any later moment
    version: int
    created_at: datetime
    updated_at: datetime
    idempotency_key: str | None = None

    @classmethod
    def adopt(
        cls, *, id: str, owner: str, name: str, species: Species, at: datetime, idempotency_key: str | None
    ) -> "Pet":
        """A new pet, version 1. ``name`` must already be valid (``domain.validate_name``)."""
        return cls(
            id=id,
            owner=owner,
            name=name,
            species=species,
            state=domain.new_pet(species, at=at),
            version=1,
            created_at=at,
            updated_at=at,
            idempotency_key=idempotency_key,
        )

    def at(self, moment: datetime) -> PetState:
        """Its stats at ``moment`` (the snapshot itself for a moment before it: clock skew)."""
        return domain.evolve(self.state, at=moment)

    def view(self, moment: datetime) -> tuple[PetState, domain.PetView]:
        """Its stats at ``moment`` and what a client shows of them."""
        state = self.at(moment)
        return state, domain.render(state)

    def acted_on(self, action: Action, *, at: datetime) -> "Pet":
        """The pet after ``action`` at ``at``; raises ``ActionRefused`` when the rules say no."""
        return self._next(state=domain.apply_action(self.state, action, at=at), at=at)

    def renamed(self, name: str, *, at: datetime) -> "Pet":
        return self._next(name=domain.validate_name(name), at=at)

    def is_same_adoption(self, *, name: str, species: Species) -> bool:
        """Whether a create with this pet's idempotency key asked for this very pet."""
        return self.name == name and self.species is species

    def _next(self, *, at: datetime, **changes: object) -> "Pet":
        return replace(self, version=self.version + 1, updated_at=at, **changes)  # type: ignore[arg-type]
