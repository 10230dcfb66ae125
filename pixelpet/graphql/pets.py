"""GraphQL types and thin resolvers for pets. The descriptions here are the API documentation."""

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.extensions import FieldExtension

from pixelpet.graphql import enums  # noqa: F401 - registers the core's enums before any type uses them
from pixelpet.graphql.context import Context
from pixelpet.graphql.forecast import Drift, Forecast, drift_of, forecast_of
from pixelpet.graphql.live_source import LiveSource
from pixelpet.graphql.pagination import decode_cursor, encode_cursor
from pixelpet.graphql.root import RootResolver
from pixelpet.pets import domain
from pixelpet.pets import pet as core
from pixelpet.pets.domain import PetState
from pixelpet.pets.live.channel import Snapshot
from pixelpet.pets.rules import Action, Activity, Species

Info = strawberry.Info[Context, None]


EXPECTED_VERSION = (
    "If set, the change applies only if the pet is still at this version; otherwise the error is CONFLICT "
    "with extensions.currentVersion and extensions.current (the pet as `pet(id)` would return it, without "
    "forecast and drift). Without it, the change applies to the pet as it is (a concurrent write in "
    "between is retried safely)."
)
ExpectedVersion = Annotated[int | None, strawberry.argument(description=EXPECTED_VERSION)]

IDEMPOTENCY_KEY = (
    "Optional: 1 to 128 characters the client chooses per intended change (a fresh UUID), and sends again "
    "unchanged when it retries. For 24 hours, the same key from the same player returns the first "
    "call's answer without acting again: the same pet at the same version (or, for deletePet, the same id, "
    "the pet being gone), across servers and restarts, whatever expectedVersion the retry carries. The "
    "same key with another mutation, pet or value is a CONFLICT. A call that changed nothing (refused, "
    "NOT_FOUND, CONFLICT, an error) records nothing: its retry is decided afresh."
)
IdempotencyKey = Annotated[str | None, strawberry.argument(description=IDEMPOTENCY_KEY)]


@strawberry.type(description="A pet's stats as of `asOf`, rounded to whole points on a 0-100 scale.")
class PetStats:
    hunger: int = strawberry.field(description="0 is full, 100 is starving. Rises over time.")
    happiness: int = strawberry.field(description="0 is miserable, 100 is delighted. Falls over time.")
    energy: int = strawberry.field(
        description="0 is exhausted, 100 is fully rested. Falls while awake, recovers while asleep."
    )
    as_of: datetime = strawberry.field(description="The moment these stats were computed for (UTC).")


@strawberry.type(description="A virtual pet. Its stats keep changing while nobody looks.")
class Pet:
    id: strawberry.ID = strawberry.field(description="Opaque, stable id.")
    name: str = strawberry.field(description="The name its owner gave it.")
    species: Species = strawberry.field(description="Its species.")
    stats: PetStats = strawberry.field(description="Hunger, happiness and energy right now.")
    mood: domain.Mood = strawberry.field(description="How it feels right now.")
    needs: list[domain.Need] = strawberry.field(
        description="What it asks for right now, in the order FOOD, PLAY, REST."
    )
    activity: Activity = strawberry.field(description="Awake or asleep right now.")
    version: int = strawberry.field(
        description="Increases by one with every action, rename or restore, not with time: stats that time "
        "changes (and a sleeping pet waking by itself) keep the version. Use as expectedVersion; to order "
        "two states of one pet, compare (version, stats.asOf)."
    )
    created_at: datetime = strawberry.field(description="When it was created (UTC).")
    updated_at: datetime = strawberry.field(description="When an action last changed it (UTC).")
    # Its exact stats as of stats.asOf, for the fields computed only when asked for.
    state: strawberry.Private[PetState]

    @strawberry.field(
        description="When it will wake, change mood, start or stop needing something, and when each action "
        "becomes allowed or refused, if nobody acts on it: enough to schedule a notification without a "
        "socket. Computed from stats.asOf, `hours` ahead (1 to 168)."
    )
    def forecast(self, hours: int = 48) -> Forecast:
        return forecast_of(self.state, hours=hours)

    @strawberry.field(description="How its stats move on their own from stats.asOf: its species' rates now.")
    def drift(self) -> Drift:
        return drift_of(self.state)

    @classmethod
    def at(cls, pet: core.Pet, moment: datetime) -> "Pet":
        """The pet as a client sees it at ``moment``: evolved, rounded and interpreted."""
        state, view = pet.view(moment)
        return cls(
            id=strawberry.ID(pet.id),
            name=pet.name,
            species=pet.species,
            stats=PetStats(
                hunger=view.hunger, happiness=view.happiness, energy=view.energy, as_of=state.as_of
            ),
            mood=view.mood,
            needs=list(view.needs),
            activity=view.activity,
            version=pet.version,
            created_at=pet.created_at,
            updated_at=pet.updated_at,
            state=state,
        )

    @classmethod
    def shown(cls, snapshot: Snapshot) -> "Pet":
        """The Pet every subscriber of ``snapshot`` receives: built once for all (``Snapshot.derived``)."""
        shown = snapshot.derived.get(cls)
        if shown is None:
            shown = snapshot.derived[cls] = cls.at(snapshot.pet, snapshot.at)
        assert isinstance(shown, cls)
        return shown


