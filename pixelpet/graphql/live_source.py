"""What a subscription resolver returns: a live subscription that pushes its events, not a generator.

A generator suspended between events costs a task and a chain of frames for every subscription
(strawberry's stream, graphql-core's map, the resolver): about 18 KiB each, most of what an idle
subscriber cost (docs/performance.md). A ``LiveSource`` holds the core's subscription, how to present its
events to GraphQL, and its place under the caps; the transport (transport.py) executes and sends each
event as it is pushed.
"""

from collections.abc import Callable
from typing import Any, Generic, NoReturn, Protocol, TypeVar

from pixelpet.graphql.limits import SubscriptionTicket


class Shared(Protocol):
    """An event every subscriber receives as the same object; ``derived`` caches what is built from it."""

    @property
    def derived(self) -> dict[object, object]: ...


Event = TypeVar("Event", bound=Shared)
Pushes = TypeVar("Pushes", bound=Shared, covariant=True)


class Pushed(Protocol[Pushes]):
    """The core's side (pixelpet/pets/live/): ``first``, then ``start``, then ``close``."""

    async def first(self) -> Pushes: ...

    def start(self, deliver: Callable[[Pushes], None], end: Callable[[Exception | None], None]) -> None: ...

    def close(self) -> None: ...


class LiveSource(Generic[Event]):
    __slots__ = ("_ticket", "present", "subscription")

    def __init__(
        self, subscription: Pushed[Event], *, present: Callable[[Event], Any], ticket: SubscriptionTicket
    ) -> None:
        self.subscription = subscription
        self.present = present  # the root value an event is executed against (built once per event)
        self._ticket = ticket

    def close(self) -> None:
        """Stop pushing and give the subscription's place back; safe to call more than once."""
        self.subscription.close()
        self._ticket.release()

    def __aiter__(self) -> NoReturn:
        # graphql-core takes only async iterables from a subscription resolver; this one is
        # consumed by pushing, by our transport.
        raise TypeError("A LiveSource pushes its events; serve it with pixelpet.graphql.transport.")
