"""The account stream's GraphQL types: what a `pets` subscriber receives, and how a core event becomes one."""

from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry

from pixelpet.graphql.live_source import LiveSource
from pixelpet.graphql.pets import Info, Pet
from pixelpet.pets.live.account import AccountEvent, PetChanged, PetRemoved, PetsListed


@strawberry.type(
    description="Every pet of yours as of now, oldest first: replace whatever you show with this list. "
    "Sent first, and again whenever the server had to read them all again."
)
class PetsSnapshot:
    pets: list[Pet] = strawberry.field(description="Your pets, each in its full current state.")


@strawberry.type(
    description="A pet was adopted, changed by an action (from any device), or time changed what a client "
    "shows of it: its full state. For one pet, never an older state after a newer one; order by "
    "(version, stats.asOf)."
)
class PetUpdated:
    pet: Pet = strawberry.field(description="The pet as it is now.")


@strawberry.type(name="PetRemoved", description="A pet was deleted: remove it.")
class PetRemovedEvent:
    id: strawberry.ID = strawberry.field(description="The id of the pet that is gone.")


PetsEvent = Annotated[
    PetsSnapshot | PetUpdated | PetRemovedEvent,
    strawberry.union("PetsEvent", description="What happened to your pets, in order."),
]


def present(event: AccountEvent) -> Any:
    """The GraphQL object every subscriber of ``event`` receives, built once for all."""
    shown = event.derived.get(present)
    if shown is None:
        shown = event.derived[present] = _built(event)
    return shown


def _built(event: AccountEvent) -> object:
    if isinstance(event, PetsListed):
        return PetsSnapshot(pets=[Pet.shown(snapshot) for snapshot in event.snapshots])
    if isinstance(event, PetChanged):
        return PetUpdated(pet=Pet.shown(event.snapshot))
    assert isinstance(event, PetRemoved)
    return PetRemovedEvent(id=strawberry.ID(event.pet_id))


@strawberry.type(description="Live updates of your whole account.")
class AccountSubscription:
    @strawberry.subscription(
        description="Keep every pet of yours current with one subscription: first a PetsSnapshot of all of "
        "them, then, in order, a PetUpdated for each pet adopted or changed (from any device or server, or "
        "by time: what a client shows of it changed) and a PetRemoved for each pet deleted. These are "
        "states, not a log of events: a state may replace others that were never sent; for one pet, never "
        "an older state after a newer one. Counts as one subscription whatever the number of pets. After a "
        "reconnect, subscribe again: the first message is a fresh PetsSnapshot."
    )
    async def pets(self, info: Info) -> AsyncGenerator[PetsEvent, None]:
        context = info.context
        owner = await context.owner()
        ticket = context.limits.open_subscription(owner, context.live)
        # Pushed, not a generator (pixelpet/graphql/live_source.py); the type is what the schema shows.
        return LiveSource(  # type: ignore[return-value]
            context.subscriptions.open_account(owner=owner), present=present, ticket=ticket
        )