@strawberry.type(description="One pet in a page, with the cursor to continue after it.")
class PetEdge:
    cursor: str = strawberry.field(description="Opaque; pass as `after` to get the pets after this one.")
    node: Pet = strawberry.field(description="The pet.")


@strawberry.type(description="Where a page ends.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more pets follow this page.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last pet on this page.")


@strawberry.type(description="A page of the caller's pets, oldest first.")
class PetConnection:
    edges: list[PetEdge] = strawberry.field(description="The pets on this page.")
    page_info: PageInfo = strawberry.field(description="Whether and where to continue.")


@strawberry.input(description="A new pet.")
class CreatePetInput:
    name: str = strawberry.field(description="1 to 32 printable characters; surrounding spaces are trimmed.")
    species: Species = strawberry.field(description="Its species.")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Optional, up to 128 characters. Retrying with the same key returns the pet the first "
        "call created instead of creating another (as it is now; if it was deleted since, within 24 hours, "
        "at its first version); reusing it for a different pet, or for any other mutation, is a CONFLICT.",
    )


def _root_resolver() -> list[FieldExtension]:
    """What wraps every root resolver (each does I/O): charged to the player's rate, within its operation's
    budget, in its span (root.py)."""
    return [RootResolver()]


@strawberry.type(description="Reading pets. Every field requires a bearer token.")
class PetQuery:
    @strawberry.field(
        extensions=_root_resolver(),
        description="One of the caller's pets. A pet that does not exist or belongs to someone else gives "
        "null and a NOT_FOUND error, so other owners' pets stay invisible.",
    )
    async def pet(self, info: Info, id: strawberry.ID) -> Pet | None:
        context = info.context
        pet = await context.pets.get(owner=await context.owner(), pet_id=id)
        return Pet.at(pet, context.pets.now())

    @strawberry.field(
        extensions=_root_resolver(),
        description="The caller's pets, oldest first, in pages of `first` (at most 100).",
    )
    async def pets(self, info: Info, first: int = 20, after: str | None = None) -> PetConnection:
        context = info.context
        position = decode_cursor(after) if after is not None else None
        page = await context.pets.list(owner=await context.owner(), first=first, after=position)
        now = context.pets.now()
        edges = [PetEdge(cursor=encode_cursor(pet), node=Pet.at(pet, now)) for pet in page.pets]
        end_cursor = edges[-1].cursor if edges else None
        return PetConnection(
            edges=edges, page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=end_cursor)
        )


