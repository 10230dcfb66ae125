"""What a subscription resolver returns: a source that pushes its events, rather than a generator.

A generator suspended between events costs a task and a chain of frames for every subscription
(strawberry's stream, graphql-core's map, the resolver): about 18 KiB each, most of what an idle
subscriber cost (docs/performance.md). A ``LiveSource`` holds only what its events need; the
transport (pixelpet/graphql/transport.py) executes and sends each event as it is pushed.
"""

import abc
from collections.abc import Callable
from typing import Any, NoReturn


class LiveSource(abc.ABC):
    """A subscription's events, pushed. The transport calls ``first``, then ``start``, then ``close``."""

    __slots__ = ()

    @abc.abstractmethod
    async def first(self) -> Any:
        """Set the subscription up and return its first event; raising here fails the subscription."""

    @abc.abstractmethod
    def start(self, deliver: Callable[[Any], None], end: Callable[[Exception | None], None]) -> None:
        """Push each later event to ``deliver``; call ``end`` once, with an error or None, if it ends."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop pushing and let go of everything; safe to call more than once."""

    def __aiter__(self) -> NoReturn:
        # graphql-core takes only async iterables from a subscription resolver; this one is
        # consumed by pushing, by our transport.
        raise TypeError("A LiveSource pushes its events; serve it with pixelpet.graphql.transport.")