def _action_mutation(action: Action, description: str) -> Any:
    """A mutation field for one game action: the four differ only in the action and its description."""

    async def act(
        info: Info,
        id: strawberry.ID,
        expected_version: ExpectedVersion = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Pet:
        context = info.context
        pet = await context.pets.act(
            owner=await context.owner(),
            pet_id=id,
            action=action,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )
        return Pet.at(pet, pet.state.as_of)

    return strawberry.mutation(resolver=act, extensions=_root_resolver(), description=description)


@strawberry.type(description="Changing pets. Every field requires a bearer token.")
class PetMutation:
    @strawberry.mutation(
        extensions=_root_resolver(),
        description="Adopt a new pet. At the per-player cap: ACTION_REFUSED with extensions.reason "
        "PET_LIMIT_REACHED (delete one first).",
    )
    async def create_pet(self, info: Info, input: CreatePetInput) -> Pet:
        context = info.context
        pet = await context.pets.create(
            owner=await context.owner(),
            name=input.name,
            species=input.species,
            idempotency_key=input.idempotency_key,
        )
        return Pet.at(pet, context.pets.now())

    @strawberry.mutation(
        extensions=_root_resolver(),
        description="Give a pet a new name. Returns the pet as of the rename (a retry with the same "
        "idempotencyKey returns that same answer).",
    )
    async def rename_pet(
        self,
        info: Info,
        id: strawberry.ID,
        name: str,
        expected_version: ExpectedVersion = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Pet:
        context = info.context
        pet = await context.pets.rename(
            owner=await context.owner(),
            pet_id=id,
            name=name,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )
        # As of the rename, not of the answer: a retry answered from the recorded outcome says the same.
        return Pet.at(pet, pet.updated_at)

    feed_pet = _action_mutation(
        Action.FEED, "Feed a pet: less hunger, a little happier. Refused if asleep or full."
    )
    play_with_pet = _action_mutation(
        Action.PLAY,
        "Play with a pet: much happier, hungrier and more tired. Refused if asleep, too tired or too hungry.",
    )
    put_pet_to_sleep = _action_mutation(
        Action.SLEEP, "Put a pet to sleep; it wakes by itself once rested. Refused if not tired."
    )
    wake_pet = _action_mutation(Action.WAKE, "Wake a sleeping pet early; it is a little grumpy about it.")

    @strawberry.mutation(
        extensions=_root_resolver(),
        description="Delete a pet for good. Returns its id; NOT_FOUND if there is no such pet (but a retry "
        "with the first call's idempotencyKey returns the id again).",
    )
    async def delete_pet(
        self,
        info: Info,
        id: strawberry.ID,
        expected_version: ExpectedVersion = None,
        idempotency_key: IdempotencyKey = None,
    ) -> strawberry.ID:
        context = info.context
        deleted = await context.pets.delete(
            owner=await context.owner(),
            pet_id=id,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )
        return strawberry.ID(deleted)


@strawberry.type(description="Live updates over graphql-transport-ws. Every field requires a bearer token.")
class PetSubscription:
    @strawberry.subscription(
        description="Watch one of your pets. Sends its current state at once, then its newer states: after "
        "each change (from any device or server) and whenever time changes what a client would show "
        "(rounded stats, mood, needs, waking up). States, not a log of changes: a newer state may replace "
        "others that were never sent; never an older state after a newer one (order by version, then "
        "stats.asOf). Deleting the pet sends a NOT_FOUND error and ends the subscription (the account "
        "subscription `pets` reports it as PetRemoved). To keep every pet current, use `pets` instead: one "
        "subscription for the whole account."
    )
    async def pet_stats(self, info: Info, id: strawberry.ID) -> AsyncGenerator[Pet, None]:
        context = info.context
        owner = await context.owner()
        ticket = context.limits.open_subscription(owner, context.live)
        # Pushed, not a generator (pixelpet/graphql/live_source.py); the type is what the schema shows.
        return LiveSource(  # type: ignore[return-value]
            context.subscriptions.open(owner=owner, pet_id=id), present=Pet.shown, ticket=ticket
        )
